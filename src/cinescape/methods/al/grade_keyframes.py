"""The default colour grade with the appearance net at keyframes: its statistics predicted every other frame and at
the appearance code's corners, interpolated in between.

The default grade (``appearance_locality=0``) is one affine map per channel and frame
(:func:`~cinescape.ops.render.global_grade`), fitted from two kinds of statistics of the moved working-size frame:
its own tones (:func:`~cinescape.ops.render.tone_statistics`) and the means of the appearance net's transfer of it
(:func:`~cinescape.ops.render.grade_statistics`: one network call, the costliest part of a frame). The latter
follow the appearance code, which moves linearly between keyframe codes (:func:`~cinescape.ops.loop.
interpolate_cyclic`): smooth, with corners at the keyframes; the former follow the motion, whose fades are spread
over the pixels (the per-pixel phased loop), so a frame's means and quantiles drift smoothly too. Both are
computed at every k-th frame (:func:`keyframe_stride`: about :data:`KEYFRAMES_PER_STRETCH` between two corners) and
at the frames around each corner (:func:`~cinescape.ops.loop.schedule_corners`), from the one working-size frame the
network sees, and interpolated
cubically in between, never across a corner (:func:`~cinescape.ops.loop.interpolate_keyframes`); the slope floor
and the tone limits are applied per frame after the interpolation, so their kinks stay exact. The frames in between
need neither the network nor a working-size frame of their own. Measured against every frame's own prediction:
docs/results.md ("Fifth 2026-12-07 session", and the tones at keyframes in "Sixth").
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...ops.loop import interpolate_keyframes
from ...ops.render import global_grade

#: Predictions per stretch of the appearance code between two of its corners. The cubic's error falls as the fourth
#: power of the keyframes' spacing relative to the stretch: 7 (every 2nd frame of 101 with 7 code keyframes) left
#: every frame of the 16 shared photos 52-58 dB from its own prediction; 4.3 (every 2nd of 60) 44-52 dB.
KEYFRAMES_PER_STRETCH = 7
#: The longest stride (the frame's tones also follow the phased loop's fades, whose cycle is ~20 frames).
MAX_KEYFRAME_STRIDE = 3


def keyframe_stride(num_frames: int, corners: list[int]) -> int:
    """Frames between two predictions of the grade's statistics in a loop of ``num_frames`` whose appearance code
    bends next to ``corners`` (:func:`~cinescape.ops.loop.schedule_corners`: a bend between two frames marks both):
    about :data:`KEYFRAMES_PER_STRETCH` predictions per stretch between bends, at most :data:`MAX_KEYFRAME_STRIDE`.

    Example:
        >>> keyframe_stride(101, [0, 14, 15, 28, 29, 43, 44, 57, 58, 72, 73, 86, 87])   # 7 bends: every 2nd frame
        2
        >>> keyframe_stride(60, [0, 8, 9, 17, 18, 25, 26, 34, 35, 42, 43, 51, 52])       # 7 bends: every frame
        1
    """
    marked = sorted({c % num_frames for c in corners})
    # bends: runs of consecutive marked frames (cyclic), each one bend
    bends = sum(1 for k, frame in enumerate(marked) if (frame - 1) % num_frames != marked[k - 1]) if marked else 0
    if marked and len(marked) == num_frames:
        bends = num_frames
    stretch = num_frames / max(1, bends)
    return int(min(MAX_KEYFRAME_STRIDE, max(1, stretch // KEYFRAMES_PER_STRETCH)))


class KeyframedGrade:
    """Per output frame of a loop of ``num_frames`` (frame ``num_frames`` is frame 0), the global grade (6,)
    ``[a, b]`` per channel. ``corners``: frames next to which the appearance code bends; ``predict(frames)``: the
    statistics (18,) of those frames (one batched call), the network's :func:`~cinescape.ops.render.
    grade_statistics` (6) then the frame's :func:`~cinescape.ops.render.tone_statistics` (12). Predictions are made
    on demand, ``batch`` keyframes at a time, and kept (18 numbers each). ``stride``: frames between two
    predictions away from the corners (None: :func:`keyframe_stride`)."""

    def __init__(self, num_frames: int, corners: list[int], predict: Callable[[list[int]], list[np.ndarray]], *,
                 stride: int | None = None, batch: int = 4):
        self.num_frames = num_frames
        self.corners = {c % num_frames for c in corners}
        self.stride = keyframe_stride(num_frames, corners) if stride is None else stride
        self.keyframes = sorted(set(range(0, num_frames, self.stride)) | self.corners)
        self._predict, self._batch = predict, batch
        self._statistics: dict[int, np.ndarray] = {}
        self.predictions = 0            # network-statistics predictions made (tests and benchmarks read it)

    def _statistic(self, keyframe: int) -> np.ndarray:
        if keyframe not in self._statistics:   # this keyframe and the next unknown ones, in one call
            position = self.keyframes.index(keyframe)
            batch = [f for f in self.keyframes[position:] if f not in self._statistics][:self._batch]
            for frame, value in zip(batch, self._predict(batch)):
                self._statistics[frame] = np.asarray(value, np.float64)
            self.predictions += len(batch)
        return self._statistics[keyframe]

    def grade(self, index: int) -> np.ndarray:
        """(6,) float32 grade ``[a, b]`` per channel of frame ``index``."""
        lazy = _Lazy(self._statistic)
        statistics = interpolate_keyframes(self.keyframes, lazy, index % self.num_frames, corners=self.corners,
                                           period=self.num_frames)
        return global_grade(np.float32(statistics[6:]), np.float32(statistics[:6]))


class _Lazy:
    """A read-only mapping whose values are computed on first access (what interpolate_keyframes reads)."""

    def __init__(self, compute: Callable[[int], np.ndarray]):
        self._compute = compute

    def __getitem__(self, key: int) -> np.ndarray:
        return self._compute(key)
