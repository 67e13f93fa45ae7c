"""Motion against real footage: the mean optical flow of a fixed-camera clip is the truth, an animation of the
clip's first frame is compared with it (issue 30, "motion against real footage").

Conventions: frames are uint8 (H, W, 3) RGB; flows are float32 (2, H, W) numpy arrays **in pixels per frame**,
channel 0 = x (right), channel 1 = y (down), *forward* (the content at ``p`` in frame t is at ``p + flow[p]`` in
frame t + 1: the velocity of what is seen, :func:`cinescape.ops.optical_flow.optical_flow_dis`). Everything is
measured at one size: both the clip and the animation are resized to the same width before the flow is taken,
so speeds compare directly.

* **Truth** (:func:`truth_motion`): the mean of DIS flows over consecutive frames, and the clip's *moving
  pixels*: where the mean flow is fast enough (``min_speed``) **and** steady in direction (``min_consistency``:
  the length of the mean flow over the mean length of the per-frame flows, 1 = always the same direction, near
  0 = noise or motion that goes back and forth). Why both: in still areas DIS returns small flows of random
  direction (sensor noise, compression), whose mean is small *and* whose consistency is low; a speed threshold
  alone either keeps noise (low threshold) or drops slow real-time water (high one); consistency alone keeps
  sub-pixel compression drift of still land. Areas known to be wrong (a burned-in timestamp) are ``ignore``d.
* **Comparison** (:func:`compare_motion`), on the truth's moving pixels: *agreement*, the truth-speed-weighted
  mean cosine between the animation's and the truth's mean flow (1 = same direction everywhere, 0 = unrelated or
  not moving, -1 = opposite; a pixel the animation leaves still counts 0); *coverage*, the share of those pixels
  whose animation speed exceeds ``still_speed``; *speed ratio*, the animation's median speed over the truth's.
* **The animation's flow** (:func:`mean_flow`) is taken the same way as the truth's, with DIS on the rendered
  frames (the loop's wrap from the last frame to the first included): what a viewer sees, for any method.

Example:
    >>> clip = translating_clip(np.random.default_rng(0), (64, 96), (0.5, 0.25), 6)
    >>> truth = truth_motion(clip)
    >>> report = compare_motion(mean_flow(clip), truth)
    >>> round(report["agreement"], 2), round(report["speed_ratio"], 1)
    (1.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np
import torch

from ..ops.flow_viz import flow_to_color
from ..ops.optical_flow import optical_flow_dis

__all__ = ["REFERENCE_WIDTH", "MIN_SPEED", "MIN_CONSISTENCY", "STILL_SPEED", "FlowMean", "TruthMotion",
           "mean_flow", "truth_motion", "compare_motion", "speed_at_width", "box_mask", "translating_clip",
           "flow_picture", "arrow_overlay", "fall_direction"]

#: Speeds thresholds below are stated in px/frame at this width and scaled with the measured width.
REFERENCE_WIDTH = 512
#: Truth: a pixel moves when its mean flow is at least this fast (px/frame at REFERENCE_WIDTH).
MIN_SPEED = 0.05
#: Truth: ... and its flow direction this steady (|mean flow| / mean |flow|, 0..1).
MIN_CONSISTENCY = 0.4
#: Animation: a pixel is still below this mean speed (px/frame at REFERENCE_WIDTH; the issue's "land still" bound).
STILL_SPEED = 0.05


def speed_at_width(speed: float, width: int) -> float:
    """A speed stated at :data:`REFERENCE_WIDTH` px width, in px/frame at ``width``.

    Example:
        >>> speed_at_width(0.05, 1024)
        0.1
    """
    return speed * width / REFERENCE_WIDTH


@dataclass
class FlowMean:
    """Mean motion of a frame sequence: ``flow`` (2, H, W) mean forward flow (px/frame), ``speed`` (H, W) mean of
    the per-pair flow lengths (px/frame, >= |flow|), ``pairs`` the number of frame pairs averaged."""

    flow: np.ndarray
    speed: np.ndarray
    pairs: int

    @property
    def consistency(self) -> np.ndarray:
        """(H, W) |mean flow| / mean |flow| in [0, 1]: 1 = the same direction in every pair (0 where still)."""
        length = np.hypot(self.flow[0], self.flow[1])
        return np.where(self.speed > 1e-9, length / np.maximum(self.speed, 1e-9), 0.0).astype(np.float32)


def mean_flow(frames: Iterable[np.ndarray], *, cyclic: bool = False, stride: int = 1, stabilize: bool = False,
              preset: str = "medium") -> FlowMean:
    """Mean DIS forward flow over consecutive uint8 (H, W, 3) frames (:class:`FlowMean`, px per frame).

    ``cyclic``: the frames are a loop, so the pair (last, first) is included too. ``stride`` k > 1: flows
    between frames t and t + k, divided by k (for real-time clips whose per-frame motion is below what DIS
    resolves well); still px per *frame*. ``stabilize``: subtract each pair's median flow (a "fixed" camera
    that shakes or pans a little; only where most of the frame is still). Identical pairs count as zero flow without running DIS. Frames are
    streamed: memory does not grow with their number.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    frames = list(frames)
    if len(frames) < 2:
        raise ValueError(f"mean_flow needs at least 2 frames, got {len(frames)}")
    count = len(frames)
    pairs = [(t, (t + stride) % count) for t in range(count if cyclic else count - stride)]
    if not pairs:
        raise ValueError(f"{count} frames hold no pair {stride} frames apart")
    total = np.zeros((2, *frames[0].shape[:2]), np.float64)
    speed = np.zeros(frames[0].shape[:2], np.float64)
    for a, b in pairs:
        if np.array_equal(frames[a], frames[b]):
            continue
        flow = optical_flow_dis(np.stack([frames[a], frames[b]]), preset)[0].numpy() / stride
        if stabilize:
            flow -= np.median(flow.reshape(2, -1), axis=1)[:, None, None]
        total += flow
        speed += np.hypot(flow[0], flow[1])
    return FlowMean((total / len(pairs)).astype(np.float32), (speed / len(pairs)).astype(np.float32), len(pairs))


