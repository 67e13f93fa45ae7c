"""Photo -> looping time-lapse: AL Algorithm 1 with the motion and appearance models and a codebook.

Data flow for an H×W photo and a working size ``s`` (the predictors run on a copy whose *short* side is
``s``, so scene content has about the scale the networks were trained at; the full-resolution photo is
sampled exactly once per output frame):

0. Layers, at full resolution: the fluid matte (the automatic sky/water mask refined against the photo's edges,
   and/or a user mask; :meth:`CinemagraphPipeline.fluid_matte`) splits the photo into a still layer and a fluid
   layer filled behind it (:class:`~cinescape.ops.layers.PhotoLayers`). Only the fluid layer moves; a frame is
   ``alpha * warp(fluid, A_t) + (photo - alpha * fluid)``, so still pixels are the photo's own exactly.
1. Motion, at working size: ``B_{t+1} = P^M(I_t, z^M) * motion_speed`` and the accumulated flow
   ``A_{t+1} = accumulate_flow(A_t, B_{t+1})``, with ``I_t`` the still layer over the moved fluid layer fed back
   (``mode="recurrent"``, AL); or, with ``mode="eulerian"`` (Holynski et al. 2021, the default), ONE call
   ``V = P^V(I_small, z^M) * motion_speed`` (``P^V``: a velocity predictor distilled to the recurrent mode's mean
   flow, :mod:`cinescape.methods.al.velocity`, or P^M when the model has none) taken as a static velocity field and
   Euler-integrated. With layers every flow is continued behind the still layer and smoothed
   (:meth:`~cinescape.ops.layers.PhotoLayers.fluid_flow`), so the fluid moves as one sheet.
2. Loop: with ``loop="phased"`` (the default) two copies of the photo, each moved from -T/2 to +T/2 steps over
   a cycle of T frames and half a cycle apart, are faded in turn (:func:`~cinescape.ops.phased_schedule`), so no
   frame is more than T/2 steps from the photo; each pixel's phase is shifted by a smooth offset
   (``loop_phase_spread``, so no moment fades everywhere at once; frame 0 is then not the photo everywhere) and the
   fades keep the copies' contrast (``loop_contrast``; :mod:`cinescape.ops.phased`); with ``loop="crossfade"`` a loop of L frames blends
   ``warp(I, A_k)`` and ``warp(I, A_{k+L})`` (AL Sec. 5); with ``loop="symmetric"`` frame t blends the photo
   moved t steps forward with the photo moved L - t steps backward (weights ``1 - t/L`` and ``t/L``, Holynski et
   al. 2021); with ``loop="none"`` frame 0 is the photo and frames 1..N-1 are predicted.
3. Appearance: codes keyframed from the photo's own code through a codebook sequence and back (cyclic); the
   predicted ``tanh(C_w * I + C_b)`` of each working-size frame is fitted as ``a * I + b`` (locally, or as one
   grade per channel with ``appearance_locality=0``, the default) and applied to the full-resolution frame
   (:func:`~cinescape.ops.render.guided_color_coefficients`).

Control (AL Sec. 6.4, :mod:`cinescape.methods.al.control`): ``arrows`` either optimise ``z^M`` so the predicted flow follows
them (AL Eq. 12, ``arrows_mode="latent"``) or give the velocity field directly (``"direct"``); ``appearance_patches``
optimise the appearance code towards target colours (AL Eq. 13); ``time_of_day`` keyframes labelled codebook codes
(:mod:`cinescape.methods.al.time_of_day`); ``appearance_sequence="lstm"`` generates the codes with AL Appendix B's LSTM
(:mod:`cinescape.methods.al.appearance_lstm`).

Frames are rendered lazily, one at a time, so memory does not grow with the number of frames.
"""

from __future__ import annotations

import math
import random
import threading
import time
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ...errors import CinescapeError, ModelLoadError, OptionError
from ...io.image import image_to_tensor, load_image, tensor_to_image
from ...models.precision import inference_autocast
from ...ops import accumulate_flow, integrate_velocity, interpolate_cyclic, warp
from ...ops.layers import PhotoLayers
from ...ops.render import maps_to_hwc
from ...regions import kind_velocity, parse_kind_speeds, parse_kinds, plan_regions, without_still
from .. import PIPELINE_CONFIG, read_pipeline_config, write_pipeline_config
from ..base import MethodPipeline, Offers
from ..engine import plan_loop
from .animation import Animation
from ..defaults import DEFAULT_LOOP_PERIOD  # noqa: F401  (this module's name for it too)
from ...ops.phased import phased_cycle
from .phased_loop import PixelPhasedLoop
from .appearance import AppearanceModel
from .appearance_lstm import FOLDER as APPEARANCE_LSTM_FOLDER
from .appearance_lstm import AppearanceLSTM
from .codebook import Codebook, CodeSelector
from .control import (ARROW_MODES, DEFAULT_CONTROL_STEPS, AppearancePatches, Arrows, arrow_field, load_arrows,
                      load_patches, optimize_appearance_code, optimize_motion_code, rasterize_arrows)
from .motion import MotionModel
from .time_of_day import TimeOfDayCodes, parse_time_of_day, time_of_day_keyframes

