"""Per-pixel phased loops: the phased loop (:func:`~cinescape.ops.loop.phased_schedule`) with each pixel's phase
shifted by a smooth offset, so that no moment fades everywhere at once, and a cross-fade that keeps contrast.

The phased loop blends two copies of the photo moved along the motion, half a cycle apart; where their weights
are equal the frame is a 50/50 blend of two copies ``T/2`` steps apart, a double image that is softer than the
photo. With the same phase everywhere the whole moving region softens at once, twice per cycle (the sky
"breathes"). Here copy ``k`` of frame ``t`` at pixel ``x`` is at phase ``f = frac(t / T + k / 2 + o(x))``:

* displaced ``(f - 1/2) * T`` motion steps (fractional: the motion states of the two neighbouring whole steps
  are interpolated per pixel, :func:`sample_states`), with weight ``s(sin²(π f))``, ``s`` the smoothstep; the two
  weights sum to 1 at every pixel;
* ``o(x)`` is constant in time, so frame ``t + N`` is frame ``t`` for every ``N`` that is a whole number of cycles:
  the loop stays seamless; with ``o = 0`` this is :func:`~cinescape.ops.loop.phased_schedule` exactly.

Phase offsets shear the texture where ``o`` varies (neighbouring pixels are displaced by different numbers of
steps), so ``o`` is a low-frequency noise (:func:`phase_offsets`), equalised so that its values cover
``[0, spread)`` evenly: with ``spread = 1/2`` (the blend repeats every half cycle: the copies swap roles) every
moment of the fade is seen on an equal share of the region at every frame.

Where the two copies do overlap, :func:`contrast_gain` and :func:`contrast_preserving_blend` keep the blend's contrast: a blend
``w c_0 + (1 - w) c_1`` of two uncorrelated textures has ``sqrt(w² + (1 - w)²)`` of their standard deviation (0.71
at ``w = 1/2``), so its deviation from the local mean is rescaled by ``1 / sqrt(w² + (1 - w)²)`` (the idea of
Heitz & Neyret 2018's histogram-preserving blending, written here for two copies and a local mean).

Conventions: working-size fields are (h, w) or (C, h, w) tensors; phases in cycles (``[0, 1)``); displacements in
motion steps (frames of motion, negative = backward); full-resolution images are (H, W, 3) float32 arrays as in
:mod:`cinescape.ops.render`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

__all__ = ["phased_cycle", "phase_weight", "phase_offsets", "phased_copies", "sample_states", "contrast_gain",
           "contrast_preserving_blend", "blend_coefficients", "blend_hwc"]


def phased_cycle(num_frames: int, period: float) -> float:
    """The cycle a phased loop of ``num_frames`` frames uses for a requested ``period``: ``N / max(1, round(N /
    period))``, so that a whole number of cycles fills the loop (frame N is frame 0 again).

    Example:
        >>> phased_cycle(60, 20), phased_cycle(101, 20)
        (20.0, 20.2)
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not period > 0:
        raise ValueError(f"period must be > 0, got {period}")
    return num_frames / max(1, round(num_frames / period))


def phase_weight(phase):
    """The weight of a copy at ``phase`` (cycles; float or tensor): ``s(sin²(π f))`` with ``s(x) = 3x² - 2x³``.
    0 at the ends of the copy's path (``f = 0``), 1 in its middle (``f = 1/2``); ``phase_weight(f) + phase_weight(f
    + 1/2) = 1`` (``s(x) + s(1 - x) = 1``).

    Example:
        >>> [round(phase_weight(f), 4) for f in (0.0, 0.15, 0.25, 0.5)]
        [0.0, 0.1099, 0.5, 1.0]
    """
    x = torch.sin(math.pi * phase) ** 2 if isinstance(phase, torch.Tensor) else math.sin(math.pi * phase) ** 2
    return x * x * (3.0 - 2.0 * x)


