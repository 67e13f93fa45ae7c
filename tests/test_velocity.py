"""The Eulerian mode's velocity predictor: teacher targets, loading, use in the pipeline, distillation."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cinescape.data.synthetic import generate_timelapse
from cinescape.methods.al.motion import VELOCITY_FOLDER, MotionModel
from cinescape.ops import flow_normalized_to_pixels
from cinescape.methods.al.velocity import VelocityTrainConfig, rollout_mean_flow, train_velocity, velocity_loss


class _ConstantFlow:
    """A stand-in motion model whose flow is the same everywhere, whatever the frame."""

    def __init__(self, flow):
        self.flow = torch.tensor(flow).view(1, 2, 1, 1)

    def predict_flow(self, image, z):
        return self.flow.expand(image.shape[0], -1, *image.shape[-2:])


class _BrightnessFlow:
    """x flow = 0.1 * the frame's first channel: depends on the (moved) frame, like the real network."""

    def predict_flow(self, image, z):
        return torch.cat((0.1 * image[:, :1], torch.zeros_like(image[:, :1])), 1)


def test_rollout_mean_of_a_constant_flow_is_that_flow():
    mean = rollout_mean_flow(_ConstantFlow([0.03, -0.02]), torch.rand(2, 3, 16, 16), torch.zeros(2, 8), 6)
    assert torch.allclose(mean, torch.tensor([0.03, -0.02]).view(1, 2, 1, 1).expand_as(mean), atol=1e-7)


def test_rollout_mean_averages_the_predictions_on_the_moved_frames():
    image = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(1, 3, 16, 16).contiguous()
    motion, z = _BrightnessFlow(), torch.zeros(1, 8)
    # two frames: one step, the prediction on the photo itself
    assert torch.allclose(rollout_mean_flow(motion, image, z, 2, bf16=False), motion.predict_flow(image, z))
    # three frames: the second step is predicted on the photo moved by the first
    from cinescape.ops import warp

    first = motion.predict_flow(image, z)
    second = motion.predict_flow(warp(image, first), z)
    assert torch.allclose(rollout_mean_flow(motion, image, z, 3, bf16=False), (first + second) / 2, atol=1e-6)
    assert not torch.allclose(first, second)  # the moved frame gives another flow: the mean is not the first step
    with pytest.raises(ValueError):
        rollout_mean_flow(motion, image, z, 1)


def _with_velocity(motion: MotionModel, zero: bool = False) -> MotionModel:
    """``motion`` plus a velocity predictor: its own predictor perturbed, or one that outputs zero flow."""
    velocity = copy.deepcopy(motion.predictor)
    with torch.no_grad():
        if zero:  # tanh(0) = 0: no motion anywhere
            velocity.upconv3.weight.zero_()
            velocity.upconv3.bias.zero_()
        else:
            for parameter in velocity.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
    model = copy.deepcopy(motion)
    model.velocity_predictor = velocity
    return model


def test_velocity_predictor_is_saved_loaded_and_used(tiny_pipeline, tmp_path):
    torch.manual_seed(1)
    plain = tiny_pipeline.motion
    image, z = torch.rand(1, 3, 24, 40) * 2 - 1, torch.randn(1, 8)
    assert plain.velocity_predictor is None
    assert torch.equal(plain.predict_velocity(image, z), plain.predict_flow(image, z))  # no predictor: P^M's flow

    model = _with_velocity(plain)
    model.save_pretrained(tmp_path)
    assert (tmp_path / VELOCITY_FOLDER / "model.safetensors").is_file()
    loaded = MotionModel.from_pretrained(tmp_path)
    assert loaded.velocity_predictor is not None
    velocity = loaded.predict_velocity(image, z)
    assert torch.allclose(velocity, model.predict_velocity(image, z), atol=1e-6)
    assert not torch.allclose(velocity, loaded.predict_flow(image, z), atol=1e-4)
    # a folder without the velocity predictor still loads, without one
    plain.save_pretrained(tmp_path / "plain")
    assert MotionModel.from_pretrained(tmp_path / "plain").velocity_predictor is None


def test_eulerian_mode_takes_its_field_from_the_velocity_predictor(tiny_pipeline, photo):
    tiny_pipeline.motion = _with_velocity(tiny_pipeline.motion, zero=True)
    common = dict(num_frames=5, loop="none", appearance=False, motion_speed=5.0, motion_code=0, auto_mask="none")
    eulerian = tiny_pipeline(photo, mode="eulerian", **common)
    assert all(np.array_equal(frame, photo) for frame in eulerian)  # a zero velocity field: the photo, still
    recurrent = tiny_pipeline(photo, mode="recurrent", **common)
    assert not np.array_equal(recurrent[-1], photo)  # the recurrent mode still uses P^M, which moves