DEFAULT_MODEL_DIR = Path(__file__).parents[2] / "default_model"   # the AL model shipped in the package
PIPELINE_CLASS = "al.CinemagraphPipeline"   # pipeline.json's "pipeline_class" (cinescape.methods.load_pipeline)
LOOP_MODES = ("crossfade", "symmetric", "phased", "none")
MOTION_MODES = ("recurrent", "eulerian")
AUTO_MASKS = ("none", "sky", "sky+water", "fluid")   # "fluid" = "sky+water"
APPEARANCE_SEQUENCES = ("codebook", "lstm")
MASK_FEATHER_SIGMA = 1.0   # FGLA: edge blur of its per-region speed maps, in working-size pixels
# The fluid layer's flow is Gaussian-smoothed with this sigma (working-size pixels) once it is continued behind the
# still layer: parts of one region that the network moves differently then shear smoothly instead of tearing.
FLOW_SMOOTH_SIGMA = 3.0
# The phased loop's per-pixel phase offsets (ops/phased.py): their range in cycles (0: every pixel fades at once)
# and the size of their patches (noise sigma over the working short side); and whether its fades keep contrast.
DEFAULT_LOOP_PHASE_SPREAD = 0.5
DEFAULT_LOOP_PHASE_SCALE = 0.2


@dataclass
class AnimationSettings:
    """What to animate; every field is a CLI option of ``cinescape animate``."""

    num_frames: int = 60                # frames in the output (one appearance cycle)
    loop: str = "phased"                # "phased" (two copies moved at most loop_period / 2 steps, faded in turn),
    #                                     "crossfade" (AL Sec. 5), "symmetric" (Holynski et al. 2021) or "none"
    loop_period: float = DEFAULT_LOOP_PERIOD  # "phased": frames per cycle of each copy (rounded to divide the loop)
    loop_phase_spread: float = DEFAULT_LOOP_PHASE_SPREAD  # "phased": per-pixel phase offsets in [0, spread) cycles
    loop_phase_scale: float = DEFAULT_LOOP_PHASE_SCALE    # "phased": their patch size (fraction of the short side)
    loop_contrast: bool = True          # "phased": fades keep the copies' contrast (no softer cross-fades)
    seed: int = 0                       # picks random codes when no selector is given
    motion_code: str | int | None = None       # index, "pc:0..1", "gaussian" (N(0, I); models with a latent
    #                                            prior) or None (random codebook code from seed)
    appearance_code: str | int | None = None   # likewise, picks a codebook sequence ("gaussian": keyframes from N(0, I))
    motion_speed: float = 1.0           # flow scale
    appearance_speed: int = 1           # motion loops per appearance cycle (AL Sec. 5)
    appearance: bool = True             # False: motion only
    appearance_keyframes: int = 6       # codes taken from the chosen codebook sequence
    appearance_stride: int = 1          # colour maps predicted every k-th frame, interpolated between (speed)
    appearance_locality: float = 0.0    # 0: each frame's colour change as one grade per channel (no blotches or
    #                                     halos); 1: the appearance net's per-pixel maps (AL), guided by the photo
    working_size: int | None = None     # short side the predictors run at (default: the model's)
    mode: str = "eulerian"              # "eulerian" (one network call, integrated) or "recurrent" (AL: a call per frame)
    mask: np.ndarray | torch.Tensor | str | Path | None = None  # (H, W) in [0, 1] or an image: 1 moves, 0 frozen
    auto_mask: str | None = None        # None: the model's default (pipeline.json "defaults"), else "none";
    #                                     "sky": motion only where the U²-Net-p sky matte finds sky (x mask);
    #                                     "sky+water" (alias "fluid"): the sky matte or ADE20K water/waterfall
    arrows: str | Path | list | Arrows | None = None   # JSON file or list of {"from": [x, y], "to": [x, y]} (input px)
    arrows_mode: str = "latent"         # "latent": optimise z^M to follow the arrows (AL Eq. 12); "direct": the
    #                                     arrows' interpolated field is the velocity (any direction; x mask)
    control_steps: int = DEFAULT_CONTROL_STEPS  # Adam steps of the arrow and patch latent optimisations
    appearance_patches: str | Path | list | AppearancePatches | None = None  # JSON boxes or RGBA image (AL Eq. 13)
    time_of_day: str | list[str] | None = None  # e.g. "day,sunset,night": keyframes from labelled codebook codes
    appearance_sequence: str = "codebook"  # "codebook" (a codebook clip's codes) or "lstm" (AL App. B)
    motion_by_kind: bool = True         # eulerian, with a matte: each region moves as its kind (cinescape.regions)
    kinds: list | str | None = None     # user kinds: "KIND@X,Y[,DEG]" (region under a photo pixel), "KIND:MASK.png"
    kind_speeds: dict | str | None = None  # e.g. {"waterfall": 2.0} or "waterfall=2,sea=0.3" (regions.DEFAULT_KIND_SPEEDS)

    def validate(self) -> None:
        if not 2 <= self.num_frames <= 10_000:
            raise OptionError(f"num_frames must be between 2 and 10000, got {self.num_frames}")
        if self.loop not in LOOP_MODES:
            raise OptionError(f"loop must be one of {', '.join(LOOP_MODES)}, got {self.loop!r}")
        if not (math.isfinite(self.loop_period) and 2 <= self.loop_period <= 10_000):
            raise OptionError(f"loop_period must be between 2 and 10000 frames, got {self.loop_period}")
        if not (math.isfinite(self.loop_phase_spread) and 0 <= self.loop_phase_spread <= 1):
            raise OptionError(f"loop_phase_spread must be between 0 and 1 cycles, got {self.loop_phase_spread}")
        if not (math.isfinite(self.loop_phase_scale) and 0.01 <= self.loop_phase_scale <= 10):
            raise OptionError(f"loop_phase_scale must be between 0.01 and 10, got {self.loop_phase_scale}")
        if self.mode not in MOTION_MODES:
            raise OptionError(f"mode must be one of {', '.join(MOTION_MODES)}, got {self.mode!r}")
        if self.auto_mask is not None and self.auto_mask not in AUTO_MASKS:
            raise OptionError(f"auto_mask must be one of {', '.join(AUTO_MASKS)}, got {self.auto_mask!r}")
        if not (math.isfinite(self.motion_speed) and 0 <= self.motion_speed <= 10):
            raise OptionError(f"motion_speed must be between 0 and 10, got {self.motion_speed}")
        if not 1 <= self.appearance_speed <= self.num_frames:
            raise OptionError(f"appearance_speed must be between 1 and num_frames ({self.num_frames}), "
                              f"got {self.appearance_speed}")
        if self.loop != "none" and self.num_frames % self.appearance_speed:
            raise OptionError(f"num_frames ({self.num_frames}) must be a multiple of appearance_speed "
                              f"({self.appearance_speed}) so the motion loops meet the appearance cycle")
        if not 1 <= self.appearance_stride <= 16:
            raise OptionError(f"appearance_stride must be between 1 and 16, got {self.appearance_stride}")
        if not (math.isfinite(self.appearance_locality) and 0 <= self.appearance_locality <= 1):
            raise OptionError(f"appearance_locality must be between 0 and 1, got {self.appearance_locality}")
        if not 1 <= self.appearance_keyframes <= 64:
            raise OptionError(f"appearance_keyframes must be between 1 and 64, got {self.appearance_keyframes}")
        if self.working_size is not None and not 32 <= self.working_size <= 1024:
            raise OptionError(f"working_size must be between 32 and 1024, got {self.working_size}")
        if self.arrows_mode not in ARROW_MODES:
            raise OptionError(f"arrows_mode must be one of {', '.join(ARROW_MODES)}, got {self.arrows_mode!r}")
        if not 0 <= self.control_steps <= 10_000:
            raise OptionError(f"control_steps must be between 0 and 10000, got {self.control_steps}")
        if self.appearance_sequence not in APPEARANCE_SEQUENCES:
            raise OptionError(f"appearance_sequence must be one of {', '.join(APPEARANCE_SEQUENCES)}, "
                              f"got {self.appearance_sequence!r}")
        if self.time_of_day is not None:
            parse_time_of_day(self.time_of_day)
        parse_kind_speeds(self.kind_speeds)
        chosen = [name for name, given in (("appearance_patches", self.appearance_patches is not None),
                                           ("time_of_day", self.time_of_day is not None),
                                           ("appearance_sequence='lstm'", self.appearance_sequence == "lstm")) if given]
        if len(chosen) > 1:
            raise OptionError(f"{' and '.join(chosen)} both choose the appearance codes: give only one")
        if chosen and not self.appearance:
            raise OptionError(f"{chosen[0]} sets the colours, which appearance=False turns off")


