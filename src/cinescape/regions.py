"""Moving regions and their kinds: the fluid matte split into connected regions, each sky, waterfall, river, sea,
lake or fountain (or *still*: false water that must not move), found from what the segmenters see and the photo's
geometry, and settable by the user (a kind per region by point, or a region by mask).

Everything here works at the pipeline's working size (short side ~144 px): a :class:`RegionMap` holds an (h, w)
int32 label map (0 = no region, k = ``regions[k - 1]``) and the regions' kinds. :func:`kind_velocity` turns it into
the velocity field the Eulerian mode integrates (the learned cloud motion in the sky, the fields of
:mod:`cinescape.ops.region_flow` in the water).

How kinds are found (:func:`find_regions`, thresholds measured on the shared photos, docs/results.md "Motion by
region kind"):

- *sky*: the moving pixels the sky matte calls sky (> 0.5);
- every other connected part of the moving region is water; a part that touches no border of the photo and covers
  under :data:`MIN_ENCLOSED_WATER` of it is *still* (a dark rock or a sign top the segmenter called water);
- *waterfall*: the part holds a tall band of white water (foam: bright, unsaturated) at least
  :data:`FALL_ASPECT` times taller than wide and :data:`FALL_MIN_HEIGHT` of the photo's height;
- open water (its far edge is one flat line across about half the photo: a horizon or a far shore) is *sea* when
  the sky lies right above most of its far edge (:data:`HORIZON_SEA`: it reaches the horizon, a fetch long enough
  for wind waves, calm or not); else *lake* when calm (white water under :data:`SURF_SHARE` of it), *sea* when
  the sky lies right above part of its far edge and *river* (rapids) when land does;
- a part whose own far edge lies right under the sky over :data:`HORIZON_SEA` of its columns is a piece of the
  *sea* at the horizon (cut off from the rest by rocks), whatever its shape; the pieces of a sea share one depth
  scale (its speed holds at the nearest row of any of them);
- a small part (under :data:`MIN_ENCLOSED_WATER`) less elongated than :data:`CHANNEL_ELONGATION` is a pond:
  *lake*; any other part (a channel) is a *river*;
- in a sea whose far edge is the horizon, the rows of upright texture (vertical lines) running down to its near
  edge are land in front of it: *still* (:func:`land_in_front`);
- a sea's pixels below its last surf line are a wet beach: *still* (:func:`wet_beach`);
- in a sea whose far edge is the horizon, the parts yellower than both the sky it mirrors and water's own
  blue-green (sand, a jetty, a plaza), and the pieces of the sea they cut off from its far edge, are *still*
  (:func:`warm_land`);
- a river that meets a waterfall region (within :data:`FALL_REACH`) runs away from it where they meet below the
  fall's lip (it drains the pool the fall feeds) and into it where they meet at its top (it feeds the fall):
  gravity sets its direction (:func:`fall_fed_direction`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .errors import CinescapeError, InputImageError, OptionError
from .ops import region_flow

#: What a region can be; "still" freezes it (false water).
KINDS = ("sky", "waterfall", "river", "sea", "lake", "fountain", "still")
WATER_KINDS = ("waterfall", "river", "sea", "lake", "fountain")
#: Default speeds: px per frame at 512 px wide for the water kinds (a lake's: the largest sway of its ripples);
#: for the sky a factor on :data:`SKY_SPEED` (the learned cloud motion rescaled to that median speed).
DEFAULT_KIND_SPEEDS = {"sky": 1.0, "waterfall": 1.0, "river": 0.8, "sea": 1.5, "lake": 0.12, "fountain": 1.2,
                       "still": 0.0}
MAX_KIND_SPEED = 20.0
#: The sky's median speed, px per frame at 512 px wide, at sky speed 1: the median of the real speeds of the 17
#: shared cloud time-lapses (0.4-4.0 px per clip frame, median 1.3; docs/results.md "Motion against real footage").
#: The learned cloud motion gives the direction and pattern; its own overall speed varied 100x between photos.
SKY_SPEED = 1.3
REFERENCE_WIDTH = 512          # kind speeds are in pixels of the photo scaled to this width
MIN_ENCLOSED_WATER = 0.03      # an inner water part (touching no border) smaller than this share is still
FALL_ASPECT = 1.4              # a fall's white band: height / mean width at least this
FALL_MIN_HEIGHT = 0.12         # ... and at least this share of the photo's height
FALL_STREAKS = 0.9             # ... whose narrow rows have this much horizontal over vertical gradient energy
SURF_LINE = 0.15               # a sea's surf line: a row with white water over this share of its width
BEACH_GAP = 0.03               # below the last surf line by more than this share of the height: wet beach ...
BEACH_SMOOTH = 0.5             # ... when its detail is under this share of the water's
HORIZON_SKY = 0.15             # open water with sky right above this share of its far edge meets the horizon
HORIZON_SEA = 0.5              # open water with sky right above this share of its far edge reaches the horizon: sea
SURF_SHARE = 0.03              # open water with more white water than this share is sea (lakes: <= 2.1 %)
FLAT_EDGE_ROWS = 0.03          # open water: its far edge within this share of the height of one row ...
FLAT_EDGE_WIDTH = 0.45         # ... across at least this share of the width
MAX_KIND_SPECS = 64            # user kind specs per call (bounded input)
UPRIGHT_COHERENCE = 0.47       # a band of a sea is upright (land in front of it) when its vertical lines ...
UPRIGHT_ENERGY = 4e-3          # ... carry this much energy (Sobel of [0, 1] luminance at 512 px, squared) ...
UPRIGHT_BANDS = 3              # ... in at least this many bands in a row down to the sea's near edge
UPRIGHT_BAND = 12              # band height and ...
UPRIGHT_RUN = 9                # ... vertical run of a line, in rows of the photo at REFERENCE_WIDTH
CHANNEL_ELONGATION = 1.5       # a small water part less elongated than this is a pond (lake), not a channel
WARM_MARGIN = 15.0             # a sea's pixels yellower (CIELAB b*) than anything it mirrors by this are land ...
MIN_WARM_LAND = 0.001          # ... in parts of at least this share of the photo
FALL_REACH = 0.04              # a river within this share of the width of a waterfall region is fed by it or feeds it
FALL_LIP_SHARE = 0.25          # ... feeding it when they meet within this share of the fall's height below its top


@dataclass
class Region:
    """One moving region: ``index`` (its label in :attr:`RegionMap.labels`), ``kind`` (:data:`KINDS`), ``area``
    (share of the photo), ``box`` (x0, y0, x1, y1) and ``centroid`` (x, y) in working-size pixels, ``source``
    ("auto", "point" or "mask": who set the kind), ``direction`` (degrees, image axes: 0 = right, 90 = down;
    None = the kind's own) and ``why`` (the evidence, for people)."""

    index: int
    kind: str
    area: float
    box: tuple[int, int, int, int]
    centroid: tuple[float, float]
    source: str = "auto"
    direction: float | None = None
    why: str = ""
    near: float | None = None     # a sea's row (working px) where its speed holds (None: its lowest row)


@dataclass
class RegionMap:
    """The moving regions of one photo at working size: ``labels`` (h, w) int32 (0 = none, k = ``regions[k-1]``),
    ``regions``, ``photo_size`` (H, W) of the full-resolution photo (user points are in its pixels) and the
    working-size photo's ``luminance`` (h, w) in [0, 1] (None: unknown; a waterfall then pours from its top only)."""

    labels: np.ndarray
    regions: list[Region] = field(default_factory=list)
    photo_size: tuple[int, int] | None = None
    luminance: np.ndarray | None = None   # (h, w) the working-size photo's brightness (a fall's lips; optional)
    sky_matte: bool = True                # whether a sky matte found the sky (else the sky keeps the learned speed)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.labels.shape)

    def kind_map(self) -> np.ndarray:
        """(h, w) object array of kind names ('' outside every region)."""
        names = np.array([""] + [region.kind for region in self.regions], dtype=object)
        return names[self.labels]

    def at(self, x: float, y: float, radius: int = 2) -> Region | None:
        """The region under the photo pixel (x, y) (the nearest within ``radius`` working pixels), else None."""
        h, w = self.size
        height, width = self.photo_size or (h, w)
        col = min(w - 1, int(x * w / width))
        row = min(h - 1, int(y * h / height))
        window = self.labels[max(0, row - radius):row + radius + 1, max(0, col - radius):col + radius + 1]
        label = self.labels[row, col] or (int(np.bincount(window[window > 0]).argmax()) if (window > 0).any() else 0)
        return self.regions[label - 1] if label else None

    def describe(self) -> str:
        """One line per region: index, kind, share of the photo, centroid in photo pixels and the evidence."""
        h, w = self.size
        height, width = self.photo_size or (h, w)
        return "\n".join(f"{r.index}: {r.kind} ({100 * r.area:.1f}% of the photo, around "
                         f"{r.centroid[0] * width / w:.0f},{r.centroid[1] * height / h:.0f}; {r.source}: {r.why})"
                         for r in self.regions)


# ------------------------------------------------------------------------------------------ user kinds


@dataclass(frozen=True)
class KindPoint:
    """A kind for the region under a photo pixel: ``kind``, ``x``, ``y`` (photo pixels), optional ``direction``
    (degrees, 0 = right, 90 = down) and ``speed`` (the kind's units, :data:`DEFAULT_KIND_SPEEDS`)."""

    kind: str
    x: float
    y: float
    direction: float | None = None


@dataclass(frozen=True)
class KindMask:
    """A region drawn by the user: ``kind`` and ``mask`` (any size, (H, W) float32 in [0, 1]; > 0.5 is in)."""

    kind: str
    mask: np.ndarray


def _check_kind(kind: str, what: str) -> str:
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise OptionError(f"{what}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    return kind


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise OptionError(f"{what}: {text.strip()!r} is not a finite number")
    return value


def parse_kind_point(text: str) -> KindPoint:
    """``"KIND@X,Y"`` or ``"KIND@X,Y,DEG"`` (photo pixels; DEG the flow direction, 0 = right, 90 = down).

    Example:
        >>> parse_kind_point("waterfall@640,300")
        KindPoint(kind='waterfall', x=640.0, y=300.0, direction=None)
    """
    what = f"--kind {text!r}"
    match = re.fullmatch(r"\s*([A-Za-z]+)\s*@\s*([^,]+),([^,]+)(?:,([^,]+))?\s*", str(text))
    if not match:
        raise OptionError(f"{what}: expected KIND@X,Y or KIND@X,Y,DEGREES, e.g. waterfall@640,300")
    kind = _check_kind(match[1], what)
    x, y = _finite(match[2], what), _finite(match[3], what)
    direction = None if match[4] is None else _finite(match[4], what)
    return KindPoint(kind, x, y, direction)


def parse_kind_mask(text: str) -> KindMask:
    """``"KIND:PATH"``: the white pixels of the image at PATH (any size) form one region of KIND."""
    from .io.image import load_image

    kind, sep, path = str(text).partition(":")
    what = f"--kind-mask {text!r}"
    if not sep or not path.strip():
        raise OptionError(f"{what}: expected KIND:MASK.png, e.g. waterfall:fall.png")
    kind = _check_kind(kind, what)
    try:
        image = load_image(path.strip(), min_side=1)
    except InputImageError as exc:
        raise InputImageError(f"--kind-mask: {exc}") from None
    return KindMask(kind, (image.astype(np.float32).mean(-1) / 255.0).astype(np.float32))


def parse_kind_speeds(speeds: dict | str | list | None) -> dict[str, float]:
    """The per-kind speeds: :data:`DEFAULT_KIND_SPEEDS` updated from a dict ``{kind: speed}``, a string
    ``"waterfall=2,sea=0.3"`` or a list of ``"KIND=SPEED"`` strings; each finite, 0..:data:`MAX_KIND_SPEED`.

    Example:
        >>> parse_kind_speeds("waterfall=2, lake=0")["waterfall"], parse_kind_speeds(None)["sea"]
        (2.0, 1.5)
    """
    out = dict(DEFAULT_KIND_SPEEDS)
    if speeds is None:
        return out
    if isinstance(speeds, str):
        speeds = [part for part in speeds.split(",") if part.strip()]
    items = speeds.items() if isinstance(speeds, dict) else []
    if not isinstance(speeds, dict):
        pairs = []
        for part in speeds:
            name, sep, value = str(part).partition("=")
            if not sep:
                raise OptionError(f"--kind-speed {part!r}: expected KIND=SPEED, e.g. waterfall=2")
            pairs.append((name, value))
        items = pairs
    for name, value in items:
        what = f"--kind-speed {name}={value}"
        kind = _check_kind(str(name), what)
        speed = _finite(str(value), what) if isinstance(value, str) else float(value)
        if not (math.isfinite(speed) and 0 <= speed <= MAX_KIND_SPEED):
            raise OptionError(f"{what}: the speed must be finite, between 0 and {MAX_KIND_SPEED:g}")
        out[kind] = speed
    return out


def parse_kinds(kinds) -> list[KindPoint | KindMask]:
    """User kinds as given to ``AnimationSettings.kinds``: None, one item or a list of :class:`KindPoint`,
    :class:`KindMask`, ``"KIND@X,Y[,DEG]"`` or ``"KIND:MASK.png"`` strings (the mask form when no ``@``)."""
    if kinds is None:
        return []
    items = [kinds] if isinstance(kinds, (str, KindPoint, KindMask)) else list(kinds)
    if len(items) > MAX_KIND_SPECS:
        raise OptionError(f"at most {MAX_KIND_SPECS} kinds per photo, got {len(items)}")
    out = []
    for item in items:
        if isinstance(item, (KindPoint, KindMask)):
            _check_kind(item.kind, "kind")
            out.append(item)
        elif isinstance(item, str) and "@" in item:
            out.append(parse_kind_point(item))
        elif isinstance(item, str):
            out.append(parse_kind_mask(item))
        else:
            raise OptionError(f"a kind is 'KIND@X,Y' or 'KIND:MASK.png', got {type(item).__name__}")
    return out


# ------------------------------------------------------------------------------------------ finding kinds


def _white_water(photo: np.ndarray) -> np.ndarray:
    """(h, w) bool: foam, bright and unsaturated, relative to the photo's own brightness."""
    lum = photo.mean(-1)
    sat = photo.max(-1) - photo.min(-1)
    bright = max(0.55, float(np.quantile(lum, 0.85)))
    return (lum >= bright) & (sat < 0.22)


def _fall_band(part: np.ndarray, white: np.ndarray, lum: np.ndarray) -> tuple[bool, str]:
    """Whether a water part holds a waterfall: a band of white water much taller than wide (its height over the
    median width of its rows) whose texture runs down it (vertical streaks: horizontal gradient energy at least
    :data:`FALL_STREAKS` of the vertical one, in the band's narrow rows, above the pool's wide foam)."""
    h = part.shape[0]
    count, labels, stats, _ = cv2.connectedComponentsWithStats((part & white).astype(np.uint8), connectivity=8)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) ** 2
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) ** 2
    best = (0.0, 0.0, 0.0)
    for k in range(1, count):
        height = stats[k, cv2.CC_STAT_HEIGHT]
        if height < FALL_MIN_HEIGHT * h:
            continue
        band = labels == k
        rows = band.sum(1)
        width = max(float(np.median(rows[rows > 0])), 1.0)
        aspect = height / width
        # the falling rows: not the pool's wide foam at the foot
        falling = band & (rows <= 1.2 * width)[:, None]
        streaks = float(gx[falling].sum() / max(gy[falling].sum(), 1e-9))
        if aspect >= FALL_ASPECT and streaks > best[2]:
            best = (aspect, height / h, streaks)
    found = best[0] >= FALL_ASPECT and best[2] >= FALL_STREAKS
    return found, (f"white band {best[0]:.1f}x taller than wide over {100 * best[1]:.0f}% of the height, "
                   f"streaks {best[2]:.1f}")


