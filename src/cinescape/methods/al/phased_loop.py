"""The phased loop with per-pixel phases and contrast-keeping fades (:mod:`cinescape.ops.phased`), as
:class:`~cinescape.methods.al.animation.Animation` renders it.

Per output frame ``t``, at working size (h, w): the two copies' per-pixel displacements and weights
(:func:`~cinescape.ops.phased.phased_copies`), their accumulated flows interpolated per pixel between the motion
states of whole steps (:func:`~cinescape.ops.phased.sample_states`) and the blend coefficients ``(a, b, m)``
(:func:`~cinescape.ops.phased.blend_coefficients`; ``m`` from the blend of the two copies of the working-size fluid
layer, its local mean). At full resolution (H, W): the two flows resized to sample maps, two bicubic remaps of the
fluid layer, ``a``, ``b`` (and ``m``) resized bilinearly, and ``a * c_0 + b * c_1 (+ m)``; then, once the loop
is calibrated on the photo (:meth:`PixelPhasedLoop.calibrate`), the blend sharpened along x and y by what the two
bicubic samplings took from it (:mod:`cinescape.ops.resample`; strengths ``s_x``, ``s_y`` from each copy's
sub-pixel offset, working-size fields like ``a`` and ``b``).
"""

from __future__ import annotations

import numpy as np
import torch

from ...ops import warp
from ...ops.phased import blend_coefficients, blend_hwc, phase_offsets, phased_copies, sample_states
from ...ops.render import flow_to_pixel_map, maps_to_hwc, remap_hwc, resize_hwc
from ...ops.resample import MEAN_STRENGTH, calibrate_sharpening, sharpen_axes, sharpening_strength


#: Correlation length, in working-size pixels, of the detail the contrast term restores (what the working-size
#: frame, the local mean, lacks: wavelengths below about two working-size pixels).
DETAIL_CORRELATION_LENGTH = 0.5


