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

Workers (:mod:`cinescape.batch.local`; Ray actors: :mod:`cinescape.batch.ray`): each worker process (``spawn``:
no state inherited from the caller) builds its own pipeline once and renders items one at a time with
``threads_per_worker`` torch/OpenCV threads (default: the CPU cores divided among the workers, so two workers on
two cores use one thread each instead of fighting over both). Workers share nothing mutable: each has its own
pipeline, and the job description is copied to it. ``workers=1`` runs in the calling process with its thread
settings. A worker whose caller dies (SIGKILL) abandons its item and exits.
"""

from ..methods.engine import write_animation
from .job import (BACKENDS, DEFAULT_NAME_PATTERN, MANIFEST_NAME, BatchResult, ItemResult, PipelineSpec,
                  build_pipeline, expand_inputs, is_batch_request, output_pattern, plan_outputs, read_manifest,
                  settings_record)
from .run import animate_many

__all__ = ["BACKENDS", "DEFAULT_NAME_PATTERN", "MANIFEST_NAME", "BatchResult", "ItemResult", "PipelineSpec",
           "animate_many", "build_pipeline", "expand_inputs", "is_batch_request", "output_pattern", "plan_outputs",
           "read_manifest", "settings_record", "write_animation"]