def _far_edge(part: np.ndarray) -> tuple[bool, float, str]:
    """Whether a water part is open water and its far edge's row: open when the topmost rows of its columns lie
    within :data:`FLAT_EDGE_ROWS` of the photo's height of their median across at least :data:`FLAT_EDGE_WIDTH` of
    the photo's width (a horizon or a far shore; a beach or a bank may bend the rest)."""
    h, w = part.shape
    cols = np.nonzero(part.any(0))[0]
    if not len(cols):
        return False, 0.0, "empty"
    tops = part[:, cols].argmax(0).astype(np.float64)
    row = float(np.median(tops))
    flat = float(np.sum(np.abs(tops - row) <= FLAT_EDGE_ROWS * h)) / w
    return flat >= FLAT_EDGE_WIDTH, row, f"flat far edge across {100 * flat:.0f}% of the width"


def classify_water(part: np.ndarray, photo: np.ndarray, white: np.ndarray | None = None,
                   horizon: float = 0.0, sky: np.ndarray | None = None) -> tuple[str, str]:
    """The kind of one connected water part (h, w) bool of a working-size photo (h, w, 3) in [0, 1], and why
    (see the module docstring); ``horizon``: the share of the photo's water whose far edge lies right under the
    sky (:func:`sky_above`); ``sky`` (h, w) bool: the sky, for a part's own far edge (None: not looked at)."""
    h, w = part.shape
    white = _white_water(photo) if white is None else white
    touches = part[0].any() or part[-1].any() or part[:, 0].any() or part[:, -1].any()
    area = float(part.mean())
    if not touches and area < MIN_ENCLOSED_WATER:
        return "still", f"enclosed, {100 * area:.1f}% of the photo: not water"
    fall, why = _fall_band(part, white, np.asarray(photo, np.float32).mean(-1))
    if fall:
        return "waterfall", why
    is_open, _, edge = _far_edge(part)
    surf = float(white[part].mean())
    if is_open:
        if horizon >= HORIZON_SEA:   # water out to the horizon: a fetch long enough for wind waves, calm or not
            return "sea", f"{edge}, {100 * horizon:.0f}% under the sky: the horizon; surf {100 * surf:.1f}%"
        if surf < SURF_SHARE:
            return "lake", f"{edge}, {100 * horizon:.0f}% under the sky; surf {100 * surf:.1f}%"
        if horizon >= HORIZON_SKY:
            return "sea", f"{edge}, {100 * horizon:.0f}% under the sky; surf {100 * surf:.1f}%"
        return "river", f"{edge} under land; white water {100 * surf:.1f}%: rapids"
    own = sky_above(part, sky)
    if own >= HORIZON_SEA:   # not open across the photo, but its far edge is the horizon: a piece of the sea
        return "sea", f"{edge}, {100 * own:.0f}% of its far edge under the sky: a piece of the sea at the horizon"
    stretch = elongation(part)
    if area < MIN_ENCLOSED_WATER and stretch < CHANNEL_ELONGATION:   # water that runs is a long channel
        return "lake", f"a small compact part ({100 * area:.1f}%, {stretch:.1f}x as long as wide): a pond, not a channel"
    return "river", f"a channel ({edge})"


