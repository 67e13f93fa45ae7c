"""IoU of the automatic fluid masks with hand-made ones, and the ADE20K segmenter's speed.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/mask_iou.py --photos ../shared/data/photos --threads 1

For every ``PHOTOS/masks/NAME.png`` (white = moves) and its photo ``PHOTOS/NAME.*``, at the photo's size,
both masks thresholded at 0.5:

* ``sky matte``: the U²-Net-p sky matte alone (``--auto-mask sky``), for reference;
* ``sky+water``: sky matte ∪ ADE20K water/waterfall groups (``--auto-mask sky+water``);
* ``ADE20K only``: ADE20K sky ∪ water ∪ waterfall groups (no sky matte).

Also times one 512×512 segmentation (``ADE20KSegmenter.predict`` on a square photo: letterbox, invoke,
crop) and the bare interpreter call, median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos", help="folder with the photos and masks/")
    parser.add_argument("--threads", type=int, default=1, help="interpreter / torch / ncnn threads (default 1)")
    parser.add_argument("--repeats", type=int, default=10, help="timed segmentations (default 10)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from cinescape.io.image import load_image
    from cinescape.segmentation import ADE20KSegmenter, SkyMatte, fluid_mask, load_mask, sky_mask

    photos = Path(args.photos)
    masks = sorted((photos / "masks").glob("*.png"))
    if not masks:
        print(f"no masks in {photos / 'masks'}", file=sys.stderr)
        return 2
    matte, segmenter = SkyMatte(), ADE20KSegmenter(num_threads=args.threads)

    rows = []
    print("| photo | sky matte | sky+water | ADE20K only |\n|---|---:|---:|---:|")
    for mask_path in masks:
        photo_path = next(p for p in sorted(photos.glob(mask_path.stem + ".*")) if p.suffix != ".json")
        image = load_image(photo_path)
        truth = load_mask(mask_path) > 0.5
        if truth.shape != image.shape[:2]:
            raise SystemExit(f"{mask_path} is {truth.shape}, its photo {image.shape[:2]}")
        row = {
            "photo": mask_path.stem,
            "sky matte": iou(sky_mask(image, matte=matte) > 0.5, truth),
            "sky+water": iou(fluid_mask(image, matte=matte, segmenter=segmenter) > 0.5, truth),
            "ADE20K only": iou(fluid_mask(image, segmenter=segmenter, sky="segmenter") > 0.5, truth),
        }
        rows.append(row)
        print(f"| {row['photo']} | {row['sky matte']:.3f} | {row['sky+water']:.3f} | {row['ADE20K only']:.3f} |")
    means = {key: float(np.mean([r[key] for r in rows])) for key in ("sky matte", "sky+water", "ADE20K only")}
    print(f"| **mean ({len(rows)})** | " + " | ".join(f"{value:.3f}" for value in means.values()) + " |")

    square = load_image(next(p for p in sorted(photos.glob(masks[0].stem + ".*")) if p.suffix != ".json"))
    segmenter.predict(square)  # warm-up
    predict, invoke = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        segmenter.predict(square)
        predict.append(time.perf_counter() - started)
        started = time.perf_counter()
        segmenter.interpreter.invoke()
        invoke.append(time.perf_counter() - started)
    timing = {"threads": args.threads, "predict_s": float(np.median(predict)), "invoke_s": float(np.median(invoke)),
              "photo": f"{square.shape[1]}x{square.shape[0]}"}
    print(f"\n512×512 segmentation, {args.threads} thread(s), median of {args.repeats}: "
          f"{timing['predict_s'] * 1000:.1f} ms with letterbox and crop ({timing['photo']} photo), "
          f"{timing['invoke_s'] * 1000:.1f} ms interpreter call alone")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "mean": means, "timing": timing}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