def working_shape(height: int, width: int, short_side: int, max_long_side: int | None = None) -> tuple[int, int]:
    """(h, w) with the photo's aspect, short side ~``short_side`` (long side at most ``max_long_side``,
    default 4x the short side, for panoramas), both multiples of 8 (the U-Net needs it)."""
    max_long_side = max_long_side or 4 * short_side
    scale = min(short_side / min(height, width), max_long_side / max(height, width))
    return max(8, round(height * scale / 8) * 8), max(8, round(width * scale / 8) * 8)


# The ``cinescape animate`` options (argparse names) AL maps to its settings (CinemagraphPipeline.settings_from_cli).
CLI_OPTIONS = frozenset({"frames", "loop", "loop_period", "appearance_locality", "seed", "motion_code",
                         "appearance_code", "motion_speed", "appearance_speed", "no_appearance", "appearance_stride",
                         "working_size", "mode", "auto_mask", "arrows_mode", "control_steps", "time_of_day",
                         "appearance_sequence", "mask", "arrows", "appearance_patches", "kind", "kind_mask",
                         "kind_speed", "no_kinds"})
OFFERS = Offers(loops=LOOP_MODES, motion_modes=MOTION_MODES, arrows=True, colours=True, auto_masks=AUTO_MASKS,
                flow_video=True, web_controls="al", cli_options=CLI_OPTIONS)


