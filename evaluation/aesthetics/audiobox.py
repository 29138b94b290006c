"""audiobox-aesthetics (Meta): Content Enjoyment, Content Usefulness, Production Complexity, Production Quality.

The model is the ``audiobox_aesthetics`` package's own ``AesMultiOutput`` (WavLM encoder + one head per
axis); inference follows the package: 16 kHz mono, 10 s windows with a 10 s hop, zero-padded, and the
song's score is the window scores weighted by how much of each window is audio.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from songprep.errors import ModelNotFoundError
from songprep.evaluation.aesthetics.base import AestheticScorer, ScorerInfo, fingerprint, hub_snapshot

HUB_REPO = "facebook/audiobox-aesthetics"
AXES = ("CE", "CU", "PC", "PQ")


def _model_dir() -> Path:
    from songprep.models.base import songprep_model_dir

    return songprep_model_dir() / "audiobox-aesthetics"


class AudioboxScorer(AestheticScorer):
    info = ScorerInfo(
        name="audiobox",
        axes=AXES,
        axis_labels=("content enjoyment", "content usefulness", "production complexity", "production quality"),
        sample_rate=16000,
        needs_reference_audio=False,
        needs_text=False,
        wants_gpu=True,
        licence="CC-BY 4.0 (weights), code CC-BY 4.0",
        commercial_use=True,
        scale="about 1-10",
        weights=HUB_REPO,
        how_to_get=(f"with internet, run once without SONGPREP_OFFLINE (downloads {HUB_REPO} into the Hugging Face "
                    "cache), or pass --audiobox-checkpoint PATH (the released checkpoint.pt or a from_pretrained "
                    "folder), or put it into $SONGPREP_MODEL_DIR/audiobox-aesthetics/"),
    )

    def __init__(self, model, device: str = "cpu", batch_size: int = 8) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "cpu") -> AudioboxScorer:
        looked = []
        candidates = [Path(checkpoint).expanduser()] if checkpoint else [_model_dir()]
        for path in candidates:
            looked.append(str(path))
            if path.is_file() or (path.is_dir() and any(path.iterdir())):
                scorer = cls(_load_local(path), device)
                scorer.weights_source, scorer.weights_sha256 = str(path), fingerprint(path)
                return scorer
        if checkpoint is None:
            looked.append(f"hub {HUB_REPO}")
            try:
                folder = hub_snapshot(HUB_REPO, ["config.json", "model.safetensors"])
                scorer = cls(_load_local(folder), device)
                scorer.weights_source, scorer.weights_sha256 = f"{HUB_REPO} ({folder})", fingerprint(folder)
                return scorer
            except Exception as err:  # offline, no cache, hub refused
                reason = " ".join(str(err).split())[:120]
                raise ModelNotFoundError(f"weights for audiobox-aesthetics not found (looked in {', '.join(looked)}:"
                                         f" {reason}); {cls.info.how_to_get}") from None
        raise ModelNotFoundError(f"weights for audiobox-aesthetics not found at {checkpoint}; {cls.info.how_to_get}")

    def score_mono(self, waves: Sequence[np.ndarray]) -> list[dict[str, float]]:
        import torch
        from audiobox_aesthetics.infer import make_inference_batch

        tensors = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))[None] for w in waves]
        windows, masks, weights, owners = make_inference_batch(tensors, 10, 10, sample_rate=self.info.sample_rate)
        preds: dict[str, list[float]] = {axis: [] for axis in AXES}
        with torch.inference_mode(), warnings.catch_warnings():
            # WavLM's padding mask vs attention mask dtype: a deprecation notice from torch, not a problem here
            warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
            for start in range(0, len(windows), self.batch_size):
                batch = {"wav": torch.stack(windows[start:start + self.batch_size]).to(self.device),
                         "mask": torch.stack(masks[start:start + self.batch_size]).to(self.device)}
                out = self.model(batch)
                for axis in AXES:
                    t = self.model.target_transform[axis]
                    preds[axis].extend((out[axis].float().cpu() * t["std"] + t["mean"]).tolist())
        weights_a, owners_a = np.asarray(weights), np.asarray(owners)
        results = []
        for song in range(len(waves)):
            sel = owners_a == song
            w = weights_a[sel]
            results.append({axis: float(np.sum(np.asarray(preds[axis])[sel] * w) / np.sum(w)) for axis in AXES})
        return results


def _load_local(path: Path):
    """The released ``checkpoint.pt`` (state_dict + model_cfg) or a ``from_pretrained`` folder."""
    import re

    import torch
    from audiobox_aesthetics.model.aes import AesMultiOutput

    if path.is_dir():
        return AesMultiOutput.from_pretrained(str(path))
    from songprep.errors import WeightsMismatchError
    from songprep.evaluation.aesthetics.base import load_strict

    try:  # weights only: a checkpoint is data, never code to run
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsMismatchError(f"{path} is not an audiobox-aesthetics checkpoint that loads as weights only "
                                   f"({type(err).__name__}); pass the released checkpoint.pt") from None
    keys = ("proj_num_layer", "proj_ln", "proj_act_fn", "proj_dropout", "nth_layer", "use_weighted_layer_sum",
            "precision", "normalize_embed", "output_dim")
    if not isinstance(ckpt, dict) or not {"model_cfg", "state_dict", "target_transform"} <= set(ckpt):
        raise WeightsMismatchError(f"{path} is not an audiobox-aesthetics checkpoint (no model_cfg, state_dict and "
                                   "target_transform); pass the released checkpoint.pt")
    try:
        model = AesMultiOutput(**{k: ckpt["model_cfg"][k] for k in keys}, target_transform=ckpt["target_transform"])
    except KeyError as err:
        raise WeightsMismatchError(f"{path}: model_cfg lacks {err}; pass the released checkpoint.pt") from None
    load_strict(model, {re.sub("^model.", "", k): v for k, v in ckpt["state_dict"].items()}, "audiobox-aesthetics",
                path)
    return model


def random_audiobox_model(seed: int = 0):
    """The real architecture with random weights (tests, benchmarks): never use its numbers."""
    import torch
    from audiobox_aesthetics.model.aes import AesMultiOutput

    torch.manual_seed(seed)
    return AesMultiOutput(target_transform={axis: {"mean": 5.5, "std": 1.5} for axis in AXES})

