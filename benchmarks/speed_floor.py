"""`cinescape animate` as a user runs it, beside the machine's floor, measured in the same run (issue 29).

    python benchmarks/speed_floor.py /tmp/photo_1024x576.png --frames 101
    python benchmarks/speed_floor.py /tmp/photo_3840x2160.jpg /tmp/photo_6000x4000.jpg --frames 101 60 --repeat 3

For each photo and repeat: the floor (cinescape.eval.floor: two bilinear remaps, blend, colour matrix and libx264
with the encoder in a background thread, for the same photo and frame count; in a fresh process, decoding excluded),
then ``/usr/bin/time -v cinescape animate PHOTO -o OUT.mp4 --frames N -q`` (wall time from process start to file,
peak RSS). Prints one row per photo with the medians and the ratio CLI / floor, and the load average before and
after: the machine is shared, so only ratios measured in one run compare.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FLOOR = ("import sys, cv2; from cinescape.eval.floor import measure_floor; "
         "photo = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB); "
         "print(measure_floor(photo, int(sys.argv[2]), sys.argv[3]))")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def run_cli(photo: str, frames: int, out: str, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one ``cinescape animate`` run."""
    command = ["/usr/bin/time", "-v", "cinescape", "animate", photo, "-o", out, "--frames", str(frames), "-q",
               "--overwrite", *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"cinescape animate failed: {done.stderr.strip().splitlines()[-1]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024
    return hours * 3600 + minutes * 60 + seconds, rss


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--frames", nargs="+", type=int, default=[101], help="per photo (the last repeats)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli-args", default="", help="extra `cinescape animate` options, one string")
    args = parser.parse_args(argv)
    from PIL import Image

    print(f"load average before: {load_average()}", flush=True)
    print("| photo | size | frames | floor_s | cli_s | x_floor | peak_rss_mb |\n|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="cinescape-speed-") as tmp:
        for k, photo in enumerate(args.photos):
            frames = args.frames[min(k, len(args.frames) - 1)]
            with Image.open(photo) as image:
                width, height = image.size
            floors, walls, peaks = [], [], []
            for _ in range(args.repeat):
                floors.append(float(subprocess.run([sys.executable, "-c", FLOOR, photo, str(frames),
                                                    os.path.join(tmp, "floor.mp4")], capture_output=True,
                                                   text=True, check=True).stdout))
                wall, rss = run_cli(photo, frames, os.path.join(tmp, "cli.mp4"), args.cli_args.split())
                walls.append(wall)
                peaks.append(rss)
            floor, wall = statistics.median(floors), statistics.median(walls)
            print(f"| {Path(photo).name} | {width}x{height} | {frames} | {floor:.2f} | {wall:.2f} | "
                  f"{wall / floor:.2f} | {statistics.median(peaks):.0f} |", flush=True)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
