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

import random
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from ...errors import ModelLoadError, OptionError
from ...regions import parse_kinds, plan_regions
from .. import PIPELINE_CONFIG, read_pipeline_config, write_pipeline_config
from ..base import MethodPipeline, Offers
from ..defaults import DEFAULT_LOOP_PERIOD  # noqa: F401  (this module's name for it too)
from .animation import Animation
from .appearance import AppearanceModel
from .appearance_lstm import FOLDER as APPEARANCE_LSTM_FOLDER
from .appearance_lstm import AppearanceLSTM
from .codebook import Codebook, CodeSelector
from .control import (DEFAULT_CONTROL_STEPS, AppearancePatches, Arrows, load_arrows, load_patches,
                      optimize_motion_code, rasterize_arrows)
from .engine import AnimationSettingsShells, CinemagraphEngine, PhotoInput, engine_attribute
from .motion import MotionModel
from .time_of_day import TimeOfDayCodes

DEFAULT_MODEL_DIR = Path(__file__).parents[2] / "default_model"   # the AL model shipped in the package
PIPELINE_CLASS = "al.CinemagraphPipeline"   # pipeline.json's "pipeline_class" (cinescape.methods.load_pipeline)
from .settings import (APPEARANCE_SEQUENCES, AUTO_MASKS, DEFAULT_LOOP_PHASE_SCALE,  # noqa: F401
                       DEFAULT_LOOP_PHASE_SPREAD, FLOW_SMOOTH_SIGMA, LOOP_MODES, MASK_FEATHER_SIGMA, MOTION_MODES,
                       AnimationSettings, working_shape)


# The ``cinescape animate`` options (argparse names) AL maps to its settings (CinemagraphPipeline.settings_from_cli).
CLI_OPTIONS = frozenset({"frames", "loop", "loop_period", "appearance_locality", "seed", "motion_code",
                         "appearance_code", "motion_speed", "appearance_speed", "no_appearance", "appearance_stride",
                         "working_size", "mode", "auto_mask", "arrows_mode", "control_steps", "time_of_day",
                         "appearance_sequence", "mask", "arrows", "appearance_patches", "kind", "kind_mask",
                         "kind_speed", "no_kinds"})
OFFERS = Offers(loops=LOOP_MODES, motion_modes=MOTION_MODES, arrows=True, colours=True, auto_masks=AUTO_MASKS,
                flow_video=True, web_controls="al", cli_options=CLI_OPTIONS)


