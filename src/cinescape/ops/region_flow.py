"""Velocity fields that follow a region's shape, one per kind of moving water (no data, no network).

Conventions: a region is an (h, w) bool array (True = inside); a field is an (h, w, 2) float32 array of *forward*
velocities ``(u, v)`` in pixels of that array per frame, x to the right and y down (what a viewer sees move; the
pipeline's warps take the negated, normalised field, :func:`cinescape.ops.flow_pixels_to_normalized`). Outside the
region a field is 0. Neighbours are 4-connected.

The potential flow (:func:`potential_flow`) is the gradient of the solution of Laplace's equation inside the region
with the potential fixed at 1 on a *source* and 0 on a *sink* and no flux across every other boundary pixel (the
banks): the flow enters at the source, leaves at the sink, is tangent to the banks, goes around holes (rocks) and
is faster where the channel narrows (the same flux through every cross-section). It is one sparse linear solve on
the region's pixels (about 40 000 at working size).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg

__all__ = ["potential_flow", "normalized_speed", "unit", "ripple_field", "shore_field", "fountain_field",
           "principal_ends", "top_and_bottom", "far_and_shore", "foreshortening", "waves_field",
           "fall_lips"]


def _region_gradient(phi: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(h, w, 2) gradient of ``phi`` using only neighbours inside ``region``: central differences where both
    neighbours are inside, one-sided where one is, 0 where none (so a bank's missing neighbour adds no flux)."""
    out = np.zeros(phi.shape + (2,), np.float32)
    for axis in (1, 0):
        channel = 0 if axis == 1 else 1
        inside = np.pad(region, 1)
        values = np.pad(phi, 1)
        center = (slice(1, -1), slice(1, -1))
        if axis == 1:
            before, after = (slice(1, -1), slice(0, -2)), (slice(1, -1), slice(2, None))
        else:
            before, after = (slice(0, -2), slice(1, -1)), (slice(2, None), slice(1, -1))
        has_before, has_after = inside[before] & region, inside[after] & region
        both = has_before & has_after
        grad = np.where(both, (values[after] - values[before]) / 2.0, 0.0)
        grad = np.where(has_after & ~has_before, values[after] - values[center], grad)
        grad = np.where(has_before & ~has_after, values[center] - values[before], grad)
        out[..., channel] = grad
    return out


def potential_flow(region: np.ndarray, source: np.ndarray, sink: np.ndarray) -> np.ndarray:
    """The potential flow from ``source`` to ``sink`` inside ``region``: (h, w, 2) float32, ``-grad(phi)`` with
    ``laplace(phi) = 0`` inside, ``phi = 1`` on the source, 0 on the sink and no flux across the other boundary
    pixels (see the module docstring). Units: potential drop per pixel (a straight channel of length L between
    its source and sink flows at 1 / L everywhere). Parts of the region that touch no source or no sink do not
    move (0).

    Args:
        region: (h, w) bool, the water.
        source: (h, w) bool, where the water enters (kept inside ``region``).
        sink: (h, w) bool, where it leaves (kept inside ``region``; a pixel in both is a sink).

    Example:
        >>> region = np.ones((4, 11), bool)
        >>> source, sink = np.zeros_like(region), np.zeros_like(region)
        >>> source[:, 0] = True; sink[:, -1] = True
        >>> field = potential_flow(region, source, sink)
        >>> bool(np.allclose(field[..., 0], 0.1) and np.allclose(field[..., 1], 0.0, atol=1e-9))
        True
    """
    region = np.asarray(region, bool)
    sink = np.asarray(sink, bool) & region
    source = np.asarray(source, bool) & region & ~sink
    phi = np.zeros(region.shape, np.float64)
    count, parts = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
    solvable = np.zeros(region.shape, bool)
    for part in range(1, count):
        inside = parts == part
        if source[inside].any() and sink[inside].any():
            solvable |= inside
    if not solvable.any():
        return np.zeros(region.shape + (2,), np.float32)
    index = np.full(region.shape, -1, np.int64)
    index[solvable] = np.arange(int(solvable.sum()))
    fixed = (source | sink)[solvable]
    rows, cols = [], []
    for dy, dx in ((0, 1), (1, 0)):
        a = index[:region.shape[0] - dy, :region.shape[1] - dx]
        b = index[dy:, dx:]
        pair = (a >= 0) & (b >= 0)
        rows.append(a[pair])
        cols.append(b[pair])
    i, j = np.concatenate(rows), np.concatenate(cols)
    n = int(solvable.sum())
    adjacency = sparse.coo_matrix((np.ones(2 * len(i)), (np.concatenate((i, j)), np.concatenate((j, i)))),
                                  shape=(n, n)).tocsr()
    laplacian = (sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency).tocsr()
    # The graph Laplacian's free rows (natural no-flux banks) with the fixed values moved to the right-hand side:
    # a symmetric positive definite system, solved directly (symmetric fill-reducing ordering).
    values = source[solvable].astype(np.float64)
    free = ~fixed
    system = laplacian[free][:, free].tocsc()
    rhs = -(laplacian[free][:, fixed] @ values[fixed])
    solution = values.copy()
    if free.any():
        solution[free] = sparse_linalg.spsolve(system, rhs, permc_spec="MMD_AT_PLUS_A")
    phi[solvable] = solution
    field = -_region_gradient(phi, solvable)
    return field.astype(np.float32)