def test_arrows_steer_the_field_the_eulerian_mode_integrates(tiny_pipeline, photo):
    # A zero velocity predictor: in the Eulerian mode no code changes the integrated field, so the arrow
    # optimisation has nothing to gain there, while P^M (the recurrent mode's network) follows the code.
    tiny_pipeline.motion = _with_velocity(tiny_pipeline.motion, zero=True)
    arrows = [{"from": [60, 12], "to": [57, 12]}, {"from": [40, 30], "to": [37, 30]}]
    losses = {}
    for mode in ("eulerian", "recurrent"):
        animation = tiny_pipeline.plan(photo, num_frames=3, loop="none", appearance=False, arrows=arrows,
                                       control_steps=20, mode=mode)
        losses[mode] = [h["loss"] for h in animation.control["arrows"]]
    assert max(losses["eulerian"]) == min(losses["eulerian"])
    assert min(losses["recurrent"]) < losses["recurrent"][0]
    assert losses["recurrent"][0] != losses["eulerian"][0]


def _frame_folder(path, seed):
    path.mkdir(parents=True)
    clip = generate_timelapse(num_frames=4, height=40, width=56, seed=seed, day_cycle=False)
    for i, frame in enumerate(clip.frames):
        array = ((frame.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)
        Image.fromarray(array).save(path / f"{i:02d}.png")
    return str(path)


def _config(tmp_path, data, teacher, steps):
    return VelocityTrainConfig(out=str(tmp_path / "run"), data=data, teacher=teacher, targets=8, rollout=3,
                               steps=steps, batch_size=4, lr=1e-3, short_side=40, bf16=False, checkpoint_every=5,
                               log_every=1)


def test_distillation_moves_the_student_towards_the_rollout_means_and_resumes_exactly(tiny_pipeline, tmp_path):
    # The teacher folder holds a velocity predictor that outputs zero flow: the student starts from it, far from
    # the rollout means of the teacher's (moving) P^M.
    tiny_pipeline.motion = _with_velocity(tiny_pipeline.motion, zero=True)
    model_dir = str(tiny_pipeline.save_pretrained(tmp_path / "teacher"))
    data = [_frame_folder(tmp_path / "clips" / "a", 1), _frame_folder(tmp_path / "clips" / "b", 2)]
    folder = train_velocity(_config(tmp_path / "straight", data, model_dir, steps=10), progress=False)
    targets = torch.load(tmp_path / "straight" / "run" / "targets.pt")
    assert targets["images"].shape == (8, 3, 32, 32) and targets["targets"].shape == (8, 2, 32, 32)

    def distance(predictor):
        with torch.no_grad():
            return velocity_loss(predictor, targets["images"], targets["codes"], targets["targets"]).item()

    from cinescape.models import Predictor

    before = distance(tiny_pipeline.motion.velocity_predictor)
    after = distance(Predictor.from_pretrained(folder))
    # zero flow: the relative error is each target's mean |component| over (its mean speed + 0.1 px)
    pixels = flow_normalized_to_pixels(targets["targets"])
    expected = (pixels.abs().mean((1, 2, 3)) / (pixels.norm(dim=1).mean((1, 2)) + 0.1)).mean().item()
    assert before == pytest.approx(expected, rel=1e-5)
    assert after < 0.5 * before

    interrupted = _config(tmp_path / "resumed", data, model_dir, steps=5)
    train_velocity(interrupted, progress=False)
    train_velocity(_config(tmp_path / "resumed", data, model_dir, steps=10), resume=True, progress=False)
    a = torch.load(tmp_path / "straight" / "run" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "run" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 10
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key

    # --export writes the predictor into a model folder, which then loads with it, and records the settings
    exported = _config(tmp_path / "resumed", data, model_dir, steps=10)
    train_velocity(exported, resume=True, export=model_dir, progress=False)
    reloaded = MotionModel.from_pretrained(model_dir).velocity_predictor
    assert reloaded is not None and torch.equal(reloaded.upconv3.bias, b["model"]["upconv3.bias"].half().float())
    assert json.loads((Path(model_dir) / "pipeline.json").read_text())["velocity_training"]["rollout"] == 3

    # targets built from other settings are not silently reused
    from cinescape.errors import OptionError

    changed = _config(tmp_path / "straight", data, model_dir, steps=10)
    changed.rollout = 4
    with pytest.raises(OptionError, match="new out folder"):
        train_velocity(changed, progress=False)


def test_pooled_targets_train_as_the_run_s_own_and_must_match_the_teacher(tiny_pipeline, tmp_path):
    from cinescape.errors import OptionError
    from cinescape.methods.al.velocity import load_target_pool, target_recipe

    model_dir = str(tiny_pipeline.save_pretrained(tmp_path / "teacher"))
    data = [_frame_folder(tmp_path / "clips" / "a", 1)]
    own = _config(tmp_path / "own", data, model_dir, steps=3)
    train_velocity(own, progress=False)
    # The same targets, pooled into a run that builds none, give the same student step for step.
    pooled = _config(tmp_path / "pooled", data, model_dir, steps=3)
    pooled.targets, pooled.pool = 0, [own.out]
    train_velocity(pooled, progress=False)
    assert not (tmp_path / "pooled" / "run" / "targets.pt").exists()
    a = torch.load(Path(own.out) / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(Path(pooled.out) / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[key], b[key]) for key in a)

    # Targets from a copy of the teacher in another folder pool (the recipe names its weights, not its path) ...
    copy_dir = str(tiny_pipeline.save_pretrained(tmp_path / "teacher_copy"))
    second = _config(tmp_path / "second", data, copy_dir, steps=1)
    second.seed = 1
    train_velocity(second, progress=False)
    recipe = target_recipe(own, MotionModel.from_pretrained(model_dir))
    assert len(load_target_pool([second.out, str(Path(own.out) / "targets.pt")], {**recipe, "seed": 2})) == 2
    # ... but not the same seed twice, nor another teacher's, nor a missing file.
    with pytest.raises(OptionError, match="repeats seed 0"):
        load_target_pool([own.out], recipe)
    other = MotionModel.from_pretrained(model_dir)
    with torch.no_grad():
        other.predictor.upconv3.bias.add_(0.01)
    with pytest.raises(OptionError, match="another teacher"):
        load_target_pool([second.out], {**target_recipe(own, other), "seed": 2})
    with pytest.raises(OptionError, match="no targets"):
        load_target_pool([str(tmp_path / "nowhere")], recipe)
    nothing = _config(tmp_path / "nothing", data, model_dir, steps=1)
    nothing.targets = 0
    with pytest.raises(OptionError, match="pool"):
        train_velocity(nothing, progress=False)


def test_cosine_learning_rate_follows_the_step_and_resumes_exactly(tiny_pipeline, tmp_path, monkeypatch):
    import math

    model_dir = str(tiny_pipeline.save_pretrained(tmp_path / "teacher"))
    data = [_frame_folder(tmp_path / "clips" / "a", 1)]

    def config(name):
        result = _config(tmp_path / name, data, model_dir, steps=8)
        result.lr_schedule = "cosine"
        return result

    train_velocity(config("straight"), progress=False)
    straight = torch.load(Path(config("straight").out) / "checkpoint.pt", weights_only=False)
    # the last of steps 0..7 ran at lr * (1 + cos(pi * 7/8)) / 2
    assert straight["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * (1 + math.cos(math.pi * 7 / 8)) / 2)

    # Interrupted during step 6 (after the checkpoint at 5), then resumed: the same student as the straight run.
    adam_step, calls = torch.optim.Adam.step, []

    def failing_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", failing_step)
    with pytest.raises(KeyboardInterrupt):
        train_velocity(config("resumed"), progress=False)
    monkeypatch.setattr(torch.optim.Adam, "step", adam_step)
    assert torch.load(Path(config("resumed").out) / "checkpoint.pt", weights_only=False)["step"] == 5
    train_velocity(config("resumed"), resume=True, progress=False)
    resumed = torch.load(Path(config("resumed").out) / "checkpoint.pt", weights_only=False)
    for key, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


def test_exporting_a_new_motion_model_removes_the_stale_velocity_predictor(tiny_pipeline, tmp_path):
    from cinescape.methods.al.train import TrainConfig, train

    tiny_pipeline.motion = _with_velocity(tiny_pipeline.motion)
    folder = tiny_pipeline.save_pretrained(tmp_path / "model")
    assert (folder / VELOCITY_FOLDER).is_dir()
    config = TrainConfig(kind="motion", out=str(tmp_path / "run"), synthetic=2, steps=1, batch_size=2, crop=32,
                         short_side=32, width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=32,
                         min_pair_difference=0.0, bf16=False)
    train(config, export=folder, progress=False)
    assert not (folder / VELOCITY_FOLDER).exists()
    assert MotionModel.from_pretrained(folder).velocity_predictor is None


def test_train_velocity_command(model_dir, tmp_path, capsys):
    from cinescape.cli import main

    assert main(["train", "velocity", "--out", str(tmp_path / "run")]) == 2   # no --data: one line, no traceback
    err = capsys.readouterr().err
    assert "needs --data" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    folder = _frame_folder(tmp_path / "clips" / "a", 3)
    # a teacher folder that does not load: one line, and no empty run folder left behind
    assert main(["train", "velocity", "--data", folder, "--init-from", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "bad")]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    assert main(["train", "velocity", "--data", folder, "--init-from", model_dir, "--out", str(tmp_path / "run"),
                 "--targets", "4", "--rollout", "2", "--steps", "2", "--batch-size", "2", "--no-bf16",
                 "--short-side", "40", "--export", model_dir]) == 0
    assert MotionModel.from_pretrained(model_dir).velocity_predictor is not None
    assert json.loads((Path(model_dir) / "pipeline.json").read_text())["velocity_training"]["lr"] == 3e-5


def test_a_velocity_folder_holding_another_network_is_a_clear_load_error(tiny_pipeline, tmp_path):
    from cinescape.errors import ModelLoadError

    tiny_pipeline.motion.save_pretrained(tmp_path)
    tiny_pipeline.appearance.predictor.save_pretrained(tmp_path / VELOCITY_FOLDER)   # a 6-channel colour-map net
    with pytest.raises(ModelLoadError, match="velocity_predictor.*2-channel flow"):
        MotionModel.from_pretrained(tmp_path)
