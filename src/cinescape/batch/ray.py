"""The Ray backend of :func:`cinescape.batch.animate_many`: the same items as Ray actors (``pip install
"cinescape[distributed]"``).

Each actor builds its pipeline once (:func:`~cinescape.batch.job.build_pipeline`) and animates items with the same
function as a local worker, so an item's bytes equal the local backend's at the same thread count (one per actor
by default, its ``num_cpus``). Actors write the outputs themselves: on a cluster the inputs and the output folder
must be on storage every node mounts at the same path. The driver records the manifest. Ray runs on the session
the caller has started (``ray.init``), else on ``address`` (an existing cluster, e.g. ``ray://head:10001`` or
``auto``), else on a local Ray started for this batch and stopped after it.
"""

from __future__ import annotations

from typing import Callable

from .job import failure_record, Job, run_item, Task, build_pipeline, set_worker_threads
from ..errors import CinescapeError
from ..io.image import one_line

INSTALL_HINT = "pip install \"cinescape[distributed]\""


class _Animator:
    """A Ray actor: one pipeline, many items."""

    def __init__(self, job: Job):
        self.job = job
        self.error = None
        set_worker_threads(job.threads)
        try:
            self.pipeline, self.plan_options = build_pipeline(job.spec)
        except Exception as exc:  # reported to the driver, which stops the batch with this line
            self.error = one_line(exc, 300)

    def animate(self, task: Task) -> tuple[str, dict | str | None]:
        import ray

        if self.error is not None:
            return "fatal", self.error
        # ray.cancel() cannot interrupt an actor's running method; it sets a flag, asked before every frame.
        context = ray.get_runtime_context()
        cancelled = getattr(context, "is_canceled", None)
        try:
            return "result", run_item(self.pipeline, self.plan_options, self.job, task, cancelled=cancelled)
        except KeyboardInterrupt:   # the output was discarded
            return "cancelled", None


def run_on_ray(job: Job, tasks: list[Task], *, workers: int, address: str | None,
               on_record: Callable[[int, dict], None], record: Callable[[dict], None]) -> None:
    """Animate ``tasks`` on ``workers`` actors; call ``record`` (the manifest) and ``on_record`` per item."""
    try:
        import ray
    except ImportError:
        raise CinescapeError(f"--backend ray needs Ray: {INSTALL_HINT}") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, num_cpus=None if address else workers * job.threads,
                     include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except Exception as exc:  # no cluster at that address, ...
            raise CinescapeError(f"cannot start or reach Ray{f' at {address}' if address else ''}: "
                                 f"{one_line(exc)}") from None
    animator = ray.remote(num_cpus=job.threads)(_Animator)
    actors = [animator.remote(job) for _ in range(min(workers, len(tasks)))]
    pending = list(tasks)
    running: dict = {}      # object ref -> (actor, task)

    def submit(actor) -> None:
        if pending:
            task = pending.pop(0)
            running[actor.animate.remote(task)] = (actor, task)

    try:
        for actor in actors:
            submit(actor)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            actor, task = running.pop(ready[0])
            try:
                kind, value = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # the actor died (out of memory, a lost node)
                kind, value = "result", failure_record(job, task, f"the Ray worker failed: {one_line(exc, 200)}")
                actor = None
            if kind == "fatal":
                raise CinescapeError(value)
            record(value)
            on_record(task.index, value)
            if actor is not None:
                submit(actor)
            elif pending and not running:
                for task in pending:
                    failure = failure_record(job, task, "no Ray worker left to animate it")
                    record(failure)
                    on_record(task.index, failure)
                pending.clear()
    except BaseException:   # Ctrl-C or a fatal error: stop the items in progress, which discard their outputs
        for ref in running:
            ray.cancel(ref)
        ray.wait(list(running), num_returns=len(running), timeout=30)
        raise
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
