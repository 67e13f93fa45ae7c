"""``cinescape bench``: wall time per stage and peak memory of ``cinescape animate``.

Stages (seconds): ``load`` (model from disk and photo decoding), ``motion`` (flow prediction and accumulation at
working size: recurrent, AL Algorithm 1, or eulerian, one prediction integrated), ``loop`` (full-resolution warps
and loop blends), ``appearance``
(colour-map prediction and transfer), ``encode`` (H.264 MP4 writing: the encoder runs in a background thread while
the next frame renders, so this is the time the renderer waited for it). ``floor_s``: the machine's floor
(:mod:`cinescape.eval.floor`: the same loop's remaps, blend, colour matrix and encoding, no model) for the same photo
and frames, measured in the same process right after the row; ``x_floor`` = ``total_s / floor_s``. DeepLandscape (``method="deeplandscape"``)
has its own stages: ``load``, ``inversion`` (its ``plan``: the fluid mask at the photo's size, latent optimisation
and generator fine-tuning), ``render`` (noise warps, synthesis, super-resolution, blending; frames without their
encoding) and ``encode``. Memory: the peak resident set size
of the process (``peak_rss_mb``) and its size after the model is loaded (``rss_loaded_mb``), so their
difference is what animating costs.

Each configuration runs in a fresh process by default: peak RSS only grows within a process, so rows
measured in one process would include the peaks of earlier, larger inputs. The input is the project's
procedural landscape photo, rendered once per size into a PNG before timing (its generation is neither
timed nor counted in the peak), so no data is needed.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import OptionError
from ..models.base import atomic_write_bytes

__all__ = ["BENCH_SIZES", "COLUMNS", "DEEPLANDSCAPE_COLUMNS", "BenchConfig", "bench_one", "run_bench", "format_bench_table", "parse_size"]

#: Input sizes (width, height) of the issue: 288p to 4K, 16:9.
BENCH_SIZES = ((512, 288), (1024, 576), (1920, 1080), (3840, 2160))
COLUMNS = ("size", "loop", "appearance", "frames", "mode", "stride", "load_s", "motion_s", "loop_s", "appearance_s",
           "encode_s", "total_s", "s_per_frame", "floor_s", "x_floor", "rss_loaded_mb", "peak_rss_mb")
#: The columns of a DeepLandscape row (its stages differ: see the module docstring).
DEEPLANDSCAPE_COLUMNS = ("size", "method", "frames", "load_s", "inversion_s", "render_s", "encode_s", "total_s",
                         "s_per_frame", "rss_loaded_mb", "peak_rss_mb")


@dataclass
class BenchConfig:
    width: int
    height: int
    photo: str                 # PNG of the input photo, width × height
    frames: int = 60
    loop: str = "phased"
    appearance: bool = True
    model: str | None = None   # model folder; None = the shipped default
    threads: int = 0           # torch threads (0 = torch's default)
    mode: str = "eulerian"     # motion mode: "eulerian" or "recurrent"
    appearance_stride: int = 1  # colour maps predicted every k-th frame
    method: str | None = None  # "al", "fgla", "deeplandscape"; None: the model folder's own (shipped: al)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise OptionError(f"sizes look like 1920x1080, got {text!r}") from None
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise OptionError(f"size {text} is out of range (16..16384 per side)")
    return width, height


def _rss_mb() -> float:
    """Peak RSS of this process image. VmHWM where /proc has it: ru_maxrss survives fork + exec, so a spawned
    child would report its parent's peak (here: rendering the 4K photo)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _current_rss_mb() -> float:
    try:  # the current (not peak) RSS, from /proc where there is one
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def bench_one(config: BenchConfig) -> dict:
    """Time one configuration in this process; returns one table row."""
    from ..io.image import load_image
    from ..methods import load_pipeline
    from ..methods.engine import write_animation
    from .floor import measure_floor
    from ..methods.select import model_folder, resolve_settings

    if config.threads:
        torch.set_num_threads(config.threads)
    folder = model_folder(config.method, config.model)
    started = time.perf_counter()
    pipeline = load_pipeline(folder)
    photo = load_image(config.photo)
    if not pipeline.offers.loops:   # a method with its own loop (DeepLandscape): one configuration per size
        return _bench_own_loop(pipeline, photo, config, time.perf_counter() - started)
    settings = resolve_settings(pipeline, num_frames=config.frames, loop=config.loop, appearance=config.appearance,
                                mode=config.mode, appearance_stride=config.appearance_stride)
    load = time.perf_counter() - started
    loaded_rss = _current_rss_mb()
    with tempfile.TemporaryDirectory(prefix="cinescape-bench-") as tmp:
        started = time.perf_counter()
        timings: dict = {}   # as cinescape animate writes a file: the one writer, encoding in the background
        animation = write_animation(pipeline, photo, settings, Path(tmp) / "bench.mp4", fps=20, timings=timings)
        encode = timings["encode"]
        animate = time.perf_counter() - started
        peak = _rss_mb()   # before the floor's own arrays
        floor = measure_floor(photo, config.frames, Path(tmp) / "floor.mp4")
    return {"size": f"{config.width}x{config.height}", "loop": config.loop, "appearance": config.appearance,
            "stride": config.appearance_stride, "frames": config.frames, "mode": config.mode, "load_s": load,
            "motion_s": animation.timings["motion"],
            "loop_s": animation.timings["loop"], "appearance_s": animation.timings["appearance"],
            "encode_s": encode, "total_s": load + animate, "s_per_frame": animate / config.frames,
            "floor_s": floor, "x_floor": (load + animate) / floor, "rss_loaded_mb": loaded_rss, "peak_rss_mb": peak}


