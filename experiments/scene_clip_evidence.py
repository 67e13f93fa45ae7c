"""What a single photo tells about the scene clips' motion (issue 30, docs/results.md "s5-water"): per scene clip of
``benchmarks/footage_clips.json``, the ADE20K segmenter's class shares on its first frame at 512 px, and how its
truth's moving pixels split by direction (the share within 45 degrees of straight down, plain and truth-speed
weighted, overall and below a row); then a probe for falling water outside the fluid matte (bright, unsaturated,
vertical streaks: horizontal over vertical gradient energy >= 2 over 7 x 15 pixels, bands >= 5 % of the height and
1.4x taller than wide, not sky, not in the matte) on the 16 shared photos and the clips' first frames.

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python experiments/scene_clip_evidence.py [--data ../shared/data]

Prints one block per clip and one line per photo (the probe's bands: x, y, width, height in pixels at 512 px).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from cinescape.eval.footage import box_mask, mean_flow, truth_motion
from cinescape.eval.photo_metrics import resize_to_width
from cinescape.io.image import load_image
from cinescape.io.video_reader import read_clip
from cinescape.segmentation import ADE20K_CLASSES, ADE20KSegmenter, SkyMatte, automatic_matte

HERE = Path(__file__).resolve().parent


def falling_share(flow: np.ndarray, moving: np.ndarray, below_row: int = 0) -> tuple[float, float, int]:
    """Share of the ``moving`` pixels at or below ``below_row`` whose truth direction is within 45 degrees of
    straight down: (plain, speed-weighted, count)."""
    rows = np.arange(moving.shape[0])[:, None] >= below_row
    keep = moving & rows
    u, v = flow[0][keep], flow[1][keep]
    down = np.abs(np.degrees(np.arctan2(v, u)) - 90.0) <= 45.0
    speed = np.hypot(u, v)
    return float(down.mean()), float(speed[down].sum() / max(speed.sum(), 1e-12)), int(keep.sum())


def streak_bands(image: np.ndarray, sky: np.ndarray, matte: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The probe's bands of bright vertical streaks outside the sky and the matte, at 512 px wide."""
    small = image.astype(np.float32) / 255.0
    lum, sat = small.mean(-1), small.max(-1) - small.min(-1)
    white = (lum >= max(0.55, float(np.quantile(lum, 0.85)))) & (sat < 0.22)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3) ** 2
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3) ** 2
    streaks = (cv2.blur(gx, (7, 15)) >= 2.0 * np.maximum(cv2.blur(gy, (7, 15)), 1e-6)) & (cv2.blur(gx + gy, (7, 15)) >= 0.02)
    found = cv2.morphologyEx((white & streaks & ~sky & ~matte).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(found, connectivity=8)
    height = image.shape[0]
    return [tuple(int(v) for v in stats[k, :4]) for k in range(1, count)
            if stats[k, 3] >= 0.05 * height and stats[k, 3] >= 1.4 * stats[k, 2] and stats[k, 4] >= 30]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    args = parser.parse_args()
    data = Path(args.data)
    segmenter, matte_model = ADE20KSegmenter(), SkyMatte()
    clips = [c for c in json.loads((HERE.parent / "benchmarks" / "footage_clips.json").read_text())["clips"]
             if c["group"] == "scene"]
    firsts = {}
    for clip in clips:
        stride = clip.get("frame_stride", 1)
        frames = [resize_to_width(f, 512) for f in read_clip(data / clip["path"], max_frames=clip.get("frames"),
                                                             stride=stride)]
        firsts[clip["name"]] = frames[0]
        ignore = box_mask(frames[0].shape[:2], clip.get("ignore", []))
        if "region" in clip:
            ignore |= ~box_mask(frames[0].shape[:2], clip["region"])
        truth = truth_motion(mean_flow(frames, stabilize=clip.get("stabilize", False)), ignore=ignore)
        labels = segmenter.predict(frames[0])
        names, counts = np.unique(labels, return_counts=True)
        shares = ", ".join(f"{ADE20K_CLASSES[k - 1] if k else 'none'} {c / labels.size:.3f}"
                           for k, c in sorted(zip(names, counts), key=lambda p: -p[1]))
        print(f"{clip['name']}: segmenter on its first frame: {shares}")
        for row in (0, frames[0].shape[0] // 3):
            plain, weighted, count = falling_share(truth.flow, truth.moving, row)
            print(f"  truth moving pixels from row {row}: {count}, within 45 deg of down {plain:.3f} "
                  f"(speed-weighted {weighted:.3f})")
    photos = sorted(p for p in (data / "photos").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for name, image in [(p.stem, resize_to_width(load_image(p), 512)) for p in photos] + list(firsts.items()):
        size = image.shape[:2]
        sky = matte_model(image, size) > 0.5
        matte = automatic_matte(image) > 0.5
        print(f"probe {name}: {streak_bands(image, sky, matte)}")


if __name__ == "__main__":
    main()