def normalized_speed(field: np.ndarray, region: np.ndarray, low: float = 0.3, high: float = 2.5) -> np.ndarray:
    """(h, w) float32: the field's speed over its median inside ``region``, clipped to [low, high] (0 outside and
    where the field is 0): a potential flow's relative speed (fast where the channel narrows).

    Example:
        >>> field = np.zeros((1, 3, 2), np.float32); field[0, :, 0] = (1.0, 2.0, 40.0)
        >>> normalized_speed(field, np.ones((1, 3), bool)).tolist()
        [[0.5, 1.0, 2.5]]
    """
    speed = np.linalg.norm(field, axis=-1)
    moving = region & (speed > 0)
    if not moving.any():
        return np.zeros(region.shape, np.float32)
    median = float(np.median(speed[moving]))
    return np.where(moving, np.clip(speed / median, low, high), 0.0).astype(np.float32)


def unit(field: np.ndarray) -> np.ndarray:
    """(h, w, 2) directions of a field: each vector over its length (0 where the length is 0).

    Example:
        >>> unit(np.array([[[3.0, 4.0], [0.0, 0.0]]])).tolist()
        [[[0.6, 0.8], [0.0, 0.0]]]
    """
    length = np.linalg.norm(field, axis=-1, keepdims=True)
    return np.where(length > 0, field / np.maximum(length, 1e-12), 0.0)


