"""Which of musicnn's shipped Million Song Dataset models to read genres from, measured on the real dev songs.

The wheel ships two MSD models, ``MSD_musicnn`` (ported to torch, what the describe stage reads) and
``MSD_vgg`` (a plain 5-layer VGG, not ported). Before porting the second one, this asks TensorFlow itself
whether it, or the two together, would agree with meta.csv's genre more often. Three steps, two Pythons
(songprep does not depend on TensorFlow; the second step runs in the throwaway venv of
``bench/musicnn_reference.py``)::

    .venv/bin/python bench/genre_models.py patches /tmp/genre_patches.npz [--real ../shared/real/jamendolyrics-dev]
    /tmp/tfvenv/bin/python bench/genre_models.py tensorflow /tmp/genre_patches.npz /tmp/genre_probs.npz
    .venv/bin/python bench/genre_models.py table /tmp/genre_patches.npz /tmp/genre_probs.npz

``patches``: every 3 s log-mel patch of each song, made by songprep's own front end (and each song's meta
genre); ``tensorflow``: each MSD model's probabilities per patch from musicnn's graph and checkpoint;
``table``: the genre decision songprep uses (:func:`songprep.describe.vocabulary.genre_scores`, the prior
correction with the MSD_musicnn priors, which the VGG's output layer has no batch norm to give) and the raw
argmax, for each model and their average, over the 20 evenly spread patches the stage reads and over all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REAL = REPO.parent / "shared" / "real" / "jamendolyrics-dev"
MODELS = ("MSD_musicnn", "MSD_vgg")


def make_patches(out: str, real: Path) -> None:
    import librosa

    from songprep.audio import decode, standardise
    from songprep.describe.tagger import SAMPLE_RATE, log_mel, patches
    from songprep.testing.jamendo import load_dataset

    arrays, genres = {}, {}
    for song in load_dataset(real):
        mix = standardise(decode(song.mp3), 44100, 2)
        y = librosa.resample(mix.samples.mean(axis=0), orig_sr=mix.sample_rate, target_sr=SAMPLE_RATE)
        arrays[song.name] = patches(log_mel(y))
        genres[song.name] = song.genre.lower()
        print(f"{song.name}: {arrays[song.name].shape[0]} patches", flush=True)
    np.savez_compressed(out, names=np.array(list(genres)), genres=np.array(list(genres.values())), **arrays)


def run_tensorflow(patches_path: str, out: str) -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers needs tf_keras under Keras 3
    import musicnn
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import models

    data = np.load(patches_path)
    probs = {}
    for model in MODELS:
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
            is_training = tf.compat.v1.placeholder(tf.bool)
            y = tf.nn.sigmoid(models.define_model(x, is_training, model, 50)[0])
        sess = tf.compat.v1.Session()
        tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), model) + "/")
        for name in data["names"]:
            batch = data[str(name)]
            probs[f"{model}|{name}"] = np.concatenate(
                [sess.run(y, {x: batch[i:i + 32], is_training: False}) for i in range(0, len(batch), 32)])
        print(f"{model}: {len(data['names'])} songs", flush=True)
    np.savez_compressed(out, **probs)


def table(patches_path: str, probs_path: str) -> None:
    from _table import print_table

    from songprep.describe.tagger import MSD_LABELS
    from songprep.describe.vocabulary import MAPPING, genre_scores
    from songprep.stages.describe import MAX_PATCHES

    data, probs = np.load(patches_path), np.load(probs_path)
    names, wants = [str(n) for n in data["names"]], [str(g) for g in data["genres"]]
    rows = []
    for models in ((MODELS[0],), (MODELS[1],), MODELS):
        for pooling in (f"mean of {MAX_PATCHES}", "mean of all"):
            cells, agree_lift, agree_raw = [], 0, 0
            for name, want in zip(names, wants):
                per_model = []
                for model in models:
                    taggram = probs[f"{model}|{name}"]
                    pick = (np.round(np.linspace(0, len(taggram) - 1, MAX_PATCHES)).astype(int)
                            if pooling.endswith(str(MAX_PATCHES)) and len(taggram) > MAX_PATCHES
                            else np.arange(len(taggram)))
                    per_model.append(taggram[pick].mean(axis=0))
                song = {("MSD", label): float(p) for label, p in zip(MSD_LABELS, np.mean(per_model, axis=0))}
                shares = sorted(genre_scores(song).items(), key=lambda g: (-g[1], g[0]))
                raw = max(((MAPPING[k][0], p) for k, p in song.items() if MAPPING.get(k, ("", ""))[1] == "genre"),
                          key=lambda g: g[1])[0]
                ranked = [g for g, _ in shares]
                agree_lift += ranked[0] == want
                agree_raw += raw == want
                rank = ranked.index(want) + 1 if want in ranked else "-"
                cells.append(f"{ranked[0]} ({want} #{rank})")
            rows.append(["+".join(models), pooling, f"{agree_lift}/{len(names)}", f"{agree_raw}/{len(names)}", *cells])
    print("## genre agreement with meta.csv, musicnn's MSD models (TensorFlow), real dev songs\n")
    print_table(["models", "patches", "prior-corrected", "raw argmax",
                 *(f"{n[:16]} ({w})" for n, w in zip(names, wants))], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("patches", "tensorflow", "table"))
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    args = parser.parse_args()
    if args.step == "patches":
        make_patches(args.paths[0], args.real)
    elif args.step == "tensorflow":
        run_tensorflow(*args.paths[:2])
    else:
        table(*args.paths[:2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
