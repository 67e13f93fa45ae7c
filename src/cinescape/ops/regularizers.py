"""Edge-aware smoothness (AL Eq. 2-3 and 10)."""

from __future__ import annotations

import torch

__all__ = ["edge_aware_tv"]


def edge_aware_tv(field: torch.Tensor, guide: torch.Tensor, sigma: float = 0.1) -> torch.Tensor:
    """Edge-aware weighted total variation of ``field``, guided by the image ``guide``.

    ``sum_{p, q in N(p)} w(guide(p), guide(q)) * ||field(p) - field(q)||_1`` with
    ``w(x, y) = exp(-||x - y||_1 / sigma)`` and ``N(p)`` the right and upper neighbours. Averaged over
    neighbour pairs and batch (not summed) so the weight is independent of the image size.

    Args:
        field: (B, C, H, W) field to smooth (a flow or colour-transfer maps).
        guide: (B, C', H, W) image in [-1, 1] whose edges let the field change.
        sigma: edge sensitivity (AL: 0.1). The L1 colour distance is averaged over the guide's
            channels, so ``sigma`` is in the guide's units per channel.

    Example:
        >>> edge_aware_tv(torch.ones(1, 2, 8, 8), torch.zeros(1, 3, 8, 8)).item()  # constant field
        0.0
    """
    if field.shape[-2:] != guide.shape[-2:]:
        raise ValueError(f"field {tuple(field.shape)} and guide {tuple(guide.shape)} sizes differ")
    guide = guide.to(field.dtype)
    weight_x = torch.exp(-(guide[..., :, 1:] - guide[..., :, :-1]).abs().mean(1, keepdim=True) / sigma)
    weight_y = torch.exp(-(guide[..., 1:, :] - guide[..., :-1, :]).abs().mean(1, keepdim=True) / sigma)
    diff_x = (field[..., :, 1:] - field[..., :, :-1]).abs().sum(1, keepdim=True)
    diff_y = (field[..., 1:, :] - field[..., :-1, :]).abs().sum(1, keepdim=True)
    return (weight_x * diff_x).mean() + (weight_y * diff_y).mean()