class CinemagraphPipeline(AnimationSettingsShells, MethodPipeline):
    """Motion model + appearance model + codebook; ``from_pretrained()`` loads the shipped default.

    An instance holds only its components (and caches of what they compute from them, filled under a lock): every
    per-call input is an argument of :meth:`plan`, so one instance may animate from two threads at once."""

    settings_class = AnimationSettings
    motion_by_kind = True   # regions move as their kind in the Eulerian mode (FGLA's latents set its own motion)
    offers = OFFERS

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
        # the stages AL shares with FGLA: matte, motion states, loop, colours, frames (its appearance model, its
        # codebook's appearance sequences, the folder's recommended settings such as {"auto_mask": "sky+water"})
        self.engine = CinemagraphEngine(appearance, codebook, working_size, defaults)

    # What the engine holds, under the names the pipeline has always offered.
    appearance = engine_attribute("appearance", "The appearance model (None: motion only).")
    codebook = engine_attribute("codebook", "The training clips' codes: motion codes (:meth:`motion_code`) and "
                                            "appearance sequences (the colours).")
    defaults = engine_attribute("defaults", "The model folder's recommended settings.")
    working_size = engine_attribute("working_size", "The short side the networks run at.")
    appearance_lstm = engine_attribute("appearance_lstm", "AL App. B's code-sequence LSTM, if the folder has one.")

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

    # ---------------------------------------------------------------------------------- AL's stages

    def motion_mask(self, image: np.ndarray, settings: AnimationSettings, size: tuple[int, int], *,
                    matte: np.ndarray | None = None) -> torch.Tensor | None:
        """The (1, 1, h, w) motion mask at working size ``size`` (:meth:`CinemagraphEngine.motion_mask`) of the
        given ``matte``, else of the photo's :meth:`fluid_matte`."""
        return self.engine.motion_mask(self.fluid_matte(image, settings) if matte is None else matte, size)

    def predict_velocity(self, small: torch.Tensor, z: torch.Tensor, speed: float,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
        """The Eulerian mode's velocity field of AL's motion model (:meth:`CinemagraphEngine.predict_velocity`)."""
        return self.engine.predict_velocity(self.motion, small, z, speed, mask)

    def predict_motion(self, small: torch.Tensor, z: torch.Tensor, count: int, speed: float,
                       progress: bool = False, **options) -> tuple[torch.Tensor, torch.Tensor]:
        """The recurrent mode's motion states of AL's model (:meth:`CinemagraphEngine.predict_motion`)."""
        return self.engine.predict_motion(self.motion, small, z, count, speed, progress, **options)

    def appearance_codes(self, small: torch.Tensor, settings: AnimationSettings, rng: random.Random, **options
                         ) -> torch.Tensor:
        """(N, D) appearance codes of the loop (:meth:`CinemagraphEngine.appearance_codes`)."""
        return self.engine.appearance_codes(small, settings, rng, **options)

    def patch_appearance_code(self, small, patches: AppearancePatches, start, *, steps: int = DEFAULT_CONTROL_STEPS,
                              **options):
        """AL Eq. 13 (:meth:`CinemagraphEngine.patch_appearance_code`)."""
        return self.engine.patch_appearance_code(small, patches, start, steps=steps, **options)

    def time_of_day_codes(self) -> TimeOfDayCodes:
        """The codebook's labelled appearance codes (:meth:`CinemagraphEngine.time_of_day_codes`)."""
        return self.engine.time_of_day_codes()

    def motion_code(self, settings: AnimationSettings, rng: random.Random) -> torch.Tensor:
        """The (D,) motion code of :meth:`plan`: a codebook code picked by ``settings.motion_code``, or drawn from
        N(0, I) for ``"gaussian"``."""
        selector = CodeSelector.parse(settings.motion_code)
        if selector.gaussian:
            return self.engine.gaussian_codes(self.motion, 1, rng)[0]
        return self.codebook.motion_code(selector, rng)

    def arrow_motion_code(self, small: torch.Tensor, arrows: Arrows, start: torch.Tensor, *,
                          steps: int = DEFAULT_CONTROL_STEPS, **options) -> tuple[torch.Tensor, list[dict]]:
        """AL Eq. 12: the motion code, optimised from ``start`` (Adam on the code only), whose flow on the
        working-size photo ``small`` (1, 3, h, w) follows ``arrows``; returns it and the loss history
        (:func:`~cinescape.methods.al.control.optimize_motion_code`, whose keyword ``options`` pass through)."""
        target, weight = rasterize_arrows(arrows, tuple(small.shape[-2:]))
        return optimize_motion_code(self.motion, small, target, weight, start, steps=steps, **options)

    def regions(self, photo: PhotoInput, mask: torch.Tensor | None, sky: np.ndarray | None,
                settings: AnimationSettings):
        """The regions stage: the moving regions and their kinds (:func:`cinescape.regions.plan_regions`) where
        motion by kind applies (the Eulerian mode, a fluid matte, no arrows), else None; ``--kind`` elsewhere is
        refused in one line."""
        if settings.motion_by_kind and settings.mode == "eulerian" and mask is not None and settings.arrows is None:
            return plan_regions(photo.small, mask, sky, settings.kinds, photo.size, full=photo.photo)
        if settings.kinds:
            raise OptionError("--kind is for the default method (al) in the eulerian mode, with a fluid matte "
                              "(--auto-mask or --mask) and without --arrows")
        return None

    def plan(self, image: np.ndarray | torch.Tensor | str | Path, settings: AnimationSettings | None = None,
             *, progress: bool = False, **overrides) -> Animation:
        """Predict motion for ``image`` and return an :class:`Animation` that renders frames on demand.

        ``image``: a path, a uint8 (H, W, 3) RGB array, or a (1, 3, H, W) tensor in [-1, 1]. ``overrides``:
        :class:`AnimationSettings` fields by name (they override ``settings``).
        """
        settings = self.resolve(settings, overrides)                                  # 1. settings
        photo = self.engine.photo_input(image, settings.working_size)                 # 2. photo, working size
        settings = self.read_controls(settings, photo.size)                           # 3. arrows, patches, kinds
        rng = random.Random(settings.seed)
        z_motion = self.motion_code(settings, rng)                                    # 4. AL's motion code
        return self.engine.animate(                                                   # 5. matte .. frames
            photo, settings, self.motion, z_motion, rng, flow_scale=self.flow_scale, progress=progress,
            regions_stage=self.regions if self.motion_by_kind else None,
            fit_arrows=lambda small, arrows, z, steps, velocity: self.arrow_motion_code(
                small, arrows, z, steps=steps, velocity=velocity))


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