def principal_ends(region: np.ndarray, share: float = 0.06) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two ends of a region along its principal axis: ``(first, last, axis)``, (h, w) bool masks of the
    pixels whose projection on the axis lies in the lowest / highest ``share`` of the region's extent, and the
    unit axis ``(ax, ay)`` oriented from ``first`` to ``last`` so that it points down the image (``ay >= 0``; a
    horizontal axis points right).

    Example:
        >>> region = np.zeros((5, 20), bool); region[1:4, 2:18] = True
        >>> first, last, axis = principal_ends(region)
        >>> int(first.nonzero()[1].max()), int(last.nonzero()[1].min()), axis.round(3).tolist()
        (2, 17, [1.0, 0.0])
    """
    ys, xs = np.nonzero(region)
    points = np.stack((xs, ys), 1).astype(np.float64)
    centred = points - points.mean(0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axis = vectors[:, -1]
    if axis[1] < -1e-9 or (abs(axis[1]) <= 1e-9 and axis[0] < 0):
        axis = -axis
    along = centred @ axis
    low, high = along.min(), along.max()
    span = max(high - low, 1.0)
    first, last = np.zeros(region.shape, bool), np.zeros(region.shape, bool)
    first[ys[along <= low + share * span], xs[along <= low + share * span]] = True
    last[ys[along >= high - share * span], xs[along >= high - share * span]] = True
    return first, last, axis


def top_and_bottom(region: np.ndarray, share: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """The top and bottom bands of a region: (h, w) bool masks of its pixels within ``share`` of its vertical
    extent from its highest and lowest rows (plus, for the bottom, every pixel on the image's last row: water
    leaves the picture there).

    Example:
        >>> region = np.zeros((10, 4), bool); region[2:10, 1:3] = True
        >>> top, bottom = top_and_bottom(region, 0.2)
        >>> top.nonzero()[0].tolist(), sorted(set(bottom.nonzero()[0].tolist()))
        ([2, 2, 3, 3], [8, 9])
    """
    ys = np.nonzero(region)[0]
    top_row, bottom_row = ys.min(), ys.max()
    band = max(1.0, share * (bottom_row - top_row + 1))
    rows = np.arange(region.shape[0])[:, None]
    top = region & (rows < top_row + band)
    bottom = region & ((rows > bottom_row - band) | (rows == region.shape[0] - 1))
    return top, bottom


def shore_field(region: np.ndarray, horizon: float, speed: float, direction: tuple[float, float] = (0.0, 1.0)
                ) -> np.ndarray:
    """Waves coming in toward the viewer's shore: (h, w, 2) float32 along ``direction`` (unit, image axes; default
    straight down the image), foreshortened as motion in depth on a ground plane: the image speed of a constant
    world speed toward the camera grows as the square of the distance below the horizon row, so it is ``speed``
    on the region's lowest row and 0 at ``horizon`` (a row, may be above the region or the image).

    Example:
        >>> region = np.ones((5, 2), bool)
        >>> [round(float(v), 2) for v in shore_field(region, horizon=-1.0, speed=1.0)[:, 0, 1]]
        [0.04, 0.16, 0.36, 0.64, 1.0]
    """
    ys = np.nonzero(region)[0]
    lowest = ys.max() if len(ys) else region.shape[0] - 1
    rows = np.arange(region.shape[0], dtype=np.float32)[:, None]
    depth = np.clip((rows - horizon) / max(lowest - horizon, 1e-6), 0.0, 1.0) ** 2
    norm = math.hypot(*direction) or 1.0
    field = np.zeros(region.shape + (2,), np.float32)
    field[..., 0] = np.where(region, speed * depth * direction[0] / norm, 0.0)
    field[..., 1] = np.where(region, speed * depth * direction[1] / norm, 0.0)
    return field


def fall_lips(region: np.ndarray, luminance: np.ndarray, reach: float = 0.08, rise: float = 0.02,
              band: float = 0.06, streaks: float = 0.9, texture: float = 0.25) -> np.ndarray:
    """Where water pours into a waterfall region: (h, w) bool, the region's top band (``band`` of its height below
    its highest row, as :func:`top_and_bottom`) and every other *lip*: a stretch of the region's upper edge that is
    the highest within ``reach`` of the image's width on either side (up to ``rise`` of the height lower) and
    under which the water streams down (in the column below it, ``3 * band`` of the region's height deep and 5
    pixels wide: horizontal gradient energy at least ``streaks`` times the vertical one, as falling water's
    vertical streaks give, and at least ``texture`` of the region's mean gradient energy: dark, flat rock or
    shadow is no lip). Each separate fall of a region then gets its own source in :func:`potential_flow`.

    Args:
        region: (h, w) bool.
        luminance: (h, w) float, the photo's brightness (any range).

    Example:
        >>> region = np.zeros((40, 60), bool); region[5:, 10:20] = True; region[20:, 40:50] = True
        >>> region[30:, :] = True                                             # a pool joins two falls
        >>> lum = np.zeros((40, 60), np.float32); lum[:30, (np.arange(60) // 2) % 2 == 1] = 1.0  # streaks; calm pool
        >>> lips = fall_lips(region, lum)
        >>> sorted(set(lips.nonzero()[0].tolist())), np.unique(lips.nonzero()[1])[[0, -1]].tolist()
        ([5, 6, 7, 20, 21], [10, 49])
    """
    region = np.asarray(region, bool)
    h, w = region.shape
    top, _ = top_and_bottom(region, band)
    ys = np.nonzero(region)[0]
    if not len(ys):
        return top
    depth = max(2, int(round(band * (ys.max() - ys.min() + 1))))
    lum = np.asarray(luminance, np.float32)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) ** 2
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) ** 2
    energy = float((gx + gy)[region].mean()) or 1e-12
    tops = np.where(region.any(0), region.argmax(0), h + 10 * h)
    half, slack = max(1, int(reach * w)), max(1.0, rise * h)
    lips = top.copy()
    for col in np.nonzero(region.any(0))[0]:
        if tops[col] > tops[max(0, col - half):col + half + 1].min() + slack:
            continue
        rows, cols = slice(tops[col], tops[col] + 3 * depth), slice(max(0, col - 2), col + 3)
        inside = region[rows, cols]
        across, along = float(gx[rows, cols][inside].sum()), float(gy[rows, cols][inside].sum())
        if across >= streaks * max(along, 1e-12) and (across + along) / inside.sum() >= texture * energy:
            lips[tops[col]:tops[col] + depth, col] = region[tops[col]:tops[col] + depth, col]
    return lips


def far_and_shore(region: np.ndarray, far_row: float, band: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Where waves come from and where they break, for open water seen from its shore: ``(far, shore)``, (h, w)
    bool. ``far``: the topmost pixel of each column of ``region`` when it lies within ``band`` of the image's
    height of ``far_row`` (the far edge: the horizon or a far shore; a pier or a headland higher up is no source).
    ``shore``: the region's pixels whose pixel right below is land (not in the region), plus its pixels on the
    image's last row (the water goes on toward the viewer there).

    Example:
        >>> region = np.zeros((6, 4), bool); region[1:4] = True; region[4, :2] = True
        >>> far, shore = far_and_shore(region, far_row=1.0)
        >>> far.nonzero()[0].tolist(), np.argwhere(shore).tolist()
        ([1, 1, 1, 1], [[3, 2], [3, 3], [4, 0], [4, 1]])
    """
    region = np.asarray(region, bool)
    h = region.shape[0]
    below = np.zeros_like(region)
    below[:-1] = region[1:]
    shore = region & ~below
    shore[-1] = region[-1]
    far = np.zeros_like(region)
    cols = np.nonzero(region.any(0))[0]
    tops = region[:, cols].argmax(0)
    near = np.abs(tops - far_row) <= max(1.0, band * h)
    far[tops[near], cols[near]] = True
    return far & ~shore, shore


def foreshortening(rows: np.ndarray, horizon: float, nearest: float, depthward: np.ndarray | float = 1.0
                   ) -> np.ndarray:
    """The image speed of a constant speed on a level plane (the water) seen from above it, relative to its value
    on the ``nearest`` row: with ``r = (row - horizon) / (nearest - horizon)`` clipped to [0, 1] (image rows
    below the horizon are proportional to 1 / depth), motion across the view shrinks as ``r`` and motion in
    depth as ``r**2`` (d(1/Z) = -dZ / Z**2); ``depthward`` in [0, 1] is the share of the motion that is in depth
    (the image direction's |y| part), and the factor is ``r ** (1 + depthward)``.

    Example:
        >>> foreshortening(np.array([0.0, 5.0, 10.0]), 0.0, 10.0).tolist()
        [0.0, 0.25, 1.0]
        >>> foreshortening(np.array([5.0]), 0.0, 10.0, depthward=0.0).tolist()
        [0.5]
    """
    r = np.clip((np.asarray(rows, np.float32) - horizon) / max(nearest - horizon, 1e-6), 0.0, 1.0)
    return (r ** (1.0 + np.clip(depthward, 0.0, 1.0))).astype(np.float32)


def waves_field(region: np.ndarray, horizon: float, speed: float,
                direction: tuple[float, float] | None = None, nearest: float | None = None) -> np.ndarray:
    """Waves running in from the far edge to the shore: (h, w, 2) float32. The direction is the potential flow
    (:func:`potential_flow`) from the far edge (``horizon``, a row: the topmost pixels of the columns near it) to the
    shore (the region's pixels with land right below them, :func:`far_and_shore`), so the waves meet each stretch
    of shore head on and turn around piers and headlands; or the fixed image ``direction`` (unit) when given. The
    speed is ``speed`` on the row ``nearest`` (None: the region's lowest row; a sea cut short by land in front
    of it keeps the depth of its old near edge) and foreshortened above it (:func:`foreshortening`).
    Parts with no far edge or no shore take the direction straight down the image.

    Example:
        >>> region = np.zeros((12, 8), bool); region[2:] = True
        >>> field = waves_field(region, horizon=1.0, speed=1.0)
        >>> [round(float(v), 2) for v in field[[4, 7, 11], 3, 1]], bool(np.abs(field[..., 0]).max() < 1e-6)
        ([0.09, 0.36, 1.0], True)
    """
    region = np.asarray(region, bool)
    field = np.zeros(region.shape + (2,), np.float32)
    if not region.any():
        return field
    if direction is None:
        far, shore = far_and_shore(region, horizon + 1.0)
        directions = unit(potential_flow(region, far, shore))
        lost = region & (np.linalg.norm(directions, axis=-1) == 0)
        directions[lost] = (0.0, 1.0)
    else:
        norm = math.hypot(*direction) or 1.0
        directions = np.zeros_like(field)
        directions[region] = (direction[0] / norm, direction[1] / norm)
    rows = np.broadcast_to(np.arange(region.shape[0], dtype=np.float32)[:, None], region.shape)
    nearest = float(np.nonzero(region)[0].max()) if nearest is None else float(nearest)
    factor = foreshortening(rows, horizon, nearest, np.abs(directions[..., 1]))
    field[region] = directions[region] * (speed * factor[region])[:, None]
    return field


def ripple_field(region: np.ndarray, amplitude: float, drift: tuple[float, float] = (0.0, 0.0), *,
                 scale: float = 6.0, seed: int = 0, squash: float = 0.35) -> np.ndarray:
    """Calm water rippling in place: (h, w, 2) float32, a smooth random field of zero mean inside ``region``
    (Gaussian-filtered noise, ``scale`` pixels; its vertical part times ``squash``, as ripples on a surface seen
    at a grazing angle) rescaled so that its largest speed is ``amplitude``, plus a uniform ``drift``. In a
    phased loop each patch of the surface then sways back and forth around where it is (a reflection keeps its
    place) while the whole surface drifts by ``drift`` per frame. Speeds are bounded:
    ``|field| <= amplitude + |drift|``.

    Example:
        >>> region = np.ones((32, 48), bool)
        >>> field = ripple_field(region, 0.2, (0.05, 0.0))
        >>> float(np.linalg.norm(field, axis=-1).max()) <= 0.25 + 1e-6, round(float(field[..., 0].mean()), 3)
        (True, 0.05)
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(region.shape + (2,)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), scale, borderType=cv2.BORDER_REFLECT_101)
    smooth[..., 1] *= squash
    field = np.zeros(region.shape + (2,), np.float32)
    if region.any():
        smooth = smooth - smooth[region].mean(0)
        peak = float(np.linalg.norm(smooth[region], axis=-1).max())
        field[region] = smooth[region] * (amplitude / max(peak, 1e-12)) + np.asarray(drift, np.float32)
    return field


def fountain_field(region: np.ndarray, speed: float) -> np.ndarray:
    """A fountain's jet: (h, w, 2) float32, water rising along the region's central column and falling at its
    sides (up in the middle third of its width, down outside, spreading outwards), ``speed`` at most.

    Example:
        >>> region = np.ones((6, 9), bool)
        >>> field = fountain_field(region, 1.0)
        >>> bool(field[3, 4, 1] < 0 and field[3, 0, 1] > 0 and field[3, 8, 1] > 0)
        True
    """
    ys, xs = np.nonzero(region)
    field = np.zeros(region.shape + (2,), np.float32)
    if not len(xs):
        return field
    centre, half = xs.mean(), max((xs.max() - xs.min()) / 2.0, 1.0)
    cols = np.arange(region.shape[1], dtype=np.float32)[None, :]
    offset = np.clip((cols - centre) / half, -1.0, 1.0) * np.ones((region.shape[0], 1), np.float32)
    # cos(pi * 1.5 * |offset|): +1 at the centre (rising), negative beyond a third of the half-width (falling)
    vertical = -np.cos(np.pi * 1.5 * np.abs(offset))
    field[..., 0] = np.where(region, speed * 0.5 * np.sign(offset) * np.abs(np.sin(np.pi * offset)), 0.0)
    field[..., 1] = np.where(region, speed * vertical, 0.0)
    return field
