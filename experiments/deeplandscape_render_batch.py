"""CPU time of a DeepLandscape frame at 1024×576 rendered one at a time (``frame(i)``) and in batches (``frames()``).

    PYTHONPATH=src python experiments/deeplandscape_render_batch.py [--threads 1] [--frames 24]

The procedural bench photo, planned without inversion steps (the render's cost does not depend on them); prints the
process CPU time and the wall time per frame of both ways, twice (the first round warms up).
"""

from __future__ import annotations

import argparse
import time

import torch

from cinescape.data.synthetic import generate_landscape_photo
from cinescape.methods.deeplandscape import DeepLandscapePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = DeepLandscapePipeline.from_pretrained()
    animation = pipe.plan(generate_landscape_photo(576, 1024, seed=3), num_frames=args.frames, latent_steps=0,
                          finetune_steps=0)
    n = args.frames
    for _ in range(2):
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(n):
            animation.frame(i)
        cpu_single, wall_single = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in animation.frames():
            pass
        cpu_batch, wall_batch = time.process_time() - cpu, time.perf_counter() - wall
        print(f"frame(i): {cpu_single / n:.4f} CPU s, {wall_single / n:.4f} s wall per frame | frames(): "
              f"{cpu_batch / n:.4f} CPU s, {wall_batch / n:.4f} s wall per frame")


if __name__ == "__main__":
    main()
