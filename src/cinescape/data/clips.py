"""Training clips in memory, and the pair samplers of AL Algorithms 2 and 3.

A clip is a uint8 tensor (T, 3, H, W) decoded once into memory (both CPU cores are busy with the
network during training, so frames are never decoded in the training loop). Samplers return float
batches (B, 3, S, S) in [-1, 1] with the same random crop, scale and flip applied to both frames of
a pair.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputImageError, OptionError


@dataclass
class Clip:
    """One time-lapse clip decoded into memory."""

    name: str
    frames: torch.Tensor                      # (T, 3, H, W) uint8
    pairs: list[int] = field(default_factory=list)  # motion: indices t with (t, t+1) a usable pair
    # Motion, optional: backward flows (T-1, 2, H, W) float16 in pixels, flows[t] from frame t+1 to t
    # (frames[t+1][p] ≈ frames[t][p + flows[t][p]]): DIS pseudo ground truth or a generator's exact flow.
    flows: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.frames.shape[0]


def natural_key(text: str) -> list:
    """Sort key of names with numbers in numeric order: ``clip2`` before ``clip10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def parse_source(spec: str) -> tuple[Path, int]:
    """``PATH`` or ``PATH:STRIDE`` -> (path, stride).

    Example:
        >>> parse_source("clips/sky:4")
        (PosixPath('clips/sky'), 4)
        >>> parse_source("clips/sky")
        (PosixPath('clips/sky'), 1)
    """
    head, sep, tail = spec.rpartition(":")
    if not (sep and head and tail.isdigit()):
        return Path(spec), 1
    if int(tail) < 1:
        raise OptionError(f"stride in {spec!r} must be >= 1")
    return Path(head), int(tail)


