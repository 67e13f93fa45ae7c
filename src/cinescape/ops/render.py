"""Full-resolution rendering on (H, W, C) arrays with OpenCV: the per-frame path of an animation.

The networks and every op in :mod:`cinescape.ops.warp` work on (B, C, H, W) tensors at the working size.
An output frame, though, touches the full-resolution photo several times (a warp per blended motion
state, resized flows and colour maps, the colour transfer, the conversion to uint8), and there OpenCV's
vectorised ``remap``/``resize`` on interleaved (H, W, C) float32 arrays are 2-3x faster than
``grid_sample``/``interpolate`` on this project's CPUs (``cinescape bench``, 1920x1080: the loop stage of a
101-frame Eulerian symmetric loop went from 12.4 s to 5.4 s). The same conventions hold as in
:mod:`cinescape.ops.warp`:

* Arrays are (H, W, C) float32, C-contiguous; a flow is (H, W, 2), channel 0 x, channel 1 y.
* Flows here are in **pixels** of the array (:func:`flow_to_pixel_map` converts a normalised flow); pixel
  ``(i, j)``'s centre is at coordinate ``(x=j, y=i)`` — OpenCV's convention, which is PyTorch's
  ``align_corners=False`` in normalised units.
* Backward warping: ``out[p] = image[p + flow[p]]``, bicubic by default (Keys, a = -0.75, as ``grid_sample``'s
  ``mode="bicubic"``) or bilinear; samples outside the image are reflected about the border
  (``BORDER_REFLECT``, ``...cba|abc...``), as ``grid_sample``'s ``padding_mode="reflection"``. Bicubic keeps
  the photo's detail where a frame samples it between pixels: with bilinear sampling every moved frame is
  softer than the unmoved photo, and a loop that returns to the photo (frame 0) pulses in sharpness
  (measured on the 16 photos: worst symmetric-loop seam ratio 1.51 bilinear, 1.26 bicubic).
* Resizing is bilinear with pixel-centre alignment (``cv2.INTER_LINEAR``), as ``align_corners=False``.

OpenCV resolves sub-pixel positions to 1/32 px (its fixed-point ``INTER_BITS``), so a warp differs from
:func:`cinescape.ops.warp` with the same ``mode`` by at most a 1/64 px shift of the samples: about one uint8
level at most on photos.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch

__all__ = ["resize_hwc", "flow_to_pixel_map", "remap_hwc", "color_transfer_hwc", "guided_color_coefficients",
           "grade_statistics", "tone_statistics", "global_grade", "apply_local_affine_hwc", "maps_to_hwc", "hwc_to_uint8"]


def resize_hwc(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (h, w, C) float32 array to ``size`` = (H, W) (pixel centres aligned).

    Example:
        >>> resize_hwc(np.ones((2, 3, 6), np.float32), (4, 6)).shape
        (4, 6, 6)
    """
    height, width = size
    if array.shape[:2] == (height, width):
        return array
    out = cv2.resize(array, (width, height), interpolation=cv2.INTER_LINEAR)
    return out if out.ndim == 3 else out[..., None]  # OpenCV drops a single channel axis