def phase_offsets(height: int, width: int, *, scale: float, spread: float, seed: int = 0,
                  region: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth per-pixel phase offsets ``o`` (h, w) float32 in ``[0, spread)``, cycles.

    White noise (seeded) blurred by a Gaussian of sigma ``scale * min(h, w)`` pixels, then mapped through its own
    empirical distribution (over ``region`` > 0.5, (h, w); everywhere when None or empty) onto ``[0, spread)``:
    a monotone map, so ``o`` stays as smooth as the noise, and its values cover the range evenly on the region.
    The offset of a pixel only matters modulo a cycle, and the blend of a phased loop repeats every half cycle.

    Args:
        height, width: size of the field (working size).
        scale: noise sigma as a fraction of the short side (> 0): larger = fewer, broader patches of equal phase,
            and less shear of the texture.
        spread: range of the offsets in cycles, 0..1 (0: all zero, the plain phased loop).
        seed: seeds the noise.
        region: optional (h, w) weights; the equalisation counts only pixels where it is > 0.5.

    Example:
        >>> o = phase_offsets(32, 48, scale=0.2, spread=0.5)
        >>> o.shape, bool(o.min() >= 0), bool(o.max() < 0.5)
        (torch.Size([32, 48]), True, True)
        >>> float(phase_offsets(8, 8, scale=0.2, spread=0.0).abs().max())
        0.0
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be > 0, got {scale}")
    if not (math.isfinite(spread) and 0 <= spread <= 1):
        raise ValueError(f"spread must be between 0 and 1, got {spread}")
    if spread == 0:
        return torch.zeros(height, width)
    noise = np.random.default_rng(seed).standard_normal((height, width))
    sigma = max(scale * min(height, width), 0.5)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    values = smooth.ravel()
    counted = values
    if region is not None:
        inside = (np.asarray(region, np.float32) > 0.5).ravel()
        if inside.sum() >= 2:
            counted = values[inside]
    ordered = np.sort(counted)
    # the empirical distribution (mid-ranks), linear between the sorted values: continuous in the noise
    ranks = (np.arange(ordered.size) + 0.5) / ordered.size
    uniform = np.interp(values, ordered, ranks)
    offsets = np.minimum(spread * uniform, np.nextafter(spread, 0.0))
    return torch.from_numpy(offsets.reshape(height, width).astype(np.float32))


def phased_copies(t: float, cycle: float, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel displacements and weights of the two copies of frame ``t`` of a phased loop with phase offsets.

    Copy ``k`` (0, 1) at pixel x is at phase ``f = frac(t / cycle + k / 2 + o(x))``, displaced ``(f - 1/2) *
    cycle`` steps with weight :func:`phase_weight` ``(f)``; the weights sum to 1 at every pixel. ``offsets`` = 0
    gives :func:`~cinescape.ops.loop.phased_schedule`'s copies (same order, same values).

    Args:
        t: frame index (may be fractional).
        cycle: cycle length in frames (:func:`phased_cycle`).
        offsets: (h, w) phase offsets in cycles (:func:`phase_offsets`).

    Returns:
        ``(displacements, weights)``, each (2, h, w) float32; displacements in ``[-cycle/2, cycle/2)`` steps.

    Example:
        >>> d, w = phased_copies(5, 20, torch.tensor([[0.0, 0.25]]))
        >>> d.tolist(), w.tolist()
        ([[[-5.0, 0.0]], [[5.0, -10.0]]], [[[0.5, 1.0]], [[0.5, 0.0]]])
    """
    base = torch.as_tensor(offsets, dtype=torch.float64)
    phases = torch.stack([torch.remainder(t / cycle + k / 2 + base, 1.0) for k in (0, 1)])
    displacements = (phases - 0.5) * cycle
    return displacements.float(), phase_weight(phases).float()


def sample_states(states: torch.Tensor, displacements: torch.Tensor, origin: int) -> torch.Tensor:
    """Per-pixel linear interpolation between motion states at whole displacements.

    Args:
        states: (S, C, h, w): state ``i`` is the one at displacement ``i - origin`` steps (e.g. accumulated
            flows of the photo moved ``-origin .. S - 1 - origin`` steps).
        displacements: (h, w) fractional displacements in steps; clamped to the states' range.
        origin: index of displacement 0 in ``states``.

    Returns:
        (C, h, w): at each pixel, ``(1 - a) * states[i] + a * states[i + 1]`` with ``i + a = displacement + origin``.

    Example:
        >>> states = torch.arange(-2.0, 3.0).view(5, 1, 1, 1).expand(5, 1, 1, 2)   # state i holds i - 2
        >>> sample_states(states, torch.tensor([[-1.25, 0.5]]), origin=2).tolist()
        [[[-1.25, 0.5]]]
    """
    count = states.shape[0]
    if count == 1:
        return states[0].clone()
    # Flat indices into the (S, C*h*w) states, read with numpy's fancy indexing: 2-3x faster on CPU than
    # torch.gather with an index expanded over the channels, the same values.
    values = states.detach().contiguous().numpy()
    plane = values[0].size
    position = np.clip(displacements.detach().numpy().astype(values.dtype) + origin, 0, count - 1)
    low = np.minimum(np.floor(position), count - 2)
    frac = position - low
    index = low.astype(np.int64) * plane + np.arange(plane).reshape(values.shape[1:])   # (C, h, w): state low
    flat = values.reshape(-1)
    lower, upper = flat[index], flat[index + plane]
    return torch.from_numpy(lower + frac * (upper - lower))


def contrast_gain(weights: torch.Tensor, correlation: torch.Tensor | float = 0.0) -> torch.Tensor:
    """How much a blend of K textures of equal variance must be stretched about its mean to keep their standard
    deviation: ``1 / sqrt((1 - ρ) sum_k w_k² + ρ (sum_k w_k)²)`` over the first axis of (K, ...) blend weights,
    ``ρ`` (``correlation``, in [0, 1], float or broadcastable tensor) the copies' pairwise correlation. With
    uncorrelated copies (ρ = 0) and weights summing to 1: 1 where one copy has all the weight, sqrt(2) for two at
    1/2; identical copies (ρ = 1) lose nothing in a blend: 1.

    Example:
        >>> contrast_gain(torch.tensor([[1.0, 0.5], [0.0, 0.5]])).tolist()
        [1.0, 1.4142135381698608]
        >>> contrast_gain(torch.tensor([[0.5], [0.5]]), correlation=1.0).tolist()
        [1.0]
    """
    squares = (weights * weights).sum(0)
    total = weights.sum(0)
    return torch.rsqrt(((1 - correlation) * squares + correlation * total * total).clamp_min(1e-12))


def contrast_preserving_blend(copies: torch.Tensor, weights: torch.Tensor, mean: torch.Tensor,
                              correlation: torch.Tensor | float = 0.0) -> torch.Tensor:
    """``mean + contrast_gain(w, ρ) * (sum_k w_k c_k - mean)``: a weighted blend whose deviation from the local
    ``mean`` keeps the copies' contrast (:func:`contrast_gain`).

    Args:
        copies: (K, C, h, w) images; weights: (K, h, w) or (K, 1, h, w), summing to 1 over K; mean: (C, h, w)
            the local mean of the blend (e.g. a low-pass of it), broadcastable; correlation: the copies' pairwise
            correlation about that mean (0: independent; 1: the same image), float or broadcastable tensor.

    Returns:
        (C, h, w).

    Example:
        >>> c = torch.tensor([[[[1.0, -1.0]]], [[[-1.0, 1.0]]]])           # two copies, out of phase
        >>> contrast_preserving_blend(c, torch.full((2, 1, 2), 0.5), torch.zeros(1, 1, 2)).tolist()
        [[[0.0, 0.0]]]
    """
    if weights.dim() == copies.dim() - 1:
        weights = weights.unsqueeze(1)
    blend = (weights * copies).sum(0)
    return mean + contrast_gain(weights, correlation) * (blend - mean)


def blend_coefficients(weights: torch.Tensor, mean: torch.Tensor | None = None,
                       correlation: torch.Tensor | float = 0.0
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per-pixel coefficients ``(a, b, m)`` of a two-copy blend ``a * c_0 + b * c_1 + m`` (:func:`blend_hwc`),
    computed at working size so that the full-resolution frame needs only their bilinear upsampling.

    Without ``mean``: the plain blend, ``a = w_0``, ``b = w_1``, ``m = None``. With the blend's local ``mean``
    (C, h, w): :func:`contrast_preserving_blend` rewritten as ``g w_0 c_0 + g w_1 c_1 + (1 - g) mean`` with ``g =``
    :func:`contrast_gain`.

    Args:
        weights: (2, h, w) weights of the two copies (summing to 1).
        mean: optional (C, h, w) local mean of the blend.
        correlation: the copies' correlation (:func:`contrast_gain`), float or (h, w) tensor.

    Returns:
        ``a``, ``b``: (1, h, w); ``m``: (C, h, w) or None.

    Example:
        >>> a, b, m = blend_coefficients(torch.full((2, 1, 1), 0.5), torch.ones(3, 1, 1))
        >>> round(float(a), 4), round(float(b), 4), [round(v, 4) for v in m.flatten().tolist()]
        (0.7071, 0.7071, [-0.4142, -0.4142, -0.4142])
    """
    first, second = weights[0:1], weights[1:2]
    if mean is None:
        return first, second, None
    gain = contrast_gain(weights, correlation).unsqueeze(0)
    return gain * first, gain * second, (1.0 - gain) * mean


def blend_hwc(first: np.ndarray, second: np.ndarray, a: np.ndarray, b: np.ndarray,
              m: np.ndarray | None = None) -> np.ndarray:
    """The full-resolution blend of two copies, ``a * first + b * second (+ m)``, with the (H, W, C) float32
    coefficients of :func:`blend_coefficients` upsampled to the copies' size; ``first`` and ``second`` are
    overwritten (the result is in ``first``).

    Example:
        >>> one, two = np.full((1, 2, 3), 2.0, np.float32), np.zeros((1, 2, 3), np.float32)
        >>> quarter = np.full((1, 2, 3), 0.25, np.float32)
        >>> blend_hwc(one, two, quarter, 1 - quarter)[0, :, 0].tolist()
        [0.5, 0.5]
    """
    cv2.multiply(first, a, dst=first)
    cv2.multiply(second, b, dst=second)
    cv2.add(first, second, dst=first)
    if m is not None:
        cv2.add(first, m, dst=first)
    return first
