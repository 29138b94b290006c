"""CTC forced alignment with torchaudio's MMS_FA (wav2vec2 trained for alignment on 1,100+ languages).

The weights (~1.2 GB) download on first use into torch hub's ``checkpoints/model.pt``; they are also
looked for in ``$SONGPREP_MODEL_DIR/mms_fa/model.pt``. Offline, or when the download fails, the
aligner raises ModelNotFoundError with one line. Text is romanised to MMS_FA's 27 letters (accents
folded, hanzi as toneless pinyin); the emission is computed in 30 s chunks so memory stays bounded
on long songs (wav2vec2 attention is quadratic in length).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from songprep.alignment.anchors import Anchor
from songprep.alignment.normalise import RefWord
from songprep.errors import ModelNotFoundError
from songprep.models.base import offline, songprep_model_dir

MODEL_FILE = "model.pt"
CHUNK_S = 30.0
SAMPLE_RATE = 16000
URL = "https://dl.fbaipublicfiles.com/mms/torchaudio/ctc_alignment_mling_uroman/model.pt"
HOW_TO_GET = f"run once with internet (torchaudio downloads it), or put the file from {URL} in one of those places"


def weight_dirs() -> list[Path]:
    import torch

    return [songprep_model_dir() / "mms_fa", Path(torch.hub.get_dir()) / "checkpoints"]


def load_mms_fa(device: str = "cpu") -> Any:
    """MMS_FA without the <star> token, from a local file when there is one, else downloaded (unless offline)."""
    import torchaudio

    bundle = torchaudio.pipelines.MMS_FA
    dirs = weight_dirs()
    local = next((d for d in dirs if (d / MODEL_FILE).is_file()), None)
    looked = ", ".join(str(d / MODEL_FILE) for d in dirs)
    if local is None and offline():
        raise ModelNotFoundError(f"MMS_FA weights not found (looked in {looked}); offline mode; {HOW_TO_GET}")
    target = local or dirs[1]
    try:
        model = bundle.get_model(with_star=False, dl_kwargs={"model_dir": str(target), "file_name": MODEL_FILE,
                                                             "progress": False})
    except Exception as err:  # no network, truncated file, ...: one line, never a traceback
        reason = " ".join(str(err).split())[:160]
        raise ModelNotFoundError(f"MMS_FA weights not found (looked in {looked}; download failed: {reason}); "
                                 f"{HOW_TO_GET}") from None
    return model.to(device).eval()


def romanise(word: RefWord) -> str:
    """MMS_FA's alphabet: lower-case a-z (accents folded, hanzi as toneless pinyin)."""
    return "".join(c for c in word.key if "a" <= c <= "z")


def emissions(model: Any, mono_16k: np.ndarray, device: str = "cpu") -> tuple[Any, float]:
    """Log-probabilities (frames, vocab) over the whole vocal, and seconds per emission frame."""
    import torch

    chunk = int(CHUNK_S * SAMPLE_RATE)
    parts = []
    with torch.inference_mode():
        for start in range(0, len(mono_16k), chunk):
            piece = torch.from_numpy(np.ascontiguousarray(mono_16k[start: start + chunk], np.float32))[None].to(device)
            if piece.shape[1] < 400:  # shorter than one wav2vec2 receptive field
                break
            out, _ = model(piece)
            parts.append(torch.log_softmax(out[0], dim=-1).cpu())
    emission = torch.cat(parts)
    covered = min(len(mono_16k), len(parts) * chunk)
    return emission, covered / SAMPLE_RATE / emission.shape[0]


def align_ctc(ref: list[RefWord], mono_16k: np.ndarray, language: str, anchors: list[Anchor] | None = None,
              model: Any | None = None, device: str = "cpu"):
    """Forced alignment of ``ref`` with MMS_FA (``model``: an already loaded one, e.g. per worker)."""
    import torch
    import torchaudio

    from songprep.alignment import _verdict_from_times

    del language  # MMS_FA is multilingual; romanisation is script-driven
    model = model if model is not None else load_mms_fa(device)
    bundle = torchaudio.pipelines.MMS_FA
    dictionary = bundle.get_dict(star=None)
    forms = [romanise(w) for w in ref]
    known = [i for i, f in enumerate(forms) if f]
    starts = np.full(len(ref), np.nan)
    ends = np.full(len(ref), np.nan)
    scores = np.zeros(len(ref))
    emission, frame_s = emissions(model, mono_16k, device)
    tokens = [[dictionary[c] for c in forms[i]] for i in known]
    n_tokens = sum(len(t) for t in tokens)
    if known and n_tokens <= emission.shape[0]:
        flat = torch.tensor([t for word in tokens for t in word], dtype=torch.int32)[None]
        labels, probs = torchaudio.functional.forced_align(emission[None], flat, blank=0)
        spans = torchaudio.functional.merge_tokens(labels[0], probs[0].exp())
        at = 0
        for i, word in zip(known, tokens):
            mine = spans[at: at + len(word)]
            at += len(word)
            starts[i] = mine[0].start * frame_s
            ends[i] = mine[-1].end * frame_s
            scores[i] = float(np.mean([s.score for s in mine]))
    return _verdict_from_times(ref, starts, ends, scores, anchors or [], "ctc")
