"""Motion by region kind on the shared photos: each photo's regions and kinds, the speed of each kind and the
land's, and, for the waterfalls, the mean direction and speed in the falling water.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_region_kinds.py --photos ../shared/data/photos \
        [--out /tmp/kinds] [--no-kinds]

Speeds are px per frame at 512 px wide, from the plan's per-frame flow (what moves on screen): ``steps`` of the
plan's first forward state, resized to 512 px wide. "land" is the hand mask's still part (photos with a mask). The
falling water of each waterfall is a box in photo pixels (FALL_BOXES, drawn by looking at the photo). ``--out``:
a contact sheet across the loop and a full-resolution crop of the water across 4 consecutive frames per photo.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from cinescape.eval.photos import find_photos
from cinescape.methods.al import CinemagraphPipeline
from cinescape.ops import flow_normalized_to_pixels

# photo -> (x0, y0, x1, y1) of its falling water, photo pixels (looked at: c3d_demo0's main fall, lip to pool)
FALL_BOXES = {"c3d_demo0": (560, 290, 700, 500)}


def per_frame_flow(animation, width: int = 512) -> np.ndarray:
    """(h512, 512, 2) forward px per frame at 512 px wide of the plan's motion (the negated backward step)."""
    steps = animation.steps[1:2].float()
    h, w = animation.height, animation.width
    size = (round(width * h / w), width)
    flow = torch.nn.functional.interpolate(steps, size=size, mode="bilinear", align_corners=False)
    return -flow_normalized_to_pixels(flow)[0].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--out", default=None)
    parser.add_argument("--no-kinds", action="store_true")
    parser.add_argument("--only", default=None)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipeline = CinemagraphPipeline.from_pretrained()
    print("| photo | regions (kind: share) | kind speeds px/frame @512 | land max | fall direction / speed |")
    print("|---|---|---|---:|---|")
    for entry in find_photos(args.photos):
        if args.only and args.only not in entry.name:
            continue
        image, hand = entry.load()
        animation = pipeline.plan(image, num_frames=args.frames, motion_by_kind=not args.no_kinds, appearance=False)
        flow = per_frame_flow(animation)
        speed = np.linalg.norm(flow, axis=-1)
        regions = animation.regions
        parts, speeds = [], []
        if regions is not None:
            labels = cv2.resize(regions.labels.astype(np.uint8), flow.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            for region in regions.regions:
                parts.append(f"{region.kind} {100 * region.area:.0f}%")
                inside = labels == region.index
                if inside.any():
                    speeds.append(f"{region.kind} {np.median(speed[inside]):.2f}")
        land = "-"
        if hand is not None:
            still = cv2.resize(hand.astype(np.float32), flow.shape[1::-1]) <= 0.5
            land = f"{speed[still].max():.3f}" if still.any() else "-"
        fall = "-"
        stem = Path(entry.name).stem
        if stem in FALL_BOXES:
            x0, y0, x1, y1 = (v * 512 / image.shape[1] for v in FALL_BOXES[stem])
            box = flow[int(y0):int(y1), int(x0):int(x1)].reshape(-1, 2)
            mean = box.mean(0)
            angle = math.degrees(math.atan2(mean[0], mean[1]))   # 0 = straight down
            fall = f"{angle:+.0f}° from down, mean speed {np.linalg.norm(box, axis=-1).mean():.2f}"
        print(f"| {stem} | {', '.join(parts) or 'none'} | {', '.join(speeds) or '-'} | {land} | {fall} |",
              flush=True)
        if args.out:
            write_views(animation, Path(args.out) / stem)


def write_views(animation, prefix: Path) -> None:
    """A contact sheet of 8 frames across the loop and a full-res crop of the water over 4 consecutive frames."""
    frames = [animation.frame(i) for i in range(animation.num_frames)]
    picks = np.linspace(0, len(frames) - 1, 8).round().astype(int)
    thumbs = [cv2.resize(frames[i], (480, round(480 * frames[0].shape[0] / frames[0].shape[1]))) for i in picks]
    sheet = np.concatenate([np.concatenate(thumbs[:4], 1), np.concatenate(thumbs[4:], 1)], 0)
    cv2.imwrite(f"{prefix}_sheet.png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    moving = None if animation.regions is None else animation.regions.labels > 0
    h, w = frames[0].shape[:2]
    cy, cx = h // 2, w // 2
    if moving is not None and animation.regions.regions:
        water = [r for r in animation.regions.regions if r.kind != "sky"] or animation.regions.regions
        biggest = max(water, key=lambda r: r.area)
        cx, cy = (int(biggest.centroid[0] * w / moving.shape[1]), int(biggest.centroid[1] * h / moving.shape[0]))
    size = min(360, h, w)
    y0, x0 = min(max(cy - size // 2, 0), h - size), min(max(cx - size // 2, 0), w - size)
    crops = [frames[i][y0:y0 + size, x0:x0 + size] for i in range(4)]
    cv2.imwrite(f"{prefix}_crop4.png", cv2.cvtColor(np.concatenate(crops, 1), cv2.COLOR_RGB2BGR))
    if animation.regions is not None:
        tint = kind_tint(frames[0], animation.regions)
        cv2.imwrite(f"{prefix}_kinds.png", cv2.cvtColor(tint, cv2.COLOR_RGB2BGR))


KIND_COLOURS = {"sky": (255, 0, 255), "waterfall": (255, 255, 0), "river": (0, 255, 0), "sea": (0, 0, 255),
                "lake": (0, 255, 255), "fountain": (255, 128, 0), "still": (255, 0, 0)}


def kind_tint(frame: np.ndarray, regions) -> np.ndarray:
    labels = cv2.resize(regions.labels.astype(np.uint8), frame.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    out = frame.astype(np.float32)
    for region in regions.regions:
        inside = labels == region.index
        out[inside] = 0.55 * out[inside] + 0.45 * np.array(KIND_COLOURS[region.kind])
    return out.astype(np.uint8)


if __name__ == "__main__":
    main()