def flow_to_pixel_map(flow: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """A (1, 2, h, w) normalised backward flow -> the (H, W, 2) float32 map of absolute sample positions
    ``(j + u, i + v)`` in pixels of an H×W image that :func:`remap_hwc` takes (``size`` = (H, W)).

    The flow is resized bilinearly to (H, W) first; normalised units make that a plain resize.

    Example:
        >>> zero = torch.zeros(1, 2, 2, 2)
        >>> flow_to_pixel_map(zero, (2, 3))[1, 2].tolist()   # pixel (row 1, column 2) samples itself
        [2.0, 1.0]
    """
    height, width = size
    # NumPy, not torch, on this per-frame path: a torch op over this many elements wakes torch's OpenMP
    # threads, which then spin for a while and take the cores from OpenCV's next remap (cinescape bench).
    normalised = flow[0].detach().float().numpy().transpose(1, 2, 0)
    pixels = np.multiply(normalised, np.float32([width / 2.0, height / 2.0]),
                         out=np.empty(normalised.shape, np.float32))  # (h, w, 2), C-contiguous
    positions = resize_hwc(pixels, size)  # ``pixels`` itself when the sizes agree: a new array either way
    return np.add(positions, _pixel_grid(height, width), out=positions)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 pixel-centre coordinates (x = column, y = row), read-only (shared between calls)."""
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), axis=-1)
    grid.flags.writeable = False
    return grid


_INTERPOLATION = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR}


def remap_hwc(image: np.ndarray, positions: np.ndarray, mode: str = "bicubic") -> np.ndarray:
    """Sample ``image`` (H, W, C) float32 at ``positions`` (H', W', 2) float32 pixel coordinates (x, y),
    ``mode`` "bicubic" (default) or "bilinear", reflecting at the borders: ``out[p] = image[positions[p]]``,
    shape (H', W', C). Bicubic values may overshoot the input range slightly near sharp edges.

    Example:
        >>> row = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
        >>> positions = np.stack(np.meshgrid(np.arange(4) + 1.0, [0.0]), -1).astype(np.float32)
        >>> remap_hwc(row, positions)[..., 0]   # each pixel takes its right neighbour; the last reflects
        array([[1., 2., 3., 3.]], dtype=float32)
    """
    if mode not in _INTERPOLATION:
        raise ValueError(f"unknown interpolation {mode!r}: use bicubic or bilinear")
    out = cv2.remap(image, positions, None, _INTERPOLATION[mode], borderMode=cv2.BORDER_REFLECT)
    return out if out.ndim == 3 else out[..., None]


def color_transfer_hwc(maps: np.ndarray | torch.Tensor, image: np.ndarray) -> np.ndarray:
    """:func:`cinescape.ops.color_transfer` on an (H, W, 3) float32 image in [-1, 1]: ``tanh(C_w * I + C_b)``
    with the colour maps resized bilinearly to (H, W). ``maps``: (h, w, 6) float32 (channels ``C_w`` then
    ``C_b``), or a (1, 6, h, w) tensor. Returns (H, W, 3) float32; ``image`` is reused.

    Example:
        >>> maps = np.zeros((2, 2, 6), np.float32); maps[..., 3:] = 0.5
        >>> bool(np.allclose(color_transfer_hwc(maps, np.zeros((4, 4, 3), np.float32)), np.tanh(0.5)))
        True
    """
    if isinstance(maps, torch.Tensor):
        maps = maps_to_hwc(maps)[0]
    # C_w and C_b resized apart: OpenCV's 3-channel resize is vectorised, its 6-channel one is not (4x slower).
    weight = resize_hwc(np.ascontiguousarray(maps[..., :3]), image.shape[:2])
    bias = resize_hwc(np.ascontiguousarray(maps[..., 3:]), image.shape[:2])
    cv2.multiply(image, weight, dst=image)
    cv2.add(image, bias, dst=image)
    return np.tanh(image, out=image)  # NumPy's tanh is about 4x faster than torch's on this CPU


#: The global grade (``locality < 1``) may clip this fraction of a frame's darkest and of its brightest values.
TONE_QUANTILE = 0.01


def guided_color_coefficients(maps: np.ndarray, small: np.ndarray, *, radius: int = 2, eps: float = 4e-3,
                              min_slope: float = 0.35, locality: float = 1.0) -> np.ndarray:
    """AL's colour transfer at working size, re-expressed as a local affine map of the frame for guided
    upsampling (He et al.'s guided filter as an upsampler): ``tanh(C_w * I + C_b)`` of the (h, w, 3) working-size
    frame ``small`` is fitted per channel by ``a * I + b`` over (2r+1)² windows (:func:`~cinescape.ops.layers.
    fit_local_affine`). Applied to the full-resolution frame (:func:`apply_local_affine_hwc`) the colour change
    follows the full-resolution edges, where bilinearly upsampled ``C_w, C_b`` straddle them and leave halos
    (bright rims round dark rocks). ``a >= min_slope`` keeps that fraction of local contrast (no flat night).

    Args:
        maps: (h, w, 6) float32 colour maps ``[C_w, C_b]`` (:func:`maps_to_hwc`).
        small: (h, w, 3) float32 working-size frame in [-1, 1] the maps were predicted for.
        radius, eps, min_slope: window radius in working-size pixels, ridge (squared [-1, 1] units), slope floor.
        locality: 1 keeps the local fit; 0 replaces it by one affine map per channel fitted over the whole frame
            (a global colour grade, the same for sky and land; its offset limited so that at most
            :data:`TONE_QUANTILE` of the frame's values fall below black or above white); in between, ``global +
            locality * (local - global)``.

    Returns:
        (h, w, 6) float32 coefficients ``[a, b]``.

    Example:
        >>> small = np.random.default_rng(0).uniform(-0.5, 0.5, (8, 8, 3)).astype(np.float32)
        >>> maps = np.zeros((8, 8, 6), np.float32); maps[..., :3] = 1.0      # tanh(I): close to I here
        >>> coeffs = guided_color_coefficients(maps, small, eps=1e-6)
        >>> bool(np.abs(apply_local_affine_hwc(coeffs, small.copy()) - np.tanh(small)).max() < 0.02)
        True
    """
    from .layers import fit_local_affine

    small = np.ascontiguousarray(small, np.float32)
    target = np.ascontiguousarray(np.tanh(small * maps[..., :3] + maps[..., 3:]), np.float32)
    local = fit_local_affine(small, target, radius, eps, min_slope=min_slope) if locality > 0 else 0.0
    if locality >= 1:
        return local
    overall = global_grade(tone_statistics(small), _transfer_moments(small, target), eps=eps, min_slope=min_slope)
    return np.ascontiguousarray(overall + locality * (local - overall) * np.ones_like(maps), np.float32)


def _transfer_moments(small: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(6,) float32 ``[mean(T), mean(I * T)]`` per channel of the transferred frame ``T`` and the frame ``I``."""
    # per-channel moments with OpenCV (float64 sums; NumPy's strided reductions over (h, w) took 4x longer)
    return np.float32(cv2.mean(target)[:3] + cv2.mean(cv2.multiply(small, target))[:3])


def grade_statistics(maps: np.ndarray, small: np.ndarray) -> np.ndarray:
    """What the global grade (:func:`guided_color_coefficients`, ``locality=0``) takes from the colour maps of a
    working-size frame: (6,) float32 ``[mean(T), mean(I * T)]`` per channel, ``T = tanh(C_w * I + C_b)`` the
    transferred frame and ``I`` the (h, w, 3) float32 frame ``small`` in [-1, 1]; ``maps`` (h, w, 6) ``[C_w, C_b]``.
    They change smoothly with the appearance code, so they can be predicted at keyframes and interpolated.

    Example:
        >>> small = np.full((2, 2, 3), 0.5, np.float32); maps = np.zeros((2, 2, 6), np.float32); maps[..., :3] = 1
        >>> [round(float(v), 4) for v in grade_statistics(maps, small)[[0, 3]]]      # tanh(0.5), 0.5 tanh(0.5)
        [0.4621, 0.2311]
    """
    small = np.ascontiguousarray(small, np.float32)
    return _transfer_moments(small, np.ascontiguousarray(np.tanh(small * maps[..., :3] + maps[..., 3:]), np.float32))


def tone_statistics(small: np.ndarray) -> np.ndarray:
    """What the global grade takes from the (h, w, 3) float32 frame ``small`` itself: (12,) float32 ``[mean, standard
    deviation, the TONE_QUANTILE and 1 - TONE_QUANTILE quantiles]`` per channel.

    Example:
        >>> tone_statistics(np.zeros((4, 4, 3), np.float32)).tolist() == [0.0] * 12
        True
    """
    small = np.ascontiguousarray(small, np.float32)
    mean, std = (np.float32(v).ravel() for v in cv2.meanStdDev(small))
    darkest, brightest = np.quantile(small.reshape(-1, 3), [TONE_QUANTILE, 1.0 - TONE_QUANTILE], axis=0)
    return np.concatenate((mean, std, darkest, brightest)).astype(np.float32)


def global_grade(tones: np.ndarray, statistics: np.ndarray, *, eps: float = 4e-3, min_slope: float = 0.35
                 ) -> np.ndarray:
    """The global colour grade ``a * I + b`` per channel (:func:`guided_color_coefficients`, ``locality=0``) from a
    frame's :func:`tone_statistics` and its colour maps' :func:`grade_statistics`: the least-squares fit of ``T`` by
    ``I`` (ridge ``eps``), its slope at least ``min_slope``, its offset limited so that at most
    :data:`TONE_QUANTILE` of the frame's values fall below black or above white. Returns (6,) float32 ``[a, b]``.

    Example:
        >>> tones = np.float32([0, 0, 0, 0.5, 0.5, 0.5, -0.9, -0.9, -0.9, 0.9, 0.9, 0.9])
        >>> statistics = np.float32([0.1, 0.1, 0.1, 0.25, 0.25, 0.25])      # T = I + 0.1 exactly
        >>> [round(float(v), 2) for v in global_grade(tones, statistics, eps=0.0)]
        [1.0, 1.0, 1.0, 0.1, 0.1, 0.1]
    """
    mean_i, std_i, darkest, brightest = (np.float32(tones[k:k + 3]) for k in (0, 3, 6, 9))
    mean_p = np.float32(statistics[:3])
    cov = np.float32(statistics[3:]) - mean_i * mean_p
    slope = np.maximum(cov / (std_i * std_i + eps), min_slope)
    offset = mean_p - slope * mean_i
    # The grade keeps the frame's tones displayable: with the slope floor a dark (night) grade pushed a quarter of
    # the frame below black, crushed to 0; the offset rises instead until only the darkest TONE_QUANTILE reach it
    # (and the brightest likewise stop at white).
    offset = np.minimum(np.maximum(offset, -1.0 - slope * darkest), 1.0 - slope * brightest)
    return np.concatenate((slope, offset)).astype(np.float32)


def apply_local_affine_hwc(coefficients: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``a * image + b`` with the (h, w, 6) coefficients ``[a, b]`` (:func:`guided_color_coefficients`) resized
    bilinearly to the (H, W, 3) float32 ``image``, which is reused and returned (values may leave [-1, 1]
    slightly: :func:`hwc_to_uint8` clamps)."""
    slope = resize_hwc(np.ascontiguousarray(coefficients[..., :3]), image.shape[:2])
    offset = resize_hwc(np.ascontiguousarray(coefficients[..., 3:]), image.shape[:2])
    cv2.multiply(image, slope, dst=image)
    cv2.add(image, offset, dst=image)
    return image


def maps_to_hwc(maps: torch.Tensor) -> np.ndarray:
    """(B, C, h, w) tensor (any float dtype) -> (B, h, w, C) float32 C-contiguous array, the layout of this module.

    Example:
        >>> maps_to_hwc(torch.zeros(2, 6, 4, 5)).shape
        (2, 4, 5, 6)
    """
    return np.ascontiguousarray(maps.detach().float().permute(0, 2, 3, 1).numpy())


def hwc_to_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [-1, 1] -> uint8 (H, W, 3): ``(x + 1) * 127.5`` rounded to the nearest integer and
    clamped, NaN -> 128, as :func:`cinescape.io.image.tensor_to_image` (which rounds halves up; OpenCV rounds
    them to even, so the two can differ by one level where ``(x + 1) * 127.5`` is exactly ``k + 0.5``).
    ``image`` is overwritten.

    Example:
        >>> hwc_to_uint8(np.array([[[-1.0, 0.0, 1.0]]], np.float32)).tolist()
        [[[0, 128, 255]]]
    """
    cv2.patchNaNs(image, 0.0)
    # one OpenCV pass: saturate_cast<uchar>(round(127.5 * x + 127.5)) rounds and clamps to [0, 255]
    return cv2.addWeighted(image, 127.5, image, 0.0, 127.5, dtype=cv2.CV_8U)
