"""Control (issue 5, AL Sec. 6.4 and App. B): arrows, appearance patches, time-of-day schedules, the appearance LSTM."""

import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cinescape.methods.al.appearance_lstm import AppearanceLSTM
from cinescape.methods.al.train_lstm import appearance_lstm_loss, train_appearance_lstm
from cinescape.methods.al.codebook import Codebook
from cinescape.methods.al.control import (AppearancePatches, arrow_field, arrow_loss, load_arrows, load_patches, patch_loss,
                               rasterize_arrows)
from cinescape.errors import CinescapeError, OptionError
from cinescape.ops import color_transfer, flow_normalized_to_pixels
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline
from cinescape.methods.al.time_of_day import (TimeOfDayCodes, classify_time_of_day, image_statistics, parse_time_of_day,
                                   time_of_day_keyframes)

from conftest import run_cli

H, W = 58, 81  # the size of conftest's ``photo``
LEFT = [{"from": [60, 12], "to": [57, 12]}, {"from": [40, 30], "to": [37, 30]}]
RIGHT = [{"from": [20, 12], "to": [23, 12]}, {"from": [40, 30], "to": [43, 30]}]


def _small(pipeline, photo):
    from cinescape.io.image import image_to_tensor
    from cinescape.methods.al.pipeline import working_shape

    full = image_to_tensor(photo)
    return F.interpolate(full, size=working_shape(H, W, pipeline.working_size), mode="bilinear", align_corners=False,
                         antialias=True)


def _code_driven_motion(pipeline):
    """Motion 'network' whose flow is a uniform field set by the code: (0.05 tanh(z0), 0.05 tanh(z1))."""
    def predict_flow(image, z):
        h, w = image.shape[-2:]
        return (0.05 * torch.tanh(z[:, :2]))[:, :, None, None].expand(-1, -1, h, w)

    pipeline.motion.predict_flow = predict_flow


# ------------------------------------------------------------------------------------------ arrow files


@pytest.mark.parametrize("content, message", [
    ('{"from": [1, 2], "to": [3, 4]}', "expected a JSON list"),
    ("[]", "empty"),
    ('[{"from": [1, 2]}]', 'no "to" key'),
    ('[{"from": [1, 2], "to": ["a", 4]}]', "two numbers"),
    ('[{"from": [1, 2], "to": [3]}]', "two numbers"),
    ('[{"from": [1, 2], "to": [3, true]}]', "two numbers"),
    ('[{"from": [1, 2], "to": [500, 4]}]', "outside the 81x58 image"),
    ('[{"from": [-1, 2], "to": [3, 4]}]', "outside"),
    ('[{"from": [5, 5], "to": [5, 5]}]', "zero length"),
    ('[{"from": [0, 0], "to": [81, 58]}]', "arrow 0 is 99.62 px long; at most 81 px"),
    ("[" + ", ".join(['{"from": [5, 5], "to": [6, 5]}'] * 65) + "]", "65 arrows; at most 64"),
    ('[{"from": [1, 2], "to": [3, 4], "speed": 2}]', "unknown key"),
    ("[[1, 2, 3, 4]]", "must be an object"),
    ('[{"from": [1, 2], "to": [3, 4]', "not valid JSON"),
    (None, "does not exist"),
])
def test_bad_arrow_files_are_one_line_cli_errors(model_dir, photo_path, tmp_path, capsys, content, message):
    arrows = tmp_path / "arrows.json"
    if content is not None:
        arrows.write_text(content)
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 3, "--arrows", arrows, "--model", model_dir,
                         "-q"], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cinescape: error: --arrows:") and "Traceback" not in err
    assert message in lines[0]
    assert not out.exists()


def test_bad_arrows_through_the_api(tiny_pipeline, photo):
    with pytest.raises(OptionError, match="outside"):
        tiny_pipeline.plan(photo, num_frames=3, arrows=[{"from": [0, 0], "to": [W + 1, 0]}])
    with pytest.raises(OptionError, match="arrows_mode"):
        tiny_pipeline.plan(photo, num_frames=3, arrows=LEFT, arrows_mode="sideways")