def sky_above(part: np.ndarray, sky: np.ndarray | None, reach: float = 0.06) -> float:
    """The share of a part's columns whose topmost pixel has sky within ``reach`` of the height above it.

    Example:
        >>> sky = np.zeros((10, 4), bool); sky[:3, :2] = True
        >>> water = np.zeros((10, 4), bool); water[3:] = True
        >>> sky_above(water, sky, reach=0.1)
        0.5
    """
    if sky is None or not sky.any():
        return 0.0
    h = part.shape[0]
    cols = np.nonzero(part.any(0))[0]
    if not len(cols):
        return 0.0
    tops = part[:, cols].argmax(0)
    gap = max(1, int(reach * h))
    near = [sky[max(0, top - gap):top, col].any() for top, col in zip(tops, cols)]
    return float(np.mean(near))


def swash_line(part: np.ndarray, white: np.ndarray, last: int) -> np.ndarray:
    """Per column of a sea ``part`` (h, w) bool, the row of its swash line: the straight line along the lowest white
    water of its columns (white water down to the row ``last``), fitted to their lower envelope (a column whose foam near the shore
    is not white, sunlit glitter, lies above it and is left out). A straight beach seen at an angle slants across
    the picture; without foam in at least two columns, the row ``last`` everywhere.

    Example:
        >>> part = np.ones((30, 20), bool); white = np.zeros_like(part)
        >>> white[20 - np.arange(20) // 2, np.arange(20)] = True                # a slanting swash line
        >>> white[5, 8:12] = True; white[20 - np.arange(8, 12) // 2, np.arange(8, 12)] = False   # glitter there
        >>> swash_line(part, white, 25)[[0, 10, 19]].round().tolist()
        [20.0, 15.0, 11.0]
    """
    h, w = part.shape
    rows = np.arange(h)[:, None]
    foam = part & white & (rows <= last)
    cols = np.nonzero(foam.any(0))[0]
    if len(cols) < 2:
        return np.full(w, float(last))
    lowest = (h - 1 - np.argmax(foam[::-1, cols], axis=0)).astype(np.float64)
    keep = np.ones(len(cols), bool)
    for _ in range(5):   # the lower envelope: drop the columns well above the line, refit
        slope, offset = np.polyfit(cols[keep], lowest[keep], 1)
        residual = lowest - (slope * cols + offset)
        spread = max(1.0, float(np.median(np.abs(residual[keep]))))
        new = residual >= -2.0 * spread
        if new.sum() < 2 or (new == keep).all():
            break
        keep = new
    return np.clip(slope * np.arange(w) + offset, 0.0, h - 1.0)


