"""Undoing what bicubic resampling takes from a moved photo: per-axis sharpening from each sample's sub-pixel offset.

A backward warp samples the photo between its pixels. OpenCV's bicubic kernel (Keys' cubic convolution with
``a = -0.75``, ``cv2.INTER_CUBIC``) reproduces the photo exactly at whole-pixel offsets and low-passes it in between:
at half a pixel along an axis its response at the Nyquist frequency of that axis is 0, and measured on the 16
shared photos a copy moved by (0.5, 0.5) px keeps 0.72–0.95 of the photo's mean |Laplacian|
(``experiments/measure_loop_sharpness.py --native``). The loss is separable (the kernel is) and depends only on the
fractional part ``u`` of the offset along each axis, which is smooth wherever the motion is.

So the warped frame is sharpened along each axis by the amount its offsets lost: ``frame + s_x D_x + s_y D_y``,
``D_x = Y * [-1/4, 1/2, -1/4]`` (the frame's luma ``Y`` minus its 3-tap binomial blur along x; ``D_y`` the same
along y), added to every channel: the finest detail of a photo is luma (a JPEG keeps its chroma at half
resolution), and one channel of filtering costs a third of three,
with ``s(u)`` (:func:`sharpening_strength`) the least-squares inverse of the kernel's response over the axis'
frequencies, scaled per photo and per axis (:func:`calibrate_sharpening`) so that a copy moved half a pixel is as
sharp as the photo: the loss depends on the photo's own spectrum (sea waves, horizontal lines, lose more along y).

Conventions: offsets in pixels of the image being sampled; ``u`` in [0, 1), symmetric (``u`` and ``1 - u`` lose the
same); images (H, W, C) float32 or uint8; strengths are plain floats or (H, W[, 1]) float32 maps.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["CUBIC_A", "cubic_response", "sharpening_strength", "DETAIL_KERNEL", "LUMA", "luma", "axis_detail",
           "sharpen_axes", "calibrate_sharpening"]

#: OpenCV's bicubic interpolation coefficient (Keys' ``a``).
CUBIC_A = -0.75
#: The frame minus its 3-tap binomial blur along one axis: response ``(1 - cos ω) / 2`` (0 at DC, 1 at Nyquist).
DETAIL_KERNEL = np.float32([[-0.25, 0.5, -0.25]])
#: Rec. 601 luma weights of RGB, as a 1×3 ``cv2.transform`` matrix.
LUMA = np.float32([[0.299, 0.587, 0.114]])
#: Offsets at which :func:`sharpening_strength`'s table is computed (the loss is symmetric about 1/2).
_TABLE_OFFSETS = np.linspace(0.0, 0.5, 33)
#: Sub-pixel offsets at which :func:`calibrate_sharpening` compares the moved photo with the photo: the midpoints of
#: four equal steps of [0, 1/2] (a moving copy sees every fractional offset about equally often).
CALIBRATION_OFFSETS = (0.0625, 0.1875, 0.3125, 0.4375)
#: Largest strength applied: a response near 0 (Nyquist at half a pixel) cannot be restored, only noise boosted.
MAX_STRENGTH = 1.5


def _keys(x: np.ndarray, a: float = CUBIC_A) -> np.ndarray:
    x = np.abs(x)
    return np.where(x <= 1, (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1,
                    np.where(x < 2, a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a, 0.0))


def cubic_response(u: float, omega: np.ndarray) -> np.ndarray:
    """Amplitude response of bicubic interpolation (Keys, ``a = -0.75``) at sub-pixel offset ``u`` (pixels, [0, 1))
    at angular frequencies ``omega`` (radians per pixel, [-π, π]).

    Example:
        >>> [round(float(v), 3) for v in cubic_response(0.5, np.array([0.0, np.pi / 2, np.pi]))]
        [1.0, 0.972, 0.0]
        >>> float(cubic_response(0.0, np.array([2.0]))[0])       # whole pixels: the photo itself
        1.0
    """
    omega = np.asarray(omega, np.float64)
    taps = np.arange(-1, 3)
    return np.abs(sum(_keys(j - u) * np.exp(1j * omega * (j - u)) for j in taps))


def _least_squares_strength(u: float) -> float:
    """``s`` minimising ``∫ (H (1 + s E) - 1)² dω`` over [-π, π] (uniform weight: the Laplacian of an image whose
    amplitude falls as 1/f has a flat spectrum), ``H`` the kernel's response at ``u``, ``E`` the detail kernel's."""
    omega = np.linspace(-math.pi, math.pi, 513)
    response = cubic_response(u, omega)
    detail = (1.0 - np.cos(omega)) / 2.0
    denominator = float(((response * detail) ** 2).sum())
    return float(((1.0 - response) * response * detail).sum() / denominator) if denominator > 0 else 0.0


_TABLE = np.float32([_least_squares_strength(u) for u in _TABLE_OFFSETS])
#: The strength averaged over offsets: where the offset's fractional part changes faster than a field can follow.
MEAN_STRENGTH = float(np.mean([_least_squares_strength(u) for u in np.linspace(0.0, 1.0, 65)[:-1]]))


def sharpening_strength(offset: np.ndarray | float) -> np.ndarray:
    """Per-axis sharpening strength ``s(u)`` that undoes bicubic sampling at ``offset`` pixels (any real; only its
    fractional part ``u`` matters, with ``u`` and ``1 - u`` alike): the least-squares inverse of the kernel's
    response (:func:`cubic_response`) by ``1 + s (1 - cos ω) / 2``. 0 at whole pixels, largest (~0.49) near half.
    Looked up in a table of 1/64-pixel steps (OpenCV's own sampling positions are in 1/32 pixel).

    Example:
        >>> [round(float(v), 2) for v in sharpening_strength(np.array([0.0, 0.25, 0.5, 2.75, -0.25]))]
        [0.0, 0.24, 0.49, 0.24, 0.24]
    """
    offset = np.asarray(offset, np.float32)
    distance = np.abs(offset - np.round(offset))                  # to the nearest whole pixel, [0, 1/2]
    index = (distance * np.float32(2 * (_TABLE.size - 1)) + np.float32(0.5)).astype(np.intp)
    return _TABLE[np.minimum(index, _TABLE.size - 1)]


def axis_detail(image: np.ndarray, axis: int) -> np.ndarray:
    """The image minus its 3-tap binomial blur along ``axis`` (1 = x, across columns; 0 = y, across rows), float32,
    reflected borders (``cv2.BORDER_REFLECT``).

    Example:
        >>> row = np.float32([[0, 0, 4, 0, 0]])
        >>> axis_detail(row, 1)[0].tolist()
        [0.0, -1.0, 2.0, -1.0, 0.0]
    """
    kernel = DETAIL_KERNEL if axis == 1 else DETAIL_KERNEL.T
    return cv2.filter2D(np.asarray(image, np.float32), cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)


def luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma (:data:`LUMA`) of an (H, W, 3) RGB image; a single-channel image as it is.

    Example:
        >>> [round(float(v), 3) for v in luma(np.float32([[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]]))[0]]
        [1.0, 0.299]
    """
    image = np.asarray(image, np.float32)
    if image.ndim == 2 or image.shape[2] == 1:
        return image.reshape(image.shape[:2])
    return cv2.transform(image, LUMA).reshape(image.shape[:2])


def sharpen_axes(image: np.ndarray, strength_x, strength_y) -> np.ndarray:
    """``image + s_x D_x + s_y D_y`` with the details of the image's luma (:func:`luma`, :func:`axis_detail`) added
    to every channel, float32 (H, W, C); strengths are floats or (H, W) / (H, W, 1) maps.

    Example:
        >>> sharpen_axes(np.float32([[[0], [0], [4], [0], [0]]]), 0.5, 0.0)[0, :, 0].tolist()
        [0.0, -0.5, 5.0, -0.5, 0.0]
    """
    image = np.asarray(image, np.float32)
    brightness = luma(image)

    def field(strength):
        return np.asarray(strength, np.float32).reshape(np.shape(strength)[:2]) if np.ndim(strength) else strength

    detail = field(strength_x) * axis_detail(brightness, 1) + field(strength_y) * axis_detail(brightness, 0)
    return image + detail[..., None]


def _mean_abs_laplacian(image: np.ndarray, mask: np.ndarray) -> float:
    laplacian = cv2.Laplacian(image, cv2.CV_32F, ksize=1)
    return float(np.mean(cv2.mean(np.abs(laplacian), mask=mask)[:image.shape[2]]))


def calibrate_sharpening(image: np.ndarray, region: np.ndarray | None = None, *, crops: int = 4,
                         crop_size: int = 192) -> tuple[float, float]:
    """Per-photo scales ``(k_x, k_y)`` of :func:`sharpening_strength` along x and y: the photo moved by each of
    :data:`CALIBRATION_OFFSETS` along the axis (bicubic) and sharpened by ``k s(u)`` has, summed over the offsets, the
    photo's mean |Laplacian| on ``region``.

    Measured on up to ``crops`` full-resolution crops of ``crop_size`` pixels centred on region pixels (evenly
    spaced in the region's pixel order: the work does not grow with the photo). 1 where the table's uniform-spectrum
    assumption holds; below 1 for a photo with less fine detail along the axis (a soft or upscaled photo loses less);
    0 for a flat region. Bounded so the strength stays ≤ :data:`MAX_STRENGTH`.

    Args:
        image: (H, W, 3) uint8 or float32 photo (or fluid layer).
        region: optional (H, W) bool or float (> 0.5 counts) moving region; None = everywhere.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> grey_noise = rng.integers(0, 256, (64, 64, 1)).repeat(3, axis=2).astype(np.uint8)
        >>> k_x, k_y = calibrate_sharpening(grey_noise)
        >>> 0.5 < k_x < 2.5 and 0.5 < k_y < 2.5
        True
    """
    image = np.asarray(image)
    height, width = image.shape[:2]
    inside = np.ones((height, width), bool) if region is None else np.asarray(region) > 0.5
    ys, xs = np.nonzero(inside[::8, ::8])
    if ys.size == 0:
        return 0.0, 0.0
    half = crop_size // 2
    picks = np.linspace(0, ys.size - 1, min(crops, ys.size)).round().astype(int)
    windows = []
    for index in picks:
        cy, cx = int(ys[index]) * 8, int(xs[index]) * 8
        top, left = int(np.clip(cy - half, 0, max(0, height - crop_size))), int(np.clip(cx - half, 0, max(0, width - crop_size)))
        crop = np.asarray(image[top:top + crop_size, left:left + crop_size], np.float32)
        mask = inside[top:top + crop_size, left:left + crop_size].astype(np.uint8)
        mask[:3], mask[-3:], mask[:, :3], mask[:, -3:] = 0, 0, 0, 0      # away from the crop's own borders
        if mask.any():
            windows.append((crop, mask))
    if not windows:
        return 0.0, 0.0
    scales = []
    for axis in (1, 0):
        moved, details, masks = [], [], []
        for shift in CALIBRATION_OFFSETS:
            matrix = np.float32([[1, 0, shift], [0, 1, 0]]) if axis == 1 else np.float32([[1, 0, 0], [0, 1, shift]])
            strength = float(sharpening_strength(shift))
            for crop, mask in windows:
                warped = cv2.warpAffine(crop, matrix, crop.shape[1::-1], flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REFLECT)
                moved.append(warped)
                details.append(strength * axis_detail(luma(warped), axis)[..., None])
                masks.append(mask)
        target = len(CALIBRATION_OFFSETS) * sum(_mean_abs_laplacian(c, mask) for c, mask in windows)
        if target < 1e-6:
            scales.append(0.0)
            continue

        def sharpness(scale: float) -> float:
            return sum(_mean_abs_laplacian(m + scale * d, mask) for m, d, mask in zip(moved, details, masks))

        low, high = 0.0, MAX_STRENGTH / float(sharpening_strength(0.5))   # grows with the scale: bisect
        if sharpness(high) <= target:
            low = high
        else:
            for _ in range(9):
                middle = 0.5 * (low + high)
                low, high = (middle, high) if sharpness(middle) < target else (low, middle)
        scales.append(0.5 * (low + high))
    return scales[0], scales[1]