def test_arrows_parse_to_normalised_backward_flows():
    arrows = load_arrows([{"from": [0, 10], "to": [4, 10]}, {"from": [80, 20], "to": [80, 18]}], (40, 80))
    assert torch.allclose(arrows.start, torch.tensor([[-1.0, -0.5], [1.0, 0.0]]))
    # content moving +4 px in x has the backward flow -4 px = -4 * 2 / 80 normalised
    assert torch.allclose(arrows.flow, torch.tensor([[-0.1, 0.0], [0.0, 0.1]]))
    assert load_arrows(arrows, (1, 1)) is arrows


# ------------------------------------------------------------------------------------------ latent mode


def test_rasterized_arrows_cover_their_segments():
    arrows = load_arrows([{"from": [8, 20], "to": [72, 20]}], (40, 80))
    target, mask = rasterize_arrows(arrows, (40, 80), radius=1.5)
    assert target.shape == (1, 2, 40, 80) and mask.shape == (1, 1, 40, 80)
    rows = mask[0, 0].nonzero()[:, 0]
    assert set(rows.tolist()) == {18, 19, 20, 21}            # pixel centres 18.5..21.5 are within 1.5 px of y = 20
    assert mask[0, 0, 20, 8:72].all() and not mask[0, 0, 20, :5].any()
    on = mask[0, 0].bool()
    assert torch.allclose(target[0, 0][on], torch.tensor(-64 * 2 / 80)) and (target[:, :, ~on] == 0).all()
    tiny = rasterize_arrows(arrows, (5, 10))[1]
    assert tiny.sum() >= 1                                    # at least one pixel, however small the grid


def test_arrow_loss_is_eq12_with_margin():
    target = torch.zeros(1, 2, 4, 4)
    target[:, 0] = 0.1
    mask = torch.ones(1, 1, 4, 4)
    same, opposite = target * 3, -target
    at_70_degrees = torch.stack((torch.full((4, 4), np.cos(np.radians(70))), torch.full((4, 4), np.sin(np.radians(70)))))[None]
    assert arrow_loss(same, target, mask)[0] == 0
    assert arrow_loss(opposite, target, mask)[0] == pytest.approx((2 - 0.5) ** 2)
    assert arrow_loss(at_70_degrees, target, mask)[0] == pytest.approx((1 - np.cos(np.radians(70)) - 0.5) ** 2, rel=1e-4)
    _, stats = arrow_loss(same, target, mask, speed_weight=1.0)
    assert stats["speed"] == pytest.approx(4.0)               # 3x too fast: ((3 - 1) / 1)^2


@pytest.mark.parametrize("arrows", [LEFT, RIGHT])
def test_latent_optimisation_lowers_the_eq12_loss(tiny_pipeline, photo, arrows):
    small = _small(tiny_pipeline, photo)
    parsed = load_arrows(arrows, (H, W))
    target, mask = rasterize_arrows(parsed, tuple(small.shape[-2:]))
    start = tiny_pipeline.codebook.motion[0]

    def eq12(z):
        with torch.no_grad():
            return arrow_loss(tiny_pipeline.motion.predict_flow(small, z[None]), target, mask, speed_weight=0.5)[1]

    weights = [p.detach().clone() for p in tiny_pipeline.motion.parameters()]
    z, history = tiny_pipeline.arrow_motion_code(small, parsed, start, steps=30)
    before, after = eq12(start), eq12(z)
    assert history[0]["loss"] == pytest.approx(before["loss"], rel=1e-4)
    assert after["loss"] < 0.9 * before["loss"]
    assert after["direction"] <= before["direction"]
    assert all(torch.equal(a, b.detach()) for a, b in zip(weights, tiny_pipeline.motion.parameters()))  # frozen
    assert all(p.grad is None for p in tiny_pipeline.motion.parameters())


def test_latent_mode_steers_a_code_driven_model(tiny_pipeline, photo):
    _code_driven_motion(tiny_pipeline)
    means = {}
    for name, arrows in (("left", LEFT), ("right", RIGHT)):
        animation = tiny_pipeline.plan(photo, num_frames=3, loop="none", appearance=False, arrows=arrows,
                                       control_steps=60)
        means[name] = float(animation.steps[1:, 0].mean())          # backward flow x
        history = animation.control["arrows"]
        assert history[0]["loss"] > min(h["loss"] for h in history)
    assert means["left"] > 0 > means["right"]   # content moving left has a positive backward x flow


# ------------------------------------------------------------------------------------------ direct mode