def detail_correlation(offset: torch.Tensor, length: float = DETAIL_CORRELATION_LENGTH) -> torch.Tensor:
    """(h, w) correlation of the two copies' fine detail from their (2, h, w) normalised offset (the difference of
    their flows): ``exp(-d² / (2 length²))``, ``d`` the offset in working-size pixels. Copies a fraction of a
    pixel apart (slow motion) are nearly the same image, and a blend of them loses no contrast: without this the
    contrast gain would boost their detail by up to sqrt(2) at every fade.

    Example:
        >>> detail_correlation(torch.zeros(2, 1, 4))[0].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    height, width = offset.shape[-2:]
    dx, dy = offset[0] * (width / 2.0), offset[1] * (height / 2.0)
    return torch.exp(-(dx * dx + dy * dy) / (2.0 * length * length))


#: Change of a copy's offset (full-resolution pixels) per working-size pixel at which its fractional part is taken
#: as unknown: a working-size field cannot follow it, so the strength there is the average over offsets (linear in
#: between, from the offset's own strength at no change).
OFFSET_RATE_LIMIT = 0.5


def resampling_strengths(flows: torch.Tensor, weights: torch.Tensor, size: tuple[int, int],
                         scales: tuple[float, float]) -> np.ndarray:
    """(h, w, 2) float32 per-axis sharpening strengths ``[s_x, s_y]`` (:func:`~cinescape.ops.resample.sharpen_axes`)
    that undo what sampling the two copies bicubically took from their blend.

    Per copy and axis the strength of its offset's fractional part (:func:`~cinescape.ops.resample.
    sharpening_strength`; the offset is its flow in pixels of the full-resolution ``size`` (H, W): the pixel grid is
    whole), moved toward the average strength where the offset changes by up to :data:`OFFSET_RATE_LIMIT` pixels
    or more per working-size pixel (a working-size field cannot follow its fractional part there); the copies
    combined by their weights squared (their detail adds in power), times the photo's per-axis ``scales``
    (:func:`~cinescape.ops.resample.calibrate_sharpening`).

    Args:
        flows: (2, 2, h, w) the copies' normalised flows; weights: (2, h, w) their weights; size: (H, W).

    Example:
        >>> flows = torch.zeros(2, 2, 4, 4); flows[:, 0] = 0.5 * 2 / 8      # half a pixel along x at W = 8
        >>> s = resampling_strengths(flows, torch.full((2, 4, 4), 0.5), (8, 8), (1.0, 1.0))
        >>> round(float(s[0, 0, 0]), 2), round(float(s[0, 0, 1]), 2)
        (0.49, 0.0)
    """
    height, width = size
    offsets = flows.float().numpy() * np.float32([width / 2.0, height / 2.0]).reshape(1, 2, 1, 1)
    strength = sharpening_strength(offsets)                               # (copy, axis, h, w)
    rate = np.zeros_like(offsets)           # |change| per working-size pixel, forward differences, both ways
    change = np.abs(np.diff(offsets, axis=3))
    rate[..., :-1] += change
    rate[..., -1] += change[..., -1]
    change = np.abs(np.diff(offsets, axis=2))
    rate[..., :-1, :] += change
    rate[..., -1, :] += change[..., -1, :]
    known = np.clip(1.0 - rate / np.float32(OFFSET_RATE_LIMIT), 0.0, 1.0)
    strength = MEAN_STRENGTH + known * (strength - np.float32(MEAN_STRENGTH))
    powers = (weights.float() * weights.float()).numpy()[:, None]         # (copy, 1, h, w)
    combined = (powers * strength).sum(0) / np.maximum(powers.sum(0), np.float32(1e-12))
    combined *= np.float32(scales).reshape(2, 1, 1)
    return np.ascontiguousarray(combined.transpose(1, 2, 0), np.float32)


class PixelPhasedLoop:
    """Two copies of the fluid layer, each pixel at its own phase of the cycle.

    Args:
        accumulated, steps: (2 * count - 1, 2, h, w) motion states as ``CinemagraphPipeline._motion_states`` returns
            them for a two-way loop (displacements 0..count-1 forward, then -1..-(count-1) backward).
        cycle: frames per cycle (:func:`~cinescape.ops.phased.phased_cycle`); ``count`` must exceed ``cycle / 2``.
        offsets: (h, w) phase offsets in cycles (:func:`~cinescape.ops.phased.phase_offsets`).
        contrast: keep the blend's contrast (:func:`~cinescape.ops.phased.contrast_preserving_blend`).

        sharpen: undo the bicubic sampling's softening; it starts once :meth:`calibrate` has measured the photo
            (``sharpening``: its per-axis scales; None until then, and no sharpening).
        keep_cycle: keep a whole cycle of per-frame inputs when the cycle is a whole number of frames (frames a
            cycle apart share them, :meth:`phase_key`); False: only the last few (a big photo, where memory binds).
    """

    def __init__(self, accumulated: torch.Tensor, steps: torch.Tensor, cycle: float, offsets: torch.Tensor,
                 contrast: bool, sharpen: bool = False, *, keep_cycle: bool = True):
        count = (accumulated.shape[0] + 1) // 2
        if count - 1 < cycle / 2 - 1e-6:
            raise ValueError(f"{count} motion states do not reach half a cycle ({cycle / 2} steps)")
        # states ordered by displacement -(count-1) .. count-1; displacement 0 at index count - 1
        self.origin = count - 1
        self.accumulated = torch.cat((accumulated[count:].flip(0), accumulated[:count]))
        self.steps = torch.cat((steps[count:].flip(0), steps[:count]))
        self.cycle, self.offsets, self.contrast = cycle, offsets, contrast
        self.sharpen = sharpen
        self.sharpening: tuple[float, float] | None = None
        # Per frame (its phase key, :meth:`phase_key`): the copies, the working-size blend of the last source and
        # the blend coefficients. The appearance net asks for the next MAP_BATCH frames' blends ahead of the
        # full-resolution frames, so a few are kept; when the cycle is a whole number of frames, frames a cycle
        # apart are the same and a whole cycle is kept (about 2.5 MB a frame at 144x256: 50 MB for 20 frames).
        self._frames: dict[int | float, dict] = {}
        whole = keep_cycle and float(cycle).is_integer() and cycle <= self.MAX_CACHED_CYCLE
        self._capacity = max(self.CACHED_FRAMES, int(cycle) if whole else 0)
        self._period = int(cycle) if whole else None

    @staticmethod
    def offsets_for(size: tuple[int, int], scale: float, spread: float, seed: int,
                    region: torch.Tensor | None) -> torch.Tensor:
        """:func:`~cinescape.ops.phased.phase_offsets` at working size ``size`` (h, w), equalised on ``region``
        ((1, 1, h, w) or None)."""
        return phase_offsets(*size, scale=scale, spread=spread, seed=seed,
                             region=None if region is None else region[0, 0])

    def calibrate(self, image: np.ndarray, region: np.ndarray | None) -> None:
        """Turn on the resampling sharpening, scaled to ``image`` (H, W, 3) (the fluid layer or photo) on
        ``region`` ((H, W) fluid alpha, None = everywhere): :func:`~cinescape.ops.resample.calibrate_sharpening`."""
        self.sharpening = calibrate_sharpening(image, region)

    #: Frames whose copies and working-size blend stay cached (the appearance net predicts 4 ahead: MAP_BATCH).
    CACHED_FRAMES = 8
    #: The longest whole-frame cycle kept whole (frames a cycle apart share their entry).
    MAX_CACHED_CYCLE = 32
    #: Output frames up to this size keep a cycle (``keep_cycle``, the engine's choice): above it a frame's
    #: full-resolution work dwarfs the ~15 ms of working-size inputs a kept entry saves, and memory binds.
    KEEP_CYCLE_MAX_PIXELS = 4_000_000

    def phase_key(self, index: int) -> int | float:
        """What identifies frame ``index``'s copies: ``index`` modulo the cycle when the cycle is a whole number of
        frames (the phases of frames a cycle apart are the same; e.g. the default 60 frames, 3 cycles of 20),
        else ``index``.

        Example:
            >>> loop = PixelPhasedLoop(torch.zeros(11, 2, 2, 2), torch.zeros(11, 2, 2, 2), 10.0, torch.zeros(2, 2),
            ...                        contrast=False)
            >>> loop.phase_key(3), loop.phase_key(23)
            (3, 3)
        """
        return index % self._period if self._period is not None and float(index).is_integer() else index

    def release(self) -> None:
        """Drop the per-frame cache (made again on demand; a kept plan need not hold it between renders)."""
        self._frames.clear()

    def _frame(self, index: int) -> dict:
        """The cache entry of frame ``index`` (made on first use; the oldest entries dropped)."""
        key = self.phase_key(index)
        if key not in self._frames:
            while len(self._frames) >= self._capacity:
                self._frames.pop(next(iter(self._frames)))
            displacements, weights = phased_copies(key, self.cycle, self.offsets)
            flows = torch.stack([sample_states(self.accumulated, d, self.origin) for d in displacements])
            self._frames[key] = {"copies": (flows, weights)}
        return self._frames[key]

    def copies(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(flows, weights)`` of frame ``index``: (2, 2, h, w) accumulated flows (normalised) and (2, h, w)
        weights of the two copies (cached for the last few frames: the appearance net's working-size frames and
        the full-resolution frames ask for the same ones)."""
        return self._frame(index)["copies"]

    def step_flow(self, index: int) -> torch.Tensor:
        """(1, 2, h, w) frame-to-frame flow of frame ``index`` (normalised): the copies' steps, weighted."""
        displacements, weights = phased_copies(index, self.cycle, self.offsets)
        return sum(w * sample_states(self.steps, d, self.origin) for d, w in zip(displacements, weights))[None]

    def blend_small(self, source: torch.Tensor, index: int) -> torch.Tensor:
        """(1, C, h, w) working-size frame ``index`` of ``source`` (1, C, h, w): the two copies warped (bilinear)
        and blended with their weights (no contrast term: this is the frame's local mean at full resolution)."""
        entry = self._frame(index)
        if entry.get("source") is not source:    # cached for one source: the appearance net's and the contrast's
            flows, weights = entry["copies"]
            entry["blend"] = (weights.unsqueeze(1) * warp(source.expand(2, -1, -1, -1), flows)).sum(0, keepdim=True)
            entry["source"] = source
        return entry["blend"]

    def _coefficients(self, index: int, source_small: torch.Tensor, size: tuple[int, int], keep: bool = True
                      ) -> tuple:
        """``(flows, a, b, m, strengths)`` of frame ``index`` at full resolution ``size`` (kept in the frame's cache
        entry unless ``keep`` is False)."""
        entry = self._frame(index)
        if entry.get("coefficients", (None,))[0] != (size, self.sharpening):
            flows, weights = entry["copies"]
            mean, correlation = None, 0.0
            if self.contrast:
                mean = self.blend_small(source_small, index)[0]
                correlation = detail_correlation(flows[0] - flows[1])
            a, b, m = blend_coefficients(weights, mean, correlation)
            channels = source_small.shape[1]
            hwc = [None if c is None else maps_to_hwc(c.expand(channels, -1, -1)[None])[0] for c in (a, b, m)]
            strengths = (None if self.sharpening is None else
                         resampling_strengths(flows, weights, size, self.sharpening))
            if not keep:
                return (flows, *hwc, strengths)
            entry["coefficients"] = ((size, self.sharpening), (flows, *hwc, strengths))
        return entry["coefficients"][1]

    def band_inputs(self, source_small: torch.Tensor, index: int, size: tuple[int, int]
                    ) -> tuple[list[tuple[np.ndarray, None]], np.ndarray]:
        """What :func:`~cinescape.ops.render_fast.render_frame_bands` takes to render frame ``index`` at full
        resolution ``size`` (H, W) in bands: the two copies' (h, w, 2) working-size flows in full-resolution pixels
        (no scalar weights), and the (h, w, 5) float32 coefficients ``[a, b, m]`` of the blend (``m`` zero without
        the contrast term), (h, w, 7) ``[a, b, m, s_x, s_y]`` once calibrated (:meth:`calibrate`). The same frame
        as :meth:`render_hwc`, without full-resolution float arrays. Kept with the frame's copies (read-only: frames
        a cycle apart share them)."""
        entry = self._frame(index)
        if entry.get("bands", (None,))[0] != (size, self.sharpening):
            flows, a, b, m, strengths = self._coefficients(index, source_small, size, keep=False)
            height, width = size
            scale = np.float32([width / 2.0, height / 2.0])
            copies = [(np.ascontiguousarray(flows[k].float().numpy().transpose(1, 2, 0)) * scale, None)
                      for k in (0, 1)]
            mean = np.zeros(a.shape[:2] + (3,), np.float32) if m is None else m
            fields = (a[..., :1], b[..., :1], mean) + (() if strengths is None else (strengths,))
            fields = np.ascontiguousarray(np.concatenate(fields, axis=2), np.float32)
            for array in [flow for flow, _ in copies] + [fields]:
                array.flags.writeable = False
            entry["bands"] = ((size, self.sharpening), (copies, fields))
        return entry["bands"][1]

    def render_hwc(self, source: np.ndarray, source_small: torch.Tensor, index: int) -> np.ndarray:
        """Full-resolution frame ``index`` of ``source`` (H, W, C) float32 (``source_small``: the same at working
        size, (1, C, h, w)): two bicubic remaps, then ``a * c_0 + b * c_1 (+ m)`` with the coefficients upsampled,
        sharpened along x and y once calibrated. Returns a new (H, W, C) float32 array."""
        size = source.shape[:2]
        flows, a, b, m, strengths = self._coefficients(index, source_small, size)
        first = remap_hwc(source, flow_to_pixel_map(flows[0:1], size))
        second = remap_hwc(source, flow_to_pixel_map(flows[1:2], size))
        frame = blend_hwc(first, second, resize_hwc(a, size), resize_hwc(b, size),
                          None if m is None else resize_hwc(m, size))
        if strengths is None:
            return frame
        strengths = resize_hwc(strengths, size)
        return sharpen_axes(frame, strengths[..., :1], strengths[..., 1:2])
