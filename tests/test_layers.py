"""The two-layer renderer, the refined matte, the phased loop and the guided colour transfer (issue 14): each
mechanism pinned with a known answer on tiny synthetic scenes."""

import math

import numpy as np
import pytest
import torch

from cinescape.ops import phased_schedule
from cinescape.ops.layers import PhotoLayers, composite_layers_hwc, fill_behind, refine_matte
from cinescape.ops.render import apply_local_affine_hwc, color_transfer_hwc, guided_color_coefficients
from test_control import constant_motion


def sky_with_a_branch(height=48, width=64):
    """A smooth bright sky (rows < 36) with a 1-px dark diagonal 'branch' in it, and dark land below."""
    y, x = np.mgrid[0:height, 0:width]
    photo = np.zeros((height, width, 3), np.uint8)
    photo[..., 0] = 150 + (60 * x / width).astype(np.uint8)      # sky: a smooth gradient
    photo[..., 1] = 170 + (40 * y / height).astype(np.uint8)
    photo[..., 2] = 230
    branch = (np.abs(y - (8 + x // 3)) == 0) & (x > 30) & (x < 60)
    photo[branch] = (30, 40, 20)
    photo[36:] = (60, 50, 30)
    return photo, branch


def test_a_thin_still_branch_inside_the_moving_sky_never_moves(tiny_pipeline, monkeypatch):
    import cinescape.segmentation as segmentation

    photo, branch = sky_with_a_branch()
    # The coarse automatic matte sees the branch as a blurry blob, as a low-resolution matte upsampled does.
    coarse = np.zeros(photo.shape[:2], np.float32)
    coarse[:36] = 1
    dip = torch.nn.functional.avg_pool2d(torch.from_numpy(branch.astype(np.float32))[None, None], 5, 1, 2)[0, 0]
    coarse = np.clip(coarse - 5 * dip.numpy(), 0, 1)          # a blob round the branch, as the sky matte
    monkeypatch.setattr(segmentation, "SkyMatte", lambda: object())
    monkeypatch.setattr(segmentation, "sky_mask", lambda image, size, matte: coarse)
    constant_motion(tiny_pipeline, pixels=(2.0, 0.5))
    for loop in ("none", "phased"):
        frames = tiny_pipeline(photo, num_frames=8, loop=loop, loop_period=4, appearance=False, auto_mask="sky",
                               mode="eulerian")
        for frame in frames:
            assert np.array_equal(frame[branch], photo[branch])        # the branch is the still layer
            assert np.array_equal(frame[37:], photo[37:])              # and so is the land
        assert not np.array_equal(frames[1][:30, :28], photo[:30, :28])   # while the sky moves


def test_a_moving_pixel_never_takes_a_still_pixels_value(tiny_pipeline):
    height, width = 48, 64
    photo = np.zeros((height, width, 3), np.uint8)
    photo[..., 2] = np.linspace(120, 250, width).astype(np.uint8)   # sky: shades of blue
    photo[..., 1] = 90
    photo[30:] = (255, 0, 0)                                         # still: pure red, a colour the sky lacks
    mask = np.zeros((height, width), np.float32)
    mask[:30] = 1
    constant_motion(tiny_pipeline, pixels=(0.0, 3.0))   # backward flow points down: fluid samples towards the red
    for mode in ("recurrent", "eulerian"):
        frames = tiny_pipeline(photo, num_frames=6, loop="none", appearance=False, mask=mask, mode=mode)
        for frame in frames:
            sky = frame[:30].astype(int)
            assert (sky[..., 0] < 40).all(), "red land pixels were dragged into the sky"
            assert np.array_equal(frame[30:], photo[30:])
        assert not np.array_equal(frames[5][:30], photo[:30])


def test_layers_reproduce_the_photo_unmoved_and_fill_behind_the_still_layer():
    rng = np.random.default_rng(0)
    photo = rng.uniform(-1, 1, (20, 24, 3)).astype(np.float32)
    photo[:10] = 0.5                                                  # the fluid: a flat colour
    alpha = np.zeros((20, 24), np.float32)
    alpha[:10] = 1
    alpha[10:12] = 0.5                                                # a soft edge ...
    photo[10:12] = (0.5 + photo[10:12]) / 2                           # ... half fluid, half land in colour too
    layers = PhotoLayers.from_photo(photo, alpha, (10, 12), edge_margin=0)
    np.testing.assert_allclose(layers.fluid, np.full_like(photo, 0.5), atol=1e-6)   # filled from the fluid
    unmoved = composite_layers_hwc(layers.fluid.copy(), layers.still, layers.alpha)
    np.testing.assert_allclose(unmoved, photo, atol=1e-6)            # frame 0 is the photo
    moved = composite_layers_hwc(layers.fluid.copy() + 0.25, layers.still, layers.alpha)
    np.testing.assert_allclose(moved[12:], photo[12:], atol=0)        # alpha = 0: the photo exactly
    np.testing.assert_allclose(moved[:10], 0.75, atol=1e-6)           # alpha = 1: the moved fluid
    np.testing.assert_allclose(moved[10:12], photo[10:12] + 0.125, atol=1e-6)   # the edge moves by half
    flow = torch.zeros(1, 2, 10, 12)
    flow[:, :, :5] = 0.3                                              # fluid rows (alpha_small == 1)
    np.testing.assert_allclose(layers.fluid_flow(flow).numpy(), 0.3, atol=1e-6)   # one sheet behind the land


def test_edge_margin_keeps_the_skylines_mixed_pixels_out_of_the_moving_layer():
    photo = np.full((20, 8, 3), 0.5, np.float32)                     # sky
    photo[10:] = -0.8                                                 # land
    photo[9] = -0.2                                                   # the sky row touching the land: mixed by blur
    alpha = np.zeros((20, 8), np.float32)
    alpha[:10] = 1                                                    # the matte calls the mixed row sky
    layers = PhotoLayers.from_photo(photo, alpha, (10, 4), edge_margin=2)
    np.testing.assert_allclose(layers.alpha[7:10, 0, 0], [1.0, 2 / 3, 1 / 3], atol=1e-6)   # feathered inside
    np.testing.assert_allclose(layers.fluid[:10], 0.5, atol=1e-6)    # the fluid colour only from clear sky
    unmoved = composite_layers_hwc(layers.fluid.copy(), layers.still, layers.alpha)
    np.testing.assert_allclose(unmoved, photo, atol=1e-6)            # frame 0 is still the photo
    # the fluid layer moved up by 4 rows: the mixed colour stays at the skyline, none of it enters the sky
    moved = composite_layers_hwc(np.roll(layers.fluid, -4, axis=0), layers.still, layers.alpha)
    np.testing.assert_allclose(moved[:8], 0.5, atol=1e-6)
    np.testing.assert_allclose(moved[9], photo[9], atol=1e-6)        # alpha 1/3 of a flat sky: unchanged


def test_a_mixed_pixel_holds_no_more_fluid_than_its_colour_allows():
    # foam (0.9 in [0, 1]) beside dark rock (0.1) and beside a white sign (0.95): the matte calls the rock's and
    # the sign's rim pixels half fluid, but a pixel of colour p over fluid F holds at most p / F of it (F > p) or
    # (1 - p) / (1 - F) (F < p); else its background would have to be darker than black (or brighter than white),
    # and the pixel would flicker out of range as the fluid moves behind it
    photo = np.full((3, 6, 3), 0.8, np.float32)                      # [-1, 1]: the foam, 0.9
    photo[:, 4] = -0.8                                                # the rim pixel beside the rock: 0.1
    photo[:, 5] = 0.9                                                 # the sign: 0.95
    alpha = np.ones((3, 6), np.float32)
    alpha[:, 4:] = 0.5
    water = np.full((3, 6, 3), -0.4, np.float32)                      # darker water for the sign: 0.3
    water[:, 5] = 0.9
    for image, column, bound in ((photo, 4, 0.1 / 0.9), (np.where(np.arange(6)[None, :, None] < 5, water, photo),
                                                          5, 0.05 / 0.7)):
        layers = PhotoLayers.from_photo(image, alpha, (3, 6), edge_margin=0)
        assert layers.alpha[1, column, 0] == pytest.approx(bound, rel=1e-5)
        assert layers.alpha[1, 0, 0] == 1.0                           # wholly fluid pixels keep theirs
        for shade in (-1.0, 1.0):                                     # the fluid behind turns black, then white
            frame = composite_layers_hwc(np.full_like(image, shade), layers.still, layers.alpha)
            assert -1 - 1e-5 <= frame[1, column].min() and frame[1, column].max() <= 1 + 1e-5   # never out of range


def test_fill_behind_keeps_known_pixels_and_continues_a_gradient():
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (8, 1))[..., None]
    known = np.ones((8, 16), np.float32)
    known[:, 6:10] = 0
    filled = fill_behind(ramp, known)
    assert np.array_equal(filled[known == 1], ramp[known == 1])
    hole = filled[:, 6:10, 0]
    assert (hole > ramp[0, 5, 0] - 0.05).all() and (hole < ramp[0, 10, 0] + 0.05).all()


def test_refine_matte_moves_a_coarse_edge_onto_the_photos_edge():
    photo = np.full((32, 32, 3), 0.8, np.float32)
    photo[:, 20:] = -0.6                                              # the photo's edge: column 20
    coarse = np.zeros((32, 32), np.float32)
    coarse[:, :16] = 1
    coarse[:, 16:24] = np.linspace(1, 0, 8)                           # a blurry matte, centred 4 px off
    refined = refine_matte(photo, coarse, radius=4)
    assert refined[:, :19].min() > 0.99 and refined[:, 21:].max() < 0.01


@pytest.mark.parametrize("num_frames, period", [(60, 24), (101, 24), (16, 16), (30, 7.5)])
def test_phased_schedule_is_bounded_seamless_and_starts_at_the_photo(num_frames, period):
    schedule = phased_schedule(num_frames, period)
    cycle = num_frames / max(1, round(num_frames / period))
    assert len(schedule) == num_frames
    assert schedule[0] == ((0.0, 1.0),)                               # frame 0 is the photo
    for t, frame in enumerate(schedule):
        assert abs(sum(w for _, w in frame) - 1) < 1e-9
        assert all(abs(d) <= cycle / 2 + 1e-9 for d, _ in frame)      # never more than T/2 steps moved
        if t:                                                         # every copy advances one step per frame
            before = {round(d, 6) for d, _ in schedule[t - 1]}
            assert all(round(d - 1, 6) in before or abs(d + cycle / 2) <= 1 + 1e-9 for d, _ in frame)   # or fading in
    # seamless: the last frame is one step before frame 0 (the photo): one copy at -1 step, the other fading out
    # (each copy advances one step: one reaches 0 with weight 1, the other cycle/2 with weight 0)
    last = {round(d, 6) for d, _ in schedule[-1]}
    assert -1.0 in last and last <= {-1.0, round(cycle / 2 - 1, 6)}


def test_phased_weights_are_a_smoothstep_of_sin_squared():
    # T = 20: frame t has copies at phases t/20 and t/20 + 1/2; weight s(sin^2(pi f)), s(x) = 3x^2 - 2x^3
    for t, frame in enumerate(phased_schedule(20, 20)):
        for displacement, weight in frame:
            x = math.sin(math.pi * (displacement / 20 + 0.5)) ** 2
            assert weight == pytest.approx(3 * x * x - 2 * x ** 3, abs=1e-12)
    assert [w for _, w in phased_schedule(20, 20)[5]] == pytest.approx([0.5, 0.5])      # the crossing
    assert min(w for _, w in phased_schedule(20, 20)[3]) == pytest.approx(0.1099, abs=1e-4)  # sin^2 gave 0.2061


def test_guided_colour_transfer_has_no_halo_at_an_edge_the_maps_straddle():
    # A dark rock (left) against a bright sky (right); the colour change differs on each side.
    full = np.full((16, 64, 3), 0.6, np.float32)
    full[:, :30] = -0.6
    small = full[::4, ::4].copy()                                     # working size 4x16
    maps = np.zeros((4, 16, 6), np.float32)
    maps[..., :3] = 1.0
    maps[:, :8, 3:] = 0.4                                             # brighten the rock
    maps[:, 8:, 3:] = -0.4                                            # darken the sky
    ideal = np.tanh(full + np.where(np.arange(64)[None, :, None] < 30, 0.4, -0.4).astype(np.float32))
    plain = color_transfer_hwc(maps, full.copy())
    guided = apply_local_affine_hwc(guided_color_coefficients(maps, small, eps=1e-4), full.copy())
    near_edge = slice(24, 36)
    assert np.abs(plain - ideal)[:, near_edge].max() > 0.2           # bilinear maps: a halo around the edge
    assert np.abs(guided - ideal)[:, near_edge].max() < 0.05          # guided: each side keeps its own change


def test_guided_colour_transfer_keeps_contrast_in_a_dark_frame():
    rng = np.random.default_rng(1)
    small = rng.uniform(-0.5, 0.5, (8, 8, 3)).astype(np.float32)
    maps = np.zeros((8, 8, 6), np.float32)
    maps[..., :3] = 0.05                                              # the net flattens the frame ...
    maps[..., 3:] = -0.9                                              # ... to one dark colour
    coefficients = guided_color_coefficients(maps, small, min_slope=0.35)
    out = apply_local_affine_hwc(coefficients, small.copy())
    assert out.std() >= 0.3 * small.std()                             # detail stays readable
    assert abs(out.mean() - np.tanh(small * 0.05 - 0.9).mean()) < 0.02   # at the net's dark level


def test_appearance_locality_zero_is_one_grade_per_channel_and_one_the_local_fit():
    rng = np.random.default_rng(2)
    small = rng.uniform(-0.8, 0.8, (8, 10, 3)).astype(np.float32)
    maps = rng.normal(0, 0.3, (8, 10, 6)).astype(np.float32)
    maps[..., :3] += 1.0
    local = guided_color_coefficients(maps, small)
    overall = guided_color_coefficients(maps, small, locality=0.0)
    half = guided_color_coefficients(maps, small, locality=0.5)
    assert np.ptp(overall.reshape(-1, 6), axis=0).max() == 0               # the same grade everywhere
    np.testing.assert_allclose(half, 0.5 * (local + overall), atol=1e-6)
    # the grade is the least-squares per-channel fit of the net's colour change (slope above the floor here)
    target = np.tanh(small * maps[..., :3] + maps[..., 3:])
    for c in range(3):
        slope, offset = np.polyfit(small[..., c].ravel(), target[..., c].ravel(), 1)
        assert abs(overall[0, 0, c] - slope) < 0.02 and abs(overall[0, 0, 3 + c] - offset) < 0.02


def test_specks_of_the_automatic_mask_are_dropped_and_large_parts_kept():
    from cinescape.segmentation import drop_specks

    mask = np.zeros((100, 100), np.float32)
    mask[:40] = 1                       # the sky: 40 % of the photo
    mask[40:43] = 0.5                   # its soft edge
    mask[80:85, 10:20] = 1              # a speck called water: 0.5 %
    out = drop_specks(mask, 0.01)
    assert not out[70:].any()
    np.testing.assert_array_equal(out[:45], mask[:45])


def test_the_global_grade_lifts_shadows_rather_than_crushing_them_to_black():
    from cinescape.ops.render import TONE_QUANTILE

    rng = np.random.default_rng(0)
    small = rng.uniform(-1, 1, (40, 40, 3)).astype(np.float32)
    maps = np.zeros((40, 40, 6), np.float32)
    maps[..., :3], maps[..., 3:] = 0.1, -2.0        # a night: tanh(0.1 I - 2), dark and nearly flat
    coefficients = guided_color_coefficients(maps, small, locality=0.0)       # slope floor 0.35 applies
    graded = apply_local_affine_hwc(coefficients, small.copy())
    assert np.allclose(coefficients[..., :3], 0.35)                            # the contrast floor holds
    assert (graded < -1 - 1e-6).mean() <= TONE_QUANTILE + 1e-3                 # at most 1 % below black
    assert graded.mean() < small.mean() - 0.5                                  # and it is still a night
    # unlimited, the floor's slope around tanh's dark mean would have sent over a third of the frame below black
    slope, offset = 0.35, np.tanh(0.1 * small - 2.0).mean() - 0.35 * small.mean()
    assert (slope * small + offset < -1).mean() > 0.3