def wet_beach(part: np.ndarray, white: np.ndarray, lum: np.ndarray | None = None,
              min_area: float = 0.01) -> np.ndarray | None:
    """The wet beach of a sea part: when its pixels more than :data:`BEACH_GAP` of the height below its lowest surf
    line (the lowest row whose white water covers :data:`SURF_LINE` of the part's row) cover at least ``min_area``
    of the photo and are smooth (their detail in the luminance ``lum`` under :data:`BEACH_SMOOTH` of the water's
    above), its pixels below the swash line (:func:`swash_line`, along the lowest white water); else None. The segmenter
    calls wet sand that mirrors the sky sea; waves break on the surf line and run up to the swash line, which
    follows the shore (a beach seen at an angle slants across the picture), not over the sand beyond it in a loop.

    Example:
        >>> part = np.zeros((40, 10), bool); part[10:] = True
        >>> white = np.zeros_like(part); white[24] = True
        >>> lum = np.zeros((40, 10), np.float32); lum[10:24:2] = 1.0      # ripples above the line, flat sand below
        >>> int(wet_beach(part, white, lum).nonzero()[0].min())
        26
    """
    h = part.shape[0]
    width = part.sum(1)
    share = np.where(width > 0, (part & white).sum(1) / np.maximum(width, 1), 0.0)
    lines = np.nonzero(share >= SURF_LINE)[0]
    if not len(lines):
        return None
    last = int(lines.max() + BEACH_GAP * h)
    below = np.arange(h)[:, None] > last
    beach = part & below
    if beach.mean() < min_area or lum is None:
        return None
    # sand is smooth: its detail (mean |Laplacian|) well under the water's above the surf line
    detail = np.abs(cv2.Laplacian(lum.astype(np.float32), cv2.CV_32F, ksize=3))
    water = part & ~below
    smooth = float(detail[beach].mean()) / max(float(detail[water].mean()), 1e-9) if water.any() else 1.0
    if smooth >= BEACH_SMOOTH:
        return None
    # the beach found, it starts at the swash line, which may slant above the lowest surf line
    beach = part & (np.arange(h)[:, None] > np.round(swash_line(part, white, last))[None, :] + 1)
    return beach if beach.mean() >= min_area else None


def reference_luminance(detail: np.ndarray) -> np.ndarray:
    """A photo's luminance resized to :data:`REFERENCE_WIDTH` wide, the scale at which the texture thresholds
    hold: (H', 512) float32 in [0, 1] from an (H, W) or (H, W, 3) array, uint8 (0-255) or float in [0, 1]
    (resized before any float copy: a 24 MP photo costs no full-size float array).

    Example:
        >>> reference_luminance(np.full((100, 1024, 3), 255, np.uint8)).shape, float(reference_luminance(np.ones((8, 16))).max())
        ((50, 512), 1.0)
    """
    detail = np.asarray(detail)
    height = max(1, round(detail.shape[0] * REFERENCE_WIDTH / detail.shape[1]))
    shrink = cv2.INTER_AREA if detail.shape[1] > REFERENCE_WIDTH else cv2.INTER_LINEAR
    source = detail if detail.dtype == np.uint8 else detail.astype(np.float32)
    small = cv2.resize(np.ascontiguousarray(source), (REFERENCE_WIDTH, height), interpolation=shrink)
    lum = small.astype(np.float32) / (255.0 if detail.dtype == np.uint8 else 1.0)
    return lum.mean(-1) if lum.ndim == 3 else lum


