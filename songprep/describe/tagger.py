"""Music tags from musicnn's shipped weights (Pons & Serra, ISC), ported to torch.

musicnn's PyPI wheel carries its MagnaTagATune (``MTT_musicnn``) and Million Song Dataset (``MSD_musicnn``)
models as TensorFlow 1 checkpoints. TensorFlow is not a dependency of songprep: the architecture (a
musically motivated front end of vertical "timbral" and horizontal "temporal" filters, three dense-residual
1-D convolutions, global max+mean pooling and two dense layers) is rebuilt here in torch and the checkpoint's
tensors are read by :mod:`songprep.describe.tf_checkpoint`. The port is checked against TensorFlow's own
output on fixed inputs (``tests/data/musicnn_reference.npz``, made by ``bench/musicnn_reference.py``).

The wheel declares ``tensorflow`` and ``numpy<1.17``; install it without them:
``pip install --no-deps musicnn==0.1.0`` (``make setup`` does).

>>> tagger = MusicnnTagger.load("MSD_musicnn")       # doctest: +SKIP
>>> tagger.tag(mono_16k)["rock"]                     # doctest: +SKIP
0.41
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from songprep.errors import ModelNotFoundError, WeightsMismatchError

SAMPLE_RATE = 16000
HOP = 256
N_FFT = 512
N_MELS = 96
#: 3 s patches, the length the models were trained on (musicnn's own ``input_length=3``).
PATCH_FRAMES = 187
BN_EPS = 1e-3  # tf.layers.batch_normalization's default
PACKAGE = "musicnn"
PACKAGE_VERSION = "0.1.0"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

MTT_LABELS = ("guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
              "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
              "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal",
              "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
              "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice",
              "choral")
MSD_LABELS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
              "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
              "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
              "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
              "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
              "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")
LABELS = {"MTT_musicnn": MTT_LABELS, "MSD_musicnn": MSD_LABELS}


def musicnn_dir() -> Path:
    """The installed musicnn package folder (found without importing it: its __init__ would import TensorFlow)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"music tagger weights not found: the {PACKAGE} package is not installed; "
                                 f"{INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def log_mel(mono_16k: np.ndarray) -> np.ndarray:
    """(frames, 96) musicnn input: librosa's mel power at 16 kHz, rounded to float16, then log10(1 + 10^4 x).

    musicnn multiplies in float16, which overflows to inf on loud bins (mel power above 6.55: 1-3% of the bins
    of the real dev songs), and inf becomes NaN in the network; the product is taken in float32 here.
    """
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(mono_16k, dtype=np.float32), sr=SAMPLE_RATE, hop_length=HOP,
                                         n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)


def patches(spec: np.ndarray) -> np.ndarray:
    """(n, 187, 96) non-overlapping 3 s patches, as musicnn batches a song (a tail shorter than 3 s is dropped;
    a song shorter than one patch is repeat-padded, the models' own ``pad_short`` rule)."""
    if spec.shape[0] < PATCH_FRAMES:
        spec = np.tile(spec, (int(np.ceil(PATCH_FRAMES / max(spec.shape[0], 1))), 1))[:PATCH_FRAMES]
    n = (spec.shape[0] - PATCH_FRAMES) // PATCH_FRAMES + 1
    return np.stack([spec[i * PATCH_FRAMES:(i + 1) * PATCH_FRAMES] for i in range(n)])


