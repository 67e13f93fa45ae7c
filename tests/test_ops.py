"""Ops against closed-form answers."""

import math

import pytest
import torch
import torch.nn.functional as F

from cinescape.ops import (accumulate_flow, base_grid, color_transfer, crossfade_loop, crossfade_schedule,
                           edge_aware_tv, flow_normalized_to_pixels, flow_pixels_to_normalized, flow_to_color,
                           interpolate_cyclic, resize_flow, warp)


def constant_flow(dx: float, dy: float, height: int, width: int) -> torch.Tensor:
    pixels = torch.tensor([dx, dy]).view(1, 2, 1, 1).expand(1, 2, height, width)
    return flow_pixels_to_normalized(pixels, height, width)


def test_base_grid_is_pixel_centres():
    grid = base_grid(2, 4)
    assert torch.allclose(grid[0, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert torch.allclose(grid[0, :, 0, 1], torch.tensor([-0.5, 0.5]))


def test_zero_flow_is_identity():
    image = torch.rand(2, 3, 9, 13)
    assert torch.allclose(warp(image, torch.zeros(2, 2, 9, 13)), image, atol=1e-6)


@pytest.mark.parametrize("dx,dy", [(3, 0), (0, -2), (2, 5), (-4, -1)])
def test_constant_integer_flow_shifts_by_that_many_pixels(dx, dy):
    height, width = 20, 24
    image = torch.rand(1, 3, height, width)
    out = warp(image, constant_flow(dx, dy, height, width))
    # Backward flow: out[y, x] = image[y + dy, x + dx]; compare where the source is inside the image.
    ys = slice(max(0, -dy), height - max(0, dy))
    xs = slice(max(0, -dx), width - max(0, dx))
    src_ys = slice(ys.start + dy, ys.stop + dy)
    src_xs = slice(xs.start + dx, xs.stop + dx)
    assert torch.allclose(out[..., ys, xs], image[..., src_ys, src_xs], atol=1e-5)


def test_fractional_flow_interpolates_linearly():
    width = 16
    ramp = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width).expand(1, 1, 4, width)
    out = warp(ramp, constant_flow(0.25, 0, 4, width))
    # On a linear ramp bilinear sampling is exact: value = x + 0.25 away from the right border.
    assert torch.allclose(out[..., :-1], ramp[..., :-1] + 0.25, atol=1e-5)


def test_reflection_padding_at_the_border():
    row = torch.tensor([[[[10.0, 20.0, 30.0, 40.0]]]])
    out = warp(row, constant_flow(-1, 0, 1, 4))  # each pixel takes its left neighbour
    # Pixel 0 samples x = -1, reflected about the left edge (x = -0.5) onto x = 0.
    assert torch.allclose(out, torch.tensor([[[[10.0, 10.0, 20.0, 30.0]]]]))


def test_pixel_normalised_conversion_round_trip():
    flow = torch.randn(2, 2, 6, 10)
    normalised = flow_pixels_to_normalized(flow, 6, 10)
    assert torch.allclose(normalised[:, 0], flow[:, 0] * 2 / 10)
    assert torch.allclose(normalised[:, 1], flow[:, 1] * 2 / 6)
    assert torch.allclose(flow_normalized_to_pixels(normalised), flow, atol=1e-6)


def test_two_accumulated_constant_flows_add():
    a = constant_flow(1.5, -0.5, 12, 16)
    b = constant_flow(2.0, 1.0, 12, 16)
    assert torch.allclose(accumulate_flow(a, b), constant_flow(3.5, 0.5, 12, 16), atol=1e-6)


def test_accumulated_flow_matches_warping_twice():
    height, width = 32, 32
    ys, xs = torch.meshgrid(torch.linspace(0, 1, height), torch.linspace(0, 1, width), indexing="ij")
    image = torch.stack((torch.sin(6 * xs), torch.cos(5 * ys), xs * ys))[None]
    # Smooth, spatially varying flows of about one pixel.
    first = flow_pixels_to_normalized(torch.stack((torch.sin(3 * ys), 0.5 * torch.cos(2 * xs)))[None], height, width)
    second = flow_pixels_to_normalized(torch.stack((0.7 * xs, -0.6 * ys + 0.2))[None], height, width)
    twice = warp(warp(image, first), second)
    once = warp(image, accumulate_flow(first, second))
    interior = (..., slice(3, -3), slice(3, -3))
    # Equal up to bilinear resampling of a smooth field (warping twice blurs; that is the error).
    assert (twice[interior] - once[interior]).abs().max() < 0.02


def test_resize_flow_keeps_normalised_values():
    flow = torch.full((1, 2, 8, 8), 0.125)
    assert torch.allclose(resize_flow(flow, (32, 48)), torch.full((1, 2, 32, 48), 0.125))


def test_color_transfer_equals_tanh_formula_after_upsampling():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 16, 20) * 2 - 1
    maps = torch.rand(2, 6, 4, 5) * 2 - 1
    up = F.interpolate(maps, size=(16, 20), mode="bilinear", align_corners=False)
    expected = torch.tanh(up[:, :3] * image + up[:, 3:])
    assert torch.allclose(color_transfer(maps, image), expected, atol=1e-6)
    # pixel by pixel, for one pixel computed by hand
    y, x = 7, 11
    by_hand = [math.tanh(up[1, c, y, x].item() * image[1, c, y, x].item() + up[1, c + 3, y, x].item()) for c in range(3)]
    assert torch.allclose(color_transfer(maps, image)[1, :, y, x], torch.tensor(by_hand), atol=1e-6)


