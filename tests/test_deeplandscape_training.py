"""`cinescape train deeplandscape`: frame archives and the validation split, bit-identical resume, the exported
model folder, one-line errors, and data parallel under torchrun (2 processes = 1 process with the global batch)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cinescape.cli import main
from cinescape.methods.deeplandscape.data import FrameArchive, load_training_frames

# A 16-px model, two procedural clips of 4 frames: a few steps take well under a second.
TINY = ["--synthetic", "2", "--frames-per-clip", "4", "--resolution", "16", "--channel-base", "64",
        "--channel-max", "16", "--r1-every", "2", "--mbstd-group", "2", "--log-every", "1"]


def _train(out, *extra) -> int:
    return main(["train", "deeplandscape", *TINY, "--out", str(out), *extra])


def _checkpoint(folder):
    return torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=False)


def _log(folder):
    with open(folder / "log.csv", newline="") as file:
        return list(csv.DictReader(file))


# ------------------------------------------------------------------------------------------------ data

def _frame_folder(folder, frames: int, height: int, width: int, seed: int):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(frames):
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")


def test_validation_clips_are_left_out_and_the_archive_names_its_clips(tmp_path):
    root = tmp_path / "data"
    _frame_folder(root / "motion" / "karlsruhe_2024-06-22", 5, 20, 48, 0)    # 2.4:1 -> 3 square crops
    _frame_folder(root / "motion" / "karlsruhe_2024-06-20s", 3, 16, 16, 1)   # the validation split's
    options = dict(synthetic=0, resolution=16, frames_per_clip=4)
    archive = load_training_frames([str(root)], include_validation=False, **options)
    clip_path = str(root / "motion" / "karlsruhe_2024-06-22")
    assert archive.clip_names == [f"{clip_path}#{k}" for k in range(3)]
    assert archive.frames.shape == (4 * 3, 16, 16, 3)                       # 4 of the 5 frames, 3 crops each
    assert np.bincount(archive.clip).tolist() == [4, 4, 4]
    everything = load_training_frames([str(root)], include_validation=True, **options)
    assert everything.clip_names[:1] == [str(root / "motion" / "karlsruhe_2024-06-20s") + "#0"]
    assert len(everything) == 3 + 12

    # an archive keeps the names; loading it leaves its validation clips out unless asked
    saved = everything.save(tmp_path / "frames.npz")
    again = FrameArchive.load(saved)
    assert again.clip_names == everything.clip_names and np.array_equal(again.frames, everything.frames)
    kept = load_training_frames([str(saved)], include_validation=False, **options)
    assert kept.clip_names == archive.clip_names and np.array_equal(kept.frames, archive.frames)
    # an archive that does not name its clips cannot be checked: refused, unless the validation split is allowed
    np.savez(tmp_path / "old.npz", frames=archive.frames, clip=archive.clip + 7)
    with pytest.raises(ValueError, match="does not name its clips"):
        load_training_frames([str(tmp_path / "old.npz")], include_validation=False, **options)
    old = load_training_frames([str(tmp_path / "old.npz")], include_validation=True, **options)
    assert len(old.clip_names) == 3 and np.array_equal(old.clip, archive.clip)


def test_pairs_come_from_one_clip_and_sharded_draws_are_the_global_draws():
    from cinescape.methods.deeplandscape.augment import apply_augment, crop_resize, diff_augment, draw_augment
    from cinescape.methods.deeplandscape.train import FrameData, Shard

    x = torch.rand(4, 6, 8, 8) * 2 - 1
    assert torch.allclose(crop_resize(x, torch.ones(4), torch.zeros(4, 2)), x, atol=1e-5)
    # one draw per sample: both frames of a pair get the same augmentation
    pair = torch.cat((x[:, :3], x[:, :3]), dim=1)
    out = diff_augment(pair, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :3], out[:, 3:])
    # each rank's slice of the global draw augments its samples as the whole batch would
    params = draw_augment(4, "color,translation,cutout", (8, 8), generator=torch.Generator().manual_seed(1))
    whole = apply_augment(x, params)
    halves = [apply_augment(Shard(r, 2)(x), Shard(r, 2).params(params)) for r in range(2)]
    assert torch.equal(torch.cat(halves), whole)

    frames = np.zeros((6, 16, 16, 3), np.uint8)
    frames[:, 0, 0, 0] = [10, 11, 12, 20, 21, 30]  # value // 10 is the clip
    data = FrameData(FrameArchive(frames, np.array([1, 1, 1, 2, 2, 3]), []), torch.device("cpu"))
    a, b = data.pairs(64, torch.Generator().manual_seed(0))
    va = ((a + 1) * 127.5).round()[:, 0].amax(dim=(1, 2))
    vb = ((b + 1) * 127.5).round()[:, 0].amax(dim=(1, 2))
    assert torch.equal(va // 10, vb // 10) and (va != vb).all()
    assert set((va // 10).tolist()) <= {1, 2}  # the one-frame clip 3 never forms a pair
    second_half = data.pairs(64, torch.Generator().manual_seed(0), Shard(1, 2))
    assert torch.equal(second_half[0], a[32:]) and torch.equal(second_half[1], b[32:])


# ------------------------------------------------------------------------------------------- runs

def test_resumed_run_equals_the_uninterrupted_one_bit_for_bit(tmp_path):
    phases = ["--batch-size", "4", "--encoder-steps", "2", "--encoder-batch-size", "4", "--lighting-steps", "2",
              "--lighting-batch-size", "8"]
    assert _train(tmp_path / "whole", "--steps", "4", *phases) == 0
    assert _train(tmp_path / "halves", "--steps", "2", *phases) == 0
    assert _train(tmp_path / "halves", "--steps", "4", "--resume", *phases) == 0
    whole, halves = _checkpoint(tmp_path / "whole"), _checkpoint(tmp_path / "halves")
    assert whole["kind"] == "deeplandscape" and whole["phase_steps"] == halves["phase_steps"] == \
        {"gan": 4, "encoder": 2, "lighting": 2}
    for group in ("model", "optimizer"):
        assert whole[group].keys() == halves[group].keys()
    for name, tensors in whole["model"].items():   # GAN, EMA, both Ds, and E and A fitted again after the resume
        for key, value in tensors.items():
            assert torch.equal(value, halves["model"][name][key]), f"{name}.{key}"
    assert all(torch.equal(whole["rng"][k], halves["rng"][k]) for k in whole["rng"])
    # the resumed run appended its rows: GAN steps 2 and 3 log what the uninterrupted run logged
    gan = lambda rows: [r for r in rows if r["phase"] == "gan"]  # noqa: E731
    assert [r["step"] for r in gan(_log(tmp_path / "halves"))] == ["0", "1", "2", "3"]
    assert [r["g_loss"] for r in gan(_log(tmp_path / "halves"))] == [r["g_loss"] for r in gan(_log(tmp_path / "whole"))]

    # another architecture or other data cannot resume it: one-line errors naming the flag
    assert _train(tmp_path / "halves", "--steps", "6", "--resume", "--channel-max", "32", *phases) == 2
    assert _train(tmp_path / "halves", "--steps", "6", "--resume", *phases, "--synthetic", "3") == 2


def test_export_is_a_model_folder_the_pipeline_loader_opens(tmp_path):
    from cinescape.methods import load_pipeline, read_pipeline_config
    from cinescape.methods.deeplandscape.pipeline import DeepLandscapePipeline
    from cinescape.methods.deeplandscape.sr import SuperResolution, SuperResolutionConfig

    target = tmp_path / "mymodel"   # a model folder with an SR net and defaults of its own: both are kept
    SuperResolution(SuperResolutionConfig(channels=8, num_blocks=1)).save_pretrained(target / "sr")
    (target / "pipeline.json").write_text('{"pipeline_class": "deeplandscape.DeepLandscapePipeline", '
                                          '"defaults": {"num_frames": 3}}')
    assert _train(tmp_path / "run", "--steps", "2", "--batch-size", "4", "--encoder-steps", "1", "--lighting-steps",
                  "1", "--lighting-batch-size", "8", "--encoder-batch-size", "2", "--export", str(target)) == 0
    run = tmp_path / "run"
    assert (run / "log.csv").is_file() and (run / "log.png").is_file()
    pipe = load_pipeline(run / "model")
    assert isinstance(pipe, DeepLandscapePipeline) and pipe.super_resolution is None
    state = _checkpoint(run)["model"]["generator_ema"]
    for key, value in pipe.generator.state_dict().items():   # the EMA generator, stored in float16
        assert torch.allclose(value.float(), state[key].float(), rtol=1e-3, atol=1e-4), key
    settings = read_pipeline_config(run / "model")
    assert settings["method"] == "deeplandscape" and settings["deeplandscape_training"]["resolution"] == 16
    exported = load_pipeline(target)
    assert exported.super_resolution is not None and exported.defaults == {"num_frames": 3}
    assert torch.equal(exported.generator.state_dict()["const"], pipe.generator.state_dict()["const"])
    # and it animates: a 20x30 photo, a 3-frame loop at the photo's size
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    frames = exported(photo, latent_steps=1, finetune_steps=1, finetune_from=8, perceptual="none", use_mask=False)
    assert len(frames) == 3 and frames[0].shape == (20, 30, 3)


@pytest.mark.parametrize("options, message", [
    (["--batch-size", "3"], "--batch-size must be an even number >= 2, got 3"),
    (["--resolution", "24"], "--resolution must be a power of two >= 8, got 24"),
    (["--crop", "32"], "--crop is not an option of `cinescape train deeplandscape`"),
    (["--time-budget", "10"], "--time-budget (10.0 s) must exceed --encoder-seconds (60.0 s) + --lighting-seconds (20.0 s)"),
])
def test_bad_options_are_one_line_errors_naming_the_flag(tmp_path, capsys, options, message):
    assert _train(tmp_path / "run", *options) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cinescape: error: ") and "\n" not in err and message in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


# ------------------------------------------------------------------------------------------ data parallel

def _run(out, extra, nproc=None):
    args = ["train", "deeplandscape", *TINY, "--steps", "3", "--encoder-steps", "2", "--lighting-steps", "2",
            "--threads", "1", "--out", str(out), *extra]
    prefix = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
              if nproc else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([*prefix, "-m", "cinescape.cli", *args], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


def test_two_process_torchrun_equals_one_process_with_the_global_batch(tmp_path):
    # per process: batch 8 (D batches 8, pairs 4 = 2 generated + 2 crop pairs, all multiples of --mbstd-group 2)
    err = _run(tmp_path / "ddp", ["--batch-size", "8", "--encoder-batch-size", "4", "--lighting-batch-size", "8"], 2)
    assert "not all multiples of mbstd_group" not in err
    _run(tmp_path / "single", ["--batch-size", "16", "--encoder-batch-size", "8", "--lighting-batch-size", "16"])
    ddp, single = _checkpoint(tmp_path / "ddp"), _checkpoint(tmp_path / "single")
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["phase_steps"] == single["phase_steps"] == {"gan": 3, "encoder": 2, "lighting": 2}
    # Same samples, averaged gradients: every weight of every network agrees to float rounding, which Adam
    # rescales (observed: <= 1.5e-5 on mapping weights of magnitude ~450, <= 1e-5 on the encoder's). Different
    # samples would move weights by ~lr (2e-3 for the GAN, 1e-3 for E and A) per step.
    for name, tensors in single["model"].items():
        for key, value in tensors.items():
            assert torch.allclose(ddp["model"][name][key], value, rtol=1e-4, atol=1e-4), f"{name}.{key}"
    # rank 0 alone writes the log, with the global batch's losses
    ddp_log, single_log = _log(tmp_path / "ddp"), _log(tmp_path / "single")
    assert len(ddp_log) == len(single_log) == 3 + 2 + 2
    for a, b in zip(ddp_log, single_log):
        assert a["phase"] == b["phase"] and a["step"] == b["step"]
        for key in ("d_unary", "d_pair", "r1", "g_loss", "encoder_mae", "lighting_l1"):
            if b[key]:
                assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4), (b["phase"], b["step"], key)
