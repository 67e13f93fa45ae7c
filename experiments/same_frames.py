"""Did a change move the pixels? Frames of the default loop saved by one checkout, compared with another's (issue 29).

Method: ``save`` renders the first ``--count`` frames of the default model's default loop (60 frames planned, seed
0, one torch thread) of each photo resized to 1024 px wide (aspect kept) and saves them as uint8 ``.npy`` in a
folder; ``compare`` prints per photo the worst frame's PSNR, the largest per-pixel difference and how many frames
are identical. Run ``save`` once per checkout (``PYTHONPATH=<checkout>/src``), then ``compare``.

Commands (the figures in docs/results.md, "Third 2026-12-07 session"):

    PYTHONPATH=../before/src CINESCAPE_WEIGHTS=../shared/weights python experiments/same_frames.py save /tmp/before ../shared/data/photos/*
    PYTHONPATH=src CINESCAPE_WEIGHTS=../shared/weights python experiments/same_frames.py save /tmp/after ../shared/data/photos/*
    python experiments/same_frames.py compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def save(folder: Path, count: int, photos: list[str]) -> None:
    import cv2
    import torch

    from cinescape.io.image import load_image
    from cinescape.methods import load_pipeline
    from cinescape.methods.select import model_folder, resolve_settings

    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    pipeline = load_pipeline(model_folder(os.environ.get("METHOD"), None))
    for path in photos:
        if Path(path).is_dir():
            continue
        photo = load_image(path)
        photo = cv2.resize(photo, (1024, round(photo.shape[0] * 1024 / photo.shape[1])), interpolation=cv2.INTER_AREA)
        animation = pipeline.plan(photo, resolve_settings(pipeline, num_frames=60))
        frames = [frame for _, frame in zip(range(count), animation.frames())]
        np.save(folder / f"{Path(path).name}.npy", np.stack(frames))
        print(path, flush=True)


def compare(before: Path, after: Path) -> None:
    worst = float("inf")
    for first in sorted(before.glob("*.npy")):
        second = after / first.name
        if not second.exists():
            continue
        a, b = np.load(first).astype(np.float32), np.load(second).astype(np.float32)
        mse = ((a - b) ** 2).reshape(len(a), -1).mean(1)
        psnr = 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))
        worst = min(worst, float(psnr.min()))
        print(f"{first.stem:28s} worst frame {psnr.min():6.1f} dB  max diff {np.abs(a - b).max():3.0f}  "
              f"identical frames {int((mse == 0).sum())}/{len(a)}")
    print(f"worst over all: {worst:.1f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    saving = commands.add_parser("save")
    saving.add_argument("folder", type=Path)
    saving.add_argument("photos", nargs="+")
    saving.add_argument("--count", type=int, default=20)
    comparing = commands.add_parser("compare")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "save":
        save(args.folder, args.count, args.photos)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    main()
