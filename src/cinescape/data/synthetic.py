"""Procedural landscape time-lapses with exact ground-truth flow.

A seeded generator of small "time-lapse" clips: a sky with drifting clouds, static mountains and
hills, an optional lake that mirrors the sky, and an optional day -> sunset -> night -> dawn colour
cycle. The cloud motion is a known translation of a texture on a sky plane, so the backward flow
between consecutive frames is known analytically. The clips test and pre-train the motion
predictor; frame 0 is the README demo photo (``examples/synthetic_landscape.png`` is
``generate_landscape_photo(288, 512, seed=9)``).

Example:
    >>> clip = generate_timelapse(8, 48, 64, seed=0, day_cycle=False)
    >>> tuple(clip.frames.shape), tuple(clip.flows.shape), tuple(clip.masks.shape)
    ((8, 3, 48, 64), (8, 2, 48, 64), (8, 1, 48, 64))

Speed: about 0.5 s for 64 frames of 256x256 on one CPU thread. Tensors are small, so on a busy
machine ``torch.set_num_threads(1)`` can be much faster than the default.

Conventions (those of :mod:`cinescape.ops.warp`):

* ``frames``: (T, 3, H, W) float32 in [-1, 1].
* ``flows``: (T, 2, H, W) float32 **backward** flows in **normalised units** (one pixel is 2/W in x,
  2/H in y; channel 0 = x, channel 1 = y): ``frames[t] ≈ warp(frames[t - 1], flows[t])`` on the
  moving pixels when the colours are fixed (``day_cycle=False``), up to bilinear resampling and the
  static sky gradient and sun glow, which do not move with the clouds (mean residual ~0.001-0.005
  on ``valid`` pixels). ``flows[0]`` is zero; ``flows[t]`` is the same field for every ``t >= 1``
  (the wind is constant). Flows are exactly zero where ``masks`` is 0.
* ``masks``: (T, 1, H, W) float32, 1 on moving materials (sky not fully hidden by terrain, and
  water), 0 on static terrain, whose pixels are bit-identical across frames when the colours are
  fixed.
* ``valid``: (T, 1, H, W) float32, the mask pixels whose flow can explain them (an occlusion map).
* Pixel positions are continuous, in pixels: the image spans [0, W] x [0, H], pixel centres are at
  ``i + 0.5``, y grows downward.

Geometry. The camera looks horizontally; the horizon is the boundary between pixel rows ``h0 - 1``
and ``h0``. Clouds are a fractal value-noise density on a horizontal plane above the camera. A sky
pixel at height ``v`` (units of H) above the plane's vanishing line and at horizontal offset ``x_n``
(units of H) from the image centre sees the plane point

    X = x_n / v,    Z = f / v        (f: focal length in units of H)

so distant clouds (small ``v``) are smaller and move fewer pixels per frame. The vanishing line is
put below the visible horizon (as the Earth's curvature does), which keeps the depth finite on every
visible row. Frame ``t`` shows the texture at ``(X - t*dX, Z - t*dZ)``, so the content of pixel ``p``
in frame ``t`` was, in frame ``t - 1``, at the projection of ``(X - dX, Z - dZ)``; that projection
minus ``p`` is the flow.

Far clouds must lose detail or they alias. A per-pixel low-pass would not move with the clouds (and
then the flow would not explain the frames), so each octave's weight is a function of the *texture*
depth coordinate instead, i.e. it travels with the clouds; it is made conservative over the whole
clip (see :func:`_cloud_layers`).

The lake (below the horizon) shows the upper image mirrored about the horizon line; its flow is the
flow of the mirrored pixel with the y component negated, so it is exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import torch

from cinescape.ops.warp import flow_pixels_to_normalized, warp

__all__ = [
    "SyntheticClip",
    "TIMES_OF_DAY",
    "generate_timelapse",
    "generate_landscape_photo",
    "synthetic_motion_clips",
]

# Phase of the day cycle in [0, 1); a clip runs through one full cycle by default.
TIMES_OF_DAY = {"day": 0.0, "sunset": 0.25, "night": 0.5, "dawn": 0.8}

# Focal length of the virtual camera, in units of the image width (about a 60 degree horizontal FOV).
_FOCAL_PER_WIDTH = 0.87
# Vanishing line of the cloud plane below the visible horizon, in units of H.
_VANISH_BELOW_HORIZON = 0.12
# ``cloud_speed`` is in pixels per frame at this width (and scales with the real width).
_REFERENCE_WIDTH = 128
# Band limit of the cloud texture in cycles per pixel; each octave fades out between
# _FADE_START * limit and the limit.
_MAX_CYCLES_PER_PX = 0.25
_FADE_START = 0.35
# Standard deviation of one octave of _lattice_noise (uniform lattice in [-1, 1], smoothstep weights).
_OCTAVE_STD = 0.43
# The cloud texture is stretched along the depth axis by 1 / this, so that foreshortening (which
# flattens the plane vertically by about f / v) leaves clouds looking rounder rather than flat streaks.
_CLOUD_DEPTH_SCALE = 0.45


@dataclass
class SyntheticClip:
    """One synthetic time-lapse (see the module docstring for conventions).

    Attributes:
        frames: (T, 3, H, W) float32 in [-1, 1].
        flows: (T, 2, H, W) float32 normalised backward flows, ``flows[0] == 0``.
        masks: (T, 1, H, W) float32 in {0, 1}; 1 on sky and water.
        horizon: horizon row as a fraction of H (rows above it are sky and mountains).
        valid: (T, 1, H, W) float32 in {0, 1}: mask pixels whose flow can explain them. 0 on
            anti-aliased terrain edges, where clouds enter through the image border or come out from
            behind terrain, and everywhere in frame 0. Static pixels inside the mask (the lake
            mirroring a mountain) are valid.
        time_of_day: (T,) float32 day-cycle phase of each frame (0 day, 0.25 sunset, 0.5 night,
            0.8 dawn).
        params: the scene parameters that were drawn or given (``cloud_speed`` in pixels per frame
            at this clip's width, ``wind_direction`` in degrees).
    """

    frames: torch.Tensor
    flows: torch.Tensor
    masks: torch.Tensor
    horizon: float
    valid: torch.Tensor | None = None
    time_of_day: torch.Tensor | None = None
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- noise


def _smoothstep(edge0: float, edge1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lattice_noise(lattice: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Periodic 2-D value noise in [-1, 1]: smooth (C1) interpolation of a (P, P) random lattice.

    ``x`` and ``y`` are in lattice cells. P must be a power of two, so indices wrap with a bit mask
    (which also handles negative coordinates).
    """
    period = lattice.shape[-1]
    wrap = period - 1
    x0 = torch.floor(x)
    y0 = torch.floor(y)
    fx = x - x0
    fy = y - y0
    fx = fx * fx * (3.0 - 2.0 * fx)
    fy = fy * fy * (3.0 - 2.0 * fy)
    ix = x0.to(torch.int64) & wrap
    iy = y0.to(torch.int64) & wrap
    ix1 = (ix + 1) & wrap
    row0 = iy * period
    row1 = ((iy + 1) & wrap) * period
    flat = lattice.reshape(-1)
    top = torch.lerp(flat[row0 + ix], flat[row0 + ix1], fx)
    bottom = torch.lerp(flat[row1 + ix], flat[row1 + ix1], fx)
    return torch.lerp(top, bottom, fy)


class _Fbm2D:
    """Fractal sum of value-noise octaves, each rotated by a random angle to hide the lattice axes.

    Octave ``k`` has frequency ``base_freq * 2**k`` (cycles per coordinate unit) and amplitude
    ``gain**k``.
    """

    def __init__(self, rng: np.random.Generator, octaves: int, base_freq: float, gain: float = 0.5, period: int = 64):
        self.octaves = octaves
        self.freqs = [base_freq * 2.0**k for k in range(octaves)]
        self.amps = [gain**k for k in range(octaves)]
        self.lattices = torch.from_numpy(rng.uniform(-1.0, 1.0, (octaves, period, period)).astype(np.float32))
        angles = rng.uniform(0.0, 2.0 * math.pi, octaves)
        self.rot = [(math.cos(a), math.sin(a)) for a in angles]
        self.offsets = rng.uniform(0.0, period, (octaves, 2)).tolist()

    def shift(self, k: int, dx: float, dy: float) -> tuple[float, float]:
        """Lattice-coordinate displacement of octave ``k`` for a displacement (dx, dy)."""
        c, s = self.rot[k]
        f = self.freqs[k]
        return f * (c * dx - s * dy), f * (s * dx + c * dy)

    def coords(self, k: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lattice coordinates of octave ``k`` at (x, y)."""
        sx, sy = self.shift(k, 1.0, 0.0)
        tx, ty = self.shift(k, 0.0, 1.0)
        ox, oy = self.offsets[k]
        return sx * x + tx * y + ox, sy * x + ty * y + oy

    def octave(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _lattice_noise(self.lattices[k], *self.coords(k, x, y))

    def __call__(self, x: torch.Tensor, y: torch.Tensor, octaves: int | None = None) -> torch.Tensor:
        """fBm with its amplitudes summing to 1 (so values stay in [-1, 1])."""
        octaves = self.octaves if octaves is None else octaves
        total = sum(self.amps[k] * self.octave(k, x, y) for k in range(octaves))
        return total / sum(self.amps[:octaves])


def _fbm_1d(rng: np.random.Generator, x: np.ndarray, octaves: int, base_freq: float, ridged: bool = False) -> np.ndarray:
    """1-D fBm in [0, 1] at positions ``x`` (ridged: sharp crests, for mountains)."""
    total = np.zeros_like(x)
    norm = 0.0
    for k in range(octaves):
        values = rng.uniform(-1.0, 1.0, 256)
        pos = x * base_freq * 2.0**k + rng.uniform(0.0, 256.0)
        i0 = np.floor(pos)
        f = pos - i0
        f = f * f * (3.0 - 2.0 * f)
        i0 = i0.astype(np.int64) % 256
        n = values[i0] * (1.0 - f) + values[(i0 + 1) % 256] * f
        n = (1.0 - np.abs(n)) ** 2 if ridged else 0.5 * (n + 1.0)
        amp = 0.5**k
        total += amp * n
        norm += amp
    return total / norm


# ------------------------------------------------------------------------------------------- palette

# Key colours of the day cycle (RGB in [0, 1]); the phase wraps at 1. zenith / horizon: sky gradient;
# glow: sun glow near the horizon; lit / shadow: cloud colours; light: multiplier of terrain albedo;
# water: colour of deep water; glow strength: how strong the sun glow is.
_PALETTE_KEYS = [
    # phase  zenith              horizon             glow                lit                 shadow              light               water               glow strength
    (0.00, (0.24, 0.44, 0.78), (0.74, 0.82, 0.91), (1.00, 0.95, 0.80), (1.00, 1.00, 0.98), (0.56, 0.60, 0.70), (1.00, 0.98, 0.92), (0.08, 0.17, 0.24), 0.15),
    (0.13, (0.22, 0.40, 0.76), (0.76, 0.80, 0.86), (1.00, 0.85, 0.60), (1.00, 0.95, 0.86), (0.55, 0.55, 0.64), (0.95, 0.88, 0.76), (0.08, 0.16, 0.22), 0.30),
    (0.25, (0.20, 0.24, 0.48), (1.00, 0.55, 0.25), (1.00, 0.45, 0.12), (1.00, 0.62, 0.38), (0.42, 0.28, 0.38), (0.70, 0.45, 0.35), (0.08, 0.08, 0.14), 0.90),
    (0.35, (0.07, 0.09, 0.24), (0.40, 0.27, 0.40), (0.50, 0.20, 0.15), (0.40, 0.28, 0.38), (0.16, 0.13, 0.22), (0.25, 0.22, 0.32), (0.03, 0.04, 0.09), 0.35),
    (0.50, (0.01, 0.02, 0.07), (0.05, 0.08, 0.18), (0.00, 0.00, 0.00), (0.13, 0.15, 0.24), (0.05, 0.06, 0.11), (0.10, 0.12, 0.22), (0.01, 0.02, 0.05), 0.00),
    (0.65, (0.01, 0.02, 0.08), (0.06, 0.09, 0.20), (0.00, 0.00, 0.00), (0.14, 0.16, 0.26), (0.05, 0.06, 0.12), (0.10, 0.12, 0.22), (0.01, 0.02, 0.05), 0.00),
    (0.80, (0.28, 0.34, 0.62), (1.00, 0.70, 0.55), (1.00, 0.60, 0.40), (1.00, 0.78, 0.72), (0.50, 0.42, 0.52), (0.80, 0.66, 0.62), (0.07, 0.09, 0.15), 0.70),
    (0.90, (0.25, 0.43, 0.77), (0.74, 0.81, 0.90), (1.00, 0.90, 0.75), (1.00, 0.98, 0.95), (0.56, 0.60, 0.70), (0.98, 0.95, 0.90), (0.08, 0.17, 0.24), 0.20),
]
_PALETTE_NAMES = ("zenith", "horizon", "glow", "lit", "shadow", "light", "water")


def _palette(phases: torch.Tensor) -> dict[str, torch.Tensor]:
    """Colours at each phase: name -> (T, 3, 1, 1), and ``glow_strength`` -> (T, 1, 1, 1).

    Interpolates cyclically between the key colours with a smoothstep, so colours change smoothly and
    the cycle closes (phase 1 == phase 0).
    """
    keys = torch.tensor([k[0] for k in _PALETTE_KEYS] + [1.0], dtype=torch.float64)
    rows = [[c for colour in k[1:8] for c in colour] + [k[8]] for k in _PALETTE_KEYS]
    table = torch.tensor(rows + rows[:1], dtype=torch.float64)  # (keys + 1, 22)
    phase = torch.remainder(phases.to(torch.float64), 1.0)
    idx = (torch.searchsorted(keys, phase, right=True) - 1).clamp(0, len(keys) - 2)
    t = (phase - keys[idx]) / (keys[idx + 1] - keys[idx])
    t = (t * t * (3.0 - 2.0 * t)).unsqueeze(1)
    values = (table[idx] + (table[idx + 1] - table[idx]) * t).to(torch.float32)  # (T, 22)
    out = {name: values[:, 3 * i:3 * i + 3].reshape(-1, 3, 1, 1) for i, name in enumerate(_PALETTE_NAMES)}
    out["glow_strength"] = values[:, 21].reshape(-1, 1, 1, 1)
    return out


def _resolve_time(value: float | str) -> float:
    if isinstance(value, str):
        if value not in TIMES_OF_DAY:
            raise ValueError(f"unknown time of day {value!r}; use a phase in [0, 1) or one of {sorted(TIMES_OF_DAY)}")
        return TIMES_OF_DAY[value]
    return float(value) % 1.0


# ------------------------------------------------------------------------------------------- terrain


@dataclass
class _Terrain:
    """Static terrain maps: ``coverage`` (H, W) in [0, 1], exactly 1 inside the terrain; ``albedo``
    (3, H, W) in [0, 1]; ``haze`` (H, W) in [0, 1], how much the pixel takes the horizon colour
    (aerial perspective)."""

    coverage: torch.Tensor
    albedo: torch.Tensor
    haze: torch.Tensor


def _coverage_below(top: np.ndarray, height: int) -> np.ndarray:
    """(H, W) anti-aliased coverage of the region below the curve ``top`` (in pixels, per column)."""
    rows = np.arange(height, dtype=np.float64)[:, None] + 0.5
    return np.clip(rows - top[None, :] + 0.5, 0.0, 1.0)


def _face_lighting(top: np.ndarray, rows: np.ndarray, sun_side: float) -> np.ndarray:
    """(H, W) lighting term in about [-1, 1] for a mountain range with crest ``top`` (pixels per column).

    A point at depth ``d`` below the crest belongs to a face whose direction is the crest's slope
    averaged over a width ~``d``: near the crest small ridges matter, lower down only the big shape.
    Faces turned toward the sun (``sun_side`` +1: sun on the right) are lit (> 0).
    """
    width = top.shape[0]
    rise = np.gradient(-top)  # crest rise per pixel to the right
    depth = np.clip(rows - top[None, :], 0.0, None)  # (H, W) pixels below the crest
    scales = [1, 2, 4, 8, 16, 32, 64, 128]
    smoothed = []
    for scale in scales:
        kernel = np.ones(2 * scale + 1) / (2 * scale + 1)
        padded = np.pad(rise, scale, mode="edge")
        smoothed.append(np.convolve(padded, kernel, mode="valid")[:width])
    smoothed = np.stack(smoothed)  # (scales, W)
    level = np.clip(np.log2(np.maximum(depth * 1.5, 1.0)), 0.0, len(scales) - 1.001)
    lo = np.floor(level).astype(np.int64)
    frac = level - lo
    cols = np.arange(width)[None, :]
    slope = smoothed[lo, cols] * (1.0 - frac) + smoothed[lo + 1, cols] * frac
    return np.tanh(-2.5 * slope * sun_side)


def _build_terrain(rng: np.random.Generator, height: int, width: int, h0: int, water: bool, sun_side: float) -> _Terrain:
    """A far rocky range with snow, a near forested ridge and, below the horizon, either a lake with
    a grassy shore in front (``water``) or fields receding to the horizon."""
    H, W = height, width
    xs = (np.arange(W, dtype=np.float64) + 0.5) / H  # x in units of H: the scene does not stretch with W
    rows = (np.arange(H, dtype=np.float64) + 0.5)[:, None]
    grid_x = torch.from_numpy(np.broadcast_to(xs[None, :], (H, W)).astype(np.float32))
    grid_y = torch.from_numpy(np.broadcast_to(rows / H, (H, W)).astype(np.float32))
    texture = _Fbm2D(rng, octaves=5, base_freq=8.0)
    fine = texture(grid_x, grid_y).numpy().astype(np.float64)  # isotropic texture in about [-0.5, 0.5]
    streaks = _Fbm2D(rng, octaves=4, base_freq=6.0)
    gullies = streaks(grid_x * 3.0, grid_y * 0.6).numpy().astype(np.float64)  # vertical streaks

    coverage = np.zeros((H, W))
    albedo = np.zeros((3, H, W))
    haze = np.zeros((H, W))

    def paint(cov: np.ndarray, colour: np.ndarray, hz: np.ndarray) -> None:
        nonlocal coverage
        albedo[:] = albedo * (1.0 - cov) + colour * cov
        haze[:] = haze * (1.0 - cov) + hz * cov
        coverage = 1.0 - (1.0 - coverage) * (1.0 - cov)

    sky_rows = h0
    above = rows < h0
    # Far range: ridged crests, bluish rock with lit and shaded faces, snow above a snow line.
    envelope = np.clip(1.6 * _fbm_1d(rng, xs, 2, 0.7) - 0.1, 0.2, 1.0)
    crest = np.clip((_fbm_1d(rng, xs, 7, rng.uniform(0.8, 1.5), ridged=True) - 0.2) / 0.65, 0.0, 1.0)
    far_height = (0.03 + rng.uniform(0.45, 0.7) * crest**1.3 * envelope) * sky_rows
    far_top = h0 - far_height
    far_cov = _coverage_below(far_top, H) * above
    facing = _face_lighting(far_top, rows, sun_side) + 0.35 * np.tanh(3.0 * gullies)
    shade = np.clip(0.68 + 0.3 * facing, 0.3, 1.1)
    rock = np.array([0.36, 0.37, 0.43])[:, None, None] * shade[None] * (0.92 + 0.16 * fine[None])
    altitude = (h0 - rows) / sky_rows  # height above the horizon, units of sky height
    snow_line = 0.62 * far_height.max() / sky_rows + 0.12 * gullies + 0.05 * fine - 0.04 * facing
    snow = np.clip((altitude - snow_line) * 30.0, 0.0, 1.0)
    snow_colour = np.array([0.92, 0.94, 1.0])[:, None, None] * np.clip(0.62 + 0.38 * facing, 0.45, 1.0)[None]
    tree_line = 0.3 * far_height.max() / sky_rows + 0.1 * gullies + 0.05 * fine
    wooded = np.clip((tree_line - altitude) * 25.0, 0.0, 1.0)  # dark forest on the lower slopes
    woods = np.array([0.13, 0.2, 0.15])[:, None, None] * shade[None]
    far_alb = rock * (1.0 - wooded[None]) + woods * wooded[None]
    far_alb = far_alb * (1.0 - snow[None]) + snow_colour * snow[None]
    # More haze low down, where the line of sight runs through more air.
    far_haze = 0.3 + 0.35 * np.clip(1.0 - altitude / (far_height.max() / sky_rows + 1e-3), 0.0, 1.0)
    paint(far_cov, far_alb, far_haze)

    # Near ridge: lower, rounded hills of dark forest with a fine tree texture.
    hills = np.clip((_fbm_1d(rng, xs, 6, rng.uniform(1.0, 2.0)) - 0.3) / 0.6, 0.0, 1.0)
    near_height = (0.015 + rng.uniform(0.06, 0.16) * hills**2) * sky_rows
    near_top = h0 - near_height
    near_cov = _coverage_below(near_top, H) * above
    trees = 0.8 + 0.25 * np.tanh(5.0 * fine) + 0.2 * _face_lighting(near_top, rows, sun_side)
    forest = np.array([0.11, 0.20, 0.12])[:, None, None] * trees[None]
    paint(near_cov, forest, np.full((H, W), 0.16))

    below = rows >= h0
    if water:
        # Grassy foreground shore with a noisy edge, low enough to leave a wide lake, and never lower
        # than the mirror image of the sky reaches (row 2 * h0).
        shore = h0 + (H - h0) * (0.68 + 0.2 * _fbm_1d(rng, xs, 5, 1.2))
        shore = np.minimum(shore, 2 * h0 - 4)
        land_cov = _coverage_below(shore, H) * below
        grass = np.array([0.20, 0.30, 0.11])[:, None, None] * (0.75 + 0.3 * np.tanh(3.0 * fine))[None]
        bank = 1.0 - 0.45 * np.exp(-np.clip(rows - shore[None, :], 0.0, None) / (0.015 * H))  # shaded bank
        paint(land_cov, grass * bank[None], np.zeros((H, W)))
    else:
        # Fields on a ground plane in perspective: a patchwork of crops separated by hedgerows.
        depth = (np.maximum(rows - h0, 0.0) + 0.5) / H + 0.01  # height below the horizon, units of H
        gx = (xs - 0.5 * W / H)[None, :] / depth  # ground-plane coordinates
        gz = 1.0 / depth
        footprint = np.sqrt(1.0 + gz**2) / (depth * H)  # ground units per pixel: |(dX/dx, dZ/dy)|
        angle = rng.uniform(-0.5, 0.5)
        u = (np.cos(angle) * gx - np.sin(angle) * gz) * 0.9
        v = (np.sin(angle) * gx + np.cos(angle) * gz) * 0.6
        warp_u = texture(torch.from_numpy((u * 0.2).astype(np.float32)), torch.from_numpy((v * 0.2).astype(np.float32))).numpy()
        u = u + 0.6 * warp_u  # wobbly field borders
        iu, iv = np.floor(u), np.floor(v)
        palette = np.array([[0.30, 0.42, 0.14], [0.46, 0.48, 0.18], [0.22, 0.34, 0.12], [0.56, 0.48, 0.26], [0.36, 0.40, 0.16]])
        pick = rng.integers(0, len(palette), (64, 64))
        crop = palette[pick[iv.astype(np.int64) % 64, iu.astype(np.int64) % 64]].transpose(2, 0, 1)
        edge = np.minimum(np.minimum(u - iu, 1.0 - (u - iu)), np.minimum(v - iv, 1.0 - (v - iv)))
        hedge = np.clip(1.0 - edge / (0.06 + 1.5 * footprint), 0.0, 1.0)  # dark tree lines on field borders
        crop = crop * (1.0 - hedge[None]) + np.array([0.08, 0.15, 0.07])[:, None, None] * hedge[None]
        # Far fields are smaller than a pixel: fade them to their average colour instead of aliasing.
        detail = np.clip(1.5 - 1.5 * footprint, 0.0, 1.0)
        crop = crop * detail[None] + np.array([0.30, 0.38, 0.16])[:, None, None] * (1.0 - detail[None])
        rolling = texture(torch.from_numpy((gx * 0.15).astype(np.float32)), torch.from_numpy((gz * 0.15).astype(np.float32))).numpy()
        field_alb = crop * (0.85 + 0.5 * rolling + 0.08 * np.tanh(3.0 * fine))[None]
        distance = np.clip(1.0 - (rows - h0) / (0.6 * (H - h0) + 1.0), 0.0, 1.0)
        paint(below * np.ones((1, W)), field_alb, 0.45 * distance**2 * np.ones((1, W)))

    # Exactly 1 inside (guard against rounding in 1 - (1 - 1)(1 - c)), so masked-out pixels are static.
    coverage = np.where(coverage > 1.0 - 1e-6, 1.0, coverage)

    def to_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.clip(a, 0.0, 1.0), dtype=np.float32))

    return _Terrain(coverage=to_tensor(coverage), albedo=to_tensor(albedo), haze=to_tensor(haze))


# ----------------------------------------------------------------------------------------------- sky


class _SkyPlane:
    """Projection between the upper ``h0`` rows of an H×W image and the cloud plane (module docstring)."""

    def __init__(self, height: int, width: int, h0: int):
        self.height, self.width = height, width
        self.focal = _FOCAL_PER_WIDTH * width / height  # units of H
        self.vanish = h0 / height + _VANISH_BELOW_HORIZON  # vanishing line, units of H from the top
        rows = (torch.arange(h0, dtype=torch.float64) + 0.5) / height
        cols = (torch.arange(width, dtype=torch.float64) + 0.5 - 0.5 * width) / height
        self.v = (self.vanish - rows)[:, None].expand(h0, width)  # height above the vanishing line
        self.xn = cols[None, :].expand(h0, width)
        self.X = self.xn / self.v
        self.Z = self.focal / self.v

    def footprint(self, depth: torch.Tensor, depth_scale: float = 1.0) -> torch.Tensor:
        """Texture units covered by one pixel at plane depth ``depth``, for a texture indexed by
        ``(X, depth_scale * Z)`` (norm of the pixel->texture Jacobian, taken at the image's side
        border so it bounds every column)."""
        edge = 0.5 * self.width / self.height
        dX_dx = depth / self.focal
        dZ_dy = depth_scale * depth**2 / self.focal
        dX_dy = edge * depth**2 / self.focal**2
        return torch.sqrt(dX_dx**2 + dX_dy**2 + dZ_dy**2) / self.height

    def source_pixels(self, dX: float, dZ: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Backward flow in pixels (fx, fy), each (h0, W): where each pixel's content was one frame
        earlier, when the texture was ``(dX, dZ)`` behind."""
        Zs = torch.clamp(self.Z - dZ, min=0.25 * float(self.Z.min()))  # stay in front of the camera
        vs = self.focal / Zs
        xs = (self.X - dX) * vs
        fx = (xs - self.xn) * self.height
        fy = (self.v - vs) * self.height  # y grows downward while v grows upward
        return fx, fy


def _cloud_layers(
    sky: _SkyPlane,
    rng: np.random.Generator,
    num_frames: int,
    dX: float,
    dZ: float,
    cover: float,
    sun_dir: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cloud coverage and brightness, each (T, 1, h0, W) in [0, 1], rendered at the drifted positions.

    Anti-aliasing: octave ``k`` is weighted by a function of the texture's depth coordinate
    ``Z - t*dZ`` (plus a constant), so the weights move with the clouds and every frame is exactly a
    translate of the previous one on the plane. The constant makes the weights conservative over the
    whole clip: a texture point is never rendered at a depth where its detail would alias (clouds
    that recede during a long clip are a little blurrier than they need to be near the camera).
    Octaves that are zero on a row for every frame are not evaluated there (high octaves only near
    the top), which keeps generation fast.
    """
    fbm = _Fbm2D(rng, octaves=8, base_freq=0.9, gain=0.6)
    h0, W = sky.X.shape
    T = num_frames
    X = sky.X.to(torch.float32)
    Z = sky.Z.to(torch.float32)
    steps = torch.arange(T, dtype=torch.float32).view(-1, 1, 1)
    # Texture depth plus this offset is never nearer than where the point is actually shown.
    offset = max(dZ, 0.0) * T
    depth = (sky.Z[:, :1].to(torch.float32) - steps * dZ + offset).clamp_min(1e-3)  # (T, h0, 1)
    footprint = sky.footprint(depth, _CLOUD_DEPTH_SCALE)

    density = torch.zeros(T, h0, W)
    toward_sun = torch.zeros(T, h0, W)
    shade_octaves = 4
    for k in range(fbm.octaves):
        cycles_per_px = fbm.freqs[k] * footprint
        weight = 1.0 - _smoothstep(_MAX_CYCLES_PER_PX * _FADE_START, _MAX_CYCLES_PER_PX, cycles_per_px)
        live = torch.nonzero(weight.amax(dim=(0, 2)) > 0).flatten()
        if live.numel() == 0:
            break
        rows = int(live.max()) + 1  # the footprint grows toward the horizon: live rows are a prefix
        u0, v0 = fbm.coords(k, X[:rows], _CLOUD_DEPTH_SCALE * Z[:rows])
        du, dv = fbm.shift(k, dX, _CLOUD_DEPTH_SCALE * dZ)
        u = u0 - steps * du
        v = v0 - steps * dv
        amp = fbm.amps[k] * weight[:, :rows]
        density[:, :rows] += amp * _lattice_noise(fbm.lattices[k], u, v)
        if k < shade_octaves:
            # The same octaves a little toward the sun: less cloud there means this side is lit.
            su, sv = fbm.shift(k, *sun_dir)
            toward_sun[:, :rows] += amp * _lattice_noise(fbm.lattices[k], u + su, v + sv)
    # In units of the full fBm's standard deviation (far clouds, with fewer octaves, get flatter).
    sigma = _OCTAVE_STD * math.sqrt(sum(a * a for a in fbm.amps))
    density = density / sigma
    toward_sun = toward_sun / sigma
    # ``cover`` is the cloudy fraction of the sky: threshold at the matching normal quantile.
    threshold = NormalDist().inv_cdf(min(max(1.0 - cover, 1e-3), 1.0 - 1e-3))
    coverage = _smoothstep(threshold - 0.2, threshold + 0.6, density)
    lit = (0.6 + 0.9 * (density - toward_sun)).clamp(0.0, 1.0)
    # Thick cloud is darker underneath; sunlit edges stay bright.
    thickness = _smoothstep(threshold, threshold + 2.0, density)
    brightness = (lit * (1.0 - 0.5 * thickness) + 0.15).clamp(0.0, 1.0)
    return coverage.unsqueeze(1), brightness.unsqueeze(1)


# ----------------------------------------------------------------------------------------- generator


def generate_timelapse(
    num_frames: int = 32,
    height: int = 128,
    width: int = 128,
    *,
    seed: int = 0,
    cloud_speed: float | None = None,
    wind_direction: float | None = None,
    day_cycle: bool = True,
    start_time: float | str | None = None,
    day_cycles: float = 1.0,
    water: bool = True,
    cloud_cover: float | None = None,
    horizon: float | None = None,
) -> SyntheticClip:
    """Render a seeded procedural landscape time-lapse with exact backward flows.

    Args:
        num_frames: T >= 1.
        height, width: frame size in pixels (>= 16).
        seed: everything random (horizon, terrain, clouds, and the parameters below when not given)
            comes from it; the same seed gives bit-identical tensors.
        cloud_speed: sideways cloud speed in the upper sky (three quarters of the way up from the
            vanishing line), in pixels per frame *at 128 px width* (scaled with the real width).
            Clouds nearer the horizon move slower; motion toward or away from the camera looks
            slower too (foreshortening). Default: drawn in [0.4, 1.6].
        wind_direction: direction of the drift on the sky plane, in degrees: 0 = clouds move right,
            90 = away from the camera (down toward the horizon), 180 = left, -90 = toward the camera.
            Default: drawn.
        day_cycle: if True the colours run through ``day_cycles`` day cycles over the clip (frame
            ``t`` has phase ``start_time + day_cycles * t / T``), so the clip loops; if False every
            frame has the ``start_time`` colours and the flows explain the frames.
        start_time: day-cycle phase of frame 0 in [0, 1) (0 day, 0.25 sunset, 0.5 night, 0.8 dawn)
            or one of those names. Default: a seeded daytime phase.
        day_cycles: number of full cycles over the clip when ``day_cycle``.
        water: a lake below the horizon that mirrors the sky (else fields).
        cloud_cover: cloudy fraction of the sky in [0, 1]. Default: drawn in [0.25, 0.65].
        horizon: horizon row as a fraction of H. Default: drawn in [0.45, 0.65].

    Returns:
        A :class:`SyntheticClip`.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if height < 16 or width < 16:
        raise ValueError(f"frames must be at least 16x16, got {height}x{width}")
    rng = np.random.default_rng(seed)
    # Draw every scene parameter, in a fixed order, so giving one does not change the others.
    drawn_horizon = rng.uniform(0.45, 0.65)
    drawn_speed = rng.uniform(0.4, 1.6)
    drawn_direction = rng.uniform(-180.0, 180.0)
    drawn_time = rng.uniform(-0.06, 0.08) % 1.0
    drawn_cover = rng.uniform(0.25, 0.65)
    sun_x = rng.uniform(0.1, 0.9)
    terrain_rng, cloud_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 2))

    horizon = drawn_horizon if horizon is None else float(horizon)
    speed_ref = drawn_speed if cloud_speed is None else float(cloud_speed)
    direction = drawn_direction if wind_direction is None else float(wind_direction)
    time0 = drawn_time if start_time is None else _resolve_time(start_time)
    cover = drawn_cover if cloud_cover is None else float(cloud_cover)

    H, W, T = height, width, num_frames
    h0 = int(min(max(round(horizon * H), 4), H - 4))
    sun_side = 1.0 if sun_x > 0.5 else -1.0

    # ---- motion: a constant drift on the sky plane, `speed_ref` px/frame sideways at v_ref
    sky = _SkyPlane(H, W, h0)
    speed = speed_ref * W / _REFERENCE_WIDTH / H  # units of H per frame
    v_ref = 0.75 * float(sky.v[0, 0])
    angle = math.radians(direction)
    dX = speed / v_ref * math.cos(angle)  # a plane displacement d shows as d * v sideways ...
    dZ = speed / v_ref * math.sin(angle)  # ... and as about d * v^2 / f vertically
    fx, fy = sky.source_pixels(dX, dZ)

    # ---- static maps
    terrain = _build_terrain(terrain_rng, H, W, h0, water, sun_side)
    rows = (torch.arange(h0, dtype=torch.float32) + 0.5).view(-1, 1)
    cols = (torch.arange(W, dtype=torch.float32) + 0.5).view(1, -1)
    height_above = (h0 - rows) / h0  # 0 at the horizon, ~1 at the top
    # Sky brightens within a band above the horizon, where the flow is small (it scales with
    # height^2), so this static gradient barely disturbs the warp.
    gradient = (1.0 - torch.exp(-height_above / 0.2)) / (1.0 - math.exp(-1.0 / 0.2))
    haze_clouds = 1.0 - _smoothstep(0.0, 0.4, height_above)  # clouds fade into haze toward the horizon
    glow = torch.exp(-(((cols - sun_x * W) / (0.3 * W)) ** 2) - (height_above / 0.3) ** 2)

    # ---- per-frame colours
    steps = torch.arange(T, dtype=torch.float64)
    phases = (time0 + day_cycles * steps / T) if day_cycle else torch.full((T,), time0, dtype=torch.float64)
    phases = torch.remainder(phases, 1.0)
    pal = _palette(phases)

    # ---- sky with clouds, (T, 3, h0, W)
    sun_dir = (0.12 * sun_side, 0.2)  # toward the sun in texture units: sideways and into the distance
    coverage, brightness = _cloud_layers(sky, cloud_rng, T, dX, dZ, cover, sun_dir)
    sun_light = pal["glow"] * pal["glow_strength"] * glow
    sky_bg = pal["horizon"] + (pal["zenith"] - pal["horizon"]) * gradient + sun_light
    cloud_rgb = pal["shadow"] + (pal["lit"] - pal["shadow"]) * brightness + 0.6 * sun_light
    cloud_rgb = cloud_rgb + (sky_bg - cloud_rgb) * (0.8 * haze_clouds)
    sky_rgb = sky_bg + (cloud_rgb - sky_bg) * coverage

    # ---- terrain colours, (T, 3, H, W)
    terrain_rgb = terrain.albedo * pal["light"]
    terrain_rgb = terrain_rgb + (pal["horizon"] * 0.85 - terrain_rgb) * terrain.haze

    cov_up = terrain.coverage[:h0]
    # torch.lerp is exact at weights 0 and 1, so fully covered terrain pixels are bit-identical
    # from frame to frame (a + (b - a) * 1 need not equal b in floating point).
    upper = torch.lerp(sky_rgb, terrain_rgb[:, :, :h0], cov_up)
    lower_rows = H - h0
    mirror_len = min(lower_rows, h0)
    if water:
        # Mirror about the horizon line: row h0 + k shows row h0 - 1 - k, with a constant reflectance
        # (a calm lake); a per-row reflectance would be a static pattern the flow cannot explain.
        reflected = torch.flip(upper[:, :, h0 - mirror_len:], dims=[2])
        water_rgb = pal["water"] + (0.95 * reflected - pal["water"]) * 0.72
        if mirror_len < lower_rows:  # hidden by the shore (see _build_terrain)
            water_rgb = torch.cat((water_rgb, pal["water"].expand(T, 3, lower_rows - mirror_len, W)), dim=2)
    else:
        water_rgb = torch.zeros(T, 3, lower_rows, W)
    lower = torch.lerp(water_rgb, terrain_rgb[:, :, h0:], terrain.coverage[h0:])
    frames = torch.cat((upper, lower), dim=2).clamp(0.0, 1.0) * 2.0 - 1.0

    # ---- masks and flows
    mask = (terrain.coverage < 1.0).to(torch.float32)
    # The lake mirrors mountains too: mask the sky flow first so their reflections get zero flow.
    fx = fx * mask[:h0]
    fy = fy * mask[:h0]
    flow_px = torch.zeros(1, 2, H, W, dtype=torch.float64)
    flow_px[0, 0, :h0] = fx
    flow_px[0, 1, :h0] = fy
    if water:
        flow_px[0, 0, h0:h0 + mirror_len] = torch.flip(fx[h0 - mirror_len:], dims=[0])
        flow_px[0, 1, h0:h0 + mirror_len] = -torch.flip(fy[h0 - mirror_len:], dims=[0])
    flow = flow_pixels_to_normalized(flow_px, H, W).to(torch.float32) * mask
    flows = flow.repeat(T, 1, 1, 1)
    flows[0] = 0.0

    # ---- valid: the content of frame t-1 at p + flow is the same surface as at p
    shown_static = terrain.coverage.clone()  # how much static surface each pixel shows
    if water:
        mirrored = torch.flip(terrain.coverage[h0 - mirror_len:h0], dims=[0])
        lake = shown_static[h0:h0 + mirror_len]
        shown_static[h0:h0 + mirror_len] = 1.0 - (1.0 - lake) * (1.0 - mirrored)
    pure_moving = (shown_static == 0.0).to(torch.float32).view(1, 1, H, W)
    source_pure = warp(pure_moving, flow, padding="zeros")  # < 1 if any bilinear tap is off-surface
    valid = pure_moving * (source_pure > 1.0 - 1e-4).to(torch.float32) + mask * (shown_static == 1.0)
    valid = valid.clamp(0.0, 1.0).repeat(T, 1, 1, 1)
    valid[0] = 0.0

    params = {
        "seed": seed,
        "cloud_speed": speed_ref * W / _REFERENCE_WIDTH,
        "wind_direction": direction,
        "start_time": time0,
        "cloud_cover": cover,
        "water": water,
        "day_cycle": day_cycle,
        "sun_x": sun_x,
    }
    return SyntheticClip(
        frames=frames.contiguous(),
        flows=flows,
        masks=mask.view(1, 1, H, W).repeat(T, 1, 1, 1),
        horizon=h0 / H,
        valid=valid,
        time_of_day=phases.to(torch.float32),
        params=params,
    )


def generate_landscape_photo(
    height: int,
    width: int,
    *,
    seed: int = 0,
    time_of_day: float | str = "day",
    water: bool = True,
    **kwargs,
) -> np.ndarray:
    """Frame 0 of :func:`generate_timelapse` as an (H, W, 3) uint8 RGB image (the demo input photo).

    ``time_of_day`` is a day-cycle phase in [0, 1) or one of ``"day"``, ``"sunset"``, ``"night"``,
    ``"dawn"``; other keyword arguments go to :func:`generate_timelapse`.
    """
    clip = generate_timelapse(1, height, width, seed=seed, day_cycle=False, start_time=time_of_day, water=water, **kwargs)
    image = (clip.frames[0].permute(1, 2, 0) + 1.0) * 127.5
    return image.round().clamp(0, 255).to(torch.uint8).numpy()


def synthetic_motion_clips(
    num_clips: int,
    num_frames: int,
    size: int | tuple[int, int],
    seed: int = 0,
    **kwargs,
) -> list[SyntheticClip]:
    """``num_clips`` independent clips for pre-training: a plain list, usable as a map-style Dataset.

    Each clip gets its own seed derived from ``seed``, and a lake in about half of them. Keyword
    arguments go to :func:`generate_timelapse`; ``day_cycle`` defaults to False so the flows explain
    the frames.

    Args:
        size: H = W, or (H, W).
    """
    height, width = (size, size) if isinstance(size, int) else size
    kwargs.setdefault("day_cycle", False)
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(num_clips):  # drawn clip by clip, so the first clips do not depend on num_clips
        clip_seed = int(rng.integers(0, 2**31 - 1))
        options = {"water": bool(rng.random() < 0.5), **kwargs}
        clips.append(generate_timelapse(num_frames, height, width, seed=clip_seed, **options))
    return clips
