"""Undoing bicubic resampling's softening (ops/resample.py) and the phased loop's per-axis strengths."""

import math

import cv2
import numpy as np
import pytest
import torch

from cinescape.methods.al.phased_loop import resampling_strengths
from cinescape.ops.resample import (DETAIL_KERNEL, MEAN_STRENGTH, calibrate_sharpening, cubic_response, sharpen_axes,
                                    sharpening_strength)


def mean_abs_laplacian(image: np.ndarray) -> float:
    return float(np.abs(cv2.Laplacian(np.float32(image), cv2.CV_32F, ksize=1))[8:-8, 8:-8].mean())


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    height, width = image.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + np.float32(dx), grid_y + np.float32(dy), cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("u", [0.25, 0.5, 0.8])
@pytest.mark.parametrize("omega", [math.pi / 4, math.pi / 2, 3 * math.pi / 4])
def test_cubic_response_is_what_opencv_does_to_a_sinusoid(u, omega):
    x = np.arange(256, dtype=np.float32)
    wave = np.repeat(np.cos(omega * x)[None], 8, axis=0).astype(np.float32)
    moved = shifted(wave, u, 0.0)[4, 16:-16]
    xs = x[16:-16] + u                 # the moved row samples cos(omega (x + u)) times the response
    basis = np.stack([np.cos(omega * xs), np.sin(omega * xs)], axis=1)
    coefficients, *_ = np.linalg.lstsq(basis, moved, rcond=None)
    assert np.hypot(*coefficients) == pytest.approx(float(cubic_response(u, np.array([omega]))[0]), abs=0.01)


def test_strength_is_zero_at_whole_pixels_symmetric_and_lowers_the_response_error():
    assert sharpening_strength(np.float32([0.0, 1.0, -3.0])).tolist() == [0.0, 0.0, 0.0]
    u = np.linspace(0.05, 0.45, 9)
    assert np.allclose(sharpening_strength(u), sharpening_strength(1.0 - u), atol=1e-6)
    assert np.all(np.diff(sharpening_strength(np.linspace(0.0, 0.375, 7))) > 0)     # more loss nearer the middle
    omega = np.linspace(-math.pi, math.pi, 257)
    detail = (1.0 - np.cos(omega)) / 2.0     # the response of DETAIL_KERNEL
    assert np.allclose(np.abs(np.fft.fft(DETAIL_KERNEL[0], 257))[:5],
                       ((1.0 - np.cos(2 * math.pi * np.arange(5) / 257)) / 2.0), atol=1e-6)
    for offset in (0.25, 0.5):
        response = cubic_response(offset, omega)
        compensated = response * (1.0 + float(sharpening_strength(offset)) * detail)
        assert np.mean((compensated - 1) ** 2) < 0.8 * np.mean((response - 1) ** 2)   # Nyquist at 1/2: lost
    assert 0 < MEAN_STRENGTH < float(sharpening_strength(0.5))


def test_a_calibrated_sharpening_gives_a_moved_texture_the_photo_sharpness():
    noise = np.random.default_rng(0).normal(0, 1, (160, 160, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 0.8)          # fine detail, but not white noise
    scale_x, scale_y = calibrate_sharpening(texture)
    assert 0.3 < scale_x < 3 and scale_y == pytest.approx(scale_x, rel=0.15)   # an isotropic texture
    reference = mean_abs_laplacian(texture)
    for dx, dy in ((0.3, 0.0), (0.45, 0.2), (0.1, 0.4)):   # offsets the calibration did not use
        moved = shifted(texture, dx, dy)
        restored = sharpen_axes(moved, scale_x * float(sharpening_strength(dx)), scale_y * float(sharpening_strength(dy)))
        assert mean_abs_laplacian(moved) < 0.975 * reference
        assert mean_abs_laplacian(restored) == pytest.approx(reference, rel=0.02)


def test_anisotropic_detail_is_calibrated_per_axis_and_flat_photos_get_none():
    rows = np.random.default_rng(1).normal(0, 1, (160, 1, 3)).astype(np.float32)
    stripes = np.repeat(rows, 160, axis=1)                  # horizontal lines: detail along y only
    scale_x, scale_y = calibrate_sharpening(stripes)
    assert scale_x == 0.0 or scale_x < 0.05 * scale_y
    assert scale_y > 0.3
    assert calibrate_sharpening(np.full((64, 64, 3), 7, np.uint8)) == (0.0, 0.0)
    assert calibrate_sharpening(stripes, np.zeros((160, 160), bool)) == (0.0, 0.0)


def test_resampling_strengths_follow_each_copy_offset_and_weight():
    height, width, small = 64, 64, 16
    flows = torch.zeros(2, 2, small, small)
    flows[0, 0] = 3.0 * 2 / width          # copy 0: 3 px along x (whole), copy 1: 2.5 px along x
    flows[1, 0] = 2.5 * 2 / width
    flows[1, 1] = 0.25 * 2 / height        # and a quarter pixel along y
    only_first = torch.stack([torch.ones(small, small), torch.zeros(small, small)])
    assert np.abs(resampling_strengths(flows, only_first, (height, width), (1.0, 1.0))).max() < 1e-6
    only_second = only_first.flip(0)
    s = resampling_strengths(flows, only_second, (height, width), (2.0, 1.0))
    assert s[..., 0] == pytest.approx(2.0 * float(sharpening_strength(0.5)), rel=1e-5)
    assert s[..., 1] == pytest.approx(float(sharpening_strength(0.25)), rel=1e-5)
    halves = torch.full((2, small, small), 0.5)         # equal power: the mean of the two
    s = resampling_strengths(flows, halves, (height, width), (1.0, 1.0))
    assert s[..., 0] == pytest.approx(0.5 * float(sharpening_strength(0.5)), rel=1e-5)


def test_an_offset_changing_faster_than_the_field_gets_the_mean_strength():
    height, width, small = 64, 640, 16
    flows = torch.zeros(2, 2, small, small)
    ramp = torch.arange(small, dtype=torch.float32) * 7.3          # 7.3 full-resolution px per working pixel
    flows[:, 0] = (ramp * 2 / width).view(1, 1, small)
    weights = torch.stack([torch.ones(small, small), torch.zeros(small, small)])
    s = resampling_strengths(flows, weights, (height, width), (1.0, 1.0))
    assert s[:, 1:-1, 0] == pytest.approx(MEAN_STRENGTH, rel=1e-4)
