"""Train DeepLandscape (Logacheva et al. 2020) in one file, nanoGPT style: config dataclass, data, one loop.

    python -m cinescape.methods.deeplandscape.train --data frames.npz --out-dir runs/dl --max-steps 20   # CPU smoke
    python -m cinescape.methods.deeplandscape.train --data frames.npz --out-dir runs/dl --time-budget 480 \
        --batch-size 64 --device cuda                                                                  # GPU run

Data: an ``.npz`` with ``frames`` (N, R, R, 3) uint8 and ``clip`` (N,) int64 (frames of one time-lapse share a
clip id; a still image is a clip of one frame). ``python -m cinescape.methods.deeplandscape.data`` builds it from ../shared/data.

Phases (in order, each resumable from ``<out-dir>/checkpoint.pt``):

1. GAN. Each step updates both discriminators, then the generator against one of them:
   * unary D_st: real = single frames; fake = G(M(z_st, z_dyn), S^st, S^dyn) (with style mixing);
   * pairwise D_dyn: real = two frames of one clip (any distance apart); fake = two samples sharing z_st and
     S^st with independent z_dyn and S^dyn, plus the paper's *crop sampling*: two crops of one real frame at
     different places. Every pair is cropped and resized (same box for both frames; two boxes for a crop pair),
     so real and fake pairs have the same resampling blur;
   * non-saturating loss, lazy R1 on reals every ``r1_every`` steps, DiffAugment on every D input;
   * the generator is trained against D_dyn with probability annealed from 0.5 to 0.1 (paper: over each
     resolution phase; we have no progressive growing, so over ``pair_anneal_steps``);
   * an exponential moving average of G (the exported generator) and of w (``w_avg``).
2. Encoder E on the EMA generator's samples (MAE on W, paper Step 1 of inference).
3. Lighting approximator A on the EMA mapping network (L1 + 0.1 (1 - cos), paper "Lighting manipulation").

Outputs: ``log.csv`` (one row per ``log_every`` steps), ``checkpoint.pt`` (everything, resumable), and the
export folder (fp16 safetensors + config.json per network: ``generator/``, ``encoder/``, ``lighting/``), rewritten
every ``export_every_seconds`` so a run stopped by a time limit still leaves weights. Stops by ``max_steps`` or
the ``time_budget`` wall clock, whichever comes first.

Deviations: no progressive growing; StyleGAN2 layers; widths and the encoder are small (see the modules).
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .augment import crop_resize, diff_augment
from .discriminator import Discriminator, DiscriminatorConfig
from .encoder import LightingApproximator, LightingApproximatorConfig, StyleEncoder, StyleEncoderConfig
from .generator import DeepLandscapeGenerator, DeepLandscapeGeneratorConfig


@dataclass
class TrainConfig:
    data: str = "runs/deeplandscape/frames.npz"
    out_dir: str = "runs/deeplandscape"
    export_dir: str = ""                 # default: <out_dir>/export
    # model
    generator: DeepLandscapeGeneratorConfig = field(default_factory=DeepLandscapeGeneratorConfig)
    d_channel_base: int = 4096
    d_channel_max: int = 256
    # GAN optimisation
    batch_size: int = 32                 # unary batch; pair batches are half of it
    lr: float = 0.002
    r1_gamma: float = 0.1
    r1_every: int = 16
    style_mixing: float = 0.5
    pair_prob_start: float = 0.5
    pair_prob_end: float = 0.1
    pair_anneal_steps: int = 3000
    crop_pair_fraction: float = 0.5      # of the pairwise discriminator's fakes: crop pairs of real frames
    crop_min_scale: float = 0.75
    augment: str = "color,translation,cutout"
    ema_kimg: float = 10.0
    max_steps: int = 100_000
    # encoder and lighting phases
    encoder_steps: int = 100_000
    encoder_seconds: float = 60.0
    encoder_batch_size: int = 64
    lighting_steps: int = 100_000
    lighting_seconds: float = 20.0
    # run control
    time_budget: float = 0.0             # wall-clock seconds for all phases; 0 = no limit (steps decide)
    export_every_seconds: float = 120.0
    checkpoint_every: int = 500
    log_every: int = 50
    device: str = "auto"
    bf16: bool = True
    seed: int = 0
    threads: int = 0

    def validate(self) -> None:
        if self.batch_size < 2 or self.batch_size % 2:
            raise ValueError("batch_size must be an even number >= 2")
        if not 0 <= self.pair_prob_end <= 1 or not 0 <= self.pair_prob_start <= 1:
            raise ValueError("pair_prob_start and pair_prob_end must lie in [0, 1]")
        if not 0 < self.crop_min_scale <= 1:
            raise ValueError("crop_min_scale must lie in (0, 1]")


# ---------------------------------------------------------------------------------------------------- data

class FrameData:
    """All frames on the device as uint8; samples single frames and same-clip pairs, returned in [-1, 1]."""

    def __init__(self, path: str, resolution: int, device: torch.device):
        with np.load(path) as archive:
            frames, clip = archive["frames"], archive["clip"]
        if frames.ndim != 4 or frames.shape[1:] != (resolution, resolution, 3) or frames.dtype != np.uint8:
            raise ValueError(f"{path}: frames must be uint8 (N, {resolution}, {resolution}, 3), got "
                             f"{frames.dtype} {frames.shape}")
        order = np.argsort(clip, kind="stable")
        frames, clip = frames[order], clip[order]
        self.frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous().to(device)
        _, starts, counts = np.unique(clip, return_index=True, return_counts=True)
        self.clip_start = torch.from_numpy(starts[np.searchsorted(np.unique(clip), clip)]).to(device)
        self.clip_count = torch.from_numpy(counts[np.searchsorted(np.unique(clip), clip)]).to(device)
        self.video_frames = torch.nonzero(self.clip_count >= 2).squeeze(1)
        if len(self.video_frames) == 0:
            raise ValueError(f"{path}: no clip has two frames; the pairwise discriminator needs time-lapses")
        self.device = device

    def __len__(self) -> int:
        return self.frames.shape[0]

    def _float(self, index: torch.Tensor) -> torch.Tensor:
        return self.frames[index].float() / 127.5 - 1.0

    def images(self, n: int, generator: torch.Generator) -> torch.Tensor:
        index = torch.randint(0, len(self), (n,), device=self.device, generator=generator)
        x = self._float(index)
        flip = torch.rand(n, device=self.device, generator=generator) < 0.5
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)

    def pairs(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two different frames of one clip each: (n, 3, R, R) twice (the same flip for both)."""
        first = self.video_frames[torch.randint(0, len(self.video_frames), (n,), device=self.device,
                                                generator=generator)]
        count = self.clip_count[first]
        step = 1 + (torch.rand(n, device=self.device, generator=generator) * (count - 1).float()).long()
        second = self.clip_start[first] + (first - self.clip_start[first] + step) % count
        a, b = self._float(first), self._float(second)
        flip = (torch.rand(n, device=self.device, generator=generator) < 0.5).view(-1, 1, 1, 1)
        return torch.where(flip, a.flip(3), a), torch.where(flip, b.flip(3), b)


