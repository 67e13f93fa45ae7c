"""Animate every photo in ../shared/data/photos and report how much moves where; write a contact sheet.

    python benchmarks/animate_photos.py --out outputs/photos          # needs ../shared/data/photos

For each photo: the animation at its own size (default model, 32 frames, cross-fade loop, appearance on),
the mean frame-to-frame flow magnitude in pixels of the photo (the model's own flow, so it measures the
motion the model applies) inside and outside the hand-made fluid mask where one exists, and the loop
seam ratio (mean |last - first| over the mean |frame k+1 - frame k|). The contact sheet shows, per
photo, frames 0, N/3, 2N/3 and the colour-coded flow of frame 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cinescape.io.image import load_image
from cinescape.ops import flow_normalized_to_pixels, resize_flow
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"


def mask_for(photo: Path, size: tuple[int, int]) -> np.ndarray | None:
    path = photo.parent / "masks" / f"{photo.stem}.png"
    if not path.exists():
        return None
    mask = Image.open(path).convert("L").resize(size, Image.NEAREST)
    return np.asarray(mask) > 127


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--out", type=Path, default=Path("outputs/photos"))
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-videos", action="store_true", help="also write each animation as MP4")
    args = parser.parse_args()
    if not args.photos.is_dir():
        print(f"skipped: {args.photos} not found (needs the project's shared data)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    pipeline = CinemagraphPipeline.from_pretrained(args.model)
    settings = AnimationSettings(num_frames=args.frames, seed=args.seed)
    tiles = []
    print("| photo | size | seconds | flow px/frame (all) | inside mask | outside mask | seam ratio |")
    print("|---|---|---|---|---|---|---|")
    for photo in sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")):
        image = load_image(photo)
        height, width = image.shape[:2]
        started = time.perf_counter()
        animation = pipeline.plan(image, settings)
        frames = list(animation.frames())
        seconds = time.perf_counter() - started
        if args.save_videos:
            from cinescape.io.video import write_video

            write_video(frames, args.out / f"{photo.stem}.mp4", fps=20)
        # the model's per-frame flow, at the photo's size, in pixels of the photo
        magnitudes = []
        for index in range(1, animation.steps.shape[0]):
            flow = resize_flow(animation.steps[index:index + 1], (height, width))
            magnitudes.append(flow_normalized_to_pixels(flow)[0].norm(dim=0))
        magnitude = torch.stack(magnitudes).mean(0).numpy()
        mask = mask_for(photo, (width, height))
        inside = f"{magnitude[mask].mean():.3f}" if mask is not None and mask.any() else "-"
        outside = f"{magnitude[~mask].mean():.3f}" if mask is not None and (~mask).any() else "-"
        as_float = [f.astype(np.float32) for f in frames]
        steps = np.mean([np.abs(b - a).mean() for a, b in zip(as_float, as_float[1:])])
        seam = np.abs(as_float[0] - as_float[-1]).mean() / max(steps, 1e-6)
        print(f"| {photo.name} | {width}x{height} | {seconds:.1f} | {magnitude.mean():.3f} | {inside} | {outside} "
              f"| {seam:.2f} |", flush=True)
        flow_tile = next(animation.flow_frames())
        row = [frames[0], frames[len(frames) // 3], frames[2 * len(frames) // 3], flow_tile]
        tiles.append([np.asarray(Image.fromarray(t).resize((192, round(192 * height / width)))) for t in row])
    # contact sheet: one row per photo, rows padded to the tallest tile
    tallest = max(t[0].shape[0] for t in tiles)
    rows = [np.concatenate([np.pad(t, ((0, tallest - t.shape[0]), (0, 4), (0, 0)), constant_values=255) for t in row], 1)
            for row in tiles]
    # two sheets of at most 8 photos each, small enough to look at
    rows_per_sheet = 8
    for part in range(0, len(rows), rows_per_sheet):
        sheet = np.concatenate([np.pad(r, ((0, 4), (0, 0), (0, 0)), constant_values=255)
                                for r in rows[part:part + rows_per_sheet]], 0)
        path = args.out / f"contact_sheet_{part // rows_per_sheet}.png"
        Image.fromarray(sheet).save(path)
        print(f"contact sheet: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
