"""The OpenCV render path (cinescape.ops.render) against closed forms and the torch reference ops."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cinescape.io.image import tensor_to_image
from cinescape.ops import color_transfer, flow_pixels_to_normalized, warp
from cinescape.ops.render import color_transfer_hwc, flow_to_pixel_map, hwc_to_uint8, remap_hwc, resize_hwc


def smooth(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    coarse = torch.rand(1, channels, 5, 7, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(-1, 1)


def hwc(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor[0].permute(1, 2, 0).numpy())


@pytest.mark.parametrize("dx, dy", [(0, 0), (3, 0), (0, -2), (-1, 4)])
def test_constant_integer_flow_shifts_by_that_many_pixels(dx, dy):
    image = hwc(smooth(3, 20, 24))
    pixels = torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, 20, 24)
    flow = flow_pixels_to_normalized(pixels, 20, 24)
    out = remap_hwc(image, flow_to_pixel_map(flow, (20, 24)))
    # out[i, j] = image[i + dy, j + dx] wherever that lies inside
    rows, cols = slice(max(0, -dy), 20 - max(0, dy)), slice(max(0, -dx), 24 - max(0, dx))
    src_rows, src_cols = slice(rows.start + dy, rows.stop + dy), slice(cols.start + dx, cols.stop + dx)
    assert np.array_equal(out[rows, cols], image[src_rows, src_cols])


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_matches_torch_warp_with_reflection_and_a_resized_flow(mode):
    image = smooth(3, 36, 52, seed=1)
    flow = smooth(2, 9, 13, seed=2) * 0.3  # up to ~8 px: many samples fall outside and reflect
    reference = warp(image, F.interpolate(flow, size=(36, 52), mode="bilinear", align_corners=False), mode=mode)
    out = remap_hwc(hwc(image), flow_to_pixel_map(flow, (36, 52)), mode)
    # OpenCV resolves positions to 1/32 px: differences stay far below a uint8 level (1/127.5 here)
    assert np.abs(out - hwc(reference)).max() < 0.02
    assert np.abs(out - hwc(reference)).mean() < 1e-3


def test_bicubic_keeps_detail_that_bilinear_blurs():
    # a checkerboard of ±1 sampled a quarter pixel to the right: bilinear gives 0.75 - 0.25 = 0.5 in magnitude;
    # Keys cubic (a = -0.75) weighs the 4 neighbours at distances 1.25, 0.25, 0.75, 1.75 by
    # -0.10547, 0.87891, 0.26172, -0.03516, giving 0.10547 + 0.87891 - 0.26172 - 0.03516 = 0.6875
    board = (np.indices((16, 16)).sum(0) % 2).astype(np.float32)[..., None] * 2 - 1
    positions = np.stack(np.meshgrid(np.arange(16) + 0.25, np.arange(16) + 0.0), -1).astype(np.float32)
    for mode, contrast in (("bilinear", 0.5), ("bicubic", 0.6875)):
        interior = np.abs(remap_hwc(board, positions, mode)[4:-4, 4:-4])
        assert np.allclose(interior, contrast, atol=1e-3), mode
    with pytest.raises(ValueError):
        remap_hwc(board, positions, "lanczos")


def test_color_transfer_and_uint8_match_the_torch_ops():
    image, maps = smooth(3, 30, 40, seed=3), smooth(6, 6, 8, seed=4)
    reference = tensor_to_image(color_transfer(maps, image))
    out = hwc_to_uint8(color_transfer_hwc(maps, hwc(image).copy()))
    assert np.abs(out.astype(int) - reference).max() <= 1
    assert np.mean(out != reference) < 0.01


def test_uint8_conversion_rounds_and_clamps():
    values = np.array([[[-2.0, -1.0, 0.0], [1.0, 3.0, np.nan], [-1 + 0.6 / 127.5, -1 + 0.4 / 127.5, 0.5]]],
                      np.float32)
    assert hwc_to_uint8(values).tolist() == [[[0, 0, 128], [255, 255, 128], [1, 0, 191]]]


def test_resize_keeps_a_single_channel_axis():
    assert resize_hwc(np.zeros((4, 4, 1), np.float32), (8, 6)).shape == (8, 6, 1)
