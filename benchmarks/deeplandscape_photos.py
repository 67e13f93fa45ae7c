"""DeepLandscape on the shared photos: inversion quality at generator resolution, fluid/still motion, loop seam.

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python benchmarks/deeplandscape_photos.py \
        [--photos ../shared/data/photos] [--frames 20] [--width 512] [--out runs/deeplandscape/eval] \
        [--only NAME ...] [--settings lpips_weight=1,finetune_steps=100]

Per photo: PSNR and LPIPS-SqueezeNet of the fine-tuned reconstruction against the photo resized to the
generator's R×R (the inversion target), the time of the inversion, and - on a ``--frames`` loop rendered from the
photo resized to ``--width`` - the mean DIS flow inside / outside the photo's hand-made fluid mask (px/frame at that
width; photos without a mask: blank) and the loop's seam ratio (project metric). Prints a Markdown table and
writes frame 0 and frame frames/4 of each loop as PNG. Timings are upper bounds on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from cinescape.eval.metrics import LPIPS, inversion_quality
from cinescape.eval.photo_methods import parse_method_spec
from cinescape.eval.photos import find_photos, region_motion, resize_to_width, seam_ratio_uint8
from cinescape.methods.deeplandscape import DeepLandscapePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-photos", type=int, default=None)
    parser.add_argument("--first", type=int, default=0, help="skip the photos before this index (to split a run)")
    parser.add_argument("--out", default="runs/deeplandscape/eval")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these photos (names, no suffix)")
    parser.add_argument("--settings", default="", metavar="KEY=VALUE,...",
                        help="DeepLandscape settings other than the defaults, e.g. lpips_weight=1")
    args = parser.parse_args()
    overrides = parse_method_spec(f"deeplandscape:{args.settings}").overrides if args.settings else {}
    torch.set_num_threads(args.threads)
    if not Path(args.photos).is_dir():
        raise SystemExit(f"needs {args.photos} (the project's shared photos)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = DeepLandscapePipeline.from_pretrained(args.model)
    lpips = LPIPS()
    rows = []
    for photo_entry in find_photos(args.photos, max_photos=args.max_photos)[args.first:]:
        if args.only and photo_entry.name not in args.only:
            continue
        image, mask = photo_entry.load()
        small = resize_to_width(image, args.width)
        start = time.time()
        animation = pipe.plan(small, num_frames=args.frames, **overrides)
        inversion_s = time.time() - start
        inv = animation.inversion
        reconstruction = inv.reconstruction()
        quality = inversion_quality(reconstruction, inv.target, lpips)   # the figures of `cinescape evaluate`
        rec = (reconstruction.clamp(-1, 1) + 1) * 127.5
        target = (inv.target + 1) * 127.5
        row = {"photo": photo_entry.name, "psnr": quality["inversion_psnr"], "lpips": quality["inversion_lpips"],
               "inversion_s": inversion_s, "perceptual": inv.perceptual}
        start = time.time()
        frames = list(animation.frames())
        row["render_s_per_frame"] = (time.time() - start) / len(frames)
        row["seam"] = seam_ratio_uint8(frames)
        if mask is not None:
            region = cv2.resize(mask.astype(np.float32), (small.shape[1], small.shape[0])) > 0.5
            row["fluid_px"], row["still_px"] = region_motion(frames, region)
        for i in (0, len(frames) // 4):
            cv2.imwrite(str(out / f"{photo_entry.name}_f{i:02d}.png"), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
        recon = np.concatenate([target[0].permute(1, 2, 0).round().byte().numpy(),
                                rec[0].permute(1, 2, 0).round().byte().numpy()], axis=1)
        cv2.imwrite(str(out / f"{photo_entry.name}_reconstruction.png"), cv2.cvtColor(recon, cv2.COLOR_RGB2BGR))
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    (out / f"results_{args.first}.json").write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| photo | PSNR dB | LPIPS | fluid px/f | still px/f | seam | inversion s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['photo']} | {r['psnr']:.2f} | {r['lpips']:.3f} | {r.get('fluid_px', float('nan')):.3f} | "
              f"{r.get('still_px', float('nan')):.3f} | {r['seam']:.2f} | {r['inversion_s']:.0f} |")
    mean = lambda key: np.nanmean([r.get(key, np.nan) for r in rows])  # noqa: E731
    print(f"| mean | {mean('psnr'):.2f} | {mean('lpips'):.3f} | {mean('fluid_px'):.3f} | {mean('still_px'):.3f} | "
          f"{mean('seam'):.2f} | {mean('inversion_s'):.0f} |")


if __name__ == "__main__":
    main()
