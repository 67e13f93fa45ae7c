"""What a clip evaluation is defined by (:class:`EvalSettings`) and one prepared clip (:class:`EvalClip`), shared by
:mod:`cinescape.eval.evaluate` and the methods it compares (:mod:`cinescape.eval.clip_methods`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import OptionError
from ..ops import flow_normalized_to_pixels, resize_flow

@dataclass
class EvalSettings:
    """Everything that defines an evaluation; stored in ``metrics.json`` with the results."""

    data: str | None = None           # a clip, or a folder of clips (frame folders or video files)
    synthetic: int = 0                # also evaluate on N procedural clips (the only ones with exact flow: EPE)
    frames: int = 32                  # frames per clip, input included
    size: int = 256                   # comparison size (square side, or short side with keep_aspect)
    keep_aspect: bool = False         # resize the short side instead of centre-cropping a square
    samples: int = 5                  # latent codes (seeds) per clip for stochastic methods
    stride: int = 1                   # keep every stride-th frame of each clip
    cut: bool = False                 # cut long clips into consecutive clips of `frames` frames
    validation_only: bool = False     # keep only the project's held-out clips (cinescape.data.splits)
    max_clips: int | None = None      # keep the first N clips of --data (in name order)
    loop: str = "none"                # models: "none" (frame 0 = input, the papers' protocol), "crossfade", ...
    mode: str | None = None           # models: "recurrent" (AL), "eulerian" (one network call, integrated) or
    #                                   None: the default of `cinescape animate` (AnimationSettings().mode)
    auto_mask: str | None = None      # models: motion mask as `animate --auto-mask` (None: the model's default)
    appearance: bool = False          # models: also animate colours (the motion papers evaluate motion only)
    shift_speed: float = 1.0          # `shift` baseline speed, pixels per frame at the comparison size
    seed: int = 0
    masks: str | None = None          # folder of sky/water masks, <clip name>.png, white = sky/water
    sky_matte: bool = True            # else use the U²-Net-p sky matte from the weights directory, if present
    inception: str | None = None      # FID Inception-v3 weights file (else looked up / downloaded, or unavailable)
    i3d: str | None = None            # FVD I3D weights file (else unavailable)

    def validate(self) -> None:
        if not self.data and not self.synthetic:
            raise OptionError("nothing to evaluate: data and synthetic both unset (give a clip folder and/or a number of procedural clips)")
        if not 3 <= self.frames <= 1000:
            raise OptionError(f"frames must be between 3 and 1000, got {self.frames}")
        if not 32 <= self.size <= 2048:
            raise OptionError(f"size must be between 32 and 2048, got {self.size}")
        if not 1 <= self.samples <= 100:
            raise OptionError(f"samples must be between 1 and 100, got {self.samples}")
        if self.stride < 1:
            raise OptionError(f"stride must be >= 1, got {self.stride}")
        if self.max_clips is not None and self.max_clips < 1:
            raise OptionError(f"max_clips must be >= 1, got {self.max_clips}")
        if not 0 <= self.synthetic <= 1000:
            raise OptionError(f"synthetic must be between 0 and 1000, got {self.synthetic}")
        from ..methods.al.pipeline import LOOP_MODES, MOTION_MODES

        if self.loop not in LOOP_MODES:
            raise OptionError(f"loop must be one of {', '.join(LOOP_MODES)}, got {self.loop!r}")
        if self.mode is not None and self.mode not in MOTION_MODES:
            raise OptionError(f"mode must be one of {', '.join(MOTION_MODES)}, got {self.mode!r}")
        if not (math.isfinite(self.shift_speed) and 0 <= self.shift_speed <= 100):
            raise OptionError(f"shift_speed must be between 0 and 100, got {self.shift_speed}")



# -------------------------------------------------------------------------------------------- clips


@dataclass
class EvalClip:
    """A prepared test clip: uint8 (N, H, W, 3) frames at the comparison size, plus what is known about it.

    ``photo`` is the clip's frame 0 as read (native size, uncropped): what a user would animate; models animate
    it and :meth:`prepare` brings their frames to the comparison size exactly as ``frames`` were prepared
    (``prepare_frames(..., size, keep_aspect)``). Without a ``photo`` (synthetic clips, made at the comparison
    size) ``frames[0]`` is the photo and :meth:`prepare` leaves frames as they are."""

    name: str
    frames: np.ndarray
    flows: torch.Tensor | None = None      # (N, 2, H, W) exact backward flows in pixels (synthetic clips)
    flow_valid: torch.Tensor | None = None  # (N, 1, H, W) where those flows explain the frames
    dynamic: torch.Tensor | None = None    # (H, W) bool sky/water of frame 0 (DeepLandscape mask)
    dynamic_source: str = "none"
    photo: np.ndarray | None = None        # uint8 (H0, W0, 3) frame 0 at its native size (None: frames[0])
    size: int | None = None                # prepare_frames arguments that made `frames` from the native frames
    keep_aspect: bool = False

    @property
    def input(self) -> np.ndarray:
        """The photo a model animates: native frame 0 (or ``frames[0]``)."""
        return self.frames[0] if self.photo is None else self.photo

    def prepare(self, frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """uint8 frames of :attr:`input`'s size -> (N, H, W, 3) at the comparison size, as the real frames."""
        out = np.stack(frames) if self.size is None else prepare_frames(frames, self.size, self.keep_aspect)
        if out.shape[1:] != self.frames.shape[1:]:
            raise ValueError(f"{self.name}: frames of shape {out.shape[1:]} do not match the clip's "
                             f"{self.frames.shape[1:]} after preparation")
        return out

    def prepare_flows(self, flows: torch.Tensor) -> torch.Tensor:
        """(N, 2, h, w) normalised flows of :attr:`input` (any h, w) -> (N, 2, H, W) flows in pixels of the
        comparison frames (the same crop, then resized with their values scaled)."""
        height, width = self.input.shape[:2]
        pixels = flow_normalized_to_pixels(resize_flow(flows, (height, width)), height, width)
        if self.size is not None and not self.keep_aspect:
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            pixels = pixels[..., top:top + side, left:left + side]
        target = self.frames.shape[1:3]
        if tuple(pixels.shape[-2:]) != tuple(target):
            scale = pixels.new_tensor([target[1] / pixels.shape[-1], target[0] / pixels.shape[-2]]).view(1, 2, 1, 1)
            pixels = F.interpolate(pixels, size=target, mode="bilinear", align_corners=False) * scale
        return pixels


def prepare_frames(frames: list[np.ndarray] | np.ndarray, size: int, keep_aspect: bool = False) -> np.ndarray:
    """Centre-crop uint8 (H, W, 3) frames to a square and resize to ``size`` (antialiased bilinear), or with
    ``keep_aspect`` resize the short side to ``size``. Returns uint8 (N, h, w, 3)."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).permute(0, 3, 1, 2).float()
    height, width = x.shape[-2:]
    if keep_aspect:
        scale = size / min(height, width)
        target = (max(size, round(height * scale)), max(size, round(width * scale)))
    else:
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        x = x[..., top:top + side, left:left + side]
        target = (size, size)
    if tuple(x.shape[-2:]) != target:
        x = F.interpolate(x, size=target, mode="bilinear", align_corners=False,
                          antialias=target[0] < x.shape[-2])
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
