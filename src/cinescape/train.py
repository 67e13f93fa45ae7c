"""Training of the motion and appearance models (AL Algorithms 2 and 3), resumable, without framework magic.

Usage (the CLI wraps these)::

    cinescape train motion --data ../shared/data/motion --synthetic 16 --out runs/motion --steps 3000
    cinescape train appearance --data ../shared/data/appearance --out runs/appearance --steps 2000

Each run keeps ``OUT/checkpoint.pt`` (model, optimiser, step, RNG states and, for motion, the common
motion fields), ``OUT/log.csv`` (losses per logged step) and ``OUT/model/`` (the exported predictor,
encoder and codebook). ``--resume`` continues from the checkpoint. ``--export DIR`` also writes the
trained part into a pipeline folder DIR (the other part's files there are kept).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .appearance import AppearanceLoss, AppearanceLossWeights, AppearanceModel, appearance_loss
from .codebook import Codebook
from .data.clips import (Clip, apply_crop, clip_from_tensor, load_clip, random_crop_params, sample_clip_indices,
                         select_motion_pairs)
from .data.splits import is_validation_clip
from .errors import CinescapeError, OptionError
from .models.base import atomic_write_bytes
from .motion import MotionLossWeights, MotionModel, motion_loss
from .ops import resize_flow
from .pipeline import PIPELINE_CONFIG

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif"}


@dataclass
class TrainConfig:
    kind: str                                   # "motion" or "appearance"
    out: str
    data: list[str] = field(default_factory=list)   # PATH or PATH:STRIDE; a clip, or a folder of clips
    synthetic: int = 0                          # procedural clips added to the data
    steps: int = 2000
    batch_size: int = 8
    crop: int = 128                             # training crop side (AL: 256)
    short_side: int = 160                       # clips are decoded with this short side
    lr: float = 1e-4                            # AL: Adam, 1e-4, betas (0.5, 0.999)
    width: float = 0.25
    num_res_blocks: int = 5
    encoder_width: float = 0.5
    encoder_size: int = 64
    latent_dim: int = 8
    beta: float = 16.0                          # motion only
    motion_tv: float = MotionLossWeights.tv
    motion_norm: str = MotionLossWeights.norm     # "l2" (AL) or "charbonnier"
    min_pair_difference: float = 0.02           # motion only (AL Sec. 6.1)
    max_frames_per_clip: int = 300
    include_validation: bool = False
    bf16: bool = True
    threads: int = 0                            # 0 = torch default
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 10


# --------------------------------------------------------------------------------------------- data

def parse_source(spec: str) -> tuple[Path, int]:
    """``PATH`` or ``PATH:STRIDE`` -> (path, stride)."""
    head, sep, tail = spec.rpartition(":")
    if not (sep and head and tail.isdigit()):
        return Path(spec), 1
    if int(tail) < 1:
        raise OptionError(f"stride in {spec!r} must be >= 1")
    return Path(head), int(tail)


def discover_clips(root: Path) -> list[Path]:
    """Clips under ``root``: video files, and folders holding at least two image files."""
    if not root.exists():
        raise OptionError(f"training data {root} does not exist")
    if root.is_file():
        return [root] if root.suffix.lower() in VIDEO_SUFFIXES else []
    images = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if len(images) >= 2:
        return [root]
    clips = []
    for child in sorted(root.iterdir()):
        clips.extend(discover_clips(child))
    return clips


def load_training_clips(config: TrainConfig) -> list[Clip]:
    """Decode every clip of ``config.data`` (minus the validation split) plus the synthetic ones."""
    paths: list[tuple[Path, int]] = []
    for spec in config.data:
        root, stride = parse_source(spec)
        found = discover_clips(root)
        if not found:
            raise OptionError(f"no clips (frame folders or videos) found under {root}")
        paths.extend((p, stride) for p in found if config.include_validation or not is_validation_clip(p))
    clips = []
    for path, stride in tqdm(paths, desc="decoding clips", unit="clip"):
        try:
            clips.append(load_clip(path, short_side=config.short_side, stride=stride,
                                   max_frames=config.max_frames_per_clip, name=str(path)))
        except CinescapeError as exc:
            tqdm.write(f"skipping {path}: {exc}")
    if config.synthetic:
        from .data.synthetic import generate_timelapse

        for i in tqdm(range(config.synthetic), desc="synthetic clips", unit="clip"):
            clip = generate_timelapse(num_frames=24 if config.kind == "motion" else 16, height=config.short_side,
                                      width=config.short_side * 3 // 2, seed=10_000 + i,
                                      day_cycle=config.kind == "appearance")
            clips.append(clip_from_tensor(f"synthetic/{i:03d}", clip.frames))
    if config.kind == "motion":
        # Synthetic clips move by construction (their smooth clouds change few pixel values, so the
        # mean-difference test would drop them); the test is for real footage whose motion is unknown.
        clips = [select_motion_pairs(c, 0.0 if c.name.startswith("synthetic/") else config.min_pair_difference)
                 for c in clips]
        dropped = [c.name for c in clips if not c.pairs]
        if dropped:
            tqdm.write(f"{len(dropped)} clips have no frame pair with mean difference >= "
                       f"{config.min_pair_difference} and are not used (raise their stride)")
        clips = [c for c in clips if c.pairs]
    if not clips:
        raise OptionError("no usable training clips")
    return clips


def crop_pair(clip: Clip, t: int, tau: int, size: int, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, bool]:
    params = random_crop_params(clip.frames.shape[-2], clip.frames.shape[-1], size, rng)
    return apply_crop(clip.frames[t], params, size), apply_crop(clip.frames[tau], params, size), params.flip


def flip_flow(flow: torch.Tensor) -> torch.Tensor:
    """Mirror a (.., 2, H, W) flow left-right: flip the columns and negate x."""
    flipped = flow.flip(-1).clone()
    flipped[..., 0, :, :] = -flipped[..., 0, :, :]
    return flipped


# ----------------------------------------------------------------------------------------- training

def build_model(config: TrainConfig):
    common = dict(width=config.width, num_res_blocks=config.num_res_blocks, latent_dim=config.latent_dim,
                  encoder_width=config.encoder_width, encoder_size=config.encoder_size)
    if config.kind == "motion":
        return MotionModel.create(beta=config.beta, reference_size=config.crop, **common)
    if config.kind == "appearance":
        return AppearanceModel.create(**common)
    raise OptionError(f"unknown training kind {config.kind!r}: use motion or appearance")


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(config: TrainConfig, *, resume: bool = False, export: str | Path | None = None,
          appearance_features: torch.nn.Module | None = None, progress: bool = True) -> Path:
    """Train the motion or appearance model; returns the exported model folder ``OUT/model``.

    ``appearance_features`` replaces the SqueezeNet-1.1 feature network (tests pass a random one).
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    if config.kind == "appearance" and appearance_features is None:
        from .models.squeezenet import SqueezeFeatures

        appearance_features = SqueezeFeatures(pretrained=True)  # before decoding data: a missing file fails fast
    clips = load_training_clips(config)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    # AL Algorithm 2: every clip's common motion field starts at zero.
    size = config.encoder_size
    common_fields = torch.zeros(len(clips), 2, size, size)
    start = 0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if state["clip_names"] != [c.name for c in clips]:
            raise OptionError(f"cannot resume {checkpoint_path}: its training clips differ from --data/--synthetic")
        if state["config"]["kind"] != config.kind:
            raise OptionError(f"cannot resume {checkpoint_path}: it is a {state['config']['kind']} run")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        common_fields = state["common_fields"]
        start = state["step"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
    elif resume:
        tqdm.write(f"no checkpoint in {out}; starting from scratch")

    criterion = None
    if config.kind == "appearance":
        criterion = AppearanceLoss(appearance_features, AppearanceLossWeights())
    motion_weights = MotionLossWeights(tv=config.motion_tv, norm=config.motion_norm)

    log_path = out / "log.csv"
    log_file = open(log_path, "a", newline="")
    writer = None
    model.train()
    started = time.time()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc=f"train {config.kind}",
               unit="step", disable=not progress)
    for step in bar:
        indices = sample_clip_indices(len(clips), config.batch_size, rng)
        if config.kind == "motion":
            firsts, seconds, fields, flips = [], [], [], []
            for i in indices:
                t = rng.choice(clips[i].pairs)
                a, b, flipped = crop_pair(clips[i], t, t + 1, config.crop, rng)
                firsts.append(a), seconds.append(b), flips.append(flipped)
                fields.append(flip_flow(common_fields[i]) if flipped else common_fields[i])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                loss, stats, flow = motion_loss(model, torch.stack(firsts), torch.stack(seconds), torch.stack(fields),
                                                motion_weights)
            # Algorithm 2 line 14: the predicted flow becomes the clip's common motion field.
            new_fields = resize_flow(flow.detach().float(), (size, size))
            for row, (i, flipped) in enumerate(zip(indices, flips)):
                common_fields[i] = flip_flow(new_fields[row]) if flipped else new_fields[row]
        else:
            sources, targets = [], []
            for i in indices:
                t, tau = rng.randrange(len(clips[i])), rng.randrange(len(clips[i]))
                a, b, _ = crop_pair(clips[i], t, tau, config.crop, rng)
                sources.append(a), targets.append(b)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                loss, stats = appearance_loss(model, criterion, torch.stack(sources), torch.stack(targets))
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss became {loss.item()} at step {step}; lower --lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        if step % config.log_every == 0 or step == config.steps - 1:
            row = {"step": step, "seconds": round(time.time() - started, 1), **{k: f"{v:.6g}" for k, v in stats.items()}}
            if writer is None:
                writer = csv.DictWriter(log_file, fieldnames=list(row))
                if log_file.tell() == 0:
                    writer.writeheader()
            writer.writerow(row)
            log_file.flush()
            bar.set_postfix(loss=f"{stats['loss']:.4g}")
        if (step + 1) % config.checkpoint_every == 0 or step == config.steps - 1:
            _save_checkpoint(checkpoint_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step + 1,
                "common_fields": common_fields, "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                "config": dataclasses.asdict(config), "clip_names": [c.name for c in clips]})
    log_file.close()

    model.eval()
    model_dir = out / "model"
    export_model(model, config, clips, common_fields, model_dir)
    if export is not None:
        export_model(model, config, clips, common_fields, Path(export))
    return model_dir


# ------------------------------------------------------------------------------------------ export

@torch.no_grad()
def motion_codebook(model: MotionModel, common_fields: torch.Tensor) -> torch.Tensor:
    """One motion code per training clip: the encoding of its final common motion field."""
    return torch.cat([model.encode(chunk) for chunk in common_fields.split(64)])


@torch.no_grad()
def appearance_codebook(model: AppearanceModel, clips: list[Clip], crop: int) -> list[torch.Tensor]:
    """A code sequence per clip: every frame (centre square crop) encoded, in time order."""
    sequences = []
    for clip in clips:
        height, width = clip.frames.shape[-2:]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frames = clip.frames[:, :, top:top + side, left:left + side].float() / 127.5 - 1
        frames = F.interpolate(frames, size=(crop, crop), mode="bilinear", align_corners=False, antialias=True)
        sequences.append(torch.cat([model.encode(chunk) for chunk in frames.split(32)]))
    return sequences


def export_model(model, config: TrainConfig, clips: list[Clip], common_fields: torch.Tensor, folder: Path) -> None:
    """Write the trained part (predictor, encoder, its codebook half) into a pipeline folder, keeping the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, dtype=torch.float16)
    codebook_file = folder / "codebook.safetensors"
    codebook = Codebook.load(folder) if codebook_file.exists() else Codebook(motion=torch.zeros(0, config.latent_dim))
    if config.kind == "motion":
        codebook.motion = motion_codebook(model, common_fields)
        codebook.motion_names = [c.name for c in clips]
    else:
        codebook.appearance = appearance_codebook(model, clips, config.crop)
        codebook.appearance_names = [c.name for c in clips]
    codebook.save(folder)
    pipeline_file = folder / PIPELINE_CONFIG
    settings = json.loads(pipeline_file.read_text()) if pipeline_file.exists() else {}
    settings.setdefault("working_size", 144)
    settings[f"{config.kind}_training"] = {k: v for k, v in dataclasses.asdict(config).items()
                                           if k not in ("out", "threads", "checkpoint_every", "log_every")}
    atomic_write_bytes(pipeline_file, (json.dumps(settings, indent=2) + "\n").encode())


def rebuild_codebook(model_dir: Path, *, motion_checkpoint: str | Path | None = None,
                     appearance_data: list[str] = (), short_side: int = 160) -> Codebook:
    """Re-extract a model folder's codebook: motion codes from a motion run's common motion fields,
    appearance sequences by encoding every frame of each clip under ``appearance_data``."""
    codebook = Codebook.load(model_dir)
    if motion_checkpoint is not None:
        path = Path(motion_checkpoint)
        if not path.is_file():
            raise OptionError(f"motion checkpoint {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or "common_fields" not in state or state.get("config", {}).get("kind") != "motion":
            raise OptionError(f"{path} is not a cinescape motion checkpoint")
        model = MotionModel.from_pretrained(model_dir)
        codebook.motion = motion_codebook(model, state["common_fields"])
        codebook.motion_names = list(state["clip_names"])
    if appearance_data:
        config = TrainConfig(kind="appearance", out="", data=list(appearance_data), short_side=short_side,
                             include_validation=True)
        clips = load_training_clips(config)
        model = AppearanceModel.from_pretrained(model_dir)
        pipeline_file = Path(model_dir) / PIPELINE_CONFIG
        settings = json.loads(pipeline_file.read_text()) if pipeline_file.exists() else {}
        crop = settings.get("appearance_training", {}).get("crop", 128)  # encode frames as training saw them
        codebook.appearance = appearance_codebook(model, clips, crop)
        codebook.appearance_names = [c.name for c in clips]
    codebook.save(model_dir)
    return codebook
