"""Tests for the procedural time-lapse generator (cinescape.data.synthetic).

Clips are tiny (48x64, 8 frames, ~10 ms each) so the whole file runs in a couple of seconds.
Residuals are mean absolute differences in [-1, 1] image units, averaged over channels and pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cinescape.data.synthetic import (
    SyntheticClip,
    generate_landscape_photo,
    generate_timelapse,
    synthetic_motion_clips,
)
from cinescape.ops import flow_normalized_to_pixels, warp

H, W, T = 48, 64, 8


@pytest.fixture(autouse=True)
def _one_thread():
    # The tensors here are tiny; on a busy 2-core machine, intra-op threads only add sync overhead
    # (measured: 5 ms per clip with 1 thread, ~0.9 s with 2 threads next to a training job).
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _residuals(clip: SyntheticClip, region: torch.Tensor) -> tuple[float, float]:
    """(flow residual, zero-flow residual) over ``region`` (T, 1, H, W), frames 1..T-1."""
    frames = clip.frames
    warped = warp(frames[:-1], clip.flows[1:])
    weight = region[1:]
    flow_res = ((warped - frames[1:]).abs().mean(1, keepdim=True) * weight).sum() / weight.sum()
    zero_res = ((frames[:-1] - frames[1:]).abs().mean(1, keepdim=True) * weight).sum() / weight.sum()
    return float(flow_res), float(zero_res)


def _sky_rows(clip: SyntheticClip) -> int:
    return round(clip.horizon * clip.frames.shape[-2])


def test_shapes_dtypes_and_ranges():
    clip = generate_timelapse(T, H, W, seed=3)
    assert clip.frames.shape == (T, 3, H, W) and clip.frames.dtype == torch.float32
    assert clip.flows.shape == (T, 2, H, W) and clip.flows.dtype == torch.float32
    assert clip.masks.shape == (T, 1, H, W) and clip.masks.dtype == torch.float32
    assert clip.valid.shape == (T, 1, H, W)
    assert clip.time_of_day.shape == (T,)
    assert clip.frames.min() >= -1.0 and clip.frames.max() <= 1.0
    assert set(clip.masks.unique().tolist()) == {0.0, 1.0}
    assert torch.all(clip.valid <= clip.masks)  # valid pixels are mask pixels
    assert torch.all(clip.flows[0] == 0) and torch.all(clip.valid[0] == 0)
    assert 0.45 <= clip.horizon <= 0.65
    # Typical time-lapse speeds: well under a few pixels per frame.
    max_px = flow_normalized_to_pixels(clip.flows[1:2]).abs().max()
    assert 0.05 < max_px < 4.0


def test_same_seed_same_clip_and_different_seeds_differ():
    a = generate_timelapse(T, H, W, seed=11)
    b = generate_timelapse(T, H, W, seed=11)
    c = generate_timelapse(T, H, W, seed=12)
    for name in ("frames", "flows", "masks", "valid", "time_of_day"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.params == b.params
    assert (a.frames - c.frames).abs().mean() > 0.05
    assert not torch.equal(a.flows, c.flows)


def test_given_parameters_are_used_and_do_not_reshuffle_the_scene():
    base = generate_timelapse(T, H, W, seed=5, day_cycle=False)
    faster = generate_timelapse(T, H, W, seed=5, day_cycle=False, cloud_speed=2 * base.params["cloud_speed"] * 128 / W)
    # Same scene (terrain, horizon, cloud layout) ...
    assert faster.horizon == base.horizon
    assert torch.equal(faster.masks, base.masks)
    static = base.masks[0, 0] == 0
    assert torch.equal(faster.frames[0][:, static], base.frames[0][:, static])
    assert (faster.frames[0] - base.frames[0]).abs().mean() < 0.02  # (far-cloud detail may differ)
    # ... moving twice as fast.
    ratio = faster.flows[1].abs().sum() / base.flows[1].abs().sum()
    assert 1.8 < float(ratio) < 2.2


@pytest.mark.parametrize("direction", [0.0, 150.0, -30.0])
def test_flow_explains_frames(direction):
    # Measured (seeds 0-3, with and without a lake, directions 0/180/30/-150): on valid pixels the
    # flow residual is 0.0006-0.0042 against a zero-flow residual of 0.013-0.04 (ratio <= 0.18); on
    # all mask pixels (including terrain edges, border and disocclusions) it is <= 0.0142.
    for seed in (0, 1):
        clip = generate_timelapse(T, H, W, seed=seed, day_cycle=False, wind_direction=direction, cloud_speed=2.0, cloud_cover=0.6)
        flow_res, zero_res = _residuals(clip, clip.valid)
        assert flow_res < 0.01
        assert flow_res < 0.3 * zero_res
        mask_res, mask_zero = _residuals(clip, clip.masks)
        assert mask_res < 0.02
        assert mask_res < 0.8 * mask_zero
        assert float(clip.valid[1].sum() / clip.masks[1].sum()) > 0.75  # most moving pixels are valid


@pytest.mark.parametrize("direction", [90.0, -90.0])
def test_flow_explains_frames_moving_in_depth(direction):
    # Toward/away from the camera the motion is sub-pixel (0.1-0.6 px per frame here), where bilinear
    # warping loses relatively more: measured ratio 0.20-0.46 on valid pixels, residual <= 0.006.
    for seed in (0, 1):
        clip = generate_timelapse(T, H, W, seed=seed, day_cycle=False, wind_direction=direction, cloud_speed=2.0, cloud_cover=0.6)
        flow_res, zero_res = _residuals(clip, clip.valid)
        assert flow_res < 0.01
        assert flow_res < 0.6 * zero_res


def test_default_clips_flow_residual_on_mask_is_small():
    # Drawn speeds, directions and cloud cover; all mask pixels. Measured <= 0.0085.
    for seed in range(4):
        clip = generate_timelapse(T, H, W, seed=seed, day_cycle=False)
        mask_res, _ = _residuals(clip, clip.masks)
        assert mask_res < 0.02


@pytest.mark.parametrize("water", [True, False])
def test_terrain_is_static_and_has_zero_flow(water):
    clip = generate_timelapse(T, H, W, seed=2, day_cycle=False, water=water)
    static = clip.masks[0, 0] == 0
    assert static.float().mean() > 0.1
    assert torch.equal(clip.masks[0], clip.masks[-1])
    for t in range(1, T):
        assert torch.equal(clip.frames[t][:, static], clip.frames[0][:, static])
        assert torch.all(clip.flows[t][:, static] == 0)
    moving = clip.masks[0, 0] == 1
    assert (clip.frames[-1][:, moving] - clip.frames[0][:, moving]).abs().mean() > 1e-3  # the sky does move
    if not water:
        assert not clip.masks[0, 0, _sky_rows(clip):].any()  # fields below the horizon are static


def test_water_flow_mirrors_sky_flow():
    clip = generate_timelapse(T, H, W, seed=4, day_cycle=False, wind_direction=-60.0, cloud_speed=1.5)
    h0 = _sky_rows(clip)
    flow = clip.flows[1]
    mask = clip.masks[0, 0]
    checked = 0
    for k in range(H - h0):
        water_row, sky_row = h0 + k, h0 - 1 - k
        cols = (mask[water_row] == 1) & (mask[sky_row] == 1)
        if not cols.any():
            continue
        assert torch.equal(flow[0, water_row, cols], flow[0, sky_row, cols])
        assert torch.equal(flow[1, water_row, cols], -flow[1, sky_row, cols])
        checked += int(cols.sum())
    assert checked > W  # the lake spans several rows
    # The lake itself is part of the mask and shows moving reflections.
    assert mask[h0 + 2].mean() > 0.5
    assert flow[1, h0 + 2 : h0 + 6].abs().max() > 0


def test_perspective_clouds_near_horizon_move_slower():
    clip = generate_timelapse(T, 64, 96, seed=1, day_cycle=False, water=False, wind_direction=20.0, cloud_speed=1.0)
    h0 = _sky_rows(clip)
    speed = flow_normalized_to_pixels(clip.flows[1:2])[0].norm(dim=0)
    mask = clip.masks[0, 0] == 1
    quarter = h0 // 4
    top = speed[:quarter][mask[:quarter]].mean()
    low = speed[h0 - quarter : h0][mask[h0 - quarter : h0]].mean()
    assert top > 1.5 * low


def test_day_cycle_darkens_at_night_and_reddens_at_sunset():
    clip = generate_timelapse(T, H, W, seed=6, day_cycle=True, start_time="day")
    assert torch.allclose(clip.time_of_day, torch.arange(T) / T)
    brightness = (clip.frames + 1).mean(dim=(1, 2, 3)) / 2  # in [0, 1]
    day, sunset, night = 0, T // 4, T // 2  # phases 0, 0.25, 0.5
    assert brightness[night] < 0.4 * brightness[day]
    h0 = _sky_rows(clip)
    near_horizon = clip.frames[:, :, h0 - 6 : h0]
    warmth = (near_horizon[:, 0] - near_horizon[:, 2]).mean(dim=(1, 2))  # red minus blue
    assert warmth[sunset] > warmth[day] + 0.3
    # The cycle closes: the last frame is on its way back to day.
    assert brightness[-1] > 2 * brightness[night]


def test_fixed_time_of_day_keeps_colours():
    clip = generate_timelapse(T, H, W, seed=6, day_cycle=False, start_time="night")
    assert torch.all(clip.time_of_day == 0.5)
    day = generate_timelapse(T, H, W, seed=6, day_cycle=False, start_time=0.0)
    assert clip.frames.mean() < day.frames.mean() - 0.3


def test_landscape_photo():
    photo = generate_landscape_photo(36, 64, seed=9)
    assert photo.shape == (36, 64, 3) and photo.dtype == np.uint8
    clip = generate_timelapse(1, 36, 64, seed=9, day_cycle=False, start_time="day")
    expected = ((clip.frames[0].permute(1, 2, 0) + 1) * 127.5).round().numpy()
    assert np.abs(photo.astype(np.float64) - expected).max() <= 1.0
    sky, ground = photo[:8].mean(axis=(0, 1)), photo[-4:].mean(axis=(0, 1))
    assert sky[2] > sky[0]  # blue-ish sky on top
    assert ground.mean() < sky.mean()  # darker shore at the bottom
    sunset = generate_landscape_photo(36, 64, seed=9, time_of_day="sunset")
    assert not np.array_equal(sunset, photo)
    with pytest.raises(ValueError):
        generate_landscape_photo(36, 64, time_of_day="teatime")


def test_synthetic_motion_clips():
    clips = synthetic_motion_clips(3, 4, (32, 48), seed=1)
    assert len(clips) == 3
    for clip in clips:
        assert clip.frames.shape == (4, 3, 32, 48) and clip.flows.shape == (4, 2, 32, 48)
        assert clip.params["day_cycle"] is False
    assert not torch.equal(clips[0].frames, clips[1].frames)
    again = synthetic_motion_clips(3, 4, 32, seed=1)
    assert again[0].frames.shape == (4, 3, 32, 32)
    assert torch.equal(synthetic_motion_clips(1, 4, (32, 48), seed=1)[0].frames, clips[0].frames)


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        generate_timelapse(0, H, W)
    with pytest.raises(ValueError):
        generate_timelapse(T, 8, W)
