"""Wall time per stage and peak memory of `cinescape animate` (AL Algorithm 1, recurrent motion).

    python benchmarks/bench_animate.py                      # 1024x576, 101 frames, appearance on
    python benchmarks/bench_animate.py --sizes 512x288 1024x576 1920x1080 3840x2160 --json bench.json

Stages: load (model from disk), motion (recurrent prediction + flow accumulation at working size),
loop (full-resolution warps and cross-fade blending), appearance (colour-map prediction + transfer),
encode (H.264 MP4). Peak memory is the process's maximum resident set size after each input size
(it only grows, so later rows include earlier peaks; run one size per process for isolated figures).
The input is the project's procedural landscape, so no external data is needed.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from cinescape.data.synthetic import generate_landscape_photo
from cinescape.io.video import VideoWriter
from cinescape.pipeline import AnimationSettings, CinemagraphPipeline


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_one(pipeline: CinemagraphPipeline, width: int, height: int, frames: int, appearance: bool) -> dict:
    photo = generate_landscape_photo(height, width, seed=3)
    settings = AnimationSettings(num_frames=frames, appearance=appearance)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        animation = pipeline.plan(photo, settings)
        encode = 0.0
        with VideoWriter(Path(tmp) / "bench.mp4", fps=20, size=(width, height)) as writer:
            for frame in animation.frames():
                t = time.perf_counter()
                writer.write(frame)
                encode += time.perf_counter() - t
            t = time.perf_counter()
        encode += time.perf_counter() - t  # finishing the file
        total = time.perf_counter() - started
    return {"size": f"{width}x{height}", "frames": frames, "appearance": appearance,
            "motion_s": animation.timings["motion"], "loop_s": animation.timings["loop"],
            "appearance_s": animation.timings["appearance"], "encode_s": encode, "total_s": total,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1024x576"])
    parser.add_argument("--frames", type=int, default=101)
    parser.add_argument("--no-appearance", action="store_true")
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    args = parser.parse_args()

    started = time.perf_counter()
    pipeline = CinemagraphPipeline.from_pretrained(args.model)
    load = time.perf_counter() - started
    rows = []
    for size in args.sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        row = bench_one(pipeline, width, height, args.frames, not args.no_appearance)
        row["load_s"] = load
        rows.append(row)

    print(f"# cinescape animate benchmark: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    header = ["size", "frames", "load_s", "motion_s", "loop_s", "appearance_s", "encode_s", "total_s", "peak_rss_mb"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.2f}" if isinstance(row[k], float) else str(row[k]) for k in header) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
