"""Control and seamless loops: Eulerian motion, symmetric loops and motion masks (issue 5)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cinescape.errors import CinescapeError, InputImageError, ModelLoadError, OptionError
from cinescape.eval.metrics import seam_ratio
from cinescape.io.image import image_to_tensor, tensor_to_image
from cinescape.ops import (accumulate_flow, erode_mask, feather_mask, flow_pixels_to_normalized, integrate_velocity,
                           resize_flow, symmetric_schedule, warp)

from conftest import assert_renders_alike, run_cli


def constant_motion(pipeline, pixels=(1.0, 0.5)):
    """Replace the motion network by a constant flow of ``pixels`` (x, y) per frame; count its calls."""
    calls = []

    def predict_flow(image, z):
        calls.append(tuple(image.shape))
        h, w = image.shape[-2:]
        return flow_pixels_to_normalized(torch.tensor(pixels).view(1, 2, 1, 1).expand(1, 2, h, w), h, w)

    pipeline.motion.predict_flow = predict_flow
    return calls


def as_video(frames):
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


# ---------------------------------------------------------------------------------------- ops


def test_constant_velocity_integrates_to_t_times_v():
    v = flow_pixels_to_normalized(torch.tensor([1.5, -0.75]).view(1, 2, 1, 1).expand(2, 2, 9, 13), 9, 13)
    flows = integrate_velocity(v, 6)
    assert flows.shape == (7, 2, 2, 9, 13)
    for t in range(7):
        assert torch.allclose(flows[t], t * v, atol=1e-6)
    assert torch.allclose(integrate_velocity(-v, 6)[6], -6 * v, atol=1e-6)


def test_zero_field_stays_zero_and_zero_steps_is_just_the_start():
    assert torch.equal(integrate_velocity(torch.zeros(1, 2, 5, 7), 4), torch.zeros(5, 1, 2, 5, 7))
    assert torch.equal(integrate_velocity(torch.randn(1, 2, 5, 7), 0), torch.zeros(1, 1, 2, 5, 7))


def test_shear_field_integrates_in_closed_form():
    # v = (f(y), 0): each path stays on its row, where the field is constant, so A_t = t * v exactly.
    h, w = 6, 20
    speed_px = torch.linspace(-2, 2, h).view(1, 1, h, 1).expand(1, 1, h, w)
    v = flow_pixels_to_normalized(torch.cat((speed_px, torch.zeros_like(speed_px)), dim=1), h, w)
    flows = integrate_velocity(v, 5)
    for t in range(6):
        assert torch.allclose(flows[t], t * v, atol=1e-6)


def test_integration_equals_repeated_accumulate_flow():
    torch.manual_seed(0)
    v = 0.05 * torch.randn(2, 2, 12, 16)
    for padding in ("reflection", "border"):   # the same arithmetic, with the sampling grid made once: bit-equal
        flows = integrate_velocity(v, 4, padding=padding)
        expected = torch.zeros_like(v)
        for t in range(1, 5):
            expected = accumulate_flow(expected, v, padding=padding)
            assert torch.equal(flows[t], expected)
    v = v[:1]
    flows = integrate_velocity(v, 4)
    # warping the photo once with A_t equals warping t times with V (up to bilinear blur)
    image = F.interpolate(torch.rand(1, 3, 3, 4), size=(12, 16), mode="bilinear", align_corners=False)
    step_by_step = image
    for _ in range(2):
        step_by_step = warp(step_by_step, v)
    assert (warp(image, flows[2]) - step_by_step).abs().max() < 0.05


def test_integrate_velocity_rejects_bad_shapes():
    with pytest.raises(ValueError):
        integrate_velocity(torch.zeros(1, 3, 4, 4), 2)
    with pytest.raises(ValueError):
        integrate_velocity(torch.zeros(1, 2, 4, 4), -1)


def test_symmetric_schedule_starts_and_ends_on_the_photo():
    n = 5
    schedule = symmetric_schedule(n)
    assert schedule[0] == ((0, 1.0),)
    for t, entry in enumerate(schedule[1:], start=1):
        (forward, w_forward), (backward, w_backward) = entry
        assert forward == t and backward == 2 * n - 1 - t  # state N-1+k is the photo moved k steps back
        assert w_forward == pytest.approx(1 - t / n) and w_backward == pytest.approx(t / n)
    assert max(i for entry in schedule for i, _ in entry) == 2 * n - 2  # 2N - 1 motion states
    with pytest.raises(ValueError):
        symmetric_schedule(0)


def test_feather_mask_softens_only_the_edge():
    mask = torch.zeros(1, 1, 20, 30)
    mask[..., 10:] = 1
    soft = feather_mask(mask, 1.0)
    assert soft.min() >= 0 and soft.max() <= 1
    assert torch.equal(soft[..., :6], torch.zeros_like(soft[..., :6]))      # far inside: exact 0 ...
    assert torch.equal(soft[..., 14:], torch.ones_like(soft[..., 14:]))     # ... and exact 1
    assert 0 < soft[0, 0, 0, 9] < 0.5 < soft[0, 0, 0, 10] < 1
    for constant in (torch.zeros(1, 1, 7, 9), torch.ones(1, 1, 7, 9)):
        assert torch.equal(feather_mask(constant, 1.0), constant)


def test_erode_mask_shrinks_the_moving_region_by_the_radius():
    mask = torch.zeros(1, 1, 9, 11)
    mask[..., 2:7, 3:8] = 1                      # a 5x5 square ...
    eroded = erode_mask(mask, 1)
    expected = torch.zeros_like(mask)
    expected[..., 3:6, 4:7] = 1                  # ... becomes the 3x3 one inside it
    assert torch.equal(eroded, expected)
    centre = torch.zeros_like(mask)
    centre[..., 4, 5] = 1
    assert torch.equal(erode_mask(mask, 2), centre)      # radius 2: only the centre is left
    ramp = torch.linspace(0, 1, 11).view(1, 1, 1, 11).expand(1, 1, 5, 11)
    assert torch.allclose(erode_mask(ramp, 1)[..., 1:], ramp[..., :-1])   # a soft edge moves one pixel inwards
    border = torch.ones(1, 1, 4, 4)
    assert torch.equal(erode_mask(border, 1), border)     # the outside of the image does not erode
    assert torch.equal(erode_mask(mask, 0), mask)
    with pytest.raises(ValueError):
        erode_mask(mask, -1)


# --------------------------------------------------------------------------------- Eulerian mode


def test_eulerian_mode_calls_the_network_once(tiny_pipeline, photo):
    calls = []
    predict = tiny_pipeline.motion.predict_flow
    tiny_pipeline.motion.predict_flow = lambda image, z: calls.append(1) or predict(image, z)
    animation = tiny_pipeline.plan(photo, num_frames=6, loop="none", mode="eulerian", appearance=False)
    frames = list(animation.frames())
    assert len(calls) == 1
    assert len(frames) == 6 and all(f.shape == photo.shape and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], photo)
    assert not np.array_equal(frames[3], photo)
    # the accumulated flows are the single velocity field, integrated; each frame samples the photo once
    velocity = animation.steps[1:2]
    assert torch.equal(animation.steps[1:], velocity.expand(5, -1, -1, -1))
    assert torch.allclose(animation.accumulated, integrate_velocity(velocity, 5)[:, 0])
    full = image_to_tensor(photo)
    flow = resize_flow(animation.accumulated[4:5], full.shape[-2:])
    assert_renders_alike(frames[4], tensor_to_image(warp(full, flow, mode="bicubic")))


def test_eulerian_mode_with_appearance_and_crossfade(tiny_pipeline, photo):
    frames = tiny_pipeline(photo, num_frames=4, mode="eulerian")
    assert len(frames) == 4 and frames[0].shape == photo.shape


def test_eulerian_equals_recurrent_for_a_constant_field(tiny_pipeline, photo):
    constant_motion(tiny_pipeline)
    recurrent = tiny_pipeline.plan(photo, num_frames=5, loop="none", appearance=False)
    eulerian = tiny_pipeline.plan(photo, num_frames=5, loop="none", appearance=False, mode="eulerian")
    assert torch.allclose(recurrent.accumulated, eulerian.accumulated, atol=1e-6)


# --------------------------------------------------------------------------------- symmetric loop


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
def test_symmetric_loop_closes_without_a_seam(tiny_pipeline, photo, mode):
    calls = constant_motion(tiny_pipeline)
    n = 16
    ratios = {loop: seam_ratio(as_video(tiny_pipeline(photo, num_frames=n, loop=loop, mode=mode, appearance=False)))
              for loop in ("none", "crossfade", "symmetric")}
    assert ratios["symmetric"] <= 1.5
    assert ratios["symmetric"] < ratios["none"] / 2  # not a loop: the last frame is far from the first
    assert ratios["symmetric"] <= ratios["crossfade"] * 1.1
    assert len(calls) == (3 if mode == "eulerian" else (n - 1) + (2 * n - 1) + 2 * (n - 1))


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
def test_symmetric_loop_blends_forward_and_backward_motion(tiny_pipeline, photo, mode):
    n = 6
    animation = tiny_pipeline.plan(photo, num_frames=n, loop="symmetric", mode=mode, appearance=False)
    assert animation.accumulated.shape[0] == 2 * n - 1
    assert torch.equal(animation.accumulated[0], torch.zeros_like(animation.accumulated[0]))
    frames = list(animation.frames())
    assert np.array_equal(frames[0], photo)  # frame 0 is the photo, and frame N would be too
    full = image_to_tensor(photo)
    render = lambda m: warp(full, resize_flow(animation.accumulated[m:m + 1], full.shape[-2:]), mode="bicubic")  # noqa: E731
    expected = (4 / 6) * render(2) + (2 / 6) * render(2 * n - 1 - 2)
    assert np.abs(frames[2].astype(int) - tensor_to_image(expected).astype(int)).max() <= 1
    if mode == "eulerian":  # the backward half is the negated field, integrated
        velocity = animation.steps[1:2]
        assert torch.allclose(animation.accumulated[n:], integrate_velocity(-velocity, n - 1)[1:, 0], atol=1e-6)


def test_symmetric_loop_with_appearance_speed(tiny_pipeline, photo):
    frames = tiny_pipeline(photo, num_frames=8, loop="symmetric", appearance_speed=2, appearance=False)
    for k in range(4):
        assert np.array_equal(frames[k], frames[k + 4])
    with pytest.raises(OptionError, match="multiple"):
        tiny_pipeline.plan(photo, num_frames=9, loop="symmetric", appearance_speed=2)


def test_symmetric_flow_video(tiny_pipeline, photo):
    animation = tiny_pipeline.plan(photo, num_frames=4, loop="symmetric", mode="eulerian", appearance=False)
    flows = list(animation.flow_frames())
    assert len(flows) == 4 and flows[1].shape == photo.shape


# --------------------------------------------------------------------------------------------- masks


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
@pytest.mark.parametrize("loop", ["none", "crossfade", "symmetric"])
def test_all_zero_mask_freezes_every_frame(tiny_pipeline, photo, mode, loop):
    mask = np.zeros(photo.shape[:2], np.float32)
    for frame in tiny_pipeline(photo, num_frames=4, loop=loop, mode=mode, appearance=False, mask=mask):
        assert np.array_equal(frame, photo)


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
def test_all_ones_mask_equals_no_mask(tiny_pipeline, photo, mode):
    plain = tiny_pipeline(photo, num_frames=4, mode=mode, appearance=False)
    masked = tiny_pipeline(photo, num_frames=4, mode=mode, appearance=False, mask=torch.ones(photo.shape[:2]))
    assert all(np.array_equal(a, b) for a, b in zip(plain, masked))
    moving = tiny_pipeline(photo, num_frames=4, mode=mode, appearance=False, loop="none")
    assert not np.array_equal(moving[3], photo)


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
def test_half_mask_freezes_one_side_exactly(tiny_pipeline, photo, mode):
    constant_motion(tiny_pipeline, pixels=(0.0, 1.0))  # vertical motion: nothing crosses the mask's edge
    mask = np.zeros(photo.shape[:2], bool)
    mask[:, 45:] = True  # the right part may move
    frames = tiny_pipeline(photo, num_frames=5, loop="none", mode=mode, appearance=False, mask=mask)
    for frame in frames:
        assert np.array_equal(frame[:, :30], photo[:, :30])  # frozen, away from the feathered edge
    assert not np.array_equal(frames[4][:, 60:], photo[:, 60:])
    # the frozen side is the still layer (matte exactly 0), and nothing moves there on screen (the flow video);
    # behind it the fluid layer moves as one sheet
    animation = tiny_pipeline.plan(photo, num_frames=5, loop="none", mode=mode, appearance=False, mask=mask)
    assert not animation.layers.alpha[:, :30].any()
    assert torch.equal(animation.steps[..., :10], torch.zeros_like(animation.steps[..., :10]))
    assert animation.accumulated[4, 1, :, :10].abs().min() > 0


def test_masks_of_another_size_and_from_files(tiny_pipeline, photo, tmp_path):
    small = np.zeros((10, 14), np.float32)
    frames = tiny_pipeline(photo, num_frames=3, appearance=False, mask=small)  # resized to the photo
    assert all(np.array_equal(f, photo) for f in frames)
    path = tmp_path / "mask.png"
    Image.fromarray(np.zeros((29, 40), np.uint8)).save(path)
    frames = tiny_pipeline(photo, num_frames=3, appearance=False, mask=str(path), mode="eulerian")
    assert all(np.array_equal(f, photo) for f in frames)
    grey = tiny_pipeline(photo, num_frames=3, appearance=False, mask=np.full(photo.shape[:2], 128, np.uint8))
    full = tiny_pipeline(photo, num_frames=3, appearance=False)
    assert not np.array_equal(grey[1], full[1])  # grey moves partly


@pytest.mark.parametrize("mask", [np.full((5, 5), 2.0), np.full((5, 5), np.nan), np.zeros((2, 5, 5)), "nope"])
def test_bad_masks_are_rejected(tiny_pipeline, photo, tmp_path, mask):
    if isinstance(mask, str):
        mask = tmp_path / "not_an_image.png"
        mask.write_text("not an image")
    with pytest.raises(CinescapeError):
        tiny_pipeline.plan(photo, num_frames=3, mask=mask)


@pytest.mark.parametrize("settings", [dict(mode="lagrangian"), dict(auto_mask="water"), dict(loop="pingpong")])
def test_unknown_modes_are_rejected(tiny_pipeline, photo, settings):
    with pytest.raises(OptionError):
        tiny_pipeline.plan(photo, **settings)


def test_sky_mask_without_weights_names_the_missing_file(tiny_pipeline, photo, no_segmentation_weights):
    with pytest.raises(ModelLoadError, match=r"skyseg/skysegsmall_sim-opt-fp16\.param|ncnn"):
        tiny_pipeline.plan(photo, num_frames=3, auto_mask="sky")


def test_auto_sky_mask_freezes_the_land(tiny_pipeline):
    # the sky matte ships in the package and ncnn is a dependency: no weights folder needed
    from cinescape.data.synthetic import generate_landscape_photo

    photo = generate_landscape_photo(96, 160, seed=3)
    from cinescape.segmentation import sky_mask

    sky = sky_mask(photo)
    assert sky.shape == photo.shape[:2] and 0 <= sky.min() and sky.max() <= 1
    frozen = sky < 1e-6
    assert frozen.mean() > 0.1  # some land
    frames = tiny_pipeline(photo, num_frames=4, loop="none", appearance=False, auto_mask="sky")
    plain = tiny_pipeline(photo, num_frames=4, loop="none", appearance=False)
    # well inside the land (a 12 px margin: the feathered edge is 3 working-size px = 6 px here, plus the
    # bilinear flow upsampling and the matte's own resizing), frames are the photo
    land = torch.from_numpy(frozen)[None, None].float()
    land = (-F.max_pool2d(-land, 25, stride=1, padding=12))[0, 0].bool().numpy()
    assert land.mean() > 0.05
    for frame in frames:
        assert np.array_equal(frame[land], photo[land])
    assert not np.array_equal(plain[3][land], photo[land])


def test_automatic_matte_snaps_to_the_photos_edges_and_a_user_mask_is_used_as_given(tiny_pipeline, monkeypatch):
    import cinescape.segmentation as segmentation
    from cinescape.methods.al.pipeline import AnimationSettings

    photo = np.full((40, 40, 3), 200, np.uint8)
    photo[23:] = 40                                             # the land: rows 23 on
    coarse = np.zeros((40, 40), np.float32)
    coarse[:20] = 1                                             # a coarse sky matte, 3 px off the skyline
    coarse[20:26] = np.linspace(1, 0, 6)[:, None]
    monkeypatch.setattr(segmentation, "SkyMatte", lambda: object())      # no weights needed
    monkeypatch.setattr(segmentation, "sky_mask", lambda image, size, matte: coarse)
    auto = tiny_pipeline.fluid_matte(photo, AnimationSettings(auto_mask="sky"))
    drawn = tiny_pipeline.fluid_matte(photo, AnimationSettings(mask=coarse, auto_mask="none"))
    # refined: the sky (rows < 23) moves, the land (rows >= 23) is still, with the photo's own edge
    assert auto[:22].min() > 0.95 and auto[24:].max() < 0.05
    np.testing.assert_allclose(drawn, coarse, atol=1e-6)          # a user mask is taken as drawn
    small = tiny_pipeline.motion_mask(photo, AnimationSettings(auto_mask="sky"), (20, 20), matte=auto)
    assert small.shape == (1, 1, 20, 20) and abs(float(small.mean()) - float(auto.mean())) < 1e-3


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_eulerian_symmetric_with_a_mask(model_dir, photo_path, tmp_path, capsys):
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(mask)  # another size: resized
    out = tmp_path / "frames"
    code, err = run_cli(["animate", photo_path, "-o", f"{out}/", "--frames", 4, "--mode", "eulerian", "--loop",
                         "symmetric", "--mask", mask, "--no-appearance", "--model", model_dir, "-q"], capsys)
    assert code == 0, err
    photo = np.asarray(Image.open(photo_path))
    for path in sorted(out.iterdir()):
        assert np.array_equal(np.asarray(Image.open(path)), photo)  # all black: frozen


@pytest.mark.parametrize("content", [b"", b"this is not an image", None])
def test_cli_bad_mask_is_a_one_line_error(model_dir, photo_path, tmp_path, capsys, content):
    mask = tmp_path / "mask.png"
    if content is not None:
        mask.write_bytes(content)
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 3, "--mask", mask, "--model", model_dir, "-q"],
                        capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cinescape: error: --mask:") and "Traceback" not in err
    assert "mask.png" in lines[0]
    assert not out.exists()


def test_cli_rejects_unknown_modes(model_dir, photo_path, tmp_path, capsys):
    for extra in (["--mode", "lagrangian"], ["--auto-mask", "water"], ["--loop", "pingpong"]):
        code, err = run_cli(["animate", photo_path, "-o", tmp_path / "x.mp4", "--model", model_dir, *extra], capsys)
        assert code == 2 and err.startswith("cinescape: error:")


def test_cli_missing_sky_weights_is_a_one_line_error(model_dir, photo_path, tmp_path, capsys,
                                                     no_segmentation_weights):
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 3, "--auto-mask", "sky", "--model", model_dir,
                         "-q"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "skyseg/skysegsmall_sim-opt-fp16.param" in err or "ncnn" in err
    assert not out.exists()


def test_load_mask_reads_grey_levels(tmp_path):
    from cinescape.segmentation import as_mask_tensor, load_mask

    path = tmp_path / "m.png"
    Image.fromarray(np.array([[0, 255], [51, 255]], np.uint8)).save(path)
    assert np.allclose(load_mask(path), [[0, 1], [0.2, 1]])
    assert as_mask_tensor(path).shape == (1, 1, 2, 2)
    with pytest.raises(InputImageError, match="--mask"):
        load_mask(tmp_path / "missing.png")


# ------------------------------------------------------------------------------------ evaluate, bench


def test_evaluate_and_bench_measure_both_modes(tiny_pipeline, tmp_path):
    from cinescape.eval.bench import format_bench_table, run_bench
    from cinescape.eval.evaluate import EvalClip, PipelineMethod, resolve_method, EvalSettings

    rng = np.random.default_rng(0)
    clip = EvalClip(name="c", frames=(rng.random((5, 32, 32, 3)) * 255).astype(np.uint8))
    for mode in ("recurrent", "eulerian"):
        generated = PipelineMethod(tiny_pipeline, "tiny", loop="symmetric", mode=mode).generate(clip, seed=0)
        assert generated.frames.shape == clip.frames.shape and generated.flows is None
        assert np.array_equal(generated.frames[0], clip.frames[0])
    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    method = resolve_method(str(model), EvalSettings(synthetic=1, loop="symmetric", mode="eulerian"))
    assert (method.loop, method.mode) == ("symmetric", "eulerian")
    with pytest.raises(OptionError):
        EvalSettings(synthetic=1, mode="x").validate()
    result = run_bench([(48, 32)], frames=4, loops=("symmetric",), modes=("recurrent", "eulerian"),
                       appearance=(False,), model=str(model), isolate=False, progress=False)
    assert [(r["mode"], r["loop"]) for r in result["rows"]] == [("recurrent", "symmetric"), ("eulerian", "symmetric")]
    assert "| 48x32 | symmetric | False | 4 | eulerian |" in format_bench_table(result)
