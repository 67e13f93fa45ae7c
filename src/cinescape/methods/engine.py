"""What the methods share, method-neutral: planning a loop (:func:`plan_loop`, :class:`LoopPlan`) and writing an
animation to a file (:func:`write_animation`, used by ``cinescape animate``, batches, the web page and
``cinescape bench``).

A loop is planned once per animation from the settings' loop type: how many motion states the motion stage must
predict (forward, and backward too for the two-way loops) and which states each output frame blends
(:mod:`cinescape.ops.loop`'s schedules; the phased loop's fractional displacements interpolate the neighbouring
integer states, :func:`displaced_states`).

Example:
    >>> plan = plan_loop("crossfade", num_frames=4)
    >>> plan.motion_frames, plan.both_ways
    (8, False)
    >>> plan_loop("none", num_frames=3).schedule_of(None, None)[2]
    [((0, 1.0),), ((1, 1.0),), ((2, 1.0),)]
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..io.memory import give_back_freed_memory
from ..io.video import VideoWriter
from ..ops import crossfade_schedule, phased_schedule, symmetric_schedule

__all__ = ["LOOP_TYPES", "LoopPlan", "displaced_states", "plan_loop", "write_animation"]

LOOP_TYPES = ("crossfade", "symmetric", "phased", "none")

Schedule = list  # per output frame: ((state index, weight), ...)


@dataclass(frozen=True)
class LoopPlan:
    """One animation's loop: ``motion_frames`` forward motion states to predict (state 0 is the photo), and with
    ``both_ways`` as many backward states after them (displacements -1 .. -(motion_frames - 1)); ``loop``: the
    schedule of one loop over those states, or None for the phased loop, whose ``phased`` schedule of
    fractional displacements is resolved against the predicted states (:meth:`schedule_of`)."""

    num_frames: int
    motion_frames: int
    both_ways: bool
    loop: Schedule | None = None
    phased: list | None = None

    def schedule_of(self, accumulated: torch.Tensor | None, steps: torch.Tensor | None
                    ) -> tuple[torch.Tensor | None, torch.Tensor | None, Schedule]:
        """``(accumulated, steps, schedule)``: the motion states the frames blend (the phased loop's
        interpolated ones, else those given) and, for each of the ``num_frames`` output frames, its
        ``((state index, weight), ...)``."""
        loop = self.loop
        if self.phased is not None:
            accumulated, steps, loop = displaced_states(accumulated, steps, self.motion_frames, self.phased)
        return accumulated, steps, [loop[i % len(loop)] for i in range(self.num_frames)]


def plan_loop(loop: str, num_frames: int, appearance_speed: int = 1, period: float = 20.0) -> LoopPlan:
    """The :class:`LoopPlan` of ``num_frames`` output frames in which the motion loops ``appearance_speed`` times
    (a loop of ``L = num_frames // appearance_speed`` frames): ``"crossfade"`` (2L states faded, AL Sec. 5),
    ``"symmetric"`` (L states both ways, Holynski et al. 2021), ``"phased"`` (two copies at most ``period / 2``
    steps from the photo, faded in turn, :func:`~cinescape.ops.phased_schedule`) or ``"none"`` (``num_frames``
    states in order, no loop)."""
    loop_length = num_frames // appearance_speed
    if loop == "crossfade":
        return LoopPlan(num_frames, 2 * loop_length, False, crossfade_schedule(loop_length))
    if loop == "symmetric":   # forward states 0..L-1; L-1 backward states follow (symmetric_schedule)
        return LoopPlan(num_frames, loop_length, loop_length > 1, symmetric_schedule(loop_length))
    if loop == "phased":
        phased = phased_schedule(loop_length, period)    # ((displacement, weight), ...) per frame
        motion_frames = math.ceil(max(abs(d) for frame in phased for d, _ in frame)) + 1
        return LoopPlan(num_frames, motion_frames, motion_frames > 1, phased=phased)
    if loop == "none":
        return LoopPlan(num_frames, num_frames, False, [((i, 1.0),) for i in range(num_frames)])
    raise ValueError(f"loop must be one of {', '.join(LOOP_TYPES)}, got {loop!r}")


def displaced_states(accumulated: torch.Tensor, steps: torch.Tensor, count: int,
                     schedule: list[tuple[tuple[float, float], ...]]
                     ) -> tuple[torch.Tensor, torch.Tensor, list[tuple[tuple[int, float], ...]]]:
    """Motion states at the fractional displacements of a phased loop (:func:`~cinescape.ops.phased_schedule`).

    ``accumulated``/``steps``: (2 * count - 1, 2, h, w) states as :meth:`CinemagraphPipeline._motion_states`
    returns them for a two-way loop: displacements 0..count-1 forward, then -1..-(count-1) backward. A
    fractional displacement ``d`` interpolates the flows of its two neighbouring integer states linearly.
    Returns the states of the distinct displacements of ``schedule`` and the schedule with their indices.
    """
    def state(k: int) -> int:          # index of integer displacement k
        return k if k >= 0 else count - 1 - k

    index_of: dict[float, int] = {}
    chosen_acc, chosen_steps, indexed = [], [], []
    for frame in schedule:
        entries = []
        for displacement, weight in frame:
            key = round(displacement, 6)
            if key not in index_of:
                low = math.floor(key)
                frac = key - low
                high = low + 1 if frac > 0 else low
                index_of[key] = len(chosen_acc)
                chosen_acc.append((1 - frac) * accumulated[state(low)] + frac * accumulated[state(high)])
                chosen_steps.append((1 - frac) * steps[state(low)] + frac * steps[state(high)])
            entries.append((index_of[key], weight))
        indexed.append(tuple(entries))
    return torch.stack(chosen_acc), torch.stack(chosen_steps), indexed


def write_animation(pipeline, image, settings, output: str | os.PathLike, *, fps: float,
                    plan_options: dict | None = None, overwrite: bool = False, flow_video: str | None = None,
                    progress: bool = False, cancelled: Callable[[], bool] | None = None,
                    plan: Callable[[], object] | None = None, on_frame: Callable[[str], None] | None = None,
                    timings: dict | None = None, draft: bool = False):
    """Animate ``image`` (uint8 (H, W, 3)) with ``pipeline`` into ``output`` (and the flow into ``flow_video``).

    The writers are opened first, so a bad output path fails before any work; on any error (Ctrl-C included)
    both discard their temporary files and nothing appears at the output paths. ``cancelled``, if given, is
    asked before each frame: True stops with KeyboardInterrupt. ``plan``: a callable returning the animation
    instead of ``pipeline.plan(image, settings, progress=progress, **plan_options)`` (the web page plans under its
    lock). ``on_frame(phase)``: called after each frame written (``"rendering"``, then ``"flow"``) and once
    before the files are closed (``"finishing"``). ``timings``: a dict that receives ``"encode"``, the seconds
    spent handing frames to the encoders and closing them (the rest is planning and rendering; ``cinescape
    bench`` reads it). ``draft``: the video is a quick look, encoded fast (:class:`~cinescape.io.video.VideoWriter`'s
    ``draft``). Returns the Animation.
    """
    encode = 0.0
    size = (image.shape[1], image.shape[0])
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(output, fps=fps, size=size, overwrite=overwrite, draft=draft,
                                                     background=True))   # encodes while the next frame renders
        flow_writer = None
        if flow_video:
            flow_writer = stack.enter_context(VideoWriter(flow_video, fps=fps, size=size, overwrite=overwrite))
        animation = plan() if plan is not None else pipeline.plan(image, settings, progress=progress,
                                                                  **(plan_options or {}))
        give_back_freed_memory()   # the plan's freed temporaries, before the encoder allocates (io/memory.py)
        for phase, frames, out in (("rendering", animation.frames, writer),
                                   ("flow", getattr(animation, "flow_frames", None), flow_writer)):
            if out is None:
                continue
            for frame in frames():
                if cancelled is not None and cancelled():
                    raise KeyboardInterrupt
                started = time.perf_counter()
                out.write(frame)   # waits only while the background encoder is a frame behind
                encode += time.perf_counter() - started
                if on_frame is not None:
                    on_frame(phase)
        if on_frame is not None:
            on_frame("finishing")
        started = time.perf_counter()
    encode += time.perf_counter() - started   # the encoders' last frames and the files' closing
    if timings is not None:
        timings["encode"] = encode
    return animation