def test_direct_field_follows_the_arrows_on_their_pixels():
    arrows = load_arrows([{"from": [10, 8], "to": [13, 8]}, {"from": [60, 30], "to": [60, 28]}], (40, 80))
    field = arrow_field(arrows, (40, 80))
    target, mask = rasterize_arrows(arrows, (40, 80), radius=0.8)
    on = mask[0, 0].bool()
    f, t = flow_normalized_to_pixels(field)[0][:, on], flow_normalized_to_pixels(target)[0][:, on]
    cosine = (f * t).sum(0) / (f.norm(dim=0) * t.norm(dim=0))
    assert cosine.min() > 0.95
    assert torch.allclose(f.norm(dim=0), t.norm(dim=0), rtol=0.25)
    # one arrow: the same vector everywhere
    one = arrow_field(load_arrows([{"from": [10, 8], "to": [13, 8]}], (40, 80)), (20, 40))
    assert torch.allclose(one, one[..., :1, :1].expand_as(one), atol=1e-6)
    assert torch.allclose(flow_normalized_to_pixels(one, 40, 80)[0, :, 0, 0], torch.tensor([-3.0, 0.0]), atol=1e-5)


@pytest.mark.parametrize("mode", ["recurrent", "eulerian"])
def test_direct_mode_is_zero_where_the_mask_is(tiny_pipeline, photo, mode):
    calls = []
    predict = tiny_pipeline.motion.predict_flow
    tiny_pipeline.motion.predict_flow = lambda image, z: calls.append(1) or predict(image, z)
    mask = np.zeros((H, W), np.float32)
    mask[:, 45:] = 1
    animation = tiny_pipeline.plan(photo, num_frames=5, loop="none", appearance=False, arrows=RIGHT,
                                   arrows_mode="direct", mask=mask, mode=mode)
    assert not calls                                                  # no network in the direct mode
    assert torch.equal(animation.steps[..., :20], torch.zeros_like(animation.steps[..., :20]))
    assert not animation.layers.alpha[:, :40].any()                  # the still layer: the photo, unmoved
    moving = animation.steps[1:, 0, :, 45:]
    assert (moving < 0).all()                                         # content moves right: backward x < 0
    frames = list(animation.frames())
    assert np.array_equal(frames[4][:, :30], photo[:, :30]) and not np.array_equal(frames[4][:, 60:], photo[:, 60:])


def test_left_and_right_arrows_give_opposite_flows(tiny_pipeline, photo):
    signs = {}
    for name, arrows in (("left", LEFT), ("right", RIGHT)):
        animation = tiny_pipeline.plan(photo, num_frames=4, loop="symmetric", appearance=False, arrows=arrows,
                                       arrows_mode="direct", motion_speed=2.0)
        x = flow_normalized_to_pixels(animation.steps[1:2], H, W)[0, 0]     # in pixels of the photo
        signs[name] = float(x.mean())
        assert torch.allclose(x.abs(), torch.tensor(6.0), rtol=1e-4)      # 3 px/frame arrows at motion speed 2
    assert signs["left"] > 0 > signs["right"]


# ------------------------------------------------------------------------------------------ patches


