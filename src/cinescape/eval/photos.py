"""``cinescape evaluate --photos DIR``: full-resolution loops of real photos, measured as people see them.

The clip protocol (:mod:`cinescape.eval.evaluate`) compares 128-256 px crops of 32 frames with real clips;
it misses what a user sees in a full-resolution loop of their own photo: branches dragged into streaks across
the sky, clouds smeared into swirls, a lake tearing along a diagonal, halos at ridges, colour halos. This
module animates every photo of a folder at its own resolution through the public API, exactly as
``cinescape animate photo.jpg -o loop.mp4`` does (:class:`~cinescape.pipeline.AnimationSettings` defaults and
the model's defaults, 60 frames), and measures each loop against the photo itself.

Inputs. ``DIR`` holds photos (``.png``, ``.jpg``, ...; natural name order) and optionally hand-made fluid
masks ``DIR/masks/NAME.png`` (same stem as the photo; white = fluid, the region that should move; resized to
the photo). The *moving region* of a photo is its mask > 0.5, or the whole frame without a mask.

Methods (:func:`parse_method_spec`): ``static`` (the photo repeated), ``shift`` (the whole photo drifting
rigidly, :class:`ShiftPhotoMethod`), and models with optional setting overrides,
``NAME[:KEY=VALUE[,KEY=VALUE...]]`` with NAME ``default`` (the shipped model), ``fgla`` (the shipped FGLA
model), ``fgla:DIR`` or a model folder, e.g. ``default:mode=eulerian,loop=symmetric`` or
``default:appearance=false``.

Metrics, per photo and method (conventions: uint8 (H, W, 3) RGB frames; distances on the 0-255 scale;
"width W" means resized with ``cv2.INTER_AREA`` to width ``min(W, photo width)``, height in proportion):

* **coherence** (↓): for :data:`COHERENCE_FRAMES` frames spread evenly over the loop (the middle of each
  eighth, frame ``(2 i + 1) N // 16``: :func:`evenly_spaced`), at width :data:`COMPARE_WIDTH`, the mean over
  the 7×7 patches centred in the moving region of the RMS distance (over the 7×7×3 values) to the nearest
  7×7 patch anywhere in the photo at the same width (:class:`NearestPatchIndex`). A still photo scores 0;
  smears, streaks, tears, ghosts and halos make patches the photo lacks. A rigid sub-pixel move scores a
  little too: its patches are resampled between the photo's pixels (the ``shift`` baseline shows how much).
* **coherence, colour-normalised** (↓): the same after matching each frame's per-channel mean and standard
  deviation (over the whole frame) to the photo's, so a global colour change alone does not count, while a
  colour halo still does. The appearance model's colour maps vary over the photo, so this does not undo
  them, and a dark (night) frame stretched back to the photo's contrast shows its lost detail: it can score
  above the plain coherence.
* **fluid / static motion** (px/frame): mean OpenCV DIS optical-flow magnitude between consecutive frames
  at width :data:`FLOW_WIDTH`, inside / outside the hand mask (photos without a mask: n/a).
* **sharpness** (→1): mean squared Laplacian (3×3, per RGB channel) of the colour-normalised frames in the
  moving region at width :data:`FLOW_WIDTH`, over the photo's: 1 = as sharp as the photo, a blur is below 1.
  It compares what lies in the region, so detail dragged into it raises it (land pulled into a smooth sky, or
  the whole ``shift`` baseline moving the land into the sky mask: values above 1).
* **seam** (→1): :func:`cinescape.eval.metrics.seam_ratio` of the frames at width :data:`FLOW_WIDTH`: the
  last -> first step over the mean step (NaN for a still video).
* **seconds**: wall time to generate the frames (model loading excluded).

Contact sheets (``OUT/sheets/NAME__METHOD.png``): the photo and :data:`SHEET_FRAMES` frames spread over the
loop (top row), the measured region and each frame's ``|frame - photo|`` heat map (bottom row), at
:data:`SHEET_TILE_WIDTH` px per tile.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import CinescapeError, OptionError
from ..models.base import atomic_write_bytes
from ..ops.optical_flow import optical_flow_dis
from . import metrics as M
from .evaluate import MetricInfo, _clean, _natural_key

__all__ = ["PhotoEvalSettings", "Photo", "MethodSpec", "PHOTO_METRICS", "parse_method_spec", "find_photos",
           "resize_to_width", "evenly_spaced", "extract_patches", "NearestPatchIndex", "set_search_threads",
           "patch_coherence", "match_colour_statistics", "region_motion", "sharpness_ratio", "seam_ratio_uint8",
           "StaticPhotoMethod", "ShiftPhotoMethod", "PipelinePhotoMethod", "resolve_photo_method", "shift_frame",
           "evaluate_photos", "prepare_out", "write_photo_report", "format_photo_table"]

COMPARE_WIDTH = 384          # width of the patch-coherence comparison
PATCH_SIZE = 7               # side of the compared patches
COHERENCE_FRAMES = 8         # frames per loop the coherence looks at, spread evenly
FLOW_WIDTH = 512             # width of the motion, sharpness and seam measurements
SHEET_FRAMES = 4             # frames on a contact sheet
SHEET_TILE_WIDTH = 512       # width of one contact-sheet tile
HEAT_MAP_RANGE = 64.0        # |frame - photo| (0-255 scale, mean over RGB) shown at full heat
DEFAULT_PHOTO_METHODS = ("static", "shift", "default")
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MASK_FOLDER = "masks"


@dataclass
class PhotoEvalSettings:
    """Everything that defines a photo evaluation; stored in ``metrics.json`` with the results."""

    photos: str                        # the folder of photos (masks in photos/masks/NAME.png)
    frames: int = 60                   # frames per loop (the default command's)
    seed: int = 0                      # the models' seed (picks their codes), as `animate --seed`
    max_photos: int | None = None      # keep the first N photos (natural name order, after --only-masked)
    only_masked: bool = False          # keep only the photos with a hand mask
    shift_speed: float = 0.5           # `shift` baseline: px/frame at the photo's resolution
    shift_angle: float = 270.0         # `shift` baseline: direction in degrees (0 = right, 90 = down, 270 = up)
    patch_stride: int = 2              # coherence query patches on every STRIDE-th row and column (1 = all)
    exact_search: bool = False         # exact nearest patches (slow) instead of PCA + IVF candidates re-ranked
    sheets: bool = True                # write the contact sheets

    def validate(self) -> None:
        if not 3 <= self.frames <= 10_000:
            raise OptionError(f"--frames must be between 3 and 10000, got {self.frames}")
        if self.max_photos is not None and self.max_photos < 1:
            raise OptionError(f"--max-photos must be >= 1, got {self.max_photos}")
        if not (math.isfinite(self.shift_speed) and 0 <= self.shift_speed <= 100):
            raise OptionError(f"--shift-speed must be between 0 and 100, got {self.shift_speed}")
        if not math.isfinite(self.shift_angle):
            raise OptionError(f"--shift-angle must be a finite number of degrees, got {self.shift_angle}")
        if not 1 <= self.patch_stride <= 8:
            raise OptionError(f"--patch-stride must be between 1 and 8, got {self.patch_stride}")


@dataclass(frozen=True)
class Photo:
    """A photo of the folder and its optional hand mask (paths; :meth:`load` reads them)."""

    name: str                    # the file's stem
    path: Path
    mask_path: Path | None

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 (H, W, 3) RGB photo and float32 (H, W) mask in [0, 1] (resized to the photo), or None."""
        from ..io.image import load_image
        from ..segmentation import load_mask

        image = load_image(self.path)
        if self.mask_path is None:
            return image, None
        mask = load_mask(self.mask_path)
        (height, width), (mask_h, mask_w) = image.shape[:2], mask.shape
        if abs(mask_w / mask_h - width / height) > 0.01 * width / height:
            raise OptionError(f"mask {self.mask_path} is {mask_w}x{mask_h}, another shape than its photo "
                              f"({width}x{height})")
        if (mask_h, mask_w) != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
        return image, mask


