"""Motion masks: where a photo may move.

A *motion mask* is a float tensor (B, 1, H, W) in [0, 1]: 1 (white) may move, 0 (black) stays frozen,
values between move partly. It multiplies per-step flows (see :mod:`cinescape.ops.warp` for the flow
conventions): a step flow of exactly 0 keeps a pixel sampling itself, so the accumulated flow of a
pixel whose mask is 0 stays exactly 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["erode_mask", "feather_mask", "resize_mask"]


def _gaussian_kernel(sigma: float, dtype: torch.dtype, device) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


def feather_mask(mask: torch.Tensor, sigma: float = 1.0, *, snap: float = 1e-4) -> torch.Tensor:
    """Soften a mask's edges with a separable Gaussian blur (reflected borders).

    Args:
        mask: (B, 1, H, W) float mask in [0, 1].
        sigma: standard deviation of the blur in pixels of ``mask``; 0 returns the mask unchanged.
        snap: values within ``snap`` of 0 or 1 become exactly 0 or 1, so the inside of a frozen (moving)
            region stays exactly frozen (moving) despite rounding in the blur.

    Returns:
        (B, 1, H, W) mask in [0, 1], same dtype. An all-0 or all-1 mask is returned unchanged.

    Example:
        >>> m = torch.zeros(1, 1, 1, 9); m[..., 5:] = 1
        >>> [round(v, 2) for v in feather_mask(m, 1.0)[0, 0, 0].tolist()]  # a soft step; far pixels stay 0 / 1
        [0.0, 0.0, 0.0, 0.06, 0.3, 0.7, 0.94, 1.0, 1.0]
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be (B, 1, H, W), got {tuple(mask.shape)}")
    if sigma <= 0:
        return mask
    kernel = _gaussian_kernel(sigma, mask.dtype, mask.device)
    radius = kernel.numel() // 2
    height, width = mask.shape[-2:]
    out = mask
    if width > 1:  # reflection padding needs pad < size: clamp the kernel to the image
        r = min(radius, width - 1)
        k = kernel[radius - r:radius + r + 1]
        out = F.conv2d(F.pad(out, (r, r, 0, 0), mode="reflect"), (k / k.sum()).view(1, 1, 1, -1))
    if height > 1:
        r = min(radius, height - 1)
        k = kernel[radius - r:radius + r + 1]
        out = F.conv2d(F.pad(out, (0, 0, r, r), mode="reflect"), (k / k.sum()).view(1, 1, -1, 1))
    out = out.clamp(0, 1)
    out = torch.where(out < snap, torch.zeros_like(out), out)
    return torch.where(out > 1 - snap, torch.ones_like(out), out)


def erode_mask(mask: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Grey-level erosion: each value becomes the minimum over the (2r+1)×(2r+1) window around it, so the
    moving region shrinks by ``radius`` pixels on every side and a soft edge moves inwards by as much.

    Pixels outside the image are ignored (the window is cut at the border), so a region touching the
    border does not shrink from it. ``radius`` 0 returns the mask unchanged.

    Args:
        mask: (B, 1, H, W) float mask in [0, 1].
        radius: window half-size in pixels of ``mask`` (>= 0).

    Example:
        >>> m = torch.zeros(1, 1, 1, 7); m[..., 1:6] = 1
        >>> erode_mask(m, 1)[0, 0, 0].tolist()
        [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be (B, 1, H, W), got {tuple(mask.shape)}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius == 0:
        return mask
    # max-pooling pads with -inf, so the negated max ignores the outside of the image
    return -F.max_pool2d(-mask, 2 * radius + 1, stride=1, padding=radius)


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (B, 1, H, W) mask to ``size`` = (H', W'): bilinear, antialiased when shrinking,
    ``align_corners=False``; values stay in [0, 1]."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    shrink = size[0] < mask.shape[-2] or size[1] < mask.shape[-1]
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=shrink).clamp(0, 1)
