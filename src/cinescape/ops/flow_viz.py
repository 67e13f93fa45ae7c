"""Optical-flow colour coding (the Middlebury colour wheel of Baker et al., 2011)."""

from __future__ import annotations

import math

import torch

__all__ = ["flow_to_color"]

# Hue segments of the wheel: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red.
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def _color_wheel() -> torch.Tensor:
    """(55, 3) RGB wheel in [0, 1], starting at red and turning through yellow, green, cyan, blue, magenta."""
    rows = []
    # Each segment ramps one channel while the others are held (0 -> 1 or 1 -> 0).
    ramps = [(0, 1, "up"), (1, 0, "down"), (1, 2, "up"), (2, 1, "down"), (2, 0, "up"), (0, 2, "down")]
    for count, (held, moving, direction) in zip(_SEGMENTS, ramps):
        for i in range(count):
            rgb = [0.0, 0.0, 0.0]
            rgb[held] = 1.0
            rgb[moving] = i / count if direction == "up" else 1.0 - i / count
            rows.append(rgb)
    return torch.tensor(rows)


def flow_to_color(flow: torch.Tensor, max_magnitude: float | None = None) -> torch.Tensor:
    """Colour-code a flow field: hue = direction, saturation = magnitude (white = no motion).

    Args:
        flow: (B, 2, H, W) flow in any unit (pixels recommended), channel 0 = x, channel 1 = y.
        max_magnitude: magnitude shown fully saturated; defaults to the largest magnitude in each
            image (so a still image is white). Larger magnitudes are darkened, as in the Middlebury code.

    Returns:
        (B, 3, H, W) RGB in [0, 1]. A flow pointing right (+x) is red; down (+y) is yellow;
        left is cyan-blue; up is violet.

    Example:
        >>> rgb = flow_to_color(torch.tensor([1.0, 0.0]).view(1, 2, 1, 1))
        >>> rgb.flatten().tolist()
        [1.0, 0.0, 0.0]
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B,2,H,W), got {tuple(flow.shape)}")
    flow = flow.float()
    u, v = flow[:, 0], flow[:, 1]
    magnitude = torch.sqrt(u * u + v * v)
    if max_magnitude is None:
        scale = magnitude.flatten(1).amax(1).clamp_min(1e-8).view(-1, 1, 1)
    else:
        scale = torch.as_tensor(max(max_magnitude, 1e-8), dtype=flow.dtype)
    radius = magnitude / scale
    wheel = _color_wheel().to(flow.device)
    count = wheel.shape[0]
    angle = torch.atan2(-v, -u) / math.pi  # in [-1, 1]; +x maps to 1 -> wheel position 0 (red)
    position = (angle + 1) / 2 * (count - 1)
    lower = position.floor().long().clamp(0, count - 1)
    upper = (lower + 1) % count
    frac = (position - lower).unsqueeze(1)
    color = (1 - frac) * wheel[lower].permute(0, 3, 1, 2) + frac * wheel[upper].permute(0, 3, 1, 2)
    radius = radius.unsqueeze(1)
    inside = radius <= 1
    saturated = 1 - radius * (1 - color)  # blend from white towards the hue
    return torch.where(inside, saturated, color * 0.75).clamp(0, 1)
