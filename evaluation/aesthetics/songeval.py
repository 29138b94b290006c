"""SongEval (ASLP-lab): coherence, musicality, memorability, clarity, naturalness on a 1-5 scale.

The model is MuQ (``muq`` package, ``OpenMuQ/MuQ-large-msd-iter``) read at hidden state 6 of the
whole song at 24 kHz, and SongEval's small head (:class:`SongEvalHead`, reimplemented from the public
repository's ``model.py``: a feed-forward block, ``attn_layer_num`` self-attention layers with 8 heads,
mean of the attended sequence concatenated with the max of the projected one, a linear layer, and
``tanh * 2 + 3``). Licence: CC BY-NC-SA 4.0, non-commercial.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from songprep.errors import ModelNotFoundError
from songprep.evaluation.aesthetics.base import AestheticScorer, ScorerInfo, fingerprint, hub_snapshot

MUQ_REPO = "OpenMuQ/MuQ-large-msd-iter"
AXES = ("coherence", "musicality", "memorability", "clarity", "naturalness")
#: SongEval's generator config (config.yaml beside the checkpoint overrides these when present).
HEAD_CONFIG = {"in_features": 1024, "ffd_hidden_size": 4096, "num_classes": 5, "attn_layer_num": 4}
#: MuQ hidden state SongEval reads (index into hidden_states: 0 = encoder input, i = after layer i).
MUQ_LAYER = 6


def _model_dir() -> Path:
    from songprep.models.base import songprep_model_dir

    return songprep_model_dir() / "songeval"


def build_head(in_features: int, ffd_hidden_size: int, num_classes: int, attn_layer_num: int):
    """SongEval's head with parameter names matching the released safetensors."""
    import torch
    from torch import nn

    class SongEvalHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.ModuleList([nn.MultiheadAttention(in_features, num_heads=8, dropout=0.2, batch_first=True)
                                       for _ in range(attn_layer_num)])
            self.ffd = nn.Sequential(nn.Linear(in_features, ffd_hidden_size), nn.ReLU(),
                                     nn.Linear(ffd_hidden_size, in_features))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(in_features * 2, num_classes)
            self.proj = nn.Tanh()

        def forward(self, features):  # (B, T, D) -> (B, num_classes) in [1, 5]
            projected = self.ffd(features)
            attended = projected
            for attn in self.attn:
                attended, _ = attn(attended, attended, attended)
            pooled = self.dropout(torch.cat([attended.mean(dim=1), projected.max(dim=1)[0]], dim=1))
            return self.proj(self.fc(pooled)) * 2.0 + 3.0

    return SongEvalHead()


def muq_hidden_state(muq, wave, layer: int = MUQ_LAYER):
    """MuQ's hidden state ``layer`` for a (1, frames) 24 kHz tensor.

    Computed with a forward hook on the conformer layer instead of ``output_hidden_states``: with
    transformers 5 the conformer encoder no longer returns hidden states to muq 0.1.0's ``forward``.
    """
    inner = muq.model
    x = inner.normalize(inner.preprocessing(wave, features=["melspec_2048"]))
    embedded = inner.conv(x["melspec_2048"])
    if layer == 0:
        return embedded
    captured = {}

    def keep(_module, _inputs, output):
        captured["h"] = output[0] if isinstance(output, tuple) else output

    handle = inner.conformer.layers[layer - 1].register_forward_hook(keep)
    try:
        inner.conformer(embedded)
    finally:
        handle.remove()
    return captured["h"]


#: MuQ keys SongEval's features never read: the random-projection quantizers that made MuQ's training targets
#: (seeded buffers; muq's own ``from_pretrained`` loads non-strictly). Every other key must match exactly.
MUQ_UNUSED = ("model.quantizer_",)


def load_muq(source: str | Path | dict, device: str = "cpu"):
    """MuQ from a folder (config.json + model.safetensors) or a config dict (random weights)."""
    import json

    from muq import MuQ

    if isinstance(source, dict):
        config = source
        weights = None
    else:
        folder = Path(source)
        config = json.loads((folder / "config.json").read_text())
        weights = folder / "model.safetensors"
    config = dict(config)
    w2v = {k: v for k, v in dict(config.get("w2v2_config") or {}).items() if k not in ("id2label", "label2id")}
    w2v.setdefault("_attn_implementation", "eager")  # transformers 5 reads it from the encoder's config
    config["w2v2_config"] = w2v
    model = MuQ(config)
    if weights is not None:
        from songprep.evaluation.aesthetics.base import load_strict

        load_strict(model, read_safetensors(weights, "MuQ"), "MuQ", weights, unused=MUQ_UNUSED)
    return model.to(device).eval()


