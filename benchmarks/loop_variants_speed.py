"""Plan + render time of the default loop against the same code without its issue-30 parts, in one process.

    python benchmarks/loop_variants_speed.py [PHOTO] [--size 1024x576] [--frames 101] [--repeat 3]

Without PHOTO it animates the procedural landscape `cinescape bench` uses (seed 3) at --size; a PHOTO is animated at
its own size.

Rows: the default (motion by region kind, per-pixel phased loop with contrast-keeping fades); scalar phases (the
banded fast renderer serves them); scalar phases without kinds (the motion before issue 30). Medians of --repeat.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cinescape
from cinescape.data.synthetic import generate_landscape_photo
from cinescape.io.image import load_image

VARIANTS = (("default (kinds, per-pixel phases)", {}),
            ("scalar phases, kinds", {"loop_phase_spread": 0.0, "loop_contrast": False}),
            ("scalar phases, no kinds", {"loop_phase_spread": 0.0, "loop_contrast": False, "motion_by_kind": False}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=None)
    parser.add_argument("--size", default="1024x576", help="WIDTHxHEIGHT of the procedural photo (no PHOTO)")
    parser.add_argument("--frames", type=int, default=101)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pipe = cinescape.load_pipeline()
    if args.photo is None:
        width, height = (int(v) for v in args.size.lower().split("x"))
        photo = generate_landscape_photo(height, width, seed=3)
    else:
        photo = load_image(args.photo)
    print(f"{photo.shape[1]}x{photo.shape[0]}, {args.frames} frames")
    for name, settings in VARIANTS:
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            animation = pipe.plan(photo, num_frames=args.frames, **settings)
            for index in range(animation.num_frames):
                animation.frame(index)
            timings = animation.timings
            runs.append((time.perf_counter() - started, timings["motion"], timings["loop"], timings["appearance"]))
        total, motion, loop, appearance = (statistics.median(run[k] for run in runs) for k in range(4))
        print(f"{name}: plan+render {total:.2f} s (motion {motion:.2f}, loop {loop:.2f}, appearance "
              f"{appearance:.2f}), medians of {args.repeat}")


if __name__ == "__main__":
    main()