def _bench_own_loop(pipeline, photo, config: BenchConfig, load: float) -> dict:
    """One DeepLandscape row: inversion (its ``plan``), rendering and encoding (the time frames waited for the
    background encoder, and its closing) timed apart, the file written as ``cinescape animate`` writes it."""
    from ..methods import method_of
    from ..methods.engine import write_animation
    from ..methods.select import resolve_settings

    settings = resolve_settings(pipeline, num_frames=config.frames)
    loaded_rss = _current_rss_mb()
    planned: dict = {}

    def plan():
        started = time.perf_counter()
        animation = pipeline.plan(photo, settings)
        planned["inversion"] = time.perf_counter() - started
        return animation
    with tempfile.TemporaryDirectory(prefix="cinescape-bench-") as tmp:
        timings: dict = {}
        started = time.perf_counter()
        write_animation(pipeline, photo, settings, Path(tmp) / "bench.mp4", fps=20, plan=plan, timings=timings)
        animate = time.perf_counter() - started
    inversion, encode = planned["inversion"], timings["encode"]
    render = animate - inversion - encode
    return {"size": f"{config.width}x{config.height}", "method": method_of(pipeline), "frames": config.frames,
            "load_s": load, "inversion_s": inversion, "render_s": render, "encode_s": encode,
            "total_s": load + animate, "s_per_frame": animate / config.frames, "rss_loaded_mb": loaded_rss,
            "peak_rss_mb": _rss_mb()}