def upright_bands(part: np.ndarray, lum: np.ndarray) -> list[tuple[int, float, float]]:
    """The vertical-line texture of a water ``part`` (h, w) bool (any size) in bands of :data:`UPRIGHT_BAND` rows of
    ``lum`` (H', 512) float32 in [0, 1] (:func:`reference_luminance`): per band from the part's top, (first row in
    ``lum``, coherence, energy). A vertical line keeps the sign of its horizontal gradient gx down a column:
    coherence = sum(m^2) / sum(mean of gx^2 over the run), m the mean of gx over :data:`UPRIGHT_RUN` rows (1 for
    perfect vertical lines, ~1/run for isotropic texture, horizontal lines add no gx at all); energy = mean m^2.
    Bands with under 48 of the part's pixels and the image's last rows (the run would leave it) are left out.

    Example:
        >>> lum = np.zeros((60, 512), np.float32); lum[30:, ::8] = 1.0          # posts below row 30
        >>> part = np.ones((60, 512), bool)
        >>> [(row, round(c, 2)) for row, c, _ in upright_bands(part, lum)]   # band 24: posts in its lower half
        [(0, 0.0), (12, 0.0), (24, 0.79), (36, 1.0), (48, 1.0)]
    """
    height = lum.shape[0]
    inside = cv2.resize(part.astype(np.uint8), (lum.shape[1], height), interpolation=cv2.INTER_NEAREST) > 0
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    run = cv2.blur(gx, (1, UPRIGHT_RUN), borderType=cv2.BORDER_CONSTANT)
    power = cv2.blur(gx * gx, (1, UPRIGHT_RUN), borderType=cv2.BORDER_CONSTANT)
    rows = np.nonzero(inside.any(1))[0]
    bands = []
    if not len(rows):
        return bands
    last = height - UPRIGHT_RUN // 2 - 1
    for top in range(int(rows[0]), int(rows[-1]) + 1, UPRIGHT_BAND):
        band = inside[top:min(top + UPRIGHT_BAND, last)]
        if band.sum() < 48:
            continue
        m = run[top:top + band.shape[0]][band]
        coherence = float((m * m).sum() / max(float(power[top:top + band.shape[0]][band].sum()), 1e-12))
        bands.append((top, coherence, float((m * m).mean())))
    return bands


def land_in_front(part: np.ndarray, lum: np.ndarray) -> np.ndarray | None:
    """The land in front of a sea: the pixels of a sea ``part`` (h, w) bool from the first of at least
    :data:`UPRIGHT_BANDS` consecutive *upright* bands (:func:`upright_bands`: coherence >= :data:`UPRIGHT_COHERENCE`
    and energy >= :data:`UPRIGHT_ENERGY`) that run down to the part's near edge; else None. Water below the horizon
    has horizontal texture (waves foreshortened into lines along the rows) and mirrors what stands above its far
    edge; a sea's far edge is the horizon, with only sky above it, so it has nothing upright to mirror: vertical
    lines in it are buildings and trunks standing in front of it (a town or a treeline the segmenter took for sea).

    Example:
        >>> lum = np.zeros((120, 512), np.float32); lum[60:, ::8] = 1.0       # a town below row 60
        >>> part = np.zeros((36, 144), bool); part[6:] = True
        >>> land = land_in_front(part, lum)
        >>> int(np.nonzero(land.any(1))[0].min()), int(land.sum()) == int(part[17:].sum())   # the town: row 18
        (17, True)
    """
    bands = upright_bands(part, lum)
    start = None
    for top, coherence, energy in reversed(bands):   # from the near edge up
        if coherence < UPRIGHT_COHERENCE or energy < UPRIGHT_ENERGY:
            break
        start = top if start is None or top < start else start
        count = sum(1 for row, _, _ in bands if row >= start)
    if start is None or count < UPRIGHT_BANDS:
        return None
    h = part.shape[0]
    first = int(math.ceil(start * h / lum.shape[0]))
    land = part & (np.arange(h)[:, None] >= first)
    return land if land.any() else None


def warm_land(part: np.ndarray, photo: np.ndarray, sky: np.ndarray | None, margin: float = WARM_MARGIN,
              min_area: float = MIN_WARM_LAND) -> np.ndarray | None:
    """The land inside a sea ``part`` (h, w) bool whose far edge is the horizon, by colour: (h, w) bool or None.
    Water shows the sky it mirrors and its own colour, blue to green (CIELAB b* <= 0); a sea at the horizon has
    nothing but sky to mirror. Its pixels whose b* (of ``photo`` (h, w, 3) RGB in [0, 1]) exceeds both the sky's
    99th percentile (``sky`` (h, w) bool; None or empty: 0) and 0 by ``margin`` are sand, earth or stone (a dry
    beach, a jetty, a promenade); closed over 5 x 5 pixels (umbrellas and people on the sand) and kept in parts of
    at least ``min_area`` of the photo. The pieces of the sea this land cuts off from its far edge (its topmost
    row, 2 pixels deep) are land too (water is one body with the sea).

    Example:
        >>> photo = np.zeros((40, 30, 3), np.float32); photo[..., 2] = 0.6           # blue water ...
        >>> photo[28:] = (0.8, 0.7, 0.4)                                             # ... and sand below row 28
        >>> photo[36:, 10:20] = (0.3, 0.3, 0.3)                                      # a grey plaza on the sand
        >>> part = np.zeros((40, 30), bool); part[10:] = True
        >>> sky = np.zeros_like(part); sky[:10] = True
        >>> land = warm_land(part, photo, sky)
        >>> int(land.nonzero()[0].min()), bool(land[36:].all()), bool(land[10:28].any())
        (28, True, False)
    """
    part = np.asarray(part, bool)
    h, w = part.shape
    b = cv2.cvtColor(np.ascontiguousarray(photo, np.float32), cv2.COLOR_RGB2Lab)[..., 2]
    mirrored = float(np.quantile(b[sky], 0.99)) if sky is not None and sky.any() else 0.0
    warm = (part & (b > max(mirrored, 0.0) + margin)).astype(np.uint8)
    if not warm.any():
        return None
    warm = cv2.morphologyEx(warm, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    count, parts, stats, _ = cv2.connectedComponentsWithStats((warm & part).astype(np.uint8), connectivity=8)
    keep = np.concatenate(([False], stats[1:, cv2.CC_STAT_AREA] >= min_area * h * w))
    land = keep[parts]
    if not land.any():
        return None
    top = int(np.nonzero(part.any(1))[0].min())
    count, pieces = cv2.connectedComponents((part & ~land).astype(np.uint8), connectivity=4)
    joined = np.unique(pieces[top:top + 2][pieces[top:top + 2] > 0])
    land |= part & ~land & ~np.isin(pieces, joined)
    return land


def elongation(part: np.ndarray) -> float:
    """How elongated a part (h, w) bool is: the square root of the ratio of its pixel coordinates' principal
    variances (1 for a disc or a square; sqrt((L^2 - 1) / (W^2 - 1)) for a band of L x W pixels); 1 for fewer
    than 3 pixels.

    Example:
        >>> band = np.zeros((20, 40), bool); band[8:12, :] = True
        >>> round(elongation(band), 2), round(float(np.sqrt((40**2 - 1) / (4**2 - 1))), 2), elongation(np.ones((9, 9), bool))
        (10.32, 10.32, 1.0)
    """
    ys, xs = np.nonzero(part)
    if len(ys) < 3:
        return 1.0
    low, high = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))
    return float(math.sqrt(high / max(low, 1e-9)))


