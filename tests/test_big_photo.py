"""Big photos in bounded memory (issue 29): the uint8 fluid layer filled in bands equals the float fill, frames
sampled from a uint8 source equal those sampled from its float copy (the rows a band reads converted on the fly,
reflected borders included), and the encoder's OpenCV colour conversion equals swscale's."""

from pathlib import Path

import cv2
import numpy as np
import pytest

import cinescape.ops.render_fast as render_fast
from cinescape.ops.layers import FLUID_ALPHA, PhotoLayers, fill_behind, fill_behind_photo, photo_to_float
from cinescape.ops.render_fast import FastLayers, render_frame_bands, source_window


def textured(height, width, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.uniform(0, 255, (max(1, height // 8), max(1, width // 8), 3)).astype(np.float32),
                      (width, height))
    return np.clip(base + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)


def sky_over_land(height, width) -> np.ndarray:
    """A binary matte: fluid above a wavy skyline, with a still pole through the sky."""
    alpha = np.zeros((height, width), np.float32)
    skyline = (height * (0.5 + 0.15 * np.sin(np.arange(width) / 7.0))).astype(int)
    alpha[np.arange(height)[:, None] < skyline[None, :]] = 1.0
    alpha[:, width // 3:width // 3 + 2] = 0.0
    return alpha


@pytest.mark.parametrize("size", [(64, 96), (63, 97), (37, 50), (2, 7), (3, 2)])
def test_banded_fill_equals_the_float_fill_rounded(size):
    height, width = size
    photo = textured(height, width)
    alpha = sky_over_land(height, width)
    alpha[0, 0] = 1.0                       # something known, however small the photo
    known = alpha >= FLUID_ALPHA
    reference = fill_behind(photo_to_float(photo), known.astype(np.float32))
    fluid, fluid_small, still_small = fill_behind_photo(photo, known, alpha, (2, 3))
    assert fluid.dtype == np.uint8
    assert np.array_equal(fluid[known], photo[known])                       # the photo's own pixels exactly
    assert np.abs(fluid - 127.5 * (reference.astype(np.float64) + 1)).max() <= 0.5 + 1e-3   # rounded
    small = cv2.resize(reference, (3, 2), interpolation=cv2.INTER_AREA)
    assert np.abs(fluid_small - small).max() < 1e-5
    still = photo_to_float(photo) - alpha[..., None] * reference
    assert np.abs(still_small - cv2.resize(still, (3, 2), interpolation=cv2.INTER_AREA)).max() < 1e-5


def test_banded_fill_of_a_photo_taller_than_many_bands(monkeypatch):
    monkeypatch.setattr("cinescape.ops.layers._band_rows_for", lambda width: 6)   # 6-row bands: many band edges
    photo = textured(71, 40, seed=3)
    alpha = sky_over_land(71, 40)
    known = alpha >= FLUID_ALPHA
    reference = fill_behind(photo_to_float(photo), known.astype(np.float32))
    fluid, _, _ = fill_behind_photo(photo, known, alpha, (4, 4))
    assert np.abs(fluid - 127.5 * (reference.astype(np.float64) + 1)).max() <= 0.5 + 1e-3


def test_layers_of_a_uint8_photo_keep_a_uint8_fluid_layer_equal_to_the_float_one():
    photo = textured(48, 64)
    alpha = sky_over_land(48, 64)
    from_uint8 = PhotoLayers.from_photo(photo, alpha, (6, 8))
    from_float = PhotoLayers.from_photo(photo_to_float(photo), alpha, (6, 8))
    assert from_uint8.fluid_pixels.dtype == np.uint8 and from_float.fluid_pixels.dtype == np.float32
    assert np.abs(from_uint8.fluid - from_float.fluid).max() <= 0.5 / 127.5 + 1e-6
    for name in ("alpha", "alpha_small", "fluid_small", "still_small"):
        assert np.abs(np.asarray(getattr(from_uint8, name)) - np.asarray(getattr(from_float, name))).max() < 1e-5
    flipped = PhotoLayers.from_photo(photo[:, ::-1], alpha[:, ::-1], (6, 8))      # a view: any layout works
    assert np.array_equal(flipped.fluid_pixels, from_uint8.fluid_pixels[:, ::-1])
    nothing = PhotoLayers.from_photo(photo, np.full((48, 64), 0.5, np.float32), (6, 8))   # nothing wholly fluid
    assert np.array_equal(nothing.fluid_pixels, photo)


def test_source_window_reads_what_the_whole_source_reads():
    source = textured(50, 30)
    window, offset = source_window(source, 20.0, 21.25, 10, 14)
    # the band's own rows 10-13, and the rows 20-22 sampled with the cubic kernel's margin of 3 (17-25)
    assert window.dtype == np.float32 and (offset, offset + window.shape[0]) == (10, 26)
    np.testing.assert_allclose(window, photo_to_float(source)[offset:offset + window.shape[0]], atol=1e-6)
    window, offset = source_window(source, -12.5, 2.0, 0, 4)      # reflected off the top: rows 0-12 read
    assert offset == 0 and window.shape[0] >= 16
    window, offset = source_window(source, 40.0, 60.0, 40, 44)    # reflected off the bottom: rows from 39 up
    assert offset <= 36 and offset + window.shape[0] == 50
    window, offset = source_window(source, float("nan"), 12.0, 10, 14)   # unknown positions: the whole height
    assert (offset, window.shape[0]) == (0, 50)
    as_float = photo_to_float(source)
    assert source_window(as_float, 20.0, 21.0, 10, 14)[0] is as_float


def test_band_extent_bounds_the_resized_band():
    rng = np.random.default_rng(2)
    field = rng.normal(0, 5, (12, 20)).astype(np.float32)
    full = cv2.resize(field, (160, 96), interpolation=cv2.INTER_LINEAR)
    for top, rows in ((0, 13), (40, 17), (83, 13), (0, 96)):
        least, most = render_fast.band_extent(field, (96, 160), top, rows)
        band = full[top:top + rows]
        assert least <= band.min() + 1e-5 and band.max() <= most + 1e-5
        assert most - least <= 2 * (field.max() - field.min())


@pytest.mark.parametrize("layered", [False, True])
@pytest.mark.parametrize("flow_scale", [3.0, 40.0])      # 40: samples far outside the band, off both borders
def test_frames_from_a_uint8_source_equal_those_from_its_float_copy(monkeypatch, layered, flow_scale):
    monkeypatch.setattr(render_fast, "BAND_PIXELS", 160 * 13)    # 13-row bands
    photo = textured(96, 160)
    rng = np.random.default_rng(1)
    flows = [cv2.resize(rng.normal(0, flow_scale, (3, 4, 2)).astype(np.float32), (20, 12),
                        interpolation=cv2.INTER_CUBIC) + np.float32(0.37) for _ in range(2)]
    coefficients = np.concatenate((np.full((12, 20, 1), 0.6, np.float32), np.full((12, 20, 1), 0.5, np.float32),
                                   np.full((12, 20, 3), -0.05, np.float32)), axis=2)
    if layered:
        layers = PhotoLayers.from_photo(photo, sky_over_land(96, 160), (12, 20))
        as_uint8 = FastLayers(photo, layers.fluid_pixels, layers.alpha)
        as_float = FastLayers(photo, layers.fluid, layers.alpha)
    else:
        as_uint8, as_float = FastLayers(photo, photo), FastLayers(photo, photo_to_float(photo))
    for copies, blend in (([(flows[0], 0.3), (flows[1], 0.7)], None), ([(flows[0], None), (flows[1], None)],
                                                                       coefficients)):
        fast = render_frame_bands(as_uint8, copies, coefficients=blend)
        reference = render_frame_bands(as_float, copies, coefficients=blend)
        assert np.abs(fast.astype(int) - reference).max() <= 1


@pytest.mark.parametrize("size", [(50, 66), (8, 4)])
def test_yuv_conversion_equals_swscales_within_a_level(size):
    import av
    from av.video.reformatter import ColorRange, Colorspace, Interpolation

    from cinescape.io.video import rgb_to_yuv420p

    frame = textured(*size, seed=5)
    ours = rgb_to_yuv420p(frame).astype(int)
    theirs = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        format="yuv420p", src_colorspace=Colorspace.ITU709, dst_colorspace=Colorspace.ITU709,
        src_color_range=ColorRange.JPEG, dst_color_range=ColorRange.MPEG,
        interpolation=Interpolation.AREA | Interpolation.ACCURATE_RND).to_ndarray().astype(int)
    assert ours.shape == theirs.shape == (size[0] * 3 // 2, size[1])
    assert np.abs(ours - theirs).max() <= 1 and abs((ours - theirs).mean()) < 0.1
    with pytest.raises(ValueError, match="even"):
        rgb_to_yuv420p(frame[:-1])


@pytest.mark.parametrize("size", [(97, 131), (120, 160)])
@pytest.mark.parametrize("subsample", [1, 4])
def test_guided_filter_of_a_uint8_guide_equals_its_float_copy(size, subsample):
    from cinescape.ops.layers import guided_filter

    photo = cv2.GaussianBlur(textured(*size, seed=4), (0, 0), 2)
    coarse = (sky_over_land(*size) > 0.5).astype(np.float32)
    as_float = np.multiply(photo, np.float32(1 / 255), dtype=np.float32)
    reference = guided_filter(as_float, coarse, 8, 1e-3, subsample=subsample)
    assert np.abs(guided_filter(photo, coarse, 8, 1e-3, subsample=subsample, guide_scale=1 / 255)
                  - reference).max() < 1e-6


def test_the_working_size_copy_is_made_without_a_full_float_tensor():
    import torch
    import torch.nn.functional as F

    from cinescape.io.image import image_to_tensor
    from cinescape.methods.al.engine import downsample_photo

    photo = textured(101, 157, seed=6)
    whole = F.interpolate(image_to_tensor(photo), size=(16, 24), mode="bilinear", align_corners=False,
                          antialias=True)
    assert torch.equal(downsample_photo(photo, (16, 24), band_pixels=157 * 9), whole)


@pytest.mark.parametrize("small, size", [((12, 20), (96, 160)), ((9, 27), (50, 750)), ((7, 13), (61, 97)),
                                         ((144, 216), (400, 6000))])
def test_columns_of_a_band_equal_those_of_the_whole_resize(small, size):
    from cinescape.ops.render_fast import band_planes, band_positions, band_rows

    rng = np.random.default_rng(7)
    field = rng.normal(0, 3, small + (3,)).astype(np.float32)
    full = cv2.resize(field, size[::-1], interpolation=cv2.INTER_LINEAR)
    width = size[1]
    for top, rows in ((0, 5), (size[0] // 2, 7), (size[0] - 4, 4)):
        for columns in ((0, width), (0, 1), (width - 1, width), (width // 3, width // 3 + 17), (5, width - 9)):
            band = band_rows(field, size, top, rows, columns)
            assert band.shape == (rows, columns[1] - columns[0], 3)
            np.testing.assert_allclose(band, full[top:top + rows, columns[0]:columns[1]], atol=1e-5)
            planes = band_planes(np.ascontiguousarray(field.transpose(2, 0, 1)), size, top, rows, columns)
            np.testing.assert_allclose(planes, full[top:top + rows, columns[0]:columns[1]].transpose(2, 0, 1),
                                       atol=1e-5)
            positions = band_positions(field[..., :2], size, top, rows, columns)
            np.testing.assert_allclose(positions[..., 0] - np.arange(*columns),
                                       full[top:top + rows, columns[0]:columns[1], 0], atol=1e-3)


def test_fluid_columns_bound_the_matte_per_row():
    from cinescape.ops.render_fast import band_columns, fluid_columns

    alpha = np.zeros((5, 9), np.float32)
    alpha[1, 3] = 0.2
    alpha[1, 6] = 1.0
    alpha[3, 0] = 1.0
    alpha[4, 8] = np.nan                               # unknown counts as fluid: sampled, not assumed still
    columns = fluid_columns(alpha[..., None])
    assert columns.tolist() == [[9, 0], [3, 7], [9, 0], [0, 1], [8, 9]]
    assert band_columns(columns, 0, 3, 9) == (3, 7) and band_columns(columns, 2, 3, 9)[0] >= 9


@pytest.mark.parametrize("blend", ["scalar", "weights", "coefficients", "sharpened"])
@pytest.mark.parametrize("flow_scale", [2.0, 30.0])
def test_frames_sampled_only_where_the_matte_is_equal_whole_width_bands(monkeypatch, blend, flow_scale):
    """A matte over part of the columns: the band's other columns are the photo, graded, and the fluid's columns
    are sampled alone (their flows, weights and coefficients resized for them only); the frame equals the one made
    of whole-width bands."""
    monkeypatch.setattr(render_fast, "BAND_PIXELS", 150 * 11)     # 11-row bands
    height, width = 90, 150
    photo = textured(height, width, seed=8)
    alpha = np.zeros((height, width), np.float32)
    yy, xx = np.mgrid[:height, :width]
    alpha[(xx - 40 - 0.3 * yy) ** 2 / 400 + (yy - 50) ** 2 / 900 < 1] = 1.0      # a slanted ellipse of fluid
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2)                                  # with soft edges
    alpha[alpha < 1e-3] = 0.0
    alpha[20, 140] = 0.5                                                         # and a speck far right
    layers = PhotoLayers.from_photo(photo, alpha, (18, 30))
    rng = np.random.default_rng(9)
    flows = [cv2.resize(rng.normal(0, flow_scale, (3, 5, 2)).astype(np.float32), (30, 18),
                        interpolation=cv2.INTER_CUBIC) for _ in range(2)]
    ramp = np.repeat(np.linspace(0.2, 0.9, width, dtype=np.float32)[None], height, 0)
    coefficients = np.concatenate((np.full((18, 30, 1), 0.6, np.float32), np.full((18, 30, 1), 0.5, np.float32),
                                   np.full((18, 30, 3), -0.05, np.float32),
                                   rng.uniform(0, 0.4, (18, 30, 2)).astype(np.float32)), axis=2)
    copies, fields = {"scalar": ([(flows[0], 0.3), (flows[1], 0.7)], None),
                      "weights": ([(flows[0], ramp), (flows[1], 1 - ramp)], None),
                      "coefficients": ([(flows[0], None), (flows[1], None)], coefficients[..., :5].copy()),
                      "sharpened": ([(flows[0], None), (flows[1], None)], coefficients)}[blend]
    grade = render_fast.grade_matrix(np.float32([0.9, 1.1, 0.8]), np.float32([0.05, -0.1, 0.0]))
    cropped = FastLayers(photo, layers.fluid_pixels, layers.alpha)
    assert cropped.columns[50].tolist() != [0, width]                  # the fluid's columns, not the whole row
    whole = FastLayers(photo, layers.fluid_pixels, layers.alpha, columns=np.tile([0, width], (height, 1)))
    ours = render_frame_bands(cropped, copies, grade, coefficients=fields)
    reference = render_frame_bands(whole, copies, grade, coefficients=fields)
    assert np.abs(ours.astype(int) - reference).max() <= 1
    # a level apart only where float rounding differs: OpenCV's vector and scalar loops (a pixel's place in its
    # row differs between the two) and sample positions shifted to the block's corner
    assert (ours != reference).mean() < 0.01
    still = alpha == 0                                                      # beyond the matte: the photo, graded
    assert np.abs(ours[still].astype(int) - cv2.transform(photo, grade)[still]).max() <= 1


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the resident set from /proc (Linux)")
def test_freed_heap_memory_is_given_back():
    from cinescape.io.memory import _malloc_trim, give_back_freed_memory

    if _malloc_trim() is None:
        pytest.skip("the C library has no malloc_trim (not glibc)")

    def resident_mb() -> float:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS"))
        return int(line.split()[1]) / 1024

    blocks = [bytearray(b"\1") * (64 << 10) for _ in range(2000)]     # 125 MB of 64 KB heap blocks
    del blocks[::2]                                  # every other one freed: holes the heap cannot shrink past
    before = resident_mb()
    assert give_back_freed_memory()
    assert resident_mb() < before - 40              # most of the 62 MB in the holes is returned
    assert all(block[-1] == 1 for block in blocks)   # and what is in use is untouched


@pytest.mark.parametrize("size", [(8660, 5773), (5773, 8660), (20000, 2500), (8194, 4354), (8192, 4352)])
def test_mp4_frames_fit_h264s_largest_level(size):
    from cinescape.io.video import H264_MAX_MACROBLOCKS, mp4_frame_size

    width, height = size
    out_w, out_h = mp4_frame_size(width, height)
    assert out_w % 2 == 0 and out_h % 2 == 0
    assert -(-out_w // 16) * -(-out_h // 16) <= H264_MAX_MACROBLOCKS
    if size == (8192, 4352):                         # level 6.2's own largest 16:9-ish frame: kept
        assert (out_w, out_h) == size
    else:
        assert abs(out_w / out_h - width / height) <= 2 / min(out_w, out_h) * (width / height)   # the aspect kept
        grown = (int(out_w * 1.03), int(out_h * 1.03))                  # and the largest: 3 % more does not fit
        assert -(-grown[0] // 16) * -(-grown[1] // 16) > H264_MAX_MACROBLOCKS


def test_mp4_frames_above_the_largest_level_are_scaled_down(monkeypatch, tmp_path):
    import av

    import cinescape.io.video as video

    monkeypatch.setattr(video, "H264_MAX_MACROBLOCKS", 6)          # 6 macroblocks: a 64×48 frame (12) is too big
    frame = textured(48, 64, seed=11)
    path = tmp_path / "loop.mp4"
    with video.VideoWriter(path, fps=10, background=True) as writer:
        for _ in range(3):
            writer.write(frame)
    assert writer.output_size == video.mp4_frame_size(64, 48) == video.video_size(path, (64, 48))
    out_w, out_h = writer.output_size
    assert -(-out_w // 16) * -(-out_h // 16) <= 6 and abs(out_w / out_h - 4 / 3) < 0.1
    with av.open(str(path)) as container:
        assert [f.to_ndarray(format="rgb24").shape for f in container.decode(video=0)] == [(out_h, out_w, 3)] * 3
    scaled = tmp_path / "scaled.mp4"                  # the same video as the frame scaled down by the caller
    with video.VideoWriter(scaled, fps=10, background=True) as writer:
        for _ in range(3):
            writer.write(cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA))
    assert scaled.read_bytes() == path.read_bytes()
    assert video.video_size("x.webm", (64, 48)) == (64, 48) and video.video_size("x.gif", (63, 47)) == (63, 47)


def test_bands_between_fluid_rows_without_fluid_are_the_graded_photo(monkeypatch):
    monkeypatch.setattr(render_fast, "BAND_PIXELS", 60 * 11)      # 11-row bands: rows 16-37 hold no fluid
    photo = textured(50, 60, seed=12)
    alpha = np.zeros((50, 60, 1), np.float32)
    alpha[5, 10:20] = alpha[40, 30:50] = 1.0
    fluid = textured(50, 60, seed=13)
    flow = np.full((5, 6, 2), 3.0, np.float32)
    grade = render_fast.grade_matrix(np.float32([0.9, 1.1, 0.8]), np.float32([0.05, -0.1, 0.0]))
    frame = render_frame_bands(FastLayers(photo, fluid, alpha), [(flow, 1.0)], grade)
    graded = cv2.transform(photo, grade)
    assert np.array_equal(frame[16:38], graded[16:38])           # bands without fluid: the photo graded, exactly
    still = alpha[..., 0] == 0          # elsewhere where nothing moves too, within float rounding (the composite)
    assert np.abs(frame[still].astype(int) - graded[still]).max() <= 1
    assert np.abs(frame[~still].astype(int) - graded[~still]).max() > 10   # and the fluid sampled where it does
