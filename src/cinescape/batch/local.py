"""The local backend of :func:`cinescape.batch.animate_many` with ``workers > 1``: worker processes on this machine.

Each worker (``spawn``: no torch/OpenMP state inherited from the caller) builds its pipeline once
(:func:`~cinescape.batch.job.build_pipeline`) and animates tasks from a queue one at a time; the calling process
collects the records. Ctrl-C aborts the items in progress (their temporary outputs are deleted); a worker whose
caller dies (SIGKILL) abandons its item and exits; a worker that dies mid-item fails that item only.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
import warnings
from typing import Callable

from .job import append_record, failure_record, Job, run_item, Task, build_pipeline, set_worker_threads
from ..errors import CinescapeError
from ..io.image import one_line

_busy = False  # this worker process is rendering an item: SIGINT aborts it (idle, SIGINT is ignored)


def _on_sigint(signum, frame):
    global _busy
    if _busy:
        _busy = False   # a second Ctrl-C (the terminal's and then the batch's own) is ignored
        raise KeyboardInterrupt


def _watch_parent(parent_pid: int) -> None:
    """Exit when the batch's process is gone (SIGKILL leaves workers behind otherwise): abort the item first,
    so its temporary output is deleted."""
    import _thread

    while os.getppid() == parent_pid:
        time.sleep(0.5)
    if _busy:
        _thread.interrupt_main()
        deadline = time.monotonic() + 30
        while _busy and time.monotonic() < deadline:
            time.sleep(0.1)
    os._exit(1)


def _worker_main(worker_id: int, job: Job, tasks, results, stop, parent_pid: int) -> None:
    """A worker process: build the pipeline once, then animate tasks until a None (or ``stop``)."""
    global _busy
    signal.signal(signal.SIGINT, _on_sigint)
    # Library warnings as one stderr line, as the CLI prints them in the calling process.
    warnings.showwarning = lambda message, *rest, **kw: print(f"cinescape: warning: {message}", file=sys.stderr)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    set_worker_threads(job.threads)
    try:
        pipeline, plan_options = build_pipeline(job.spec)
    except Exception as exc:  # the model cannot load: the whole batch stops with this line
        results.put(("fatal", worker_id, one_line(exc, 300)))
        return
    while not stop.is_set():
        task = tasks.get()
        if task is None or stop.is_set():
            break
        results.put(("started", worker_id, task.index))
        try:
            _busy = True
            record = run_item(pipeline, plan_options, job, task)
            _busy = False
        except KeyboardInterrupt:
            _busy = False
            results.put(("interrupted", worker_id, task.index))
            break
        if job.manifest:
            append_record(job.manifest, record)
        results.put(("result", worker_id, task.index, record))


def run_local_pool(job: Job, tasks: list[Task], workers: int, on_record: Callable[[int, dict], None]) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")   # no torch/OpenMP state forked from the caller
    task_queue, results, stop = context.Queue(), context.Queue(), context.Event()
    for task in tasks:
        task_queue.put(task)
    workers = min(workers, len(tasks))
    for _ in range(workers):
        task_queue.put(None)
    processes = [context.Process(target=_worker_main, args=(w, job, task_queue, results, stop, os.getpid()),
                                 daemon=True, name=f"cinescape-worker-{w}") for w in range(workers)]
    for process in processes:
        process.start()
    in_flight: dict[int, int] = {}
    remaining = {task.index for task in tasks}
    by_index = {task.index: task for task in tasks}
    try:
        while remaining:
            try:
                message = results.get(timeout=0.5)
            except queue.Empty:
                for worker_id, process in enumerate(processes):
                    if not process.is_alive() and worker_id in in_flight:  # killed mid-item (out of memory?)
                        index = in_flight.pop(worker_id)
                        remaining.discard(index)
                        record = failure_record(job, by_index[index], f"the worker process died (exit code "
                                                                 f"{process.exitcode}) while animating it")
                        if job.manifest:
                            append_record(job.manifest, record)
                        on_record(index, record)
                if not any(p.is_alive() for p in processes) and results.empty():
                    for index in sorted(remaining):
                        record = failure_record(job, by_index[index], "no worker process left to animate it")
                        if job.manifest:
                            append_record(job.manifest, record)
                        on_record(index, record)
                    break
                continue
            kind, worker_id = message[0], message[1]
            if kind == "fatal":
                raise CinescapeError(message[2])
            if kind == "started":
                in_flight[worker_id] = message[2]
            elif kind == "interrupted":
                raise KeyboardInterrupt
            elif kind == "result":
                in_flight.pop(worker_id, None)
                remaining.discard(message[2])
                on_record(message[2], message[3])
    except BaseException:
        stop.set()
        for process in processes:   # abort the items in progress: their temporary outputs are deleted
            if process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        raise
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
        task_queue.cancel_join_thread()