def fall_fed_direction(river: np.ndarray, fall: np.ndarray, reach: float = FALL_REACH,
                       lip: float = FALL_LIP_SHARE) -> tuple[float, bool] | None:
    """Which way a ``river`` (h, w) bool runs when it meets a ``fall`` (h, w) bool (a waterfall region): None when
    no river pixel lies within ``reach`` of the image's width of the fall; else ``(degrees, drains)``, the direction
    (image axes: 0 = right, 90 = down) from where they meet to the river's centroid when they meet more than
    ``lip`` of the fall's height below its top (the river drains the pool the fall feeds: ``drains`` True), and the
    opposite when they meet at its top (the river feeds the fall: False). Where they meet: the river's pixels
    within ``reach`` of the fall, and the fall's within ``reach`` of the river (whose mean row is compared).

    Example:
        >>> fall = np.zeros((40, 60), bool); fall[0:30, 10:20] = True            # a fall, its pool at rows 20-30
        >>> river = np.zeros_like(fall); river[24:30, 21:60] = True               # leaving the pool to the right
        >>> fall_fed_direction(river, fall)
        (0.0, True)
        >>> river = np.zeros_like(fall); river[0:4, 21:60] = True; fall_fed_direction(river, fall)   # at the lip
        (180.0, False)
    """
    river, fall = np.asarray(river, bool), np.asarray(fall, bool)
    if not river.any() or not fall.any():
        return None
    near = max(1.0, reach * river.shape[1])
    to_fall = cv2.distanceTransform((~fall).astype(np.uint8), cv2.DIST_L2, 5)
    to_river = cv2.distanceTransform((~river).astype(np.uint8), cv2.DIST_L2, 5)
    meet_river, meet_fall = river & (to_fall <= near), fall & (to_river <= near)
    if not meet_river.any() or not meet_fall.any():
        return None
    rows = np.nonzero(fall)[0]
    drains = bool(float(np.nonzero(meet_fall)[0].mean()) > rows.min() + lip * (rows.max() - rows.min() + 1))
    ys, xs = np.nonzero(river)
    my, mx = np.nonzero(meet_river)
    dx, dy = xs.mean() - mx.mean(), ys.mean() - my.mean()
    if not drains:
        dx, dy = -dx, -dy
    return float(math.degrees(math.atan2(dy, dx))) % 360.0, drains


def _region(index: int, kind: str, pixels: np.ndarray, source: str, why: str,
            direction: float | None = None) -> Region:
    ys, xs = np.nonzero(pixels)
    return Region(index, kind, float(pixels.mean()), (int(xs.min()), int(ys.min()), int(xs.max()) + 1,
                                                       int(ys.max()) + 1),
                  (float(xs.mean()), float(ys.mean())), source, direction, why)


def _carve_still(part: np.ndarray, still: np.ndarray | None, regions: list[Region], labels: np.ndarray,
                 why: str) -> np.ndarray:
    """Append ``still`` (h, w) bool (None: nothing) as a still region (labelled in ``labels``) and return ``part``
    without it."""
    if still is None or not still.any():
        return part
    regions.append(_region(len(regions) + 1, "still", still, "auto", why))
    labels[still] = len(regions)
    return part & ~still


def find_regions(photo: np.ndarray, moving: np.ndarray, sky: np.ndarray | None = None, *,
                 photo_size: tuple[int, int] | None = None, min_area: float = 0.002,
                 detail: np.ndarray | None = None) -> RegionMap:
    """Split the moving region of a working-size photo into regions with kinds (module docstring).

    Args:
        photo: (h, w, 3) float in [0, 1].
        moving: (h, w) float in [0, 1], the fluid matte at working size (> 0.5 moves).
        sky: (h, w) float in [0, 1], the sky matte at working size (> 0.5 is sky); None: no sky.
        photo_size: (H, W) of the full-resolution photo (user points are in its pixels).
        min_area: parts under this share of the photo join no region (they keep the learned motion).
        detail: the photo at any resolution ((H, W) or (H, W, 3), uint8 or in [0, 1]; the full-resolution one is best), for
            the texture of its seas (:func:`land_in_front`); None: ``photo`` itself.

    Example:
        >>> photo = np.zeros((40, 60, 3), np.float32); moving = np.zeros((40, 60), np.float32)
        >>> moving[:15] = 1; moving[25:] = 1; sky = np.zeros_like(moving); sky[:15] = 1
        >>> [r.kind for r in find_regions(photo, moving, sky).regions]
        ['sky', 'lake']
    """
    h, w = moving.shape
    inside = moving > 0.5
    # without a sky matte nothing tells sky from water: every part keeps the learned motion ("sky")
    is_sky = inside & (sky > 0.5) if sky is not None else inside
    white = _white_water(np.asarray(photo, np.float32))
    horizon = sky_above(inside & ~is_sky, is_sky) if sky is not None else 0.0
    labels = np.zeros((h, w), np.int32)
    regions: list[Region] = []
    reference = None   # the photo's luminance at REFERENCE_WIDTH, made when a sea needs it
    for mask, water in ((is_sky, False), (inside & ~is_sky, True)):
        count, parts = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        for k in range(1, count):
            part = parts == k
            if part.mean() < min_area:
                continue
            kind, why = classify_water(part, photo, white, horizon, is_sky if sky is not None else None) if water else (
                "sky", "the sky matte" if sky is not None else "no sky matte: the learned motion")
            near = None
            if kind == "sea" and horizon >= HORIZON_SEA:
                reference = reference_luminance(photo if detail is None else detail) if reference is None else reference
                land = land_in_front(part, reference)
                if land is not None:   # a town or treeline in front of the sea: still, the sea's depth unchanged
                    near = float(np.nonzero(part)[0].max())
                part = _carve_still(part, land, regions, labels, "upright texture in front of the sea (buildings, trees)")
                # a dry beach, a jetty: land the segmenter took for sea
                part = _carve_still(part, warm_land(part, photo, is_sky) if part.any() else None, regions, labels,
                                    "yellower than the sky it mirrors: sand or stone")
                if not part.any():
                    continue
            # the wet sand below the last surf line mirrors the sky but does not move
            beach = wet_beach(part, white, np.asarray(photo, np.float32).mean(-1)) if kind == "sea" else None
            part = _carve_still(part, beach, regions, labels, "wet beach below the surf")
            regions.append(_region(len(regions) + 1, kind, part, "auto", why))
            regions[-1].near = near
            labels[part] = len(regions)
    falls = [region for region in regions if region.kind == "waterfall"]
    for region in regions:   # a river at a fall: gravity sets which way it runs
        if region.kind == "river" and falls:
            fed = [(fall_fed_direction(labels == region.index, labels == fall.index), fall) for fall in falls]
            fed = [(found, fall) for found, fall in fed if found is not None]
            if fed:
                (direction, drains), fall = fed[0]
                region.direction = direction
                region.why += (f"; drains the pool of waterfall {fall.index}" if drains else
                               f"; feeds waterfall {fall.index} at its lip")
    seas = [region for region in regions if region.kind == "sea"]
    if len(seas) > 1:   # pieces of one sea (cut by rocks or headlands) share its depth: its speed holds at its nearest
        deepest = max(region.box[3] - 1.0 if region.near is None else region.near for region in seas)
        for region in seas:
            region.near = deepest
    return RegionMap(labels, regions, photo_size or (h, w), np.asarray(photo, np.float32).mean(-1), sky is not None)


