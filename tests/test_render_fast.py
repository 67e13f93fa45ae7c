"""The fast paths of issue 29 against their references: banded uint8 frames vs the float renderer, the Animation's
fast frame vs its reference frame, background encoding, the floor, lazy imports, the inference precision."""

import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch

import cinescape.ops.render_fast as render_fast
from cinescape.io.video import FRAMES_IN_FLIGHT, VideoWriter, _PyAVEncoder
from cinescape.io.video_reader import read_video_frames as read_video
from cinescape.errors import OutputError
from cinescape.methods.al.animation import Animation
from cinescape.ops.layers import PhotoLayers, composite_layers_hwc
from cinescape.ops.render import (apply_local_affine_hwc, flow_to_pixel_map, guided_color_coefficients, hwc_to_uint8,
                                  remap_hwc)
from cinescape.methods.al.phased_loop import PixelPhasedLoop
from cinescape.ops.phased import phase_offsets
from cinescape.ops.render_fast import FastLayers, band_positions, band_rows, grade_matrix, render_frame_bands


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def textured_photo(height=96, width=160, seed=0) -> np.ndarray:
    """A photo with detail at every scale (noise + edges), uint8."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.uniform(0, 255, (height // 8, width // 8, 3)).astype(np.float32), (width, height))
    photo = base + rng.normal(0, 25, (height, width, 3))
    photo[:, width // 3: width // 3 + 3] = 0      # a sharp dark line
    return np.clip(photo, 0, 255).astype(np.uint8)


def smooth_flow(small=(12, 20), size=(96, 160), scale=4.0, seed=1) -> np.ndarray:
    """A smooth (h, w, 2) working-size flow in full-resolution pixels, with fractional values."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, scale, (3, 4, 2)).astype(np.float32)
    return cv2.resize(coarse, (small[1], small[0]), interpolation=cv2.INTER_CUBIC) + np.float32(0.37)


def reference_frame(source, copies, size, alpha=None, still=None, slope=None, offset=None) -> np.ndarray:
    """The float renderer (cinescape.ops.render) for the same frame."""
    height, width = size
    frame = None
    for flow, weight in copies:
        normalised = torch.from_numpy(flow / np.float32([width / 2, height / 2])).permute(2, 0, 1)[None]
        warped = remap_hwc(source, flow_to_pixel_map(normalised, size))
        weight = weight if np.ndim(weight) == 0 else weight[..., None]
        frame = warped * weight if frame is None else frame + warped * weight
    frame = np.ascontiguousarray(frame, np.float32)
    if alpha is not None:
        frame = composite_layers_hwc(frame, still, alpha)
    if slope is not None:
        coefficients = np.concatenate((slope, offset)).astype(np.float32)[None, None].repeat(2, 0).repeat(2, 1)
        frame = apply_local_affine_hwc(np.ascontiguousarray(coefficients), frame)
    return hwc_to_uint8(frame)


@pytest.fixture
def small_bands(monkeypatch):
    monkeypatch.setattr(render_fast, "BAND_PIXELS", 160 * 13)   # 13-row bands: many band edges in a 96-row frame


def test_band_positions_equal_a_full_resize_plus_the_pixel_grid():
    flow = smooth_flow()
    full = cv2.resize(flow, (160, 96), interpolation=cv2.INTER_LINEAR)
    grid = np.stack(np.meshgrid(np.arange(160, dtype=np.float32), np.arange(96, dtype=np.float32)), -1)
    for top, rows in ((0, 96), (0, 13), (40, 17), (83, 13)):
        band = band_positions(flow, (96, 160), top, rows)
        assert np.abs(band - (full + grid)[top:top + rows]).max() < 1e-4


