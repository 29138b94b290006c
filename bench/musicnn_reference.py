"""TensorFlow's own musicnn outputs on fixed inputs: the reference the torch port is tested against.

Two steps, two Pythons (songprep does not depend on TensorFlow; run the second in a throwaway venv with
``pip install tensorflow-cpu tf_keras`` and ``pip install --no-deps musicnn==0.1.0``)::

    .venv/bin/python bench/musicnn_reference.py inputs tests/data/musicnn_reference.npz
    /tmp/tfvenv/bin/python bench/musicnn_reference.py tensorflow tests/data/musicnn_reference.npz
    .venv/bin/python bench/musicnn_reference.py compare tests/data/musicnn_reference.npz

``inputs`` writes four 3 s log-mel patches (two of a synthetic chord-and-drum signal made with numpy, two of
uniform noise over the log-mel range); ``tensorflow`` adds each model's probabilities (musicnn's graph,
restored from the wheel's checkpoint) and TensorFlow's import and inference times; ``compare`` prints the
port's largest difference and the times of both.
"""

from __future__ import annotations

import sys
import time

import numpy as np

MODELS = ("MTT_musicnn", "MSD_musicnn")


def make_inputs(path: str) -> None:
    from songprep.describe.tagger import PATCH_FRAMES, SAMPLE_RATE, log_mel, patches

    rng = np.random.default_rng(0)
    t = np.arange(int(SAMPLE_RATE * 6.2)) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 110.0)) * 0.15
    kick = np.exp(-30 * (t % 0.5)) * np.sin(2 * np.pi * 60 * t) * 0.6
    hats = rng.normal(0, 0.05, t.size) * (np.exp(-80 * ((t + 0.25) % 0.5)))
    signal = patches(log_mel((chord + kick + hats).astype(np.float32)))[:2]
    noise = rng.uniform(0.0, 4.0, (2, PATCH_FRAMES, 96)).astype(np.float32)
    np.savez_compressed(path, inputs=np.concatenate([signal, noise]))
    print(f"{path}: inputs {signal.shape[0] + noise.shape[0]} patches")


def run_tensorflow(path: str) -> None:
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers needs tf_keras under Keras 3
    started = time.perf_counter()
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import models

    import_s = time.perf_counter() - started
    data = dict(np.load(path))
    out = {"inputs": data["inputs"], "tf_import_s": np.array(import_s)}
    import musicnn

    for name in MODELS:
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, data["inputs"].shape[1], 96])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y = tf.nn.sigmoid(models.define_model(x, is_training, name, 50)[0])
        sess = tf.compat.v1.Session()
        tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), name) + "/")
        started = time.perf_counter()
        probs = sess.run(y, feed_dict={x: data["inputs"], is_training: False})
        out[f"{name}_s"] = np.array(time.perf_counter() - started)
        out[name] = probs
    np.savez_compressed(path, **out)
    print(f"{path}: TensorFlow {tf.__version__} outputs of {', '.join(MODELS)}; import {import_s:.1f} s")


def compare(path: str) -> None:
    import torch

    from songprep.describe.tagger import MusicnnTagger

    data = dict(np.load(path))
    for name in MODELS:
        tagger = MusicnnTagger.load(name)
        started = time.perf_counter()
        with torch.no_grad():
            ours = tagger.net(torch.from_numpy(data["inputs"])).numpy()
        took = time.perf_counter() - started
        diff = float(np.abs(ours - data[name]).max())
        print(f"{name}: max |torch - tensorflow| = {diff:.2e}; inference torch {took:.2f} s, "
              f"tensorflow {float(data[name + '_s']):.2f} s (4 patches); "
              f"tensorflow import {float(data['tf_import_s']):.1f} s")


if __name__ == "__main__":
    {"inputs": make_inputs, "tensorflow": run_tensorflow, "compare": compare}[sys.argv[1]](sys.argv[2])