def apply_user_kinds(regions: RegionMap, kinds: list[KindPoint | KindMask], moving: np.ndarray) -> RegionMap:
    """``regions`` with the user's kinds: each :class:`KindMask` carves a new region (its white pixels that move,
    ``moving`` (h, w) > 0.5), then each :class:`KindPoint` sets the kind (and direction) of the region under it.
    A point outside the photo or on no moving region is an :class:`~cinescape.errors.OptionError`."""
    labels = regions.labels.copy()
    out = [Region(**vars(region)) for region in regions.regions]
    height, width = regions.photo_size or regions.size
    h, w = regions.size
    for item in kinds:
        if isinstance(item, KindMask):
            mask = cv2.resize(np.asarray(item.mask, np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
            mask &= moving > 0.5
            if not mask.any():
                raise OptionError(f"--kind-mask {item.kind}: the mask covers no moving pixel of the photo")
            out.append(_region(len(out) + 1, item.kind, mask, "mask", "drawn by the user"))
            labels[mask] = len(out)
    # carving may leave a region empty: drop it and renumber
    keep = [r for r in out if (labels == r.index).any()]
    renumber = np.zeros(len(out) + 1, np.int32)
    for new, region in enumerate(keep, 1):
        renumber[region.index] = new
        region.index = new
    labels = renumber[labels]
    result = RegionMap(labels, keep, (height, width), regions.luminance, regions.sky_matte)
    for item in kinds:
        if isinstance(item, KindPoint):
            if not (0 <= item.x < width and 0 <= item.y < height):
                raise OptionError(f"--kind {item.kind}@{item.x:g},{item.y:g}: the point is outside the photo "
                                  f"({width}x{height})")
            region = result.at(item.x, item.y)
            if region is None:
                raise OptionError(f"--kind {item.kind}@{item.x:g},{item.y:g}: no moving region there (regions: "
                                  + "; ".join(result.describe().splitlines()) + ")")
            region.kind, region.source, region.direction = item.kind, "point", item.direction
            region.why = "set by the user"
    return result


# ------------------------------------------------------------------------------------------ motion per kind


def _direction_vector(degrees: float) -> tuple[float, float]:
    return math.cos(math.radians(degrees)), math.sin(math.radians(degrees))


def water_field(region: Region, pixels: np.ndarray, speed: float, seed: int = 0,
                luminance: np.ndarray | None = None) -> np.ndarray:
    """The forward velocity (h, w, 2), working pixels per frame, of one water region of kind ``region.kind``
    whose pixels are ``pixels`` (h, w) bool; ``speed`` in working pixels per frame; ``luminance`` (h, w) the
    photo's brightness (a waterfall region's separate falls each pour from their own lip; None: from its top)."""
    kind = region.kind
    if kind == "waterfall":
        # from each lip (the top, and every other fall's) to the pool and out of the picture; faster where it
        # narrows and as it falls
        top, bottom = region_flow.top_and_bottom(pixels)
        if luminance is not None:
            top = region_flow.fall_lips(pixels, luminance)
        flow = region_flow.potential_flow(pixels, top, bottom)
        ys = np.nonzero(pixels)[0]
        rows = np.arange(pixels.shape[0], dtype=np.float32)[:, None]
        fallen = np.clip((rows - ys.min()) / max(ys.max() - ys.min(), 1), 0.0, 1.0)
        gravity = np.sqrt(0.3 + 0.7 * fallen)       # v = sqrt(v0^2 + 2 g h), normalised to 1 at the bottom
        relative = region_flow.normalized_speed(flow, pixels)
        return region_flow.unit(flow) * (speed * relative * gravity)[..., None]
    if kind == "river":
        first, last, axis = region_flow.principal_ends(pixels)
        source, sink = first, last             # downhill: from the far (upper) end toward the camera
        if region.direction is not None:
            wanted = _direction_vector(region.direction)
            if wanted[0] * axis[0] + wanted[1] * axis[1] < 0:
                source, sink = last, first
        flow = region_flow.potential_flow(pixels, source, sink)
        relative = region_flow.normalized_speed(flow, pixels)
        return region_flow.unit(flow) * (speed * relative)[..., None]
    if kind == "sea":
        _, horizon, _ = _far_edge(pixels)
        direction = None if region.direction is None else _direction_vector(region.direction)
        return region_flow.waves_field(pixels, horizon - 1.0, speed, direction, nearest=region.near)
    if kind == "lake":
        drift = (0.0, 0.0) if region.direction is None else tuple(
            0.25 * speed * c for c in _direction_vector(region.direction))
        return region_flow.ripple_field(pixels, speed, drift, seed=seed)
    if kind == "fountain":
        return region_flow.fountain_field(pixels, speed)
    return np.zeros(pixels.shape + (2,), np.float32)


def kind_velocity(network: torch.Tensor, mask: torch.Tensor | None, regions: RegionMap,
                  speeds: dict[str, float] | None = None, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    """The per-kind velocity: (1, 2, h, w) normalised backward flow per frame (the units of the pipeline's
    ``predict_velocity``) from the network's ``network`` (1, 2, h, w) (already times the mask and speed), the
    motion ``mask`` (1, 1, h, w) in [0, 1] or None, and ``regions`` at the same (h, w). ``scale`` multiplies the
    water speeds (the user's overall motion speed; the network's is in ``network`` already).

    Sky regions keep the network's motion, rescaled so that its median speed over the sky is :data:`SKY_SPEED`
    times the sky speed times ``scale`` (without a sky matte, ``regions.sky_matte`` False: the network's speed
    times the sky speed); water regions get their kind's field
    (:func:`water_field`, speeds in px per frame at :data:`REFERENCE_WIDTH` px wide); still regions stop. Moving
    pixels outside every region (the matte's soft rim) take the nearest region's velocity.
    """
    speeds = parse_kind_speeds(speeds)
    h, w = regions.size
    labels = regions.labels
    if not regions.regions:
        return network
    # pixels of no region take the nearest region's label, so soft edges move with their region
    _, nearest = cv2.distanceTransformWithLabels((labels == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(labels)
    lookup = np.zeros(nearest.max() + 1, np.int32)
    # DIST_LABEL_PIXEL numbers the zero pixels of the input (here: labelled pixels) in row-major order from 1
    lookup[1:len(ys) + 1] = labels[ys, xs]
    filled = np.where(labels > 0, labels, lookup[nearest])
    per_px = REFERENCE_WIDTH / w                       # reference pixels per working pixel
    forward = np.zeros((h, w, 2), np.float32)
    network_part = np.zeros((h, w), bool)     # the sky regions and the pixels nearest to them
    sky_pixels = np.zeros((h, w), bool)       # the sky regions' own pixels (where the clouds' speed is measured)
    for region in regions.regions:
        pixels = filled == region.index
        speed = speeds[region.kind] * scale
        if region.kind == "sky":
            network_part |= pixels
            sky_pixels |= labels == region.index
            continue
        forward += water_field(region, labels == region.index, speed / per_px, seed=seed + region.index,
                               luminance=regions.luminance) * (labels == region.index)[..., None]
        if region.kind != "still":
            rim = pixels & (labels != region.index)
            if rim.any():   # the rim takes the velocity of its nearest labelled pixel
                forward[rim] = _nearest_values(forward, labels == region.index, rim)
    # forward working px -> normalised backward flow (x: 2 / w per px, y: 2 / h per px)
    backward = torch.from_numpy(np.ascontiguousarray(-forward.transpose(2, 0, 1)))[None]
    backward = backward * torch.tensor([2.0 / w, 2.0 / h]).view(1, 2, 1, 1)
    if mask is not None:
        backward = backward * mask
    sky_factor = np.where(network_part, speeds["sky"], 0.0).astype(np.float32)
    if sky_pixels.any() and regions.sky_matte:   # the clouds' learned direction, at a time-lapse's speed
        # the median over the sky itself: the land nearest to it (masked out of the network's motion, so still)
        # would pull the median down and speed the clouds up by the land's share
        forward_px = network[0].float().numpy() * np.array([w / 2.0, h / 2.0], np.float32)[:, None, None]
        median = float(np.median(np.hypot(*forward_px)[sky_pixels])) * per_px
        if median > 1e-6:
            sky_factor *= SKY_SPEED * scale / median
    return (network * torch.from_numpy(sky_factor)[None, None] + backward).to(network.dtype)


def _nearest_values(field: np.ndarray, known: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The values of ``field`` (h, w, C) at the ``known`` pixel nearest to each ``wanted`` pixel: (n, C)."""
    _, nearest = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(known)
    values = np.zeros((nearest.max() + 1, field.shape[-1]), np.float32)
    values[1:len(ys) + 1] = field[ys, xs]
    return values[nearest[wanted]]


class RecordingModel:
    """Wraps a segmentation model for one call and keeps what it returned (``last``), so the regions reuse the
    sky matte and the segmenter's output that the fluid matte computed (the sky matte takes seconds on a CPU).
    Calls go to ``model`` (``__call__`` for the sky matte, ``classes`` for a segmenter)."""

    def __init__(self, model):
        self.model = model
        self.last = None
        self.source = getattr(model, "source", "")

    def __call__(self, image, size=None):
        self.last = self.model(image, size)
        return self.last

    def classes(self, image, size=None):
        self.last = self.model.classes(image, size)
        return self.last


def sky_at(recorded: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    """The recorded sky matte probability resized (area) to working size ``size``, or None."""
    if recorded is None:
        return None
    return cv2.resize(np.asarray(recorded, np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def plan_regions(small: torch.Tensor, mask: torch.Tensor, sky: np.ndarray | None, kinds: list | None,
                 photo_size: tuple[int, int], full: np.ndarray | None = None) -> RegionMap:
    """The regions of one :meth:`~cinescape.methods.al.CinemagraphPipeline.plan` call: :func:`find_regions` on
    the working-size photo ``small`` (1, 3, h, w) in [-1, 1] and motion mask ``mask`` (1, 1, h, w), with the sky
    matte's probability ``sky`` at any size (None: no sky matte ran) and the full-resolution photo ``full`` uint8
    (H, W, 3) for the texture of seas (None: the working-size photo), then :func:`apply_user_kinds`."""
    h, w = small.shape[-2:]
    photo = ((small[0].float().permute(1, 2, 0).numpy() + 1.0) / 2.0).clip(0.0, 1.0)
    moving = mask[0, 0].float().numpy()
    regions = find_regions(photo, moving, sky_at(sky, (h, w)), photo_size=photo_size, detail=full)
    return apply_user_kinds(regions, parse_kinds(kinds), moving) if kinds else regions


def without_still(matte: np.ndarray, regions: RegionMap) -> np.ndarray:
    """The full-resolution fluid ``matte`` (H, W) float32 with the still regions (false water) taken out, so they
    fall in the still layer and keep the photo's pixels exactly (their rim, 2 working pixels, fades out).

    Example:
        >>> labels = np.zeros((4, 12), np.int32); labels[:, 9:] = 1
        >>> regions = RegionMap(labels, [Region(1, "still", 0.25, (9, 0, 12, 4), (10.0, 1.5))], (8, 24))
        >>> out = without_still(np.ones((8, 24), np.float32), regions)
        >>> float(out[0, 0]), float(out[0, -1])
        (1.0, 0.0)
    """
    still = np.zeros(regions.size, np.uint8)
    for region in regions.regions:
        if region.kind == "still":
            still[regions.labels == region.index] = 1
    if not still.any():
        return matte
    still = cv2.dilate(still, np.ones((5, 5), np.uint8))
    height, width = matte.shape
    keep = 1.0 - cv2.resize(still.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return (matte * np.clip(keep, 0.0, 1.0)).astype(np.float32)
