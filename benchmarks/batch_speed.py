"""Many photos: 16 separate `cinescape animate` calls against one `cinescape animate PHOTOS -o DIR/ --workers 2`.

    python benchmarks/batch_speed.py                     # needs ../shared/data/photos (the 16 shared photos)
    python benchmarks/batch_speed.py --workers 2 --frames 60 --keep outputs/batch_speed

Both runs in this one invocation, one after the other, with default settings and the same output format (MP4);
each is a fresh process running the CLI, as a user would run it, timed by wall clock (and by the CPU seconds of
the processes, user + system, workers included). Prints the two times, the ratio (batch / separate; the goal of
issue 18 is <= 0.65), how many batch outputs are byte-identical to the separate calls', and the load average
before and after (the machine may be shared: figures are upper bounds under that load).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
CLI = [sys.executable, "-c", "import sys; from cinescape.cli import main; sys.exit(main())", "animate"]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, *args], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frames", type=int, default=None, help="--frames of both runs (default: animate's)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs here (default: a temporary folder)")
    args = parser.parse_args()
    if not args.photos.is_dir():
        print(f"skipped: {args.photos} not found (needs the project's shared data)")
        return 0
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    options = ["-q"] + (["--frames", str(args.frames)] if args.frames else [])
    work = Path(tempfile.mkdtemp(prefix="batch_speed_")) if args.keep is None else args.keep
    separate_dir, batch_dir = work / "separate", work / "batch"
    for folder in (separate_dir, batch_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    print(f"{len(photos)} photos from {args.photos}; before: {load()}", flush=True)

    cpu = children_cpu()
    separate = sum(run([str(p), "-o", str(separate_dir / f"{p.stem}.mp4"), *options]) for p in photos)
    cpu, separate_cpu = children_cpu(), children_cpu() - cpu
    print(f"separate: {len(photos)} `cinescape animate` calls: {separate:.1f} s ({separate_cpu:.1f} CPU s); "
          f"{load()}", flush=True)
    batch = run([str(args.photos), "-o", f"{batch_dir}/", "--workers", str(args.workers), *options])
    batch_cpu = children_cpu() - cpu
    print(f"batch: one `cinescape animate {args.photos} -o DIR/ --workers {args.workers}`: {batch:.1f} s "
          f"({batch_cpu:.1f} CPU s); {load()}", flush=True)

    same = sum((separate_dir / f"{p.stem}.mp4").read_bytes() == (batch_dir / f"{p.stem}.mp4").read_bytes()
               for p in photos)
    print(f"ratio batch / separate: {batch / separate:.2f} (goal <= 0.65); "
          f"{same} of {len(photos)} outputs byte-identical")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
