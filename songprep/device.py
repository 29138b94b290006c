"""Choosing the compute device. A GPU is used when asked for or available, never required."""

from __future__ import annotations

from songprep.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise UsageError(f"--device {device} asked for, but torch sees no CUDA GPU; use --device cpu or auto")
    return device


#: Compute threads per worker, fixed: float reductions (torch, CTranslate2) may sum in another order with
#: another thread count, and a dataset must not depend on ``-j``. Parallelism comes from worker processes.
WORKER_THREADS = 1


def fix_threads() -> int:
    """Pin torch (and what reads its setting, e.g. CTranslate2 via ``worker_threads``) to WORKER_THREADS,
    and every BLAS/OpenMP pool already loaded (numpy's OpenBLAS above all) to the same.

    Measured: faster-whisper's mel features go through numpy's OpenBLAS, whose default is a thread per
    core; with 2 threads instead of 1 a real song's beam search took another path (a looping segment the
    quality gate dropped: 0 words instead of 85), and the dataset then depended on the machine's cores,
    and on the engine (Ray starts its actors with one thread).
    """
    import torch
    from threadpoolctl import threadpool_limits

    if torch.get_num_threads() != WORKER_THREADS:
        torch.set_num_threads(WORKER_THREADS)
    threadpool_limits(limits=WORKER_THREADS)
    return WORKER_THREADS