def test_color_transfer_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        color_transfer(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


def test_crossfade_schedule_weights():
    schedule = crossfade_schedule(4)
    assert schedule[0] == ((0, 0.0), (4, 1.0))
    assert schedule[2] == ((2, 0.5), (6, 0.5))
    assert all(abs(a[1] + b[1] - 1) < 1e-12 for a, b in schedule)


def test_crossfade_loop_last_frame_leads_smoothly_into_first():
    # A texture translating one pixel per frame: consecutive frames differ by a constant amount.
    width, frames = 64, 24
    xs = torch.arange(width, dtype=torch.float32)
    video = torch.stack([torch.sin((xs + t) * 0.3).view(1, 1, width).expand(1, 4, width) for t in range(frames)])
    loop = crossfade_loop(video)
    steps = [(loop[k + 1] - loop[k]).abs().mean().item() for k in range(len(loop) - 1)]
    seam = (loop[0] - loop[-1]).abs().mean().item()
    assert seam <= 1.2 * max(steps)
    # and the naive loop (first half played over and over) has a far bigger jump at its seam
    naive_seam = (video[0] - video[frames // 2 - 1]).abs().mean().item()
    assert naive_seam > 3 * seam


def test_interpolate_cyclic_values_and_cycle():
    keys = torch.tensor([[0.0, 10.0], [2.0, 20.0], [4.0, 0.0]])
    codes = interpolate_cyclic(keys, 6)
    assert torch.allclose(codes[:, 0], torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 2.0]))
    assert torch.allclose(codes[0], keys[0])
    # the step from the last frame back to the first is the same size as the steps before it
    assert torch.allclose((codes[0] - codes[-1]).abs(), (codes[-1] - codes[-2]).abs())


def test_edge_aware_tv_closed_form():
    # A field that jumps by 2 between columns 1 and 2, and a guide that jumps by 0.3 at the same place.
    field = torch.zeros(1, 1, 3, 4)
    field[..., 2:] = 2.0
    guide = torch.zeros(1, 3, 3, 4)
    guide[..., 2:] = 0.3
    value = edge_aware_tv(field, guide, sigma=0.1)
    # Horizontal pairs: 3 rows x 3 pairs, one pair per row has |diff| = 2 with weight exp(-3). Vertical: 0.
    expected = (3 * 2.0 * math.exp(-3.0)) / 9
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_flow_to_color_directions_and_zero():
    flows = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]).view(3, 2, 1, 1)
    colors = flow_to_color(flows, max_magnitude=1.0)
    assert torch.allclose(colors[0].flatten(), torch.tensor([1.0, 0.0, 0.0]))    # right: red
    assert colors[1, 2].item() == pytest.approx(1.0) and colors[1, 0].item() < 0.1  # left: blue-cyan
    assert torch.allclose(colors[2].flatten(), torch.ones(3))                      # still: white