def find_photos(folder: str | Path, *, only_masked: bool = False, max_photos: int | None = None) -> list[Photo]:
    """The photos of ``folder`` in natural name order, each with ``folder/masks/NAME.*`` if there is one.

    Raises :class:`~cinescape.errors.OptionError` (one line) for a missing folder, a folder without photos,
    or ``only_masked`` with no mask at all. The images themselves are read later (:meth:`Photo.load`)."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise OptionError(f"--photos {root} does not exist")
    if not root.is_dir():
        raise OptionError(f"--photos {root} is not a folder; give a folder of photos")
    files = sorted((p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in PHOTO_EXTENSIONS), key=lambda p: _natural_key(p.name))
    if not files:
        raise OptionError(f"--photos {root} holds no photos ({', '.join(PHOTO_EXTENSIONS)})")
    masks: dict[str, Path] = {}
    if (root / MASK_FOLDER).is_dir():
        for p in sorted((root / MASK_FOLDER).iterdir(), key=lambda p: p.suffix.lower() != ".png"):  # .png first
            if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS:
                masks.setdefault(p.stem, p)
    photos = [Photo(p.stem, p, masks.get(p.stem)) for p in files]
    if len({p.name for p in photos}) != len(photos):
        raise OptionError(f"--photos {root}: two photos share a name stem (e.g. a.png and a.jpg)")
    if only_masked:
        photos = [p for p in photos if p.mask_path is not None]
        if not photos:
            raise OptionError(f"--only-masked: no photo in {root} has a mask {root / MASK_FOLDER}/NAME.png")
    return photos[:max_photos] if max_photos else photos


# ----------------------------------------------------------------------------------------- method specs


@dataclass(frozen=True)
class MethodSpec:
    """A parsed ``--method`` entry: ``label`` (the text as given, the report's name), ``base`` (``static``,
    ``shift``, ``default``, ``fgla``, ``fgla:DIR`` or a model folder) and ``overrides`` (AnimationSettings
    fields, parsed to their types)."""

    label: str
    base: str
    overrides: dict = field(default_factory=dict)


# "NAME:key=value,...": the settings begin at the first ':' that is followed by "key=" (a key is a Python
# identifier, '-' allowed), so "fgla:runs/x:mode=eulerian" keeps "fgla:runs/x" as its NAME.
_SETTINGS_START = re.compile(r":(?=[A-Za-z_][A-Za-z0-9_-]*=)")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _setting_parsers() -> dict[str, tuple[str, callable]]:
    """AnimationSettings field -> (its annotation, a parser of a spec value to the field's type)."""
    from ..methods.al import AnimationSettings

    def parse_bool(text: str) -> bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected true or false")

    def optional(parse):
        return lambda text: None if text.lower() == "none" else parse(text)

    parsers = {}
    for f in dataclasses.fields(AnimationSettings):
        kinds = {part.strip() for part in str(f.type).split("|")}
        if kinds == {"bool"}:
            parse = parse_bool
        elif kinds <= {"int", "None"}:
            parse = optional(int) if "None" in kinds else int
        elif kinds <= {"float", "None"}:
            parse = optional(float) if "None" in kinds else float
        else:  # str, "str | int | None" (code selectors take text), or a path for masks, arrows, patches
            parse = str
        parsers[f.name] = (str(f.type), parse)
    return parsers


def parse_method_spec(text: str) -> MethodSpec:
    """``NAME[:KEY=VALUE[,KEY=VALUE...]]`` -> :class:`MethodSpec`.

    KEY is an :class:`~cinescape.pipeline.AnimationSettings` field (``-`` may stand for ``_``, as in the CLI's
    options: ``auto-mask=sky``); VALUE is parsed to the field's type: ``true``/``false`` (also yes/no, on/off,
    1/0) for booleans, numbers, ``none`` for an optional number, text otherwise (``auto_mask=none`` is the
    text "none": no automatic mask). A comma inside a value is kept when the next piece holds no ``=``:
    ``time_of_day=day,sunset,night,mode=eulerian``. No quoting is needed in a shell. ``static`` and ``shift``
    take no settings. Raises :class:`~cinescape.errors.OptionError` (one line) for an unknown key, a bad
    value, or settings :meth:`AnimationSettings.validate` refuses.
    """
    from ..methods.al import AnimationSettings

    text = text.strip()
    match = _SETTINGS_START.search(text)
    base, settings_text = (text[:match.start()], text[match.end():]) if match else (text, "")
    if not base:
        raise OptionError(f"--method {text!r}: give a method name before the settings")
    if not match:
        return MethodSpec(text, base)
    if base in ("static", "shift"):
        raise OptionError(f"--method {text!r}: the {base} baseline takes no settings (see --shift-speed)")
    pieces: list[str] = []
    for piece in settings_text.split(","):
        if "=" in piece or not pieces:
            pieces.append(piece)
        else:
            pieces[-1] += "," + piece
    parsers = _setting_parsers()
    overrides: dict = {}
    for piece in pieces:
        key, _, value = piece.partition("=")
        key = key.strip().replace("-", "_")
        if key not in parsers:
            raise OptionError(f"--method {text!r}: unknown setting {key!r}; settings are "
                              f"{', '.join(sorted(parsers))}")
        if key in overrides:
            raise OptionError(f"--method {text!r}: {key} is given twice")
        annotation, parse = parsers[key]
        try:
            overrides[key] = parse(value.strip())
        except ValueError:
            raise OptionError(f"--method {text!r}: {key}={value!r} is not a valid {annotation}") from None
    try:
        AnimationSettings(**overrides).validate()
    except OptionError as exc:
        raise OptionError(f"--method {text!r}: {exc}") from None
    return MethodSpec(text, base, overrides)


# ---------------------------------------------------------------------------------------------- methods


class PhotoMethod:
    """A way to animate a photo: ``frames(image, num_frames, seed)`` yields ``num_frames`` uint8 (H, W, 3)
    frames at the photo's resolution, one at a time."""

    label = "method"

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def describe(self, num_frames: int, seed: int) -> dict:
        """The method's effective settings, JSON-safe, for the report."""
        return {}


class StaticPhotoMethod(PhotoMethod):
    """The photo repeated: no motion, coherence exactly 0."""

    label = "static"

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        for _ in range(num_frames):
            yield image


def shift_frame(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` (H, W, 3) uint8 moved rigidly by (dx, dy) pixels: ``out(x, y) = image(x - dx, y - dy)``,
    sampled bilinearly (OpenCV, positions to 1/32 px); what enters at a border is the photo reflected about
    its edge (``BORDER_REFLECT``, ``...cba|abc...``, the renderer's convention)."""
    to_source = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return cv2.warpAffine(image, to_source, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR |
                          cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


class ShiftPhotoMethod(PhotoMethod):
    """The whole photo drifting rigidly at ``speed`` px/frame in direction ``angle`` (degrees, 0 = right,
    90 = down, 270 = up), at its own resolution (:func:`shift_frame`): frame t is the photo moved by
    t * speed. A reference for the coherence of a plain sub-pixel move; it does not loop.

    The direction matters: at the 384-px comparison a move is a sub-pixel resampling of the photo's pixels.
    On the 10 masked photos (0.5 px/frame, 60 frames, coherence frames ``i * 60 // 8``) it scored 1.54 moving
    right, 2.53 down, 2.73 up and 2.99 along the clip evaluation's seed-0 direction (304°); up reproduced the
    range the issue gives for this baseline (0.90-5.68 here, 0.9-5.7 there; its mean there is 2.49). With
    the coherence frames in the middle of each eighth (:func:`evenly_spaced`) up scores 2.96 (0.95-6.24)."""

    label = "shift"

    def __init__(self, speed: float = 0.5, angle: float = 270.0):
        self.speed, self.angle = speed, angle

    def describe(self, num_frames: int, seed: int) -> dict:
        return {"speed_px_per_frame": self.speed, "angle_degrees": self.angle, "sampling": "bilinear",
                "border": "reflect"}

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        vx = self.speed * math.cos(math.radians(self.angle))
        vy = self.speed * math.sin(math.radians(self.angle))
        for t in range(num_frames):
            yield image if t == 0 else shift_frame(image, t * vx, t * vy)


class PipelinePhotoMethod(PhotoMethod):
    """A cinescape model through the public API: ``pipeline.plan(image, AnimationSettings(...)).frames()``
    with AnimationSettings' defaults (those of ``cinescape animate``), ``num_frames``, ``seed`` and the spec's
    overrides (which win over ``num_frames`` and ``seed``)."""

    def __init__(self, pipeline, label: str, overrides: dict | None = None):
        self.pipeline, self.label, self.overrides = pipeline, label, dict(overrides or {})

    def settings(self, num_frames: int, seed: int):
        from ..methods.al import AnimationSettings

        return AnimationSettings(**{"num_frames": num_frames, "seed": seed, **self.overrides})

    def frames(self, image: np.ndarray, num_frames: int, seed: int) -> Iterator[np.ndarray]:
        yield from self.pipeline.plan(image, self.settings(num_frames, seed)).frames()

    def describe(self, num_frames: int, seed: int) -> dict:
        """Every AnimationSettings field with a plain value (``auto_mask`` None: the model's default, shown as
        ``"model default: ..."``)."""
        values = {k: v for k, v in asdict(self.settings(num_frames, seed)).items()
                  if v is None or isinstance(v, (str, int, float, bool))}
        if values.get("auto_mask") is None:
            values["auto_mask"] = f"model default: {self.pipeline.defaults.get('auto_mask', 'none')}"
        return {"model": type(self.pipeline).__name__, **values}


def resolve_photo_method(spec: MethodSpec, settings: PhotoEvalSettings, pipelines: dict | None = None) -> PhotoMethod:
    """A :class:`MethodSpec` -> a :class:`PhotoMethod`; ``pipelines`` caches loaded models by base name, so
    several specs of one model load it once."""
    if spec.base == "static":
        return StaticPhotoMethod()
    if spec.base == "shift":
        return ShiftPhotoMethod(settings.shift_speed, settings.shift_angle)
    pipelines = {} if pipelines is None else pipelines
    if spec.base not in pipelines:
        from ..methods import SHIPPED_MODELS, load_pipeline

        folder = spec.base[len("fgla:"):] if spec.base.startswith("fgla:") else spec.base
        if folder in SHIPPED_MODELS or Path(folder).expanduser().is_dir():
            pipelines[spec.base] = load_pipeline(folder or "fgla")
        else:
            raise OptionError(f"unknown method {spec.base!r}: use static, shift, default, fgla, fgla:DIR or a "
                              "model folder, optionally with :KEY=VALUE,... settings")
    method = PipelinePhotoMethod(pipelines[spec.base], spec.label, spec.overrides)
    return method


# ---------------------------------------------------------------------------------------------- metrics


def resize_to_width(image: np.ndarray, width: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``image`` (H, W[, C]) resized to width ``min(width, W)`` and height ``round(H * w / W)`` (at least 1);
    never enlarged. Keeps the dtype (uint8 is rounded)."""
    height_in, width_in = image.shape[:2]
    if width >= width_in:
        return image
    height = max(1, round(height_in * width / width_in))
    return cv2.resize(image, (width, height), interpolation=interpolation)


def evenly_spaced(num_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over a loop of ``num_frames``, each in the middle of its share:
    ``(2 i + 1) * num_frames // (2 count)`` (distinct; all frames when there are fewer than ``count``).

    Not from frame 0 on: in most loops frame 0 is the photo itself (a free zero), and a loop whose frames return
    to the photo periodically (a phased loop of period 30 over 60 frames returns every 15) would otherwise be
    sampled exactly where it is the photo."""
    return sorted({(2 * i + 1) * num_frames // (2 * count) for i in range(count)})


def extract_patches(image: np.ndarray, patch: int = PATCH_SIZE, positions: np.ndarray | None = None) -> np.ndarray:
    """``patch`` × ``patch`` patches of an (h, w, 3) image as float32 rows of 3 * patch² values, in the
    order (channel, row, column) for every patch alike.

    Without ``positions``: all patches, (h - patch + 1, w - patch + 1, 3 * patch²), entry (i, j) the patch
    whose top-left pixel is (i, j) (centred on (i + r, j + r), r = patch // 2). With ``positions``: (Q,)
    flat indices into that (h - patch + 1, w - patch + 1) grid -> (Q, 3 * patch²), only those copied."""
    image = np.asarray(image, np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch), axis=(0, 1))
    if positions is None:
        return windows.reshape(*windows.shape[:2], -1)
    rows, columns = np.unravel_index(positions, windows.shape[:2])
    return windows[rows, columns].reshape(len(positions), -1)


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def set_search_threads(threads: int) -> None:
    """Threads of the nearest-patch search (faiss's OpenMP pool); the CLI's ``--threads``."""
    faiss = _faiss()
    if faiss is not None and threads > 0:
        faiss.omp_set_num_threads(threads)


class NearestPatchIndex:
    """All 7×7 patches of a reference image (float32 (h, w, 3), 0-255), searchable for the nearest one.

    :meth:`squared_distances` returns, for each query patch, the sum of squared differences (over the
    3 × 7 × 7 values, float64) to the nearest reference patch that the search finds. Search (chosen by
    measurement against exhaustive faiss and torch searches on two photos: 20-50x faster, mean RMS distance
    0.02-0.16 % above the exact one, 99.2-99.8 % of the nearest patches exact): the patches minus their mean
    are projected by PCA to :data:`PCA_DIMS` dimensions (99.6 % of the variance of a 384-px photo), an inverted file
    (:data:`IVF_LISTS` k-means cells, :data:`IVF_PROBES` probed) returns :data:`CANDIDATES` candidates, and
    these are re-ranked by their exact full-dimension distance, as is the reference patch at the query's own
    position when ``positions`` are given (so an unmoved patch is found exactly: distance 0). The result is
    a true distance to a real patch, never below the exact nearest. ``exact=True``, or a reference with fewer than
    :data:`EXACT_BELOW` patches, searches exhaustively (faiss ``IndexFlatL2``; a chunked torch search
    without faiss).
    """

    PCA_DIMS = 32
    IVF_LISTS = 1024
    IVF_PROBES = 16
    CANDIDATES = 8
    EXACT_BELOW = 40_000
    SAME_PATCH_TOLERANCE = 1e-6    # sum of squares (0-255 scale) under which a query is its own reference patch

    def __init__(self, reference: np.ndarray, *, exact: bool = False, patch: int = PATCH_SIZE):
        self.patch = patch
        self.grid_shape = (reference.shape[0] - patch + 1, reference.shape[1] - patch + 1)
        if min(self.grid_shape) < 1:
            raise ValueError(f"reference image {reference.shape[:2]} is smaller than a {patch}x{patch} patch")
        self.patches = np.ascontiguousarray(extract_patches(reference, patch).reshape(-1, 3 * patch * patch))
        self.mean = self.patches.mean(0)
        centred = self.patches - self.mean
        faiss = _faiss()
        self.exact = exact or len(self.patches) < self.EXACT_BELOW
        self.backend = "torch exhaustive" if faiss is None else (
            "faiss IndexFlatL2 (exhaustive)" if self.exact else
            f"faiss PCA{self.PCA_DIMS},IVF{self.IVF_LISTS},Flat nprobe {self.IVF_PROBES}, "
            f"{self.CANDIDATES} candidates re-ranked exactly")
        self.index = None
        if faiss is not None and self.exact:
            self.index = faiss.IndexFlatL2(centred.shape[1])
            self.index.add(centred)
        elif faiss is not None:
            self.index = faiss.index_factory(centred.shape[1], f"PCA{self.PCA_DIMS},IVF{self.IVF_LISTS},Flat")
            self.index.train(centred)
            self.index.add(centred)
            faiss.extract_index_ivf(self.index).nprobe = self.IVF_PROBES
        else:
            import torch

            self._torch_patches = torch.from_numpy(centred)

    def _candidates(self, centred_queries: np.ndarray) -> np.ndarray:
        """(Q, K) indices of candidate reference patches (-1 for none)."""
        if self.index is not None:
            _, found = self.index.search(centred_queries, 1 if self.exact else self.CANDIDATES)
            return found
        import torch

        queries = torch.from_numpy(centred_queries)
        reference = self._torch_patches
        norms = (reference * reference).sum(1)
        found = [(norms[None] - 2 * chunk @ reference.T).argmin(1, keepdim=True)
                 for chunk in queries.split(1024)]
        return torch.cat(found).numpy() if found else np.zeros((0, 1), np.int64)

    def squared_distances(self, queries: np.ndarray, positions: np.ndarray | None = None,
                          chunk: int = 4096) -> np.ndarray:
        """(Q,) float64 sums of squared differences from float32 (Q, 3 * 7²) ``queries`` to their nearest
        reference patch. ``positions``: (Q,) flat indices into the reference patch grid of the queries' own
        positions: their reference patch is then a candidate too, and a query that matches it (sum of
        squares <= :data:`SAME_PATCH_TOLERANCE`) is not searched further (an unmoved patch costs nothing)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        out = np.full(len(queries), np.inf)
        search = np.arange(len(queries))
        if positions is not None:
            own = queries.astype(np.float64) - self.patches[positions]
            out = np.einsum("qd,qd->q", own, own)
            search = np.flatnonzero(out > self.SAME_PATCH_TOLERANCE)
        for start in range(0, len(search), chunk):
            rows = search[start:start + chunk]
            block = queries[rows]
            candidates = self._candidates(np.ascontiguousarray(block - self.mean))
            valid = candidates >= 0
            differences = block[:, None, :].astype(np.float64) - self.patches[np.where(valid, candidates, 0)]
            distances = np.where(valid, np.einsum("qkd,qkd->qk", differences, differences), np.inf)
            out[rows] = np.minimum(out[rows], distances.min(1))
        return out


def _patch_positions(region: np.ndarray, stride: int, patch: int = PATCH_SIZE) -> np.ndarray:
    """Flat indices into the patch grid of an image with (h, w) bool ``region`` of the patches whose centre
    lies in the region, on every ``stride``-th row and column of the grid."""
    r = patch // 2
    grid = region[r:region.shape[0] - r, r:region.shape[1] - r]
    keep = np.zeros_like(grid)
    keep[::stride, ::stride] = grid[::stride, ::stride]
    return np.flatnonzero(keep)


def patch_coherence(frames: list[np.ndarray], index: NearestPatchIndex, region: np.ndarray | None = None,
                    stride: int = 1) -> float:
    """Mean RMS distance (0-255 scale, over the 3 × 7 × 7 values) from each 7×7 patch centred in ``region``
    of each frame to its nearest patch in ``index`` (the photo).

    ``frames``: (h, w, 3) arrays (uint8 or float) of the reference's size; ``region``: (h, w) bool, None = the
    whole frame; ``stride``: query patches on every stride-th row and column. Every frame contributes the same
    patches, so this is also the mean of the per-frame means. NaN when the region holds no patch centre.
    """
    shape = (index.grid_shape[0] + index.patch - 1, index.grid_shape[1] + index.patch - 1)
    region = np.ones(shape, bool) if region is None else np.asarray(region, bool)
    positions = _patch_positions(region, stride, index.patch)
    if positions.size == 0:
        return math.nan
    total = 0.0
    for frame in frames:
        if frame.shape[:2] != shape:
            raise ValueError(f"frame {frame.shape[:2]} and reference {shape} differ in size")
        queries = extract_patches(frame, index.patch, positions)
        total += float(np.sqrt(index.squared_distances(queries, positions) / queries.shape[1]).sum())
    return total / (positions.size * len(frames))


def match_colour_statistics(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``frame`` (h, w, 3) with each channel's mean and standard deviation (over the whole frame) set to
    ``reference``'s: ``(frame - mean_f) / std_f * std_r + mean_r`` -> float32, not clipped. A flat channel
    (std < 1e-6) takes the reference's mean."""
    mean_f, std_f = (v.ravel() for v in cv2.meanStdDev(np.asarray(frame)))
    mean_r, std_r = (v.ravel() for v in cv2.meanStdDev(np.asarray(reference)))
    gain = np.where(std_f > 1e-6, std_r / np.maximum(std_f, 1e-6), 0.0)
    offset = mean_r - mean_f * gain
    return np.asarray(frame, np.float32) * gain.astype(np.float32) + offset.astype(np.float32)


def region_motion(frames: np.ndarray | list[np.ndarray], mask: np.ndarray) -> tuple[float, float]:
    """Mean OpenCV DIS optical-flow magnitude (px/frame; :func:`cinescape.ops.optical_flow.optical_flow_dis`,
    its "medium" preset) between consecutive uint8 (h, w, 3) frames, inside and outside the (h, w) bool
    ``mask`` (NaN for an empty side). Averages run over pixels, then over the T - 1 pairs; a pair of identical
    frames is taken as zero flow without running DIS."""
    mask = np.asarray(mask, bool)
    inside, outside = [], []
    for previous, current in zip(frames[:-1], frames[1:]):
        if np.array_equal(previous, current):
            inside.append(0.0)
            outside.append(0.0)
            continue
        flow = optical_flow_dis(np.stack([previous, current]))[0].numpy()  # (2, h, w), pixels
        magnitude = np.sqrt(flow[0] * flow[0] + flow[1] * flow[1])
        inside.append(float(magnitude[mask].mean()) if mask.any() else math.nan)
        outside.append(float(magnitude[~mask].mean()) if (~mask).any() else math.nan)
    return M.nanmean(inside), M.nanmean(outside)


def _laplacian_energy(image: np.ndarray, region: np.ndarray | None) -> float:
    """Mean squared 3×3 Laplacian over the RGB channels and the (h, w) bool region of a float (h, w, 3) image."""
    laplacian = cv2.Laplacian(np.asarray(image, np.float32), cv2.CV_32F, ksize=1)
    squared = cv2.multiply(laplacian, laplacian)
    mask = None if region is None else region.astype(np.uint8)
    return float(np.mean(cv2.mean(squared, mask=mask)[:3]))


def sharpness_ratio(frames: list[np.ndarray], photo: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared Laplacian of the frames over the photo's, in ``region`` ((h, w) bool, None = everywhere).

    ``frames``, ``photo``: (h, w, 3) of one size; each frame is colour-normalised to the photo first
    (:func:`match_colour_statistics`), so a darker or paler frame is not called blurry. 1 = as sharp as the
    photo, below 1 = blurred (NaN for a flat photo or an empty region)."""
    if region is not None and not np.any(region):
        return math.nan
    reference = _laplacian_energy(photo, region)
    if reference < 1e-9:
        return math.nan
    energies = [_laplacian_energy(match_colour_statistics(f, photo), region) for f in frames]
    return float(np.mean(energies)) / reference


def seam_ratio_uint8(frames: list[np.ndarray] | np.ndarray) -> float:
    """:func:`cinescape.eval.metrics.seam_ratio` (the last -> first mean absolute difference over the mean
    consecutive one; NaN for a still video) of uint8 (T, h, w, 3) frames, T >= 3, without float copies of
    the whole video."""
    if len(frames) < 3:
        raise ValueError("seam_ratio needs at least 3 frames")
    steps = [float(np.mean(cv2.mean(cv2.absdiff(a, b))[:3])) for a, b in zip(frames[:-1], frames[1:])]
    seam = float(np.mean(cv2.mean(cv2.absdiff(frames[-1], frames[0]))[:3]))
    mean_step = float(np.mean(steps))
    return seam / mean_step if mean_step > 1e-9 else math.nan


# --------------------------------------------------------------------------------------------- evaluation


#: Every reported figure: key -> how to show it. Order = column order of the tables.
PHOTO_METRICS: dict[str, MetricInfo] = {
    "coherence": MetricInfo("Coherence", "lower", "{:.2f}",
                            "mean RMS distance (0-255) of each 7x7 patch of the moving region to its nearest 7x7 "
                            f"patch of the photo, {COHERENCE_FRAMES} frames spread over the loop, at "
                            f"{COMPARE_WIDTH} px width (0 = only the photo's own patches)"),
    "coherence_colour": MetricInfo("Coherence (colour-norm.)", "lower", "{:.2f}",
                                   "the same after matching each frame's per-channel mean and std to the photo's "
                                   "(a global colour change does not count, colour halos do)"),
    "fluid_motion": MetricInfo("Fluid motion", "higher", "{:.2f}",
                               f"mean DIS flow (px/frame at {FLOW_WIDTH} px width) between consecutive frames "
                               "inside the hand mask (photos with a mask)"),
    "static_motion": MetricInfo("Static motion", "lower", "{:.3f}",
                                "the same outside the hand mask (land that should stay still)"),
    "sharpness": MetricInfo("Sharpness", "1", "{:.3f}",
                            f"mean squared Laplacian of the colour-normalised frames in the moving region at "
                            f"{FLOW_WIDTH} px width over the photo's (1 = as sharp, < 1 = blurred; detail moved "
                            "into the region, e.g. land dragged into the sky, raises it)"),
    "seam_ratio": MetricInfo("Seam", "1", "{:.2f}",
                             f"last->first step over the mean step at {FLOW_WIDTH} px width (1 = seamless; "
                             "undefined for a still video)"),
    "seconds": MetricInfo("Seconds", "lower", "{:.1f}", "wall time to generate the frames (models loaded)"),
}


@dataclass
class _PhotoReference:
    """What every method of one photo is compared with, computed once per photo."""

    image: np.ndarray                   # uint8 (H, W, 3), full resolution
    mask: np.ndarray | None             # float32 (H, W) in [0, 1]
    compare: np.ndarray                 # uint8 photo at COMPARE_WIDTH
    compare_region: np.ndarray          # bool region at COMPARE_WIDTH
    index: NearestPatchIndex
    flow_photo: np.ndarray              # uint8 photo at FLOW_WIDTH
    flow_mask: np.ndarray | None        # bool hand mask at FLOW_WIDTH
    flow_region: np.ndarray             # bool moving region at FLOW_WIDTH

    @classmethod
    def build(cls, image: np.ndarray, mask: np.ndarray | None, exact: bool) -> "_PhotoReference":
        compare = resize_to_width(image, COMPARE_WIDTH)
        flow_photo = resize_to_width(image, FLOW_WIDTH)

        def region_at(size_image: np.ndarray) -> np.ndarray | None:
            if mask is None:
                return None
            height, width = size_image.shape[:2]
            return cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA) > 0.5

        compare_region = region_at(compare)
        flow_mask = region_at(flow_photo)
        return cls(image=image, mask=mask, compare=compare,
                   compare_region=np.ones(compare.shape[:2], bool) if compare_region is None else compare_region,
                   index=NearestPatchIndex(compare.astype(np.float32), exact=exact), flow_photo=flow_photo,
                   flow_mask=flow_mask, flow_region=np.ones(flow_photo.shape[:2], bool) if flow_mask is None
                   else flow_mask)


@dataclass
class _LoopSamples:
    """What the metrics keep of a generated loop, taken frame by frame (a long 4K loop is never held whole):
    the coherence frames at COMPARE_WIDTH, every frame at FLOW_WIDTH, and the contact-sheet tiles."""

    coherence_frames: dict[int, np.ndarray] = field(default_factory=dict)
    flow_frames: list[np.ndarray] = field(default_factory=list)
    sheet_frames: dict[int, np.ndarray] = field(default_factory=dict)   # index -> uint8 tile
    sheet_heat: dict[int, np.ndarray] = field(default_factory=dict)     # index -> float32 |frame - photo| tile
    seconds: float = 0.0


def _render(method: PhotoMethod, reference: _PhotoReference, num_frames: int, seed: int,
            sheets: bool) -> _LoopSamples:
    """Generate a loop frame by frame and keep what the metrics need; ``seconds`` counts only the time spent
    inside the method (its ``plan`` included), not the resizing here."""
    coherence_at = set(evenly_spaced(num_frames, COHERENCE_FRAMES))
    sheet_at = set(evenly_spaced(num_frames, SHEET_FRAMES)) if sheets else set()
    samples = _LoopSamples()
    started = time.perf_counter()
    frames = iter(method.frames(reference.image, num_frames, seed))
    for index in range(num_frames):
        frame = next(frames, None)
        samples.seconds += time.perf_counter() - started
        if frame is None or frame.shape != reference.image.shape or frame.dtype != np.uint8:
            raise RuntimeError(f"{method.label} gave frame {index} as "
                               f"{'nothing' if frame is None else (frame.shape, frame.dtype)}, expected "
                               f"{reference.image.shape} uint8")
        if index in coherence_at:
            samples.coherence_frames[index] = resize_to_width(frame, COMPARE_WIDTH)
        samples.flow_frames.append(resize_to_width(frame, FLOW_WIDTH))
        if index in sheet_at:
            samples.sheet_frames[index] = resize_to_width(frame, SHEET_TILE_WIDTH)
            difference = np.abs(frame.astype(np.int16) - reference.image.astype(np.int16)).mean(-1)
            samples.sheet_heat[index] = resize_to_width(difference.astype(np.float32), SHEET_TILE_WIDTH)
        started = time.perf_counter()
    return samples


def _measure(reference: _PhotoReference, samples: _LoopSamples, stride: int) -> dict[str, float]:
    """The figures of one photo x method."""
    frames = [samples.coherence_frames[i] for i in sorted(samples.coherence_frames)]
    normalised = [match_colour_statistics(f, reference.compare) for f in frames]
    figures = {
        "coherence": patch_coherence(frames, reference.index, reference.compare_region, stride),
        "coherence_colour": patch_coherence(normalised, reference.index, reference.compare_region, stride),
        "fluid_motion": math.nan,
        "static_motion": math.nan,
        "sharpness": sharpness_ratio(samples.flow_frames, reference.flow_photo, reference.flow_region),
        "seam_ratio": seam_ratio_uint8(samples.flow_frames),
        "seconds": samples.seconds,
    }
    if reference.flow_mask is not None:
        figures["fluid_motion"], figures["static_motion"] = region_motion(samples.flow_frames, reference.flow_mask)
    return figures


def evaluate_photos(settings: PhotoEvalSettings, methods: list[str] | None = None, *, out: str | Path | None = None,
                    progress: bool = True, command: str | None = None) -> dict:
    """Animate every photo with every method and measure the loops; returns the report (``metrics.json``).

    ``methods``: method specs (:func:`parse_method_spec`); default static, shift, default. ``out``: where the
    contact sheets go (``out/sheets/NAME__METHOD.png``, each written as soon as it is made, through a
    temporary file); None (or ``settings.sheets`` False) makes none."""
    settings.validate()
    specs = [parse_method_spec(m) for m in (methods or DEFAULT_PHOTO_METHODS)]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise OptionError(f"--method entries must differ, got {labels}")
    photos = find_photos(settings.photos, only_masked=settings.only_masked, max_photos=settings.max_photos)
    for photo in photos:  # read every photo and mask once now: a bad file fails before any work
        photo.load()
    pipelines: dict = {}
    resolved = [resolve_photo_method(spec, settings, pipelines) for spec in specs]
    descriptions = {m.label: m.describe(settings.frames, settings.seed) for m in resolved}

    results = {label: {} for label in labels}
    sheets: list[str] = []
    make_sheets = settings.sheets and out is not None
    backends = set()
    started = time.perf_counter()
    bar = tqdm(total=len(photos) * len(resolved), desc="evaluating photos", unit="run", disable=not progress)
    for photo in photos:
        image, mask = photo.load()
        reference = _PhotoReference.build(image, mask, settings.exact_search)
        backends.add(reference.index.backend)
        for method in resolved:
            bar.set_postfix_str(f"{photo.name} / {method.label}")
            samples = _render(method, reference, settings.frames, settings.seed, make_sheets)
            figures = _measure(reference, samples, settings.patch_stride)
            results[method.label][photo.name] = figures
            if make_sheets:
                path = Path(out).expanduser() / "sheets" / _sheet_name(photo.name, method.label)
                atomic_write_bytes(path, _contact_sheet(photo.name, method.label, reference, samples, figures))
                sheets.append(str(path))
            bar.update(1)
    bar.close()

    report_methods = {}
    for label in labels:
        per_photo = results[label]
        summary = {key: M.nanmean([figures[key] for figures in per_photo.values()]) for key in PHOTO_METRICS}
        report_methods[label] = {"summary": summary, "photos": per_photo,
                                 "settings": descriptions[label]}
    return {
        "command": command,
        "settings": asdict(settings),
        "photos": {p.name: {"path": str(p.path), "mask": None if p.mask_path is None else str(p.mask_path)}
                   for p in photos},
        "notes": [f"nearest-patch search: {', '.join(sorted(backends))}",
                  f"wall time {time.perf_counter() - started:.1f} s for {len(photos)} photos x "
                  f"{len(resolved)} methods"],
        "metrics": {k: asdict(v) for k, v in PHOTO_METRICS.items()},
        "methods": report_methods,
        "sheets": sheets,
    }


# ------------------------------------------------------------------------------------------ contact sheets


def _sheet_name(photo: str, label: str) -> str:
    """The file name of a photo x method sheet: ``PHOTO__METHOD.png``, runs of characters other than letters,
    digits, ".", "_" and "-" replaced by "_"."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{photo}__{label}").strip("_") + ".png"


def _labelled(tile: np.ndarray, text: str, strip: int = 24) -> np.ndarray:
    """A uint8 (h, w, 3) tile with a black strip of ``strip`` px above it holding ``text`` in white."""
    label = np.zeros((strip, tile.shape[1], 3), np.uint8)
    cv2.putText(label, text, (6, strip - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([label, tile], axis=0)


def _contact_sheet(name: str, label: str, reference: _PhotoReference, samples: _LoopSamples,
                   figures: dict[str, float]) -> bytes:
    """PNG bytes: top row the photo and the sheet frames, bottom row the measured region (the photo dimmed
    outside it) and each frame's |frame - photo| heat map (mean over RGB, 0 .. HEAT_MAP_RANGE, inferno)."""
    photo_tile = resize_to_width(reference.image, SHEET_TILE_WIDTH)
    height, width = photo_tile.shape[:2]
    if reference.mask is None:
        region_tile, region_text = photo_tile, "moving region: whole frame (no mask)"
    else:
        inside = cv2.resize(reference.mask, (width, height), interpolation=cv2.INTER_AREA)[..., None] > 0.5
        region_tile = np.where(inside, photo_tile, (photo_tile * 0.25).astype(np.uint8))
        region_text = "moving region (hand mask)"
    top = [_labelled(photo_tile, "photo")]
    bottom = [_labelled(region_tile, region_text)]
    count = len(samples.flow_frames)
    for index in sorted(samples.sheet_frames):
        top.append(_labelled(samples.sheet_frames[index], f"frame {index} of {count}"))
        heat = np.clip(samples.sheet_heat[index] / HEAT_MAP_RANGE * 255, 0, 255).astype(np.uint8)
        heat_rgb = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
        bottom.append(_labelled(heat_rgb, f"|frame {index} - photo|, 0-{HEAT_MAP_RANGE:.0f}"))
    grid = np.concatenate([np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)], axis=0)

    def show(key: str) -> str:
        value = figures.get(key)
        return "n/a" if value is None or not math.isfinite(value) else PHOTO_METRICS[key].fmt.format(value)

    title = (f"{name}  |  {label}  |  coherence {show('coherence')} (colour-norm. {show('coherence_colour')})  "
             f"fluid {show('fluid_motion')} px/f  static {show('static_motion')} px/f  sharpness "
             f"{show('sharpness')}  seam {show('seam_ratio')}  {show('seconds')} s")
    sheet = _labelled(grid, title, strip=32)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding of a contact sheet failed")
    return png.tobytes()


# ------------------------------------------------------------------------------------------------ reports


def _format(key: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return PHOTO_METRICS[key].fmt.format(value)


def format_photo_table(report: dict) -> str:
    """Markdown table: one row per method x photo and an average row (**mean**) per method; arrows: ↓ lower
    is better, ↑ higher, →1 closest to 1 (motion: more is livelier, not better in itself)."""
    arrows = {"higher": "", "lower": " ↓", "1": " →1"}
    keys = list(PHOTO_METRICS)
    lines = ["| Method | Photo | " + " | ".join(PHOTO_METRICS[k].label + arrows[PHOTO_METRICS[k].better]
                                               for k in keys) + " |",
             "|---|---|" + "---:|" * len(keys)]
    for label, entry in report["methods"].items():
        for photo, figures in entry["photos"].items():
            lines.append(f"| {label} | {photo} | " + " | ".join(_format(k, figures.get(k)) for k in keys) + " |")
        lines.append(f"| **{label}** | **mean** | " +
                     " | ".join(_format(k, entry["summary"].get(k)) for k in keys) + " |")
    return "\n".join(lines)


def _photo_markdown(report: dict) -> str:
    s = report["settings"]
    masked = sum(1 for p in report["photos"].values() if p["mask"])
    lines = ["# cinescape photo evaluation", ""]
    if report.get("command"):
        lines += ["```", report["command"], "```", ""]
    lines += [f"{len(report['photos'])} photos from {s['photos']} ({masked} with a hand mask), {s['frames']} frames "
              f"per loop at each photo's own resolution, seed {s['seed']}; `shift`: {s['shift_speed']:g} px/frame "
              f"at {s['shift_angle']:g}°, bilinear, borders reflected. Coherence query patches at stride "
              f"{s['patch_stride']} (rows and columns). Means run over the photos where a figure exists.", "",
              format_photo_table(report), "", "| Metric | What it measures |", "|---|---|"]
    lines += [f"| {PHOTO_METRICS[k].label} | {PHOTO_METRICS[k].description} |" for k in PHOTO_METRICS]
    lines += ["", "Method settings:", ""]
    for label, entry in report["methods"].items():
        shown = {k: v for k, v in entry.get("settings", {}).items()
                 if k in ("model", "loop", "loop_period", "mode", "appearance", "auto_mask", "motion_speed",
                          "speed_px_per_frame", "angle_degrees", "border")}
        lines.append(f"- {label}: " + (", ".join(f"{k} {v}" for k, v in shown.items()) or "the photo repeated"))
    if report["notes"]:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def _photo_csv(report: dict) -> str:
    keys = list(PHOTO_METRICS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "photo"] + keys)
    for label, entry in report["methods"].items():
        rows = [*entry["photos"].items(), ("ALL", entry["summary"])]
        for photo, figures in rows:
            writer.writerow([label, photo] + ["" if figures.get(k) is None else f"{figures[k]:.6g}" for k in keys])
    return buffer.getvalue()


def prepare_out(out: str | Path) -> Path:
    """Create the output folder (one-line error if that fails); call it before the work."""
    folder = Path(out).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CinescapeError(f"cannot create --out {folder}: {exc.strerror}") from None
    return folder


def write_photo_report(report: dict, out: str | Path) -> list[Path]:
    """Write ``metrics.json``, ``metrics.md`` and ``metrics.csv`` into ``out``, each through a temporary
    file renamed when complete (the contact sheets are written by :func:`evaluate_photos`)."""
    folder = prepare_out(out)
    report = _clean(report)
    files = [folder / "metrics.json", folder / "metrics.md", folder / "metrics.csv"]
    atomic_write_bytes(files[0], (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode())
    atomic_write_bytes(files[1], _photo_markdown(report).encode())
    atomic_write_bytes(files[2], _photo_csv(report).encode())
    return files
