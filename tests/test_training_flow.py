"""Pseudo-ground-truth flow for motion training, and data-parallel training with torchrun."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cinescape.errors import OptionError
from cinescape.data.clips import Clip, CropParams, apply_crop_flow, attach_flows, common_motion_field
from cinescape.methods.al.motion import MotionLossWeights, MotionModel, motion_loss
from cinescape.ops import flow_pixels_to_normalized
from cinescape.methods.al.train import TrainConfig, load_training_clips, train

from test_training import smooth_texture


def _moving_texture_clip(shift: int = 2, frames: int = 3, size: int = 64) -> Clip:
    """A texture moving ``shift`` px to the right per frame: frame[t+1](p) = frame[t](p - shift)."""
    big = ((smooth_texture(size, size + shift * frames, seed=1) + 1) * 127.5).round().to(torch.uint8)
    stack = torch.cat([big[..., shift * (frames - t):shift * (frames - t) + size] for t in range(frames)])
    return Clip(name="moving", frames=stack)


def test_backward_dis_flow_points_from_the_next_frame_back_to_the_current_one():
    clip = attach_flows(_moving_texture_clip(shift=2))
    interior = clip.flows[..., 12:-12, 12:-12].float()
    # frame[t+1](p) = frame[t](p - 2 px): the backward flow is -2 in x, 0 in y
    assert interior[:, 0].median().item() == pytest.approx(-2.0, abs=0.25)
    assert interior[:, 1].abs().median().item() < 0.25
    assert clip.flows.dtype == torch.float16 and clip.flows.shape == (2, 2, 64, 64)
    assert common_motion_field(clip)[0, 12:-12, 12:-12].median().item() == pytest.approx(-2.0, abs=0.25)


def test_apply_crop_flow_scales_to_the_crop_and_mirrors_x():
    flow = torch.zeros(2, 40, 60)
    flow[0], flow[1] = 3.0, -1.0                      # pixels of the 40x60 frame
    crop = apply_crop_flow(flow, CropParams(top=5, left=10, size=20, flip=False), out_size=10)
    # 3 px of a 20 px crop = 0.3 in normalised units (one unit = half the crop), at any output size
    assert torch.allclose(crop[0], torch.full((10, 10), 0.3)) and torch.allclose(crop[1], torch.full((10, 10), -0.1))
    flipped = apply_crop_flow(flow, CropParams(top=5, left=10, size=20, flip=True), out_size=10)
    assert torch.allclose(flipped[0], -crop[0]) and torch.allclose(flipped[1], crop[1])


def test_flow_loss_is_the_mean_pixel_distance_to_the_target():
    torch.manual_seed(0)
    model = MotionModel.create(width=0.125, num_res_blocks=1, encoder_width=0.125, encoder_size=16)
    frame = smooth_texture(32, 32).expand(2, -1, -1, -1)
    fields = torch.zeros(2, 2, 16, 16)
    weights = MotionLossWeights(flow=0.5)
    with pytest.raises(ValueError):
        motion_loss(model, frame, frame, fields, weights)
    _, _, flow = motion_loss(model, frame, frame, fields, weights, torch.zeros(2, 2, 32, 32))
    target = flow.detach() + flow_pixels_to_normalized(torch.full((2, 2, 32, 32), 1.5), 32, 32)
    loss, stats, _ = motion_loss(model, frame, frame, fields, weights, target)
    assert stats["flow_l1_px"] == pytest.approx(1.5, rel=1e-4)
    without = motion_loss(model, frame, frame, fields, MotionLossWeights())[0]
    assert loss.item() == pytest.approx(without.item() + 0.5 * 1.5, rel=1e-4)


def _flow_config(tmp_path, **overrides) -> TrainConfig:
    options = dict(kind="motion", out=str(tmp_path / "run"), synthetic=2, steps=3, batch_size=2, crop=32,
                   short_side=32, width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16,
                   min_pair_difference=0.0, checkpoint_every=100, log_every=1, bf16=False,
                   flow_loss=0.1, common_field="flow")
    options.update(overrides)
    return TrainConfig(**options)


def test_synthetic_clips_train_on_their_exact_flow(tmp_path):
    from cinescape.data.synthetic import generate_timelapse
    from cinescape.ops import flow_normalized_to_pixels

    clips = load_training_clips(_flow_config(tmp_path))
    exact = generate_timelapse(num_frames=24, height=32, width=48, seed=10_000)
    assert torch.allclose(clips[0].flows.float(), flow_normalized_to_pixels(exact.flows[1:]), atol=2e-3)
    # no pair moves 1e6 px: every pair is skipped, and that is a clear error
    with pytest.raises(OptionError, match="no usable training clips"):
        load_training_clips(_flow_config(tmp_path, min_pair_motion=1e6))

def test_min_pair_motion_keeps_only_moving_pairs(tmp_path):
    clip = attach_flows(_moving_texture_clip(shift=2, frames=4))
    clip.flows[1] = 0                                   # pretend the middle pair is still
    frames = np.ascontiguousarray(clip.frames.permute(0, 2, 3, 1).numpy())
    folder = tmp_path / "clip"
    folder.mkdir()
    from PIL import Image

    # a clip on disk whose middle pair does not move: frames 0, 1, 1, 2
    for index, source in enumerate([0, 1, 1, 2]):
        Image.fromarray(frames[source]).save(folder / f"{index:02d}.png")
    config = _flow_config(tmp_path, synthetic=0, data=[str(folder)], short_side=64, min_pair_motion=1.0)
    (loaded,) = load_training_clips(config)
    assert loaded.pairs == [0, 2]


def test_flow_supervised_run_logs_the_flow_term_and_encodes_mean_flows(tmp_path):
    from cinescape.methods.al.codebook import Codebook
    from cinescape.methods.al.train import flow_common_fields

    model_dir = train(_flow_config(tmp_path), progress=False)
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert "flow_l1_px" in header.split(",")
    # each clip's motion code is the encoding of its mean (pseudo-GT) flow over its centre square
    clips = load_training_clips(_flow_config(tmp_path))
    model = MotionModel.from_pretrained(model_dir)
    with torch.no_grad():
        expected = model.encode(flow_common_fields(clips, 16))
    assert torch.allclose(Codebook.load(model_dir).motion.float(), expected, atol=1e-2)


def _run_cli_train(out, extra, nproc=None):
    args = ["train", "motion", "--synthetic", "2", "--steps", "3", "--crop", "32", "--short-side", "32",
            "--width", "0.0625", "--res-blocks", "1", "--min-pair-difference", "0", "--no-bf16", "--out", str(out),
            *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "cinescape.cli", *args]
    else:
        command = [sys.executable, "-m", "cinescape.cli", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("common_field", ["predicted", "flow", "pair"])
def test_two_process_torchrun_equals_one_process_with_the_global_batch(tmp_path, common_field):
    extra = ["--common-field", common_field, "--threads", "1"]
    _run_cli_train(tmp_path / "ddp", ["--batch-size", "2", *extra], nproc=2)
    _run_cli_train(tmp_path / "single", ["--batch-size", "4", *extra])
    ddp = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)
    single = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=False)
    assert ddp["world_size"] == 2 and ddp["step"] == single["step"] == 3
    diffs = torch.cat([(ddp["model"][k] - v).abs().flatten() for k, v in single["model"].items()])
    # Same samples, averaged gradients: the weights agree to float rounding. The exception is biases
    # just before an instance norm, whose true gradient is 0: Adam rescales their rounding noise into
    # steps of up to lr (1e-4 per step, 3 steps), so they may differ by that much but not more.
    assert (diffs > 1e-5).float().mean().item() < 0.01
    assert diffs.max().item() <= 3 * 1e-4 * 1.01
    # "predicted" fields are the trained network's own output, so they inherit the weights' tolerance above (biases
    # up to 3e-4 apart); the fields computed from the data alone must agree to float rounding.
    field_tolerance = 1e-4 if common_field == "predicted" else 1e-5
    field_diff = (ddp["common_fields"] - single["common_fields"]).abs().max().item()
    assert field_diff <= field_tolerance, field_diff
    # rank 0 alone writes the log, with the global batch's losses
    ddp_log, single_log = [(tmp_path / run / "log.csv").read_text().splitlines() for run in ("ddp", "single")]
    assert len(ddp_log) == len(single_log) == 3  # header, steps 0 and 2 (log every 10 steps, and the last)
    loss = ddp_log[0].split(",").index("loss")
    for a, b in zip(ddp_log[1:], single_log[1:]):
        assert float(a.split(",")[loss]) == pytest.approx(float(b.split(",")[loss]), rel=1e-4)


def test_gated_head_closes_to_exact_stillness_and_opens_to_the_plain_head(tmp_path):
    from cinescape.methods.al.train import initialise_from

    torch.manual_seed(0)
    plain = MotionModel.create(width=0.125, num_res_blocks=1, encoder_width=0.125, encoder_size=16)
    gated = MotionModel.create(width=0.125, num_res_blocks=1, encoder_width=0.125, encoder_size=16, gate=True)
    plain.save_pretrained(tmp_path)
    # every tensor is copied; the head grew by one (gate) channel, so it is copied in part
    assert initialise_from(gated, tmp_path) == ["predictor.upconv3.weight", "predictor.upconv3.bias"]
    image, z = smooth_texture(32, 32), torch.randn(1, 8)
    head = gated.predictor.upconv3
    with torch.no_grad():
        head.weight[2:] = 0
        head.bias[2:] = 40.0                      # gate fully open: sigmoid = 1
        assert torch.allclose(gated.predict_flow(image, z), plain.predict_flow(image, z), atol=1e-6)
        head.bias[2:] = -40.0                     # gate closed: no motion at all
        assert gated.predict_flow(image, z).abs().max().item() < 1e-15
