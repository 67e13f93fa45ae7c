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

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["homography_from_points", "cloud_homography", "homography_power", "warp_homography",
           "warp_homography_image"]


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


def _apply(matrix: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, 3) homographies applied to points given as broadcastable x and y coordinates (e.g. (1, 1, W) and
    (1, H, 1)): the mapped (x, y), each (B, H, W). Written out per coefficient rather than as a batched matrix
    product over stacked (x, y, 1) points, which cost ~40 % of a 1024×576 frame's rendering."""
    m = matrix[:, :, :, None, None]          # m[:, i, j] is (B, 1, 1)
    denominator = m[:, 2, 0] * x + m[:, 2, 1] * y + m[:, 2, 2]
    return ((m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2]) / denominator,
            (m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2]) / denominator)


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
    ys = ((torch.arange(h, dtype=torch.float64, device=maps.device) * 2 + 1) / h - 1).view(1, h, 1)
    xs = ((torch.arange(w, dtype=torch.float64, device=maps.device) * 2 + 1) / w - 1).view(1, 1, w)
    if horizon is None:
        source_x, source_y = _apply(inverse, xs, ys)
    else:
        # The mirror point depends on the row alone, so the query stays separable: (1, 1, W) x and (1, H, 1) y.
        below = ys > horizon
        mirrored_y = torch.where(below, (2 * horizon - ys).clamp(min=-1.0), ys)
        mapped_x, mapped_y = _apply(inverse, xs, mirrored_y)   # backward displacement at the mirror point
        step_y = mapped_y - mirrored_y
        source_x = xs + (mapped_x - xs)
        source_y = ys + torch.where(below, -step_y, step_y)
    source = torch.stack(torch.broadcast_tensors(source_x, source_y), dim=-1)
    return F.grid_sample(maps, source.to(maps.dtype), mode="bilinear", padding_mode=padding, align_corners=False)


def _pixels_from_normalised(height: int, width: int) -> np.ndarray:
    """(3, 3) float64 affine map from normalised (x, y) (``align_corners=False``) to pixel (column, row) centres."""
    return np.array([[width / 2, 0, (width - 1) / 2], [0, height / 2, (height - 1) / 2], [0, 0, 1]])


def warp_homography_image(image: np.ndarray, matrix: torch.Tensor, *, horizon: float | None = None) -> np.ndarray:
    """:func:`warp_homography` of one (H, W, C) float32 image (C <= 4) with OpenCV: the same motion, mirror and
    reflected border, sampled bilinearly (within 1e-4 of it on unit-variance noise); returns (H, W, C) float32.

    Why: at the photo's size the per-pixel sampling grid of :func:`warp_homography` (float64 (H, W, 2) tensors,
    built anew every call) cost more than the sampling. Here each band of rows is one ``cv2.warpPerspective``:
    above the horizon the backward homography ``H^-1``; below it, where the mirror point lies in the frame, the
    conjugate ``M H^-1 M`` (``M`` the mirror about the horizon: ``p + R'(H^-1 M p - M p) = M H^-1 M p``); the rows
    whose mirror point is clamped to the top edge (a horizon above the middle) move by a per-column step,
    one ``cv2.remap``.

    >>> image = np.random.default_rng(0).random((6, 8, 3), dtype=np.float32)
    >>> shift = torch.tensor([[1.0, 0, 0.25], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)   # one pixel right
    >>> bool(np.allclose(warp_homography_image(image, shift)[:, 1:], image[:, :-1], atol=1e-6))
    True
    """
    height, width = image.shape[:2]
    inverse = np.linalg.inv(matrix.detach().double().cpu().numpy())
    to_pixels = _pixels_from_normalised(height, width)
    from_pixels = np.linalg.inv(to_pixels)
    rows_y = (np.arange(height) * 2 + 1) / height - 1
    out = np.empty_like(image)

    def band(first: int, stop: int, normalised: np.ndarray) -> None:
        if stop <= first:
            return
        offset = np.array([[1, 0, 0], [0, 1, first], [0, 0, 1]], dtype=np.float64)
        pixel_map = to_pixels @ normalised @ from_pixels @ offset     # band pixel -> source pixel
        warped = cv2.warpPerspective(image, pixel_map, (width, stop - first), flags=cv2.INTER_LINEAR |
                                     cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        out[first:stop] = warped.reshape(stop - first, width, -1)

    if horizon is None:
        band(0, height, inverse)
        return out
    mirror = np.array([[1, 0, 0], [0, -1, 2 * horizon], [0, 0, 1]], dtype=np.float64)
    below = int(np.count_nonzero(rows_y <= horizon))               # rows above (and on) the horizon line
    unclamped = int(np.count_nonzero(2 * horizon - rows_y >= -1))  # rows whose mirror point is in the frame
    band(0, below, inverse)
    band(below, max(below, unclamped), mirror @ inverse @ mirror)
    first = max(below, unclamped)
    if first < height:                                             # mirror point clamped to the top edge
        xs = (np.arange(width) * 2 + 1) / width - 1
        top = inverse @ np.stack((xs, -np.ones(width), np.ones(width)))
        source_x, source_y = top[0] / top[2], top[1] / top[2]
        map_x = np.broadcast_to((source_x + 1) * width / 2 - 0.5, (height - first, width))
        rows = rows_y[first:, None] - source_y[None, :] - 1        # source y = y - (Y(x, -1) + 1)
        map_y = (rows + 1) * height / 2 - 0.5
        warped = cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
        out[first:] = warped.reshape(height - first, width, -1)
    return out
