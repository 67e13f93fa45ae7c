"""Known-answer tests of motion against real footage (cinescape.eval.footage) and the per-frame sharpness
(cinescape.eval.photo_metrics.frame_sharpness_ratios), on tiny synthetic clips; the benchmark on the shared clips
runs only where ../shared/data is."""

import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cinescape.eval import footage as F
from cinescape.eval.photo_metrics import frame_sharpness_ratios

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VELOCITY = (0.8, -0.4)      # px/frame: right and up


@pytest.fixture(scope="module")
def clip():
    return F.translating_clip(np.random.default_rng(1), (72, 128), VELOCITY, 8)


@pytest.fixture(scope="module")
def truth(clip):
    return F.truth_motion(clip)


def test_truth_of_a_translating_texture_is_its_velocity(truth):
    assert truth.moving.mean() > 0.9
    inner = truth.flow[:, 8:-8, 8:-8].reshape(2, -1)
    assert np.allclose(np.median(inner, axis=1), VELOCITY, atol=0.05)
    assert np.median(truth.mean.consistency) > 0.95


def test_the_clip_against_itself_agrees_fully(clip, truth):
    report = F.compare_motion(F.mean_flow(clip), truth)
    assert report["agreement"] > 0.97
    assert report["coverage"] == pytest.approx(1.0, abs=0.02)
    assert report["speed_ratio"] == pytest.approx(1.0, abs=0.05)
    assert report["truth_speed"] == pytest.approx(math.hypot(*VELOCITY), rel=0.08)


def test_a_reversed_animation_disagrees_fully(clip, truth):
    report = F.compare_motion(F.mean_flow(clip[::-1]), truth)
    assert report["agreement"] < -0.97
    assert report["speed_ratio"] == pytest.approx(1.0, abs=0.05)


def test_a_frozen_animation_covers_nothing(clip, truth):
    report = F.compare_motion(F.mean_flow([clip[0]] * 5, cyclic=True), truth)
    assert report["coverage"] == 0.0
    assert report["agreement"] == 0.0
    assert report["speed_ratio"] == 0.0


def test_a_sideways_animation_is_unrelated_and_half_as_fast(truth):
    # closed form: a field perpendicular to the truth has cosine 0; half the truth's speed -> ratio 0.5
    vx, vy = VELOCITY
    sideways = np.stack([np.full(truth.flow.shape[1:], -vy / 2), np.full(truth.flow.shape[1:], vx / 2)])
    report = F.compare_motion(sideways.astype(np.float32), truth)
    assert abs(report["agreement"]) < 0.05
    assert report["speed_ratio"] == pytest.approx(0.5, abs=0.03)


def test_still_noisy_pixels_and_ignored_boxes_are_not_moving():
    rng = np.random.default_rng(2)
    frames = F.translating_clip(rng, (64, 128), (0.6, 0.0), 10)
    still = frames[0][:, 64:].copy()
    for frame in frames:   # right half: the same texture every frame plus sensor noise of 4 grey levels
        frame[:, 64:] = np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8)
    truth = F.truth_motion(frames, ignore=F.box_mask((64, 128), [[0, 0, 0.25, 1]]))
    assert truth.moving[:, 92:].mean() < 0.05   # noise: slow, no steady direction (DIS leaks ~20 px at the edge)
    assert truth.moving[8:-8, 40:56].mean() > 0.9           # the translating texture
    assert not truth.moving[:, :32].any()                    # the ignored box


def test_mean_flow_stride_and_stabilize_keep_px_per_frame():
    frames = F.translating_clip(np.random.default_rng(3), (64, 96), (0.3, 0.0), 9)
    strided = F.mean_flow(frames, stride=4)
    assert strided.pairs == 5
    assert np.median(strided.flow[0, 8:-8, 8:-8]) == pytest.approx(0.3, abs=0.03)
    # the whole frame moving: stabilising removes it all
    assert np.abs(F.mean_flow(frames, stabilize=True).flow).max() < 0.05


def test_compare_motion_rejects_another_size_and_handles_no_motion(truth):
    with pytest.raises(ValueError, match="differ in size"):
        F.compare_motion(np.zeros((2, 4, 4), np.float32), truth)
    nothing = F.TruthMotion(truth.mean, np.zeros_like(truth.moving))
    report = F.compare_motion(truth.flow, nothing)
    assert math.isnan(report["agreement"]) and report["moving_share"] == 0.0


def test_fall_direction_angles():
    flow = np.zeros((2, 8, 8), np.float32)
    flow[1] = 0.7                                            # straight down
    assert F.fall_direction(flow, np.ones((8, 8), bool))["angle_from_down"] == pytest.approx(0.0)
    flow[1] = -0.7                                           # straight up
    down = F.fall_direction(flow, np.ones((8, 8), bool))
    assert down["angle_from_down"] == pytest.approx(180.0) and down["speed"] == pytest.approx(0.7)
    assert math.isnan(F.fall_direction(flow, np.zeros((8, 8), bool))["speed"])


def test_pictures_have_the_frame_size():
    flow = np.zeros((2, 48, 64), np.float32)
    flow[0] = 1.0
    picture = F.flow_picture(flow, 1.0)
    assert picture.shape == (48, 64, 3) and picture.dtype == np.uint8
    assert tuple(picture[0, 0]) == (255, 0, 0)                # right = red, fully saturated
    overlay = F.arrow_overlay(np.full((48, 64, 3), 200, np.uint8), flow, spacing=16)
    assert overlay.shape == (48, 64, 3) and (overlay != 200).any()


def test_frame_sharpness_of_the_photo_is_one_and_of_a_blur_below():
    rng = np.random.default_rng(4)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8), (0, 0), 0.8)
    blurred = cv2.GaussianBlur(photo, (0, 0), 1.5)
    darker = (photo * 0.6).astype(np.uint8)                    # a colour change alone is not a blur
    region = np.zeros((64, 64), bool)
    region[:, :32] = True
    ratios = frame_sharpness_ratios([photo, blurred, darker], photo, region)
    assert ratios[0] == 1.0
    assert ratios[1] < 0.7
    assert ratios[2] == pytest.approx(1.0, abs=0.03)
    assert np.isnan(frame_sharpness_ratios([photo], photo, np.zeros((64, 64), bool))).all()


@pytest.mark.integration
def test_benchmark_on_the_shared_river_runs_and_reports():
    if not (SHARED / "motion" / "videos" / "geul_river.mp4").exists():
        pytest.skip(f"needs the shared clips in {SHARED} (absent in a fresh clone)")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "motion_vs_footage.py"), "--only", "river",
                             "--method", "static", "--frames", "4"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("| river |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[-1] == "0.00" and cells[-2] == "+0.00"      # the still photo: coverage 0, agreement 0
