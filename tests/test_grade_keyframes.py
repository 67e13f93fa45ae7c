"""The default grade from appearance-net statistics at keyframes (methods/al/grade_keyframes.py) and its ops."""

import numpy as np
import pytest
import torch

from cinescape.methods.al.grade_keyframes import KeyframedGrade, keyframe_stride
from cinescape.ops.loop import interpolate_cyclic, interpolate_keyframes, schedule_corners
from cinescape.ops.render import global_grade, grade_statistics, guided_color_coefficients, tone_statistics


def test_schedule_corners_are_the_keyframes_of_a_cyclic_interpolation():
    codes = interpolate_cyclic(torch.randn(7, 16, generator=torch.Generator().manual_seed(0)), 101)
    # keyframe i at frame i * 101 / 7: between two frames (both marked) except keyframe 0 at frame 0
    expected = {0}
    for i in range(1, 7):
        position = i * 101 / 7
        expected |= {int(np.floor(position)), int(np.ceil(position))}
    assert schedule_corners(codes) == sorted(expected)
    straight = torch.linspace(0, 1, 20).view(20, 1) * torch.ones(1, 4)
    assert schedule_corners(straight, cyclic=False) == [0, 19]          # no bend inside, ends always


def test_interpolate_keyframes_is_exact_at_keyframes_for_quadratics_and_across_corners():
    frames = list(range(0, 40, 4))
    quadratic = {f: np.float64([0.01 * f * f - f, 3.0]) for f in frames}
    for at in range(4, 33):     # between keyframes with neighbours on both sides (at the ends: one-sided)
        assert np.allclose(interpolate_keyframes(frames, quadratic, at, corners=set(), period=None),
                           [0.01 * at * at - at, 3.0])
    # a piecewise-linear quantity with a corner at 20: one-sided tangents there keep both pieces exact
    def tent(t):
        return np.float64([abs(t - 20.0)])
    tent_frames = list(range(0, 41, 5))
    values = {f: tent(f) for f in tent_frames}
    for at in range(0, 41):
        assert interpolate_keyframes(tent_frames, values, at, corners={20}, period=None) == pytest.approx(tent(at))
    # without the corner the cubic overshoots near it
    assert interpolate_keyframes(tent_frames, values, 18, corners=set(), period=None)[0] != pytest.approx(2.0)


def test_interpolate_keyframes_wraps_a_cycle():
    period = 24
    frames = list(range(0, period, 3))
    wave = {f: np.float64([np.cos(2 * np.pi * f / period)]) for f in frames}
    def at(frame):
        return interpolate_keyframes(frames, wave, frame, corners=set(), period=period)[0]
    for frame in (1, 22, 23, 25):
        assert at(frame) == pytest.approx(np.cos(2 * np.pi * frame / period), abs=1e-2)
    assert at(1) == pytest.approx(at(23)) and at(25) == pytest.approx(at(1))      # the wrap is seamless


def test_global_grade_from_statistics_equals_the_fitted_grade():
    rng = np.random.default_rng(2)
    small = rng.uniform(-0.8, 0.8, (18, 30, 3)).astype(np.float32)
    maps = rng.normal(0, 0.7, (18, 30, 6)).astype(np.float32)
    fitted = guided_color_coefficients(maps, small, locality=0.0)[0, 0]
    assert np.array_equal(global_grade(tone_statistics(small), grade_statistics(maps, small)), fitted)


