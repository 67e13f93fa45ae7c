"""The precision the networks run at for inference on CPU: bfloat16 autocast where the CPU computes it natively,
float32 elsewhere.

The shipped models were trained with bf16 autocast and their inference asked for it everywhere. On a CPU without
native bf16 (no AVX-512 BF16 / AMX, e.g. an AVX2-only AMD EPYC) oneDNN emulates it, and a convolution in bf16 is
about 50-80x slower than in float32 (measured: a 16-channel 3x3 convolution on 4x16x144x256, 4.5 s vs 0.06 s), so
the appearance net alone took minutes for a 101-frame loop. float32 computes the same networks more exactly; the
frames differ from the bf16 ones by about as much as bf16 rounding moves a flow (docs/results.md, "Speed").
``CINESCAPE_BF16=1`` / ``=0`` forces either.
"""

from __future__ import annotations

import contextlib
import functools
import os

import torch

__all__ = ["native_bf16", "inference_autocast", "torch_threads"]


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether inference runs under bf16 autocast: ``$CINESCAPE_BF16`` if set ("1"/"0"), else whether oneDNN
    computes bf16 natively on this CPU.

    Example:
        >>> isinstance(native_bf16(), bool)
        True
    """
    forced = os.environ.get("CINESCAPE_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def inference_autocast() -> torch.autocast:
    """``torch.autocast("cpu", dtype=torch.bfloat16)``, enabled only where :func:`native_bf16` says so.

    Example:
        >>> with inference_autocast():
        ...     y = torch.nn.Linear(2, 2)(torch.ones(1, 2))
        >>> y.dtype in (torch.float32, torch.bfloat16)
        True
    """
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=native_bf16())


@contextlib.contextmanager
def torch_threads(count: int):
    """Run the block with ``count`` intra-op torch threads, then restore the previous number.

    Why: a frame's torch work is small (working-size tensors, e.g. 144×256) and runs while the video encoder and
    OpenCV keep the cores busy. torch's OpenMP team then waits at every op's barrier for a thread that another
    busy thread has pushed off its core: on the 2-core project machine at load ~7 the per-frame phased-loop ops took
    0.17 s with 2 threads and 0.016 s with 1, the 4-frame appearance batch 1.8 s and 0.85 s (``/tmp/s3_thr.py``,
    docs/results.md). Switching costs about 15 µs.

    Example:
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
    """
    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
