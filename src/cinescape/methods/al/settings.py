"""AL's animation settings (:class:`AnimationSettings`, every field a ``cinescape animate`` option) and the working
size the networks run at (:func:`working_shape`); read by the engine (:mod:`.engine`) and the pipelines that
compose it (AL's, FGLA's)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import OptionError
from ...regions import parse_kind_speeds
from ..defaults import DEFAULT_LOOP_PERIOD
from .control import ARROW_MODES, DEFAULT_CONTROL_STEPS, AppearancePatches, Arrows
from .time_of_day import parse_time_of_day

__all__ = ["APPEARANCE_SEQUENCES", "AUTO_MASKS", "AnimationSettings", "FLOW_SMOOTH_SIGMA", "LOOP_MODES",
           "MASK_FEATHER_SIGMA", "MOTION_MODES", "working_shape"]

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
    loop_sharpen: bool = True           # "phased": undo what bicubic sampling between pixels takes (ops/resample.py)
    seed: int = 0                       # picks random codes when no selector is given
    motion_code: str | int | None = None       # index, "pc:0..1", "gaussian" (N(0, I); models with a latent
    #                                            prior) or None (random codebook code from seed)
    appearance_code: str | int | None = None   # likewise, picks a codebook sequence ("gaussian": keyframes from N(0, I))
    motion_speed: float = 1.0           # flow scale
    appearance_speed: int = 1           # motion loops per appearance cycle (AL Sec. 5)
    appearance: bool = True             # False: motion only
    appearance_keyframes: int = 6       # codes taken from the chosen codebook sequence
    appearance_stride: int = 1          # colour maps predicted every k-th frame, interpolated between (speed)
    grade_keyframes: bool = True        # appearance_locality 0 in a loop, stride 1: the grade's network statistics
    #                                     every 2nd frame and at the code's corners, cubic between (grade_keyframes.py)
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
