"""Rank motion snapshots by the issue's photo criteria: motion inside vs outside the fluid masks.

For each model folder (e.g. ``runs/motion_flow/snapshots/step_*``) and every photo in
``../shared/data/photos`` that has a hand-made fluid mask, the photo is animated at 512 px width
(recurrent motion, no appearance, ``--frames`` frames, one animation per code seed) and the mean
frame-to-frame flow magnitude in pixels of that 512 px image is measured inside and outside the
mask. The loop seam ratio (mean |last - first| / mean |frame k+1 - frame k|) uses ``--loop``.
Targets (issue 4): inside >= 0.3 px/frame, outside <= 0.05 px/frame, seam <= 1.5.

    python experiments/select_motion.py runs/motion_flow/snapshots/step_* --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cinescape.io.image import load_image
from cinescape.ops import resize_flow
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"


def masked_photos(folder: Path, width: int, everyone: bool = False) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, uint8 image resized to ``width``, boolean fluid mask) for every photo with a mask; with
    ``everyone`` also the photos without one (mask None: seam ratio only)."""
    found = []
    for photo in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")):
        mask_path = folder / "masks" / f"{photo.stem}.png"
        if not (mask_path.exists() or everyone):
            continue
        image = Image.fromarray(load_image(photo))
        size = (width, round(image.height * width / image.width / 2) * 2)
        mask = None
        if mask_path.exists():
            mask = np.asarray(Image.open(mask_path).convert("L").resize(size, Image.NEAREST)) > 127
        found.append((photo.stem, np.asarray(image.resize(size, Image.LANCZOS)), mask))
    return found


def seam_ratio(frames: list[np.ndarray]) -> float:
    as_float = [f.astype(np.float32) for f in frames]
    steps = np.mean([np.abs(b - a).mean() for a, b in zip(as_float, as_float[1:])])
    return float(np.abs(as_float[0] - as_float[-1]).mean() / max(steps, 1e-6))


def measure(model: str, photos, seeds: list[int], frames: int, auto_mask: str = "none", mode: str = "recurrent",
            loop: str = "crossfade") -> dict:
    pipeline = CinemagraphPipeline.from_pretrained(model)
    rows = {}
    for name, image, mask in photos:
        height, width = image.shape[:2]
        inside, outside, seams = [], [], []
        for seed in seeds:
            settings = AnimationSettings(num_frames=frames, seed=seed, appearance=False, loop=loop,
                                         auto_mask=auto_mask, mode=mode)
            animation = pipeline.plan(image, settings)
            flows = resize_flow(animation.steps[1:], (height, width))
            pixels = flows * torch.tensor([width / 2, height / 2]).view(1, 2, 1, 1)
            magnitude = pixels.norm(dim=1).mean(0).numpy()
            if mask is not None:
                inside.append(float(magnitude[mask].mean()))
                outside.append(float(magnitude[~mask].mean()))
            seams.append(seam_ratio(list(animation.frames())))
        rows[name] = {"inside": float(np.mean(inside)) if inside else float("nan"),
                      "outside": float(np.mean(outside)) if outside else float("nan"),
                      "seam": float(np.max(seams)), "inside_min_seed": float(np.min(inside)) if inside else float("nan")}
    masked = [r for r in rows.values() if not np.isnan(r["inside"])]
    summary = {key: float(np.mean([r[key] for r in masked])) for key in ("inside", "outside")}
    summary["seam_max"] = float(max(r["seam"] for r in rows.values()))
    summary["photos_meeting_targets"] = sum(r["inside"] >= 0.3 and r["outside"] <= 0.05 for r in masked)
    summary["masked_photos"] = len(masked)
    return {"model": model, "summary": summary, "photos": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders (motion part is what is measured)")
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--auto-mask", default="none", help="as cinescape animate --auto-mask")
    parser.add_argument("--mode", default="recurrent", choices=["recurrent", "eulerian"])
    parser.add_argument("--loop", default="crossfade", choices=["crossfade", "symmetric"])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--per-photo", action="store_true")
    parser.add_argument("--all-photos", action="store_true", help="also photos without a mask (seam ratio only)")
    args = parser.parse_args()
    if not args.photos.is_dir():
        print(f"skipped: {args.photos} not found (needs the project's shared data)")
        return 0
    torch.set_num_threads(args.threads)
    photos = masked_photos(args.photos, args.width, args.all_photos)
    print(f"{len(photos)} photos ({sum(m is not None for _, _, m in photos)} with fluid masks), {args.width} px wide, seeds {args.seeds}, {args.frames} frames, "
          f"{args.mode} motion, {args.loop} loop, auto-mask {args.auto_mask}")
    print("| model | inside px/frame | outside px/frame | photos meeting both | worst seam |")
    print("|---|---|---|---|---|")
    results = []
    for model in args.models:
        result = measure(model, photos, args.seeds, args.frames, args.auto_mask, args.mode, args.loop)
        results.append(result)
        s = result["summary"]
        print(f"| {model} | {s['inside']:.3f} | {s['outside']:.3f} | {s['photos_meeting_targets']}/{s['masked_photos']} "
              f"| {s['seam_max']:.2f} |", flush=True)
        if args.per_photo:
            for name, r in result["photos"].items():
                print(f"|   {name} | {r['inside']:.3f} (min seed {r['inside_min_seed']:.3f}) | {r['outside']:.3f} | "
                      f"| {r['seam']:.2f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