@pytest.mark.parametrize("layered", [False, True])
@pytest.mark.parametrize("graded", [False, True])
def test_banded_frames_match_the_float_renderer(small_bands, layered, graded):
    photo = textured_photo()
    source = photo.astype(np.float32) / 127.5 - 1
    copies = [(smooth_flow(seed=1), 0.3), (smooth_flow(seed=2), 0.7)]
    alpha = still = fluid = None
    if layered:
        matte = np.zeros((96, 160), np.float32)
        matte[20:60] = 1.0
        matte[60:70] = np.linspace(1, 0, 10, dtype=np.float32)[:, None]   # a soft edge
        layers = PhotoLayers.from_photo(source, matte, (12, 20))
        fluid, alpha, still = layers.fluid, layers.alpha, layers.still
    slope, offset = (np.float32([0.8, 1.1, 0.6]), np.float32([-0.1, 0.05, -0.3])) if graded else (None, None)
    fast_layers = FastLayers(photo, source if fluid is None else fluid, alpha, still)
    fast = render_frame_bands(fast_layers, copies, None if slope is None else grade_matrix(slope, offset))
    reference = reference_frame(source if fluid is None else fluid, copies, (96, 160), alpha, still, slope, offset)
    assert psnr(fast, reference) >= 45.0
    assert np.abs(fast.astype(int) - reference).max() <= 3
    if layered:   # the still layer made per band from the photo and the fluid layer: the same frame
        derived = render_frame_bands(FastLayers(photo, fluid, alpha), copies,
                                     None if slope is None else grade_matrix(slope, offset))
        assert np.abs(derived.astype(int) - fast).max() <= 1
    if layered:   # rows without fluid are the photo itself, graded: no sampling at all
        moving = np.flatnonzero(alpha[..., 0].any(axis=1))
        first, end = fast_layers.rows
        assert (first, end) == (moving[0], moving[-1] + 1) and first == 20 and end < 96
        untouched = reference_frame(source, [(np.zeros_like(copies[0][0]), 1.0)], (96, 160), slope=slope,
                                    offset=offset)
        assert np.abs(fast[:first].astype(int) - untouched[:first]).max() <= 1
        assert np.abs(fast[end:].astype(int) - untouched[end:]).max() <= 1


def test_per_pixel_weights_blend_like_scalar_ones_and_follow_the_map(small_bands):
    photo = textured_photo()
    source = photo.astype(np.float32) / 127.5 - 1
    layers = FastLayers(photo, source)
    first, second = smooth_flow(seed=1), smooth_flow(seed=2)
    scalar = render_frame_bands(layers, [(first, 0.25), (second, 0.75)])
    constant = render_frame_bands(layers, [(first, np.full((96, 160), 0.25, np.float32)),
                                           (second, np.full((96, 160), 0.75, np.float32))])
    assert np.abs(scalar.astype(int) - constant).max() <= 1
    ramp = np.repeat(np.linspace(0, 1, 160, dtype=np.float32)[None], 96, 0)
    varying = render_frame_bands(layers, [(first, ramp), (second, 1 - ramp)])
    only_second = render_frame_bands(layers, [(second, 1.0)])
    only_first = render_frame_bands(layers, [(first, 1.0)])
    assert np.abs(varying[:, 0].astype(int) - only_second[:, 0]).max() <= 1     # weight 0 on the first copy
    assert np.abs(varying[:, -1].astype(int) - only_first[:, -1]).max() <= 1    # weight 1 on the first copy


def test_grade_matrix_is_the_grade_in_uint8_units():
    slope, offset = np.float32([0.5, 1.0, 2.0]), np.float32([0.1, 0.0, -0.5])
    values = np.arange(0, 256, 15, dtype=np.uint8)
    pixels = np.stack([values] * 3, -1)[None]
    expected = np.clip(np.round(((values[:, None] / 127.5 - 1) * slope + offset + 1) * 127.5), 0, 255)
    assert np.abs(cv2.transform(pixels, grade_matrix(slope, offset))[0].astype(int) - expected).max() <= 1