def run_bench(sizes=BENCH_SIZES, *, frames: int = 60, loops=("phased", "none"), appearance=(True,),
              model: str | None = None, threads: int = 0, isolate: bool = True, progress: bool = True,
              modes=("eulerian",), appearance_strides=(1,), repeats: int = 1, method: str | None = None) -> dict:
    """Benchmark every (size, motion mode, loop mode, appearance, appearance stride) combination; returns
    ``{"machine", "settings", "rows"}``.

    ``isolate``: run each configuration in a fresh process (honest peak memory; costs an interpreter start).
    ``repeats``: run each configuration this many times and report the median of every column (timings on a
    shared machine vary by 10-20 % from run to run). ``method``: the shipped model of ``"al"``, ``"fgla"`` or
    ``"deeplandscape"`` (with ``model``: the folder must be of it); DeepLandscape has no loop, mode, appearance or
    stride variants: one row per size, its own stages.
    """
    if not 1 <= repeats <= 100:
        raise OptionError(f"repeats must be between 1 and 100, got {repeats}")
    if not 2 <= frames <= 10_000:
        raise OptionError(f"frames must be between 2 and 10000, got {frames}")
    from ..data.synthetic import generate_landscape_photo
    from ..io.image import save_image
    from ..methods import method_of, pipeline_class
    from ..methods.select import model_folder

    folder = model_folder(method, model)
    cls = pipeline_class(folder)   # a bad model folder fails here, before any photo is rendered
    actual = method_of(cls)
    if method is not None and actual != method:
        raise OptionError(f"model {model} is a {actual} model folder, not {method}")
    if not cls.offers.loops:   # its own loop: one configuration per size, no loop, mode, appearance or stride variants
        loops, appearance, modes, appearance_strides = (None,), (True,), ("eulerian",), (1,)
    with tempfile.TemporaryDirectory(prefix="cinescape-bench-") as tmp:
        configs = []
        for width, height in sizes:
            photo = Path(tmp) / f"photo_{width}x{height}.png"
            save_image(generate_landscape_photo(height, width, seed=3), photo)
            configs += [BenchConfig(width, height, str(photo), frames, loop, app, model, threads, mode, stride, actual)
                        for mode in modes for loop in loops for app in appearance
                        for stride in (appearance_strides if app else (1,))]
        rows = [_median_row([_run_config(config, isolate, progress) for _ in range(repeats)]) for config in configs]
    machine = {"processor": platform.processor() or platform.machine(), "cpus": multiprocessing.cpu_count(),
               "torch": torch.__version__, "torch_threads": threads or torch.get_num_threads(),
               "python": platform.python_version()}
    return {"machine": machine, "settings": {"frames": frames, "model": model or method or "default",
                                             "method": actual, "isolated": isolate, "repeats": repeats},
            "rows": rows}


def _median_row(runs: list[dict]) -> dict:
    """One row from repeated runs of a configuration: the median of each numeric column."""
    return {key: statistics.median(run[key] for run in runs) if isinstance(value, float) else value
            for key, value in runs[0].items()}


def _run_config(config: BenchConfig, isolate: bool, progress: bool) -> dict:
    if progress:
        variant = (f"method={config.method}" if config.loop is None else
                   f"mode={config.mode} loop={config.loop} appearance={config.appearance} "
                   f"stride={config.appearance_stride}")
        print(f"bench {config.width}x{config.height} {variant} ...", file=sys.stderr, flush=True)
    if not isolate:
        return bench_one(config)
    # spawn, not fork: a forked child would inherit this process's peak RSS and torch state.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(bench_one, config).result()


def format_bench_table(result: dict) -> str:
    """The rows as a Markdown table, with a one-line header naming the machine."""
    m = result["machine"]
    header = (f"cinescape bench: {m['processor']}, {m['cpus']} CPUs, {m['torch_threads']} torch threads, "
              f"torch {m['torch']}; model {result['settings']['model']}"
              + (f"; medians of {result['settings']['repeats']} runs" if result["settings"].get("repeats", 1) > 1 else ""))
    columns = DEEPLANDSCAPE_COLUMNS if result["rows"] and "inversion_s" in result["rows"][0] else COLUMNS
    lines = [header, "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in result["rows"]:
        cells = [f"{row[k]:.2f}" if isinstance(row[k], float) else str(row[k]) for k in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_bench(result: dict, path: str | Path) -> Path:
    path = Path(path).expanduser()
    atomic_write_bytes(path, (json.dumps(result, indent=2) + "\n").encode())
    return path
