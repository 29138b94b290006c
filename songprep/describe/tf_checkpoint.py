"""Read the tensors of a TensorFlow checkpoint (tensor bundle: ``.index`` + ``.data-*``) without TensorFlow.

musicnn ships its weights as TF1 checkpoints. Depending on TensorFlow to read 10 MB of floats costs a
~600 MB install whose import alone takes seconds, so this reads the bundle format directly: the ``.index``
file is a LevelDB-style table (uncompressed blocks; keys are variable names, values ``BundleEntryProto``
messages giving dtype, shape and byte range in the data shard), and the ``.data`` shard is raw little-endian
tensor bytes. Only what such checkpoints hold is supported (float/int tensors, one shard, no slices).

>>> tensors = read_checkpoint("musicnn/MTT_musicnn/")       # doctest: +SKIP
>>> tensors["model/dense_1/kernel"].shape                   # doctest: +SKIP
(200, 50)
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from songprep.errors import WeightsMismatchError

_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
#: TensorFlow DataType enum -> numpy dtype (the types checkpoints of float models hold).
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 6: np.int8, 9: np.int64, 10: np.bool_,
           19: np.float16}


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block (prefix-compressed keys, restart array at the end)."""
    if data[offset + size] != 0:
        raise WeightsMismatchError("checkpoint index block is compressed; only uncompressed tables are read")
    block = data[offset:offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    at = 0
    while at < end:
        shared, at = _varint(block, at)
        unshared, at = _varint(block, at)
        value_len, at = _varint(block, at)
        key = key[:shared] + block[at:at + unshared]
        at += unshared
        entries.append((key, block[at:at + value_len]))
        at += value_len
    return entries


def _fields(msg: bytes) -> list[tuple[int, int | bytes]]:
    """Protobuf wire fields of a message: (field number, varint value or length-delimited bytes)."""
    out: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(msg):
        tag, at = _varint(msg, at)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, at = _varint(msg, at)
            out.append((number, value))
        elif wire == 2:
            length, at = _varint(msg, at)
            out.append((number, msg[at:at + length]))
            at += length
        elif wire == 5:
            out.append((number, struct.unpack_from("<I", msg, at)[0]))
            at += 4
        elif wire == 1:
            out.append((number, struct.unpack_from("<Q", msg, at)[0]))
            at += 8
        else:
            raise WeightsMismatchError(f"unexpected protobuf wire type {wire} in a checkpoint entry")
    return out


def _entry(value: bytes) -> tuple[int, tuple[int, ...], int, int, int]:
    """BundleEntryProto -> (dtype, shape, shard, offset, size)."""
    dtype = shard = offset = size = 0
    shape: list[int] = []
    for number, v in _fields(value):
        if number == 1:
            dtype = int(v)  # type: ignore[arg-type]
        elif number == 2:
            for n, dim in _fields(v):  # type: ignore[arg-type]
                if n == 2:
                    shape += [int(d) for m, d in _fields(dim) if m == 1]  # type: ignore[arg-type]
        elif number == 3:
            shard = int(v)  # type: ignore[arg-type]
        elif number == 4:
            offset = int(v)  # type: ignore[arg-type]
        elif number == 5:
            size = int(v)  # type: ignore[arg-type]
        elif number == 7:
            raise WeightsMismatchError("sliced checkpoint tensors are not supported")
    return dtype, tuple(shape), shard, offset, size


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint at ``prefix`` (``prefix + ".index"``, ``prefix + ".data-00000-of-00001"``)."""
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    data_path = Path(prefix + ".data-00000-of-00001")
    if not index_path.is_file() or not data_path.is_file():
        raise WeightsMismatchError(f"no TensorFlow checkpoint at {prefix} "
                                   f"(need {index_path.name} and {data_path.name})")
    index = index_path.read_bytes()
    if len(index) < _FOOTER or struct.unpack_from("<Q", index, len(index) - 8)[0] != _MAGIC:
        raise WeightsMismatchError(f"{index_path} is not a TensorFlow tensor-bundle index")
    footer = index[len(index) - _FOOTER:]
    _, at = _varint(footer, 0)  # metaindex offset
    _, at = _varint(footer, at)  # metaindex size
    index_offset, at = _varint(footer, at)
    index_size, _ = _varint(footer, at)
    data = np.memmap(data_path, dtype=np.uint8, mode="r")
    tensors: dict[str, np.ndarray] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, at = _varint(handle, 0)
        size, _ = _varint(handle, at)
        for key, value in _block(index, offset, size):
            if not key:  # the bundle header
                continue
            dtype, shape, shard, start, nbytes = _entry(value)
            if shard != 0 or dtype not in _DTYPES:
                raise WeightsMismatchError(f"{key.decode()}: unsupported checkpoint tensor "
                                           f"(shard {shard}, dtype {dtype})")
            raw = np.asarray(data[start:start + nbytes])
            tensors[key.decode()] = raw.view(_DTYPES[dtype]).reshape(shape).copy()
    return tensors
