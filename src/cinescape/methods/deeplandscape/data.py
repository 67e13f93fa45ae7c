"""Decode DeepLandscape's training frames once into a small uint8 archive (frames + clip ids).

    python -m cinescape.methods.deeplandscape.data --out runs/deeplandscape/frames.npz [--size 128]

Each source is a time-lapse (frame folder or video) under ../shared/data: frames are resized so the short side is
``size`` and cut into ``crops`` square crops spread across the width; each crop position is its own clip (a
time-lapse of one view), so the pairwise discriminator pairs frames of the same view only. The photos in
../shared/data/photos are NOT used: they are the inversion test set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from cinescape.io import read_clip

# (path under ../shared/data, frames kept per clip, square crops across the width)
SOURCES = [
    *[(f"motion/skytimelapse128/clip_r{r}_c{c}", 8, 1) for r in range(6) for c in range(8)],
    ("motion/karlsruhe_2024-06-22", 24, 3),
    ("motion/karlsruhe_2024-06-01", 20, 3),
    ("motion/karlsruhe_2024-06-19", 16, 2),
    ("motion/karlsruhe_2024-06-20s", 16, 3),
    ("motion/karlsruhe_2024-06-20m", 12, 2),
    ("motion/al_sample", 8, 2),
    ("motion/videos/clouds_stock.mp4", 24, 2),
    ("motion/videos/boats.mp4", 12, 1),
    ("motion/videos/fountain.mp4", 12, 1),
    *[(f"appearance/tilde_webcam/{name}", 20, 2)
      for name in ("chamonix", "courbevoie", "frankfurt", "mexico", "panorama", "stlouis")],
    ("appearance/sunset_to_night", 30, 1),
    ("appearance/desert_city_webcam", 60, 1),
    ("appearance/al_sample", 8, 2),
]


def square_crops(frame: np.ndarray, size: int, crops: int) -> list[np.ndarray]:
    h, w = frame.shape[:2]
    scale = size / min(h, w)
    resized = cv2.resize(frame, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_AREA)
    h, w = resized.shape[:2]
    y = (h - size) // 2
    xs = np.linspace(0, w - size, crops).round().astype(int) if crops > 1 else [(w - size) // 2]
    return [resized[y:y + size, x:x + size] for x in xs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="runs/deeplandscape/frames.npz")
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    frames, clip = [], []
    next_clip = 0
    for rel, keep, crops in SOURCES:
        path = Path(args.data) / rel
        if not path.exists():
            print(f"skip {rel}: not found")
            continue
        video = read_clip(path)
        index = np.linspace(0, len(video) - 1, min(keep, len(video))).round().astype(int)
        for i in index:
            for k, crop in enumerate(square_crops(np.asarray(video[i]), args.size, crops)):
                frames.append(crop)
                clip.append(next_clip + k)
        next_clip += crops
        print(f"{rel}: {len(index)} frames x {crops} crops")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, frames=np.stack(frames).astype(np.uint8), clip=np.asarray(clip, dtype=np.int64))
    print(f"{len(frames)} frames in {next_clip} clips -> {out} ({out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
