"""Building blocks of the procedural landscape (:mod:`cinescape.data.synthetic`, whose docstring gives the
conventions): value noise and fBm, the day-cycle palette, and the static terrain (mountains, hills, shore)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# Phase of the day cycle in [0, 1); a clip runs through one full cycle by default.
TIMES_OF_DAY = {"day": 0.0, "sunset": 0.25, "night": 0.5, "dawn": 0.8}


# --------------------------------------------------------------------------------------------- noise


def smoothstep(edge0: float, edge1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lattice_noise(lattice: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
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


class Fbm2D:
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
        return lattice_noise(self.lattices[k], *self.coords(k, x, y))

    def __call__(self, x: torch.Tensor, y: torch.Tensor, octaves: int | None = None) -> torch.Tensor:
        """fBm with its amplitudes summing to 1 (so values stay in [-1, 1])."""
        octaves = self.octaves if octaves is None else octaves
        total = sum(self.amps[k] * self.octave(k, x, y) for k in range(octaves))
        return total / sum(self.amps[:octaves])


def fbm_1d(rng: np.random.Generator, x: np.ndarray, octaves: int, base_freq: float, ridged: bool = False) -> np.ndarray:
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


def palette(phases: torch.Tensor) -> dict[str, torch.Tensor]:
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


def resolve_time(value: float | str) -> float:
    if isinstance(value, str):
        if value not in TIMES_OF_DAY:
            raise ValueError(f"unknown time of day {value!r}; use a phase in [0, 1) or one of {sorted(TIMES_OF_DAY)}")
        return TIMES_OF_DAY[value]
    return float(value) % 1.0


# ------------------------------------------------------------------------------------------- terrain


@dataclass
class Terrain:
    """Static terrain maps: ``coverage`` (H, W) in [0, 1], exactly 1 inside the terrain; ``albedo``
    (3, H, W) in [0, 1]; ``haze`` (H, W) in [0, 1], how much the pixel takes the horizon colour
    (aerial perspective)."""

    coverage: torch.Tensor
    albedo: torch.Tensor
    haze: torch.Tensor


def coverage_below(top: np.ndarray, height: int) -> np.ndarray:
    """(H, W) anti-aliased coverage of the region below the curve ``top`` (in pixels, per column)."""
    rows = np.arange(height, dtype=np.float64)[:, None] + 0.5
    return np.clip(rows - top[None, :] + 0.5, 0.0, 1.0)


def face_lighting(top: np.ndarray, rows: np.ndarray, sun_side: float) -> np.ndarray:
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


def build_terrain(rng: np.random.Generator, height: int, width: int, h0: int, water: bool, sun_side: float) -> Terrain:
    """A far rocky range with snow, a near forested ridge and, below the horizon, either a lake with
    a grassy shore in front (``water``) or fields receding to the horizon."""
    H, W = height, width
    xs = (np.arange(W, dtype=np.float64) + 0.5) / H  # x in units of H: the scene does not stretch with W
    rows = (np.arange(H, dtype=np.float64) + 0.5)[:, None]
    grid_x = torch.from_numpy(np.broadcast_to(xs[None, :], (H, W)).astype(np.float32))
    grid_y = torch.from_numpy(np.broadcast_to(rows / H, (H, W)).astype(np.float32))
    texture = Fbm2D(rng, octaves=5, base_freq=8.0)
    fine = texture(grid_x, grid_y).numpy().astype(np.float64)  # isotropic texture in about [-0.5, 0.5]
    streaks = Fbm2D(rng, octaves=4, base_freq=6.0)
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
    envelope = np.clip(1.6 * fbm_1d(rng, xs, 2, 0.7) - 0.1, 0.2, 1.0)
    crest = np.clip((fbm_1d(rng, xs, 7, rng.uniform(0.8, 1.5), ridged=True) - 0.2) / 0.65, 0.0, 1.0)
    far_height = (0.03 + rng.uniform(0.45, 0.7) * crest**1.3 * envelope) * sky_rows
    far_top = h0 - far_height
    far_cov = coverage_below(far_top, H) * above
    facing = face_lighting(far_top, rows, sun_side) + 0.35 * np.tanh(3.0 * gullies)
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
    hills = np.clip((fbm_1d(rng, xs, 6, rng.uniform(1.0, 2.0)) - 0.3) / 0.6, 0.0, 1.0)
    near_height = (0.015 + rng.uniform(0.06, 0.16) * hills**2) * sky_rows
    near_top = h0 - near_height
    near_cov = coverage_below(near_top, H) * above
    trees = 0.8 + 0.25 * np.tanh(5.0 * fine) + 0.2 * face_lighting(near_top, rows, sun_side)
    forest = np.array([0.11, 0.20, 0.12])[:, None, None] * trees[None]
    paint(near_cov, forest, np.full((H, W), 0.16))

    below = rows >= h0
    if water:
        # Grassy foreground shore with a noisy edge, low enough to leave a wide lake, and never lower
        # than the mirror image of the sky reaches (row 2 * h0).
        shore = h0 + (H - h0) * (0.68 + 0.2 * fbm_1d(rng, xs, 5, 1.2))
        shore = np.minimum(shore, 2 * h0 - 4)
        land_cov = coverage_below(shore, H) * below
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

    return Terrain(coverage=to_tensor(coverage), albedo=to_tensor(albedo), haze=to_tensor(haze))
