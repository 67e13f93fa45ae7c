"""CPU and wall time of each phase of a DeepLandscape inversion: the fluid matte, the latent steps (with the encoder
and the optimiser's set-up), the fine-tuning, the animation's set-up, and with ``--frames N`` the rendering of an
N-frame loop, split into the generator (with the noise warps), the super-resolution net and the rest (upscaling,
resize, moved photo detail, blend) (issue 29).

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python experiments/deeplandscape_phases.py photo.png \
        [--threads 1] [--latent-steps N] [--finetune-steps N] [--frames 60]

The default budget unless given. Process CPU time moves far less than wall time with the other jobs of a shared
machine: compare checkouts by it (``PYTHONPATH=<checkout>/src``), alternating.
"""

from __future__ import annotations

import argparse
import time

import cv2
import torch

from cinescape.io import load_image
from cinescape.methods.deeplandscape import DeepLandscapePipeline
from cinescape.methods.deeplandscape.pipeline import DeepLandscapeAnimation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photo")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--latent-steps", type=int, default=None)
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--frames", type=int, default=0, help="render a loop of this many frames too (0: no)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    pipe = DeepLandscapePipeline.from_pretrained()
    photo = load_image(args.photo)
    budget = {name: value for name, value in (("latent_steps", args.latent_steps),
                                              ("finetune_steps", args.finetune_steps)) if value is not None}
    settings = pipe.settings(**budget)
    marks = [("start", time.process_time(), time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.process_time(), time.perf_counter()))

    matte = pipe.fluid_matte(photo)
    mark("matte")

    def on_step(done: int, total: int) -> None:
        if done == settings.latent_steps:
            mark("latent")

    inversion = pipe.invert(photo, settings, matte, on_step=on_step)
    mark("finetune")
    if args.frames:
        settings.num_frames = args.frames
    animation = DeepLandscapeAnimation(pipe, photo, matte, inversion, settings)
    mark("animation init")
    for (_, cpu0, wall0), (name, cpu1, wall1) in zip(marks, marks[1:]):
        print(f"{name:15s} {cpu1 - cpu0:6.2f} CPU s {wall1 - wall0:6.2f} s")
    if args.frames:
        spent = {"generator": 0.0, "SR net": 0.0}

        def timed(name, function):
            def run(*a, **k):
                started = time.process_time()
                try:
                    return function(*a, **k)
                finally:
                    spent[name] += time.process_time() - started
            return run

        animation.render_small_batch = timed("generator", animation.render_small_batch)
        if pipe.super_resolution is not None:
            pipe.super_resolution.residual_features = timed("SR net", pipe.super_resolution.residual_features)
        started = time.process_time()
        for _ in animation.frames():
            pass
        total = time.process_time() - started
        print(f"{'render':15s} {total:6.2f} CPU s: generator {spent['generator']:.2f}, SR net {spent['SR net']:.2f}, "
              f"rest {total - sum(spent.values()):.2f} ({args.frames} frames)")


if __name__ == "__main__":
    main()