def random_boxes(n: int, min_scale: float, device, generator) -> tuple[torch.Tensor, torch.Tensor]:
    scale = min_scale + (1 - min_scale) * torch.rand(n, device=device, generator=generator)
    offset = (torch.rand(n, 2, device=device, generator=generator) * 2 - 1) * (1 - scale).unsqueeze(1)
    return scale, offset


# ---------------------------------------------------------------------------------------------------- models

class Models:
    """Everything a checkpoint holds."""

    def __init__(self, config: TrainConfig, device: torch.device):
        g = config.generator
        self.generator = DeepLandscapeGenerator(g).to(device)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        d_config = dict(resolution=g.resolution, channel_base=config.d_channel_base, channel_max=config.d_channel_max)
        self.d_unary = Discriminator(DiscriminatorConfig(**d_config, pairwise=False)).to(device)
        self.d_pair = Discriminator(DiscriminatorConfig(**d_config, pairwise=True)).to(device)
        self.encoder = StyleEncoder(StyleEncoderConfig(resolution=g.resolution, num_ws=g.num_ws, w_dim=g.w_dim)).to(device)
        self.lighting = LightingApproximator(LightingApproximatorConfig(w_dim=g.w_dim, z_dynamic_dim=g.z_dynamic_dim)).to(device)
        mapping = list(self.generator.mapping.parameters())
        mapping_ids = {id(p) for p in mapping}
        synthesis = [p for p in self.generator.parameters() if id(p) not in mapping_ids]
        # StyleGAN's lazy-regularisation correction of Adam's lr and betas for D (R1 every r1_every steps).
        ratio = config.r1_every / (config.r1_every + 1)
        betas = (0.0, 0.99)
        self.g_opt = torch.optim.Adam([{"params": synthesis}, {"params": mapping}], lr=config.lr, betas=betas)
        self.d_opt = torch.optim.Adam(list(self.d_unary.parameters()) + list(self.d_pair.parameters()),
                                      lr=config.lr * ratio, betas=(0.0, 0.99 ** ratio))
        self.e_opt = torch.optim.Adam(self.encoder.parameters(), lr=1e-3)
        self.a_opt = torch.optim.Adam(self.lighting.parameters(), lr=1e-3)
        self.step = 0
        self.encoder_step = 0
        self.lighting_step = 0

    _modules = ("generator", "generator_ema", "d_unary", "d_pair", "encoder", "lighting",
                "g_opt", "d_opt", "e_opt", "a_opt")

    def state_dict(self) -> dict:
        state = {name: getattr(self, name).state_dict() for name in self._modules}
        state.update(step=self.step, encoder_step=self.encoder_step, lighting_step=self.lighting_step)
        return state

    def load_state_dict(self, state: dict) -> None:
        for name in self._modules:
            getattr(self, name).load_state_dict(state[name])
        self.step, self.encoder_step, self.lighting_step = state["step"], state["encoder_step"], state["lighting_step"]

    def export(self, folder: Path) -> None:
        self.generator_ema.save_pretrained(folder / "generator", dtype=torch.float16)
        self.encoder.save_pretrained(folder / "encoder", dtype=torch.float16)
        self.lighting.save_pretrained(folder / "lighting", dtype=torch.float16)


