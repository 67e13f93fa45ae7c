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

Layout: the noise, the day-cycle palette and the terrain are in :mod:`cinescape.data.procedural`; this module
holds the sky (cloud plane and cloud layers) and puts the clip together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import torch

from cinescape.ops.warp import flow_pixels_to_normalized, warp

from .procedural import TIMES_OF_DAY, Fbm2D, build_terrain, lattice_noise, palette, resolve_time, smoothstep

__all__ = [
    "SyntheticClip",
    "TIMES_OF_DAY",
    "generate_timelapse",
    "generate_landscape_photo",
    "synthetic_motion_clips",
]

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
# Standard deviation of one octave of lattice_noise (uniform lattice in [-1, 1], smoothstep weights).
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
    fbm = Fbm2D(rng, octaves=8, base_freq=0.9, gain=0.6)
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
        weight = 1.0 - smoothstep(_MAX_CYCLES_PER_PX * _FADE_START, _MAX_CYCLES_PER_PX, cycles_per_px)
        live = torch.nonzero(weight.amax(dim=(0, 2)) > 0).flatten()
        if live.numel() == 0:
            break
        rows = int(live.max()) + 1  # the footprint grows toward the horizon: live rows are a prefix
        u0, v0 = fbm.coords(k, X[:rows], _CLOUD_DEPTH_SCALE * Z[:rows])
        du, dv = fbm.shift(k, dX, _CLOUD_DEPTH_SCALE * dZ)
        u = u0 - steps * du
        v = v0 - steps * dv
        amp = fbm.amps[k] * weight[:, :rows]
        density[:, :rows] += amp * lattice_noise(fbm.lattices[k], u, v)
        if k < shade_octaves:
            # The same octaves a little toward the sun: less cloud there means this side is lit.
            su, sv = fbm.shift(k, *sun_dir)
            toward_sun[:, :rows] += amp * lattice_noise(fbm.lattices[k], u + su, v + sv)
    # In units of the full fBm's standard deviation (far clouds, with fewer octaves, get flatter).
    sigma = _OCTAVE_STD * math.sqrt(sum(a * a for a in fbm.amps))
    density = density / sigma
    toward_sun = toward_sun / sigma
    # ``cover`` is the cloudy fraction of the sky: threshold at the matching normal quantile.
    threshold = NormalDist().inv_cdf(min(max(1.0 - cover, 1e-3), 1.0 - 1e-3))
    coverage = smoothstep(threshold - 0.2, threshold + 0.6, density)
    lit = (0.6 + 0.9 * (density - toward_sun)).clamp(0.0, 1.0)
    # Thick cloud is darker underneath; sunlit edges stay bright.
    thickness = smoothstep(threshold, threshold + 2.0, density)
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
    time0 = drawn_time if start_time is None else resolve_time(start_time)
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
    terrain = build_terrain(terrain_rng, H, W, h0, water, sun_side)
    rows = (torch.arange(h0, dtype=torch.float32) + 0.5).view(-1, 1)
    cols = (torch.arange(W, dtype=torch.float32) + 0.5).view(1, -1)
    height_above = (h0 - rows) / h0  # 0 at the horizon, ~1 at the top
    # Sky brightens within a band above the horizon, where the flow is small (it scales with
    # height^2), so this static gradient barely disturbs the warp.
    gradient = (1.0 - torch.exp(-height_above / 0.2)) / (1.0 - math.exp(-1.0 / 0.2))
    haze_clouds = 1.0 - smoothstep(0.0, 0.4, height_above)  # clouds fade into haze toward the horizon
    glow = torch.exp(-(((cols - sun_x * W) / (0.3 * W)) ** 2) - (height_above / 0.3) ** 2)

    # ---- per-frame colours
    steps = torch.arange(T, dtype=torch.float64)
    phases = (time0 + day_cycles * steps / T) if day_cycle else torch.full((T,), time0, dtype=torch.float64)
    phases = torch.remainder(phases, 1.0)
    pal = palette(phases)

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
        if mirror_len < lower_rows:  # hidden by the shore (see build_terrain)
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
