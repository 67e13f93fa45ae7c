"""The machine's floor for a looping flow-warp video: what any renderer of a phased loop must do per frame with the
libraries this project uses, with no model, so every ``cinescape bench`` row is also a ratio to it.

Per output frame: two bilinear ``cv2.remap`` of the uint8 photo, their sample positions built from a working-size
velocity field (resized to the photo, times the copy's displacement, plus the pixel grid); their blend
(``cv2.addWeighted`` with the phased loop's weights, :func:`~cinescape.ops.phased_schedule`); a 3×4 colour matrix
(``cv2.transform``); and libx264 CRF 18 veryfast through :class:`~cinescape.io.video.VideoWriter`, encoding in its
background thread while the next frame renders. Measured in the same process and run as the row it sits beside,
the ratio cancels most of a shared machine's load.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

__all__ = ["floor_frames", "measure_floor"]


def _velocity(height: int, width: int) -> np.ndarray:
    """A smooth (144-row) working-size velocity field in photo pixels per frame: ~1 px/frame rightwards, varying
    with position (so the maps are not a plain shift)."""
    rows = 144
    cols = max(8, round(rows * width / height))
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    u = 1.0 + 0.5 * np.sin(xs / cols * 2 * np.pi) * np.cos(ys / rows * np.pi)
    v = 0.3 * np.cos(xs / cols * 3 * np.pi)
    return np.ascontiguousarray(np.stack((u, v), -1), np.float32)


def floor_frames(photo: np.ndarray, num_frames: int, period: float = 20.0):
    """Yield ``num_frames`` uint8 (H, W, 3) frames of the floor loop of ``photo`` (uint8 (H, W, 3)).

    Example:
        >>> photo = np.full((8, 16, 3), 100, np.uint8)
        >>> [frame.shape for frame in floor_frames(photo, 2)]
        [(8, 16, 3), (8, 16, 3)]
    """
    from ..ops.loop import phased_schedule

    height, width = photo.shape[:2]
    velocity = _velocity(height, width)
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
    for index, copies in enumerate(phased_schedule(num_frames, period)):
        warped = []
        for displacement, weight in copies:
            positions = cv2.resize(velocity * np.float32(displacement), (width, height),
                                   interpolation=cv2.INTER_LINEAR)
            cv2.add(positions, grid, dst=positions)
            warped.append((cv2.remap(photo, positions, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
                           weight))
        if len(warped) == 1:
            frame = warped[0][0]
        else:
            (first, w1), (second, w2) = warped
            frame = cv2.addWeighted(first, w1, second, w2, 0.0)
        gain = 1.0 + 0.1 * np.sin(2 * np.pi * index / num_frames)
        matrix = np.array([[gain, 0, 0, -5], [0, 1, 0, 0], [0, 0, 2 - gain, 5]], np.float32)
        yield cv2.transform(frame, matrix)


def measure_floor(photo: np.ndarray, num_frames: int, output: str | Path, *, fps: float = 20.0) -> float:
    """Seconds to render and encode :func:`floor_frames` of ``photo`` into the MP4 ``output``."""
    from ..io.video import VideoWriter

    started = time.perf_counter()
    with VideoWriter(output, fps=fps, size=(photo.shape[1], photo.shape[0]), background=True) as writer:
        for frame in floor_frames(photo, num_frames):
            writer.write(frame)
    return time.perf_counter() - started