@dataclass
class TruthMotion:
    """A clip's real motion: its :class:`FlowMean` and the (H, W) bool ``moving`` pixels the comparison uses."""

    mean: FlowMean
    moving: np.ndarray

    @property
    def flow(self) -> np.ndarray:
        return self.mean.flow


def truth_motion(frames: Iterable[np.ndarray] | FlowMean, *, ignore: np.ndarray | None = None,
                 min_speed: float = MIN_SPEED, min_consistency: float = MIN_CONSISTENCY, stride: int = 1,
                 stabilize: bool = False, preset: str = "medium") -> TruthMotion:
    """The real motion of a fixed-camera clip (uint8 (H, W, 3) frames in time order, or their :func:`mean_flow`).

    A pixel is *moving* when its mean flow is at least ``min_speed`` px/frame **at** :data:`REFERENCE_WIDTH`
    (scaled to the frames' width), its direction consistency at least ``min_consistency``, and it is not in
    ``ignore`` ((H, W) bool, e.g. a burned-in timestamp). See the module docstring for why both tests.
    """
    mean = frames if isinstance(frames, FlowMean) else mean_flow(frames, stride=stride, stabilize=stabilize,
                                                                          preset=preset)
    width = mean.flow.shape[-1]
    length = np.hypot(mean.flow[0], mean.flow[1])
    moving = (length >= speed_at_width(min_speed, width)) & (mean.consistency >= min_consistency)
    if ignore is not None:
        moving &= ~np.asarray(ignore, bool)
    return TruthMotion(mean, moving)