# ---------------------------------------------------------------------------------------------------- GAN step

def _fake_images(g: DeepLandscapeGenerator, n: int, config: TrainConfig, rng: torch.Generator, device) -> torch.Tensor:
    """Unary fakes with style mixing: with probability ``style_mixing`` the resolutions from a random cut on use
    the style of a second latent."""
    z_st, z_dyn = g.sample_latents(n, generator=rng, device=device)
    ws = g.styles(z_st, z_dyn)
    if config.style_mixing > 0:
        z_st2, z_dyn2 = g.sample_latents(n, generator=rng, device=device)
        ws2 = g.styles(z_st2, z_dyn2)
        cut = torch.randint(1, g.config.num_ws, (n, 1, 1), device=device, generator=rng)
        mix = (torch.rand(n, 1, 1, device=device, generator=rng) < config.style_mixing)
        use_second = mix & (torch.arange(g.config.num_ws, device=device).view(1, -1, 1) >= cut)
        ws = torch.where(use_second, ws2, ws)
    return g.synthesis(ws, g.sample_noise(n, generator=rng, device=device), g.sample_noise(n, generator=rng, device=device))


def _fake_pairs(g: DeepLandscapeGenerator, n: int, rng: torch.Generator, device) -> torch.Tensor:
    """Two samples sharing z_st and S^st, with independent z_dyn and S^dyn: (n, 6, R, R)."""
    z_st, z_dyn1 = g.sample_latents(n, generator=rng, device=device)
    z_dyn2 = torch.randn(z_dyn1.shape, device=device, generator=rng)
    s_st = g.sample_noise(n, generator=rng, device=device)
    s_dyn = [torch.cat(pair) for pair in zip(g.sample_noise(n, generator=rng, device=device),
                                             g.sample_noise(n, generator=rng, device=device))]
    images = g.synthesis(g.styles(torch.cat((z_st, z_st)), torch.cat((z_dyn1, z_dyn2))),
                         [torch.cat((s, s)) for s in s_st], s_dyn)
    return torch.cat((images[:n], images[n:]), dim=1)