def discover_clips(root: str | Path) -> list[Path]:
    """The clips under ``root``, in natural name order: ``root`` itself if it is a video file or a folder holding
    at least two frame images, else every clip in its sub-folders (searched recursively). Hidden files and
    folders are skipped. The one rule of training, evaluation and the velocity distillation."""
    from ..io.video import FRAME_EXTENSIONS, VIDEO_EXTENSIONS

    root = Path(root).expanduser()
    if not root.exists():
        raise OptionError(f"{root} does not exist")
    if root.is_file():
        return [root] if root.suffix.lower() in VIDEO_EXTENSIONS else []
    children = sorted((p for p in root.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if sum(p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS for p in children) >= 2:
        return [root]
    return [clip for child in children for clip in discover_clips(child)]


def resize_short_side(frame: np.ndarray, short_side: int) -> torch.Tensor:
    """uint8 (H, W, 3) -> uint8 (3, h, w) with min(h, w) = short_side (antialiased bilinear)."""
    tensor = torch.from_numpy(np.array(frame, dtype=np.uint8, copy=True)).permute(2, 0, 1)[None].float()
    height, width = tensor.shape[-2:]
    scale = short_side / min(height, width)
    size = (max(short_side, round(height * scale)), max(short_side, round(width * scale)))
    resized = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    return resized[0].round().clamp(0, 255).to(torch.uint8)


def load_clip(path: str | Path, *, short_side: int, stride: int = 1, max_frames: int | None = None,
              name: str | None = None) -> Clip:
    """Decode a frame folder or video file at ``stride`` into a :class:`Clip` whose short side is ``short_side``."""
    from ..io.video import read_clip  # local import: io is optional for users of the samplers alone

    frames = read_clip(path, stride=stride, max_frames=max_frames)
    if len(frames) < 2:
        raise InputImageError(f"clip {path} has fewer than 2 frames")
    stacked = torch.stack([resize_short_side(frame, short_side) for frame in frames])
    return Clip(name=name or Path(path).name, frames=stacked)


def mean_pair_difference(clip: Clip) -> torch.Tensor:
    """Mean absolute difference in [0, 1] between consecutive frames, (T-1,)."""
    frames = clip.frames.float() / 255
    return (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))


def select_motion_pairs(clip: Clip, min_difference: float = 0.02) -> Clip:
    """Keep the pairs (t, t+1) whose mean difference is at least ``min_difference`` (AL Sec. 6.1)."""
    differences = mean_pair_difference(clip)
    clip.pairs = [t for t, d in enumerate(differences.tolist()) if d >= min_difference]
    return clip


def attach_flows(clip: Clip, flows: torch.Tensor | None = None, preset: str = "medium") -> Clip:
    """Give ``clip`` its backward flows in pixels: ``flows`` (T-1, 2, H, W) if known (a synthetic
    clip's exact flow), else OpenCV DIS pseudo ground truth (FGLA Sec. 3.3 uses FlowNet 2.0)."""
    if flows is None:
        from ..ops.optical_flow import backward_flow_dis

        flows = backward_flow_dis(clip.frames.permute(0, 2, 3, 1).numpy(), preset)
    if tuple(flows.shape) != (len(clip) - 1, 2, *clip.frames.shape[-2:]):
        raise ValueError(f"flows of shape {tuple(flows.shape)} do not fit clip {clip.name} {tuple(clip.frames.shape)}")
    clip.flows = flows.to(torch.float16)
    return clip


def common_motion_field(clip: Clip) -> torch.Tensor:
    """The clip's mean backward flow over its usable pairs (all pairs if none are marked), (2, H, W) pixels.

    Steady cloud drift survives the average while flicker and flow noise cancel; still land stays ~0.
    """
    if clip.flows is None:
        raise ValueError(f"clip {clip.name} has no flows: call attach_flows first")
    pairs = clip.pairs or list(range(len(clip) - 1))
    return clip.flows[pairs].float().mean(dim=0)


def clip_from_tensor(name: str, frames: torch.Tensor) -> Clip:
    """A clip from float frames (T, 3, H, W) in [-1, 1] (e.g. the procedural generator's)."""
    uint8 = ((frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Clip(name=name, frames=uint8)


@dataclass
class CropParams:
    top: int
    left: int
    size: int
    flip: bool


def random_crop_params(height: int, width: int, crop: int, rng: random.Random, *, min_scale: float = 0.6,
                       flip: bool = True) -> CropParams:
    """A square crop of side between ``min_scale * min(H, W)`` and ``min(H, W)`` (resized to ``crop`` later)."""
    short = min(height, width)
    side = max(min(crop, short), int(round(short * rng.uniform(min_scale, 1.0))))
    side = min(side, short)
    return CropParams(top=rng.randint(0, height - side), left=rng.randint(0, width - side), size=side,
                      flip=flip and rng.random() < 0.5)


def apply_crop(frame: torch.Tensor, params: CropParams, out_size: int) -> torch.Tensor:
    """uint8 (3, H, W) -> float (3, out_size, out_size) in [-1, 1] with the crop, resize and flip of ``params``."""
    patch = frame[:, params.top:params.top + params.size, params.left:params.left + params.size].float()
    if params.size != out_size:
        patch = F.interpolate(patch[None], size=(out_size, out_size), mode="bilinear", align_corners=False,
                              antialias=params.size > out_size)[0]
    if params.flip:
        patch = patch.flip(-1)
    return patch / 127.5 - 1


def apply_crop_flow(flow: torch.Tensor, params: CropParams, out_size: int) -> torch.Tensor:
    """Pixel flow (2, H, W) -> the same crop/resize/flip as :func:`apply_crop`, returned as a
    **normalised** flow (2, out_size, out_size) of the cropped image (one crop pixel = 2 / out_size).

    Resizing scales pixel displacements by out_size / side, and normalising divides by out_size / 2,
    so the values scale by 2 / side; a left-right flip negates x.
    """
    patch = flow[:, params.top:params.top + params.size, params.left:params.left + params.size].float()
    if params.size != out_size:
        patch = F.interpolate(patch[None], size=(out_size, out_size), mode="bilinear", align_corners=False,
                              antialias=params.size > out_size)[0]
    patch = patch * (2.0 / params.size)
    if params.flip:
        patch = patch.flip(-1)
        patch[0] = -patch[0]
    return patch


def sample_clip_indices(num_clips: int, batch_size: int, rng: random.Random) -> list[int]:
    """Distinct clips for one minibatch (AL: a minibatch draws from a set of clips), with repeats only
    when there are fewer clips than the batch size."""
    if num_clips >= batch_size:
        return rng.sample(range(num_clips), batch_size)
    return [rng.randrange(num_clips) for _ in range(batch_size)]
