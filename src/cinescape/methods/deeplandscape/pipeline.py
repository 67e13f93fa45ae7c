"""DeepLandscape photo animation (Logacheva et al. 2020, Sec. 3.2): invert the photo into the generator, move its
dynamic noise with homographies, change its lighting, super-resolve ×4 and blend with the full-resolution photo.

    pipe = DeepLandscapePipeline.from_pretrained()            # the shipped model folder
    frames = pipe("photo.jpg", num_frames=60)                  # list of uint8 (H, W, 3) at the photo's size

Steps (the paper's "EOIFS" variant, with its segmentation mask):

1. The photo is resized to the generator's R×R (squashed: any aspect ratio; the output is resized back).
   The encoder gives W'; the fluid mask (sky + water, the project's segmentation) is taken at every resolution.
2. Latent optimisation: W from W', S^st and S^dyn from zero; loss ``L1 + lpips_weight * LPIPS + 0.01 |W - W'|²``,
   Adam (lr 0.1 for W, ``noise_lr`` for S, halved when the loss stops improving); S^st is kept at zero in the fluid
   region and S^dyn in the still region (multiplied by the masks).
3. Generator fine-tuning with the latents frozen: ``L1 + lpips_weight * LPIPS``, Adam at a constant ``finetune_lr``
   (0.02; the paper's 1e-3 is for 500 steps; the trials are in docs/deeplandscape.md), the blocks from
   ``finetune_from`` (16 px) on. The coarse ones (below ``fine_from``, 64 px) only for the first ``coarse_fraction``
   of the steps (a fifth): then they freeze, their output is cached, and the rest of the steps run the last two
   blocks alone (half a step's CPU) at ``fine_lr_scale`` (2) times the rate. LPIPS is the
   project's SqueezeNet LPIPS (:class:`cinescape.models.lpips.LPIPS`); when its weights are not available
   (``perceptual="auto"``) the fine-tuning uses L1 alone and the animation records it.
4. Animation: frame t moves S^dyn by the homography ``H^s`` (:mod:`.homography`, mirrored below the horizon),
   seamlessly looped with the project's phased schedule (:func:`cinescape.ops.loop.phased_schedule`: two copies
   half a cycle apart, sin² weights w_k, combined as ``sum w_k H^{s_k} S^dyn / sqrt(sum w_k²)`` so noise keeps its
   variance and a copy fades in smoothly (square-root weights fade in with a kink, which showed as a seam ratio
   of 1.7); frame 0 is the inverted photo itself. The lighting moves W towards a random z^dyn with the
   approximator A, ``c(t) = lighting * sin²(pi t / N)``, which is 0 again at the loop's end.
5. ×4 super-resolution (:mod:`.sr`), resize to the photo's size, and :func:`.blend.guided_blend` with the photo, its
   matte faded to 0 over about one generator pixel inside the fluid edge (the reconstruction blurs both sides there).

Deviation (``photo_detail``, default 1): the fluid also carries the photo's own fine detail, the part of its fluid
layer above the generator's resolution (``layer - up(down_R(layer))``; the layer is the photo with the still
region filled in from nearby fluid, :func:`cinescape.ops.layers.fill_behind`, so no land texture is dragged into
the sky), moved by the same homographies and phased weights as S^dyn. The paper super-resolves a 256-px generator
with ESRGAN trained on inversion outputs; our 128-px generator and small SR net alone give a sky and water about
1/20 as sharp as the photo's (`cinescape evaluate --photos` sharpness 0.05). ``photo_detail=0`` is the paper's
output.

Budgets: the paper runs 500 + 500 steps on a GPU; the defaults here (``latent_steps``, ``finetune_steps``) fit the
project's CPU goal and are settings.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ...errors import CinescapeError, OptionError
from ...io import load_image
from ...models.base import atomic_write_bytes
from ...ops.layers import EDGE_MARGIN, FLUID_ALPHA, feather_inside, fill_behind
from ...ops.loop import phased_schedule
from ..base import MethodPipeline, Offers
from .adam import Adam, ReduceOnPlateau
from .blend import MatteBlend, guided_blend
from .encoder import LightingApproximator, StyleEncoder
from .generator import DeepLandscapeGenerator
from .homography import cloud_homography, homography_power, warp_homography, warp_homography_image
from .sr import SuperResolution, upscale_hwc

__all__ = ["DeepLandscapeSettings", "DeepLandscapePipeline", "DeepLandscapeAnimation", "Inversion", "INVERSION_FIELDS"]

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "deeplandscape_model"
PIPELINE_FILE = "pipeline.json"


@dataclass
class DeepLandscapeSettings:
    num_frames: int = 60
    seed: int = 0
    latent_steps: int = 15            # step 2 (paper: up to 500); 30 until the speed work of issue 29
    finetune_steps: int = 150         # step 3 (paper: 500); 300 gave 27.6 dB on 16 (LPIPS x1); 180 with LPIPS x0.3
    #                                   (issue 29, rows 27-29); 150 once the coarse blocks freeze after a fifth of
    #                                   them (row 30). 5 + 100 reach issue 29's 20 s but cost 2.4 dB and leave lilac
    #                                   blotches in the skies (row 32): a user's choice, not the default
    latent_lr: float = 0.1
    noise_lr: float = 0.5             # our noise scales are small after a short training: S must move far
    finetune_lr: float = 0.02         # paper 1e-3 over 500 steps; a cosine decay from 0.02 or 0.04 scored lower
    finetune_lr_final: float = 1.0    # the fine-tuning lr falls to finetune_lr * this at the last step (cosine);
    #                                   1: constant (a decay scored lower, row 28)
    finetune_from: int = 16           # fine-tune the generator blocks at this resolution and above
    coarse_fraction: float = 0.2      # the blocks below `fine_from` are fine-tuned for this fraction of the steps
    fine_from: int = 64               # only, then frozen and their output cached: a step then runs (forward and
    #                                   backward) the last two blocks alone, ~half the CPU (row 30)
    fine_lr_scale: float = 2.0        # the fine-tuning lr times this once the coarse blocks are frozen (x3: LPIPS
    #                                   worse; row 30)
    lpips_weight: float = 0.3         # paper: 10x a VGG perceptual loss; here LPIPS-SqueezeNet x this weight. 0 (L1
    #                                   alone) fits the colours closer (34.3 dB mean on the 16 photos against 27.4) but
    #                                   draws ridge edges with the dynamic noise: moved, a dark copy of the ridge
    #                                   drifts into the sky (docs/deeplandscape.md). 1 until issue 29: 0.3 fits in
    #                                   fewer steps (200 at x0.3 beat 300 at x1 on c3d_demo1, row 28)
    perceptual: str = "auto"          # "lpips", "none", or "auto" (LPIPS when its weights are found)
    direction: float | None = None    # degrees of the sky motion on screen (0 right, 270 up); None: seeded clock position
    speed: float = 0.5                # sky motion at the top of the frame, generator pixels per frame
    perspective: float = 0.3          # motion at the horizon relative to the top
    period: float = 40.0              # frames of one phased-loop cycle
    lighting: float = 0.0             # strength of the lighting change (0 = off, 1 = full resample of z_dyn)
    photo_detail: float = 1.0         # the photo's fine detail moved with the fluid (0: the paper's SR output alone)
    use_mask: bool = True             # the paper's segmentation variant (EOIFS): sky + water move, the rest is still
    mask: np.ndarray | torch.Tensor | str | Path | None = None   # (H, W) in [0, 1] or an image: 1 moves, 0 still;
    #                                   resized to the photo, multiplies the automatic matte (or is the matte alone)
    super_resolution: bool = True
    threads: int = 0                  # torch threads for this call (0: leave as is)

    def validate(self) -> None:
        if self.num_frames < 2:
            raise OptionError("num_frames must be >= 2")
        for name in ("latent_steps", "finetune_steps"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be >= 0")
        if not 0 <= self.finetune_lr_final <= 1:
            raise OptionError("finetune_lr_final must lie in [0, 1]")
        for name in ("latent_lr", "noise_lr", "finetune_lr", "fine_lr_scale", "period"):
            if not getattr(self, name) > 0:
                raise OptionError(f"{name} must be > 0")
        for name in ("finetune_from", "fine_from"):
            value = getattr(self, name)
            if value < 4 or value & (value - 1):
                raise OptionError(f"{name} must be a power of two >= 4")
        if not 0 <= self.coarse_fraction <= 1:
            raise OptionError("coarse_fraction must lie in [0, 1]")
        if self.lpips_weight < 0:
            raise OptionError("lpips_weight must be >= 0")
        if self.perceptual not in ("auto", "lpips", "none"):
            raise OptionError("perceptual must be 'auto', 'lpips' or 'none'")
        if not 0 <= self.lighting <= 1:
            raise OptionError("lighting must lie in [0, 1]")
        if not 0 <= self.photo_detail <= 1:
            raise OptionError("photo_detail must lie in [0, 1]")
        if not (self.speed >= 0 and math.isfinite(self.speed)):
            raise OptionError("speed must be a finite number >= 0")
        if self.direction is not None and not math.isfinite(self.direction):
            raise OptionError("direction must be a finite number of degrees")
        if not 0 <= self.perspective <= 1:
            raise OptionError("perspective must lie in [0, 1]")
        if self.threads < 0:
            raise OptionError("threads must be >= 0")


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().unsqueeze(0) / 127.5 - 1.0


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def cosine_factor(step: int, steps: int, final: float) -> float:
    """Learning-rate factor of step ``step`` (0-based) of ``steps``: 1 at the first step, falling as a half cosine to
    ``final`` at the last; ``final = 1`` is a constant rate.

    >>> cosine_factor(0, 5, 0.1), round(cosine_factor(2, 5, 0.1), 3), round(cosine_factor(4, 5, 0.1), 3)
    (1.0, 0.55, 0.1)
    """
    if steps <= 1 or final == 1:
        return 1.0
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * step / (steps - 1)))


def horizon_from_mask(mask: np.ndarray) -> float | None:
    """Normalised y of the bottom of the sky: the first row from the top whose mean fluid coverage drops below
    one half, if the top row is mostly fluid; None otherwise (then the motion is not mirrored)."""
    rows = mask.mean(axis=1)
    if rows[0] < 0.5:
        return None
    below = np.nonzero(rows < 0.5)[0]
    if len(below) == 0:
        return None
    return float(2 * below[0] / len(rows) - 1)


@dataclass
class Inversion:
    """What the photo was inverted to: fine-tuned generator, W, the two noise sets, masks, reconstruction error."""

    generator: DeepLandscapeGenerator
    ws: torch.Tensor
    static_noise: list[torch.Tensor]
    dynamic_noise: list[torch.Tensor]
    masks: list[torch.Tensor]
    target: torch.Tensor
    losses: dict
    perceptual: str

    def reconstruction(self) -> torch.Tensor:
        with torch.no_grad():
            return self.generator.synthesis(self.ws, self.static_noise, self.dynamic_noise)


class DeepLandscapePipeline(MethodPipeline):
    """Photo -> seamless loop with the DeepLandscape model (module docstring). Holds only read-only models:
    per-call state lives in the returned :class:`DeepLandscapeAnimation`, so one instance serves many threads."""

    settings_class = DeepLandscapeSettings
    offers = Offers(colours=True, auto_masks=("none", "sky+water", "fluid"), inversion=True,
                    web_controls="deeplandscape",
                    cli_options=frozenset({"frames", "seed", "latent_steps", "finetune_steps", "lighting", "direction",
                                           "motion_speed", "auto_mask", "no_appearance", "mask"}))

    @classmethod
    def settings_from_cli(cls, options, folder: Path, photo_size: tuple[int, int] | None = None):
        """``cinescape animate``'s options -> :class:`DeepLandscapeSettings` over the folder's defaults: the loop's
        frames and seed, the inversion budgets, lighting and direction, ``--motion-speed`` (a factor on the
        model's speed), ``--auto-mask none|sky+water`` and ``--no-appearance`` (no lighting change); with
        ``photo_size``, ``--mask``."""
        from ...segmentation import load_mask
        from ..select import resolve_settings

        own = {name: options[name] for name in ("latent_steps", "finetune_steps", "lighting", "direction")
               if options.get(name) is not None}
        if options.get("auto_mask") == "sky":
            raise OptionError("--auto-mask sky is not available with --method deeplandscape (sky+water or none)")
        if options.get("auto_mask") is not None:
            own["use_mask"] = options["auto_mask"] != "none"
        if options.get("no_appearance"):
            if options.get("lighting"):
                raise OptionError("--lighting contradicts --no-appearance")
            own["lighting"] = 0.0
        settings = resolve_settings(folder, num_frames=options["frames"], seed=options["seed"], **own)
        if options.get("motion_speed", 1.0) != 1.0:   # relative to the model's default, as for AL
            settings.speed *= options["motion_speed"]
        if photo_size is not None and options.get("mask"):
            settings.mask = load_mask(options["mask"])
        return settings

    def eval_settings(self, num_frames: int, seed: int, *, loop: str | None = None, appearance: bool | None = None,
                      mode: str | None = None, auto_mask: str | None = None, overrides=None):
        """:meth:`MethodPipeline.eval_settings`, and without ``appearance`` no lighting change (its own loop,
        motion and mask otherwise)."""
        from ..select import resolve_settings

        own = {"num_frames": num_frames, "seed": seed}
        if appearance is False:
            own["lighting"] = 0.0
        return resolve_settings(self, **{**own, **dict(overrides or {})})


    def __init__(self, generator: DeepLandscapeGenerator, encoder: StyleEncoder, lighting: LightingApproximator,
                 super_resolution: SuperResolution | None = None, defaults: dict | None = None):
        self.generator = generator.eval().requires_grad_(False)
        self.encoder = encoder.eval().requires_grad_(False)
        self.lighting = lighting.eval().requires_grad_(False)
        self.super_resolution = super_resolution.eval().requires_grad_(False) if super_resolution else None
        self.defaults = dict(defaults or {})
        self._lpips = None
        self._lpips_lock = threading.Lock()
        self._segmenters = None            # (SkyMatte, ADE20KSegmenter), loaded on first use
        self._segmenters_lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "DeepLandscapePipeline":
        folder = Path(folder) if folder is not None else DEFAULT_MODEL
        from ...models.base import read_folder_json

        spec = read_folder_json(folder, PIPELINE_FILE)   # missing or corrupt: a one-line ModelLoadError
        sr = SuperResolution.from_pretrained(folder / "sr") if (folder / "sr").is_dir() else None
        return cls(DeepLandscapeGenerator.from_pretrained(folder / "generator"),
                   StyleEncoder.from_pretrained(folder / "encoder"),
                   LightingApproximator.from_pretrained(folder / "lighting"), sr,
                   defaults=spec.get("defaults", {}))

    def save_pretrained(self, folder: str | os.PathLike, *, extra: dict | None = None) -> Path:
        folder = Path(folder)
        self.generator.save_pretrained(folder / "generator", dtype=torch.float16)
        self.encoder.save_pretrained(folder / "encoder", dtype=torch.float16)
        self.lighting.save_pretrained(folder / "lighting", dtype=torch.float16)
        if self.super_resolution is not None:
            self.super_resolution.save_pretrained(folder / "sr", dtype=torch.float16)
        spec = {"pipeline_class": "deeplandscape.DeepLandscapePipeline", "method": "deeplandscape",
                "defaults": self.defaults, **(extra or {})}
        atomic_write_bytes(folder / PIPELINE_FILE, (json.dumps(spec, indent=2) + "\n").encode())   # never half-written
        return folder

    # ------------------------------------------------------------------ settings and helpers
    def settings(self, settings: DeepLandscapeSettings | None = None, **per_call) -> DeepLandscapeSettings:
        base = settings if settings is not None else DeepLandscapeSettings(**self.defaults)
        known = {f.name for f in dataclasses.fields(DeepLandscapeSettings)}
        unknown = set(per_call) - known
        if unknown:
            raise TypeError(f"unknown DeepLandscape setting(s): {', '.join(sorted(unknown))}")
        result = dataclasses.replace(base, **per_call)
        result.validate()
        return result

    def _perceptual(self, mode: str):
        """The LPIPS module, or None (mode 'none', or 'auto' without its weights)."""
        if mode == "none":
            return None
        with self._lpips_lock:
            if self._lpips is None:
                from ...models.lpips import LPIPS

                try:
                    self._lpips = LPIPS(pretrained=True)
                except CinescapeError:
                    if mode == "lpips":
                        raise
                    self._lpips = False
        return self._lpips or None

    def fluid_matte(self, photo: np.ndarray) -> np.ndarray:
        """(H, W) float32 fluid matte of the photo at full resolution, sky + water: the automatic matte every method
        shares (:func:`~cinescape.segmentation.automatic_matte`). The segmenters load once per pipeline."""
        from ...segmentation import ADE20KSegmenter, SkyMatte, automatic_matte

        with self._segmenters_lock:
            if self._segmenters is None:
                self._segmenters = (SkyMatte(), ADE20KSegmenter())   # a missing file or package fails here
        return automatic_matte(photo, "sky+water", *self._segmenters)

    # ------------------------------------------------------------------ inversion (steps 1-3)
    def invert(self, photo: np.ndarray, settings: DeepLandscapeSettings, matte: np.ndarray | None = None,
               progress: bool = False, on_step=None, probe=None) -> Inversion:
        """Steps 1-3 on a uint8 photo (any size); ``matte`` (H, W) in [0, 1] (None: no mask, the EOIF variant).

        ``on_step``: called as ``on_step(done, total)`` after each optimisation step, latent and fine-tuning steps
        counted together (``total = latent_steps + finetune_steps``); an exception it raises stops the inversion
        there (how the web page cancels one). ``probe``: called as ``probe(step, generator, ws, static_noise,
        dynamic_noise)`` after each fine-tuning step (for experiments that measure the quality along the way)."""
        total_steps = settings.latent_steps + settings.finetune_steps
        steps_done = 0

        def stepped() -> None:
            nonlocal steps_done
            steps_done += 1
            if on_step is not None:
                on_step(steps_done, total_steps)

        base = self.generator
        r = base.config.resolution
        target = _to_tensor(cv2.resize(photo, (r, r), interpolation=cv2.INTER_AREA))
        if matte is not None:
            small = torch.from_numpy(cv2.resize(matte.astype(np.float32), (r, r), interpolation=cv2.INTER_AREA))[None, None]
            masks = [F.interpolate(small, size=(s, s), mode="area") for s in base.config.resolutions]
        else:
            masks = [torch.ones(1, 1, s, s) for s in base.config.resolutions]
        lpips = self._perceptual(settings.perceptual) if settings.lpips_weight > 0 else None
        if lpips is not None and r < lpips.MIN_SIZE:   # a toy generator: LPIPS has nothing to compare at its size
            if settings.perceptual == "lpips":
                raise OptionError(f"perceptual='lpips' needs a generator of at least {lpips.MIN_SIZE} px; this "
                                  f"one makes {r} px: use perceptual='none'")
            lpips = None
        target_features = lpips.features((target + 1) * 127.5) if lpips is not None else None

        def loss_of(image: torch.Tensor) -> torch.Tensor:
            loss = (image - target).abs().mean()
            if lpips is not None and settings.lpips_weight > 0:
                loss = loss + settings.lpips_weight * lpips.distance(lpips.features((image + 1) * 127.5),
                                                                      target_features).mean()
            return loss

        with torch.no_grad():
            w_start = self.encoder(target)
        ws = w_start.clone().requires_grad_(True)
        static = [torch.zeros(1, 1, s, s, requires_grad=True) for s in base.config.resolutions]
        dynamic = [torch.zeros(1, 1, s, s, requires_grad=True) for s in base.config.resolutions]
        still_masks = [1 - m for m in masks] if matte is not None else masks

        def noises():
            return [s * m for s, m in zip(static, still_masks)], [d * m for d, m in zip(dynamic, masks)]

        losses = {}
        if settings.latent_steps:
            opt = Adam([{"params": [ws], "lr": settings.latent_lr},
                        {"params": static + dynamic, "lr": settings.noise_lr}])
            plateau = ReduceOnPlateau(opt, factor=0.5, patience=20)
            for _ in tqdm(range(settings.latent_steps), desc="inverting", unit="step", disable=not progress):
                s_st, s_dyn = noises()
                loss = loss_of(base.synthesis(ws, s_st, s_dyn)) + 0.01 * (ws - w_start).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                plateau.step(loss.item())
                stepped()
            losses["latent"] = loss.item()
        ws = ws.detach()
        s_st, s_dyn = (list(n.detach() for n in part) for part in noises())

        generator = copy.deepcopy(base)
        if settings.finetune_steps:
            # Blocks below `finetune_from` stay frozen, so their output (the latents are frozen too) is computed once.
            resolutions = base.config.resolutions
            first = resolutions.index(min(settings.finetune_from, base.config.resolution))
            # The coarse blocks (from `first` up to `fine`) are tuned for the first `coarse_steps` steps only; then
            # they freeze, their output is cached in turn, and a step runs (forward and backward) the fine blocks
            # alone: the coarse layout is fitted early, the later steps fit detail.
            fine = max(first, resolutions.index(min(settings.fine_from, base.config.resolution)))
            coarse_steps = (settings.finetune_steps if fine == first
                            else round(settings.coarse_fraction * settings.finetune_steps))
            with torch.no_grad():   # cached upsampled as the first tuned block reads it: once, not every step
                cached = (generator.upsampled_state(generator.run_blocks(ws, s_st, s_dyn, stop=first), first)
                          if first > 0 else None)
            tuned = [p for block in generator.blocks[first:] for p in block.parameters()]
            for p in tuned:
                p.requires_grad_(True)
            opt = Adam(tuned, lr=settings.finetune_lr)
            start = first
            for step in tqdm(range(settings.finetune_steps), desc="fine-tuning", unit="step", disable=not progress):
                if step == coarse_steps and start < fine:
                    generator.blocks[first:fine].requires_grad_(False)   # no grad: Adam skips them from here on
                    with torch.no_grad():
                        cached = generator.upsampled_state(generator.run_blocks(
                            ws, s_st, s_dyn, start=first, stop=fine, state=cached, upsampled=cached is not None), fine)
                    start = fine
                opt.param_groups[0]["lr"] = settings.finetune_lr * (settings.fine_lr_scale if start > first else 1) * cosine_factor(step, settings.finetune_steps,
                                                                                  settings.finetune_lr_final)
                loss = loss_of(generator.run_blocks(ws, s_st, s_dyn, start=start, state=cached,
                                                    upsampled=cached is not None)[1])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                stepped()
                if probe is not None:
                    probe(step + 1, generator, ws, s_st, s_dyn)
            losses["finetune"] = loss.item()
        generator.eval().requires_grad_(False)
        return Inversion(generator, ws, s_st, s_dyn, masks, target, losses,
                         "lpips-squeezenet" if lpips is not None else "none (L1 only)")

    # ------------------------------------------------------------------ contract
    def plan(self, image, settings: DeepLandscapeSettings | None = None, *, progress: bool = False,
             reuse: "DeepLandscapeAnimation | None" = None, on_step=None, **per_call) -> "DeepLandscapeAnimation":
        """Invert ``image`` (a path or uint8 (H, W, 3)) and return its loop, rendered by its ``frames()`` (or
        ``frame(i)``). ``progress``: a bar over the rendered frames. ``reuse``: an earlier plan; when it is of the same photo with the same
        :data:`INVERSION_FIELDS`, its matte and inversion are taken as they are (another seed, direction, speed
        or lighting without inverting again, which is most of the time); otherwise it is ignored. ``on_step``:
        the inversion's step hook (:meth:`invert`); not called when the inversion is reused."""
        s = self.settings(settings, **per_call)
        photo = load_image(image) if isinstance(image, (str, os.PathLike)) else _check_array(image)
        if reuse is not None and reuse.pipeline is self and _same_inversion(reuse, photo, s):
            return DeepLandscapeAnimation(self, photo, reuse.matte, reuse.inversion, s, progress=progress)
        previous_threads = torch.get_num_threads()
        if s.threads:
            torch.set_num_threads(s.threads)
        try:
            matte = self.fluid_matte(photo) if s.use_mask else None
            if s.mask is not None:
                from ...segmentation import as_mask_tensor

                user = as_mask_tensor(s.mask)[0, 0].numpy().astype(np.float32)
                user = cv2.resize(user, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)
                matte = user if matte is None else matte * user
            inversion = self.invert(photo, s, matte, progress=progress, on_step=on_step)
        finally:
            if s.threads:
                torch.set_num_threads(previous_threads)
        if matte is None:
            matte = np.ones(photo.shape[:2], np.float32)
        return DeepLandscapeAnimation(self, photo, matte, inversion, s, progress=progress)


#: The settings the inversion (steps 1-3) depends on; the others only move and render it.
INVERSION_FIELDS = ("latent_steps", "finetune_steps", "latent_lr", "noise_lr", "finetune_lr", "finetune_lr_final",
                    "finetune_from", "coarse_fraction", "fine_from", "fine_lr_scale",
                    "lpips_weight", "perceptual", "use_mask")


def _same_inversion(previous: "DeepLandscapeAnimation", photo: np.ndarray, settings: DeepLandscapeSettings) -> bool:
    return (all(getattr(previous.settings, name) == getattr(settings, name) for name in INVERSION_FIELDS)
            and previous.settings.mask is settings.mask     # a mask array is compared as the same object
            and previous.photo.shape == photo.shape and np.array_equal(previous.photo, photo))


def fine_detail(photo: np.ndarray, matte: np.ndarray, resolution: int) -> torch.Tensor:
    """The detail of the photo's fluid layer that a ``resolution``-px generator cannot hold: ``layer -
    up(down(layer))`` (area down to resolution², bilinear back up), (1, 3, H, W) float32 in [-1, 1] units. The
    layer is the photo where the matte is wholly fluid and a smooth fill from there elsewhere, so moving it never
    drags the still region's texture into the fluid."""
    layer = photo.astype(np.float32) / 127.5 - 1.0
    layer = fill_behind(layer, (matte >= FLUID_ALPHA).astype(np.float32))
    height, width = photo.shape[:2]
    low = cv2.resize(cv2.resize(layer, (resolution, resolution), interpolation=cv2.INTER_AREA), (width, height),
                     interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(np.ascontiguousarray(layer - low)).permute(2, 0, 1)[None]


def _check_array(image) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 16:
        raise CinescapeError(f"image must be a path or a uint8 (H, W, 3) array with sides >= 16, got "
                             f"{array.dtype} {array.shape}")
    return array


#: Frames rendered per generator call by :meth:`DeepLandscapeAnimation.frames`: a batch shares the per-call costs
#: and the coarse layers' small convolutions (which keep two threads busy only in a batch); 8 frames at 128 px hold
#: ~40 MB of activations.
RENDER_BATCH = 8


class DeepLandscapeAnimation:
    """A planned loop: ``num_frames``, ``frame(i)`` (uint8 (H, W, 3) at the photo's size), ``frames()``."""

    def __init__(self, pipeline: DeepLandscapePipeline, photo: np.ndarray, matte: np.ndarray, inversion: Inversion,
                 settings: DeepLandscapeSettings, progress: bool = False):
        self.pipeline = pipeline
        self.progress = progress
        self.photo = photo
        self.matte = matte
        # The reconstruction is R px across: within about one generator pixel of a still edge it is a blur of
        # both sides (a pale or dark halo along a ridge, stretched 8x on a 1024-px photo). The composite fades
        # from the photo's own pixels to the reconstruction over that band, as the AL renderer's 2-px feather
        # does for its sharper fluid layer.
        r = inversion.generator.config.resolution
        self.edge_margin = max(EDGE_MARGIN, max(photo.shape[:2]) / r)
        self.blend_matte = feather_inside(matte, self.edge_margin)
        self.inversion = inversion
        self.settings = settings
        self.num_frames = settings.num_frames
        rng = random.Random(settings.seed)
        direction = settings.direction if settings.direction is not None else 30.0 * rng.randrange(12)
        small = cv2.resize(matte, (r, r), interpolation=cv2.INTER_AREA)
        self.horizon = horizon_from_mask(small)     # None for an all-fluid matte (no mask): not mirrored
        self.step_homography = cloud_homography(direction, settings.speed * 2 / r,
                                                horizon=self.horizon if self.horizon is not None else 1.0,
                                                perspective=settings.perspective)
        self.direction = direction
        self._powers: dict[float, torch.Tensor] = {}
        self._reconstruction: torch.Tensor | None = None   # the photo's own frame, kept for the lighting change
        self._blend: MatteBlend | None = None              # made on the first frame without a lighting change
        self.schedule = phased_schedule(self.num_frames, settings.period)
        g = torch.Generator().manual_seed(settings.seed)
        self.lighting_target = torch.randn(1, inversion.generator.config.z_dynamic_dim, generator=g)
        self.detail = (fine_detail(photo, matte, r)[0].permute(1, 2, 0).contiguous().numpy()    # (H, W, 3)
                       if settings.photo_detail > 0 else None)

    def styles(self, index: int) -> torch.Tensor:
        c = self.settings.lighting * math.sin(math.pi * index / self.num_frames) ** 2
        if c == 0:
            return self.inversion.ws
        with torch.no_grad():
            return self.pipeline.lighting(self.inversion.ws, self.lighting_target, torch.tensor([c]))

    def motion(self, steps: float) -> torch.Tensor:
        """``H^steps`` of the step homography, (3, 3) float64; kept, since every frame asks for each of its phased
        copies once per noise resolution and once for the photo's detail (a power is a 40-term series)."""
        if steps not in self._powers:
            self._powers[steps] = homography_power(self.step_homography, steps)
        return self._powers[steps]

    def dynamic_noise(self, index: int) -> list[torch.Tensor]:
        """S^dyn of frame ``index``: phased copies moved by powers of the step homography, masked to the fluid."""
        copies = self.schedule[index % self.num_frames]
        norm = math.sqrt(sum(weight * weight for _, weight in copies))
        out = []
        for noise, mask in zip(self.inversion.dynamic_noise, self.inversion.masks):
            moved = sum(weight / norm * warp_homography(noise, self.motion(steps),
                                                        horizon=self.horizon)
                        for steps, weight in copies)
            out.append(moved * mask)
        return out

    def moved_detail(self, index: int) -> np.ndarray | None:
        """The photo's fine detail for frame ``index`` ((H, W, 3) float32, [-1, 1] units): phased copies moved as
        S^dyn is, in the same normalised coordinates (the photo's frame stretched onto the generator's square)."""
        if self.detail is None:
            return None
        copies = self.schedule[index % self.num_frames]
        norm = math.sqrt(sum(weight * weight for _, weight in copies))
        return sum(weight / norm * warp_homography_image(self.detail, self.motion(steps),
                                                         horizon=self.horizon)
                   for steps, weight in copies if weight > 0)

    def render_small(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(frame (1, 3, R, R) in [-1, 1], lighting change (1, 3, R, R) or None) at generator resolution."""
        frames, changes = self.render_small_batch([index])
        return frames, changes[0]

    def render_small_batch(self, indices) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Frames ``indices`` at generator resolution in one generator call: (B, 3, R, R) in [-1, 1], and per frame
        its lighting change (1, 3, R, R) or None (no change of style). Without a lighting change every frame has
        the photo's style, so the style stays one sample and each modulated weight is folded once for the batch."""
        inv = self.inversion
        styles = [self.styles(i) for i in indices]
        with torch.no_grad():
            noise = [torch.cat(maps) for maps in zip(*(self.dynamic_noise(i) for i in indices))]
            changed = [ws is not inv.ws for ws in styles]
            ws = torch.cat(styles) if any(changed) else inv.ws
            frames = inv.generator.synthesis(ws, inv.static_noise, noise)
            changes = [None] * len(indices)
            if any(changed):
                if self._reconstruction is None:
                    self._reconstruction = inv.reconstruction()
                relit = inv.generator.synthesis(ws, inv.static_noise, inv.dynamic_noise) - self._reconstruction
                changes = [relit[k:k + 1] if moved else None for k, moved in enumerate(changed)]
        return frames.clamp(-1, 1), changes

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame index must lie in [0, {self.num_frames}), got {index}")
        return next(self._render([index]))

    def _render(self, indices) -> Iterator[np.ndarray]:
        """The frames ``indices`` at the photo's size: generator and super-resolution net once for all of them, then
        each frame's upsampling (:func:`.sr.upscale_hwc`), resize, moved photo detail and blend
        (:class:`.blend.MatteBlend` without a lighting change: in place on the frame's one full-size float array)."""
        small, changes = self.render_small_batch(indices)
        height, width = self.photo.shape[:2]
        sr = self.pipeline.super_resolution if self.settings.super_resolution else None
        with torch.no_grad():
            features = sr.residual_features(small).numpy() if sr is not None else None
        small = small.permute(0, 2, 3, 1).numpy()                   # (B, R, R, 3)
        for k, index in enumerate(indices):
            big = np.ascontiguousarray(small[k])
            if sr is not None:
                big = upscale_hwc(big, features[k], sr.config.scale)
            fluid = cv2.resize(big, (width, height),
                               interpolation=cv2.INTER_AREA if big.shape[1] > width else cv2.INTER_LINEAR)
            self.add_moved_detail(index, fluid)
            if changes[k] is None:
                if self._blend is None:
                    self._blend = MatteBlend(self.photo, self.blend_matte)
                yield self._blend(fluid)
            else:
                yield guided_blend(self.photo, np.clip(fluid, -1, 1), self.blend_matte,
                                   changes[k][0].permute(1, 2, 0).numpy())

    def add_moved_detail(self, index: int, fluid: np.ndarray) -> None:
        """``fluid += photo_detail * moved_detail(index)`` in place, one ``cv2.scaleAdd`` per phased copy (no
        full-size temporaries beyond each copy's warp)."""
        if self.detail is None:
            return
        copies = self.schedule[index % self.num_frames]
        norm = math.sqrt(sum(weight * weight for _, weight in copies))
        for steps, weight in copies:
            if weight > 0:
                moved = warp_homography_image(self.detail, self.motion(steps), horizon=self.horizon)
                cv2.scaleAdd(moved, self.settings.photo_detail * weight / norm, fluid, dst=fluid)

    def frames(self) -> Iterator[np.ndarray]:
        """All frames in order, rendered ``RENDER_BATCH`` at a time (one generator and super-resolution call per
        batch; a frame equals :meth:`frame`'s up to float rounding)."""
        bar = tqdm(total=self.num_frames, desc="rendering", unit="frame", disable=not self.progress)
        for first in range(0, self.num_frames, RENDER_BATCH):
            for image in self._render(range(first, min(first + RENDER_BATCH, self.num_frames))):
                bar.update()
                yield image
        bar.close()