class CinemagraphPipeline(MethodPipeline):
    """Motion model + appearance model + codebook; ``from_pretrained()`` loads the shipped default.

    An instance holds only its components (and caches of what they compute from them, filled under a lock): every
    per-call input is an argument of :meth:`plan`, so one instance may animate from two threads at once."""

    settings_class = AnimationSettings
    motion_by_kind = True   # regions move as their kind in the Eulerian mode (FGLA's latents set its own motion)
    offers = OFFERS

    @classmethod
    def settings_from_cli(cls, options, folder: Path, photo_size: tuple[int, int] | None = None) -> AnimationSettings:
        """``cinescape animate``'s options -> :class:`AnimationSettings` (:meth:`MethodPipeline.settings_from_cli`);
        with ``photo_size`` the mask, arrow and patch files are read and checked here, before any model loads."""
        from ...segmentation import load_mask
        from ...regions import parse_kind_mask, parse_kind_point
        from ..select import resolve_settings

        kinds = ([parse_kind_point(text) for text in options.get("kind") or ()]
                 + [parse_kind_mask(text) for text in options.get("kind_mask") or ()])
        settings = resolve_settings(
            cls, num_frames=options["frames"], loop=options["loop"], loop_period=options["loop_period"],
            appearance_locality=options["appearance_locality"], seed=options["seed"],
            motion_code=options["motion_code"], appearance_code=options["appearance_code"],
            motion_speed=options["motion_speed"], appearance_speed=options["appearance_speed"],
            appearance=not options["no_appearance"], working_size=options["working_size"], mode=options["mode"],
            auto_mask=options["auto_mask"], arrows_mode=options["arrows_mode"],
            control_steps=options["control_steps"], time_of_day=options["time_of_day"],
            appearance_sequence=options["appearance_sequence"], appearance_stride=options["appearance_stride"],
            motion_by_kind=not options.get("no_kinds", False), kinds=kinds or None,
            kind_speeds=options.get("kind_speed") or None)
        if photo_size is None:
            return settings
        if options.get("mask"):
            settings.mask = load_mask(options["mask"])  # read before the model, so a bad mask fails early
        if options.get("arrows"):  # likewise the control files (schema errors)
            settings.arrows = load_arrows(options["arrows"], photo_size)
        if options.get("appearance_patches"):
            settings.appearance_patches = load_patches(options["appearance_patches"], photo_size)
            settings.validate()
        return settings

    def eval_settings(self, num_frames: int, seed: int, *, loop: str | None = None, appearance: bool | None = None,
                      mode: str | None = None, auto_mask: str | None = None, overrides=None) -> AnimationSettings:
        """:meth:`MethodPipeline.eval_settings`: :class:`AnimationSettings` defaults (those of ``cinescape
        animate``) with the protocol's values that are given, then ``overrides``."""
        given = {"num_frames": num_frames, "seed": seed, "loop": loop, "appearance": appearance, "mode": mode,
                 "auto_mask": auto_mask}
        return replace(AnimationSettings(), **{**{k: v for k, v in given.items() if v is not None},
                                               **dict(overrides or {})})

    @property
    def flow_scale(self) -> float:
        """What ``motion_speed = 1`` multiplies the network's flow by: the model folder's ``"flow_scale"`` default
        (1 when it has none). The shipped model's codebook codes move clouds at the training clips' time-lapse
        speed; its folder asks for 0.6 of it, measured on the shared photos: at full speed the two copies of a
        phased loop lie twice as far apart and the warps stretch the texture further (docs/results.md)."""
        return float(self.defaults.get("flow_scale", 1.0))

    def __init__(self, motion: MotionModel, appearance: AppearanceModel | None, codebook: Codebook,
                 working_size: int = 144, defaults: dict | None = None):
        self.motion = motion.eval()
        # Settings the model folder recommends (e.g. {"auto_mask": "sky+water"}), used where the caller gives none.
        self.defaults = dict(defaults or {})
        self.appearance = appearance.eval() if appearance is not None else None
        self.codebook = codebook
        self.working_size = working_size
        self.appearance_lstm: AppearanceLSTM | None = None  # AL App. B code-sequence LSTM, if the folder has one
        self._time_of_day: TimeOfDayCodes | None = None  # labelled appearance codes, computed on first use
        self._sky_matte = None  # the U²-Net-p sky matte, loaded on first use (auto_mask="sky" or "sky+water")
        self._segmenter = None  # the ADE20K segmenter, loaded on first use (auto_mask="sky+water")
        self._warned_no_mask = False
        self._lock = threading.Lock()   # the lazily loaded parts above are loaded once, by one thread

    # ------------------------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> "CinemagraphPipeline":
        """Load a pipeline folder (``pipeline.json``, ``codebook.safetensors``, ``motion_*/``, ``appearance_*/``).

        ``path=None`` loads the default model shipped inside the package.
        """
        folder = DEFAULT_MODEL_DIR if path is None else Path(path)
        config_path = folder / PIPELINE_CONFIG
        settings = read_pipeline_config(folder)
        try:
            working_size = int(settings.get("working_size", 144))
            defaults = dict(settings.get("defaults", {}))
            if defaults.get("auto_mask", "none") not in AUTO_MASKS:
                raise ValueError(f"unknown auto_mask {defaults['auto_mask']!r}")
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelLoadError(f"corrupt {config_path}: {exc}") from None
        motion = MotionModel.from_pretrained(folder)
        appearance = None
        if (folder / AppearanceModel.folders()[0]).exists():
            appearance = AppearanceModel.from_pretrained(folder)
        pipeline = cls(motion, appearance, Codebook.load(folder), working_size=working_size, defaults=defaults)
        pipeline.appearance_lstm = AppearanceLSTM.from_model_folder(folder)
        return pipeline

    def save_pretrained(self, path: str | Path) -> Path:
        folder = Path(path)
        self.motion.save_pretrained(folder, dtype=torch.float16)
        if self.appearance is not None:
            self.appearance.save_pretrained(folder, dtype=torch.float16)
        self.codebook.save(folder)
        if self.appearance_lstm is not None:
            self.appearance_lstm.save_pretrained(folder / APPEARANCE_LSTM_FOLDER)
        write_pipeline_config(folder, {"pipeline_class": PIPELINE_CLASS, "working_size": self.working_size,
                                       "defaults": self.defaults})
        return folder

    # ---------------------------------------------------------------------------------- inference

    @torch.no_grad()
    def predict_motion(self, small: torch.Tensor, z: torch.Tensor, count: int, speed: float,
                       progress: bool = False, *, mask: torch.Tensor | None = None,
                       direction: float = 1.0, layers: PhotoLayers | None = None,
                       motion=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Recurrent motion prediction at working size (Algorithm 1, lines 1-8).

        Returns ``(accumulated, steps)``, each (count, 2, h, w) normalised backward flows: frame ``t`` is the
        photo warped by ``accumulated[t]`` (``accumulated[0] = 0``), and ``steps[t]`` the flow from frame t to t-1.
        ``mask`` (1, 1, h, w) in [0, 1] multiplies every step (0 = frozen). ``direction=-1`` runs the motion
        backwards in time: each step is the *negated* prediction for the current frame (the symmetric loop's
        backward half). With ``layers`` each step is the fluid layer's motion (:meth:`PhotoLayers.fluid_flow`) and
        the network sees the still layer composited over the moved fluid layer. ``motion``: the model of this call
        (:meth:`motion_model`; default ``self.motion``).
        """
        motion = self.motion if motion is None else motion
        accumulated = [torch.zeros_like(small[:, :2])]
        steps = [torch.zeros_like(small[:, :2])]
        current = small
        for _ in tqdm(range(count - 1), desc="motion", unit="frame", disable=not progress):
            with inference_autocast():
                step = motion.predict_flow(current, z[None]).float() * (speed * direction)
            if mask is not None:
                step = step * mask
            if layers is not None:
                step = layers.fluid_flow(step, FLOW_SMOOTH_SIGMA)
            accumulated.append(accumulate_flow(accumulated[-1], step))
            steps.append(step)
            if layers is None:
                current = warp(small, accumulated[-1])  # the original is sampled once: no blur accumulates
            else:
                current = layers.composite_small(warp(layers.fluid_small, accumulated[-1]))
        return torch.cat(accumulated), torch.cat(steps)

    @torch.no_grad()
    def predict_velocity(self, small: torch.Tensor, z: torch.Tensor, speed: float,
                         mask: torch.Tensor | None = None, motion=None) -> torch.Tensor:
        """Eulerian motion (Holynski et al. 2021): ONE prediction on the photo, a static velocity field.

        Returns the (1, 2, h, w) normalised backward flow per frame step, ``V(small, z) * speed * mask``, in
        the units of :meth:`predict_motion`'s steps; :func:`~cinescape.ops.integrate_velocity` turns it into
        accumulated flows. ``V`` is the model's velocity predictor, distilled to the recurrent mode's mean flow
        (:mod:`cinescape.methods.al.velocity`), or P^M's flow on the photo when the model has none.
        """
        with inference_autocast():
            velocity = (self.motion if motion is None else motion).predict_velocity(small, z[None]).float() * speed
        return velocity * mask if mask is not None else velocity

    def fluid_matte(self, image: np.ndarray, settings: AnimationSettings, *,
                    evidence: dict | None = None) -> np.ndarray | None:
        """The photo's fluid matte at full resolution: (H, W) float32 in [0, 1], 1 = moves (fluid layer), 0 = the
        still layer; None when everything moves (no user mask and no automatic mask).

        ``image``: the photo, uint8 (H, W, 3). The automatic mask (``"sky"`` or ``"sky+water"``/``"fluid"``) is
        :func:`~cinescape.segmentation.automatic_matte`, the full-resolution matte refined against the photo's own
        edges that every method shares, so thin still structures inside the sky (branches, wires, tree tops) and
        ridges fall in the still layer. A user mask (any size, resized bilinearly) multiplies it as given.
        """
        from ...regions import RecordingModel
        from ...segmentation import ADE20KSegmenter, SkyMatte, as_mask_tensor, automatic_matte

        height, width = image.shape[:2]
        matte = None
        if settings.mask is not None:
            user = as_mask_tensor(settings.mask)[0, 0].numpy().astype(np.float32)
            matte = cv2.resize(user, (width, height), interpolation=cv2.INTER_LINEAR)
        auto_mask = settings.auto_mask
        from_model = auto_mask is None
        if from_model:
            auto_mask = self.defaults.get("auto_mask", "none")
        if auto_mask != "none":
            try:
                with self._lock:
                    if self._sky_matte is None:
                        self._sky_matte = SkyMatte()  # loaded once per pipeline; a missing file or package fails here
                    if auto_mask != "sky" and self._segmenter is None:
                        self._segmenter = ADE20KSegmenter()  # likewise loaded once
            except CinescapeError as exc:
                if not from_model:
                    raise
                # The model's default mask is a refinement: without its weights the photo still animates.
                if not self._warned_no_mask:
                    warnings.warn(f"animating without the model's default {auto_mask} mask, land may drift: {exc}",
                                  stacklevel=2)
                    self._warned_no_mask = True
                auto_mask = "none"
        if auto_mask != "none":
            sky_model = self._sky_matte if evidence is None else RecordingModel(self._sky_matte)
            auto = automatic_matte(image, auto_mask, sky_model, self._segmenter)
            if evidence is not None:   # the sky matte's output, for the regions (cinescape.regions)
                evidence["sky"] = sky_model.last
            matte = auto if matte is None else matte * auto
        if matte is None or bool((matte >= 1).all()):
            return None
        return np.clip(matte, 0.0, 1.0).astype(np.float32)

    def motion_mask(self, image: np.ndarray | torch.Tensor, settings: AnimationSettings, size: tuple[int, int],
                    *, matte: np.ndarray | None = None, request=None) -> torch.Tensor | None:
        """The (1, 1, h, w) motion mask at working size ``size`` (1 = moves), or None when everything moves: the
        full-resolution :meth:`fluid_matte` (or the given ``matte``) area-averaged down. ``image``: the photo,
        uint8 (H, W, 3) or (1, 3, H, W) in [-1, 1]. ``request``: this call's :meth:`prepare_request` (AL: None)."""
        if matte is None:
            array = image if isinstance(image, np.ndarray) else tensor_to_image(image)
            matte = self.fluid_matte(array, settings)
        if matte is None:
            return None
        small = cv2.resize(matte, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(np.ascontiguousarray(small))[None, None]

    def _motion_states(self, small: torch.Tensor, z: torch.Tensor, count: int, settings: AnimationSettings,
                       mask: torch.Tensor | None, progress: bool, field: torch.Tensor | None = None,
                       layers: PhotoLayers | None = None, motion=None, both_ways: bool = False,
                       regions=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(accumulated, steps)`` for :class:`Animation`: ``count`` forward states, followed, for the symmetric
        and phased loops, by ``count - 1`` backward states (the photo moved 1..count-1 steps back in time).
        ``steps`` of a backward state is its flow in the direction of play (the negated backward step), for the
        flow video. ``field`` (1, 2, h, w), e.g. :meth:`arrow_velocity`, replaces the network: a static velocity
        field (times speed and mask), integrated as in the Eulerian mode whatever ``settings.mode`` (a recurrent
        run of a static field is the same). With ``layers`` the flows move the fluid layer
        (:meth:`PhotoLayers.fluid_flow`). ``motion``: this call's :meth:`motion_model`."""
        speed = settings.motion_speed
        if settings.mode == "eulerian" or field is not None:
            if field is None:
                velocity = self.predict_velocity(small, z, speed, mask, motion=motion)
                if regions is not None:   # each region moves as its kind (cinescape.regions)
                    velocity = kind_velocity(velocity, mask, regions, settings.kind_speeds, settings.seed,
                                             scale=speed / self.flow_scale if self.flow_scale else 0.0)
            else:
                velocity = field * speed if mask is None else field * speed * mask
            if layers is not None:
                velocity = layers.fluid_flow(velocity, FLOW_SMOOTH_SIGMA)
            accumulated = integrate_velocity(velocity, count - 1)[:, 0]
            steps = torch.cat((torch.zeros_like(velocity), velocity.expand(count - 1, -1, -1, -1)))
            if both_ways:
                backward = integrate_velocity(-velocity, count - 1)[1:, 0]
                accumulated = torch.cat((accumulated, backward))
                steps = torch.cat((steps, velocity.expand(count - 1, -1, -1, -1)))
            return accumulated, steps.contiguous()
        accumulated, steps = self.predict_motion(small, z, count, speed, progress, mask=mask, layers=layers,
                                                 motion=motion)
        if both_ways:
            # Recurrent backward half: the network sees each backward-moved frame; its negated flow is the step.
            back_accumulated, back_steps = self.predict_motion(small, z, count, speed, progress, mask=mask,
                                                               direction=-1.0, layers=layers, motion=motion)
            accumulated = torch.cat((accumulated, back_accumulated[1:]))
            steps = torch.cat((steps, -back_steps[1:]))
        return accumulated, steps

    def prepare_request(self, image: np.ndarray, size: tuple[int, int], **per_call):
        """What a subclass needs of one :meth:`plan` call besides its settings (e.g. FGLA's references and the
        photo's group map at working size ``size``), passed to :meth:`motion_code`, :meth:`motion_mask` and
        :meth:`motion_model`; AL takes none (None)."""
        if per_call:
            raise TypeError(f"unknown animation settings {sorted(per_call)}")
        return None

    def motion_model(self, request=None):
        """The motion model of one call, with ``predict_flow(image, z)`` and ``predict_velocity(image, z)``:
        ``self.motion`` (FGLA binds the photo's group map to its model here)."""
        return self.motion

    def motion_code(self, settings: AnimationSettings, rng: random.Random, request=None) -> torch.Tensor:
        """The motion input of :meth:`plan`, passed to :meth:`motion_model`'s ``predict_flow`` (with a batch axis):
        here a (D,) codebook code picked by ``settings.motion_code``, or drawn from N(0, I) for ``"gaussian"``
        (FGLA's pipeline returns its latent set)."""
        selector = CodeSelector.parse(settings.motion_code)
        if selector.gaussian:
            return self.gaussian_codes(self.motion, 1, rng)[0]
        return self.codebook.motion_code(selector, rng)

    @staticmethod
    def gaussian_codes(model, count: int, rng: random.Random) -> torch.Tensor:
        """(count, D) codes drawn from N(0, I) with a generator seeded from ``rng``; only for a model whose
        encoder was trained with a latent prior (``--latent-prior vae|wae``), whose codes follow N(0, I)."""
        if model.prior == "none":
            raise OptionError(f"gaussian codes need a {model.prefix} model trained with a latent prior "
                              f"(cinescape train {model.prefix} --latent-prior vae|wae); this one draws its "
                              f"codes from its codebook")
        generator = torch.Generator().manual_seed(rng.getrandbits(63))
        return torch.randn(count, model.latent_dim, generator=generator)

    def appearance_codes(self, small: torch.Tensor, settings: AnimationSettings, rng: random.Random, *,
                         image_size: tuple[int, int] | None = None, info: dict | None = None) -> torch.Tensor:
        """(N, D) codes: from the photo's own code through keyframes and back (cyclic).

        The keyframes: ``appearance_patches``: the code optimised towards the patches (AL Eq. 13,
        :meth:`patch_appearance_code`); ``time_of_day``: one labelled codebook code per listed time
        (:meth:`time_of_day_codes`); else ``settings.appearance_keyframes`` codes spread over a codebook sequence
        (``appearance_sequence="codebook"``) or over a sequence the appearance LSTM generates from the photo's own
        code (``"lstm"``, AL App. B). ``image_size``: the photo's (H, W), whose pixels patch boxes are in (default:
        ``small``'s). ``info``: a dict that receives the patch optimisation's loss history.
        """
        with torch.no_grad():
            own = self.appearance.encode(small)
        if settings.appearance_patches is not None:
            patches = load_patches(settings.appearance_patches, image_size or tuple(small.shape[-2:]))
            code, history = self.patch_appearance_code(small, patches, own[0], steps=settings.control_steps)
            if info is not None:
                info["patches"] = history
            return interpolate_cyclic(torch.stack((own[0], code)), settings.num_frames)
        if settings.time_of_day is not None:
            keyframes = time_of_day_keyframes(self.time_of_day_codes(), settings.time_of_day)
            return interpolate_cyclic(torch.cat((own, keyframes)), settings.num_frames)
        if settings.appearance_sequence == "lstm":
            lstm = self._require_lstm()
            sequence = lstm.generate(own[0], lstm.config.sequence_length + 1)[1:]  # [0] is the photo's own code
        elif CodeSelector.parse(settings.appearance_code).gaussian:
            sequence = self.gaussian_codes(self.appearance, settings.appearance_keyframes, rng)
        else:
            sequence = self.codebook.appearance_sequence(CodeSelector.parse(settings.appearance_code), rng)
        count = min(settings.appearance_keyframes, sequence.shape[0])
        picks = torch.linspace(0, sequence.shape[0] - 1, count).round().long()
        keyframes = torch.cat((own, sequence[picks]))
        return interpolate_cyclic(keyframes, settings.num_frames)

    # ------------------------------------------------------------------------------- control (AL Sec. 6.4)

    def arrow_motion_code(self, small: torch.Tensor, arrows: Arrows, start: torch.Tensor, *,
                          steps: int = DEFAULT_CONTROL_STEPS, **options) -> tuple[torch.Tensor, list[dict]]:
        """AL Eq. 12: the motion code, optimised from ``start`` (Adam on the code only), whose flow on the
        working-size photo ``small`` (1, 3, h, w) follows ``arrows``; returns it and the loss history
        (:func:`~cinescape.methods.al.control.optimize_motion_code`, whose keyword ``options`` pass through)."""
        target, weight = rasterize_arrows(arrows, tuple(small.shape[-2:]))
        return optimize_motion_code(self.motion, small, target, weight, start, steps=steps, **options)

    @staticmethod
    def arrow_velocity(arrows: Arrows, size: tuple[int, int]) -> torch.Tensor:
        """The direct mode's (1, 2, h, w) normalised velocity field at working size ``size``
        (:func:`~cinescape.methods.al.control.arrow_field`); :meth:`plan` multiplies it by the speed and the motion mask."""
        return arrow_field(arrows, size)

    def patch_appearance_code(self, small: torch.Tensor, patches: AppearancePatches, start: torch.Tensor, *,
                              steps: int = DEFAULT_CONTROL_STEPS, **options) -> tuple[torch.Tensor, list[dict]]:
        """AL Eq. 13: the appearance code, optimised from ``start`` (usually the photo's own), whose colour transfer
        of ``small`` matches ``patches``; returns it and the loss history."""
        target, weight = patches.at(tuple(small.shape[-2:]))
        return optimize_appearance_code(self.appearance, small, target, weight, start, steps=steps, **options)

    def time_of_day_codes(self) -> TimeOfDayCodes:
        """Every codebook appearance code labelled day/sunset/twilight/night (:mod:`cinescape.methods.al.time_of_day`),
        computed once per pipeline."""
        if self.appearance is None:
            raise OptionError("this model has no appearance predictor to label its codes with")
        with self._lock:
            if self._time_of_day is None:
                self._time_of_day = TimeOfDayCodes.from_codebook(self.appearance, self.codebook)
        return self._time_of_day

    def _require_lstm(self) -> AppearanceLSTM:
        if self.appearance_lstm is None:
            raise OptionError("appearance_sequence='lstm': this model has no appearance LSTM (appearance_lstm/ in its "
                              "folder); train one with `cinescape codebook --model DIR --train-lstm`")
        return self.appearance_lstm

    def plan(self, image: np.ndarray | torch.Tensor | str | Path, settings: AnimationSettings | None = None,
             *, progress: bool = False, **per_call) -> Animation:
        """Predict motion for ``image`` and return an :class:`Animation` that renders frames on demand.

        ``image``: a path, a uint8 (H, W, 3) RGB array, or a (1, 3, H, W) tensor in [-1, 1]. ``per_call``:
        :class:`AnimationSettings` fields by name (they override ``settings``), and what :meth:`prepare_request`
        takes (FGLA: references, speeds, ...).
        """
        settings = settings or AnimationSettings()
        setting_names = {f.name for f in fields(AnimationSettings)}
        overrides = {k: v for k, v in per_call.items() if k in setting_names}
        per_call = {k: v for k, v in per_call.items() if k not in setting_names}
        if overrides:
            settings = replace(settings, **overrides)
        settings.validate()
        if settings.appearance and self.appearance is None:
            raise OptionError("this model has no appearance predictor: set appearance=False")
        if settings.appearance and settings.appearance_sequence == "lstm":
            self._require_lstm()
        if isinstance(image, (str, Path)):
            image = load_image(image)
        full = image_to_tensor(image) if isinstance(image, np.ndarray) else image.float()
        # parse the control files now, so a bad one fails before any work
        settings = replace(settings, **{
            "arrows": None if settings.arrows is None else load_arrows(settings.arrows, tuple(full.shape[-2:])),
            "appearance_patches": None if settings.appearance_patches is None
            else load_patches(settings.appearance_patches, tuple(full.shape[-2:])),
            "kinds": parse_kinds(settings.kinds)})
        small = F.interpolate(full, size=working_shape(*full.shape[-2:], settings.working_size or self.working_size),
                              mode="bilinear", align_corners=False, antialias=True)
        photo = image if isinstance(image, np.ndarray) else tensor_to_image(full)
        photo_size = tuple(full.shape[-2:])
        del full   # a float copy of the photo (288 MB at 24 MP): the rest works from ``photo`` and ``small``
        request = self.prepare_request(photo, tuple(small.shape[-2:]), **per_call)
        rng = random.Random(settings.seed)
        z_motion = self.motion_code(settings, rng, request)

        loop = plan_loop(settings.loop, settings.num_frames, settings.appearance_speed, settings.loop_period)
        loop_length = settings.num_frames // settings.appearance_speed
        per_pixel_phases = settings.loop == "phased" and (settings.loop_phase_spread > 0 or settings.loop_contrast)
        if per_pixel_phases:   # each pixel's phase reaches -T/2 and +T/2 steps
            loop = replace(loop, motion_frames=math.ceil(phased_cycle(loop_length, settings.loop_period) / 2) + 1,
                           both_ways=True)
        started = time.perf_counter()
        evidence: dict = {}
        matte = self.fluid_matte(photo, settings, evidence=evidence)
        mask = self.motion_mask(photo, settings, tuple(small.shape[-2:]), matte=matte, request=request)
        regions = None   # each moving region's kind (cinescape.regions): the Eulerian network motion's replacement
        if (self.motion_by_kind and settings.motion_by_kind and settings.mode == "eulerian" and mask is not None
                and settings.arrows is None):
            regions = plan_regions(small, mask, evidence.get("sky"), settings.kinds, photo_size)
            if any(region.kind == "still" for region in regions.regions):   # false water joins the still layer
                matte = without_still(matte, regions)
                mask = self.motion_mask(photo, settings, tuple(small.shape[-2:]), matte=matte, request=request)
        elif settings.kinds:
            raise OptionError("--kind is for the default method (al) in the eulerian mode, with a fluid matte "
                              "(--auto-mask or --mask) and without --arrows")
        layers = None
        if matte is not None:
            layers = PhotoLayers.from_photo(photo, matte, tuple(small.shape[-2:]))   # uint8: no float copy kept
        field, control = None, {}
        if settings.arrows is not None and settings.arrows_mode == "latent":
            z_motion, control["arrows"] = self.arrow_motion_code(small, settings.arrows, z_motion,
                                                                 steps=settings.control_steps,
                                                                 velocity=settings.mode == "eulerian")
        elif settings.arrows is not None:
            field = self.arrow_velocity(settings.arrows, tuple(small.shape[-2:]))
        # The model folder's speed calibration scales what its network predicts from codebook codes; an arrow (a
        # field, or a code fitted to the drawn arrows) already says its speed, and keeps it.
        network_speed = settings.motion_speed * (1.0 if settings.arrows is not None else self.flow_scale)
        accumulated, steps = self._motion_states(small, z_motion, loop.motion_frames,
                                                 replace(settings, motion_speed=network_speed) if field is None
                                                 else settings, mask, progress, field, layers,
                                                 motion=self.motion_model(request), both_ways=loop.both_ways,
                                                 regions=regions)
        pixel_phased = None
        if per_pixel_phases:
            offsets = PixelPhasedLoop.offsets_for(tuple(small.shape[-2:]), settings.loop_phase_scale,
                                                  settings.loop_phase_spread, settings.seed,
                                                  None if layers is None else layers.alpha_small)
            pixel_phased = PixelPhasedLoop(accumulated, steps if layers is None else steps * layers.alpha_small,
                                           phased_cycle(loop_length, settings.loop_period), offsets,
                                           settings.loop_contrast)
        accumulated, steps, schedule = loop.schedule_of(accumulated, steps)
        if layers is not None:
            steps = steps * layers.alpha_small   # what moves on screen (the flow video): the still layer does not
        motion_seconds = time.perf_counter() - started

        maps_fn = None  # motion only
        if settings.appearance:
            codes = self.appearance_codes(small, settings, rng, image_size=photo_size, info=control)
            keep_input = settings.loop == "none"

            def maps_fn(indices: list[int], frames_small: torch.Tensor) -> list[np.ndarray | None]:
                with torch.no_grad(), inference_autocast():
                    maps = maps_to_hwc(self.appearance.predict_maps(frames_small, codes[indices]))
                # loop "none": frame 0 is the photo itself
                return [None if keep_input and index == 0 else maps[k] for k, index in enumerate(indices)]
        animation = Animation(photo, small, accumulated, steps, schedule, maps_fn, progress,
                              map_stride=settings.appearance_stride, cyclic=settings.loop != "none", layers=layers,
                              color_locality=settings.appearance_locality, phased=pixel_phased)
        animation.timings["motion"] = motion_seconds
        animation.control = control  # loss histories of the arrow / patch optimisations, if any
        animation.regions = regions  # the moving regions and their kinds (cinescape.regions.RegionMap), or None
        return animation


_DEFAULT_PIPELINE: CinemagraphPipeline | None = None


def animate(image, *, model: str | Path | None = None, **settings) -> list[np.ndarray]:
    """Animate a photo with the default (or given) model: ``cinescape.animate("photo.jpg", num_frames=60)``.

    Returns the frames as uint8 (H, W, 3) arrays; keyword arguments are :class:`AnimationSettings` fields.
    """
    global _DEFAULT_PIPELINE
    if model is None:
        _DEFAULT_PIPELINE = _DEFAULT_PIPELINE or CinemagraphPipeline.from_pretrained()
        pipeline = _DEFAULT_PIPELINE
    else:
        pipeline = CinemagraphPipeline.from_pretrained(model)
    return pipeline(image, **settings)
