"""Algorithm 1 end to end on a tiny random pipeline: structure, loop, speeds, codes, round trips."""

import random

import numpy as np
import pytest
import torch

from cinescape.methods.al.codebook import Codebook, CodeSelector, first_pc_order
from cinescape.errors import ModelLoadError, OptionError
from cinescape.io.image import image_to_tensor, tensor_to_image
from cinescape.ops import resize_flow, warp
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline, working_shape
from conftest import assert_renders_alike


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    base = rng.random((12, 17, 3))
    up = np.kron(base, np.ones((5, 5, 1)))[:58, :81]  # blocky texture, 58x81 (odd sizes on purpose)
    return (up * 255).astype(np.uint8)


def test_frames_have_the_photos_size(tiny_pipeline, photo):
    frames = tiny_pipeline(photo, num_frames=5)
    assert len(frames) == 5
    assert all(f.shape == photo.shape and f.dtype == np.uint8 for f in frames)


def test_loop_none_starts_with_the_photo_itself(tiny_pipeline, photo):
    frames = tiny_pipeline(photo, num_frames=4, loop="none")
    assert np.array_equal(frames[0], photo)
    assert not np.array_equal(frames[1], photo)


def test_zero_motion_speed_without_appearance_is_the_photo(tiny_pipeline, photo):
    for frame in tiny_pipeline(photo, num_frames=4, motion_speed=0.0, appearance=False):
        assert np.array_equal(frame, photo)


def test_each_frame_samples_the_original_once(tiny_pipeline, photo):
    animation = tiny_pipeline.plan(photo, num_frames=4, loop="none", appearance=False)
    full = image_to_tensor(photo)
    for index in range(4):
        flow = resize_flow(animation.accumulated[index:index + 1], full.shape[-2:])
        assert_renders_alike(animation.frame(index), tensor_to_image(warp(full, flow, mode="bicubic")))


def test_crossfade_loop_structure(tiny_pipeline, photo):
    animation = tiny_pipeline.plan(photo, num_frames=6, appearance=False, loop="crossfade")
    assert animation.accumulated.shape[0] == 12  # 2N motion frames for an N-frame loop
    full = image_to_tensor(photo)
    render = lambda m: warp(full, resize_flow(animation.accumulated[m:m + 1], full.shape[-2:]),  # noqa: E731
                            mode="bicubic")
    # frame 0 is motion frame N: the frame after the last one (mostly motion frame N-1) continues into it
    assert_renders_alike(animation.frame(0), tensor_to_image(render(6)))
    expected = (2 / 6) * render(2) + (4 / 6) * render(8)
    assert np.abs(animation.frame(2).astype(int) - tensor_to_image(expected).astype(int)).max() <= 1


def test_motion_loops_repeat_within_the_appearance_cycle(tiny_pipeline, photo):
    frames = tiny_pipeline(photo, num_frames=8, appearance_speed=2, appearance=False)
    for k in range(4):
        assert np.array_equal(frames[k], frames[k + 4])


def test_motion_speed_scales_the_predicted_flow(tiny_pipeline, photo):
    slow = tiny_pipeline.plan(photo, num_frames=3, loop="none", appearance=False, motion_speed=0.5)
    fast = tiny_pipeline.plan(photo, num_frames=3, loop="none", appearance=False, motion_speed=1.0)
    # the first step sees the same input frame, so its flow is exactly scaled
    assert torch.allclose(slow.steps[1] * 2, fast.steps[1], atol=1e-6)


def test_the_model_folders_flow_scale_scales_network_flow_but_not_arrows(tiny_pipeline, photo, tmp_path):
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    scaled = CinemagraphPipeline(tiny_pipeline.motion, tiny_pipeline.appearance, tiny_pipeline.codebook,
                                 working_size=48, defaults={"flow_scale": 0.6})
    assert tiny_pipeline.flow_scale == 1.0 and scaled.flow_scale == 0.6
    settings = dict(num_frames=3, loop="none", appearance=False, auto_mask="none")
    for mode in ("recurrent", "eulerian"):
        plain = tiny_pipeline.plan(photo, mode=mode, **settings)
        slower = scaled.plan(photo, mode=mode, **settings)
        assert torch.allclose(plain.steps[1] * 0.6, slower.steps[1], atol=1e-6)
    # an arrow says its own speed (its length in pixels per frame), whatever the folder's scale
    arrows = tmp_path / "arrows.json"
    arrows.write_text('[{"from": [4, 16], "to": [7, 16]}]')
    for pipeline in (tiny_pipeline, scaled):
        steps = pipeline.plan(photo, arrows=str(arrows), arrows_mode="direct", **settings).steps
        assert torch.equal(steps, tiny_pipeline.plan(photo, arrows=str(arrows), arrows_mode="direct",
                                                     **settings).steps)
    # the folder keeps it
    scaled.save_pretrained(tmp_path / "model")
    assert CinemagraphPipeline.from_pretrained(tmp_path / "model").flow_scale == 0.6


