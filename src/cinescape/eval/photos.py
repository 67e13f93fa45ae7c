"""``cinescape evaluate --photos DIR``: full-resolution loops of real photos, measured as people see them.

The clip protocol (:mod:`cinescape.eval.evaluate`) compares 128-256 px crops of 32 frames with real clips;
it misses what a user sees in a full-resolution loop of their own photo: branches dragged into streaks across
the sky, clouds smeared into swirls, a lake tearing along a diagonal, halos at ridges, colour halos. This
module animates every photo of a folder at its own resolution through the public API, exactly as
``cinescape animate photo.jpg -o loop.mp4`` does (:class:`~cinescape.methods.al.AnimationSettings` defaults and
the model's defaults, 60 frames), and measures each loop against the photo itself.

Inputs. ``DIR`` holds photos (``.png``, ``.jpg``, ...; natural name order) and optionally hand-made fluid
masks ``DIR/masks/NAME.png`` (same stem as the photo; white = fluid, the region that should move; resized to
the photo). The *moving region* of a photo is its mask > 0.5, or the whole frame without a mask.

Methods (:func:`parse_method_spec`): ``static`` (the photo repeated), ``shift`` (the whole photo drifting
rigidly, :class:`ShiftPhotoMethod`), and models with optional setting overrides,
``NAME[:KEY=VALUE[,KEY=VALUE...]]`` with NAME ``default`` (the shipped model), ``fgla`` (the shipped FGLA
model), ``deeplandscape`` (the shipped DeepLandscape model, settings of ``DeepLandscapeSettings``, e.g.
``deeplandscape:finetune_steps=50``), ``fgla:DIR`` or a model folder, e.g. ``default:mode=eulerian,loop=symmetric``
or ``default:appearance=false``.

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
* **sharpness min** (→1, ≥ 0.9 wanted): the softest frame: the minimum over the loop of each colour-normalised
  frame's mean |Laplacian| in the moving region over the photo's (:func:`frame_sharpness_ratios`), at the photo's
  own resolution, frame by frame as it is rendered: what a user sees (at :data:`FLOW_WIDTH` the downscale hides
  a loss of the finest detail, e.g. what bicubic sampling between pixels takes).
* **seam** (→1): :func:`cinescape.eval.metrics.seam_ratio` of the frames at width :data:`FLOW_WIDTH`: the
  last -> first step over the mean step (NaN for a still video).
* **seconds**: wall time to generate the frames (model loading excluded).
* **inversion PSNR / LPIPS** (DeepLandscape rows only): :func:`cinescape.eval.metrics.inversion_quality` of the
  inversion's reconstruction against the photo resized to the generator's R×R (dB ↑; LPIPS-SqueezeNet ↓, n/a
  without its weights). Columns appear only when a row has them.

Contact sheets (``OUT/sheets/NAME__METHOD.png``): the photo and :data:`SHEET_FRAMES` frames spread over the
loop (top row), the measured region and each frame's ``|frame - photo|`` heat map (bottom row), at
:data:`SHEET_TILE_WIDTH` px per tile.

Layout: the methods are in :mod:`cinescape.eval.photo_methods`, the measurements in
:mod:`cinescape.eval.photo_metrics` (both importable from here too); this module finds the photos, runs every
method on every photo, and writes the report and the contact sheets.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..data.clips import natural_key
from ..errors import OptionError
from ..models.base import atomic_write_bytes
from . import metrics as M
from .photo_settings import PhotoEvalSettings
from .photo_methods import (MethodSpec, PhotoMethod, PipelinePhotoMethod, ShiftPhotoMethod, StaticPhotoMethod,
                            parse_method_spec, resolve_photo_method, shift_frame)
from .photo_metrics import (PATCH_SIZE, NearestPatchIndex, evenly_spaced, extract_patches, match_colour_statistics,
                            frame_sharpness_ratios, patch_coherence, region_motion, resize_to_width,
                            seam_ratio_uint8, set_search_threads, sharpness_ratio)
from .report import MetricInfo, _clean, prepare_out

__all__ = ["PhotoEvalSettings", "Photo", "MethodSpec", "PHOTO_METRICS", "parse_method_spec", "find_photos",
           "resize_to_width", "evenly_spaced", "extract_patches", "NearestPatchIndex", "set_search_threads",
           "patch_coherence", "match_colour_statistics", "region_motion", "sharpness_ratio", "seam_ratio_uint8",
           "StaticPhotoMethod", "ShiftPhotoMethod", "PipelinePhotoMethod", "resolve_photo_method", "shift_frame",
           "evaluate_photos", "prepare_out", "write_photo_report", "format_photo_table", "PATCH_SIZE"]

COMPARE_WIDTH = 384          # width of the patch-coherence comparison
COHERENCE_FRAMES = 8         # frames per loop the coherence looks at, spread evenly
FLOW_WIDTH = 512             # width of the motion, sharpness and seam measurements
SHEET_FRAMES = 4             # frames on a contact sheet
SHEET_TILE_WIDTH = 512       # width of one contact-sheet tile
HEAT_MAP_RANGE = 64.0        # |frame - photo| (0-255 scale, mean over RGB) shown at full heat
DEFAULT_PHOTO_METHODS = ("static", "shift", "default")
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MASK_FOLDER = "masks"


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
        raise OptionError(f"photos: {root} does not exist")
    if not root.is_dir():
        raise OptionError(f"photos: {root} is not a folder; give a folder of photos")
    files = sorted((p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in PHOTO_EXTENSIONS), key=lambda p: natural_key(p.name))
    if not files:
        raise OptionError(f"photos: {root} holds no photo files ({', '.join(PHOTO_EXTENSIONS)})")
    masks: dict[str, Path] = {}
    if (root / MASK_FOLDER).is_dir():
        for p in sorted((root / MASK_FOLDER).iterdir(), key=lambda p: p.suffix.lower() != ".png"):  # .png first
            if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS:
                masks.setdefault(p.stem, p)
    photos = [Photo(p.stem, p, masks.get(p.stem)) for p in files]
    if len({p.name for p in photos}) != len(photos):
        raise OptionError(f"photos: {root}: two photos share a name stem (e.g. a.png and a.jpg)")
    if only_masked:
        photos = [p for p in photos if p.mask_path is not None]
        if not photos:
            raise OptionError(f"only_masked: no photo in {root} has a mask {root / MASK_FOLDER}/NAME.png")
    return photos[:max_photos] if max_photos else photos


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
    "sharpness_min": MetricInfo("Sharpness min", "1", "{:.3f}",
                                "the softest frame: minimum over the loop of each colour-normalised frame's mean "
                                "|Laplacian| in the moving region over the photo's, at the photo's own resolution "
                                "(issue 30: >= 0.9 in every frame)"),
    "seam_ratio": MetricInfo("Seam", "1", "{:.2f}",
                             f"last->first step over the mean step at {FLOW_WIDTH} px width (1 = seamless; "
                             "undefined for a still video)"),
    "seconds": MetricInfo("Seconds", "lower", "{:.1f}", "wall time to generate the frames (models loaded)"),
    "inversion_psnr": MetricInfo("Inversion PSNR", "higher", "{:.2f}",
                                 "PSNR (dB) of the GAN inversion's reconstruction vs the photo at the generator's "
                                 "resolution (DeepLandscape)"),
    "inversion_lpips": MetricInfo("Inversion LPIPS", "lower", "{:.4f}",
                                  "LPIPS-SqueezeNet of the same pair (DeepLandscape)"),
}
#: Figures only some methods have: their columns are shown only when a row has a value.
OPTIONAL_PHOTO_METRICS = ("inversion_psnr", "inversion_lpips")


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
    region: np.ndarray | None = None    # bool moving region at full resolution (None: everywhere)

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
                   else flow_mask, region=None if mask is None else mask > 0.5)


@dataclass
class _LoopSamples:
    """What the metrics keep of a generated loop, taken frame by frame (a long 4K loop is never held whole):
    the coherence frames at COMPARE_WIDTH, every frame at FLOW_WIDTH, and the contact-sheet tiles."""

    coherence_frames: dict[int, np.ndarray] = field(default_factory=dict)
    flow_frames: list[np.ndarray] = field(default_factory=list)
    native_sharpness: list[float] = field(default_factory=list)   # per frame, at the photo's resolution
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
        samples.native_sharpness.append(float(frame_sharpness_ratios([frame], reference.image, reference.region)[0]))
        if index in sheet_at:
            samples.sheet_frames[index] = resize_to_width(frame, SHEET_TILE_WIDTH)
            difference = np.abs(frame.astype(np.int16) - reference.image.astype(np.int16)).mean(-1)
            samples.sheet_heat[index] = resize_to_width(difference.astype(np.float32), SHEET_TILE_WIDTH)
        started = time.perf_counter()
    return samples


def _measure(reference: _PhotoReference, samples: _LoopSamples, stride: int) -> dict[str, float]:
    """The figures of one photo x method (the inversion's are added by :func:`evaluate_photos`)."""
    frames = [samples.coherence_frames[i] for i in sorted(samples.coherence_frames)]
    normalised = [match_colour_statistics(f, reference.compare) for f in frames]
    figures = {
        "coherence": patch_coherence(frames, reference.index, reference.compare_region, stride),
        "coherence_colour": patch_coherence(normalised, reference.index, reference.compare_region, stride),
        "fluid_motion": math.nan,
        "static_motion": math.nan,
        "sharpness": sharpness_ratio(samples.flow_frames, reference.flow_photo, reference.flow_region),
        "sharpness_min": _nanmin(np.asarray(samples.native_sharpness, np.float64)),
        "seam_ratio": seam_ratio_uint8(samples.flow_frames),
        "seconds": samples.seconds,
    }
    if reference.flow_mask is not None:
        figures["fluid_motion"], figures["static_motion"] = region_motion(samples.flow_frames, reference.flow_mask)
    return figures


def _nanmin(values: np.ndarray) -> float:
    return float(np.nanmin(values)) if np.isfinite(values).any() else math.nan


def evaluate_photos(settings: PhotoEvalSettings, methods: list[str] | None = None, *, out: str | Path | None = None,
                    progress: bool = True, command: str | None = None, lpips: M.LPIPS | None = None) -> dict:
    """Animate every photo with every method and measure the loops; returns the report (``metrics.json``).

    ``methods``: method specs (:func:`parse_method_spec`); default static, shift, default. ``out``: where the
    contact sheets go (``out/sheets/NAME__METHOD.png``, each written as soon as it is made, through a
    temporary file); None (or ``settings.sheets`` False) makes none. ``lpips``: the network of the inversion
    LPIPS (DeepLandscape rows; None: the pretrained one, loaded when such a row comes, or n/a without its
    weights)."""
    settings.validate()
    specs = [parse_method_spec(m) for m in (methods or DEFAULT_PHOTO_METHODS)]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise OptionError(f"the entries of methods must differ, got {labels}")
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
    notes: list[str] = []
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
            inversion = getattr(method, "inversion", None)
            if inversion is not None:
                if lpips is None:
                    lpips = _inversion_lpips(notes)
                figures.update(M.inversion_quality(inversion.reconstruction(), inversion.target,
                                                         None if lpips is False else lpips))
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
        summary = {key: M.nanmean([figures.get(key, math.nan) for figures in per_photo.values()])
                   for key in PHOTO_METRICS}
        report_methods[label] = {"summary": summary, "photos": per_photo,
                                 "settings": descriptions[label]}
    return {
        "command": command,
        "settings": asdict(settings),
        "photos": {p.name: {"path": str(p.path), "mask": None if p.mask_path is None else str(p.mask_path)}
                   for p in photos},
        "notes": [f"nearest-patch search: {', '.join(sorted(backends))}",
                  f"wall time {time.perf_counter() - started:.1f} s for {len(photos)} photos x "
                  f"{len(resolved)} methods", *notes],
        "metrics": {k: asdict(v) for k, v in PHOTO_METRICS.items()},
        "methods": report_methods,
        "sheets": sheets,
    }


def _inversion_lpips(notes: list[str]):
    """The pretrained LPIPS for the inversion figures, or False (with a note) without its weights."""
    from ..errors import ModelLoadError

    try:
        return M.LPIPS(pretrained=True)
    except ModelLoadError as exc:
        notes.append(f"inversion LPIPS unavailable: {exc}")
        return False


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


def _photo_columns(report: dict) -> list[str]:
    """The metrics shown: all, but :data:`OPTIONAL_PHOTO_METRICS` only where some row has a value."""
    def has_value(key: str) -> bool:
        return any(isinstance(figures.get(key), (int, float)) and math.isfinite(figures[key])
                   for entry in report["methods"].values() for figures in entry["photos"].values())

    return [k for k in PHOTO_METRICS if k not in OPTIONAL_PHOTO_METRICS or has_value(k)]


def format_photo_table(report: dict) -> str:
    """Markdown table: one row per method x photo and an average row (**mean**) per method; arrows: ↓ lower
    is better, ↑ higher, →1 closest to 1 (motion: more is livelier, not better in itself)."""
    arrows = {"higher": "", "lower": " ↓", "1": " →1"}
    keys = _photo_columns(report)
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
    lines += [f"| {PHOTO_METRICS[k].label} | {PHOTO_METRICS[k].description} |" for k in _photo_columns(report)]
    lines += ["", "Method settings:", ""]
    for label, entry in report["methods"].items():
        shown = {k: v for k, v in entry.get("settings", {}).items()
                 if k in ("model", "loop", "loop_period", "mode", "appearance", "auto_mask", "motion_speed",
                          "speed_px_per_frame", "angle_degrees", "border", "latent_steps", "finetune_steps",
                          "speed", "period", "lighting", "use_mask")}
        lines.append(f"- {label}: " + (", ".join(f"{k} {v}" for k, v in shown.items()) or "the photo repeated"))
    if report["notes"]:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def _photo_csv(report: dict) -> str:
    keys = _photo_columns(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "photo"] + keys)
    for label, entry in report["methods"].items():
        rows = [*entry["photos"].items(), ("ALL", entry["summary"])]
        for photo, figures in rows:
            writer.writerow([label, photo] + ["" if figures.get(k) is None else f"{figures[k]:.6g}" for k in keys])
    return buffer.getvalue()


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
