"""Partial convolution (Liu et al., ECCV 2018), as FGLA's motion encoder uses it (FGLA Sec. 3.1, Eq. 1-2).

A partial convolution sees only the *valid* inputs of its window, those where the binary mask ``M`` is 1,
and re-weights the result by how much of the window was valid::

    x' = W^T (X ⊙ M) · sum(1) / sum(M) + b     if sum(M) > 0        (FGLA Eq. 1)
    x' = 0                                     otherwise
    m' = 1 if sum(M) > 0 else 0                                     (FGLA Eq. 2, the mask update)

where the sums run over the window. Inputs outside the mask never reach the output, so a stack of partial
convolutions encodes a region's content independently of everything around it; the factor
``sum(1) / sum(M)`` keeps small regions (a thin river) from being drowned by the zeros around them.

Conventions:

* ``x``: (B, C, H, W) features; ``mask``: (B, 1, H, W) with values in {0, 1}, one mask shared by every
  input channel (so ``sum(1) = kH · kW``, the window's size, and ``sum(M)`` counts its valid positions).
* Zero padding counts as *invalid* (the mask is zero-padded too): at a border the window holds fewer
  valid positions and the output is rescaled accordingly, exactly as inside a hole.
* Returns ``(x', m')``: (B, C_out, H', W') features, exactly 0 where ``m'`` is 0, and the (B, 1, H', W')
  updated mask. Stride, padding and dilation are those of :class:`torch.nn.Conv2d`; groups must be 1.

Example:
    >>> conv = PartialConv2d(1, 1, 3, padding=1, bias=False)
    >>> _ = conv.weight.data.fill_(1.0)
    >>> x = torch.full((1, 1, 3, 3), 2.0); m = torch.ones(1, 1, 3, 3)
    >>> out, new_mask = conv(x, m)
    >>> out[0, 0, 0, 0].item()  # a corner sees 4 valid inputs: 4 * 2 * 9 / 4
    18.0
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PartialConv2d", "masked_average"]


class PartialConv2d(nn.Conv2d):
    """``nn.Conv2d`` with FGLA Eq. 1-2: ``forward(x, mask) -> (out, new_mask)`` (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError("PartialConv2d supports groups=1 only")
        if self.padding_mode != "zeros":
            raise ValueError("PartialConv2d pads with invalid (zero) positions only: padding_mode must be 'zeros'")
        self.register_buffer("window", torch.ones(1, 1, *self.kernel_size), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"mask must be (B, 1, H, W) matching x {tuple(x.shape)}, got {tuple(mask.shape)}")
        mask = mask.to(x.dtype)
        with torch.no_grad():  # sum(M) over each window: the number of valid inputs (exact small integers)
            valid = F.conv2d(mask.float(), self.window, None, self.stride, self.padding, self.dilation)
            new_mask = (valid > 0).to(x.dtype)
            scale = (self.window.numel() / valid.clamp(min=1.0)).to(x.dtype) * new_mask   # sum(1) / sum(M), 0 if empty
        raw = F.conv2d(x * mask, self.weight, None, self.stride, self.padding, self.dilation)
        out = raw * scale
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1) * new_mask
        return out, new_mask


def masked_average(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, C, H, W) ``x`` over the positions where the (B, 1, H, W) ``mask`` is 1 -> (B, C); 0 where the
    mask is empty."""
    mask = mask.to(x.dtype)
    return (x * mask).sum((2, 3)) / mask.sum((2, 3)).clamp(min=1.0)