def _same_box(pairs: torch.Tensor, config: TrainConfig, rng, device) -> torch.Tensor:
    scale, offset = random_boxes(pairs.shape[0], config.crop_min_scale, device, rng)
    return crop_resize(pairs, scale, offset)


def _crop_pairs(frames: torch.Tensor, config: TrainConfig, rng, device) -> torch.Tensor:
    """The paper's crop sampling: two crops of the same real frame from different places (same crop size)."""
    n = frames.shape[0]
    scale, offset_a = random_boxes(n, config.crop_min_scale, device, rng)
    offset_b = (torch.rand(n, 2, device=device, generator=rng) * 2 - 1) * (1 - scale).unsqueeze(1)
    return torch.cat((crop_resize(frames, scale, offset_a), crop_resize(frames, scale, offset_b)), dim=1)


def pair_probability(config: TrainConfig, step: int) -> float:
    t = min(1.0, step / max(1, config.pair_anneal_steps))
    return config.pair_prob_start + (config.pair_prob_end - config.pair_prob_start) * t


def gan_step(m: Models, data: FrameData, config: TrainConfig, rng: torch.Generator, device, autocast) -> dict:
    g, du, dp = m.generator, m.d_unary, m.d_pair
    b, bp = config.batch_size, config.batch_size // 2
    aug = lambda x: diff_augment(x, config.augment, generator=rng)  # noqa: E731
    stats = {}

    # --- discriminators
    g.requires_grad_(False)
    du.requires_grad_(True)
    dp.requires_grad_(True)
    with autocast():
        with torch.no_grad():
            fake = _fake_images(g, b, config, rng, device)
            n_crop = round(bp * config.crop_pair_fraction)
            fake_pairs = _same_box(_fake_pairs(g, bp - n_crop, rng, device), config, rng, device)
            crop_fakes = _crop_pairs(data.images(n_crop, rng), config, rng, device)
            real = data.images(b, rng)
            real_pairs = _same_box(torch.cat(data.pairs(bp, rng), dim=1), config, rng, device)
        loss_unary = F.softplus(du(aug(fake))).mean() + F.softplus(-du(aug(real))).mean()
        loss_pair = F.softplus(dp(aug(torch.cat((fake_pairs, crop_fakes))))).mean() + F.softplus(-dp(aug(real_pairs))).mean()
    m.d_opt.zero_grad(set_to_none=True)
    (loss_unary + loss_pair).float().backward()
    stats.update(d_unary=loss_unary.item(), d_pair=loss_pair.item())

    if m.step % config.r1_every == 0 and config.r1_gamma > 0:
        real_r1 = real.detach().requires_grad_(True)
        pairs_r1 = real_pairs.detach().requires_grad_(True)
        with autocast():
            score_u, score_p = du(aug(real_r1)).sum(), dp(aug(pairs_r1)).sum()
        grad_u, grad_p = torch.autograd.grad((score_u.float(), score_p.float()), (real_r1, pairs_r1), create_graph=True)
        r1 = grad_u.float().pow(2).sum(dim=(1, 2, 3)).mean() + grad_p.float().pow(2).sum(dim=(1, 2, 3)).mean()
        (r1 * (config.r1_gamma / 2) * config.r1_every).backward()
        stats["r1"] = r1.item()
    m.d_opt.step()

    # --- generator, against one discriminator
    g.requires_grad_(True)
    du.requires_grad_(False)
    dp.requires_grad_(False)
    p_pair = pair_probability(config, m.step)
    use_pair = torch.rand((), generator=rng, device=device).item() < p_pair
    with autocast():
        if use_pair:
            loss_g = F.softplus(-dp(aug(_same_box(_fake_pairs(g, bp, rng, device), config, rng, device)))).mean()
        else:
            loss_g = F.softplus(-du(aug(_fake_images(g, b, config, rng, device)))).mean()
    m.g_opt.zero_grad(set_to_none=True)
    loss_g.float().backward()
    m.g_opt.step()
    stats.update(g_loss=loss_g.item(), g_pair=float(use_pair), pair_prob=p_pair)

    # --- moving averages: G's weights (half-life ema_kimg thousand images) and w
    with torch.no_grad():
        beta = 0.5 ** (b / max(config.ema_kimg * 1000, 1e-8))
        for p_ema, p in zip(m.generator_ema.parameters(), g.parameters()):
            p_ema.lerp_(p, 1 - beta)
        z = g.sample_latents(b, generator=rng, device=device)
        g.w_avg.lerp_(g.mapping(*z).mean(0).float(), 0.005)
        m.generator_ema.w_avg.copy_(g.w_avg)
    m.step += 1
    return stats


