"""The phased loop with per-pixel phases and contrast-keeping fades (:mod:`cinescape.ops.phased`), as
:class:`~cinescape.methods.al.animation.Animation` renders it.

Per output frame ``t``, at working size (h, w): the two copies' per-pixel displacements and weights
(:func:`~cinescape.ops.phased.phased_copies`), their accumulated flows interpolated per pixel between the motion
states of whole steps (:func:`~cinescape.ops.phased.sample_states`) and the blend coefficients ``(a, b, m)``
(:func:`~cinescape.ops.phased.blend_coefficients`; ``m`` from the blend of the two copies of the working-size fluid
layer, its local mean). At full resolution (H, W): the two flows resized to sample maps, two bicubic remaps of the
fluid layer, ``a``, ``b`` (and ``m``) resized bilinearly, and ``a * c_0 + b * c_1 (+ m)``.
"""

from __future__ import annotations

import numpy as np
import torch

from ...ops import warp
from ...ops.phased import blend_coefficients, blend_hwc, phase_offsets, phased_copies, sample_states
from ...ops.render import flow_to_pixel_map, maps_to_hwc, remap_hwc, resize_hwc


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


class PixelPhasedLoop:
    """Two copies of the fluid layer, each pixel at its own phase of the cycle.

    Args:
        accumulated, steps: (2 * count - 1, 2, h, w) motion states as ``CinemagraphPipeline._motion_states`` returns
            them for a two-way loop (displacements 0..count-1 forward, then -1..-(count-1) backward).
        cycle: frames per cycle (:func:`~cinescape.ops.phased.phased_cycle`); ``count`` must exceed ``cycle / 2``.
        offsets: (h, w) phase offsets in cycles (:func:`~cinescape.ops.phased.phase_offsets`).
        contrast: keep the blend's contrast (:func:`~cinescape.ops.phased.contrast_preserving_blend`).
    """

    def __init__(self, accumulated: torch.Tensor, steps: torch.Tensor, cycle: float, offsets: torch.Tensor,
                 contrast: bool):
        count = (accumulated.shape[0] + 1) // 2
        if count - 1 < cycle / 2 - 1e-6:
            raise ValueError(f"{count} motion states do not reach half a cycle ({cycle / 2} steps)")
        # states ordered by displacement -(count-1) .. count-1; displacement 0 at index count - 1
        self.origin = count - 1
        self.accumulated = torch.cat((accumulated[count:].flip(0), accumulated[:count]))
        self.steps = torch.cat((steps[count:].flip(0), steps[:count]))
        self.cycle, self.offsets, self.contrast = cycle, offsets, contrast
        self._cached: tuple[int, tuple] | None = None
        self._copies: tuple[int, tuple[torch.Tensor, torch.Tensor]] | None = None

    @staticmethod
    def offsets_for(size: tuple[int, int], scale: float, spread: float, seed: int,
                    region: torch.Tensor | None) -> torch.Tensor:
        """:func:`~cinescape.ops.phased.phase_offsets` at working size ``size`` (h, w), equalised on ``region``
        ((1, 1, h, w) or None)."""
        return phase_offsets(*size, scale=scale, spread=spread, seed=seed,
                             region=None if region is None else region[0, 0])

    def copies(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(flows, weights)`` of frame ``index``: (2, 2, h, w) accumulated flows (normalised) and (2, h, w)
        weights of the two copies (the latest frame's are kept: the appearance net's working-size frame and the
        full-resolution frame ask for the same one)."""
        if self._copies is None or self._copies[0] != index:
            displacements, weights = phased_copies(index, self.cycle, self.offsets)
            flows = torch.stack([sample_states(self.accumulated, d, self.origin) for d in displacements])
            self._copies = (index, (flows, weights))
        return self._copies[1]

    def step_flow(self, index: int) -> torch.Tensor:
        """(1, 2, h, w) frame-to-frame flow of frame ``index`` (normalised): the copies' steps, weighted."""
        displacements, weights = phased_copies(index, self.cycle, self.offsets)
        return sum(w * sample_states(self.steps, d, self.origin) for d, w in zip(displacements, weights))[None]

    def blend_small(self, source: torch.Tensor, index: int) -> torch.Tensor:
        """(1, C, h, w) working-size frame ``index`` of ``source`` (1, C, h, w): the two copies warped (bilinear)
        and blended with their weights (no contrast term: this is the frame's local mean at full resolution)."""
        flows, weights = self.copies(index)
        return (weights.unsqueeze(1) * warp(source.expand(2, -1, -1, -1), flows)).sum(0, keepdim=True)

    def _coefficients(self, index: int, source_small: torch.Tensor) -> tuple:
        if self._cached is None or self._cached[0] != index:
            flows, weights = self.copies(index)
            mean, correlation = None, 0.0
            if self.contrast:
                mean = (weights.unsqueeze(1) * warp(source_small.expand(2, -1, -1, -1), flows)).sum(0)
                correlation = detail_correlation(flows[0] - flows[1])
            a, b, m = blend_coefficients(weights, mean, correlation)
            channels = source_small.shape[1]
            hwc = [None if c is None else maps_to_hwc(c.expand(channels, -1, -1)[None])[0] for c in (a, b, m)]
            self._cached = (index, (flows, *hwc))
        return self._cached[1]

    def band_inputs(self, source_small: torch.Tensor, index: int, size: tuple[int, int]
                    ) -> tuple[list[tuple[np.ndarray, None]], np.ndarray]:
        """What :func:`~cinescape.ops.render_fast.render_frame_bands` takes to render frame ``index`` at full
        resolution ``size`` (H, W) in bands: the two copies' (h, w, 2) working-size flows in full-resolution pixels
        (no scalar weights), and the (h, w, 5) float32 coefficients ``[a, b, m]`` of the blend (``m`` zero without
        the contrast term). The same frame as :meth:`render_hwc`, without full-resolution float arrays."""
        flows, a, b, m = self._coefficients(index, source_small)
        height, width = size
        scale = np.float32([width / 2.0, height / 2.0])
        copies = [(np.ascontiguousarray(flows[k].float().numpy().transpose(1, 2, 0)) * scale, None) for k in (0, 1)]
        mean = np.zeros(a.shape[:2] + (3,), np.float32) if m is None else m
        return copies, np.ascontiguousarray(np.concatenate((a[..., :1], b[..., :1], mean), axis=2), np.float32)

    def render_hwc(self, source: np.ndarray, source_small: torch.Tensor, index: int) -> np.ndarray:
        """Full-resolution frame ``index`` of ``source`` (H, W, C) float32 (``source_small``: the same at working
        size, (1, C, h, w)): two bicubic remaps, then ``a * c_0 + b * c_1 (+ m)`` with the coefficients upsampled.
        Returns a new (H, W, C) float32 array."""
        flows, a, b, m = self._coefficients(index, source_small)
        size = source.shape[:2]
        first = remap_hwc(source, flow_to_pixel_map(flows[0:1], size))
        second = remap_hwc(source, flow_to_pixel_map(flows[1:2], size))
        return blend_hwc(first, second, resize_hwc(a, size), resize_hwc(b, size),
                         None if m is None else resize_hwc(m, size))
