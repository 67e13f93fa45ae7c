"""Time the motion-by-kind step at working size (what ``--no-kinds`` saves): :func:`cinescape.regions.plan_regions`
and :func:`cinescape.regions.kind_velocity` on a 144x256 scene with a sky, a waterfall over a pool (one potential
flow solve over ~20 % of the pixels) and a lake; median of N runs.

    python benchmarks/region_kinds_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from cinescape.regions import kind_velocity, plan_regions


def scene(h: int = 144, w: int = 256):
    rng = np.random.default_rng(0)
    photo = np.full((h, w, 3), 0.25, np.float32) + 0.05 * rng.random((h, w, 1), np.float32)
    mask = np.zeros((h, w), np.float32)
    sky = np.zeros((h, w), np.float32)
    mask[:40], sky[:40] = 1, 1
    mask[50:144, 110:140] = 1                    # the fall
    photo[50:110, 110:140] = 0.9 + 0.1 * (np.arange(30) % 3 == 0)[None, :, None]   # white, vertical streaks
    mask[105:, 40:220] = 1                       # its pool
    small = torch.from_numpy(photo * 2 - 1).permute(2, 0, 1)[None]
    return small, torch.from_numpy(mask)[None, None], sky


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    small, mask, sky = scene()
    network = torch.full((1, 2, 144, 256), 0.01) * mask
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        regions = plan_regions(small, mask, sky, None, (576, 1024))
        kind_velocity(network, mask, regions)
        times.append(time.perf_counter() - started)
    kinds = ", ".join(f"{r.kind} {100 * r.area:.0f}%" for r in regions.regions)
    print(f"regions: {kinds}; motion by kind at 144x256: median {1000 * statistics.median(times):.0f} ms "
          f"(min {1000 * min(times):.0f} ms) over {args.repeat} runs")


if __name__ == "__main__":
    main()
