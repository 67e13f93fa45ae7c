"""What both evaluation reports (:mod:`cinescape.eval.evaluate`, :mod:`cinescape.eval.photos`) share: how a
figure is shown, JSON-safe values, and the output folder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CinescapeError

__all__ = ["MetricInfo", "prepare_out"]


@dataclass(frozen=True)
class MetricInfo:
    label: str
    better: str          # "higher", "lower" or "1" (closer to 1 is better)
    fmt: str
    description: str



def _clean(value):
    """JSON-safe: NaN / inf -> None (the report says "unavailable" / "undefined")."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def prepare_out(out: str | Path) -> Path:
    """Create the output folder (one-line error naming the parameter ``out`` if that fails); call it before
    the work."""
    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CinescapeError(f"out: cannot create {folder}: {exc.strerror}") from None
    return folder
