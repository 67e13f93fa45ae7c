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

from dataclasses import dataclass

import cv2
import numpy as np
import torch

__all__ = ["guided_filter", "refine_matte", "fill_behind", "composite_layers_hwc", "PhotoLayers", "fit_local_affine"]


def _box(array: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2r+1)×(2r+1) window (normalised box filter; reflected borders)."""
    out = cv2.boxFilter(array, -1, (2 * radius + 1, 2 * radius + 1), normalize=True,
                        borderType=cv2.BORDER_REFLECT_101)
    return out if out.ndim == array.ndim else out[..., None]


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float, *,
                  subsample: int = 1) -> np.ndarray:
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
    if subsample > 1:
        small = (max(1, round(width / subsample)), max(1, round(height / subsample)))
        guide = cv2.resize(guide, small, interpolation=cv2.INTER_AREA)
        source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
        radius = max(1, round(radius / subsample))
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
    if subsample > 1:
        mean_a = cv2.resize(mean_a, (width, height), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    return (np.einsum("hwc,hwc->hw", mean_a, full_guide) + mean_b[..., 0]).astype(np.float32)


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
    if photo.dtype == np.uint8:   # no float copy of the photo in [-1, 1] first (288 MB at 24 MP)
        guide = np.multiply(photo, np.float32(1 / 255), dtype=np.float32)
    else:
        guide = (photo.astype(np.float32) + 1.0) * 0.5             # [0, 1]: eps in its units
    subsample = max(1, min(4, radius // 2))
    refined = guided_filter(guide, coarse.astype(np.float32), radius, eps, subsample=subsample)
    low, high = ramp
    refined = (refined - np.float32(low)) / np.float32(high - low)
    return np.clip(refined, 0.0, 1.0, out=refined)


def fill_behind(image: np.ndarray, known: np.ndarray, *, levels: int | None = None) -> np.ndarray:
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
    premultiplied = image * weight[..., None]
    mean = np.concatenate((premultiplied.reshape(-1, channels).sum(0), [weight.sum()]))
    stack = []   # coarser levels: [w * image, w] in one array
    if levels >= 1 and max(image.shape[:2]) >= 2:
        half = ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2)
        colour = cv2.resize(premultiplied, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], channels)
        stack.append(np.concatenate((colour, cv2.resize(weight, half, interpolation=cv2.INTER_AREA)[..., None]),
                                    axis=2))
    for _ in range(levels - 1 if stack else 0):
        top = stack[-1]
        if max(top.shape[:2]) < 2:
            break
        down = cv2.resize(top, ((top.shape[1] + 1) // 2, (top.shape[0] + 1) // 2), interpolation=cv2.INTER_AREA)
        stack.append(down if down.ndim == 3 else down[..., None])
    if not stack:   # a one-pixel image, or levels=0
        filled = premultiplied / np.maximum(weight[..., None], 1e-12)
        return np.where(weight[..., None] > 0, filled, mean[:channels] / mean[-1]).astype(np.float32)
    filled = stack[-1]
    # normalised; a coarsest pixel with nothing known (only with a shallow ``levels``) takes the known mean
    filled = np.where(filled[..., -1:] > 0, filled / np.maximum(filled[..., -1:], 1e-12), mean / mean[-1])
    for level in reversed(stack[:-1]):
        up = cv2.resize(filled, (level.shape[1], level.shape[0]), interpolation=cv2.INTER_LINEAR)
        up = up if up.ndim == 3 else up[..., None]
        own = np.minimum(level[..., -1:], 1.0)
        # own (normalised) colour where known, the coarser fill where not
        colour = level[..., :-1] / np.maximum(level[..., -1:], 1e-12)
        filled = np.concatenate((own * colour + (1 - own) * up[..., :-1], np.ones_like(own)), axis=2)
    # the full-resolution level, in place: own * colour + (1 - own) * up == up + own * (colour - up)
    up = cv2.resize(np.ascontiguousarray(filled[..., :channels]), (image.shape[1], image.shape[0]),
                    interpolation=cv2.INTER_LINEAR).reshape(image.shape)
    own = np.minimum(weight, 1.0)[..., None]
    out = np.divide(premultiplied, np.maximum(weight[..., None], 1e-12), out=premultiplied)
    np.subtract(out, up, out=out)
    np.multiply(out, own, out=out)
    np.add(out, up, out=out)
    del up
    exact = weight >= 1.0
    out[exact] = image[exact]
    return out.astype(np.float32, copy=False)


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
    return np.minimum(alpha, np.clip(inside / np.float32(margin + 1.0), 0.0, 1.0)).astype(np.float32)


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

    Full resolution: (H, W, 3) float32 arrays (``fluid``, ``still``) and (H, W, 1) ``alpha``; working size:
    (1, 3, h, w) / (1, 1, h, w) tensors ``fluid_small``, ``still_small``, ``alpha_small``. Images in [-1, 1].
    """

    alpha: np.ndarray
    fluid: np.ndarray
    still: np.ndarray
    alpha_small: torch.Tensor
    fluid_small: torch.Tensor
    still_small: torch.Tensor

    @classmethod
    def from_photo(cls, photo: np.ndarray, alpha: np.ndarray, size: tuple[int, int], *,
                   edge_margin: float = EDGE_MARGIN) -> "PhotoLayers":
        """Layers of ``photo`` (H, W, 3) float32 in [-1, 1] for the (H, W) matte ``alpha``; working size ``size``
        (h, w), both layers area-averaged down to it. The matte is first feathered ``edge_margin`` pixels into
        its wholly fluid region (:func:`feather_inside`), so the fluid layer's own colours are taken only from
        pixels clear of the still objects' edge blur."""
        alpha = np.ascontiguousarray(np.clip(alpha, 0.0, 1.0), np.float32)
        alpha = feather_inside(alpha, edge_margin)
        fluid = fill_behind(photo, (alpha >= FLUID_ALPHA).astype(np.float32))
        still = np.multiply(fluid, alpha[..., None])
        np.subtract(photo, still, out=still)          # photo - alpha * fluid, without a second temporary
        height, width = size

        def small(array: np.ndarray) -> torch.Tensor:
            resized = cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)
            resized = resized if resized.ndim == 3 else resized[..., None]
            return torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None].contiguous()

        return cls(alpha[..., None], fluid, still, small(alpha), small(fluid), small(still))

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
