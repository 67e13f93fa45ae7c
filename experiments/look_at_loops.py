"""Look at the default loop of real photos as a user gets it: full resolution, whole loop, default settings.

For each photo, writes under ``--out``:

* ``NAME__sheet.jpg``: a contact sheet of every ``--every``-th frame across the loop (downscaled), with the
  regions' kinds printed under it;
* ``NAME__crop_KIND.png`` for the largest region of each water kind (and the sky): a full-resolution crop of that
  region in 4 consecutive frames side by side (the frames at the loop's softest moment included: frame
  ``--crop-start``), so motion, sharpness and smears can be judged at the photo's own pixels;
* ``NAME__motion.png``: the mean on-screen motion over the loop (frame-to-frame difference of the frames matched
  to the photo's channel statistics, so the colour change drops out; brighter = more), at display size, so what
  moves and what stays is visible at a glance.

Run (needs ../shared; minutes per photo at full resolution on 2 cores)::

    PYTHONPATH=src python experiments/look_at_loops.py ../shared/data/photos/c3d_demo0.png --out /tmp/look

Prints one line per photo: its size, the seconds it took, and its regions' kinds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from cinescape.io.image import load_image
from cinescape.methods import load_pipeline

WATER_AND_SKY = ("waterfall", "river", "sea", "lake", "fountain", "sky")


def contact_sheet(frames: list[tuple[int, np.ndarray]], columns: int, width: int, caption: str) -> np.ndarray:
    """The frames in a grid, each ``width`` px wide, with their index and a caption line under the grid."""
    first = frames[0][1]
    height = round(first.shape[0] * width / first.shape[1])
    tiles = []
    for index, frame in frames:
        tile = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, str(index), (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    sheet = np.concatenate(rows, axis=0)
    band = np.zeros((28, sheet.shape[1], 3), np.uint8)
    cv2.putText(band, caption[:200], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
    return np.concatenate((sheet, band), axis=0)


def crop_box(region, working: tuple[int, int], photo: tuple[int, int], side: int) -> tuple[int, int, int, int]:
    """A ``side``-px square (clipped to the photo) around a region's centroid, in photo pixels."""
    scale_y, scale_x = photo[0] / working[0], photo[1] / working[1]
    cx, cy = region.centroid[0] * scale_x, region.centroid[1] * scale_y
    side = min(side, photo[0], photo[1])
    x0 = int(np.clip(cx - side / 2, 0, photo[1] - side))
    y0 = int(np.clip(cy - side / 2, 0, photo[0] - side))
    return x0, y0, x0 + side, y0 + side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=5, help="contact sheet: every k-th frame")
    parser.add_argument("--crop", type=int, default=384, help="crop side, photo pixels")
    parser.add_argument("--crop-start", type=int, default=4, help="first of the 4 consecutive cropped frames")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="an AnimationSettings field (numbers and booleans parsed), e.g. motion_by_kind=false")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = {}
    for text in args.setting:
        key, _, value = text.partition("=")
        lowered = value.lower()
        overrides[key] = (True if lowered == "true" else False if lowered == "false"
                          else float(value) if value.replace(".", "", 1).lstrip("-").isdigit() else value)
    pipeline = load_pipeline()
    for path in args.photos:
        started = time.perf_counter()
        photo = load_image(path)
        animation = pipeline.plan(photo, **overrides)
        frames = list(animation.frames())
        seconds = time.perf_counter() - started
        regions = getattr(animation, "regions", None)
        kinds = [] if regions is None else [(r.kind, round(r.area, 3)) for r in regions.regions]
        name = path.stem
        sheet = contact_sheet([(i, frames[i]) for i in range(0, len(frames), args.every)], 4, 480,
                              f"{name} {photo.shape[1]}x{photo.shape[0]}: {kinds}")
        cv2.imwrite(str(args.out / f"{name}__sheet.jpg"), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
        # The default grade is one affine colour change per channel and frame: matched back to the photo's
        # channel statistics, what is left of a frame-to-frame difference is motion.
        reference = photo.reshape(-1, 3).astype(np.float32)
        mean, std = reference.mean(0), reference.std(0) + 1e-3

        def matched(frame: np.ndarray) -> np.ndarray:
            values = frame.astype(np.float32)
            flat = values.reshape(-1, 3)
            return (values - flat.mean(0)) / (flat.std(0) + 1e-3) * std + mean
        difference = np.mean([np.abs(matched(frames[i + 1]) - matched(frames[i])).mean(-1)
                              for i in range(len(frames) - 1)], axis=0)
        shown = np.clip(difference * 40, 0, 255).astype(np.uint8)
        display = 960 / photo.shape[1]
        cv2.imwrite(str(args.out / f"{name}__motion.png"),
                    cv2.resize(shown, None, fx=display, fy=display, interpolation=cv2.INTER_AREA))
        if regions is not None:
            largest: dict = {}
            for region in regions.regions:
                if region.kind in WATER_AND_SKY and region.area > largest.get(region.kind, (0, None))[0]:
                    largest[region.kind] = (region.area, region)
            start = min(args.crop_start, len(frames) - 4)
            for kind, (_, region) in largest.items():
                x0, y0, x1, y1 = crop_box(region, regions.size, photo.shape[:2], args.crop)
                strip = np.concatenate([frames[start + k][y0:y1, x0:x1] for k in range(4)], axis=1)
                cv2.imwrite(str(args.out / f"{name}__crop_{kind}.png"), strip[..., ::-1])
        print(f"{name}: {photo.shape[1]}x{photo.shape[0]}, {seconds:.1f} s, regions {kinds}", flush=True)


if __name__ == "__main__":
    main()
