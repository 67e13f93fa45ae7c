"""Motion by region kind on the shared photos with water, against the motion before kinds (``motion_by_kind=False``,
one learned drift): each photo's regions and kinds, the speed of each kind, the land's motion and, for the
waterfalls, the mean direction and speed in the falling water.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_region_kinds.py --photos ../shared/data/photos \
        [--out /tmp/kinds]

Speeds are px per frame at 512 px wide, from the plan's per-frame flow (what the renderer moves, the matte
applied): ``steps`` of the plan's first forward state, resized to 512 px wide. "land" is the hand mask's still part (photos with a mask). The
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


class _Memo:
    """The sky matte, remembered per photo: the kinds and the --no-kinds plans of one photo share one run."""

    def __init__(self, model):
        self.model, self.key, self.value = model, None, None
        self.source = getattr(model, "source", "")

    def __call__(self, image, size=None):
        key = (image.shape, hash(image[::7, ::7].tobytes()), size)
        if key != self.key:
            self.key, self.value = key, self.model(image, size)
        return self.value


def stats(animation, hand, stem, image) -> dict:
    flow = per_frame_flow(animation)
    speed = np.linalg.norm(flow, axis=-1)
    out = {"fluid": float(speed[speed > 0.01].mean()) if (speed > 0.01).any() else 0.0}
    if hand is not None:
        still = cv2.resize(hand.astype(np.float32), flow.shape[1::-1]) <= 0.5
        out["land_mean"], out["land_p99"] = float(speed[still].mean()), float(np.quantile(speed[still], 0.99))
    if stem in FALL_BOXES:
        x0, y0, x1, y1 = (v * 512 / image.shape[1] for v in FALL_BOXES[stem])
        box = flow[int(y0):int(y1), int(x0):int(x1)].reshape(-1, 2)
        mean = box.mean(0)
        out["fall_angle"] = math.degrees(math.atan2(mean[0], mean[1]))   # 0 = straight down
        out["fall_speed"] = float(np.linalg.norm(box, axis=-1).mean())
    regions = animation.regions
    if regions is not None:
        labels = cv2.resize(regions.labels.astype(np.uint8), flow.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        out["regions"] = ", ".join(f"{r.kind} {100 * r.area:.0f}% ({np.median(speed[labels == r.index]):.2f})"
                                   for r in regions.regions if (labels == r.index).any())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--out", default=None)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--skip", nargs="*", default=["scg_lhq_0002231"], help="photos without water")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipeline = CinemagraphPipeline.from_pretrained()
    print("| photo | regions: kind share (median px/frame @512) | fluid px/f before -> kinds | land mean (p99) "
          "before -> kinds | fall: angle from down, speed |")
    print("|---|---|---|---|---|")
    for entry in find_photos(args.photos):
        stem = Path(entry.name).stem
        if (args.only and stem not in args.only) or stem in args.skip:
            continue
        image, hand = entry.load()
        plans = {}
        for kinds in (False, True):
            plans[kinds] = pipeline.plan(image, num_frames=args.frames, motion_by_kind=kinds, appearance=False)
            if not isinstance(pipeline.engine.sky_matte, _Memo):
                pipeline.engine.sky_matte = _Memo(pipeline.engine.sky_matte)
        before, after = stats(plans[False], hand, stem, image), stats(plans[True], hand, stem, image)
        land = "-" if hand is None else (f"{before['land_mean']:.3f} ({before['land_p99']:.2f}) -> "
                                         f"{after['land_mean']:.3f} ({after['land_p99']:.2f})")
        fall = "-"
        if "fall_angle" in after:
            fall = (f"{before['fall_angle']:+.0f}°, {before['fall_speed']:.2f} -> "
                    f"{after['fall_angle']:+.0f}°, {after['fall_speed']:.2f}")
        print(f"| {stem} | {after.get('regions', 'none')} | {before['fluid']:.2f} -> {after['fluid']:.2f} | {land} "
              f"| {fall} |", flush=True)
        if args.out:
            write_views(plans[True], Path(args.out) / stem)


def write_views(animation, prefix: Path) -> None:
    """A contact sheet of 8 frames across the loop and a full-res crop of the water over 4 consecutive frames."""
    picks = np.linspace(0, animation.num_frames - 1, 8).round().astype(int)
    frames = {int(i): animation.frame(int(i)) for i in list(picks) + [0, 1, 2, 3]}
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
