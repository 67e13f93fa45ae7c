"""Two-layer compositing for cinemagraphs: an edge-aware matte, a fluid layer filled behind the still one, and
guided (edge-aware) upsampling of colour changes.

A photo is treated as two layers (the classical cinemagraph model): the *still layer* is the photo itself;
the *fluid layer* is the photo with its still region filled in from nearby fluid content
(:func:`fill_behind`). Only the fluid layer is warped, and the still layer is composited over it with a
matte ``alpha`` (1 = fluid, 0 = still): ``frame = alpha * warp(fluid) + (photo - alpha * fluid)``
(:class:`PhotoLayers`, :func:`composite_layers_hwc`; ``photo - alpha * fluid`` is the premultiplied still layer,
so the unmoved frame is the photo itself). So a moving pixel never samples a still pixel (land, a branch, a ridge
is never dragged into the sky), and a pixel with ``alpha = 0`` is the photo's own value exactly.

Conventions (as :mod:`cinescape.ops.render`): arrays are (H, W, C) float32, C-contiguous, images in
[-1, 1] (any range works for the fill and the filter); a matte is (H, W) float32 in [0, 1]. Box and
Gaussian windows reflect at the borders (OpenCV's ``BORDER_REFLECT_101``); resizes are bilinear with
pixel-centre alignment (``align_corners=False``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .render_fast import band_rows

__all__ = ["guided_filter", "refine_matte", "fill_behind", "fill_behind_photo", "consistent_alpha",
           "composite_layers_hwc", "PhotoLayers",
           "fit_local_affine", "photo_to_float"]


def _box(array: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)×(2r+1) window (normalised box filter; reflected borders)."""
    out = cv2.boxFilter(array, -1, (2 * radius + 1, 2 * radius + 1), normalize=True,
                        borderType=cv2.BORDER_REFLECT_101)
    return out if out.ndim == array.ndim else out[..., None]


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float, *,
                  subsample: int = 1, guide_scale: float | None = None) -> np.ndarray:
    """He et al.'s guided filter with a colour guide (ECCV 2010 / TPAMI 2013), optionally the fast version.

    The output is locally an affine function of the guide, ``q = A · I + b`` in every (2r+1)² window, fitted
    to ``source`` in the least-squares sense with ridge ``eps``: its edges follow the guide's edges, so a
    coarse matte snaps to the photo's own edges (branches, ridges) without being blurred across them.

    Args:
        guide: (H, W, 3) float32 guide image, values of order 1 (e.g. [0, 1] or [-1, 1]).
        source: (H, W) float32 image to filter (e.g. a matte in [0, 1]).
        radius: window radius in pixels of ``guide``.
        eps: regularisation (in squared guide units): larger smooths more across weak edges.
        subsample: ``s > 1`` fits the coefficients at 1/s resolution (radius r/s) and upsamples them
            bilinearly before applying them to the full-resolution guide (He & Sun 2015, "Fast guided filter").
        guide_scale: with a uint8 ``guide``, the guide is ``guide * guide_scale`` (float32), made a band of rows
            at a time where ``subsample > 1`` (no full-resolution float copy: 288 MB at 24 MP).

    Returns:
        (H, W) float32 filtered ``source``.

    Example:
        >>> guide = np.zeros((8, 8, 3), np.float32); guide[:, 4:] = 1      # a vertical edge
        >>> coarse = np.zeros((8, 8), np.float32); coarse[:, 3:] = 1       # a matte one pixel off
        >>> out = guided_filter(guide, coarse, 2, 1e-4)
        >>> bool(out[:, :3].max() < 0.5 < out[:, 4:].min())                 # snapped onto the guide's edge
        True
    """
    if guide.ndim != 3 or guide.shape[2] != 3 or source.shape != guide.shape[:2]:
        raise ValueError(f"guide must be (H, W, 3) and source (H, W), got {guide.shape} and {source.shape}")
    height, width = source.shape
    full_guide = guide

    def guide_rows(top: int, stop: int) -> np.ndarray:   # float32 rows of the guide (a uint8 one times guide_scale)
        rows = full_guide[top:stop]
        return rows if guide_scale is None else np.multiply(rows, np.float32(guide_scale), dtype=np.float32)

    if subsample > 1:
        small = (max(1, round(width / subsample)), max(1, round(height / subsample)))
        # area-averaged across a band of rows at a time, then down (the area filter is separable): no float copy
        # of a uint8 guide at full resolution
        rows = max(1, (1 << 20) // max(1, width))
        across = np.concatenate([cv2.resize(guide_rows(top, top + rows), (small[0], min(rows, height - top)),
                                            interpolation=cv2.INTER_AREA).reshape(-1, small[0], 3)
                                 for top in range(0, height, rows)])
        guide = cv2.resize(across, small, interpolation=cv2.INTER_AREA)
        del across
        source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
        radius = max(1, round(radius / subsample))
    elif guide_scale is not None:
        guide = full_guide = guide_rows(0, height)
    guide = np.ascontiguousarray(guide, np.float32)
    source = np.ascontiguousarray(source, np.float32)[..., None]
    mean_i = _box(guide, radius)                                   # (h, w, 3)
    mean_p = _box(source, radius)                                  # (h, w, 1)
    cov_ip = _box(guide * source, radius) - mean_i * mean_p        # (h, w, 3)
    # the guide's 3×3 covariance per window, + eps I
    outer = guide[..., :, None] * guide[..., None, :]              # (h, w, 3, 3)
    sigma = _box(outer.reshape(*outer.shape[:2], 9), radius).reshape(outer.shape)
    sigma -= mean_i[..., :, None] * mean_i[..., None, :]
    sigma += eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(sigma, cov_ip[..., None])[..., 0]          # (h, w, 3)
    b = mean_p[..., 0] - np.einsum("hwc,hwc->hw", a, mean_i)
    mean_a, mean_b = _box(a, radius), _box(b[..., None], radius)
    if subsample == 1:
        return (np.einsum("hwc,hwc->hw", mean_a, full_guide) + mean_b[..., 0]).astype(np.float32)
    # the coefficients upsampled and applied a band of rows at a time: no full-resolution (H, W, 3) temporaries
    out = np.empty((height, width), np.float32)
    rows = max(1, (1 << 20) // max(1, width))
    for top in range(0, height, rows):
        count = min(rows, height - top)
        band_a = band_rows(mean_a, (height, width), top, count)
        band_b = band_rows(mean_b, (height, width), top, count)
        out[top:top + count] = np.einsum("hwc,hwc->hw", band_a, guide_rows(top, top + count)) + band_b[..., 0]
    return out


def refine_matte(photo: np.ndarray, coarse: np.ndarray, *, radius: int | None = None,
                 eps: float = 1e-3, ramp: tuple[float, float] = (0.25, 0.75)) -> np.ndarray:
    """A coarse fluid matte (e.g. a segmentation upsampled to the photo's size) refined at full resolution
    against the photo's own edges with :func:`guided_filter`, so thin foreground structures inside the fluid
    region (branches, wires, poles, tree tops) and ridges fall in the still layer.

    Pixels the coarse matte calls certain (exactly 0 or 1) and that lie away from any of its edges keep their
    value: the filter only decides the band around the coarse matte's transitions and the structures the
    photo shows inside it.

    Args:
        photo: (H, W, 3) float32 photo in [-1, 1], or the uint8 photo.
        coarse: (H, W) float32 matte in [0, 1] (1 = fluid).
        radius: filter window radius in pixels (default: 1/128 of the short side, at least 2).
        eps: the guided filter's regularisation in squared [0, 1] intensity units.
        ramp: filtered values at or below the first become 0, at or above the second 1, linear in between: where
            the coarse matte was merely unsure (a soft edge a few pixels off the photo's, a thin branch it half
            saw) the filter leaves intermediate values, and the ramp settles them, keeping a soft edge only
            across the photo's own transitions.

    Returns:
        (H, W) float32 matte in [0, 1].
    """
    height, width = coarse.shape
    radius = radius or max(2, round(min(height, width) / 128))
    scale = None
    if photo.dtype == np.uint8:   # [0, 1] made per band by the filter: no float copy of the photo (288 MB at 24 MP)
        guide, scale = photo, 1 / 255
    else:
        guide = (photo.astype(np.float32) + 1.0) * 0.5             # [0, 1]: eps in its units
    subsample = max(1, min(4, radius // 2))
    refined = guided_filter(guide, coarse.astype(np.float32, copy=False), radius, eps, subsample=subsample,
                            guide_scale=scale)
    low, high = ramp
    refined = (refined - np.float32(low)) / np.float32(high - low)
    return np.clip(refined, 0.0, 1.0, out=refined)


def fill_behind(image: np.ndarray, known: np.ndarray, *, levels: int | None = None,
                in_place: bool = False) -> np.ndarray:
    """Fill the unknown part of an image from its known part by push-pull (a normalised-convolution pyramid):
    the fluid layer behind the still one.

    Every level halves the resolution, averaging the known pixels only (weights ``known``); going back up,
    each pixel keeps its own value where it was known and blends in the coarser level's fill as its weight
    falls. Known pixels (``known == 1``) are returned exactly; unknown ones get a smooth continuation of the
    nearby known colours, so content warped from behind a still object is plausible fluid, not the object.

    Args:
        image: (H, W, C) float32.
        known: (H, W) float32 weights in [0, 1], 1 where ``image`` is trusted fluid content.
        levels: pyramid depth (default: down to a single pixel, so every pixel gets a fill).
        in_place: fill ``image`` itself (a float32 C-contiguous array), which is returned: no copy of it is made.

    Returns:
        (H, W, C) float32, ``image`` where ``known == 1``. With nothing known, the image is returned unchanged.

    Example:
        >>> img = np.zeros((4, 8, 1), np.float32); img[:, :4] = 2.0; img[:, 4:] = 9.0   # right half unknown
        >>> known = np.zeros((4, 8), np.float32); known[:, :4] = 1
        >>> bool(np.allclose(fill_behind(img, known), 2.0))
        True
    """
    if image.ndim != 3 or known.shape != image.shape[:2]:
        raise ValueError(f"image must be (H, W, C) and known (H, W), got {image.shape} and {known.shape}")
    weight = np.clip(known, 0.0, 1.0).astype(np.float32)
    if not weight.any():
        return image
    levels = levels or int(np.ceil(np.log2(max(image.shape[:2]))))  # down to one pixel: something is known there
    channels = image.shape[2]
    # The full-resolution level is kept as two arrays, premultiplied colour and weight, and finished in place: a
    # 24-megapixel photo's fill then peaks at about three float copies of the photo instead of seven.
    premultiplied = np.multiply(image, weight[..., None], out=image if in_place else None)
    mean = np.concatenate((premultiplied.reshape(-1, channels).sum(0), [weight.sum()]))
    stack = []   # coarser levels: [w * image, w] in one array
    if levels >= 1 and max(image.shape[:2]) >= 2:
        half = ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2)
        colour = cv2.resize(premultiplied, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], channels)
        stack.append(np.concatenate((colour, cv2.resize(weight, half, interpolation=cv2.INTER_AREA)[..., None]),
                                    axis=2))
        _push_levels(stack, levels - 1)
    if not stack:   # a one-pixel image, or levels=0
        filled = premultiplied / np.maximum(weight[..., None], 1e-12)
        return np.where(weight[..., None] > 0, filled, mean[:channels] / mean[-1]).astype(np.float32)
    coarse = _fill_coarse(stack, mean)
    # the full-resolution level, in place, a band of rows at a time (no full-resolution temporaries):
    # own * colour + (1 - own) * up == up + own * (colour - up), and the known pixels exactly the image's
    out = premultiplied
    rows = max(1, (1 << 20) // max(1, image.shape[1]))
    for top in range(0, image.shape[0], rows):
        band = slice(top, min(top + rows, image.shape[0]))
        up = band_rows(coarse, image.shape[:2], top, band.stop - top)
        own = weight[band, :, None]
        exact = own >= 1.0
        known_values = out[band].copy()          # where the weight is 1 the premultiplied colour is the image's
        colour = np.divide(out[band], np.maximum(own, 1e-12), out=out[band])
        np.subtract(colour, up, out=colour)
        np.multiply(colour, np.minimum(own, 1.0), out=colour)
        np.add(colour, up, out=colour)
        np.copyto(colour, known_values, where=exact)
    return out.astype(np.float32, copy=False)


def _push_levels(stack: list[np.ndarray], count: int) -> None:
    """Append up to ``count`` coarser levels (each ``INTER_AREA``-halved, odd sides rounded up) of ``stack[-1]``,
    (h, w, C + 1) ``[w * colour, w]``, stopping at one pixel."""
    for _ in range(count):
        top = stack[-1]
        if max(top.shape[:2]) < 2:
            break
        down = cv2.resize(top, ((top.shape[1] + 1) // 2, (top.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA)
        stack.append(down if down.ndim == 3 else down[..., None])


def _fill_coarse(stack: list[np.ndarray], mean: np.ndarray) -> np.ndarray:
    """Pull-push from the coarsest level of ``stack`` (levels ``[w * colour, w]``, finest first) back up to
    ``stack[0]``'s resolution: (h, w, C) float32 filled colours there. ``mean``: ``[sum w * colour, sum w]`` over
    the image, for a coarsest pixel with nothing known."""
    filled = stack[-1]
    # normalised; a coarsest pixel with nothing known (only with a shallow ``levels``) takes the known mean
    filled = np.where(filled[..., -1:] > 0, filled / np.maximum(filled[..., -1:], 1e-12), mean / mean[-1])
    filled = np.ascontiguousarray(filled[..., :-1], np.float32)
    for level in reversed(stack[:-1]):
        # own (normalised) colour where known, the coarser fill where not: up + own * (colour - up), a band of rows
        # at a time (the half-resolution level of a 24 MP photo is 96 MB: no temporaries of its size)
        finer = np.empty(level.shape[:2] + (filled.shape[2],), np.float32)
        rows = _band_rows_for(level.shape[1])
        for top in range(0, level.shape[0], rows):
            part = level[top:top + rows]
            up = band_rows(filled, level.shape[:2], top, part.shape[0])
            colour = np.divide(part[..., :-1], np.maximum(part[..., -1:], 1e-12))
            np.subtract(colour, up, out=colour)
            np.multiply(colour, np.minimum(part[..., -1:], 1.0), out=colour)
            np.add(colour, up, out=finer[top:top + rows])
        filled = finer
    return filled


def _band_rows_for(width: int) -> int:
    """Rows per band of the banded fill: about 2^20 pixels (12 MB per float32 three-channel temporary), even."""
    return max(2, ((1 << 20) // max(1, width)) & ~1)


def fill_behind_photo(photo: np.ndarray, known: np.ndarray, alpha: np.ndarray, size: tuple[int, int], *,
                      consistent: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fill_behind` of a uint8 photo with a binary ``known`` mask, made a band of rows at a time without
    any full-resolution float array: the fluid layer as uint8, and the working-size copies of it and of the
    premultiplied still layer ``photo - alpha * fluid``.

    The push-pull pyramid is the same as :func:`fill_behind`'s from its half-resolution level up, and with a
    binary mask the full-resolution level is the photo where known and the coarser fill elsewhere; the half level
    is area-averaged from bands of rows with OpenCV's ``INTER_AREA`` weights. Equal to :func:`fill_behind` rounded
    to uint8 (to float rounding).

    Args:
        photo: (H, W, 3) uint8 RGB photo.
        known: (H, W) bool (or 0/1) mask: True where the photo is trusted fluid content; something must be known.
        alpha: (H, W) float32 matte in [0, 1] (the still layer's premultiplication).
        size: working size (h, w) of the small copies.
        consistent: first lower ``alpha``'s mixed pixels, *in place*, to what their colour holds over the fill
            (:func:`consistent_alpha`, band by band), so the still layer is premultiplied with the lowered matte.

    Returns:
        ``(fluid, fluid_small, still_small)``: (H, W, 3) uint8 fluid layer (``127.5 (x + 1)`` rounded, x the float
        fill in [-1, 1]; the photo's own values where known), and (h, w, 3) float32 area averages in [-1, 1] of
        the float fluid layer and of the still layer.

    Example:
        >>> photo = np.zeros((4, 8, 3), np.uint8); photo[:, :4] = 200; photo[:, 4:] = 9    # right half unknown
        >>> known = np.zeros((4, 8), bool); known[:, :4] = True
        >>> fluid, _, _ = fill_behind_photo(photo, known, known.astype(np.float32), (2, 4))
        >>> int(fluid.min()), int(fluid.max())
        (200, 200)
    """
    height, width = known.shape
    known = known.astype(bool, copy=False)
    rows = _band_rows_for(width)
    half = ((width + 1) // 2, (height + 1) // 2)
    level = np.empty((half[1], half[0], 4), np.float32)
    mean = np.zeros(4, np.float64)
    # the half level, output rows a band at a time: each is the area average of the (at most 3) source rows its
    # cell [i s, (i + 1) s) overlaps, s = H / ceil(H / 2) (OpenCV's INTER_AREA weights; s = 2: plain 2x2 means)
    scale = height / half[1]
    for out_top in range(0, half[1], rows // 2):
        out_rows = np.arange(out_top, min(out_top + rows // 2, half[1]))
        first = np.floor(out_rows * scale).astype(np.int64)
        src_top, src_stop = int(first[0]), min(height, int(np.ceil((out_rows[-1] + 1) * scale)))
        colour = photo_to_float(photo[src_top:src_stop])
        weight = known[src_top:src_stop].astype(np.float32)
        np.multiply(colour, weight[..., None], out=colour)
        band = cv2.resize(np.concatenate((colour, weight[..., None]), axis=2), (half[0], src_stop - src_top),
                          interpolation=cv2.INTER_AREA)          # across only: rows stay independent
        accumulated = np.zeros((out_rows.size, half[0], 4), np.float64)
        for k in range(3):
            source = first + k
            cover = (np.minimum((out_rows + 1) * scale, source + 1) - np.maximum(out_rows * scale, source)) / scale
            cover = np.where(source < src_stop, np.maximum(cover, 0.0), 0.0)
            accumulated += cover[:, None, None] * band[np.minimum(source, src_stop - 1) - src_top]
        level[out_rows[0]:out_rows[-1] + 1] = accumulated
    for top in range(0, height, rows):   # the known pixels' sums, for a coarsest cell with nothing known
        colour = photo_to_float(photo[top:top + rows])
        mask = known[top:top + rows]
        mean += np.concatenate((colour[mask].sum(0), [mask.sum()]))
    if mean[-1] <= 0:
        raise ValueError("fill_behind_photo needs some known pixels")
    stack = [level]
    _push_levels(stack, int(np.ceil(np.log2(max(height, width)))) - 1)
    coarse = _fill_coarse(stack, mean)
    fluid = np.empty(photo.shape, np.uint8)     # C-contiguous whatever the photo's layout (a flipped view)
    small_h, small_w = size
    across_fluid = np.empty((height, small_w, 3), np.float32)
    across_still = np.empty((height, small_w, 3), np.float32)
    for top in range(0, height, rows):
        stop = min(top + rows, height)
        band = band_rows(coarse, (height, width), top, stop - top)
        photo_band = photo_to_float(photo[top:stop])
        np.copyto(band, photo_band, where=known[top:stop, :, None])
        cv2.convertScaleAbs(band, fluid[top:stop], 127.5, 127.5)     # [-1, 1] -> rounded uint8 ([0, 255]: no abs)
        across_fluid[top:stop] = cv2.resize(band, (small_w, stop - top), interpolation=cv2.INTER_AREA)
        if consistent:
            consistent_alpha(alpha[top:stop], photo[top:stop], band, in_place=True)
        np.multiply(band, alpha[top:stop, :, None], out=band)
        np.subtract(photo_band, band, out=photo_band)
        across_still[top:stop] = cv2.resize(photo_band, (small_w, stop - top), interpolation=cv2.INTER_AREA)
    return (fluid, cv2.resize(across_fluid, (small_w, small_h), interpolation=cv2.INTER_AREA),
            cv2.resize(across_still, (small_w, small_h), interpolation=cv2.INTER_AREA))


#: Matte values at or above this count as wholly fluid (resizing a matte of ones can give 0.99999994).
FLUID_ALPHA = 0.999

#: Pixels of the fluid region within this many photo pixels of the still layer are mixed pixels: the photo's own
#: edge blur (optics, demosaicing, resizing) puts some of the still object's colour in them. Dragged along with the
#: fluid they would carry a faint copy of the edge across it (a dark fringe leaving the skyline).
EDGE_MARGIN = 2.0


def feather_inside(alpha: np.ndarray, margin: float) -> np.ndarray:
    """Lower a (H, W) float32 matte in [0, 1] linearly to 0 over the ``margin`` pixels of its wholly fluid region
    (``alpha >=`` :data:`FLUID_ALPHA`) that are nearest to the rest: a pixel at Euclidean distance ``d`` (pixel
    centres, 1 = next to a pixel that is not wholly fluid) keeps at most ``d / (margin + 1)``. Pixels deeper inside
    keep their value; ``margin <= 0`` returns the matte unchanged. The still layer then keeps the mixed edge pixels.

    Example:
        >>> row = np.ones((1, 6), np.float32); row[0, 0] = 0
        >>> (3 * feather_inside(row, 2.0)).round().tolist()   # thirds; the image border is no edge
        [[0.0, 1.0, 2.0, 3.0, 3.0, 3.0]]
    """
    if margin <= 0:
        return alpha
    wholly = (alpha >= FLUID_ALPHA).astype(np.uint8)
    if wholly.all():
        return alpha
    inside = cv2.distanceTransform(wholly, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    np.divide(inside, np.float32(margin + 1.0), out=inside)     # in place: 96 MB per temporary at 24 MP
    np.clip(inside, 0.0, 1.0, out=inside)
    return np.minimum(alpha, inside, out=inside).astype(np.float32, copy=False)


def consistent_alpha(alpha: np.ndarray, photo: np.ndarray, fluid: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """The matte (H, W) float32 in [0, 1] lowered, on its mixed pixels (``0 < alpha <`` :data:`FLUID_ALPHA`), to
    the largest value the compositing equation allows: a mixed pixel is ``photo = alpha * fluid + (1 - alpha) *
    background`` with a background colour in [0, 1], so ``alpha <= photo / fluid`` per channel where the fluid
    layer is brighter and ``alpha <= (1 - photo) / (1 - fluid)`` where it is darker (colours in [0, 1]).
    ``photo`` (H, W, 3) uint8 or float32 in [-1, 1]; ``fluid`` (H, W, 3) float32 in [-1, 1], the filled fluid
    layer. Why: the fluid layer behind a mixed pixel is filled from the nearby water; where that water is brighter
    (foam beside dark rock) or darker (water beside a white sign) than the pixel can hold, the premultiplied still
    layer goes out of range and the pixel flickers between dark and bright as the fluid moves behind it (a
    shimmering rim). Wholly fluid and still pixels are unchanged; a new array is returned (``in_place``: ``alpha``,
    float32, is changed and returned: no full-size copy).

    Example:
        >>> alpha = np.array([[0.5, 0.5, 1.0]], np.float32)
        >>> photo = np.array([[[-0.8] * 3, [0.8] * 3, [0.0] * 3]], np.float32)    # 0.1 (dark), 0.9 (bright), 0.5
        >>> fluid = np.full((1, 3, 3), -0.2, np.float32)                              # water at 0.4
        >>> [round(float(v), 3) for v in consistent_alpha(alpha, photo, fluid)[0]]   # 0.1 / 0.4, 0.1 / 0.6
        [0.25, 0.167, 1.0]
    """
    out = alpha if in_place else np.array(alpha, np.float32, copy=True)
    rows, cols = np.nonzero((out > 0) & (out < FLUID_ALPHA))   # the mixed pixels only: ~1 % of a photo
    if not len(rows):
        return out
    p = (photo_to_float(np.asarray(photo)[rows, cols][None])[0] + 1.0) / 2.0
    f = (np.asarray(fluid, np.float32)[rows, cols] + 1.0) / 2.0
    brighter = p / np.maximum(f, 1e-6)
    darker = (1.0 - p) / np.maximum(1.0 - f, 1e-6)
    bound = np.where(f > p, brighter, np.where(f < p, darker, 1.0)).min(-1)
    out[rows, cols] = np.minimum(out[rows, cols], np.clip(bound, 0.0, 1.0))
    return out


def composite_layers_hwc(warped_fluid: np.ndarray, still: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * warped_fluid + still`` on (H, W, C) float32 arrays, where ``still`` is the *premultiplied* still
    layer ``photo - alpha * fluid`` (:class:`PhotoLayers`); ``alpha`` (H, W) or (H, W, 1). ``warped_fluid`` is
    overwritten and returned. With the fluid layer unmoved the result is the photo; where ``alpha == 0`` it is
    the photo exactly, however the fluid layer moved.

    Example:
        >>> photo = np.array([[[0.0], [0.5]]], np.float32); fluid = np.array([[[0.2], [0.5]]], np.float32)
        >>> alpha = np.array([[0.0, 1.0]], np.float32)
        >>> still = photo - alpha[..., None] * fluid
        >>> composite_layers_hwc(fluid.copy() + 0.25, still, alpha)[0, :, 0].tolist()   # the fluid moved
        [0.0, 0.75]
    """
    alpha = alpha if alpha.ndim == 3 else alpha[..., None]
    np.multiply(warped_fluid, alpha, out=warped_fluid)
    cv2.add(warped_fluid, still, dst=warped_fluid)
    return warped_fluid


@dataclass
class PhotoLayers:
    """A photo as a still layer over a fluid layer, at full resolution and at the networks' working size.

    ``alpha`` is the fluid matte (1 = fluid); ``fluid`` is the photo with every pixel that is not wholly fluid
    (``alpha <`` :data:`FLUID_ALPHA`) filled from nearby fluid content (:func:`fill_behind`); ``still`` is the premultiplied still
    layer ``photo - alpha * fluid``. A frame is ``alpha * warp(fluid) + still`` (:func:`composite_layers_hwc`):
    frame 0 (no motion) is the photo exactly, a pixel with ``alpha = 0`` never changes, and a moving pixel only
    ever samples the fluid layer, so no land, branch or ridge is dragged along.

    Full resolution: (H, W, 1) float32 ``alpha``; ``fluid_pixels``, the fluid layer as stored: (H, W, 3) uint8
    ``127.5 (x + 1)`` for a uint8 photo (72 MB at 24 MP instead of 288: the banded renderer samples it,
    :mod:`cinescape.ops.render_fast`), else float32 in [-1, 1]; ``fluid``, the same as (H, W, 3) float32 in
    [-1, 1], made on first use; ``photo``, the photo itself (uint8, or float32 in [-1, 1]); ``still`` is computed
    from them on first use (a float copy of the photo, which the banded renderer never asks for). Working size:
    (1, 3, h, w) / (1, 1, h, w) tensors ``fluid_small``, ``still_small``, ``alpha_small``. Images in [-1, 1].
    """

    alpha: np.ndarray
    fluid_pixels: np.ndarray
    alpha_small: torch.Tensor
    fluid_small: torch.Tensor
    still_small: torch.Tensor
    photo: np.ndarray

    @functools.cached_property
    def fluid(self) -> np.ndarray:
        """(H, W, 3) float32 fluid layer in [-1, 1]."""
        return photo_to_float(self.fluid_pixels)

    @functools.cached_property
    def still(self) -> np.ndarray:
        """(H, W, 3) float32 premultiplied still layer ``photo - alpha * fluid``."""
        still = np.multiply(self.fluid, self.alpha)
        return np.subtract(photo_to_float(self.photo), still, out=still)

    @classmethod
    def from_photo(cls, photo: np.ndarray, alpha: np.ndarray, size: tuple[int, int], *,
                   edge_margin: float = EDGE_MARGIN) -> "PhotoLayers":
        """Layers of ``photo`` (H, W, 3), uint8 or float32 in [-1, 1] (kept, not copied), for the (H, W) matte
        ``alpha``; working size ``size`` (h, w), both layers area-averaged down to it. The matte is first feathered
        ``edge_margin`` pixels into its wholly fluid region (:func:`feather_inside`), so the fluid layer's own
        colours are taken only from pixels clear of the still objects' edge blur; then its mixed pixels are lowered
        to what their colour can hold over the filled fluid layer (:func:`consistent_alpha`)."""
        alpha = np.ascontiguousarray(np.clip(alpha, 0.0, 1.0), np.float32)
        alpha = feather_inside(alpha, edge_margin)
        height, width = size

        def small(array: np.ndarray) -> torch.Tensor:
            resized = cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)
            resized = resized if resized.ndim == 3 else resized[..., None]
            return torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None].contiguous()

        known = alpha >= FLUID_ALPHA
        if photo.dtype == np.uint8 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 2:
            # banded, no full-resolution float array: the layer kept as uint8
            if known.any():
                # the mixed pixels lowered band by band to what they hold over the fill (consistent_alpha)
                fluid, fluid_small, still_small = fill_behind_photo(photo, known, alpha, size, consistent=True)
                return cls(alpha[..., None], fluid, small(alpha), _chw(fluid_small), _chw(still_small), photo)
            image = photo_to_float(photo)   # nothing wholly fluid: the fluid layer is the photo (rare: no bands)
            return cls(alpha[..., None], photo, small(alpha), small(image), small(image * (1 - alpha[..., None])),
                       photo)
        image = photo_to_float(photo)
        # a float copy made here is filled in place: the fluid layer takes its memory (288 MB at 24 MP)
        fluid = fill_behind(image, known.astype(np.float32), in_place=image is not photo)
        alpha = consistent_alpha(alpha, photo, fluid, in_place=True)   # a mixed pixel: as much fluid as it holds

        # the still layer, made in the float photo's own array (a band of rows at a time, no temporary) only for its
        # working-size copy: the full-resolution one is computed again if ever asked for (``still``)
        # the still layer's working-size copy, area-averaged a band of rows at a time (the area filter is
        # separable: rows resized across first, band by band, then the narrow result down): no full-resolution still
        across = np.empty((fluid.shape[0], width, fluid.shape[2]), np.float32)
        rows = max(1, (1 << 20) // max(1, fluid.shape[1]))
        for top in range(0, fluid.shape[0], rows):
            band = slice(top, top + rows)
            still = np.subtract(photo_to_float(photo[band]), np.multiply(fluid[band], alpha[band, :, None]))
            across[band] = cv2.resize(still, (width, still.shape[0]), interpolation=cv2.INTER_AREA).reshape(
                still.shape[0], width, -1)
        del image
        return cls(alpha[..., None], fluid, small(alpha), small(fluid), small(across), photo)

    def composite_small(self, warped_fluid: torch.Tensor) -> torch.Tensor:
        """Working-size frames (B, 3, h, w): the still layer over the moved fluid layer ``warped_fluid``."""
        return self.alpha_small * warped_fluid + self.still_small

    def fluid_flow(self, flow: torch.Tensor, smooth_sigma: float = 0.0) -> torch.Tensor:
        """A (B, 2, h, w) working-size flow as the fluid layer's motion: kept where the layer is wholly fluid
        (``alpha_small >=`` :data:`FLUID_ALPHA`), continued behind the still layer from the nearby fluid flow (:func:`fill_behind`),
        then, with ``smooth_sigma`` > 0, Gaussian-smoothed (σ in working-size pixels) so that parts of one fluid
        region that the network moves differently meet without a visible tear. Where nothing is wholly fluid the
        flow is zero."""
        known = (self.alpha_small[0, 0] >= FLUID_ALPHA).float().numpy()
        if not known.any():
            return torch.zeros_like(flow)
        out = []
        for field in flow.float():
            array = np.ascontiguousarray(field.permute(1, 2, 0).numpy())
            if not known.all():
                array = fill_behind(array, known)
            if smooth_sigma > 0:
                array = cv2.GaussianBlur(array, (0, 0), smooth_sigma, borderType=cv2.BORDER_REFLECT_101)
            out.append(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1))
        return torch.stack(out).to(flow.dtype)


def _chw(array: np.ndarray) -> torch.Tensor:
    """(h, w, C) float32 -> (1, C, h, w) tensor."""
    return torch.from_numpy(np.ascontiguousarray(array, np.float32)).permute(2, 0, 1)[None].contiguous()


def fit_local_affine(source: np.ndarray, target: np.ndarray, radius: int, eps: float,
                     min_slope: float | None = None) -> np.ndarray:
    """Per-channel local affine fit ``target ≈ a * source + b`` over (2r+1)² windows (a guided filter with
    ``source``'s own channel as the guide): (h, w, 6) maps ``[a, b]``, box-smoothed as the guided filter's
    output coefficients are.

    Applying them at full resolution to the full-resolution source, ``a * I + b`` with ``a, b`` upsampled,
    reproduces a colour change computed at low resolution while its edges follow the full-resolution
    photo's edges (guided upsampling): no halo where a low-resolution colour map straddles an edge.

    Args:
        source: (h, w, 3) float32 (e.g. the working-size frame in [-1, 1]).
        target: (h, w, 3) float32 (the colour-changed working-size frame).
        radius: window radius in pixels of ``source``.
        eps: ridge on ``a`` in squared source units (larger: ``a`` closer to 0, i.e. more of the change
            becomes a local offset).
        min_slope: if given, ``a`` is raised to at least this value (``b`` refitted so each window keeps its
            mean): the change may dim a region but keeps that fraction of its local contrast (detail stays
            readable in a dark night frame instead of collapsing to one flat colour).

    Example:
        >>> src = np.random.default_rng(0).uniform(-1, 1, (6, 6, 3)).astype(np.float32)
        >>> maps = fit_local_affine(src, 0.5 * src + 0.1, 1, 1e-6)
        >>> bool(np.allclose(maps[..., :3], 0.5, atol=1e-3) and np.allclose(maps[..., 3:], 0.1, atol=1e-3))
        True
    """
    mean_i = _box(source, radius)
    mean_p = _box(target, radius)
    cov = _box(source * target, radius) - mean_i * mean_p
    var = _box(source * source, radius) - mean_i * mean_i
    a = cov / (var + eps)
    if min_slope is not None:
        a = np.maximum(a, np.float32(min_slope))
    b = mean_p - a * mean_i
    return np.ascontiguousarray(np.concatenate((_box(a, radius), _box(b, radius)), axis=2), np.float32)


def photo_to_float(photo: np.ndarray) -> np.ndarray:
    """A photo as (H, W, C) float32 in [-1, 1]: uint8 ``x / 127.5 - 1`` (as :func:`cinescape.io.image.image_to_tensor`,
    the same float32 operations, so the same values); a float32 photo is returned as it is.

    Example:
        >>> photo_to_float(np.uint8([[[0, 255, 51]]])).tolist()
        [[[-1.0, 1.0, -0.6000000238418579]]]
    """
    if photo.dtype != np.uint8:
        return np.asarray(photo, np.float32)
    image = np.divide(photo, np.float32(127.5), dtype=np.float32)
    return np.subtract(image, np.float32(1.0), out=image)