def encoder_step(m: Models, config: TrainConfig, rng, device, autocast) -> dict:
    g = m.generator_ema
    n = config.encoder_batch_size
    with torch.no_grad(), autocast():
        z_st, z_dyn = g.sample_latents(n, generator=rng, device=device)
        ws = g.styles(z_st, z_dyn)
        images = g.synthesis(ws, g.sample_noise(n, generator=rng, device=device),
                             g.sample_noise(n, generator=rng, device=device)).clamp(-1, 1)
    with autocast():
        loss = (m.encoder(images.float()).float() - ws.float()).abs().mean()
    m.e_opt.zero_grad(set_to_none=True)
    loss.backward()
    m.e_opt.step()
    m.encoder_step += 1
    return {"encoder_mae": loss.item()}


def lighting_step(m: Models, config: TrainConfig, rng, device) -> dict:
    g = m.generator_ema
    n = 256
    with torch.no_grad():
        z_st, z_dyn_a = g.sample_latents(n, generator=rng, device=device)
        z_dyn_b = torch.randn(z_dyn_a.shape, generator=rng, device=device)
        c = torch.rand(n, generator=rng, device=device)
        w_a = g.mapping(z_st, z_dyn_a)
        w_c = g.mapping(z_st, z_dyn_a * (1 - c).sqrt().unsqueeze(1) + z_dyn_b * c.sqrt().unsqueeze(1))
    w = m.lighting(w_a, z_dyn_b, c)
    l1 = (w - w_c).abs().mean()
    rel = (1 - F.cosine_similarity(w_c - w_a, w - w_a, dim=1)).mean()
    loss = l1 + 0.1 * rel
    m.a_opt.zero_grad(set_to_none=True)
    loss.backward()
    m.a_opt.step()
    m.lighting_step += 1
    return {"lighting_l1": l1.item(), "lighting_rel": rel.item()}


# ---------------------------------------------------------------------------------------------------- loop

def _save_checkpoint(m: Models, config: TrainConfig, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"models": m.state_dict(), "config": dataclasses.asdict(config)}, tmp)
    os.replace(tmp, path)


def _config_from_dict(raw: dict) -> TrainConfig:
    raw = dict(raw)
    raw["generator"] = DeepLandscapeGeneratorConfig(**raw["generator"])
    return TrainConfig(**raw)


