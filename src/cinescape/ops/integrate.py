"""Euler integration of a static (Eulerian) motion field.

A *velocity field* here is one normalised backward flow ``V`` (B, 2, H, W) that describes every frame
step of a video (Holynski et al., "Animating Pictures with Eulerian Motion Fields", CVPR 2021): frame
``t + 1`` is frame ``t`` backward-warped by ``V``, i.e. ``I_{t+1}(p) = I_t(p + V(p))``. Integrating the
field gives, for each frame, the accumulated flow ``A_t`` with ``I_t = warp(I_0, A_t)``, so every frame
samples the original photo once and no blur builds up (as in AL's recurrent mode, but with no network
call per frame). Conventions as in :mod:`cinescape.ops.warp`: channel 0 = x, normalised units
(one pixel = 2/W in x, 2/H in y), reflected borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .warp import base_grid

__all__ = ["integrate_velocity"]


def integrate_velocity(velocity: torch.Tensor, steps: int, *, padding: str = "reflection") -> torch.Tensor:
    """Accumulated flows of ``0, 1, ..., steps`` Euler steps of a static backward velocity field.

    ``A_0 = 0`` and ``A_{t+1} = accumulate_flow(A_t, V)``, i.e. ``A_{t+1}(p) = V(p) + A_t(p + V(p))``: the
    path of pixel ``p`` traced back ``t`` steps along the field, one explicit Euler step of length 1 frame at
    a time (the field is sampled at the current position of the path, bilinearly). ``warp(I_0, A_t)`` is the
    photo moved ``t`` frames along ``V``; integrating ``-V`` moves it backwards in time.

    Args:
        velocity: (B, 2, H, W) normalised backward flow per frame step.
        steps: number of steps ``T >= 0``.
        padding: how ``A_t`` is sampled outside the image (reflection, as the warps are).

    Returns:
        (T + 1, B, 2, H, W) accumulated backward flows, ``[0]`` all zero, ``[t]`` after ``t`` steps.

    Example:
        >>> v = torch.full((1, 2, 4, 4), 0.1)  # a constant field integrates to t * v
        >>> torch.allclose(integrate_velocity(v, 3)[3], 3 * v)
        True
    """
    if velocity.dim() != 4 or velocity.shape[1] != 2:
        raise ValueError(f"velocity must be (B, 2, H, W), got {tuple(velocity.shape)}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    # Every step samples the path so far at the same positions p + V(p) (the field is static): the sampling grid
    # is made once, and each step is one grid_sample written into its slot (accumulate_flow's arithmetic exactly).
    height, width = velocity.shape[-2:]
    grid = base_grid(height, width, device=velocity.device, dtype=velocity.dtype) + velocity.permute(0, 2, 3, 1)
    flows = velocity.new_zeros((steps + 1,) + tuple(velocity.shape))
    for step in range(steps):
        moved = F.grid_sample(flows[step], grid, mode="bilinear", padding_mode=padding, align_corners=False)
        torch.add(velocity, moved, out=flows[step + 1])
    return flows
