"""Looping helpers: cross-fade loops (AL Sec. 5), symmetric loops (Holynski et al. 2021) and cyclic
latent interpolation.

Frame sequences are indexed from 0 (frame 0 is the input photo). Blends are returned as
(index, weight) pairs so a renderer can blend full-resolution frames lazily, one output frame at a
time, without holding the whole sequence in memory.
"""

from __future__ import annotations

import torch

__all__ = ["crossfade_schedule", "crossfade_loop", "symmetric_schedule", "interpolate_cyclic"]


def crossfade_schedule(loop_length: int) -> list[tuple[tuple[int, float], tuple[int, float]]]:
    """Which frames of a 2N-frame motion sequence make each frame of an N-frame cross-fade loop.

    Loop frame ``k`` (0 <= k < N) is ``(k / N) * V[k] + (1 - k / N) * V[k + N]``: the second half of
    the sequence is faded onto the first. Frame 0 is ``V[N]`` and the frame after the last, ``V[N]``
    again, continues the last one (mostly ``V[N - 1]``) by one step, so the loop has no seam.

    Args:
        loop_length: N, the number of frames in the loop (>= 1). The motion sequence needs 2N frames.

    Returns:
        For each loop frame, ``((i, w_i), (j, w_j))`` with ``w_i + w_j = 1``.

    Example:
        >>> crossfade_schedule(2)
        [((0, 0.0), (2, 1.0)), ((1, 0.5), (3, 0.5))]
    """
    if loop_length < 1:
        raise ValueError(f"loop_length must be >= 1, got {loop_length}")
    schedule = []
    for k in range(loop_length):
        alpha = k / loop_length
        schedule.append(((k, alpha), (k + loop_length, 1.0 - alpha)))
    return schedule


def crossfade_loop(frames: torch.Tensor) -> torch.Tensor:
    """Cross-fade a (2N, C, H, W) sequence into an N-frame seamless loop (see :func:`crossfade_schedule`)."""
    if frames.shape[0] < 2 or frames.shape[0] % 2:
        raise ValueError(f"crossfade_loop needs an even number (>= 2) of frames, got {frames.shape[0]}")
    loop = [w_i * frames[i] + w_j * frames[j] for (i, w_i), (j, w_j) in crossfade_schedule(frames.shape[0] // 2)]
    return torch.stack(loop)


def symmetric_schedule(loop_length: int) -> list[tuple[tuple[int, float], ...]]:
    """Which motion states make each frame of an N-frame symmetric loop (Holynski et al. 2021, Sec. 4).

    The motion sequence holds ``2N - 1`` states: ``V[t]`` for ``t = 0..N-1`` is the photo moved ``t`` steps
    forward along the motion (``V[0]`` is the photo), and ``V[N - 1 + k]`` for ``k = 1..N-1`` the photo moved
    ``k`` steps *backward* (the negated motion, integrated). Loop frame ``t`` blends the photo moved
    forward by ``t`` steps with the photo moved backward by ``N - t`` steps::

        L[t] = (1 - t / N) * V[t] + (t / N) * V[2N - 1 - t]        (L[0] = V[0], the photo)

    Both terms move the same way from frame to frame, so no frame is a fade between unrelated content,
    and the frame after the last, ``L[N]``, would be the photo moved backward by 0 steps, ``L[0]``: the
    loop closes without a seam.

    Args:
        loop_length: N, the number of frames in the loop (>= 1).

    Returns:
        For each loop frame, ``((i, w_i), (j, w_j))`` with ``w_i + w_j = 1``; frame 0 is ``((0, 1.0),)``.

    Example:
        >>> symmetric_schedule(4)
        [((0, 1.0),), ((1, 0.75), (6, 0.25)), ((2, 0.5), (5, 0.5)), ((3, 0.25), (4, 0.75))]
    """
    if loop_length < 1:
        raise ValueError(f"loop_length must be >= 1, got {loop_length}")
    schedule: list[tuple[tuple[int, float], ...]] = [((0, 1.0),)]
    for t in range(1, loop_length):
        alpha = t / loop_length
        schedule.append(((t, 1.0 - alpha), (2 * loop_length - 1 - t, alpha)))
    return schedule


def interpolate_cyclic(keyframes: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Linearly interpolate (K, D) keyframe codes into (num_frames, D) codes that cycle back to the start.

    The K keyframes are spread evenly over the cycle (keyframe ``i`` at frame ``i * num_frames / K``) and
    the last keyframe is interpolated back to the first (AL Sec. 5), so frame ``num_frames`` would equal
    frame 0 again.

    Example:
        >>> interpolate_cyclic(torch.tensor([[0.0], [1.0]]), 4).flatten()
        tensor([0.0000, 0.5000, 1.0000, 0.5000])
    """
    if keyframes.dim() != 2 or keyframes.shape[0] < 1:
        raise ValueError(f"keyframes must be (K, D) with K >= 1, got {tuple(keyframes.shape)}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    count = keyframes.shape[0]
    position = torch.arange(num_frames, dtype=torch.float64) * count / num_frames
    lower = position.floor().long()
    frac = (position - lower).to(keyframes.dtype).unsqueeze(1)
    upper = (lower + 1) % count
    return (1 - frac) * keyframes[lower % count] + frac * keyframes[upper]
