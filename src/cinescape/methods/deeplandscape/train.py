"""Train DeepLandscape (Logacheva et al. 2020): config dataclass, data, one loop. ``cinescape train deeplandscape``
is a thin shell over :func:`train_deeplandscape`::

    cinescape train deeplandscape --data ../shared/data/motion --data ../shared/data/appearance --out runs/dl \\
        --steps 3000 --batch-size 4 --device cpu                                  # CPU
    cinescape train deeplandscape --data runs/deeplandscape/frames.npz --out runs/dl --batch-size 64 \\
        --time-budget 470 --device cuda                                           # one GPU
    torchrun --nproc_per_node 2 -m cinescape.cli train deeplandscape ... --batch-size 32   # data parallel

Data (:mod:`.data`): clips, folders of clips or ``.npz`` frame archives (``python -m
cinescape.methods.deeplandscape.data`` builds the shipped model's), plus procedural clips; square frames of
``resolution`` px, each tagged with its clip. The validation split is left out unless ``include_validation``.

Phases (in order, each resumable from ``OUT/checkpoint.pt``):

1. GAN, ``steps`` steps. Each step updates both discriminators, then the generator against one of them:
   * unary D_st: real = single frames; fake = G(M(z_st, z_dyn), S^st, S^dyn) (with style mixing);
   * pairwise D_dyn: real = two frames of one clip (any distance apart); fake = two samples sharing z_st and
     S^st with independent z_dyn and S^dyn, plus the paper's *crop sampling*: two crops of one real frame at
     different places. Every pair is cropped and resized (same box for both frames; two boxes for a crop pair),
     so real and fake pairs have the same resampling blur;
   * non-saturating loss, lazy R1 on reals every ``r1_every`` steps (weight ``r1_weight``, the paper's gamma),
     DiffAugment on every D input;
   * the generator is trained against D_dyn with probability annealed from 0.5 to 0.1 (paper: over each
     resolution phase; we have no progressive growing, so over ``pair_anneal_steps``);
   * an exponential moving average of G (the exported generator) and of w (``w_avg``).
2. Encoder E on the EMA generator's samples, ``encoder_steps`` (MAE on W, paper Step 1 of inference).
3. Lighting approximator A on the EMA mapping network, ``lighting_steps`` (L1 + 0.1 (1 - cos), paper "Lighting
   manipulation").

Outputs: ``OUT/checkpoint.pt`` (every network, optimiser, step counter and random stream), ``OUT/log.csv`` and
``OUT/log.png`` (one row per ``log_every`` steps of each phase), ``OUT/model/`` (a DeepLandscape model folder:
``generator/``, ``encoder/``, ``lighting/`` and ``pipeline.json``; no ``sr/``, which ``python -m
cinescape.methods.deeplandscape.sr`` trains) rewritten every ``export_every_seconds`` so that a run stopped from
outside still leaves weights, and ``export``: the same parts written into another model folder, whose ``sr/`` and
``pipeline.json`` defaults are kept. A ``time_budget`` (wall clock, all phases) ends each phase early, keeping
``encoder_seconds`` and ``lighting_seconds`` of it for the last two.

Resume: a run of N GAN steps equals, bit for bit, a run of N/2 steps resumed to N (every random draw comes from
one of three seeded streams, one per phase, saved in the checkpoint). When a resumed run adds GAN steps, E and A
start again from their initialisation (they were fitted to the old generator).

Data parallel (``torchrun``; gloo on CPU, NCCL on GPUs): ``batch_size`` (and the encoder's and lighting batch sizes)
are per process. Every rank draws the *global* batch's random inputs (latents, noise, frame and pair indices, crop
boxes, augmentation) from the same seeded stream, keeps its slice and runs the networks on it; gradients are
averaged over the ranks (one all_reduce) before each optimiser step, so N processes of batch b compute what one
process of batch N b does, up to float rounding. Minibatch standard deviation (in both discriminators) couples
samples: its groups are ``mbstd_group`` consecutive samples, so they fall inside one rank's slice, and the N-process
run forms exactly the one-process run's groups when every discriminator batch on a rank (``batch_size``, half of
it, and its crop-pair and generated-pair shares) is a multiple of ``mbstd_group``; otherwise the groups are smaller
and the runs differ a little (a note says so). Rank 0 alone logs, checkpoints and exports.

Deviations: no progressive growing; StyleGAN2 layers; widths and the encoder are small (see the modules).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from ...errors import OptionError
from ...training import (CHECKPOINT_FILE, Distributed, RunLog, check_resumable, load_checkpoint, plot_log,
                         save_checkpoint, training_settings)
from .augment import AUGMENT_OPS, apply_augment, crop_resize, draw_augment
from .data import FrameArchive, load_training_frames
from .discriminator import Discriminator, DiscriminatorConfig
from .encoder import LightingApproximator, LightingApproximatorConfig, StyleEncoder, StyleEncoderConfig
from .generator import DeepLandscapeGenerator, DeepLandscapeGeneratorConfig

__all__ = ["DeepLandscapeTrainConfig", "train_deeplandscape", "export_model", "FrameData"]

KIND = "deeplandscape"
PHASES = ("gan", "encoder", "lighting")
LOG_FIELDS = ["phase", "d_unary", "d_pair", "r1", "g_loss", "g_pair", "pair_prob", "encoder_mae", "lighting_l1",
              "lighting_rel"]


@dataclass
class DeepLandscapeTrainConfig:
    out: str
    data: list[str] = field(default_factory=list)   # clips, folders of clips (PATH[:STRIDE]) or .npz archives
    synthetic: int = 0                   # procedural clips added to the data
    include_validation: bool = False     # also train on the validation split (cinescape.data.splits)
    frames_per_clip: int = 16            # frames kept, evenly spaced, of every clip (archives: as they are)
    # model: the generator and both discriminators
    resolution: int = 128
    channel_base: int = 4096             # channels at resolution r: min(channel_max, channel_base // r)
    channel_max: int = 256
    z_static_dim: int = 128
    z_dynamic_dim: int = 128
    w_dim: int = 256
    mapping_layers: int = 4
    mbstd_group: int = 4                 # minibatch-stddev group (consecutive samples)
    # GAN
    steps: int = 3000
    batch_size: int = 32                 # per process: unary batch; pair batches are half of it
    lr: float = 0.002                    # Adam (0, 0.99), StyleGAN2's
    r1_weight: float = 0.1               # gamma of the R1 penalty on reals
    r1_every: int = 16                   # lazy regularisation
    style_mixing: float = 0.5
    pair_prob_start: float = 0.5
    pair_prob_end: float = 0.1
    pair_anneal_steps: int = 3000
    crop_pair_fraction: float = 0.5      # of the pairwise discriminator's fakes: crop pairs of real frames
    crop_min_scale: float = 0.75
    augment: str = "color,translation,cutout"
    ema_kimg: float = 10.0               # half-life of G's moving average, thousands of images
    # encoder and lighting approximator
    encoder_steps: int = 1000
    encoder_batch_size: int = 64         # per process
    encoder_lr: float = 1e-3
    lighting_steps: int = 5000
    lighting_batch_size: int = 256       # per process
    lighting_lr: float = 1e-3
    # run control
    time_budget: float = 0.0             # wall-clock seconds for all phases; 0 = no limit (steps decide)
    encoder_seconds: float = 60.0        # of the time budget, kept for the encoder phase
    lighting_seconds: float = 20.0       # of the time budget, kept for the lighting phase
    export_every_seconds: float = 120.0  # also rewrite OUT/model this often during the run (0: only at the end)
    checkpoint_every: int = 500
    log_every: int = 50
    device: str = "auto"                 # auto (CUDA when available), cpu, cuda, cuda:N
    bf16: bool = True                    # bf16 autocast on CUDA (CPU runs are float32)
    seed: int = 0
    threads: int = 0                     # torch threads (0: torch's default)

    def generator_config(self) -> DeepLandscapeGeneratorConfig:
        return DeepLandscapeGeneratorConfig(
            resolution=self.resolution, z_static_dim=self.z_static_dim, z_dynamic_dim=self.z_dynamic_dim,
            w_dim=self.w_dim, mapping_layers=self.mapping_layers, channel_base=self.channel_base,
            channel_max=self.channel_max)

    def pair_counts(self) -> tuple[int, int]:
        """Per process: (generated pairs, crop pairs) among the pairwise discriminator's fakes."""
        pairs = self.batch_size // 2
        crops = round(pairs * self.crop_pair_fraction)
        return pairs - crops, crops

    def validate(self) -> None:
        """One-line :class:`~cinescape.errors.OptionError` naming the first field out of range."""
        if not self.data and not self.synthetic:
            raise OptionError("nothing to train on: give data (clips, folders of clips or .npz archives) and/or "
                              "synthetic (a count)")
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise OptionError(f"resolution must be a power of two >= 8, got {self.resolution}")
        for name in ("steps", "batch_size", "encoder_batch_size", "lighting_batch_size", "r1_every", "channel_base",
                     "channel_max", "z_static_dim", "z_dynamic_dim", "w_dim", "mapping_layers", "mbstd_group",
                     "pair_anneal_steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("synthetic", "encoder_steps", "lighting_steps", "r1_weight", "ema_kimg", "time_budget",
                     "encoder_seconds", "lighting_seconds", "export_every_seconds", "threads"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.batch_size < 2 or self.batch_size % 2:
            raise OptionError(f"batch_size must be an even number >= 2, got {self.batch_size}")
        if self.frames_per_clip < 2:
            raise OptionError(f"frames_per_clip must be >= 2 (the pairwise discriminator pairs frames of a clip), "
                              f"got {self.frames_per_clip}")
        for name in ("lr", "encoder_lr", "lighting_lr"):
            if not getattr(self, name) > 0:
                raise OptionError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("pair_prob_start", "pair_prob_end", "crop_pair_fraction", "style_mixing"):
            if not 0 <= getattr(self, name) <= 1:
                raise OptionError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0 < self.crop_min_scale <= 1:
            raise OptionError(f"crop_min_scale must lie in (0, 1], got {self.crop_min_scale}")
        unknown = [op for op in self.augment.split(",") if op and op not in AUGMENT_OPS]
        if unknown:
            raise OptionError(f"augment must list ops of {', '.join(AUGMENT_OPS)}, got {unknown[0]!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise OptionError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.time_budget and self.encoder_seconds + self.lighting_seconds >= self.time_budget:
            raise OptionError(f"time_budget ({self.time_budget} s) must exceed encoder_seconds "
                              f"({self.encoder_seconds} s) + lighting_seconds ({self.lighting_seconds} s)")


# Config fields that shape a network: a checkpoint resumes only with the same values.
ARCHITECTURE_FIELDS = ("resolution", "channel_base", "channel_max", "z_static_dim", "z_dynamic_dim", "w_dim",
                       "mapping_layers")


# ---------------------------------------------------------------------------------------------------- data

class Shard:
    """This rank's rows of a global batch: rank r of N takes rows [r n/N, (r + 1) n/N) of every draw."""

    def __init__(self, rank: int = 0, world_size: int = 1):
        self.rank, self.world_size = rank, world_size

    def __call__(self, x):
        if isinstance(x, (list, tuple)):
            return [self(t) for t in x]
        if self.world_size == 1:
            return x
        n = x.shape[0] // self.world_size
        return x[self.rank * n:(self.rank + 1) * n]

    def params(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: self(v) for k, v in params.items()}


class FrameData:
    """All frames on the device as uint8; samples single frames and same-clip pairs, returned in [-1, 1]. Indices
    and flips are drawn for the ``n`` samples of the global batch; ``part`` (a :class:`Shard`) keeps this rank's."""

    def __init__(self, archive: FrameArchive, device: torch.device):
        order = np.argsort(archive.clip, kind="stable")
        frames, clip = archive.frames[order], archive.clip[order]
        self.frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous().to(device)
        ids, starts, counts = np.unique(clip, return_index=True, return_counts=True)
        where = np.searchsorted(ids, clip)
        self.clip_start = torch.from_numpy(starts[where]).to(device)
        self.clip_count = torch.from_numpy(counts[where]).to(device)
        self.video_frames = torch.nonzero(self.clip_count >= 2).squeeze(1)
        if len(self.video_frames) == 0:
            raise OptionError("data: no clip has two frames; the pairwise discriminator needs time-lapses")
        self.device = device

    def __len__(self) -> int:
        return self.frames.shape[0]

    def _float(self, index: torch.Tensor) -> torch.Tensor:
        return self.frames[index].float() / 127.5 - 1.0

    def images(self, n: int, generator: torch.Generator, part: Shard = Shard()) -> torch.Tensor:
        index = torch.randint(0, len(self), (n,), device=self.device, generator=generator)
        flip = torch.rand(n, device=self.device, generator=generator) < 0.5
        x = self._float(part(index))
        return torch.where(part(flip).view(-1, 1, 1, 1), x.flip(3), x)

    def pairs(self, n: int, generator: torch.Generator, part: Shard = Shard()) -> tuple[torch.Tensor, torch.Tensor]:
        """Two different frames of one clip each: (n, 3, R, R) twice (the same flip for both)."""
        first = self.video_frames[torch.randint(0, len(self.video_frames), (n,), device=self.device,
                                                generator=generator)]
        count = self.clip_count[first]
        step = 1 + (torch.rand(n, device=self.device, generator=generator) * (count - 1).float()).long()
        second = self.clip_start[first] + (first - self.clip_start[first] + step) % count
        flip = (torch.rand(n, device=self.device, generator=generator) < 0.5).view(-1, 1, 1, 1)
        a, b, flip = self._float(part(first)), self._float(part(second)), part(flip)
        return torch.where(flip, a.flip(3), a), torch.where(flip, b.flip(3), b)


def random_boxes(n: int, min_scale: float, device, generator) -> tuple[torch.Tensor, torch.Tensor]:
    scale = min_scale + (1 - min_scale) * torch.rand(n, device=device, generator=generator)
    offset = (torch.rand(n, 2, device=device, generator=generator) * 2 - 1) * (1 - scale).unsqueeze(1)
    return scale, offset


# ---------------------------------------------------------------------------------------------------- models

class Models:
    """Every network and optimiser of a run, the step counter of each phase and its random stream."""

    def __init__(self, config: DeepLandscapeTrainConfig, device: torch.device):
        g = config.generator_config()
        self.generator = DeepLandscapeGenerator(g).to(device)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        d_config = dict(resolution=g.resolution, channel_base=config.channel_base, channel_max=config.channel_max,
                        mbstd_group=config.mbstd_group)
        self.d_unary = Discriminator(DiscriminatorConfig(**d_config, pairwise=False)).to(device)
        self.d_pair = Discriminator(DiscriminatorConfig(**d_config, pairwise=True)).to(device)
        self.encoder = StyleEncoder(StyleEncoderConfig(resolution=g.resolution, num_ws=g.num_ws, w_dim=g.w_dim)).to(device)
        self.lighting = LightingApproximator(LightingApproximatorConfig(w_dim=g.w_dim, z_dynamic_dim=g.z_dynamic_dim)).to(device)
        mapping = list(self.generator.mapping.parameters())
        mapping_ids = {id(p) for p in mapping}
        synthesis = [p for p in self.generator.parameters() if id(p) not in mapping_ids]
        # StyleGAN's lazy-regularisation correction of Adam's lr and betas for D (R1 every r1_every steps).
        ratio = config.r1_every / (config.r1_every + 1)
        self.g_opt = torch.optim.Adam([{"params": synthesis}, {"params": mapping}], lr=config.lr, betas=(0.0, 0.99))
        self.d_opt = torch.optim.Adam(list(self.d_unary.parameters()) + list(self.d_pair.parameters()),
                                      lr=config.lr * ratio, betas=(0.0, 0.99 ** ratio))
        self.e_opt = torch.optim.Adam(self.encoder.parameters(), lr=config.encoder_lr)
        self.a_opt = torch.optim.Adam(self.lighting.parameters(), lr=config.lighting_lr)
        self.steps = dict.fromkeys(PHASES, 0)
        # One random stream per phase, so that E and A can start again without touching the GAN's stream.
        self.rng = {phase: torch.Generator(device=device).manual_seed(config.seed * len(PHASES) + k)
                    for k, phase in enumerate(PHASES)}

    # what each phase trains: a resumed run that adds GAN steps starts the later phases again
    _networks = {"gan": ("generator", "generator_ema", "d_unary", "d_pair"), "encoder": ("encoder",),
                 "lighting": ("lighting",)}
    _optimizers = {"gan": ("g_opt", "d_opt"), "encoder": ("e_opt",), "lighting": ("a_opt",)}

    def state(self) -> dict:
        """The checkpoint entries: ``model``, ``optimizer``, ``step`` (GAN steps done), ``phase_steps``, ``rng``."""
        networks = [n for phase in PHASES for n in self._networks[phase]]
        optimizers = [n for phase in PHASES for n in self._optimizers[phase]]
        return {"model": {n: getattr(self, n).state_dict() for n in networks},
                "optimizer": {n: getattr(self, n).state_dict() for n in optimizers},
                "step": self.steps["gan"], "phase_steps": dict(self.steps),
                "rng": {phase: rng.get_state() for phase, rng in self.rng.items()}}

    def load_phases(self, state: dict, phases: tuple[str, ...]) -> None:
        for phase in phases:
            for name in self._networks[phase]:
                getattr(self, name).load_state_dict(state["model"][name])
            for name in self._optimizers[phase]:
                getattr(self, name).load_state_dict(state["optimizer"][name])
            self.steps[phase] = state["phase_steps"][phase]
            self.rng[phase].set_state(state["rng"][phase])


# ---------------------------------------------------------------------------------------------------- GAN step

def _fake_images(g: DeepLandscapeGenerator, n: int, config: DeepLandscapeTrainConfig, rng: torch.Generator,
                 part: Shard, device) -> torch.Tensor:
    """This rank's part of ``n`` unary fakes with style mixing: with probability ``style_mixing`` the resolutions
    from a random cut on use the style of a second latent."""
    z_st, z_dyn = g.sample_latents(n, generator=rng, device=device)
    ws = g.styles(part(z_st), part(z_dyn))
    if config.style_mixing > 0:
        z_st2, z_dyn2 = g.sample_latents(n, generator=rng, device=device)
        cut = torch.randint(1, g.config.num_ws, (n, 1, 1), device=device, generator=rng)
        mix = torch.rand(n, 1, 1, device=device, generator=rng) < config.style_mixing
        use_second = part(mix) & (torch.arange(g.config.num_ws, device=device).view(1, -1, 1) >= part(cut))
        ws = torch.where(use_second, g.styles(part(z_st2), part(z_dyn2)), ws)
    static_noise = g.sample_noise(n, generator=rng, device=device)
    dynamic_noise = g.sample_noise(n, generator=rng, device=device)
    return g.synthesis(ws, part(static_noise), part(dynamic_noise))


def _fake_pairs(g: DeepLandscapeGenerator, n: int, rng: torch.Generator, part: Shard, device) -> torch.Tensor:
    """This rank's part of ``n`` pairs of samples sharing z_st and S^st, with independent z_dyn and S^dyn:
    (n / N, 6, R, R)."""
    z_st, z_dyn1 = g.sample_latents(n, generator=rng, device=device)
    z_dyn2 = torch.randn(z_dyn1.shape, device=device, generator=rng)
    s_st = part(g.sample_noise(n, generator=rng, device=device))
    s_dyn = [torch.cat(pair) for pair in zip(part(g.sample_noise(n, generator=rng, device=device)),
                                             part(g.sample_noise(n, generator=rng, device=device)))]
    z_st, z_dyn1, z_dyn2 = part(z_st), part(z_dyn1), part(z_dyn2)
    images = g.synthesis(g.styles(torch.cat((z_st, z_st)), torch.cat((z_dyn1, z_dyn2))),
                         [torch.cat((s, s)) for s in s_st], s_dyn)
    m = z_st.shape[0]
    return torch.cat((images[:m], images[m:]), dim=1)


def _same_box(pairs: torch.Tensor, n: int, config: DeepLandscapeTrainConfig, rng, part: Shard, device) -> torch.Tensor:
    scale, offset = random_boxes(n, config.crop_min_scale, device, rng)
    return crop_resize(pairs, part(scale), part(offset))


def _crop_pairs(frames: torch.Tensor, n: int, config: DeepLandscapeTrainConfig, rng, part: Shard,
                device) -> torch.Tensor:
    """The paper's crop sampling: two crops of the same real frame from different places (same crop size)."""
    scale, offset_a = random_boxes(n, config.crop_min_scale, device, rng)
    offset_b = (torch.rand(n, 2, device=device, generator=rng) * 2 - 1) * (1 - scale).unsqueeze(1)
    scale, offset_a, offset_b = part(scale), part(offset_a), part(offset_b)
    return torch.cat((crop_resize(frames, scale, offset_a), crop_resize(frames, scale, offset_b)), dim=1)


def pair_probability(config: DeepLandscapeTrainConfig, step: int) -> float:
    t = min(1.0, step / max(1, config.pair_anneal_steps))
    return config.pair_prob_start + (config.pair_prob_end - config.pair_prob_start) * t


def _check_finite(loss: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(loss):
        raise RuntimeError(f"{what} loss became {loss.item()} at step {step}; lower the learning rate")


def gan_step(m: Models, data: FrameData, config: DeepLandscapeTrainConfig, world: Distributed, device,
             autocast) -> dict:
    g, du, dp, rng = m.generator, m.d_unary, m.d_pair, m.rng["gan"]
    part = Shard(world.rank, world.world_size)
    n = world.world_size   # every count below is global: n times this rank's share
    b, bp = config.batch_size * n, config.batch_size // 2 * n
    n_fake_pairs, n_crop = (count * n for count in config.pair_counts())
    size = (config.resolution, config.resolution)

    def aug(x: torch.Tensor, count: int) -> torch.Tensor:
        """DiffAugment of this rank's part ``x`` of ``count`` samples, drawn for all of them."""
        if not config.augment:
            return x
        return apply_augment(x, part.params(draw_augment(count, config.augment, size, generator=rng, device=device)))

    stats = {}
    # --- discriminators
    g.requires_grad_(False)
    du.requires_grad_(True)
    dp.requires_grad_(True)
    with autocast():
        with torch.no_grad():
            fake = _fake_images(g, b, config, rng, part, device)
            fake_pairs = (_same_box(_fake_pairs(g, n_fake_pairs, rng, part, device), n_fake_pairs, config, rng,
                                    part, device) if n_fake_pairs else None)
            crop_fakes = (_crop_pairs(data.images(n_crop, rng, part), n_crop, config, rng, part, device)
                          if n_crop else None)
            real = data.images(b, rng, part)
            real_pairs = _same_box(torch.cat(data.pairs(bp, rng, part), dim=1), bp, config, rng, part, device)
        loss_unary = F.softplus(du(aug(fake, b))).mean() + F.softplus(-du(aug(real, b))).mean()
        # generated and crop pairs are augmented with draws of their own counts, then judged in one batch
        pair_fakes = torch.cat([aug(x, k) for x, k in ((fake_pairs, n_fake_pairs), (crop_fakes, n_crop)) if k])
        loss_pair = F.softplus(dp(pair_fakes)).mean() + F.softplus(-dp(aug(real_pairs, bp))).mean()
    _check_finite(loss_unary + loss_pair, "discriminator", m.steps["gan"])
    m.d_opt.zero_grad(set_to_none=True)
    (loss_unary + loss_pair).float().backward()
    stats.update(d_unary=loss_unary.item(), d_pair=loss_pair.item())

    if m.steps["gan"] % config.r1_every == 0 and config.r1_weight > 0:
        real_r1 = real.detach().requires_grad_(True)
        pairs_r1 = real_pairs.detach().requires_grad_(True)
        with autocast():
            score_u, score_p = du(aug(real_r1, b)).sum(), dp(aug(pairs_r1, bp)).sum()
        grad_u, grad_p = torch.autograd.grad((score_u.float(), score_p.float()), (real_r1, pairs_r1), create_graph=True)
        r1 = grad_u.float().pow(2).sum(dim=(1, 2, 3)).mean() + grad_p.float().pow(2).sum(dim=(1, 2, 3)).mean()
        (r1 * (config.r1_weight / 2) * config.r1_every).backward()
        stats["r1"] = r1.item()
    world.average_gradients(list(du.parameters()) + list(dp.parameters()))
    m.d_opt.step()

    # --- generator, against one discriminator (the same choice on every rank: one shared draw)
    g.requires_grad_(True)
    du.requires_grad_(False)
    dp.requires_grad_(False)
    p_pair = pair_probability(config, m.steps["gan"])
    use_pair = torch.rand((), generator=rng, device=device).item() < p_pair
    with autocast():
        if use_pair:
            pairs = _same_box(_fake_pairs(g, bp, rng, part, device), bp, config, rng, part, device)
            loss_g = F.softplus(-dp(aug(pairs, bp))).mean()
        else:
            loss_g = F.softplus(-du(aug(_fake_images(g, b, config, rng, part, device), b))).mean()
    _check_finite(loss_g, "generator", m.steps["gan"])
    m.g_opt.zero_grad(set_to_none=True)
    loss_g.float().backward()
    world.average_gradients(g.parameters())
    m.g_opt.step()
    stats.update(g_loss=loss_g.item(), g_pair=float(use_pair), pair_prob=p_pair)

    # --- moving averages: G's weights (half-life ema_kimg thousand images of the global batch) and w, from the
    # whole global batch of latents on every rank (cheap: the mapping network only), so the ranks stay equal
    with torch.no_grad():
        beta = 0.5 ** (b / max(config.ema_kimg * 1000, 1e-8))
        for p_ema, p in zip(m.generator_ema.parameters(), g.parameters()):
            p_ema.lerp_(p, 1 - beta)
        z = g.sample_latents(b, generator=rng, device=device)
        g.w_avg.lerp_(g.mapping(*z).mean(0).float(), 0.005)
        m.generator_ema.w_avg.copy_(g.w_avg)
    return stats


def encoder_step(m: Models, config: DeepLandscapeTrainConfig, world: Distributed, device, autocast) -> dict:
    g, rng, part = m.generator_ema, m.rng["encoder"], Shard(world.rank, world.world_size)
    n = config.encoder_batch_size * world.world_size
    with torch.no_grad(), autocast():
        z_st, z_dyn = g.sample_latents(n, generator=rng, device=device)
        static_noise = g.sample_noise(n, generator=rng, device=device)
        dynamic_noise = g.sample_noise(n, generator=rng, device=device)
        ws = g.styles(part(z_st), part(z_dyn))
        images = g.synthesis(ws, part(static_noise), part(dynamic_noise)).clamp(-1, 1)
    with autocast():
        loss = (m.encoder(images.float()).float() - ws.float()).abs().mean()
    _check_finite(loss, "encoder", m.steps["encoder"])
    m.e_opt.zero_grad(set_to_none=True)
    loss.backward()
    world.average_gradients(m.encoder.parameters())
    m.e_opt.step()
    return {"encoder_mae": loss.item()}


def lighting_step(m: Models, config: DeepLandscapeTrainConfig, world: Distributed, device) -> dict:
    g, rng, part = m.generator_ema, m.rng["lighting"], Shard(world.rank, world.world_size)
    n = config.lighting_batch_size * world.world_size
    with torch.no_grad():
        z_st, z_dyn_a = g.sample_latents(n, generator=rng, device=device)
        z_dyn_b = torch.randn(z_dyn_a.shape, generator=rng, device=device)
        c = torch.rand(n, generator=rng, device=device)
        z_st, z_dyn_a, z_dyn_b, c = part(z_st), part(z_dyn_a), part(z_dyn_b), part(c)
        w_a = g.mapping(z_st, z_dyn_a)
        w_c = g.mapping(z_st, z_dyn_a * (1 - c).sqrt().unsqueeze(1) + z_dyn_b * c.sqrt().unsqueeze(1))
    w = m.lighting(w_a, z_dyn_b, c)
    l1 = (w - w_c).abs().mean()
    rel = (1 - F.cosine_similarity(w_c - w_a, w - w_a, dim=1)).mean()
    loss = l1 + 0.1 * rel
    _check_finite(loss, "lighting", m.steps["lighting"])
    m.a_opt.zero_grad(set_to_none=True)
    loss.backward()
    world.average_gradients(m.lighting.parameters())
    m.a_opt.step()
    return {"lighting_l1": l1.item(), "lighting_rel": rel.item()}


# ---------------------------------------------------------------------------------------------------- export

def export_model(m: Models, config: DeepLandscapeTrainConfig, folder: str | Path) -> Path:
    """Write the EMA generator, E and A into model folder ``folder`` with a ``pipeline.json`` naming
    ``deeplandscape.DeepLandscapePipeline`` (and the training settings), so that
    ``DeepLandscapePipeline.from_pretrained(folder)`` and ``cinescape.load_pipeline(folder)`` load it. A folder
    that is already a DeepLandscape model keeps its ``sr/`` and its ``pipeline.json`` defaults."""
    from .. import read_pipeline_config
    from .pipeline import PIPELINE_FILE, DeepLandscapePipeline
    from .sr import SuperResolution

    folder = Path(folder)
    defaults, sr = {}, None
    if (folder / PIPELINE_FILE).is_file():
        defaults = read_pipeline_config(folder).get("defaults", {})
    if (folder / "sr").is_dir():
        sr = SuperResolution.from_pretrained(folder / "sr")
    copies = [copy.deepcopy(net).cpu() for net in (m.generator_ema, m.encoder, m.lighting)]  # training goes on
    pipe = DeepLandscapePipeline(*copies, super_resolution=sr, defaults=defaults)
    return pipe.save_pretrained(folder, extra={"deeplandscape_training": training_settings(config)})


# ---------------------------------------------------------------------------------------------------- loop

def _device(config: DeepLandscapeTrainConfig, world: Distributed) -> torch.device:
    if config.device == "auto":
        return world.device
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionError(f"device {config.device}: CUDA is not available")
    if world.world_size > 1 and device.type != world.device.type:
        raise OptionError(f"device {config.device}: under torchrun this machine trains on {world.device.type}")
    return world.device if device.type == world.device.type == "cuda" and world.world_size > 1 else device


def train_deeplandscape(config: DeepLandscapeTrainConfig, *, resume: bool = False, export: str | Path | None = None,
                        progress: bool = True) -> Path:
    """Train (or, with ``resume``, continue from ``OUT/checkpoint.pt``) and return the exported ``OUT/model``;
    ``export``: also write the trained parts into this model folder. See the module docstring."""
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    world = Distributed.from_environment()
    device = _device(config, world)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    use_bf16 = config.bf16 and device.type == "cuda"
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)  # noqa: E731
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda text: tqdm.write(text, file=sys.stderr)) if progress and world.is_main else (lambda text: None)

    archive = load_training_frames(config.data, synthetic=config.synthetic, resolution=config.resolution,
                                   frames_per_clip=config.frames_per_clip, include_validation=config.include_validation)
    data = FrameData(archive, device)
    torch.manual_seed(config.seed)
    m = Models(config, device)
    checkpoint = out / CHECKPOINT_FILE
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        check_resumable(checkpoint, state, KIND, config, clip_names=archive.clip_names,
                        world_size=world.world_size, architecture=ARCHITECTURE_FIELDS)
        # E and A were fitted to the generator of the checkpoint: with more GAN steps to go, they start again
        more_gan = state["phase_steps"]["gan"] < config.steps
        m.load_phases(state, ("gan",) if more_gan else PHASES)
        say(f"resumed at GAN step {m.steps['gan']}, encoder {m.steps['encoder']}, lighting {m.steps['lighting']}"
            + (" (encoder and lighting start again: more GAN steps)" if more_gan and state["phase_steps"]["encoder"]
               else ""))
    elif resume:
        say(f"no checkpoint in {out}; starting from scratch")
    if world.world_size > 1 and any(k % config.mbstd_group for k in (config.batch_size, config.batch_size // 2,
                                                                      *config.pair_counts()) if k):
        say(f"note: discriminator batches per process ({config.batch_size}, {config.batch_size // 2}, "
            f"{'/'.join(map(str, config.pair_counts()))}) are not all multiples of mbstd_group "
            f"({config.mbstd_group}): minibatch-stddev groups differ from one process of the global batch")
    say(f"{device}, {world.world_size} process(es), {len(data)} frames in {len(archive.clip_names)} clips, "
        f"G {sum(p.numel() for p in m.generator.parameters()) / 1e6:.2f} M, "
        f"D {sum(p.numel() for p in m.d_unary.parameters()) / 1e6:.2f} M x2, bf16 {use_bf16}")

    def save() -> None:
        save_checkpoint(checkpoint, {"kind": KIND, **m.state(), "config": dataclasses.asdict(config),
                                     "world_size": world.world_size, "clip_names": archive.clip_names})

    start = time.time()
    last_export = start
    budget = config.time_budget or math.inf
    phase_end = {"gan": budget - config.encoder_seconds - config.lighting_seconds,
                 "encoder": budget - config.lighting_seconds, "lighting": budget}
    totals = {"gan": config.steps, "encoder": config.encoder_steps, "lighting": config.lighting_steps}
    step_fns = {"gan": lambda: gan_step(m, data, config, world, device, autocast),
                "encoder": lambda: encoder_step(m, config, world, device, autocast),
                "lighting": lambda: lighting_step(m, config, world, device)}
    log = RunLog(out / "log.csv", fields=LOG_FIELDS) if world.is_main else None
    try:
        for phase in PHASES:
            total = totals[phase]
            bar = tqdm(total=total, initial=min(m.steps[phase], total), desc=f"deeplandscape {phase}", unit="step",
                       disable=not (progress and world.is_main), file=sys.stderr)
            # the time check is one all_reduce, so every rank stops after the same step
            while m.steps[phase] < total and not (config.time_budget and
                                                  world.any(time.time() - start >= phase_end[phase])):
                stats = step_fns[phase]()
                step = m.steps[phase]
                m.steps[phase] += 1
                bar.update(1)
                if step % config.log_every == 0 or step == total - 1:
                    stats = world.mean(stats)   # the global batch's figures, as one process would log them
                    if log is not None:
                        log.write(step, {"phase": phase, **stats})
                if world.is_main and m.steps[phase] % config.checkpoint_every == 0:
                    save()
                if world.is_main and config.export_every_seconds and \
                        time.time() - last_export >= config.export_every_seconds:
                    export_model(m, config, out / "model")
                    last_export = time.time()
            bar.close()
    finally:
        if log is not None:
            log.close()
    model_dir = out / "model"
    if world.is_main:
        save()
        export_model(m, config, model_dir)
        if export is not None:
            export_model(m, config, export)
        plot_log(out / "log.csv", out / "log.png", title=f"cinescape train deeplandscape: {out}")
        say(f"GAN {m.steps['gan']} steps, encoder {m.steps['encoder']}, lighting {m.steps['lighting']}, "
            f"{time.time() - start:.0f} s")
    if world.world_size > 1:
        dist.barrier()  # no rank leaves before the model is written
        dist.destroy_process_group()
    return model_dir

