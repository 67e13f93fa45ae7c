"""A batch's job: which pipeline (:class:`PipelineSpec`), the inputs and output names, the manifest, and the run of
one item (:func:`run_item`), shared by this process, the worker processes and the Ray actors (see
:mod:`cinescape.batch`)."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import CinescapeError, OptionError, OutputError
from ..io.image import one_line
from ..io.video import FRAME_EXTENSIONS, output_kind
from ..methods.engine import write_animation

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

    method: str | None = None              # a method's name ("al", ...); None: the model folder's own (shipped: al)
    model: str | None = None               # model folder; None: the shipped model of the method
    plan_options: dict = field(default_factory=dict)   # the method's extra plan() arguments (FGLA: references)


def build_pipeline(spec: PipelineSpec):
    """(pipeline, extra ``plan`` arguments) for ``spec``: the ONE place a batch builds a pipeline.

    It goes through the function ``cinescape animate`` uses for one photo
    (:func:`cinescape.methods.select.load_method_pipeline`: the folder loaded with
    :func:`cinescape.methods.load_pipeline`, its method checked), so a batch item is animated exactly as that
    command animates it.
    """
    from ..methods.select import load_method_pipeline

    return load_method_pipeline(spec.method, spec.model), dict(spec.plan_options)


@dataclass(frozen=True)
class Job:
    """What every item shares, copied to each worker (immutable from the workers' side)."""

    spec: PipelineSpec
    settings: object             # the method's settings (AnimationSettings, DeepLandscapeSettings, ...)
    fps: float
    threads: int | None          # torch/OpenCV threads of a worker (None: leave the process's settings)
    manifest: str | None         # where a worker records its items (None: the caller records them)
    settings_record: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
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
                          f"({one_line(exc)})") from None


def plan_outputs(inputs: list[str], pattern: str) -> list[str]:
    """Each input's output path; two inputs writing one output is an error (before any work)."""
    outputs = [_output_name(pattern, i) for i in inputs]
    if outputs:
        output_kind(outputs[0], Path(outputs[0]))  # an unknown extension fails here, once
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
        from ..version import __version__
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


def append_record(manifest: str, record: dict) -> None:
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

def run_item(pipeline, plan_options: dict, job: Job, task: Task,
              cancelled: Callable[[], bool] | None = None) -> dict:
    """Animate one item; return its manifest record (a failure is a record too, never an exception, except
    KeyboardInterrupt, which aborts the output and propagates)."""
    from ..io.image import load_image

    started = time.perf_counter()
    error = None
    try:
        Path(task.output).parent.mkdir(parents=True, exist_ok=True)
        image = load_image(task.input)
        write_animation(pipeline, image, dataclasses.replace(job.settings), task.output, fps=job.fps,
                        plan_options=plan_options, overwrite=True, cancelled=cancelled)
    except CinescapeError as exc:
        error = one_line(exc, 300)
    except Exception as exc:  # a bug or a resource error; still one line, and the batch goes on
        error = f"{type(exc).__name__}: {one_line(exc, 300)}"
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


def failure_record(job: Job, task: Task, error: str) -> dict:
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