def test_appearance_cycle_starts_from_the_photos_own_code(tiny_pipeline, photo):
    small = torch.rand(1, 3, 40, 56) * 2 - 1
    settings = AnimationSettings(num_frames=12, appearance_code="0")
    codes = tiny_pipeline.appearance_codes(small, settings, random.Random(0))
    own = tiny_pipeline.appearance.encode(small)[0]
    assert codes.shape == (12, 8)
    assert torch.allclose(codes[0], own, atol=1e-6)
    # cyclic: the last step returns towards the photo's own code
    assert (codes[-1] - own).norm() < (codes[len(codes) // 2] - own).norm()


def test_same_seed_same_video_and_codes_change_with_seed(tiny_pipeline, photo):
    a = tiny_pipeline(photo, num_frames=3, seed=1)
    b = tiny_pipeline(photo, num_frames=3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    chosen = {tiny_pipeline.codebook.motion_code(CodeSelector.parse(None), random.Random(s)).sum().item()
              for s in range(10)}
    assert len(chosen) > 1


def test_code_selectors():
    assert CodeSelector.parse("3") == CodeSelector(index=3)
    assert CodeSelector.parse("pc:0.25") == CodeSelector(pc=0.25)
    assert CodeSelector.parse(None) == CodeSelector.parse("random") == CodeSelector()
    for bad in ("pc:1.5", "x", "-1", "pc:"):
        with pytest.raises(OptionError):
            CodeSelector.parse(bad)
    # codes on a line: the first principal component orders them along it
    codes = torch.tensor([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    order = first_pc_order(codes).tolist()
    assert order in ([3, 1, 2, 0], [0, 2, 1, 3])
    book = Codebook(motion=codes)
    ends = {book.motion_code(CodeSelector(pc=0.0), random.Random(0))[0].item(),
            book.motion_code(CodeSelector(pc=1.0), random.Random(0))[0].item()}
    assert ends == {0.0, 3.0}
    with pytest.raises(OptionError, match="out of range"):
        book.motion_code(CodeSelector(index=4), random.Random(0))


@pytest.mark.parametrize("settings", [
    dict(num_frames=1), dict(loop="pingpong"), dict(motion_speed=-1.0), dict(motion_speed=float("nan")),
    dict(appearance_speed=0), dict(num_frames=9, appearance_speed=2), dict(working_size=8),
    dict(appearance_stride=0)])
def test_out_of_range_settings_are_rejected(tiny_pipeline, photo, settings):
    with pytest.raises(OptionError):
        tiny_pipeline.plan(photo, **settings)


@pytest.mark.parametrize("loop", ["crossfade", "none"])
def test_appearance_stride_interpolates_maps_between_predicted_frames(tiny_pipeline, photo, loop):
    every = tiny_pipeline.plan(photo, num_frames=8, loop=loop, seed=1)
    strided = tiny_pipeline.plan(photo, num_frames=8, loop=loop, seed=1, appearance_stride=3)
    exact = [every.maps(i) for i in range(8)]
    # predicted at 0, 3, 6 and (no loop) the last frame; in a loop the frame after the last is frame 0
    upper = {"crossfade": (8, 0), "none": (7, 7)}[loop]
    for index, (low, high, fraction) in {1: (0, 3, 1 / 3), 5: (3, 6, 2 / 3), 7: (6, upper[1], 1 / (upper[0] - 6))}.items():
        if exact[low] is None:  # loop none: frame 0 keeps the photo's colours, so frame 1 is predicted
            assert torch.allclose(strided.maps(index), exact[index], atol=1e-5)  # float32: batch-size rounding
            continue
        if index == 7 and loop == "none":
            assert torch.allclose(strided.maps(7), exact[7], atol=1e-5)
            continue
        expected = torch.lerp(exact[low].float(), exact[high].float(), fraction)
        assert torch.allclose(strided.maps(index), expected, atol=1e-5)
    for index in (3, 6):
        assert torch.allclose(strided.maps(index), exact[index], atol=1e-5)
    assert not torch.allclose(strided.maps(4), exact[4].float())   # really interpolated, not predicted


def test_pipeline_save_load_round_trip(tiny_pipeline, photo, tmp_path):
    tiny_pipeline.save_pretrained(tmp_path / "model")
    loaded = CinemagraphPipeline.from_pretrained(tmp_path / "model")
    assert loaded.working_size == 48
    assert torch.equal(loaded.codebook.motion, tiny_pipeline.codebook.motion)
    assert len(loaded.codebook.appearance) == 2
    # weights are stored as float16, so frames agree up to rounding
    a = tiny_pipeline(photo, num_frames=3, appearance=False, loop="none")
    b = loaded(photo, num_frames=3, appearance=False, loop="none")
    assert np.abs(a[2].astype(int) - b[2].astype(int)).mean() < 2.0


def test_foreign_or_corrupt_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        CinemagraphPipeline.from_pretrained(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="pipeline.json is missing"):
        CinemagraphPipeline.from_pretrained(tmp_path)
    (tmp_path / "pipeline.json").write_text("[1, 2")
    with pytest.raises(ModelLoadError, match="corrupt"):
        CinemagraphPipeline.from_pretrained(tmp_path)


def test_working_shape_keeps_aspect_and_multiples_of_8():
    assert working_shape(576, 1024, 144) == (144, 256)
    assert working_shape(2160, 3840, 144) == (144, 256)
    h, w = working_shape(1000, 333, 144)
    assert w == 144 and h % 8 == 0 and abs(h - 432) <= 4
    assert working_shape(100, 2000, 144) == (32, 576)  # a panorama's long side is capped at 4x


def test_motion_flow_units_follow_the_image_not_the_training_crop(tiny_pipeline):
    # Same content, two widths: the x flow in *pixels* must agree, so normalised x flows differ by the width ratio.
    motion = tiny_pipeline.motion
    reference = motion.predictor.config.reference_size
    image = torch.rand(1, 3, reference, reference) * 2 - 1
    wide = torch.cat((image, image), dim=-1)
    z = torch.randn(1, 8)
    with torch.no_grad():   # all at inference (the same runtime: ONNX Runtime where installed)
        square_flow = motion.predict_flow(image, z)
        raw_square = motion.predictor(image, z)
        raw_wide = motion.predictor(wide, z)
        wide_flow = motion.predict_flow(wide, z)
    assert torch.allclose(square_flow, raw_square)  # at the reference size nothing changes
    assert torch.allclose(wide_flow[:, 0], raw_wide[:, 0] / 2) and torch.allclose(wide_flow[:, 1], raw_wide[:, 1])


def test_batched_colour_maps_equal_maps_predicted_one_frame_at_a_time(tiny_pipeline, photo, monkeypatch):
    import cinescape.methods.al.animation as pipeline_module

    maps = {}
    for batch in (1, 3):
        monkeypatch.setattr(pipeline_module, "MAP_BATCH", batch)
        animation = tiny_pipeline.plan(photo, num_frames=7, loop="symmetric", seed=2, appearance_stride=2)
        maps[batch] = [animation.maps(i) for i in (6, 0, 1, 2, 3, 4, 5)]   # out of order: the cache must cope
    for one, batched in zip(maps[1], maps[3]):
        assert torch.allclose(one, batched, atol=1e-5)
    assert not torch.allclose(maps[1][1], maps[1][3])   # frames really have different maps


@pytest.mark.parametrize("stride, loop", [(1, "crossfade"), (2, "symmetric"), (3, "symmetric"), (4, "none")])
def test_rendering_in_order_predicts_every_anchor_once(tiny_pipeline, photo, monkeypatch, stride, loop):
    from cinescape.methods.al import Animation

    predicted = []
    original = Animation._predict_maps
    def counting(self, indices):
        predicted.extend(indices)
        return original(self, indices)

    monkeypatch.setattr(Animation, "_predict_maps", counting)
    # the maps' anchors (grade_keyframes: the default grade's own keyframes, tests/test_grade_keyframes.py)
    animation = tiny_pipeline.plan(photo, num_frames=23, loop=loop, seed=0, appearance_stride=stride,
                                   grade_keyframes=False)
    list(animation.frames())
    anchors = list(range(0, 23, stride)) + ([22] if loop == "none" and 22 % stride else [])
    if loop == "none" and stride > 1:   # frame 0 keeps the photo's colours: frames 1..stride-1 are predicted alone
        anchors += list(range(1, stride))
    assert sorted(predicted) == sorted(anchors)
