"""Colour transfer with per-pixel maps (AL Eq. 5-6).

Conventions: images are (B, 3, H, W) floats in [-1, 1]; colour-transfer maps are (B, 6, h, w) with
channels 0-2 the multiplicative map ``C_w`` and channels 3-5 the additive map ``C_b`` (each in
[-1, 1] as the predictor emits them). Maps may be predicted at a lower resolution; they are resized
bilinearly (``align_corners=False``) to the image size before use, so the full-resolution image is
sampled once and never magnified.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["color_transfer", "identity_color_maps"]


def color_transfer(maps: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Apply colour-transfer maps: ``out = tanh(C_w * image + C_b)``, per pixel and channel.

    Args:
        maps: (B, 6, h, w) maps, ``C_w = maps[:, :3]``, ``C_b = maps[:, 3:]``; resized to the image
            size with bilinear interpolation if h, w differ from H, W.
        image: (B, 3, H, W) image in [-1, 1].

    Returns:
        (B, 3, H, W) image in (-1, 1).

    Example:
        >>> img = torch.zeros(1, 3, 4, 4); maps = torch.zeros(1, 6, 2, 2); maps[:, 3:] = 0.5
        >>> torch.allclose(color_transfer(maps, img), torch.tanh(torch.tensor(0.5)).expand(1, 3, 4, 4))
        True
    """
    if maps.dim() != 4 or maps.shape[1] != 6:
        raise ValueError(f"colour-transfer maps must be (B,6,h,w), got {tuple(maps.shape)}")
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B,3,H,W), got {tuple(image.shape)}")
    if maps.shape[-2:] != image.shape[-2:]:
        maps = F.interpolate(maps, size=image.shape[-2:], mode="bilinear", align_corners=False)
    maps = maps.to(image.dtype)
    # One fused multiply-add and an in-place tanh: at 4K every full-resolution temporary costs milliseconds.
    return torch.addcmul(maps[:, 3:], maps[:, :3], image).tanh_()


def identity_color_maps(image: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Maps that reproduce ``image`` as closely as tanh allows: ``C_w = gain``, ``C_b = atanh(I) - gain * I``
    clamped to [-1, 1]. Useful as a reference and in tests."""
    clipped = image.clamp(-0.999, 0.999)
    weight = torch.full_like(image, gain)
    bias = (torch.atanh(clipped) - gain * clipped).clamp(-1, 1)
    return torch.cat((weight, bias), dim=1)