def test_keyframed_grade_predicts_every_second_frame_and_the_corners_and_reproduces_a_linear_schedule():
    num_frames = 30
    corners = [0, 10, 11, 20]     # a code bending at 0, 10.5 and 20

    def statistic(frame: float) -> np.ndarray:   # piecewise linear in the frame, corners as the code's
        knots = np.float64([0, 10.5, 20, 30])
        levels = np.float64([0.1, 0.5, 0.2, 0.1])
        mean = np.interp(frame, knots, levels)
        network = [mean, mean, mean, 0.2 + mean / 4, 0.2, 0.2]
        # the frame's tones: its darkest values brighten with the network's mean (the tone limit binds at some)
        tones = [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, -0.9 + mean, -0.9, -0.9, 0.9, 0.9, 0.9]
        return np.float64(network + tones)

    asked = []

    def predict(frames):
        asked.extend(frames)
        return [statistic(f) for f in frames]

    grade = KeyframedGrade(num_frames, corners, predict, stride=2)
    for index in range(num_frames + 1):
        expected = statistic(index % num_frames)
        expected = global_grade(np.float32(expected[6:]), np.float32(expected[:6]))
        assert np.allclose(grade.grade(index), expected, atol=1e-6), index
    assert sorted(asked) == sorted(set(range(0, num_frames, 2)) | {11})   # each once: evens and the odd corner
    assert grade.predictions == len(asked)


def test_an_animation_with_keyframed_grade_predicts_half_its_frames_and_matches_every_frames_grade():
    from cinescape.methods.al.animation import Animation

    rng = np.random.default_rng(4)
    photo = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    image = torch.from_numpy(photo.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    small = torch.nn.functional.interpolate(image, size=(8, 12), mode="bilinear", antialias=True)
    accumulated = torch.zeros(1, 2, 8, 12)
    num_frames = 24
    calls = []

    def maps_fn(indices, frames_small):     # a tint that cycles smoothly through the loop
        calls.extend(indices)
        maps = np.zeros((len(indices), 8, 12, 6), np.float32)
        maps[..., :3] = 1.0
        for k, index in enumerate(indices):
            maps[k, ..., 3] = 0.3 * np.sin(2 * np.pi * index / num_frames)
        return list(maps)

    def animation(corners):
        return Animation(image, small, accumulated, accumulated, [((0, 1.0),)] * num_frames, maps_fn, False,
                         color_locality=0.0, grade_corners=corners)

    every, keyframed = animation(None), animation([])
    assert keyframed.grade is not None and every.grade is None
    stride = keyframed.grade.stride
    assert stride == 3                      # no bends in 24 frames: the longest stride
    for index in range(num_frames):
        a, b = every.frame(index).astype(int), keyframed.frame(index).astype(int)
        if index % stride == 0:
            assert np.array_equal(a, b), index
        assert np.abs(a - b).max() <= 1, index
    assert keyframed.grade.predictions == num_frames // stride


def test_the_keyframes_spacing_follows_the_codes_stretches():
    codes = torch.randn(7, 16, generator=torch.Generator().manual_seed(1))   # 7 keyframe codes, as the codebook's
    strides = {frames: keyframe_stride(frames, schedule_corners(interpolate_cyclic(codes, frames)))
               for frames in (30, 60, 100, 101, 150, 300)}
    # ~7 predictions per stretch between bends (the cubic's error goes as the spacing over the stretch, to the
    # fourth): every frame of a 60-frame loop, every 2nd of 101, every 3rd of 150 and longer (the most)
    assert strides == {30: 1, 60: 1, 100: 2, 101: 2, 150: 3, 300: 3}
    assert keyframe_stride(24, []) == 3 and keyframe_stride(10, list(range(10))) == 1


def test_the_default_loop_grades_from_keyframes_and_the_setting_turns_it_off(tiny_pipeline, photo):
    animation = tiny_pipeline.plan(photo, num_frames=101, seed=0)          # phased loop, global grade: keyframed
    list(animation.frames())
    assert animation.grade is not None and animation.grade.stride == 2
    assert animation.grade.predictions < 101 * 0.6
    assert set(range(0, 101, 2)) <= set(animation.grade.keyframes)
    assert tiny_pipeline.plan(photo, num_frames=23, seed=0, grade_keyframes=False).grade is None
    assert tiny_pipeline.plan(photo, num_frames=23, seed=0, loop="none").grade is None    # no cycle to wrap