def compare_motion(animation: FlowMean | np.ndarray, truth: TruthMotion, *,
                   still_speed: float = STILL_SPEED) -> dict[str, float]:
    """How an animation's mean flow matches a clip's real motion, on the truth's moving pixels.

    ``animation``: its :class:`FlowMean` or a (2, H, W) mean flow (px/frame), the truth's size. Returns
    ``agreement`` (truth-speed-weighted mean cosine, -1..1; a pixel the animation leaves still counts 0),
    ``coverage`` (share of the moving pixels where the animation's mean flow is at least ``still_speed``
    px/frame at :data:`REFERENCE_WIDTH`), ``speed_ratio`` (median animation speed / median truth speed),
    ``truth_speed`` and ``animation_speed`` (the medians, px/frame at the measured width) and
    ``moving_share`` (share of the frame the truth moves). All NaN but ``moving_share`` when nothing moves.

    Example:
        >>> truth = truth_motion(FlowMean(np.ones((2, 4, 4), np.float32), np.full((4, 4), 1.5, np.float32), 1))
        >>> round(compare_motion(-np.ones((2, 4, 4), np.float32), truth)["agreement"], 6)
        -1.0
    """
    flow = animation.flow if isinstance(animation, FlowMean) else np.asarray(animation, np.float32)
    if flow.shape != truth.flow.shape:
        raise ValueError(f"animation flow {flow.shape} and truth flow {truth.flow.shape} differ in size")
    moving = truth.moving
    result = {"moving_share": float(moving.mean())}
    if not moving.any():
        return {"agreement": math.nan, "coverage": math.nan, "speed_ratio": math.nan, "truth_speed": math.nan,
                "animation_speed": math.nan, **result}
    real = truth.flow[:, moving].astype(np.float64)
    made = flow[:, moving].astype(np.float64)
    real_speed = np.hypot(real[0], real[1])
    made_speed = np.hypot(made[0], made[1])
    still = speed_at_width(still_speed, flow.shape[-1])
    cosine = np.where(made_speed > 1e-6, (real * made).sum(0) / np.maximum(real_speed * made_speed, 1e-12), 0.0)
    truth_median, made_median = float(np.median(real_speed)), float(np.median(made_speed))
    return {"agreement": float((real_speed * cosine).sum() / real_speed.sum()),
            "coverage": float((made_speed >= still).mean()),
            "speed_ratio": made_median / truth_median if truth_median > 0 else math.nan,
            "truth_speed": truth_median, "animation_speed": made_median, **result}


