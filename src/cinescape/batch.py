"""Many photos in one run: one set of settings, N worker processes that load the models once, resumable.

    cinescape animate photos/ -o loops/ --workers 2           # every image in photos/ -> loops/NAME.mp4
    cinescape animate 'trip/*.jpg' -o 'loops/{stem}.webm'     # a glob and an output name pattern
    cinescape animate photos/ -o loops/ --backend ray         # the same items as Ray actors (local or a cluster)

    result = cinescape.animate_many("photos/", "loops/", workers=2, num_frames=48)
    result.failed  # the items that failed, each with a one-line reason

Inputs: one folder (its image files, by extension, name order, not recursive), or paths and glob patterns (a
pattern that matches nothing is taken as a path, as a shell does). Every input is an *item*; a path that is a
directory, missing or not a decodable photo fails as an item with a one-line reason and never stops the batch.

Outputs: ``output`` is a folder (``DIR/``, or a name without extension: ``DIR/{stem}.mp4``) or a pattern with the fields ``{stem}`` (file name
without extension), ``{name}`` (file name) and ``{parent}`` (name of the input's folder); its extension picks the
format as for one photo, a pattern ending in ``/`` writes PNG frame folders. Every output is written under a
temporary name and renamed when complete, so an interrupted run (Ctrl-C, SIGKILL, a crash) leaves only complete
outputs; the next run deletes the temporary files the interrupted one left next to this batch's outputs.

Methods: any method ``cinescape animate`` takes (``method`` / ``model``; AL, FGLA, DeepLandscape); the settings are
that method's own settings object (:func:`cinescape.methods.select.resolve_settings`).

Manifest: ``manifest.jsonl`` in the output folder (the pattern's part before its first field), one JSON line per
attempted item: ``input``, ``output`` (relative to the manifest's folder), ``status`` ("done" or "failed"),
``error``, ``seconds``, ``seed``, ``settings`` and ``settings_hash``. The hash covers the settings, the frame rate,
the method and model (the model folder's file names, sizes and modification times) and the input file's SHA-256.
Rerunning the same command skips an item whose output exists and whose latest record is "done" with the same
hash; every other item (failed, never finished, output deleted, settings or photo changed) is done again. Only
one batch may write into an output folder at a time (a lock on the manifest says so in one line).

Seeds: every item is animated with the batch's ``seed`` itself (not seed + position), so a photo's output does
not depend on its position in the batch or on the other photos, is the same on both backends, and equals
``cinescape animate PHOTO --seed SEED`` with the same settings. For variations of one photo, run again with
another ``seed`` into another folder.

Workers (:mod:`cinescape.batch_local`; Ray actors: :mod:`cinescape.batch_ray`): each worker process (``spawn``:
no state inherited from the caller) builds its own pipeline once and renders items one at a time with
``threads_per_worker`` torch/OpenCV threads (default: the CPU cores divided among the workers, so two workers on
two cores use one thread each instead of fighting over both). Workers share nothing mutable: each has its own
pipeline, and the job description is copied to it. ``workers=1`` runs in the calling process with its thread
settings. A worker whose caller dies (SIGKILL) abandons its item and exits.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .errors import CinescapeError, OptionError, OutputError
from .io.image import _one_line
from .io.video import FRAME_EXTENSIONS, VideoWriter, _output_kind
from .methods.al.pipeline import AnimationSettings

MANIFEST_NAME = "manifest.jsonl"
DEFAULT_NAME_PATTERN = "{stem}.mp4"
BACKENDS = ("local", "ray")
PATTERN_FIELDS = ("stem", "name", "parent")
_GLOB_CHARS = "*?["
# Per-photo settings: a mask, arrows or colour patches are drawn for one photo's pixels.
_PER_PHOTO_FIELDS = ("mask", "arrows", "appearance_patches")


# --------------------------------------------------------------------------------------------- job description

@dataclass(frozen=True)
class PipelineSpec:
    """Which pipeline to build (the ``cinescape animate`` options that choose it); the same for every item."""

    method: str | None = None              # "al", "fgla" or "deeplandscape"; None: the model folder's own (shipped: al)
    model: str | None = None               # model folder; None: the shipped model of the method
    references: tuple[str, ...] = ()       # fgla: "GROUP=CLIP" (as --reference)
    region_speeds: tuple[str, ...] = ()    # fgla: "GROUP=X" (as --region-speed)
    reference_regions: tuple[str, ...] = ()  # fgla: "GROUP=REGION" (as --reference-region)
    motion_code: str | None = None         # checked against the method (al only)


def build_pipeline(spec: PipelineSpec):
    """(pipeline, extra ``plan`` arguments) for ``spec``: the ONE place a batch builds a pipeline.

    It goes through the function ``cinescape animate`` uses for one photo
    (:func:`cinescape.methods.select.pipeline_for`: the folder loaded with :func:`cinescape.methods.load_pipeline`,
    the method's options checked), so a batch item is animated exactly as that command animates it.
    """
    from .methods.select import pipeline_for

    return pipeline_for(spec.method, spec.model, references=spec.references, region_speeds=spec.region_speeds,
                        reference_regions=spec.reference_regions, motion_code=spec.motion_code)


def write_animation(pipeline, image, settings, output: str | os.PathLike, *, fps: float,
                    plan_options: dict | None = None, overwrite: bool = False, flow_video: str | None = None,
                    progress: bool = False, cancelled: Callable[[], bool] | None = None):
    """Animate ``image`` (uint8 (H, W, 3)) with ``pipeline`` into ``output`` (and the flow into ``flow_video``).

    The writers are opened first, so a bad output path fails before any work; on any error (Ctrl-C included)
    both discard their temporary files and nothing appears at the output paths. ``cancelled``, if given, is
    asked before each frame: True stops with KeyboardInterrupt. Returns the Animation.
    """
    import contextlib

    size = (image.shape[1], image.shape[0])
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(output, fps=fps, size=size, overwrite=overwrite,
                                                            background=True))
        flow_writer = None
        if flow_video:
            flow_writer = stack.enter_context(VideoWriter(flow_video, fps=fps, size=size, overwrite=overwrite))
        animation = pipeline.plan(image, settings, progress=progress, **(plan_options or {}))
        for frame in animation.frames():
            if cancelled is not None and cancelled():
                raise KeyboardInterrupt
            writer.write(frame)
        if flow_writer is not None:
            for frame in animation.flow_frames():
                flow_writer.write(frame)
    return animation


@dataclass(frozen=True)
class _Job:
    """What every item shares, copied to each worker (immutable from the workers' side)."""

    spec: PipelineSpec
    settings: object             # the method's settings (AnimationSettings, DeepLandscapeSettings, ...)
    fps: float
    threads: int | None          # torch/OpenCV threads of a worker (None: leave the process's settings)
    manifest: str | None         # where a worker records its items (None: the caller records them)
    settings_record: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Task:
    index: int                   # position in the batch
    input: str
    output: str
    manifest_output: str         # ``output`` relative to the manifest's folder (the manifest's key)
    settings_hash: str


@dataclass
class ItemResult:
    """One item of a batch: ``status`` is "done", "failed" or "skipped" (done by an earlier run)."""

    input: str
    output: str
    status: str
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchResult:
    """The items in input order and the manifest that records them."""

    items: list[ItemResult]
    manifest: Path

    @property
    def failed(self) -> list[ItemResult]:
        return [item for item in self.items if item.status == "failed"]

    @property
    def done(self) -> list[ItemResult]:
        return [item for item in self.items if item.status == "done"]

    @property
    def skipped(self) -> list[ItemResult]:
        return [item for item in self.items if item.status == "skipped"]

    @property
    def ok(self) -> bool:
        return not self.failed


# --------------------------------------------------------------------------------------------- inputs, outputs

def is_batch_request(inputs: Sequence[str], output: str) -> bool:
    """Whether ``cinescape animate INPUTS -o OUTPUT`` asks for a batch: several inputs, one folder, a glob
    pattern that is not a file's own name, or an output name pattern."""
    if len(inputs) != 1 or "{" in output:
        return True
    only = inputs[0]
    return Path(only).is_dir() or (any(c in only for c in _GLOB_CHARS) and not Path(only).exists())


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """The items of ``inputs``: a folder's image files (name order), or each path / glob pattern's matches."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = [os.fspath(i) for i in inputs]
    if len(inputs) == 1 and Path(inputs[0]).is_dir():
        folder = Path(inputs[0])
        return [str(p) for p in sorted(folder.iterdir())
                if p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith(".") and not p.is_dir()]
    items: list[str] = []
    for text in inputs:
        matches = sorted(glob.glob(text)) if any(c in text for c in _GLOB_CHARS) and not Path(text).exists() else []
        items.extend(matches or [text])
    return items


def output_pattern(output: str | os.PathLike) -> tuple[Path, str]:
    """(the manifest's folder, the output name pattern) for ``-o OUTPUT``: a folder or a pattern with fields."""
    text = os.fspath(output)
    if "{" not in text:
        if not (text.endswith(("/", os.sep)) or Path(text).is_dir() or not Path(text).suffix):
            raise OptionError(f"several photos need an output folder (-o {text}/) or a name pattern "
                              f"(-o DIR/{DEFAULT_NAME_PATTERN}), got {text!r}")
        return Path(text), str(Path(text) / DEFAULT_NAME_PATTERN)
    parts = Path(text).parts
    fixed = next(i for i, part in enumerate(parts) if "{" in part)
    root = Path(*parts[:fixed]) if fixed else Path(".")
    return root, text


def _output_name(pattern: str, input_path: str) -> str:
    path = Path(input_path)
    fields = {"stem": path.stem, "name": path.name, "parent": path.resolve().parent.name}
    try:
        return pattern.format_map(fields)
    except (KeyError, ValueError, IndexError) as exc:
        raise OptionError(f"output pattern {pattern!r}: use the fields {{stem}}, {{name}} or {{parent}} "
                          f"({_one_line(exc)})") from None


def plan_outputs(inputs: list[str], pattern: str) -> list[str]:
    """Each input's output path; two inputs writing one output is an error (before any work)."""
    outputs = [_output_name(pattern, i) for i in inputs]
    if outputs:
        _output_kind(outputs[0], Path(outputs[0]))  # an unknown extension fails here, once
    seen: dict[str, str] = {}
    for source, out in zip(inputs, outputs):
        key = os.path.normpath(os.path.abspath(out))
        if key in seen:
            raise OptionError(f"{seen[key]} and {source} would both be written to {out}; add {{parent}} or "
                              f"{{name}} to the output pattern")
        seen[key] = source
    return outputs


def _file_sha256(path: str) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:  # a missing file or a directory: the item fails later, with the reader's message
        return None


def _model_fingerprint(model: str | None) -> list:
    """The model folder's files (name, size, modification time), so a retrained model is not mistaken for the old."""
    if model is None:
        from . import __version__
        return ["shipped", __version__]
    folder = Path(model)
    if not folder.is_dir():
        return [str(model)]
    return [[str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(folder.rglob("*")) if p.is_file()]


def settings_record(settings, fps: float, spec: PipelineSpec) -> dict:
    """The batch's settings as JSON (recorded with every item): the pipeline spec (method, model), the frame
    rate and the method's settings (per-photo ones left out)."""
    fields = {name: value for name, value in dataclasses.asdict(settings).items() if name not in _PER_PHOTO_FIELDS}
    return {**dataclasses.asdict(spec), "fps": fps, **fields}


def _settings_hash(record: dict, model_fingerprint: list, input_sha256: str | None) -> str:
    text = json.dumps({"settings": record, "model": model_fingerprint, "input": input_sha256},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- manifest

def read_manifest(path: str | os.PathLike) -> dict[str, dict]:
    """The latest record of each output in a manifest (lines cut by a crash are ignored)."""
    latest: dict[str, dict] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return latest
    for line in lines:
        try:
            record = json.loads(line)
            latest[record["output"]] = record
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return latest


def _append_record(manifest: str, record: dict) -> None:
    # One write() on an O_APPEND descriptor: lines from several workers never interleave.
    data = (json.dumps(record) + "\n").encode()
    fd = os.open(manifest, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _lock_manifest(manifest: Path):
    """An open descriptor holding an exclusive lock on the manifest (released when closed or the process dies)."""
    fd = os.open(manifest, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputError(f"another batch is writing into {manifest.parent} (its {manifest.name} is locked); "
                          "wait for it or choose another output folder") from None
    # A line cut by a crash must not swallow the next record: end the file with a newline.
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, b"\n")
    return fd


def _remove_stale_temporaries(output: str) -> None:
    """Delete what an interrupted writer of ``output`` left: ``.NAME.<hex>.tmp|.probe|.old`` beside it."""
    path = Path(output).absolute()
    parent, name = path.parent, path.name
    for suffix in (".tmp", ".probe", ".old"):
        for stale in parent.glob(f".{glob.escape(name)}.{'[0-9a-f]' * 12}{suffix}"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------- one item

def _run_item(pipeline, plan_options: dict, job: _Job, task: _Task,
              cancelled: Callable[[], bool] | None = None) -> dict:
    """Animate one item; return its manifest record (a failure is a record too, never an exception, except
    KeyboardInterrupt, which aborts the output and propagates)."""
    from .io.image import load_image

    started = time.perf_counter()
    error = None
    try:
        Path(task.output).parent.mkdir(parents=True, exist_ok=True)
        image = load_image(task.input)
        write_animation(pipeline, image, dataclasses.replace(job.settings), task.output, fps=job.fps,
                        plan_options=plan_options, overwrite=True, cancelled=cancelled)
    except CinescapeError as exc:
        error = _one_line(exc, 300)
    except Exception as exc:  # a bug or a resource error; still one line, and the batch goes on
        error = f"{type(exc).__name__}: {_one_line(exc, 300)}"
    return {"input": task.input, "output": task.manifest_output, "status": "failed" if error else "done",
            "error": error, "seconds": round(time.perf_counter() - started, 3), "seed": job.settings.seed,
            "settings": job.settings_record, "settings_hash": task.settings_hash}


def set_worker_threads(threads: int | None) -> None:
    """Torch and OpenCV threads of a worker (the segmenters take torch's count when they load)."""
    if threads is None:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _failure(job: _Job, task: _Task, error: str) -> dict:
    return {"input": task.input, "output": task.manifest_output, "status": "failed", "error": error,
            "seconds": 0.0, "seed": job.settings.seed, "settings": job.settings_record,
            "settings_hash": task.settings_hash}


def _pixel_count(path: str) -> int:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size[0] * image.size[1]
    except Exception:  # not an image: it fails quickly anyway
        return 0


def _default_threads(workers: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // workers)


# --------------------------------------------------------------------------------------------- the API

def animate_many(inputs: str | os.PathLike | Iterable[str | os.PathLike], output: str | os.PathLike,
                 settings=None, *, fps: float = 20.0, method: str | None = None,
                 model: str | os.PathLike | None = None, references: Sequence[str] = (),
                 region_speeds: Sequence[str] = (), reference_regions: Sequence[str] = (), workers: int = 1,
                 backend: str = "local", ray_address: str | None = None, threads_per_worker: int | None = None,
                 progress: bool = True, **overrides) -> BatchResult:
    """Animate every photo of ``inputs`` into ``output`` with one set of settings; resumable (module docstring).

    ``inputs``: a folder, a path or glob pattern, or a list of them. ``output``: a folder (``"loops/"``) or a
    name pattern (``"loops/{stem}.gif"``). ``settings`` / ``overrides``: :class:`AnimationSettings` (fields by
    name as keyword arguments; no per-photo ``mask``, ``arrows`` or ``appearance_patches``), or for another method
    its own settings (:func:`~cinescape.methods.select.resolve_settings`, e.g. ``method="deeplandscape",
    finetune_steps=50``; None: the method's defaults). ``method``,
    ``model`` and the fgla options as ``cinescape animate``. ``workers``: processes (``backend="local"``) or Ray
    actors (``backend="ray"``, on ``ray_address`` or a local Ray), each loading the models once.

    Returns a :class:`BatchResult`; one failed photo never stops the batch (``result.failed``). Raises
    :class:`CinescapeError` for what stops the whole batch: bad settings or output pattern, a model that cannot
    load, a folder another batch is writing into.
    """
    from .methods.select import model_folder, resolve_settings

    settings = resolve_settings(model_folder(method, model), settings, **overrides)
    given = [name for name in _PER_PHOTO_FIELDS if getattr(settings, name, None) is not None]
    if given:
        raise OptionError(f"{given[0]} is drawn for one photo; animate such photos one at a time")
    if backend not in BACKENDS:
        raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not 1 <= workers <= 256:
        raise OptionError(f"workers must be between 1 and 256, got {workers}")
    if backend == "local" and ray_address is not None:
        raise OptionError("ray_address needs backend='ray'")
    spec = PipelineSpec(method=method, model=None if model is None else os.path.abspath(os.fspath(model)),
                        references=tuple(references), region_speeds=tuple(region_speeds),
                        reference_regions=tuple(reference_regions),
                        motion_code=None if getattr(settings, "motion_code", None) is None
                        else str(settings.motion_code))
    items = expand_inputs(inputs)
    if not items:
        raise OptionError(f"no photos in {os.fspath(inputs) if isinstance(inputs, (str, os.PathLike)) else inputs}"
                          f" (image files: {', '.join(FRAME_EXTENSIONS)})")
    root, pattern = output_pattern(output)
    outputs = plan_outputs(items, pattern)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {root}: {_one_line(exc)}") from None
    manifest = root / MANIFEST_NAME
    lock = _lock_manifest(manifest)
    try:
        return _run_batch(items, outputs, root, manifest, spec, settings, fps, workers, backend, ray_address,
                          threads_per_worker, progress)
    finally:
        os.close(lock)


def _run_batch(items, outputs, root, manifest, spec, settings, fps, workers, backend, ray_address,
               threads_per_worker, progress) -> BatchResult:
    from tqdm import tqdm

    record = settings_record(settings, fps, spec)
    fingerprint = _model_fingerprint(spec.model)
    previous = read_manifest(manifest)
    results: list[ItemResult | None] = [None] * len(items)
    tasks: list[_Task] = []
    for index, (source, out) in enumerate(zip(items, outputs)):
        key = os.path.relpath(out, root)
        settings_hash = _settings_hash(record, fingerprint, _file_sha256(source))
        before = previous.get(key)
        if (before and before.get("status") == "done" and before.get("settings_hash") == settings_hash
                and Path(out).exists()):
            results[index] = ItemResult(source, out, "skipped", seconds=before.get("seconds", 0.0))
            continue
        _remove_stale_temporaries(out)
        tasks.append(_Task(index, source, out, key, settings_hash))

    # Largest photos first: the last items to finish are then small ones, so the workers end together.
    tasks.sort(key=lambda t: -_pixel_count(t.input))
    bar = tqdm(total=len(items), initial=len(items) - len(tasks), unit="photo", desc="animate",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)

    def on_record(index: int, item_record: dict) -> None:
        results[index] = ItemResult(items[index], outputs[index], item_record["status"], item_record["error"],
                                    item_record["seconds"])
        bar.update(1)
        failures = sum(1 for r in results if r is not None and r.status == "failed")
        if failures:
            bar.set_postfix(failed=failures)

    try:
        if tasks and backend == "ray":
            from .batch_ray import run_on_ray

            threads = threads_per_worker or 1
            job = _Job(spec, settings, fps, threads, None, record)
            run_on_ray(job, tasks, workers=workers, address=ray_address, on_record=on_record,
                       record=lambda r: _append_record(str(manifest), r))
        elif tasks and workers == 1:
            job = _Job(spec, settings, fps, threads_per_worker, str(manifest), record)
            set_worker_threads(job.threads)
            pipeline, plan_options = build_pipeline(spec)
            for task in tasks:
                item_record = _run_item(pipeline, plan_options, job, task)
                _append_record(job.manifest, item_record)
                on_record(task.index, item_record)
        elif tasks:
            job = _Job(spec, settings, fps, threads_per_worker or _default_threads(workers), str(manifest), record)
            from .batch_local import run_local_pool

            run_local_pool(job, tasks, workers, on_record)
    finally:
        bar.close()
    return BatchResult([r for r in results if r is not None], manifest)
