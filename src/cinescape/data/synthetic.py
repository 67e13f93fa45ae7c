"""Procedural landscape time-lapses with exact ground-truth flow.

A seeded generator of small "time-lapse" clips: a sky with drifting clouds, static hills and
mountains, an optional lake that mirrors the sky, and an optional day -> sunset -> night -> dawn
colour cycle. Because the cloud motion is a known translation of a texture on a sky plane, the
backward flow between consecutive frames is known analytically; the clips are used to test and
pre-train the motion predictor, and frame 0 is the README demo photo.

Conventions (those of :mod:`cinescape.ops.warp`):

* ``frames``: (T, 3, H, W) float32 in [-1, 1].
* ``flows``: (T, 2, H, W) float32 **backward** flows in **normalised units** (one pixel is 2/W in x,
  2/H in y; channel 0 = x, channel 1 = y): ``frames[t] ≈ warp(frames[t - 1], flows[t])`` on moving
  pixels, exactly up to bilinear resampling when the colours do not change (``day_cycle=False``).
  ``flows[0]`` is zero. Flows are exactly zero where ``masks`` is 0.
* ``masks``: (T, 1, H, W) float32, 1 on moving materials (sky not fully hidden by terrain, and water),
  0 on static terrain. Masked-out pixels are bit-identical across frames when the colours are fixed.
* Pixel coordinates below are continuous, in pixels, with the image spanning [0, W] x [0, H] and
  pixel centres at ``i + 0.5``.

Geometry. The camera looks horizontally; the horizon is the boundary between pixel rows
``h0 - 1`` and ``h0``. Clouds are a fractal value-noise density on a horizontal plane above the
camera. A sky pixel at height ``v`` (in units of H) above the plane's vanishing line and at
horizontal offset ``x_n`` (units of H) from the image centre sees plane point

    X = x_n / v,    Z = f / v        (f: focal length in units of H)

so distant clouds (small ``v``) are smaller and move fewer pixels per frame. The vanishing line is
put a little *below* the visible horizon (hidden by terrain/water), which keeps the plane depth finite
on every visible row; clouds also fade into haze toward the horizon. Frame ``t`` shows the texture
at ``(X - t*dX, Z - t*dZ)``, so the content of pixel ``p`` in frame ``t`` sits in frame ``t - 1`` at the
projection of ``(X - dX, Z - dZ)``: that projection minus ``p`` is the (time-independent) flow.

The lake (rows below the horizon) shows the upper image mirrored about the horizon line; its flow is
the sky flow of the mirrored pixel with the y component negated, so it is exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from cinescape.ops.warp import flow_pixels_to_normalized

__all__ = [
    "SyntheticClip",
    "generate_timelapse",
    "generate_landscape_photo",
    "synthetic_motion_clips",
    "TIMES_OF_DAY",
]

# Phase of the day cycle in [0, 1): the clip runs through one full cycle by default.
TIMES_OF_DAY = {"day": 0.0, "sunset": 0.25, "night": 0.5, "dawn": 0.8}

# Focal length of the virtual camera, in units of the image width (about a 60 degree horizontal FOV).
_FOCAL_PER_WIDTH = 0.87
# Vanishing line of the cloud plane below the visible horizon, in units of H (keeps depth finite).
_VANISH_BELOW_HORIZON = 0.08
# Reference width for ``cloud_speed`` (pixels per frame at this width; scaled with the real width).
_REFERENCE_WIDTH = 128
# Band limit of the cloud texture, in cycles per pixel (octaves fade out between half this and this).
_MAX_CYCLES_PER_PX = 0.11


@dataclass
class SyntheticClip:
    """One synthetic time-lapse (see the module docstring for conventions).

    Attributes:
        frames: (T, 3, H, W) float32 in [-1, 1].
        flows: (T, 2, H, W) float32 normalised backward flows, ``flows[0] == 0``.
        masks: (T, 1, H, W) float32 in {0, 1}; 1 on sky and water.
        horizon: horizon row as a fraction of H (rows above it are sky/mountains).
        time_of_day: (T,) float32 day-cycle phase of each frame (0 day, 0.25 sunset, 0.5 night,
            0.8 dawn).
        params: the scene parameters that were drawn or given (speeds in pixels per frame at this
            clip's width, angles in degrees).
    """

    frames: torch.Tensor
    flows: torch.Tensor
    masks: torch.Tensor
    horizon: float
    time_of_day: torch.Tensor | None = None
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- noise


def _smoothstep(edge0: float, edge1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lattice_noise(lattice: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Periodic 2-D value noise in [-1, 1]: smooth (C1) interpolation of a (P, P) random lattice.

    ``x`` and ``y`` are in lattice cells; P must be a power of two so indices wrap with a bit mask
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


def _noise_1d(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Periodic 1-D value noise: smooth interpolation of ``values`` at positions ``x`` (in cells)."""
    period = len(values)
    x0 = np.floor(x)
    f = x - x0
    f = f * f * (3.0 - 2.0 * f)
    i = x0.astype(np.int64) % period
    return values[i] * (1.0 - f) + values[(i + 1) % period] * f


class _Fbm2D:
    """Fractal sum of value-noise octaves, each rotated by a random angle to hide the lattice axes.

    Octave ``k`` has frequency ``base_freq * 2**k`` (cycles per coordinate unit) and amplitude
    ``gain**k``. Per-pixel octave weights (band-limiting by pixel footprint) are applied by the caller.
    """

    def __init__(self, rng: np.random.Generator, octaves: int, base_freq: float, gain: float = 0.5, period: int = 64):
        self.octaves = octaves
        self.freqs = [base_freq * 2.0**k for k in range(octaves)]
        self.amps = [gain**k for k in range(octaves)]
        self.lattices = torch.from_numpy(rng.uniform(-1.0, 1.0, (octaves, period, period)).astype(np.float32))
        angles = rng.uniform(0.0, 2.0 * math.pi, octaves)
        self.rot = [(math.cos(a), math.sin(a)) for a in angles]
        self.offsets = rng.uniform(0.0, period, (octaves, 2)).tolist()

    def coords(self, k: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lattice coordinates of octave ``k`` at (x, y): rotate, scale, offset."""
        c, s = self.rot[k]
        f = self.freqs[k]
        ox, oy = self.offsets[k]
        return f * (c * x - s * y) + ox, f * (s * x + c * y) + oy

    def shift(self, k: int, dx: float, dy: float) -> tuple[float, float]:
        """Lattice-coordinate displacement of octave ``k`` for a displacement (dx, dy)."""
        c, s = self.rot[k]
        f = self.freqs[k]
        return f * (c * dx - s * dy), f * (s * dx + c * dy)

    def octave(self, k: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        u, v = self.coords(k, x, y)
        return _lattice_noise(self.lattices[k], u, v)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, octaves: int | None = None) -> torch.Tensor:
        """Unweighted fBm, normalised so its amplitude sum is 1."""
        octaves = self.octaves if octaves is None else octaves
        total = sum(self.amps[k] * self.octave(k, x, y) for k in range(octaves))
        return total / sum(self.amps[:octaves])


def _fbm_1d(rng: np.random.Generator, x: np.ndarray, octaves: int, base_freq: float, ridged: bool = False) -> np.ndarray:
    """1-D fBm in about [0, 1] (ridged: sharp peaks, for mountain crests)."""
    total = np.zeros_like(x)
    norm = 0.0
    for k in range(octaves):
        values = rng.uniform(-1.0, 1.0, 256)
        n = _noise_1d(values, x * base_freq * 2.0**k + rng.uniform(0, 256))
        n = (1.0 - np.abs(n)) ** 2 if ridged else 0.5 * (n + 1.0)
        amp = 0.5**k
        total += amp * n
        norm += amp
    return total / norm


# ------------------------------------------------------------------------------------------- palette

# Key colours of the day cycle (linear-ish RGB in [0, 1]); the phase wraps at 1.
# zenith / horizon: sky gradient; glow: sun glow near the horizon; lit / shadow: cloud colours;
# light: multiplier of terrain albedo; water: colour of deep water.
_PALETTE_KEYS = [
    # phase, zenith,             horizon,            glow,               lit,                shadow,             light,              water
    (0.00, (0.22, 0.42, 0.80), (0.70, 0.80, 0.92), (1.00, 0.95, 0.80), (1.00, 1.00, 0.98), (0.60, 0.64, 0.72), (1.00, 0.98, 0.92), (0.10, 0.20, 0.26)),
    (0.13, (0.24, 0.42, 0.76), (0.76, 0.80, 0.86), (1.00, 0.85, 0.60), (1.00, 0.96, 0.88), (0.58, 0.58, 0.66), (0.95, 0.88, 0.78), (0.10, 0.18, 0.24)),
    (0.25, (0.22, 0.26, 0.50), (1.00, 0.55, 0.25), (1.00, 0.45, 0.12), (1.00, 0.62, 0.38), (0.40, 0.28, 0.38), (0.70, 0.45, 0.35), (0.10, 0.10, 0.16)),
    (0.35, (0.08, 0.10, 0.26), (0.42, 0.28, 0.40), (0.50, 0.20, 0.15), (0.40, 0.28, 0.38), (0.16, 0.13, 0.22), (0.25, 0.22, 0.32), (0.04, 0.05, 0.10)),
    (0.50, (0.01, 0.02, 0.07), (0.05, 0.08, 0.18), (0.00, 0.00, 0.00), (0.13, 0.15, 0.24), (0.05, 0.06, 0.11), (0.10, 0.12, 0.22), (0.01, 0.02, 0.05)),
    (0.65, (0.01, 0.02, 0.08), (0.06, 0.09, 0.20), (0.00, 0.00, 0.00), (0.14, 0.16, 0.26), (0.05, 0.06, 0.12), (0.10, 0.12, 0.22), (0.01, 0.02, 0.05)),
    (0.80, (0.30, 0.36, 0.62), (1.00, 0.70, 0.55), (1.00, 0.60, 0.40), (1.00, 0.78, 0.72), (0.50, 0.42, 0.52), (0.80, 0.66, 0.62), (0.08, 0.10, 0.16)),
    (0.90, (0.24, 0.42, 0.78), (0.72, 0.80, 0.90), (1.00, 0.90, 0.75), (1.00, 0.98, 0.95), (0.60, 0.63, 0.72), (0.98, 0.95, 0.90), (0.10, 0.19, 0.25)),
]
_PALETTE_NAMES = ("zenith", "horizon", "glow", "lit", "shadow", "light", "water")
# Sun-glow strength over the cycle (same phases as _PALETTE_KEYS): strong at sunset and dawn.
_GLOW_STRENGTH = (0.12, 0.25, 0.9, 0.35, 0.0, 0.0, 0.7, 0.15)


def _palette(phases: torch.Tensor) -> dict[str, torch.Tensor]:
    """Colours for each phase: name -> (T, 3, 1, 1) tensor (and ``glow_strength`` -> (T, 1, 1, 1)).

    Interpolates cyclically between the key colours with a smoothstep, so colour changes are smooth
    and the cycle closes (phase 1 == phase 0).
    """
    keys = torch.tensor([k[0] for k in _PALETTE_KEYS] + [1.0], dtype=torch.float64)
    table = torch.tensor([list(k[1:]) for k in _PALETTE_KEYS] + [list(_PALETTE_KEYS[0][1:])], dtype=torch.float64)
    strength = torch.tensor(list(_GLOW_STRENGTH) + [_GLOW_STRENGTH[0]], dtype=torch.float64)
    phase = torch.remainder(phases.to(torch.float64), 1.0)
    idx = (torch.searchsorted(keys, phase, right=True) - 1).clamp(0, len(keys) - 2)
    t = (phase - keys[idx]) / (keys[idx + 1] - keys[idx])
    t = (t * t * (3.0 - 2.0 * t)).view(-1, 1, 1)
    colours = table[idx] + (table[idx + 1] - table[idx]) * t  # (T, 7, 3)
    out = {name: colours[:, i].to(torch.float32).view(-1, 3, 1, 1) for i, name in enumerate(_PALETTE_NAMES)}
    glow = strength[idx] + (strength[idx + 1] - strength[idx]) * t.view(-1)
    out["glow_strength"] = glow.to(torch.float32).view(-1, 1, 1, 1)
    return out


def _resolve_time(value: float | str) -> float:
    if isinstance(value, str):
        if value not in TIMES_OF_DAY:
            raise ValueError(f"unknown time of day {value!r}; use a phase in [0, 1) or one of {sorted(TIMES_OF_DAY)}")
        return TIMES_OF_DAY[value]
    return float(value)


# ------------------------------------------------------------------------------------------- terrain


@dataclass
class _Terrain:
    """Static terrain maps (H, W): coverage in [0, 1] (exactly 1 inside), albedo (3, H, W) in [0, 1],
    haze weight in [0, 1] (aerial perspective: how much the pixel takes the horizon colour)."""

    coverage: torch.Tensor
    albedo: torch.Tensor
    haze: torch.Tensor


def _ridge_coverage(top: np.ndarray, height: int) -> np.ndarray:
    """(H, W) anti-aliased coverage of the region below the curve ``top`` (pixels, per column)."""
    rows = np.arange(height, dtype=np.float64)[:, None] + 0.5
    return np.clip(rows - top[None, :] + 0.5, 0.0, 1.0)


def _build_terrain(rng: np.random.Generator, height: int, width: int, h0: int, water: bool, sun_side: float) -> _Terrain:
    """Mountains above the horizon (a far snowy range and a near forested ridge) and, below it,
    either a shore in front of a lake (``water``) or receding fields."""
    H, W = height, width
    xs = (np.arange(W, dtype=np.float64) + 0.5) / H  # x in units of H, so the scene does not stretch with W
    rows = (np.arange(H, dtype=np.float64) + 0.5)[:, None]
    texture = _Fbm2D(rng, octaves=5, base_freq=6.0)
    grid_x = torch.from_numpy(np.broadcast_to(xs[None, :], (H, W)).astype(np.float32))
    grid_y = torch.from_numpy(np.broadcast_to(rows / H, (H, W)).astype(np.float32))
    fine = texture(grid_x, grid_y).numpy().astype(np.float64)  # static rock / grass texture in ~[-1, 1]

    coverage = np.zeros((H, W))
    albedo = np.zeros((3, H, W))
    haze = np.zeros((H, W))

    def paint(cov, alb, hz):
        nonlocal coverage
        for c in range(3):
            albedo[c] = albedo[c] * (1.0 - cov) + alb[c] * cov
        haze[:] = haze * (1.0 - cov) + hz * cov
        coverage = 1.0 - (1.0 - coverage) * (1.0 - cov)

    # Far range: ridged crests, bluish rock, snow on the highest parts, strong haze.
    far_height = (0.06 + 0.22 * _fbm_1d(rng, xs, 6, rng.uniform(1.2, 2.2), ridged=True)) * h0
    envelope = 0.45 + 0.55 * _fbm_1d(rng, xs, 2, 0.6)
    far_top = h0 - far_height * envelope
    far_cov = _ridge_coverage(far_top, H) * (rows < h0)
    depth_in = np.clip((rows - far_top[None, :]) / (h0 - far_top.min() + 1.0), 0.0, 1.0)  # 0 at crest, 1 at base
    slope = np.gradient(far_top, xs) / H  # screen slope of the crest (pixels per pixel)
    # Lit faces: the crest slope facing the sun, with gullies from the texture.
    facing = np.tanh(2.0 * slope[None, :] * sun_side + 1.2 * fine)
    shade = 0.78 + 0.22 * facing
    rock = np.array([0.36, 0.38, 0.44])[:, None, None] * shade[None]
    snow_line = 0.28 + 0.18 * fine
    snow = _smoothstep(0.0, 0.06, torch.from_numpy(snow_line - depth_in)).numpy() * (far_height[None, :] > 0.12 * h0)
    snow_col = np.array([0.92, 0.94, 0.98])[:, None, None] * (0.82 + 0.18 * shade[None])
    far_alb = rock * (1.0 - snow[None]) + snow_col * snow[None]
    paint(far_cov, far_alb, 0.45 + 0.25 * depth_in)

    # Near ridge: lower, rounded, dark forest green with a fine tree texture.
    near_height = (0.015 + 0.10 * _fbm_1d(rng, xs, 6, rng.uniform(1.5, 3.0))) * h0
    near_top = h0 - near_height
    near_cov = _ridge_coverage(near_top, H) * (rows < h0)
    trees = 0.8 + 0.2 * np.tanh(2.5 * fine)
    forest = np.array([0.12, 0.22, 0.12])[:, None, None] * trees[None]
    paint(near_cov, forest, np.full((H, W), 0.22))

    below = rows >= h0
    if water:
        # Foreground shore: a noisy edge well below the horizon, never lower than the mirror allows.
        shore = h0 + (H - h0) * (0.62 + 0.22 * _fbm_1d(rng, xs, 5, 1.5))
        shore = np.minimum(shore, 2 * h0 - 2)
        land_cov = _ridge_coverage(shore, H) * below
        grass = np.array([0.20, 0.30, 0.12])[:, None, None] * (0.75 + 0.25 * np.tanh(2.0 * fine))[None]
        dark_edge = 1.0 - 0.35 * np.exp(-np.clip(rows - shore[None, :], 0.0, None) / (0.02 * H))  # shadowed bank
        paint(land_cov, grass * dark_edge[None], np.zeros((H, W)))
    else:
        # Fields on a ground plane: patches of colour that shrink with distance, plus rolling shading.
        depth = np.maximum(rows - h0 + 0.5, 0.5) / H + 0.02
        gx = torch.from_numpy(np.broadcast_to((xs - 0.5 * W / H)[None, :] / depth, (H, W)).astype(np.float32))
        gz = torch.from_numpy(np.broadcast_to(1.0 / depth, (H, W)).astype(np.float32))
        fields = _Fbm2D(rng, octaves=2, base_freq=0.35)
        patch = fields(gx * 0.8, gz * 0.8, octaves=1).numpy()
        rolling = fields(gx * 0.3 + 17.0, gz * 0.3, octaves=2).numpy()
        palette = np.array([[0.30, 0.42, 0.14], [0.45, 0.48, 0.18], [0.22, 0.34, 0.12], [0.55, 0.48, 0.26]])
        which = np.clip(((patch + 1.0) * 2.0).astype(np.int64), 0, 3)
        field_alb = palette[which].transpose(2, 0, 1) * (0.8 + 0.2 * np.tanh(2.0 * fine))[None]
        field_alb = field_alb * (0.75 + 0.25 * rolling)[None]
        dist = np.clip(1.0 - (rows - h0) / (0.5 * (H - h0) + 1.0), 0.0, 1.0)
        paint(below.astype(np.float64) * np.ones((1, W)), field_alb, 0.35 * dist**2 * np.ones((1, W)))

    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    # Exact 1 inside (clip guards against 1 - (1 - 1)(1 - c) rounding), so masked-out pixels are static.
    coverage = np.where(coverage > 1.0 - 1e-6, 1.0, coverage)
    return _Terrain(coverage=to_t(coverage), albedo=to_t(np.clip(albedo, 0.0, 1.0)), haze=to_t(np.clip(haze, 0.0, 1.0)))


# ----------------------------------------------------------------------------------------------- sky


class _SkyPlane:
    """Projection between upper-image pixels and the cloud plane (see module docstring)."""

    def __init__(self, height: int, width: int, h0: int):
        self.height, self.width = height, width
        self.focal = _FOCAL_PER_WIDTH * width / height  # in units of H
        self.vanish = h0 / height + _VANISH_BELOW_HORIZON  # vanishing line, in units of H from the top
        rows = (torch.arange(h0, dtype=torch.float64) + 0.5) / height
        cols = (torch.arange(width, dtype=torch.float64) + 0.5 - 0.5 * width) / height
        self.v = (self.vanish - rows)[:, None].expand(h0, width)  # height above the vanishing line
        self.xn = cols[None, :].expand(h0, width)
        self.X = self.xn / self.v
        self.Z = self.focal / self.v

    def footprint(self) -> torch.Tensor:
        """(h0, W) plane units covered by one pixel (norm of the pixel->plane Jacobian)."""
        dX_dx = 1.0 / self.v
        dX_dy = self.xn / self.v**2
        dZ_dy = self.focal / self.v**2
        return torch.sqrt(dX_dx**2 + dX_dy**2 + dZ_dy**2) / self.height

    def source_pixels(self, dX: float, dZ: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Backward flow in pixels (fx, fy), each (h0, W): where each pixel's content was one frame earlier."""
        Zs = torch.clamp(self.Z - dZ, min=0.25 * float(self.Z.min()))  # stay in front of the camera
        vs = self.focal / Zs
        xs = (self.X - dX) * vs
        fx = (xs - self.xn) * self.height
        fy = (self.v - vs) * self.height  # y grows downward while v grows upward
        return fx, fy


def _cloud_layers(sky: _SkyPlane, rng: np.random.Generator, num_frames: int, dX: float, dZ: float, cover: float, sun_dir: tuple[float, float]):
    """Cloud coverage and shading, each (T, 1, h0, W) in [0, 1], rendered at the drifted positions.

    Each octave is band-limited by a static per-pixel weight (fades out where it would alias), and
    evaluated only on the rows where that weight is non-zero: high octaves only near the top.
    """
    density_fbm = _Fbm2D(rng, octaves=7, base_freq=0.9, gain=0.5)
    h0, W = sky.X.shape
    X = sky.X.to(torch.float32)
    Z = sky.Z.to(torch.float32)
    footprint = sky.footprint().to(torch.float32)
    steps = torch.arange(num_frames, dtype=torch.float32).view(-1, 1, 1)

    density = torch.zeros(num_frames, h0, W)
    shaded = torch.zeros(num_frames, h0, W)
    weight_sq = torch.zeros(h0, W)
    shade_octaves = 3
    sx, sz = sun_dir
    for k in range(density_fbm.octaves):
        cycles_per_px = density_fbm.freqs[k] * footprint
        # Keep >= ~9 px per cycle: finer detail would alias and bilinear warping could not follow it.
        weight = 1.0 - _smoothstep(_MAX_CYCLES_PER_PX * 0.5, _MAX_CYCLES_PER_PX, cycles_per_px)
        live = torch.nonzero(weight.amax(dim=1) > 0).flatten()
        if live.numel() == 0:
            break
        rows = int(live.max()) + 1  # footprint grows toward the horizon, so live rows are a prefix
        u0, v0 = density_fbm.coords(k, X[:rows], Z[:rows])
        du, dv = density_fbm.shift(k, dX, dZ)
        u = u0 - steps * du
        v = v0 - steps * dv
        amp = density_fbm.amps[k] * weight[:rows]
        density[:, :rows] += amp * _lattice_noise(density_fbm.lattices[k], u, v)
        weight_sq += (density_fbm.amps[k] * weight) ** 2
        if k < shade_octaves:
            # The same octave a little toward the sun: less cloud there means this side is lit.
            su, sv = density_fbm.shift(k, sx, sz)
            shaded[:, :rows] += amp * _lattice_noise(density_fbm.lattices[k], u + su, v + sv)
    # Normalise by the kept energy so cloud statistics do not change toward the horizon.
    # (never below the first octave's full amplitude: where even that octave fades out, the clouds
    # fade to a uniform haze instead of keeping full contrast up to an abrupt cut)
    norm = torch.sqrt(weight_sq).clamp_min(density_fbm.amps[0]) * 2.2
    density = density / norm
    coarse = density  # shading compares the same first octaves only
    lit = (0.55 + 3.0 * (coarse - shaded / norm)).clamp(0.0, 1.0)
    coverage = _smoothstep(cover - 0.12, cover + 0.18, density)
    # Thicker cloud is darker underneath; lit edges stay bright.
    shade = (lit * (1.0 - 0.45 * _smoothstep(cover, cover + 0.5, density)) + 0.1).clamp(0.0, 1.0)
    return coverage.unsqueeze(1), shade.unsqueeze(1)


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
        height, width: frame size in pixels (>= 8).
        seed: everything random (horizon, terrain, clouds, speeds when not given) comes from it.
        cloud_speed: cloud speed at mid-sky in pixels per frame *at 128 px width* (scaled with the
            real width). Default: drawn in [0.4, 1.6].
        wind_direction: drift direction in degrees: 0 = clouds move right, 90 = away from the
            camera (down toward the horizon), 180 = left, -90 = toward the camera. Default: drawn.
        day_cycle: if True the colours run through ``day_cycles`` day cycles over the clip (phase
            ``start_time + day_cycles * t / T``); if False every frame has the ``start_time`` colours,
            so the flows explain the frames exactly.
        start_time: day-cycle phase of frame 0 in [0, 1) (0 day, 0.25 sunset, 0.5 night, 0.8 dawn) or
            one of those names. Default: a seeded daytime phase.
        day_cycles: number of full cycles over the clip when ``day_cycle``.
        water: a lake below the horizon that mirrors the sky (else fields).
        cloud_cover: density threshold; higher -> fewer clouds (about -0.2 overcast .. 0.3 sparse).
            Default: drawn.
        horizon: horizon row as a fraction of H. Default: drawn in [0.45, 0.65].

    Returns:
        A :class:`SyntheticClip`.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if height < 8 or width < 8:
        raise ValueError(f"frames must be at least 8x8, got {height}x{width}")
    rng = np.random.default_rng(seed)
    # Draw every scene parameter first, in a fixed order, so giving one does not reshuffle the others.
    drawn_horizon = rng.uniform(0.45, 0.65)
    drawn_speed = rng.uniform(0.4, 1.6)
    drawn_direction = rng.uniform(-180.0, 180.0)
    drawn_time = rng.uniform(-0.06, 0.08) % 1.0
    drawn_cover = rng.uniform(-0.05, 0.25)
    sun_x = rng.uniform(0.15, 0.85)
    terrain_rng, cloud_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 2))

    horizon = drawn_horizon if horizon is None else float(horizon)
    speed_ref = drawn_speed if cloud_speed is None else float(cloud_speed)
    direction = drawn_direction if wind_direction is None else float(wind_direction)
    time0 = drawn_time if start_time is None else _resolve_time(start_time)
    cover = drawn_cover if cloud_cover is None else float(cloud_cover)

    H, W, T = height, width, num_frames
    h0 = int(min(max(round(horizon * H), 2), H - 2))
    sun_side = 1.0 if sun_x > 0.5 else -1.0

    # ---- motion: plane drift per frame that gives `speed` pixels/frame at mid-sky
    sky = _SkyPlane(H, W, h0)
    speed_px = speed_ref * W / _REFERENCE_WIDTH
    speed = speed_px / H  # in units of H per frame
    v_ref = 0.75 * float(sky.v[0, 0])  # upper sky: the fastest (top) clouds move ~1.8x cloud_speed
    angle = math.radians(direction)
    dX = speed * math.cos(angle) / v_ref  # lateral screen speed at v is dX * v
    dZ = speed * math.sin(angle) * sky.focal / v_ref**2  # vertical screen speed at v is ~ dZ * v^2 / f
    fx, fy = sky.source_pixels(dX, dZ)

    # ---- static maps
    terrain = _build_terrain(terrain_rng, H, W, h0, water, sun_side)
    rows = (torch.arange(h0, dtype=torch.float32) + 0.5).view(-1, 1)
    cols = (torch.arange(W, dtype=torch.float32) + 0.5).view(1, -1)
    height_above = (h0 - rows) / h0  # 0 at the horizon, ~1 at the top
    # Sky brightens toward the horizon within a narrow band: the colour then changes fastest where
    # the flow is smallest (flow ~ height^2), so the static gradient barely disturbs the warp there.
    gradient = (1.0 - torch.exp(-height_above.clamp(0, 1) / 0.22)) / (1.0 - math.exp(-1.0 / 0.22))
    haze_clouds = 1.0 - _smoothstep(0.0, 0.35, height_above)  # clouds dissolve into haze toward the horizon
    cloud_alpha = _smoothstep(0.0, 0.12, height_above)  # and vanish in the last rows
    glow = torch.exp(-(((cols - sun_x * W) / (0.35 * W)) ** 2) - (height_above / 0.35) ** 2)

    # ---- per-frame colours
    steps = torch.arange(T, dtype=torch.float64)
    phases = (time0 + day_cycles * steps / T) if day_cycle else torch.full((T,), time0, dtype=torch.float64)
    phases = torch.remainder(phases, 1.0)
    pal = _palette(phases)

    # ---- sky with clouds, (T, 3, h0, W)
    sun_dir = (0.08 * sun_side, 0.35)  # toward the sun: sideways and into the distance, plane units
    coverage, shade = _cloud_layers(sky, cloud_rng, T, dX, dZ, cover, sun_dir)
    sky_bg = pal["horizon"] + (pal["zenith"] - pal["horizon"]) * gradient
    sky_bg = sky_bg + pal["glow"] * pal["glow_strength"] * glow
    cloud_col = pal["shadow"] + (pal["lit"] - pal["shadow"]) * shade
    near_sun = pal["glow"] * pal["glow_strength"] * glow * 0.6  # clouds catch the sun's colour too
    cloud_col = cloud_col + near_sun
    cloud_col = cloud_col + (sky_bg - cloud_col) * (0.75 * haze_clouds)
    sky_rgb = sky_bg + (cloud_col - sky_bg) * (coverage * cloud_alpha)

    # ---- terrain colours, (T, 3, H, W)
    terrain_rgb = terrain.albedo * pal["light"]
    terrain_rgb = terrain_rgb + (pal["horizon"] * 0.9 - terrain_rgb) * terrain.haze

    cov_up = terrain.coverage[:h0]
    upper = sky_rgb + (terrain_rgb[:, :, :h0] - sky_rgb) * cov_up
    lower_rows = H - h0
    if water:
        # Mirror about the horizon line: row h0 + k shows row h0 - 1 - k.
        mirror_len = min(lower_rows, h0)
        reflected = torch.flip(upper[:, :, h0 - mirror_len:], dims=[2])
        k = torch.arange(mirror_len, dtype=torch.float32).view(-1, 1)
        # Fresnel-like: strong reflection at grazing angles (near the horizon), weaker looking down.
        reflectance = 0.82 - 0.35 * (k / max(lower_rows, 1)).clamp(0, 1)
        water_rgb = pal["water"] + (reflected * 0.92 - pal["water"]) * reflectance
        if mirror_len < lower_rows:  # never visible: the shore covers these rows (see _build_terrain)
            water_rgb = torch.cat((water_rgb, pal["water"].expand(T, 3, lower_rows - mirror_len, W)), dim=2)
    else:
        water_rgb = torch.zeros(T, 3, lower_rows, W)
    cov_low = terrain.coverage[h0:]
    lower = water_rgb + (terrain_rgb[:, :, h0:] - water_rgb) * cov_low
    frames = torch.cat((upper, lower), dim=2).clamp(0.0, 1.0) * 2.0 - 1.0

    # ---- masks and flows
    mask = (terrain.coverage < 1.0).to(torch.float32)
    # The lake mirrors mountains too: mask the sky flow first so their reflections get zero flow.
    fx = fx * mask[:h0]
    fy = fy * mask[:h0]
    flow_px = torch.zeros(2, H, W, dtype=torch.float64)
    flow_px[0, :h0] = fx
    flow_px[1, :h0] = fy
    if water:
        mirror_len = min(lower_rows, h0)
        flow_px[0, h0:h0 + mirror_len] = torch.flip(fx[h0 - mirror_len:], dims=[0])
        flow_px[1, h0:h0 + mirror_len] = -torch.flip(fy[h0 - mirror_len:], dims=[0])
    flow = flow_pixels_to_normalized(flow_px.unsqueeze(0), H, W)[0].to(torch.float32) * mask
    flows = flow.unsqueeze(0).repeat(T, 1, 1, 1)
    flows[0] = 0.0

    params = {
        "seed": seed,
        "cloud_speed": speed_px,
        "wind_direction": direction,
        "start_time": time0,
        "cloud_cover": cover,
        "water": water,
        "day_cycle": day_cycle,
        "sky_drift": (dX, dZ),
    }
    return SyntheticClip(
        frames=frames.contiguous(),
        flows=flows,
        masks=mask.view(1, 1, H, W).repeat(T, 1, 1, 1),
        horizon=h0 / H,
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
    """``num_clips`` independent clips for pre-training (a plain list, usable as a map-style Dataset).

    Each clip gets its own seed derived from ``seed``; water is on for about half of them. Keyword
    arguments go to :func:`generate_timelapse` (default ``day_cycle=False`` so flows are exact).

    Args:
        size: H = W, or (H, W).
    """
    height, width = (size, size) if isinstance(size, int) else size
    kwargs.setdefault("day_cycle", False)
    rng = np.random.default_rng(seed)
    clip_seeds = rng.integers(0, 2**31 - 1, num_clips)
    with_water = rng.random(num_clips) < 0.5
    clips = []
    for clip_seed, lake in zip(clip_seeds, with_water):
        options = {"water": bool(lake), **kwargs}
        clips.append(generate_timelapse(num_frames, height, width, seed=int(clip_seed), **options))
    return clips