class _BN(nn.Module):
    """Inference-mode batch norm over the last axis, TF's epsilon."""

    def __init__(self, t: dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        for key in ("gamma", "beta", "moving_mean", "moving_variance"):
            self.register_buffer(key, torch.from_numpy(t[f"{name}/{key}"]))

    def scale(self) -> torch.Tensor:
        return torch.rsqrt(self.moving_variance + BN_EPS) * self.gamma

    def forward(self, x: torch.Tensor, channel_dim: int = -1) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[channel_dim] = -1
        return (x - self.moving_mean.view(shape)) * self.scale().view(shape) + self.beta.view(shape)



class _FrontConv(nn.Module):
    """A front-end filter bank and its batch norm, max-pooled over frequency: ``max_F bn(relu(conv(x)))``.

    relu and the per-channel affine batch norm are monotonic, so the max of the output is the map of the
    conv's max over frequency, or of its min where the channel's scale is negative; the min is taken as the
    max of the negated filters, which are negated once here. The full-size (B, C, T, F) tensor then sees one
    max pass instead of four elementwise passes and a max (those took 45% of the network's time).
    """

    def __init__(self, t: dict[str, np.ndarray], conv: str, bn: str) -> None:
        super().__init__()
        self.bn = _BN(t, bn)
        sign = torch.where(self.bn.scale() >= 0, 1.0, -1.0)
        kernel = t[f"{conv}/kernel"]  # (kt, kf, 1, C)
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        self.register_buffer("weight", weight * sign.view(-1, 1, 1, 1))
        self.register_buffer("bias", torch.from_numpy(t[f"{conv}/bias"]) * sign)
        self.register_buffer("sign", sign)

    def forward(self, x: torch.Tensor, pad_time: tuple[int, int]) -> torch.Tensor:
        """(B, T, F) -> (B, T', C), time zero-padded by ``pad_time`` (no frequency padding)."""
        signed = F.conv2d(F.pad(x, (0, 0, *pad_time))[:, None], self.weight, self.bias)
        extreme = signed.amax(dim=3) * self.sign.view(1, -1, 1)  # (B, C, T'): the max, or the min where negated
        return self.bn(F.relu(extreme), channel_dim=1).transpose(1, 2)


class _Conv(nn.Module):
    """A TF conv2d over (B, T, F) input with one input channel: its kernel (kt, kf, 1, C) spans kf bins."""

    def __init__(self, t: dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        kernel = t[f"{name}/kernel"]  # (kt, kf, 1, C)
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
        self.register_buffer("bias", torch.from_numpy(t[f"{name}/bias"]))

    def forward(self, x: torch.Tensor, pad_time: tuple[int, int]) -> torch.Tensor:
        """(B, T, F) -> (B, C, T', F') relu'd (time zero-padded by ``pad_time``; no frequency padding)."""
        x = F.pad(x, (0, 0, *pad_time))[:, None]
        return F.relu(F.conv2d(x, self.weight, self.bias))


class Musicnn(nn.Module):
    """The musicnn network (num_filt 1.6, mid-end 64 filters, back-end 200 units), inference only."""

    def __init__(self, t: dict[str, np.ndarray], n_classes: int) -> None:
        super().__init__()
        self.input_bn = _BN(t, "batch_normalization")
        #: front end: two timbral (7 x 38, 7 x 67 bins) and three temporal (128, 64, 32 frames x 1 bin) filters
        self.front = nn.ModuleList(_FrontConv(t, f"conv2d{'_' + str(i) if i else ''}", f"batch_normalization_{i + 1}")
                                   for i in range(5))
        self.mid = nn.ModuleList(_Conv(t, f"conv2d_{i}") for i in range(5, 8))
        self.mid_bn = nn.ModuleList(_BN(t, f"batch_normalization_{i}") for i in range(6, 9))
        self.pool_bn = _BN(t, "batch_normalization_9")
        self.dense_bn = _BN(t, "batch_normalization_10")
        for name, key in (("dense_w", "dense/kernel"), ("dense_b", "dense/bias"), ("out_w", "dense_1/kernel"),
                          ("out_b", "dense_1/bias")):
            self.register_buffer(name, torch.from_numpy(t[key]))
        if self.out_w.shape[1] != n_classes:
            raise WeightsMismatchError(f"checkpoint has {self.out_w.shape[1]} outputs, expected {n_classes}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 187, 96) log-mel patches -> (B, n_classes) tag probabilities."""
        x = self.input_bn(x[..., None])[..., 0]
        feats = []
        for i, front in enumerate(self.front):
            kt = front.weight.shape[2]
            pad = (3, 3) if i < 2 else ((kt - 1) // 2, kt - 1 - (kt - 1) // 2)  # explicit / TF "same"
            feats.append(front(x, pad))  # (B, T, C): max over frequency
        front = torch.cat(feats, dim=2)  # (B, T, 561)
        layers = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn)):
            out = bn(conv(h, (3, 3)), channel_dim=1)[..., 0].transpose(1, 2)  # (B, T, 64)
            h = out if i == 0 else out + h
            layers.append(h)
        mid = torch.cat(layers, dim=2)  # (B, T, 753)
        pooled = torch.stack([mid.amax(dim=1), mid.mean(dim=1)], dim=2).flatten(1)  # TF's (753, 2) flatten
        dense = self.dense_bn(F.relu(self.pool_bn(pooled) @ self.dense_w + self.dense_b))
        return torch.sigmoid(dense @ self.out_w + self.out_b)


@dataclass
class MusicnnTagger:
    """A loaded musicnn model: ``tag`` gives the song-level probability of every label (mean over 3 s patches)."""

    model_name: str
    labels: tuple[str, ...]
    net: Musicnn

    @classmethod
    def load(cls, model_name: str = "MSD_musicnn") -> MusicnnTagger:
        from songprep.describe.tf_checkpoint import read_checkpoint

        if model_name not in LABELS:
            raise ModelNotFoundError(f"unknown musicnn model {model_name!r}; shipped: {', '.join(LABELS)}")
        folder = musicnn_dir() / model_name
        if not (folder / ".index").is_file():
            raise ModelNotFoundError(f"music tagger weights not found in {folder}; reinstall: {INSTALL_HINT}")
        net = Musicnn(read_checkpoint(str(folder) + "/"), len(LABELS[model_name])).eval()
        return cls(model_name, LABELS[model_name], net)

    def priors(self) -> dict[str, float]:
        """Label -> the model's output for its average training song: sigmoid(beta . W + b), where beta is the
        shift of the batch norm feeding the output layer (W, b), so the mean of that layer's input over the
        training set (see :data:`songprep.describe.vocabulary.GENRE_PRIORS`)."""
        net = self.net
        logits = net.dense_bn.beta @ net.out_w + net.out_b
        return {label: float(p) for label, p in zip(self.labels, torch.sigmoid(logits))}

    @torch.no_grad()
    def taggram(self, mono_16k: np.ndarray) -> np.ndarray:
        """(patches, labels) probabilities over the song's 3 s patches."""
        batch = torch.from_numpy(patches(log_mel(mono_16k)))
        return torch.cat([self.net(chunk) for chunk in batch.split(32)]).numpy()

    def tag(self, mono_16k: np.ndarray) -> dict[str, float]:
        """Song-level probability per label: the mean over patches (musicnn's own ``top_tags`` rule)."""
        mean = self.taggram(mono_16k).mean(axis=0)
        return {label: float(p) for label, p in zip(self.labels, mean)}
