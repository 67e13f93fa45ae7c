"""Homographies that move DeepLandscape's dynamic noise maps (paper Sec. 3.1, "Sampling videos").

Conventions (kornia-style, stateless):

* Maps are float tensors (B, C, H, W). Points are (x, y) in *normalised* coordinates, x right and y down,
  in [-1, 1] with -1/+1 at the outer edges of the border pixels (``align_corners=False``; the project's flow
  convention, :mod:`cinescape.ops.warp`). A homography is a (3, 3) or (B, 3, 3) matrix acting on (x, y, 1).
* ``H`` is the *forward* motion of one animation step: content at point q moves to ``H q``. Warping is
  backward: ``out(p) = map(H^-1 p)``, sampled bilinearly; samples outside the map are reflected at its border.
* The paper's motion: the two upper corners move by a displacement d, two points on the horizon by a smaller
  ``perspective * d`` (clouds near the horizon look slower), and below the horizon the motion is mirrored
  about the horizon line (reflections on water). Frame i uses the (i-1)-fold composition ``H^(i-1)``;
  :func:`homography_power` also gives fractional and negative powers, for the seamless (phased) loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["homography_from_points", "cloud_homography", "homography_power", "warp_homography"]


def homography_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The (3, 3) homography with ``H src_k ~ dst_k`` for four point pairs (4, 2), normalised so ``H[2, 2] = 1``
    (direct linear transform, solved exactly as an 8×8 system in float64)."""
    src = src.double()
    dst = dst.double()
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src.tolist(), dst.tolist()):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    h = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64), torch.tensor(rhs, dtype=torch.float64))
    return torch.cat((h, h.new_ones(1))).view(3, 3)


def cloud_homography(direction_degrees: float, speed: float, *, horizon: float = 0.0,
                     perspective: float = 0.3) -> torch.Tensor:
    """One step of the paper's sky motion as a (3, 3) float64 homography.

    Args:
        direction_degrees: direction of motion of the upper corners on screen (0 = right, 90 = down,
            270 = up; y points down).
        speed: displacement of the upper corners per step, in normalised units (1 pixel = 2 / size).
        horizon: y of the horizon line in [-1, 1]; points on it move ``perspective * speed``.
        perspective: relative speed at the horizon (1 = a plain translation).
    """
    angle = math.radians(direction_degrees)
    d = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64) * speed
    src = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, horizon], [1.0, horizon]], dtype=torch.float64)
    scale = torch.tensor([[1.0], [1.0], [perspective], [perspective]], dtype=torch.float64)
    if abs(horizon + 1.0) < 1e-6:
        raise ValueError("horizon must lie below the top edge (> -1)")
    return homography_from_points(src, src + scale * d)


def homography_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """``H^power`` for a homography near the identity, any real power: ``exp(power * log H)`` with ``log H`` from
    its series about I (converges for ||H - I|| < 1, i.e. one animation step). Integer powers equal repeated
    products; ``H^-1`` is the inverse; a translation's half power is half the translation. (3, 3) -> (3, 3)."""
    m = matrix.double() / matrix.double()[..., 2:3, 2:3]
    eye = torch.eye(3, dtype=torch.float64, device=m.device)
    delta = m - eye
    log = torch.zeros_like(m)
    term = eye.expand_as(m)
    for k in range(1, 40):
        term = term @ delta
        log = log + ((-1) ** (k + 1)) * term / k
    return torch.linalg.matrix_exp(power * log)


def _apply(matrix: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) homographies applied to (B, H, W, 2) points."""
    homogeneous = torch.cat((points, torch.ones_like(points[..., :1])), dim=-1)
    mapped = torch.einsum("bij,bhwj->bhwi", matrix, homogeneous)
    return mapped[..., :2] / mapped[..., 2:3]


def warp_homography(maps: torch.Tensor, matrix: torch.Tensor, *, horizon: float | None = None,
                    padding: str = "reflection") -> torch.Tensor:
    """Move ``maps`` (B, C, H, W) by the forward homography ``matrix`` ((3, 3) or (B, 3, 3), normalised units):
    ``out(p) = maps(H^-1 p)``.

    With ``horizon`` (normalised y), a row below it moves by the motion of its mirror image about the horizon
    line, mirrored: ``out(p) = maps(p + R' (H^-1 q - q))`` with ``q = (x, max(2 * horizon - y, -1))`` and
    ``R'(dx, dy) = (dx, -dy)``. The mirror point is clamped to the top edge: the homography is fitted between the
    top edge and the horizon, and extrapolating it further (a row far below a high horizon mirrors to far above the
    frame) grows its motion without bound (a horizon at -0.95 moved the bottom rows ~27x faster than the top)."""
    b, _, h, w = maps.shape
    matrix = matrix.to(device=maps.device, dtype=torch.float64)
    if matrix.dim() == 2:
        matrix = matrix.expand(b, 3, 3)
    inverse = torch.linalg.inv(matrix)
    ys = (torch.arange(h, dtype=torch.float64, device=maps.device) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=torch.float64, device=maps.device) * 2 + 1) / w - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).expand(b, h, w, 2)
    if horizon is None:
        source = _apply(inverse, grid)
    else:
        below = grid[..., 1:2] > horizon
        mirrored_y = torch.where(below, (2 * horizon - grid[..., 1:2]).clamp(min=-1.0), grid[..., 1:2])
        query = torch.cat((grid[..., :1], mirrored_y), dim=-1)
        step = _apply(inverse, query) - query                       # backward displacement at the mirror point
        step = torch.cat((step[..., :1], torch.where(below, -step[..., 1:2], step[..., 1:2])), dim=-1)
        source = grid + step
    return F.grid_sample(maps, source.to(maps.dtype), mode="bilinear", padding_mode=padding, align_corners=False)
