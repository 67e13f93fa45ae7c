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

import functools
import os

import torch

__all__ = ["native_bf16", "inference_autocast"]


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