def make_animation(layered: bool, graded: bool) -> Animation:
    photo = textured_photo(64, 96)
    image = torch.from_numpy(photo.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    small = torch.nn.functional.interpolate(image, size=(16, 24), mode="bilinear", antialias=True)
    rng = torch.Generator().manual_seed(0)
    accumulated = torch.randn(3, 2, 16, 24, generator=rng) * 0.05
    accumulated[0] = 0
    schedule = [((0, 1.0),), ((1, 0.4), (2, 0.6)), ((2, 0.5), (1, 0.5))]
    layers = None
    if layered:
        matte = np.zeros((64, 96), np.float32)
        matte[:30] = 1
        layers = PhotoLayers.from_photo(np.ascontiguousarray(image[0].permute(1, 2, 0).numpy()), matte, (16, 24))

    def maps_fn(indices, frames_small):   # colour maps: a per-frame tint that guided_color_coefficients fits
        maps = torch.zeros(len(indices), 6, 16, 24)
        for k, index in enumerate(indices):
            maps[k, :3] = 1.0
            maps[k, 3 + index % 3] = 0.2
        return [m.permute(1, 2, 0).numpy().copy() for m in maps]

    return Animation(image, small, accumulated, accumulated, schedule, maps_fn if graded else None, False,
                     layers=layers, color_locality=0.0)


def assert_fast_frames_match_the_reference(animation: Animation) -> None:
    """Every frame of ``animation``: banded fast path against the float reference, >= 45 dB, <= 3 levels."""
    for index in range(animation.num_frames):
        animation.fast = True
        fast = animation.frame(index)
        animation.fast = False
        reference = animation.frame(index)
        assert psnr(fast, reference) >= 45.0, index
        assert np.abs(fast.astype(int) - reference).max() <= 3


@pytest.mark.parametrize("layered", [False, True])
@pytest.mark.parametrize("graded", [False, True])
def test_animation_fast_frames_match_the_reference_frames(layered, graded):
    assert_fast_frames_match_the_reference(make_animation(layered, graded))


def test_band_rows_equal_the_rows_of_a_full_resize():
    field = np.random.default_rng(3).normal(0, 1, (12, 20, 5)).astype(np.float32)
    full = cv2.resize(field, (160, 96), interpolation=cv2.INTER_LINEAR)
    for top, rows in ((0, 96), (0, 7), (45, 13), (90, 6)):
        assert np.abs(band_rows(field, (96, 160), top, rows) - full[top:top + rows]).max() < 1e-5


def make_phased_animation(layered: bool, graded: bool, contrast: bool, sharpen: bool = False, cycle: float = 12.0,
                          keep_cycle: bool = True) -> Animation:
    """An Animation with a per-pixel phased loop (phase offsets, contrast-keeping fades): 7 states each way."""
    animation = make_animation(layered, graded)
    count = 7
    velocity = torch.randn(1, 2, 16, 24, generator=torch.Generator().manual_seed(1)) * 0.01
    steps = torch.arange(count, dtype=torch.float32).view(-1, 1, 1, 1)
    accumulated = torch.cat((velocity * steps, -velocity * steps[1:]))
    offsets = phase_offsets(16, 24, scale=0.2, spread=0.5, seed=0)
    animation.phased = PixelPhasedLoop(accumulated, accumulated, cycle, offsets, contrast, sharpen,
                                       keep_cycle=keep_cycle)
    animation.schedule = [()] * 12
    animation.num_frames = 12
    return animation


@pytest.mark.parametrize("cycle", [6.0, 5.5])
def test_frames_a_whole_cycle_apart_share_their_working_size_inputs(small_bands, cycle):
    animation = make_phased_animation(True, True, True, True, cycle=cycle)
    frames = [animation.frame(index) for index in range(12)]
    if cycle == 6.0:     # a whole-frame cycle: frame t + 6 is frame t, one cache entry per phase
        assert all(np.array_equal(frames[index], frames[index + 6]) for index in range(6))
        assert sorted(animation.phased._frames) == list(range(6))
    else:                # otherwise every frame its own entry, the most recent few kept
        assert len(animation.phased._frames) == PixelPhasedLoop.CACHED_FRAMES
    big = make_phased_animation(True, True, True, True, cycle=cycle, keep_cycle=False)   # a big photo's choice
    assert all(np.abs(big.frame(index).astype(int) - frames[index]).max() <= 1 for index in range(12))
    assert len(big.phased._frames) == PixelPhasedLoop.CACHED_FRAMES         # only the last few kept
    animation.release_frame_caches()        # a kept plan drops them between renders: made again, the same frames
    assert animation.phased._frames == {} and np.array_equal(animation.frame(7), frames[7])
    uncached = make_phased_animation(True, True, True, True, cycle=cycle)
    uncached.phased.MAX_CACHED_CYCLE = 0
    uncached.phased._period = None           # what a loop whose cycle is not whole frames does
    for index in range(12):
        assert np.abs(uncached.frame(index).astype(int) - frames[index]).max() <= 1, index


@pytest.mark.parametrize("layered", [False, True])
@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("contrast,sharpen", [(False, False), (True, False), (True, True)])
def test_per_pixel_phased_fast_frames_match_the_reference_frames(small_bands, layered, graded, contrast, sharpen):
    animation = make_phased_animation(layered, graded, contrast, sharpen)
    assert_fast_frames_match_the_reference(animation)
    assert animation._fast_layers is not None      # the banded path did render
    assert (animation.phased.sharpening is not None) == sharpen      # calibrated on the first frame


def test_sharpening_changes_the_moving_pixels_only_and_keeps_band_rows_seamless(small_bands):
    plain, sharpened = make_phased_animation(True, False, True), make_phased_animation(True, False, True, True)
    for index in (3, 7):
        a, b = plain.frame(index).astype(int), sharpened.frame(index).astype(int)
        assert np.abs(a - b).max() > 0                                   # it does sharpen
        still = plain.layers.alpha[..., 0] == 0
        assert np.array_equal(a[still], b[still])                         # the still layer is untouched
        sharpened.fast = False                                            # one float pass over the whole frame:
        reference = sharpened.frame(index).astype(int)                    # no band seams in the banded one
        sharpened.fast = True
        assert np.abs(b - reference).max() <= 3


def test_local_colour_maps_take_the_reference_path():
    animation = make_animation(True, True)
    animation.color_locality = 1.0
    assert animation.frame(1).shape == (64, 96, 3)
    assert animation._fast_layers is None     # the banded path handles only a global grade


def test_background_writer_writes_a_valid_video(tmp_path):
    frames = [np.full((32, 48, 3), 20 * k, np.uint8) for k in range(8)]
    path = tmp_path / "loop.mp4"
    with VideoWriter(path, fps=10, background=True) as writer:
        for frame in frames:
            writer.write(frame)
    decoded = read_video(path)
    assert len(decoded) == 8
    assert all(abs(int(d.mean()) - int(f.mean())) <= 2 for d, f in zip(decoded, frames))


def test_background_writer_holds_a_bounded_number_of_frames(tmp_path, monkeypatch):
    held, peak, lock = set(), [0], threading.Lock()
    original_prepare, original_write = _PyAVEncoder.prepare, _PyAVEncoder.write

    def tracked_prepare(self, frame):     # what the queue holds: the frame converted for the encoder
        prepared = original_prepare(self, frame)
        with lock:
            held.add(id(prepared))
            peak[0] = max(peak[0], len(held))
        return prepared

    def slow_write(self, frame):          # the encoder is slower than the renderer
        time.sleep(0.01)
        original_write(self, frame)
        with lock:
            held.discard(id(frame))

    monkeypatch.setattr(_PyAVEncoder, "prepare", tracked_prepare)
    monkeypatch.setattr(_PyAVEncoder, "write", slow_write)
    with VideoWriter(tmp_path / "loop.mp4", fps=10, size=(16, 16), background=True) as writer:
        for k in range(20):
            writer.write(np.full((16, 16, 3), k, np.uint8))
    assert 2 <= peak[0] <= FRAMES_IN_FLIGHT + 1   # queued + encoding, + the one just converted
    assert writer.frames_written == 20


def test_background_writer_error_leaves_no_output(tmp_path, monkeypatch):
    def failing_write(self, frame):
        raise OSError("disk full")

    monkeypatch.setattr(_PyAVEncoder, "write", failing_write)
    path = tmp_path / "loop.mp4"
    with pytest.raises(OutputError, match="disk full"):
        with VideoWriter(path, fps=10, size=(16, 16), background=True) as writer:
            for _ in range(10):
                writer.write(np.zeros((16, 16, 3), np.uint8))
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_floor_writes_a_video_of_the_photo(tmp_path):
    from cinescape.eval.floor import measure_floor

    photo = textured_photo(48, 64)
    seconds = measure_floor(photo, 6, tmp_path / "floor.mp4")
    assert seconds > 0
    assert len(read_video(tmp_path / "floor.mp4")) == 6


def test_importing_cinescape_and_the_cli_loads_neither_torch_nor_opencv():
    code = ("import sys, cinescape, cinescape.cli; cinescape.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'cv2', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import cinescape; print(cinescape.animate.__module__, cinescape.CinescapeError.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cinescape.methods.al.pipeline", "CinescapeError"]


@pytest.mark.parametrize("forced, expected", [("0", False), ("1", True)])
def test_inference_precision_can_be_forced(forced, expected):
    code = "from cinescape.models.precision import native_bf16; print(native_bf16())"
    import os

    env = {**os.environ, "CINESCAPE_BF16": forced}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == str(expected)


def test_large_frames_are_encoded_without_b_frames_or_lookahead(tmp_path, monkeypatch):
    import cinescape.io.video as video

    def x264_settings(path) -> str:   # libx264 writes its settings into the stream (an SEI message)
        data = path.read_bytes()
        start = data.index(b"x264 - core")
        return data[start:data.index(b"\0", start)].decode()

    frames = [np.roll(textured_photo(64, 96), 3 * k, axis=1) for k in range(6)]
    for name, large in (("small.mp4", 10 ** 9), ("large.mp4", 64 * 96)):
        monkeypatch.setattr(video, "MP4_LARGE_PIXELS", large)
        with VideoWriter(tmp_path / name, fps=10, size=(96, 64)) as writer:
            for frame in frames:
                writer.write(frame)
    assert " bframes=3 " in x264_settings(tmp_path / "small.mp4")
    settings = x264_settings(tmp_path / "large.mp4")
    assert " bframes=0 " in settings and " mbtree=0 " in settings and "rc_lookahead" not in settings
    assert len(read_video(tmp_path / "large.mp4")) == 6
