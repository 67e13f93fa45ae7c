"""``cinescape evaluate``: the papers' metrics for baselines and models on a folder of test clips.

Protocol (FGLA Sec. 4, DeepLandscape Sec. 5, AL Fig. 10). For each test clip:

1. The first ``frames`` frames (after ``stride``) are centre-cropped to a square and resized to
   ``size`` × ``size`` (or, with ``keep_aspect``, resized to a short side of ``size``): the real frames
   every generated video is compared with.
2. Each method generates ``frames`` frames (frame 0 = the input) ``samples`` times with seeds
   ``seed, seed + 1, ...`` (the model's latent codes); deterministic methods run once. Models animate the
   clip's frame 0 as read (native size, uncropped: the photo a user would give ``cinescape animate``) with
   the model's default settings, except the protocol's ``loop`` (``none``) and ``appearance`` (off), and
   their frames are then cropped and resized exactly like the real frames (:meth:`EvalClip.prepare`). So a
   model's figures are those of ``cinescape animate PHOTO -o OUT/ --loop none --no-appearance --frames N
   --seed S`` scored against the prepared real frames.
3. Metrics compare generated frame n with the input and with real frame n. Averages run over frames
   1..N-1 (frame 0 is the input for every method), then over samples and clips; "best" figures take the
   best sample of each clip. Set-level distances (FID-style, FVD) pool all clips.

Methods: ``static`` (the input repeated: wins every static-consistency metric and scores 0 motion),
``shift`` (the whole image translated at ``shift_speed`` px/frame in a seeded direction), ``real``
(the real clip itself, a reference), ``default`` (the shipped model), ``fgla``, ``deeplandscape`` (the shipped
models of those methods; DeepLandscape rows add the inversion's PSNR / LPIPS, its loop is its own), any model folder
and ``fgla:DIR`` (an FGLA model folder, :mod:`cinescape.methods.fgla`; each seed picks a latent per semantic group
from its codebook); models take settings as ``NAME:KEY=VALUE,...``.

Layout: the methods are in :mod:`cinescape.eval.clip_methods`, the metric table and the report files in
:mod:`cinescape.eval.clip_report` (both importable from here too); this module prepares the clips and runs the
protocol.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.clips import discover_clips
from ..errors import ModelLoadError, OptionError
from ..ops import flow_normalized_to_pixels
from ..segmentation import SkyMatte
from . import metrics as M
from .clip_data import EvalClip, EvalSettings, prepare_frames
from .clip_methods import (Generated, Method, PipelineMethod, RealMethod, ShiftMethod, StaticMethod,
                           resolve_method)
from .clip_report import BEST_OF, METRICS, PER_FRAME, SET_LEVEL, format_table, write_report
from .report import MetricInfo

__all__ = ["EvalSettings", "Method", "Generated", "EvalClip", "METRICS", "resolve_method", "find_clips",
           "prepare_frames", "load_clips", "SkyMatte", "evaluate", "write_report", "format_table",
           "StaticMethod", "ShiftMethod", "RealMethod", "PipelineMethod", "MetricInfo"]

DEFAULT_METHODS = ("static", "shift", "default")
BASELINES = ("static", "shift", "real")


def find_clips(data: str | Path) -> list[Path]:
    """The clips under ``data`` (:func:`~cinescape.data.clips.discover_clips`); none is an error."""
    root = Path(data).expanduser()
    if not root.exists():
        raise OptionError(f"data: {root} does not exist")
    clips = discover_clips(root)
    if not clips:
        raise OptionError(f"data: {root} holds no clips (folders of frames or video files)")
    return clips


def _load_mask(path: Path, size: int, keep_aspect: bool) -> torch.Tensor:
    from ..io.image import load_image

    image = load_image(path, min_side=1)
    return torch.from_numpy(prepare_frames([image], size, keep_aspect)[0].mean(-1) > 127)


def load_clips(settings: EvalSettings, *, progress: bool = False) -> tuple[list[EvalClip], list[str]]:
    """Read and prepare the test clips; returns ``(clips, notes)`` (notes: skipped clips and why)."""
    from ..data.splits import is_validation_clip
    from ..io.video import read_clip

    clips: list[EvalClip] = []
    notes: list[str] = []
    if settings.data:
        paths = find_clips(settings.data)
        if settings.validation_only:
            paths = [p for p in paths if is_validation_clip(p)]
            if not paths:
                raise OptionError(f"validation_only: no validation clip under {settings.data} "
                                  "(see cinescape.data.splits)")
        paths = paths[:settings.max_clips] if settings.max_clips else paths
        for path in tqdm(paths, desc="reading clips", unit="clip", disable=not progress):
            frames = read_clip(path, max_frames=None if settings.cut else settings.frames, stride=settings.stride)
            if len(frames) < settings.frames:
                notes.append(f"skipped {path.name}: {len(frames)} frames, fewer than frames={settings.frames}")
                continue
            starts = range(0, len(frames) - settings.frames + 1, settings.frames) if settings.cut else [0]
            for start in starts:
                name = f"{path.stem if path.is_file() else path.name}" + (f"@{start}" if settings.cut else "")
                prepared = prepare_frames(frames[start:start + settings.frames], settings.size, settings.keep_aspect)
                clips.append(EvalClip(name=name, frames=prepared, photo=frames[start], size=settings.size,
                                      keep_aspect=settings.keep_aspect))
    for i in range(settings.synthetic):
        clips.append(_synthetic_clip(i, settings))
    if not clips:
        raise OptionError("no clip has enough frames: " + "; ".join(notes))
    _attach_dynamic_masks(clips, settings, notes)
    return clips, notes


def _synthetic_clip(index: int, settings: EvalSettings) -> EvalClip:
    from ..data.synthetic import generate_timelapse

    # day_cycle=False: colours stay fixed, so the exact flows explain the frames.
    clip = generate_timelapse(settings.frames, settings.size, settings.size, seed=settings.seed + 7919 * (index + 1),
                              day_cycle=False, water=index % 2 == 0)
    frames = ((clip.frames.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    flows = flow_normalized_to_pixels(clip.flows)
    return EvalClip(name=f"synthetic_{index:03d}", frames=frames, flows=flows, flow_valid=clip.valid,
                    dynamic=clip.masks[0, 0] > 0.5, dynamic_source="generator mask (sky + water)")


def _attach_dynamic_masks(clips: list[EvalClip], settings: EvalSettings, notes: list[str]) -> None:
    """Sky/water masks of frame 0 for the DeepLandscape metrics: user masks, else the sky matte."""
    matte: SkyMatte | None = None
    if settings.sky_matte and any(c.dynamic is None for c in clips):
        try:
            matte = SkyMatte()
        except ModelLoadError as exc:
            notes.append(f"DeepLandscape metrics without a sky matte ({exc})")
    for clip in clips:
        if clip.dynamic is not None:
            continue
        if settings.masks:
            candidates = [Path(settings.masks) / f"{clip.name.split('@')[0]}{ext}" for ext in (".png", ".jpg")]
            found = next((p for p in candidates if p.is_file()), None)
            if found is not None:
                clip.dynamic = _load_mask(found, settings.size, settings.keep_aspect)
                if tuple(clip.dynamic.shape) != clip.frames.shape[1:3]:
                    raise OptionError(f"mask {found} does not match clip {clip.name} after resizing")
                clip.dynamic_source = "user masks"
                continue
        if matte is not None:
            clip.dynamic = torch.from_numpy(matte(clip.frames[0]) > 0.5)
            clip.dynamic_source = SkyMatte.source


# --------------------------------------------------------------------------------------- evaluation


class _Networks:
    """The feature networks of one evaluation, and why any of them is unavailable."""

    def __init__(self, settings: EvalSettings, lpips: M.LPIPS | None):
        from .fid import load_i3d, load_inception

        self.lpips = lpips if lpips is not None else M.LPIPS()
        self.notes: dict[str, str] = {"lpips": "SqueezeNet-1.1 + LPIPS v0.1 heads",
                                      "fid_squeezenet": "SqueezeNet-1.1 (ImageNet) fire9, global average (512-d)"}
        self.inception = self.i3d = None
        try:
            self.inception = load_inception(settings.inception)
            self.notes["fid"] = f"Inception-v3 {self.inception.weights_file} (sha256 {self.inception.weights_sha256[:12]})"
        except ModelLoadError as exc:
            self.notes["fid"] = f"unavailable: {exc}"
        try:
            self.i3d = load_i3d(settings.i3d)
            self.notes["fvd"] = f"I3D {self.i3d.weights_file} (sha256 {self.i3d.weights_sha256[:12]})"
        except ModelLoadError as exc:
            self.notes["fvd"] = f"unavailable: {exc}"

    @torch.no_grad()
    def lpips_features(self, frames: torch.Tensor, chunk: int = 16) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Normalised LPIPS features of (N, 3, H, W) frames, and their pooled fire9 activations (N, 512).

        LPIPS's input scaling equals the ImageNet normalisation in [-1, 1] units, so the un-normalised
        last slice is the SqueezeNet-1.1 classifier's fire9 output: one pass serves both metrics."""
        parts, pooled = [], []
        for start in range(0, frames.shape[0], chunk):
            raw = self.lpips.raw_features(frames[start:start + chunk])
            pooled.append(raw[-1].mean((2, 3)))
            parts.append(self.lpips.normalize(raw))
        return [torch.cat(layer) for layer in zip(*parts)], torch.cat(pooled)

    @torch.no_grad()
    def inception_features(self, frames: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        return torch.cat([self.inception(frames[i:i + chunk]) for i in range(0, frames.shape[0], chunk)])


@dataclass
class _ClipState:
    """Per-clip quantities shared by all methods."""

    real: torch.Tensor                  # (N, 3, H, W) pixel scale
    moving: torch.Tensor                # (H, W) FGLA Eq. 14
    real_flows: torch.Tensor            # (N-1, 2, H, W) DIS
    real_lpips: list[torch.Tensor]
    seam_real: float


def _frame_metrics(nets: _Networks, clip: EvalClip, state: _ClipState, gen: Generated) -> dict:
    """Per-frame curves (N,) and per-video figures of one generated video."""
    x = M.frames_to_tensor(gen.frames)
    input_ = state.real[:1]
    static = ~state.moving
    feats, pooled = nets.lpips_features(x)
    input_feats = [f[:1] for f in state.real_lpips]
    out = {
        "psnr_static": M.psnr(x, input_, static),
        "ssim_static": M.ssim(x, input_.expand_as(x), static),
        "lpips_input": nets.lpips.distance(feats, input_feats),
        "lpips_real": nets.lpips.distance(feats, state.real_lpips),
        "rmse_real": M.rmse(x, state.real),
    }
    if clip.dynamic is not None:
        keep = ~clip.dynamic
        out["ssim_dl"] = M.ssim(x, input_.expand_as(x), keep)
        out["lpips_dl"] = nets.lpips.distance(feats, input_feats, keep)
    if clip.flows is not None and gen.flows is not None:
        epe = M.endpoint_error(gen.flows, clip.flows, clip.flow_valid)
        epe[0] = float("nan")  # frame 0 has no flow
        out["epe"] = epe
    curves = {k: v.detach().float().numpy() for k, v in out.items()}
    scalars = {
        "motion_ratio": M.motion_ratio(gen.frames, clip.frames, state.moving, real_flows=state.real_flows),
        "seam_ratio": M.seam_ratio(x),
    }
    if gen.inversion is not None:
        scalars.update(M.inversion_quality(*gen.inversion, nets.lpips))
    extra = {"pooled": pooled}
    if nets.inception is not None:
        extra["inception"] = nets.inception_features(x)
    if nets.i3d is not None:
        extra["i3d"] = nets.i3d(x[None])[0]
    return {"curves": curves, "scalars": scalars, "extra": extra}


def _summarise_clip(samples: list[dict]) -> tuple[dict, dict]:
    """Per-clip figures (mean over frames 1.., then samples; best sample) and the mean per-frame curves."""
    figures: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    for key in PER_FRAME:
        runs = [s["curves"][key] for s in samples if key in s["curves"]]
        if not runs:
            continue
        per_sample = [M.nanmean(r[1:]) for r in runs]
        figures[key] = M.nanmean(per_sample)
        if key + "_best" in BEST_OF:
            finite = [v for v in per_sample if math.isfinite(v)]
            figures[key + "_best"] = min(finite) if finite else math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (frame 0 of EPE) stay NaN
            curves[key] = np.nanmean(np.stack(runs), axis=0)
    for key in dict.fromkeys(k for s in samples for k in s["scalars"]):   # motion, seam (, inversion) in order
        figures[key] = M.nanmean([s["scalars"].get(key, math.nan) for s in samples])
    return figures, curves


def _fd_or_nan(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape[0] < 2 or b.shape[0] < 2:
        return math.nan
    return M.frechet_distance_from_features(a, b)


def evaluate(settings: EvalSettings, methods: list[str | Method] | None = None, *, progress: bool = True,
             lpips: M.LPIPS | None = None, command: str | None = None) -> dict:
    """Run the evaluation and return the report (the content of ``metrics.json``).

    ``methods``: names (see :func:`resolve_method`) or :class:`Method` objects; default static, shift, default.
    ``lpips``: a prebuilt :class:`~cinescape.eval.metrics.LPIPS` (tests pass an untrained one).
    """
    settings.validate()
    names = list(methods or DEFAULT_METHODS)
    resolved = [resolve_method(m, settings) for m in names]
    labels = [m.name for m in resolved]
    if len(set(labels)) != len(labels):
        raise OptionError(f"the entries of methods must differ, got {labels}")
    clips, notes = load_clips(settings, progress=progress)
    notes += [m.note for m in resolved if m.note]
    nets = _Networks(settings, lpips)

    results = {m.name: {"clips": {}, "curves": [], "pooled": [], "inception": [], "i3d": []} for m in resolved}
    reference = {"pooled_first": [], "inception_first": [], "i3d": []}
    bar = tqdm(total=len(clips) * len(resolved), desc="evaluating", unit="run", disable=not progress)
    for clip in clips:
        real = M.frames_to_tensor(clip.frames)
        real_lpips, real_pooled = nets.lpips_features(real)
        state = _ClipState(real=real, moving=M.moving_mask(real), real_flows=M.optical_flow_dis(clip.frames),
                           real_lpips=real_lpips, seam_real=M.seam_ratio(real))
        reference["pooled_first"].append(real_pooled[0])
        if nets.inception is not None:
            reference["inception_first"].append(nets.inception_features(real[:1])[0])
        if nets.i3d is not None:
            reference["i3d"].append(nets.i3d(real[None])[0])
        for method in resolved:
            bar.set_postfix_str(f"{clip.name} / {method.name}")
            runs = settings.samples if method.stochastic else 1
            samples = [_frame_metrics(nets, clip, state, method.generate(clip, settings.seed + s)) for s in range(runs)]
            figures, curves = _summarise_clip(samples)
            figures["moving_fraction"] = float(state.moving.float().mean())
            figures["seam_ratio_real"] = state.seam_real
            entry = results[method.name]
            entry["clips"][clip.name] = figures
            entry["curves"].append(curves)
            # Set-level features: (samples, N, D) per clip.
            entry["pooled"].append(torch.stack([s["extra"]["pooled"] for s in samples]))
            if nets.inception is not None:
                entry["inception"].append(torch.stack([s["extra"]["inception"] for s in samples]))
            if nets.i3d is not None:
                entry["i3d"].extend(s["extra"]["i3d"] for s in samples)
            bar.update(1)
    bar.close()

    num_frames = settings.frames
    report_methods = {}
    for method in resolved:
        entry = results[method.name]
        summary = {key: M.nanmean([c.get(key, math.nan) for c in entry["clips"].values()])
                   for key in [*METRICS, "moving_fraction", "seam_ratio_real"] if key not in SET_LEVEL}
        per_frame = {}
        for key in PER_FRAME:
            stacked = [c[key] for c in entry["curves"] if key in c]
            if stacked:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    per_frame[key] = np.nanmean(np.stack(stacked), axis=0).tolist()
        # Set-level distances per frame index n: real first frames vs all generated frames n.
        for key, feats, first in (("fid_squeezenet", entry["pooled"], reference["pooled_first"]),
                                  ("fid", entry["inception"], reference["inception_first"])):
            if not feats:
                summary[key] = math.nan
                continue
            real_first = torch.stack(first)
            curve = [_fd_or_nan(real_first, torch.cat([f[:, n] for f in feats])) for n in range(num_frames)]
            per_frame[key] = curve
            summary[key] = M.nanmean(curve[1:])
        summary["fvd"] = (_fd_or_nan(torch.stack(reference["i3d"]), torch.stack(entry["i3d"]))
                          if entry["i3d"] else math.nan)
        report_methods[method.name] = {"summary": summary, "clips": entry["clips"], "per_frame": per_frame}

    sources = sorted({c.dynamic_source for c in clips})
    return {
        "command": command,
        "settings": asdict(settings),
        "clips": [c.name for c in clips],
        "notes": notes,
        "networks": {**nets.notes, "deeplandscape_mask": ", ".join(sources)},
        "metrics": {k: asdict(v) for k, v in METRICS.items()},
        "methods": report_methods,
    }
