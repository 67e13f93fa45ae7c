"""FGLA training (Xue et al. 2021, Sec. 3.3): the loss, the training clips with their group maps, the run
(:mod:`cinescape.training`'s loop) and the export of a model folder. The method and its loss are described in
:mod:`cinescape.methods.fgla`.

    cinescape train fgla --data ../shared/data/motion/skytimelapse128 --out runs/fgla --steps 2000
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...data.clips import (Clip, CropParams, apply_crop, apply_crop_flow, common_motion_field, random_crop_params,
                           sample_clip_indices)
from ...errors import OptionError
from ...models.base import atomic_write_bytes
from ...ops import edge_aware_tv, flow_normalized_to_pixels, warp
from ...segmentation import GROUP_OTHERS, GROUP_SKY, GROUP_WATER, Segmenter
from ...training import Distributed, TrainingRun, adam, optimizer_step, training_settings
from .. import PIPELINE_CONFIG
from ..al.train import TrainConfig, load_training_clips
from .model import FGLACodebook, FGLAModel, load_group_segmenter, resize_groups

PIPELINE_CLASS = "fgla.FGLAPipeline"   # what export_fgla writes into pipeline.json
ARCHITECTURE_FIELDS = ("width", "num_res_blocks", "encoder_width", "encoder_size", "latent_dim", "flow_range", "crop")


@dataclass
class FGLALossWeights:
    """FGLA Eq. 12. ``flow`` (alpha) and ``tv`` (beta) weigh terms computed on normalised flows (module docstring)."""

    frame: float = 1.0
    flow: float = 0.5      # alpha
    tv: float = 5.0        # beta
    sigma: float = 0.1     # edge sensitivity of the TV weights, Eq. 11


def fgla_loss(model: FGLAModel, frame: torch.Tensor, next_frame: torch.Tensor, groups: torch.Tensor,
              target_flow: torch.Tensor, weights: FGLALossWeights = FGLALossWeights()
              ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """FGLA's training objective (Sec. 3.3) on one batch.

    Args:
        frame, next_frame: (B, 3, S, S) I_t and I_{t+1} in [-1, 1].
        groups: (B, S, S) group map of I_t.
        target_flow: (B, 2, S, S) pseudo-GT backward flow F_t (normalised: ``warp(frame, F_t) ≈ next_frame``).
            It is also the encoder's input, mirrored inside :meth:`FGLAModel.encode` (flip self-supervision).

    Returns:
        total loss, its parts as floats, and the generated flow (B, 2, S, S).
    """
    latents = model.encode(target_flow, groups)
    flow = model.predict_flow(frame, latents, groups).float()
    target_flow = target_flow.float()
    predicted = warp(frame, flow)
    frame_l1 = (predicted - next_frame).abs().mean()
    flow_l1 = (flow - target_flow).abs().mean()
    tv = edge_aware_tv(flow, predicted.detach(), weights.sigma)
    total = weights.frame * frame_l1 + weights.flow * flow_l1 + weights.tv * tv
    stats = {"loss": total.item(), "frame": frame_l1.item(), "flow": flow_l1.item(), "tv": tv.item(),
             "static_frame": (frame - next_frame).abs().mean().item(),
             "flow_l1_px": flow_normalized_to_pixels(flow.detach() - target_flow).abs().mean().item(),
             "flow_px": flow_normalized_to_pixels(flow.detach()).norm(dim=1).mean().item()}
    return total, stats, flow


def fgla_step(model: FGLAModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
              weights: FGLALossWeights = FGLALossWeights(), *, bf16: bool = False, step: int = 0) -> dict[str, float]:
    """One optimisation step on a batch ``{"first", "second", "groups", "flow"}`` (see :func:`fgla_loss`)."""
    device = batch["first"].device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        loss, stats, _ = fgla_loss(model, batch["first"], batch["second"], batch["groups"], batch["flow"], weights)
    optimizer_step(optimizer, loss, step)
    return stats


@dataclass
class FGLATrainConfig:
    """An FGLA training run (``cinescape train fgla``); fields shared with :class:`cinescape.methods.al.train.TrainConfig`
    mean the same."""

    out: str
    data: list[str] = field(default_factory=list)   # PATH or PATH:STRIDE
    synthetic: int = 0
    frame_stride: int = 4            # FGLA Sec. 4.2, one of every 4 frames: the stride of sources without :STRIDE
    steps: int = 2000
    batch_size: int = 8
    crop: int = 128                  # paper: 256
    short_side: int = 160
    lr: float = 1e-4                 # paper: Adam 1e-4 (betas as AL's, 0.5 / 0.999)
    width: float = 0.25              # generator channel multiplier
    num_res_blocks: int = 5
    encoder_width: float = 0.5
    encoder_size: int = 64           # paper: the encoder sees 128 px of a 256 px frame
    latent_dim: int = 2              # paper: 2
    flow_range: float = 32.0         # c: flow = tanh / c (paper: 32)
    alpha: float = FGLALossWeights.flow
    beta: float = FGLALossWeights.tv
    sigma: float = FGLALossWeights.sigma
    min_pair_difference: float = 0.02
    min_pair_motion: float = 0.0
    flow_preset: str = "medium"
    max_frames_per_clip: int = 300
    include_validation: bool = False
    codebook_min_fraction: float = 0.02   # a clip gives a group a codebook latent when the group covers this much
    sky_matte: bool = True           # groups: ADE20K with the sky matte's sky (SkyMatteSegmenter), else ADE20K alone
    bf16: bool = True
    threads: int = 0
    seed: int = 0
    checkpoint_every: int = 250
    snapshot_every: int = 0
    log_every: int = 10

    def validate(self) -> None:
        if self.crop % 8:
            raise OptionError(f"crop must be a multiple of 8, got {self.crop}")
        if self.frame_stride < 1:
            raise OptionError(f"frame_stride must be >= 1, got {self.frame_stride}")
        if not self.data and not self.synthetic:
            raise OptionError("give training data: data (clips or folders of clips) and/or synthetic (a count)")
        if min(self.alpha, self.beta) < 0 or self.flow_range <= 1:
            raise OptionError("alpha and beta must be >= 0 and the flow range c > 1")

    def loss_weights(self) -> FGLALossWeights:
        return FGLALossWeights(flow=self.alpha, tv=self.beta, sigma=self.sigma)


def _with_stride(spec: str, default: int) -> str:
    """``PATH`` -> ``PATH:default``; ``PATH:STRIDE`` stays (an explicit stride wins)."""
    return spec if re.search(r":\d+$", spec) else f"{spec}:{default}"


def _crop_groups(groups: torch.Tensor, params: CropParams, out_size: int) -> torch.Tensor:
    """The crop, resize (nearest) and flip of :func:`~cinescape.data.clips.apply_crop` on an (H, W) group map."""
    patch = groups[params.top:params.top + params.size, params.left:params.left + params.size]
    patch = resize_groups(patch, (out_size, out_size))
    return patch.flip(-1) if params.flip else patch


def _synthetic_groups(clip: Clip, index: int, short_side: int) -> torch.Tensor:
    """The exact group map of procedural clip ``index`` of :func:`cinescape.methods.al.train.load_training_clips`: its
    generator's moving mask above the horizon is sky, below it water, the rest others."""
    from ...data.synthetic import generate_timelapse

    # the same call as load_training_clips makes for motion clips (checked against its frames below)
    made = generate_timelapse(num_frames=24, height=short_side, width=short_side * 3 // 2, seed=10_000 + index,
                              day_cycle=False)
    frames = ((made.frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if frames.shape != clip.frames.shape or not torch.equal(frames[0], clip.frames[0]):
        raise RuntimeError(f"cannot reproduce the procedural clip {clip.name}: train.load_training_clips changed")
    moving = made.masks[0, 0] > 0.5
    rows = torch.arange(moving.shape[0]).view(-1, 1) < round(made.horizon * moving.shape[0])
    groups = torch.full(moving.shape, GROUP_OTHERS, dtype=torch.uint8)
    groups[moving & rows] = GROUP_SKY
    groups[moving & ~rows] = GROUP_WATER
    return groups


def load_fgla_clips(config: FGLATrainConfig, segmenter: Segmenter | None = None,
                    cache: Path | None = None) -> tuple[list[Clip], list[torch.Tensor]]:
    """The training clips with their pseudo-GT flows, and each clip's (H, W) uint8 group map (of its first frame).

    Decoding, pair selection and flows are :func:`cinescape.methods.al.train.load_training_clips`'s (a motion
    configuration with a flow loss); sources without ``:STRIDE`` get ``frame_stride``. Procedural clips map
    their exact sky/water masks to groups; the others are segmented once (``segmenter``, default
    :class:`~cinescape.segmentation.ADE20KSegmenter`, loaded before any decoding so a missing weights file fails
    fast). ``cache``: a file of group maps by clip name, read and updated (so a resumed run does not segment again).
    """
    data = [_with_stride(spec, config.frame_stride) for spec in config.data]
    if data:
        segmenter = load_group_segmenter(segmenter, config.sky_matte)
    motion = TrainConfig(kind="motion", out=config.out, data=data, synthetic=config.synthetic,
                         short_side=config.short_side, min_pair_difference=config.min_pair_difference,
                         min_pair_motion=config.min_pair_motion, flow_loss=1.0, flow_preset=config.flow_preset,
                         max_frames_per_clip=config.max_frames_per_clip, include_validation=config.include_validation,
                         seed=config.seed)
    clips = load_training_clips(motion)
    stored = torch.load(cache, weights_only=True) if cache is not None and cache.is_file() else {}
    maps = []
    for clip in tqdm(clips, desc="semantic groups", unit="clip", disable=len(clips) < 8):
        known = stored.get(clip.name)
        if known is not None and tuple(known.shape) == tuple(clip.frames.shape[-2:]):
            maps.append(known)
        elif clip.name.startswith("synthetic/"):
            maps.append(_synthetic_groups(clip, int(clip.name.split("/")[1]), config.short_side))
        else:
            first = np.ascontiguousarray(clip.frames[0].permute(1, 2, 0).numpy())
            maps.append(torch.from_numpy(segmenter.classes(first).astype(np.uint8)))
    if cache is not None:
        torch.save({c.name: m for c, m in zip(clips, maps)}, cache)
    return clips, maps


def _sample_batch(clips: list[Clip], maps: list[torch.Tensor], config: FGLATrainConfig,
                  rng: random.Random) -> dict[str, torch.Tensor]:
    batch: dict[str, list] = {"first": [], "second": [], "groups": [], "flow": []}
    for i in sample_clip_indices(len(clips), config.batch_size, rng):
        clip = clips[i]
        t = rng.choice(clip.pairs)
        params = random_crop_params(clip.frames.shape[-2], clip.frames.shape[-1], config.crop, rng)
        batch["first"].append(apply_crop(clip.frames[t], params, config.crop))
        batch["second"].append(apply_crop(clip.frames[t + 1], params, config.crop))
        batch["flow"].append(apply_crop_flow(clip.flows[t], params, config.crop))
        batch["groups"].append(_crop_groups(maps[i], params, config.crop))
    return {k: torch.stack(v) for k, v in batch.items()}


# --------------------------------------------------------------------------------------- training

def build_fgla_model(config: FGLATrainConfig) -> FGLAModel:
    return FGLAModel.create(width=config.width, num_res_blocks=config.num_res_blocks, flow_range=config.flow_range,
                            latent_dim=config.latent_dim, encoder_width=config.encoder_width,
                            encoder_size=config.encoder_size, reference_size=config.crop)


def train_fgla(config: FGLATrainConfig, *, resume: bool = False, export: str | Path | None = None,
               segmenter: Segmenter | None = None, progress: bool = True) -> Path:
    """Train FGLA (Sec. 3.3) and export ``OUT/model``; returns that folder. The run folder is
    :class:`~cinescape.training.TrainingRun`'s (checkpoint, ``resume``, log, snapshots; ``export`` writes the model
    folder there too) plus ``OUT/group_maps.pt``, the clips' group maps. One process (no torchrun)."""
    config.validate()
    world = Distributed.single_process("cinescape train fgla")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    clips, maps = load_fgla_clips(config, segmenter, cache=out / "group_maps.pt")
    model = build_fgla_model(config)
    optimizer = adam(model, config.lr)
    run = TrainingRun(out, "fgla", config, model, optimizer, rng, world=world, architecture=ARCHITECTURE_FIELDS,
                      progress=progress)
    clip_names = [c.name for c in clips]
    run.resume_if(resume, clip_names=clip_names)
    weights = config.loss_weights()
    model.train()

    def step_fn(step: int) -> dict[str, float]:
        return fgla_step(model, optimizer, _sample_batch(clips, maps, config, rng), weights, bf16=config.bf16,
                         step=step)

    return run.run(step_fn, export=lambda folder: export_fgla(model, config, clips, maps, folder),
                   export_to=export, extra_state=lambda: {"clip_names": clip_names})


# --------------------------------------------------------------------------------------- export

@torch.no_grad()
def build_codebook(model: FGLAModel, clips: list[Clip], maps: list[torch.Tensor],
                   min_fraction: float = 0.02) -> FGLACodebook:
    """Each clip's mean pseudo-GT flow (:func:`~cinescape.data.clips.common_motion_field`) encoded under each group
    that covers at least ``min_fraction`` of its first frame (:meth:`FGLAModel.encode_field`)."""
    model = model.eval()
    latents = [[] for _ in range(model.num_groups)]
    names = [[] for _ in range(model.num_groups)]
    for clip, groups in zip(clips, maps):
        encoded = model.encode_field(common_motion_field(clip), groups)
        fractions = torch.bincount(groups.long().flatten(), minlength=model.num_groups).float() / groups.numel()
        for g in range(model.num_groups):
            if fractions[g] >= min_fraction:
                latents[g].append(encoded[g])
                names[g].append(clip.name)
    dim = model.encoder.config.latent_dim
    return FGLACodebook([torch.stack(v) if v else torch.zeros(0, dim) for v in latents], names)


def export_fgla(model: FGLAModel, config: FGLATrainConfig, clips: list[Clip], maps: list[torch.Tensor],
                folder: Path) -> None:
    """Write an FGLA model folder: ``fgla_predictor/``, ``fgla_encoder/`` (config JSON + safetensors),
    ``fgla_codebook.safetensors`` and ``pipeline.json`` (working size and the training settings)."""
    model = copy.deepcopy(model).cpu().eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, dtype=torch.float16)
    build_codebook(model, clips, maps, config.codebook_min_fraction).save(folder)
    settings = {"pipeline_class": PIPELINE_CLASS, "working_size": 144, "fgla_training": training_settings(config)}
    atomic_write_bytes(folder / PIPELINE_CONFIG, (json.dumps(settings, indent=2) + "\n").encode())