def train(config: TrainConfig, *, resume: bool = False) -> Models:
    config.validate()
    device = torch.device(config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    if config.threads:
        torch.set_num_threads(config.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    use_bf16 = config.bf16 and device.type == "cuda"
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)  # noqa: E731
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export = Path(config.export_dir) if config.export_dir else out / "export"
    torch.manual_seed(config.seed)
    m = Models(config, device)
    checkpoint = out / "checkpoint.pt"
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        m.load_state_dict(state["models"])
        print(f"resumed at step {m.step} (encoder {m.encoder_step}, lighting {m.lighting_step})")
    rng = torch.Generator(device=device).manual_seed(config.seed * 100_003 + m.step + m.encoder_step + m.lighting_step)
    data = FrameData(config.data, config.generator.resolution, device)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    log_path = out / "log.csv"
    fields = ["phase", "step", "seconds", "images_per_s", "d_unary", "d_pair", "r1", "g_loss", "pair_prob",
              "encoder_mae", "lighting_l1", "lighting_rel"]
    new_log = not log_path.is_file() or not resume
    log_file = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.DictWriter(log_file, fieldnames=fields, extrasaction="ignore")
    if new_log:
        writer.writeheader()

    start = time.time()
    last_export = start
    budget = config.time_budget or math.inf
    gan_end = budget - config.encoder_seconds - config.lighting_seconds
    encoder_end = budget - config.lighting_seconds
    print(f"device {device}, {len(data)} frames, G {sum(p.numel() for p in m.generator.parameters()) / 1e6:.2f} M, "
          f"D {sum(p.numel() for p in m.d_unary.parameters()) / 1e6:.2f} M x2, bf16 {use_bf16}", flush=True)

    def maybe_export(force: bool = False) -> None:
        nonlocal last_export
        if force or time.time() - last_export >= config.export_every_seconds:
            m.export(export)
            last_export = time.time()

    def log(phase: str, step: int, stats: dict, images: int) -> None:
        elapsed = time.time() - start
        row = {"phase": phase, "step": step, "seconds": round(elapsed, 1),
               "images_per_s": round(images / max(elapsed, 1e-9), 1), **{k: round(v, 5) for k, v in stats.items()}}
        writer.writerow(row)
        log_file.flush()
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    images_seen = 0
    while m.step < config.max_steps and time.time() - start < gan_end:
        stats = gan_step(m, data, config, rng, device, autocast)
        images_seen += config.batch_size
        if m.step % config.log_every == 0 or m.step == 1:
            log("gan", m.step, stats, images_seen)
        if m.step % config.checkpoint_every == 0:
            _save_checkpoint(m, config, checkpoint)
        maybe_export()
    while m.encoder_step < config.encoder_steps and time.time() - start < encoder_end:
        stats = encoder_step(m, config, rng, device, autocast)
        if m.encoder_step % config.log_every == 0 or m.encoder_step == 1:
            log("encoder", m.encoder_step, stats, 0)
        maybe_export()
    while m.lighting_step < config.lighting_steps and time.time() - start < budget:
        stats = lighting_step(m, config, rng, device)
        if m.lighting_step % config.log_every == 0 or m.lighting_step == 1:
            log("lighting", m.lighting_step, stats, 0)
    _save_checkpoint(m, config, checkpoint)
    maybe_export(force=True)
    log_file.close()
    print(f"done: GAN {m.step} steps, encoder {m.encoder_step}, lighting {m.lighting_step}, "
          f"{time.time() - start:.0f} s; exported to {export}", flush=True)
    return m


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    config = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if f.name == "generator":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=getattr(config, f.name))
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=getattr(config, f.name))
    for f in dataclasses.fields(DeepLandscapeGeneratorConfig):
        kind = {"int": int, "float": float}[f.type if isinstance(f.type, str) else f.type.__name__]
        parser.add_argument("--g-" + f.name.replace("_", "-"), type=kind, default=getattr(config.generator, f.name))
    parser.add_argument("--resume", action="store_true")
    args = vars(parser.parse_args(argv))
    resume = args.pop("resume")
    g = {f.name: args.pop("g_" + f.name) for f in dataclasses.fields(DeepLandscapeGeneratorConfig)}
    return TrainConfig(**args, generator=DeepLandscapeGeneratorConfig(**g)), resume


if __name__ == "__main__":
    cfg, resume_flag = parse_args()
    train(cfg, resume=resume_flag)