def test_patch_files(tmp_path):
    patches = load_patches([{"box": [0, 0, 40, 29.5], "color": [255, 0, 0]}], (H, W))
    target, weight = patches.at((H, W))
    assert weight[0, 0, :29, :40].eq(1).all() and weight[0, 0, 30:].eq(0).all() and weight[0, 0, :, 40:].eq(0).all()
    assert weight[0, 0, 29, 0] == 0.5                                  # half-covered row: area weight
    assert patches.at((29, 40))[1].sum() == pytest.approx(40 * 29.5 * (40 / W) * (29 / H))  # area kept at any size
    assert torch.allclose(target[0, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[:20, :30] = (0, 0, 255, 255)
    png = tmp_path / "patches.png"
    Image.fromarray(rgba).save(png)
    target, weight = load_patches(png, (H, W)).at((H, W))
    assert weight[0, 0, :20, :30].eq(1).all() and weight.sum() == 600
    assert torch.allclose(target[0, :, 5, 5], torch.tensor([-1.0, -1.0, 1.0]))
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    with pytest.raises(OptionError, match="no alpha channel"):
        load_patches(tmp_path / "rgb.png", (H, W))
    Image.fromarray(np.zeros((H, W, 4), np.uint8)).save(tmp_path / "clear.png")
    with pytest.raises(OptionError, match="fully transparent"):
        load_patches(tmp_path / "clear.png", (H, W))


@pytest.mark.parametrize("content, message", [
    ('{"box": [0, 0, 5, 5]}', "expected a JSON list"),
    ('[{"box": [0, 0, 5, 5]}]', 'no "color" key'),
    ('[{"box": [0, 0, 5], "color": [1, 2, 3]}]', "four numbers"),
    ('[{"box": [5, 0, 1, 5], "color": [1, 2, 3]}]', "0 <= x0 < x1"),
    ('[{"box": [0, 0, 5, 5], "color": [1, 2, 300]}]', "0..255"),
])
def test_bad_patch_files_are_one_line_cli_errors(model_dir, photo_path, tmp_path, capsys, content, message):
    patches = tmp_path / "patches.json"
    patches.write_text(content)
    code, err = run_cli(["animate", photo_path, "-o", tmp_path / "x.mp4", "--appearance-patches", patches, "--model",
                         model_dir, "-q"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("cinescape: error: --appearance-patches:") and message in err


def test_patch_optimisation_lowers_the_eq13_loss(tiny_pipeline, photo):
    small = _small(tiny_pipeline, photo)
    patches = load_patches([{"box": [0, 0, 40, 20], "color": [255, 120, 0]},
                            {"box": [50, 30, 81, 58], "color": [0, 0, 90]}], (H, W))
    target, weight = patches.at(tuple(small.shape[-2:]))
    with torch.no_grad():
        own = tiny_pipeline.appearance.encode(small)[0]

    def eq13(z):
        with torch.no_grad():
            maps = tiny_pipeline.appearance.predict_maps(small, z[None])
            return float(patch_loss(color_transfer(maps, small), target, weight)[0])

    z, history = tiny_pipeline.patch_appearance_code(small, patches, own, steps=40)
    assert history[0]["loss"] == pytest.approx(eq13(own), rel=1e-4)
    assert eq13(z) < 0.9 * eq13(own)
    assert all(p.grad is None for p in tiny_pipeline.appearance.parameters())
    # the schedule goes from the photo's own code to the optimised one and back
    settings = AnimationSettings(num_frames=8, appearance_patches=patches, control_steps=40)
    info = {}
    codes = tiny_pipeline.appearance_codes(small, settings, random.Random(0), info=info)
    assert codes.shape == (8, 8) and torch.allclose(codes[0], own, atol=1e-6)
    assert torch.allclose(codes[4], z, atol=1e-6) and torch.allclose(codes[2], (own + z) / 2, atol=1e-6)
    assert info["patches"][-1]["loss"] <= info["patches"][0]["loss"]


def test_patches_animate_end_to_end(model_dir, photo_path, tmp_path, capsys):
    patches = tmp_path / "patches.json"
    patches.write_text(json.dumps([{"box": [0, 0, 81, 20], "color": [250, 140, 40]}]))
    out = tmp_path / "frames"
    code, err = run_cli(["animate", photo_path, "-o", f"{out}/", "--frames", 4, "--appearance-patches", patches,
                         "--control-steps", 5, "--model", model_dir, "-q"], capsys)
    assert code == 0, err
    assert len(list(out.iterdir())) == 4


# ------------------------------------------------------------------------------------------ time of day


def _brightness_appearance(pipeline):
    """Appearance 'network': C_w = 1 and C_b = (z0 + z1, z0, z0 - z1): z0 = brightness, z1 = warmth."""
    def predict_maps(image, z):
        bias = torch.stack((z[:, 0] + z[:, 1], z[:, 0], z[:, 0] - z[:, 1]), dim=1)[:, :, None, None]
        return torch.cat((torch.ones_like(image), bias.expand(-1, -1, *image.shape[-2:])), dim=1)

    pipeline.appearance.predict_maps = predict_maps


def test_time_of_day_labels_and_keyframes(tiny_pipeline, photo):
    _brightness_appearance(tiny_pipeline)
    codes = torch.zeros(8, 8)
    codes[:, 0] = torch.tensor([0.0, 0.1, -0.1, -1.5, -1.6, -0.1, 0.0, -0.5])   # brightness
    codes[:, 1] = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.45, 0.0])        # warmth
    tiny_pipeline.codebook = Codebook(motion=torch.zeros(1, 8), appearance=[codes[:4], codes[4:]])
    table = tiny_pipeline.time_of_day_codes()
    assert table.labels == ["day", "day", "day", "night", "night", "sunset", "sunset", "twilight"]
    keyframes = time_of_day_keyframes(table, "day,sunset,night")
    stats = {name: table.statistics[table.representative(name)] for name in ("day", "sunset", "night", "twilight")}
    assert stats["night"][0] < stats["twilight"][0] < stats["day"][0]          # luma ordered
    assert stats["sunset"][1] > stats["day"][1] + 0.2                          # warmth
    assert torch.equal(keyframes[0], codes[0]) and torch.equal(keyframes[2], codes[3])  # nearest to each centre
    settings = AnimationSettings(num_frames=8, time_of_day="day,sunset,night")
    all_codes = tiny_pipeline.appearance_codes(_small(tiny_pipeline, photo), settings, random.Random(0))
    assert torch.equal(all_codes[2], keyframes[0]) and torch.equal(all_codes[4], keyframes[1])
    assert torch.equal(all_codes[6], keyframes[2])
    frames = tiny_pipeline(photo, num_frames=8, time_of_day="dusk,night", appearance_speed=1)
    assert frames[6].mean() < frames[0].mean()                                 # night frame darker


def test_time_of_day_names():
    assert parse_time_of_day(" Day, sunset ,NIGHT,dawn") == ("day", "sunset", "night", "twilight")
    with pytest.raises(OptionError, match="unknown time of day 'midnight'"):
        parse_time_of_day("day,midnight")
    with pytest.raises(OptionError):
        AnimationSettings(time_of_day="day,teatime").validate()
    with pytest.raises(OptionError, match="only one"):
        AnimationSettings(time_of_day="day", appearance_sequence="lstm").validate()
    with pytest.raises(OptionError, match="appearance=False"):
        AnimationSettings(time_of_day="day", appearance=False).validate()


def test_missing_time_of_day_class_is_a_clear_error(tiny_pipeline, photo):
    _brightness_appearance(tiny_pipeline)
    tiny_pipeline.codebook = Codebook(motion=torch.zeros(1, 8), appearance=[torch.zeros(3, 8)])
    with pytest.raises(OptionError, match="no night codes"):
        tiny_pipeline.plan(photo, num_frames=4, time_of_day="day,night")


def test_cli_unknown_time_of_day(model_dir, photo_path, tmp_path, capsys):
    code, err = run_cli(["animate", photo_path, "-o", tmp_path / "x.mp4", "--time-of-day", "day,lunch", "--model",
                         model_dir], capsys)
    assert code == 2 and "unknown time of day 'lunch'" in err and len(err.strip().splitlines()) == 1


def test_default_model_time_of_day_is_ordered():
    pipeline = CinemagraphPipeline.from_pretrained()
    every_third = Codebook(motion=pipeline.codebook.motion, appearance=[s[::3] for s in pipeline.codebook.appearance])
    table = TimeOfDayCodes.from_codebook(pipeline.appearance, every_third)
    counts = table.counts()
    assert counts["day"] > 0 and counts["night"] > 0
    day, night = (table.statistics[table.representative(n)] for n in ("day", "night"))
    assert night[0] < 0.6 * day[0]
    labels = np.array(table.labels)
    luma = table.statistics[:, 0].numpy()
    assert luma[labels == "night"].max() < luma[labels == "day"].min()
    assert classify_time_of_day(image_statistics(torch.full((1, 3, 4, 4), -0.9)), torch.tensor([0.5, 0.0, 0.0])) == ["night"]


# ------------------------------------------------------------------------------------------ appearance LSTM


def _smooth_codebook():
    t = torch.arange(40, dtype=torch.float32)
    sequences = [torch.stack([torch.sin(0.15 * t * (1 + 0.1 * k) + phase) for k in range(8)], dim=1)
                 for phase in (0.0, 1.0, 2.0, 3.0)]
    return Codebook(motion=torch.zeros(2, 8), appearance=[s[:length] for s, length in zip(sequences, (40, 30, 25, 40))])


def test_lstm_training_lowers_its_loss_and_generates_sequences():
    codebook = _smooth_codebook()
    untrained, _ = train_appearance_lstm(codebook, steps=1)
    model, losses = train_appearance_lstm(codebook, steps=150)
    assert len(losses) == 150 and np.mean(losses[-10:]) < 0.5 * losses[0]
    assert appearance_lstm_loss(model, codebook) < 0.3 * appearance_lstm_loss(untrained, codebook)
    start = codebook.appearance[0][0]
    sequence = model.generate(start, 25)
    assert sequence.shape == (25, 8) and torch.equal(sequence[0], start) and torch.isfinite(sequence).all()
    assert (sequence[1:] - sequence[:-1]).norm(dim=1).mean() > 0.01              # it moves
    everything = torch.cat(codebook.appearance)
    assert (sequence >= everything.amin(0) - 1e-6).all() and (sequence <= everything.amax(0) + 1e-6).all()
    assert model.generate(start).shape == (model.config.sequence_length, 8)
    # architecture of AL Table 3
    assert (model.fc_in.out_features, model.lstm.hidden_size, model.fc_out.out_features) == (128, 128, 8)


def test_lstm_saves_with_the_model_and_drives_the_schedule(tiny_pipeline, photo, tmp_path):
    with pytest.raises(OptionError, match="cinescape codebook --model DIR --train-lstm"):
        tiny_pipeline.plan(photo, num_frames=4, appearance_sequence="lstm")
    tiny_pipeline.appearance_lstm, _ = train_appearance_lstm(tiny_pipeline.codebook, steps=20)
    folder = tiny_pipeline.save_pretrained(tmp_path / "model")
    assert (folder / "appearance_lstm" / "config.json").is_file()
    assert (folder / "appearance_lstm" / "model.safetensors").is_file()
    loaded = CinemagraphPipeline.from_pretrained(folder)
    assert isinstance(loaded.appearance_lstm, AppearanceLSTM)
    start = torch.randn(8)
    assert torch.allclose(loaded.appearance_lstm.generate(start, 6), tiny_pipeline.appearance_lstm.generate(start, 6))
    small = _small(loaded, photo)
    codes = loaded.appearance_codes(small, AnimationSettings(num_frames=14, appearance_sequence="lstm"),
                                    random.Random(0))
    with torch.no_grad():
        own = loaded.appearance.encode(small)[0]
    generated = loaded.appearance_lstm.generate(own, loaded.appearance_lstm.config.sequence_length + 1)[1:]
    assert codes.shape == (14, 8) and torch.allclose(codes[0], own, atol=1e-6)   # 7 keyframes, every 2 frames
    assert torch.allclose(codes[2], generated[0], atol=1e-6)                      # first keyframe after the photo's
    assert len(loaded(photo, num_frames=4, appearance_sequence="lstm")) == 4


def test_cli_train_lstm_then_animate(model_dir, photo_path, tmp_path, capsys):
    out = tmp_path / "loop.mp4"
    code, err = run_cli(["animate", photo_path, "-o", out, "--frames", 3, "--appearance-sequence", "lstm", "--model",
                         model_dir, "-q"], capsys)
    assert code == 2 and "cinescape codebook --model DIR --train-lstm" in err and not out.exists()
    code, err = run_cli(["codebook", "--model", model_dir, "--train-lstm", "--lstm-steps", 10], capsys)
    assert code == 0, err
    assert "appearance_lstm" in err
    code, err = run_cli(["animate", photo_path, "-o", f"{tmp_path / 'frames'}/", "--frames", 3, "--appearance-sequence",
                         "lstm", "--model", model_dir, "-q"], capsys)
    assert code == 0, err


def test_cli_arrows_end_to_end(model_dir, photo_path, tmp_path, capsys):
    arrows = tmp_path / "arrows.json"
    arrows.write_text(json.dumps(LEFT))
    for mode in ("latent", "direct"):
        out = tmp_path / mode
        code, err = run_cli(["animate", photo_path, "-o", f"{out}/", "--frames", 3, "--arrows", arrows, "--arrows-mode",
                             mode, "--control-steps", 3, "--no-appearance", "--model", model_dir, "-q"], capsys)
        assert code == 0, err
        assert len(list(out.iterdir())) == 3


def test_appearance_patches_type_is_checked(tiny_pipeline, photo):
    with pytest.raises(CinescapeError):
        tiny_pipeline.plan(photo, num_frames=3, appearance_patches=[{"box": [0, 0, 1, 1], "color": [0, 0]}])
    assert isinstance(load_patches(AppearancePatches(boxes=torch.zeros(1, 4), colors=torch.zeros(1, 3)), (1, 1)),
                      AppearancePatches)