def read_safetensors(path: Path, what: str) -> dict:
    """A safetensors file's tensors; an unreadable file is one line, not a traceback."""
    from safetensors.torch import load_file

    from songprep.errors import WeightsMismatchError

    try:
        return load_file(str(path))
    except Exception as err:
        raise WeightsMismatchError(f"{path} is not a {what} safetensors file ({type(err).__name__}: "
                                   f"{' '.join(str(err).split())[:100]}); pass the released model.safetensors"
                                   ) from None


class SongEvalScorer(AestheticScorer):
    info = ScorerInfo(
        name="songeval",
        axes=AXES,
        axis_labels=("overall coherence", "overall musicality", "memorability", "clarity of song structure",
                     "naturalness of vocal breathing and phrasing"),
        sample_rate=24000,
        needs_reference_audio=False,
        needs_text=False,
        wants_gpu=True,
        licence="CC BY-NC-SA 4.0 (SongEval); MuQ weights CC BY-NC 4.0",
        commercial_use=False,
        scale="1-5",
        weights=f"ASLP-lab/SongEval ckpt/model.safetensors + config.yaml; {MUQ_REPO}",
        how_to_get=("clone https://github.com/ASLP-lab/SongEval and pass --songeval-checkpoint SongEval/ckpt/"
                    f"model.safetensors (or copy ckpt/ and config.yaml into $SONGPREP_MODEL_DIR/songeval/); MuQ "
                    f"comes from the hub ({MUQ_REPO}) or $SONGPREP_MODEL_DIR/songeval/muq/"),
    )

    def __init__(self, muq, head, device: str = "cpu", layer: int = MUQ_LAYER) -> None:
        self.muq = muq.to(device).eval()
        self.head = head.to(device).eval()
        self.device = device
        self.layer = layer

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "cpu") -> SongEvalScorer:
        path = Path(checkpoint).expanduser() if checkpoint else _model_dir() / "ckpt" / "model.safetensors"
        if not path.is_file():
            raise ModelNotFoundError(f"weights for SongEval not found (looked for {path}); {cls.info.how_to_get}")
        config = dict(HEAD_CONFIG)
        for yaml_path in (path.parent.parent / "config.yaml", path.parent / "config.yaml"):
            if yaml_path.is_file():
                import yaml

                generator = (yaml.safe_load(yaml_path.read_text()) or {}).get("generator", {})
                config.update({k: generator[k] for k in HEAD_CONFIG if k in generator})
                break
        from songprep.evaluation.aesthetics.base import load_strict

        head = build_head(**config)
        load_strict(head, read_safetensors(path, "SongEval"), "SongEval head", path)
        local_muq = path.parent.parent / "muq"
        try:
            muq_dir = local_muq if (local_muq / "config.json").is_file() else hub_snapshot(
                MUQ_REPO, ["config.json", "model.safetensors"])
        except Exception as err:
            reason = " ".join(str(err).split())[:120]
            raise ModelNotFoundError(f"weights for MuQ ({MUQ_REPO}, SongEval's feature extractor) not found "
                                     f"(looked in {local_muq} and the hub cache: {reason}); {cls.info.how_to_get}"
                                     ) from None
        scorer = cls(load_muq(muq_dir, device), head, device)
        scorer.weights_source = f"{path}; MuQ {muq_dir}"
        scorer.weights_sha256 = f"{fingerprint(path)}; MuQ {fingerprint(muq_dir / 'model.safetensors')}"
        return scorer

    def score_mono(self, waves: Sequence[np.ndarray]) -> list[dict[str, float]]:
        import torch

        results = []
        with torch.inference_mode():
            for wave in waves:  # whole songs, one at a time (as SongEval's eval.py does)
                x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None].to(self.device)
                scores = self.head(muq_hidden_state(self.muq, x, self.layer)).squeeze(0).float().cpu().tolist()
                results.append(dict(zip(AXES, scores)))
        return results


def small_muq_config(dim: int = 64) -> dict:
    """A MuQ config of the real architecture, small (tests only): what ``config.json`` of a MuQ folder holds."""
    from transformers import Wav2Vec2ConformerConfig

    w2v = Wav2Vec2ConformerConfig(hidden_size=dim, num_attention_heads=4, intermediate_size=2 * dim,
                                  num_hidden_layers=MUQ_LAYER + 1).to_dict()
    return {"encoder_dim": dim, "encoder_depth": MUQ_LAYER + 1, "conv_dim": 32, "w2v2_config": w2v,
            "stat": {"melspec_2048_mean": 6.768444971712967, "melspec_2048_std": 18.417922652295623}}


def random_songeval_parts(seed: int = 0, dim: int = 64):
    """A small MuQ and a SongEval head of the real architectures, random weights (tests only)."""
    import torch

    torch.manual_seed(seed)
    muq = load_muq(small_muq_config(dim))
    head = build_head(in_features=dim, ffd_hidden_size=2 * dim, num_classes=5, attn_layer_num=2)
    return muq, head
