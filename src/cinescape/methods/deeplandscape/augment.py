"""Differentiable augmentations for training GANs on little data (DiffAugment, Zhao et al. 2020) and the
random crops of DeepLandscape's pairwise discriminator.

All ops take (B, C, H, W) images in [-1, 1] where C is 3 (a frame) or 6 (a pair of frames stacked along
channels); one random draw is made per *sample* and applied to every frame of it, so augmentation never
creates a difference between the two frames of a pair. ``generator`` makes them reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["diff_augment", "draw_augment", "apply_augment", "crop_resize"]

AUGMENT_OPS = ("color", "translation", "cutout")


def draw_augment(n: int, policy: str, size: tuple[int, int], *, generator: torch.Generator | None = None,
                 device=None) -> dict[str, torch.Tensor]:
    """The random parameters of :func:`apply_augment` for ``n`` samples of ``size`` (H, W), one row per sample,
    drawn in a fixed order from ``generator``: slicing the rows of a global batch's draw gives each part of the
    batch exactly the augmentation the whole batch would get (data-parallel training draws once, then slices)."""
    h, w = size
    params: dict[str, torch.Tensor] = {}
    for op in (policy.split(",") if policy else []):
        if op == "color":
            for name in ("brightness", "saturation", "contrast"):
                params[name] = torch.rand(n, device=device, generator=generator, dtype=torch.float32)
        elif op == "translation":
            params["shift"] = torch.randint(-(h // 8), h // 8 + 1, (n, 2), device=device, generator=generator)
        elif op == "cutout":
            oy = torch.randint(0, h - h // 2 + 1, (n,), device=device, generator=generator)
            ox = torch.randint(0, w - w // 2 + 1, (n,), device=device, generator=generator)
            params["cutout"] = torch.stack((oy, ox), dim=1)
        elif op:
            raise ValueError(f"unknown DiffAugment op {op!r} (use {', '.join(AUGMENT_OPS)})")
    return params


def apply_augment(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """DiffAugment with drawn ``params`` (:func:`draw_augment`): ``color`` (brightness ±0.5, saturation ×[0, 2],
    contrast ×[0.5, 1.5], in [0, 1] units), ``translation`` (integer shifts up to 1/8 of the size, zero fill),
    ``cutout`` (a zeroed square of half the size). Differentiable with respect to ``x``."""
    b, c, h, w = x.shape
    frames = x.view(b, c // 3, 3, h, w)
    per_sample = lambda name: params[name].view(b, 1, 1, 1, 1)  # noqa: E731
    if "brightness" in params:
        frames = frames + (per_sample("brightness") - 0.5) * 2.0  # ±0.5 in [0, 1] units is ±1 in [-1, 1]
        mean = frames.mean(dim=2, keepdim=True)
        frames = (frames - mean) * (per_sample("saturation") * 2) + mean
        mean = frames.mean(dim=(2, 3, 4), keepdim=True)
        frames = (frames - mean) * (per_sample("contrast") + 0.5) + mean
    if "shift" in params:
        shift = params["shift"]
        ys = torch.arange(h, device=x.device).view(1, h, 1) - shift[:, 0].view(b, 1, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, w) - shift[:, 1].view(b, 1, 1)
        valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).to(frames.dtype)
        index = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(b, 1, 1, h * w)
        flat = frames.reshape(b, c // 3, 3, h * w)
        frames = flat.gather(3, index.expand(b, c // 3, 3, h * w)).view(b, c // 3, 3, h, w)
        frames = frames * valid.view(b, 1, 1, h, w)
    if "cutout" in params:
        oy, ox = params["cutout"][:, 0].view(b, 1, 1), params["cutout"][:, 1].view(b, 1, 1)
        ys = torch.arange(h, device=x.device).view(1, h, 1)
        xs = torch.arange(w, device=x.device).view(1, 1, w)
        inside = (ys >= oy) & (ys < oy + h // 2) & (xs >= ox) & (xs < ox + w // 2)
        frames = frames * (~inside).to(frames.dtype).view(b, 1, 1, h, w)
    return frames.reshape(b, c, h, w)


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout", *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) of ``x`` with one draw per sample: :func:`apply_augment` of
    :func:`draw_augment`. Differentiable with respect to ``x``."""
    if not policy:
        return x
    return apply_augment(x, draw_augment(x.shape[0], policy, x.shape[-2:], generator=generator, device=x.device))


def crop_resize(x: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Bilinear crop of a square of relative side ``scale`` (B,) centred at ``offset`` (B, 2) (normalised
    coordinates, x then y), resized back to (H, W). scale = 1, offset = 0 is the identity."""
    b = x.shape[0]
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = offset
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection", align_corners=False)
