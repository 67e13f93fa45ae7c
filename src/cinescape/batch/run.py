"""Running a batch: :func:`animate_many` expands the inputs, skips the items already done, and animates the others in
this process, in worker processes (:mod:`cinescape.batch.local`) or on Ray actors (:mod:`cinescape.batch.ray`); the
job description, the manifest and one item's run are :mod:`cinescape.batch.job`'s."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

from ..errors import OptionError, OutputError
from ..io.image import one_line
from ..io.video import FRAME_EXTENSIONS
from .job import (_PER_PHOTO_FIELDS, BACKENDS, MANIFEST_NAME, BatchResult, ItemResult, Job, PipelineSpec, Task,
                  _default_threads, _file_sha256, _lock_manifest, _model_fingerprint, _pixel_count,
                  _remove_stale_temporaries, _settings_hash, append_record, build_pipeline, expand_inputs,
                  output_pattern, plan_outputs, read_manifest, run_item, set_worker_threads, settings_record)

__all__ = ["animate_many"]


def animate_many(inputs: str | os.PathLike | Iterable[str | os.PathLike], output: str | os.PathLike,
                 settings=None, *, fps: float = 20.0, method: str | None = None,
                 model: str | os.PathLike | None = None, plan_options: dict | None = None, workers: int = 1,
                 backend: str = "local", ray_address: str | None = None, threads_per_worker: int | None = None,
                 progress: bool = True, **overrides) -> BatchResult:
    """Animate every photo of ``inputs`` into ``output`` with one set of settings; resumable (module docstring).

    ``inputs``: a folder, a path or glob pattern, or a list of them. ``output``: a folder (``"loops/"``) or a
    name pattern (``"loops/{stem}.gif"``). ``settings`` / ``overrides``: :class:`AnimationSettings` (fields by
    name as keyword arguments; no per-photo ``mask``, ``arrows`` or ``appearance_patches``), or for another method
    its own settings (:func:`~cinescape.methods.select.resolve_settings`, e.g. ``method="deeplandscape",
    finetune_steps=50``; None: the method's defaults). ``method``
    and ``model`` as ``cinescape animate``; ``plan_options``: the method's extra ``plan`` arguments, the same for
    every photo (FGLA: ``{"references": {"sky": "clip.mp4"}}``). ``workers``: processes (``backend="local"``) or Ray
    actors (``backend="ray"``, on ``ray_address`` or a local Ray), each loading the models once.

    Returns a :class:`BatchResult`; one failed photo never stops the batch (``result.failed``). Raises
    :class:`CinescapeError` for what stops the whole batch: bad settings or output pattern, a model that cannot
    load, a folder another batch is writing into.
    """
    from ..methods.select import model_folder, resolve_settings

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
                        plan_options=dict(plan_options or {}))
    items = expand_inputs(inputs)
    if not items:
        raise OptionError(f"no photos in {os.fspath(inputs) if isinstance(inputs, (str, os.PathLike)) else inputs}"
                          f" (image files: {', '.join(FRAME_EXTENSIONS)})")
    root, pattern = output_pattern(output)
    outputs = plan_outputs(items, pattern)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {root}: {one_line(exc)}") from None
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
    tasks: list[Task] = []
    for index, (source, out) in enumerate(zip(items, outputs)):
        key = os.path.relpath(out, root)
        settings_hash = _settings_hash(record, fingerprint, _file_sha256(source))
        before = previous.get(key)
        if (before and before.get("status") == "done" and before.get("settings_hash") == settings_hash
                and Path(out).exists()):
            results[index] = ItemResult(source, out, "skipped", seconds=before.get("seconds", 0.0))
            continue
        _remove_stale_temporaries(out)
        tasks.append(Task(index, source, out, key, settings_hash))

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
            from .ray import run_on_ray

            threads = threads_per_worker or 1
            job = Job(spec, settings, fps, threads, None, record)
            run_on_ray(job, tasks, workers=workers, address=ray_address, on_record=on_record,
                       record=lambda r: append_record(str(manifest), r))
        elif tasks and workers == 1:
            job = Job(spec, settings, fps, threads_per_worker, str(manifest), record)
            set_worker_threads(job.threads)
            pipeline, plan_options = build_pipeline(spec)
            for task in tasks:
                item_record = run_item(pipeline, plan_options, job, task)
                append_record(job.manifest, item_record)
                on_record(task.index, item_record)
        elif tasks:
            job = Job(spec, settings, fps, threads_per_worker or _default_threads(workers), str(manifest), record)
            from .local import run_local_pool

            run_local_pool(job, tasks, workers, on_record)
    finally:
        bar.close()
    return BatchResult([r for r in results if r is not None], manifest)
