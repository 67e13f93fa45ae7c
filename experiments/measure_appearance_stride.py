"""How much does predicting the colour maps only every k-th frame change the video? (issue 5, speed)

Purpose: ``appearance_stride`` k runs the appearance predictor on every k-th output frame and interpolates the
maps linearly in between, which cuts the costliest per-frame stage. This script measures what that costs in
fidelity against k = 1 (a prediction for every frame) and what it saves in time.

Method: each photo of ``../shared/data/photos`` (or ``--photos``) is resized to ``--size`` (default 1024x576),
animated with the default model and its default settings (seed 0, ``--frames`` 101, ``--mode``, ``--loop``,
with appearance) once per stride; the frames of stride k are compared with those of stride 1: PSNR over the
whole video (uint8 frames), the worst frame's PSNR, and the largest per-pixel difference. Seconds: the
appearance stage (maps + colour transfer) as the pipeline times it, 1 torch thread.

Expected: PSNR well above 40 dB (differences invisible) with the appearance stage about k times faster.

Command:

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_appearance_stride.py --strides 1 2 3 --threads 1
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="*", default=None, help="image files (default: ../shared/data/photos/*)")
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--size", default="1024x576", help="WIDTHxHEIGHT the photos are resized to")
    parser.add_argument("--frames", type=int, default=101)
    parser.add_argument("--mode", default="eulerian")
    parser.add_argument("--loop", default="symmetric")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from cinescape.methods.al.pipeline import CinemagraphPipeline

    if args.photos is None:
        if not PHOTOS.is_dir():
            sys.exit(f"skipped: {PHOTOS} not found (the project's shared data)")
        args.photos = sorted(str(p) for p in PHOTOS.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    width, height = (int(v) for v in args.size.split("x"))
    strides = sorted(set(args.strides) | {1})
    pipe = CinemagraphPipeline.from_pretrained()
    rows, seconds = [], {k: [] for k in strides}
    for path in args.photos:
        photo = np.asarray(Image.open(path).convert("RGB").resize((width, height), Image.LANCZOS))
        videos = {}
        for stride in strides:
            animation = pipe.plan(photo, num_frames=args.frames, mode=args.mode, loop=args.loop, seed=0,
                                  appearance_stride=stride)
            videos[stride] = np.stack(list(animation.frames()))
            seconds[stride].append(animation.timings["appearance"])
        for stride in strides[1:]:
            per_frame = [psnr(a, b) for a, b in zip(videos[stride], videos[1])]
            rows.append((Path(path).name, stride, psnr(videos[stride], videos[1]), min(per_frame),
                         int(np.abs(videos[stride].astype(int) - videos[1]).max())))
        print(f"{Path(path).name}: done", file=sys.stderr)

    print("| photo | stride | PSNR vs stride 1 (dB) | worst frame (dB) | max abs diff |")
    print("|---|---:|---:|---:|---:|")
    for name, stride, video_psnr, worst, diff in rows:
        print(f"| {name} | {stride} | {video_psnr:.2f} | {worst:.2f} | {diff} |")
    print()
    print("| stride | appearance stage, mean s per video |")
    print("|---:|---:|")
    for stride in strides:
        print(f"| {stride} | {np.mean(seconds[stride]):.2f} |")
    for stride in strides[1:]:
        values = [r[2] for r in rows if r[1] == stride]
        worst = [r[3] for r in rows if r[1] == stride]
        print(f"stride {stride}: video PSNR min {min(values):.2f} dB, mean {np.mean(values):.2f} dB; "
              f"worst single frame {min(worst):.2f} dB")
    print(f"{args.frames} frames at {args.size}, mode {args.mode}, loop {args.loop}, {args.threads} thread(s)")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