def box_mask(shape: tuple[int, int], boxes: Iterable[Iterable[float]]) -> np.ndarray:
    """(H, W) bool mask of boxes ``[x0, y0, x1, y1]`` given as fractions (0..1) of the width and height.

    Example:
        >>> box_mask((4, 4), [[0.5, 0, 1, 0.5]]).astype(int).tolist()
        [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    height, width = shape
    mask = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[round(y0 * height):round(y1 * height), round(x0 * width):round(x1 * width)] = True
    return mask


def translating_clip(rng: np.random.Generator, shape: tuple[int, int], velocity: tuple[float, float],
                     count: int) -> list[np.ndarray]:
    """A synthetic fixed-camera clip: a smooth random texture translated by ``velocity`` = (vx, vy) px per frame
    (count uint8 (H, W, 3) frames; the texture is sampled bilinearly, borders wrapped). For tests and examples."""
    height, width = shape
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), 2.0)
    texture = (texture - texture.mean()) / max(float(texture.std()), 1e-6) * 50 + 128
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    frames = []
    for t in range(count):
        # content moves by +velocity: frame t at p shows the texture at p - t * velocity
        map_x, map_y = xs - t * velocity[0], ys - t * velocity[1]
        frames.append(np.clip(cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP),
                              0, 255).round().astype(np.uint8))
    return frames


def flow_picture(flow: np.ndarray, max_speed: float | None = None, moving: np.ndarray | None = None) -> np.ndarray:
    """uint8 (H, W, 3) colour-coded (2, H, W) flow (:func:`~cinescape.ops.flow_viz.flow_to_color`: hue =
    direction, right red, down yellow, left blue, up violet; white = still), saturated at ``max_speed`` (default:
    the 99th percentile speed); pixels outside ``moving`` are shown grey."""
    speed = np.hypot(flow[0], flow[1])
    if max_speed is None:
        max_speed = float(np.percentile(speed, 99)) if speed.size else 1.0
    color = flow_to_color(torch.from_numpy(np.ascontiguousarray(flow, np.float32))[None], max(max_speed, 1e-6))
    picture = (color[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    if moving is not None:
        picture[~np.asarray(moving, bool)] = 160
    return picture


def arrow_overlay(image: np.ndarray, flow: np.ndarray, moving: np.ndarray | None = None, *, spacing: int = 24,
                  length: float | None = None) -> np.ndarray:
    """``image`` (uint8 (H, W, 3)) with arrows of the (2, H, W) flow on a grid every ``spacing`` px (each the
    mean flow of its cell; cells with fewer than half their pixels ``moving`` get none), scaled so the 95th
    percentile arrow is ``length`` px long (default ``0.9 * spacing``); the still part dimmed."""
    out = image.copy()
    height, width = flow.shape[1:]
    moving = np.ones((height, width), bool) if moving is None else np.asarray(moving, bool)
    out[~moving] = (out[~moving] * 0.5).astype(np.uint8)
    cells = []
    for y in range(0, height - spacing + 1, spacing):
        for x in range(0, width - spacing + 1, spacing):
            inside = moving[y:y + spacing, x:x + spacing]
            if inside.mean() >= 0.5:
                vector = flow[:, y:y + spacing, x:x + spacing][:, inside].mean(1)
                cells.append((x + spacing / 2, y + spacing / 2, vector))
    if not cells:
        return out
    speeds = np.array([np.hypot(*v) for _, _, v in cells])
    scale = (length or 0.9 * spacing) / max(float(np.percentile(speeds, 95)), 1e-9)
    for x, y, (vx, vy) in cells:
        tip = (int(round(x + vx * scale)), int(round(y + vy * scale)))
        cv2.arrowedLine(out, (int(round(x)), int(round(y))), tip, (0, 0, 0), 3, cv2.LINE_AA, tipLength=0.3)
        cv2.arrowedLine(out, (int(round(x)), int(round(y))), tip, (255, 255, 0), 1, cv2.LINE_AA, tipLength=0.3)
    return out


def fall_direction(flow: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """The mean motion of a (2, H, W) flow (px/frame) in the (H, W) bool ``region`` (e.g. a waterfall's falling
    water): ``angle_from_down`` in degrees (0 = straight down, 90 = sideways, 180 = up; NaN when still),
    ``speed`` (length of the mean vector) and ``median_speed`` (median per-pixel length), px/frame.

    Example:
        >>> flow = np.zeros((2, 4, 4), np.float32); flow[0], flow[1] = 1.0, 1.0
        >>> {k: round(v, 2) for k, v in fall_direction(flow, np.ones((4, 4), bool)).items()}
        {'angle_from_down': 45.0, 'speed': 1.41, 'median_speed': 1.41}
    """
    region = np.asarray(region, bool)
    if not region.any():
        return {"angle_from_down": math.nan, "speed": math.nan, "median_speed": math.nan}
    vectors = flow[:, region].astype(np.float64)
    mean_x, mean_y = vectors.mean(1)
    speed = float(math.hypot(mean_x, mean_y))
    angle = math.degrees(math.acos(max(-1.0, min(1.0, mean_y / speed)))) if speed > 1e-9 else math.nan
    return {"angle_from_down": angle, "speed": speed, "median_speed": float(np.median(np.hypot(*vectors)))}
