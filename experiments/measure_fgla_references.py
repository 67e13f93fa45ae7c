"""Do FGLA references drive sky and water in opposite directions while the rest stays still? (issue 6)

Purpose: on a photo with sky and water (a mountain lake), give the sky and the water references that move in
opposite horizontal directions, and check on the *output video* that the sky and the water move opposite ways,
that swapping the references swaps the directions, and that the regions without a reference ("others", and
every other still group) stay still.

Method:

1. References. A real cloud time-lapse (``--clip``, default Sky Time-lapse ``clip_r1_c5``, whose clouds drift
   left) is written as a frame folder A into a temporary directory, and its left-right mirror as folder B
   (mirroring negates the x motion). Their motion is checked with OpenCV DIS (forward flow, consecutive frames,
   decoded as the pipeline decodes references): mean x and y velocity in the clip's sky and over its whole frame.
2. Region of a reference. By default FGLA encodes a group's latent under the reference's *own* mask of that group,
   and a cloud clip has no water, so the water latent is taken from the clip's sky region
   (``reference_regions={"water": "sky"}``; ``--reference-region all`` uses the whole frame instead). Sky and water
   thus get exactly the latents of the same cloud motion, mirrored or not.
3. Runs. ``FGLAPipeline.from_pretrained(--model).plan(photo, references={"sky": A, "water": B}, ...)``, then sky=B,
   water=A; ``--frames`` 24, loop none, no appearance (motion only), recurrent mode, seed 0.
4. Measure. OpenCV DIS forward flow between consecutive OUTPUT frames (uint8, photo size), averaged over the
   pairs, in px/frame of the photo (x > 0: content moves right). Regions come from the pipeline's own group map
   of the photo (``FGLAPipeline.image_groups`` at the photo size: ADE20K groups with the sky matte's sky):
   mean x (and y) velocity in sky and in water; mean flow magnitude in the "others" group and in all still groups
   (every group without a reference: tree, grass, waterfall, others), over the whole region and over the region
   eroded by ``--band`` px (away from the feathered borders with moving regions). "ref x" is the reference's DIS
   x velocity in its encoded region, converted to photo pixels (the pipeline normalises flows by the short side):
   the speed the regions would have if the model reproduced the reference exactly.

Expected: the sky's and the water's x velocities have opposite signs and both flip between the two runs;
others ~0 px/frame.

Command (newest FGLA snapshot by default; 1 thread; about a minute of CPU):

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_fgla_references.py \\
        --model runs/fgla/snapshots/step_006000 --threads 1
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def newest_snapshot() -> str | None:
    """The newest ``runs/fgla/snapshots/step_N`` folder, or None."""
    snapshots = sorted((ROOT / "runs" / "fgla" / "snapshots").glob("step_*"), key=lambda p: int(p.name[5:]))
    return str(snapshots[-1].relative_to(ROOT)) if snapshots else None


def write_frames(frames: np.ndarray, folder: Path) -> Path:
    """uint8 (T, H, W, 3) frames -> a folder of PNGs 00000.png, 00001.png, ..."""
    folder.mkdir(parents=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    return folder


def region_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def erode(mask: np.ndarray, band: int) -> np.ndarray:
    """The mask without a ``band`` px band at its borders with other regions (image edges do not count)."""
    import cv2

    if band <= 0:
        return mask
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=newest_snapshot(), help="FGLA model folder (default: the newest snapshot "
                        "under runs/fgla/snapshots)")
    parser.add_argument("--photo", default=str(SHARED / "data" / "photos" / "scg_lhq_0000008.png"))
    parser.add_argument("--width", type=int, default=512, help="resize the photo to this width (default 512)")
    parser.add_argument("--clip", default=str(SHARED / "data" / "motion" / "skytimelapse128" / "clip_r1_c5"),
                        help="cloud clip (video or frame folder) whose motion and mirror are the references")
    parser.add_argument("--reference-region", default="sky",
                        help="region of the reference clip encoded for both groups: a group name or 'all'")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--band", type=int, default=4, help="px left out at region borders for the interior figures")
    parser.add_argument("--save", default=None, help="also write each run's frames as PNGs under this folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.model is None:
        parser.error("no snapshot under runs/fgla/snapshots: give --model DIR")
    os.environ.setdefault("CINESCAPE_WEIGHTS", str(SHARED / "weights"))

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from cinescape.data.clips import load_clip
    from cinescape.methods.fgla.pipeline import REFERENCE_REGION_ALL, FGLAPipeline, parse_group
    from cinescape.io.video import read_clip
    from cinescape.ops.optical_flow import optical_flow_dis
    from cinescape.segmentation import GROUP_NAMES, GROUP_OTHERS, GROUP_SKY, GROUP_WATER

    start = time.time()
    pipe = FGLAPipeline.from_pretrained(args.model)
    image = Image.open(args.photo).convert("RGB")
    height = round(image.height * args.width / image.width)
    photo = np.asarray(image.resize((args.width, height), Image.LANCZOS))
    groups = pipe.image_groups(photo, (height, args.width)).numpy()
    fractions = {name: float((groups == g).mean()) for g, name in enumerate(GROUP_NAMES)}
    region = args.reference_region.strip().lower()
    encoded = None if region == REFERENCE_REGION_ALL else parse_group(region)

    with tempfile.TemporaryDirectory() as tmp:
        # 1. references: the clip (A) and its mirror (B), as frame folders
        clip = np.stack(read_clip(args.clip, max_frames=pipe.reference_max_frames))   # uint8 (T, H, W, 3)
        refs = {"A": write_frames(clip, Path(tmp) / "A"),
                "B": write_frames(np.ascontiguousarray(clip[:, :, ::-1]), Path(tmp) / "B")}
        print(f"model {args.model}; photo {args.photo} at {args.width}x{height}; groups "
              + ", ".join(f"{k} {v:.1%}" for k, v in fractions.items() if v > 0))
        print(f"references: {args.clip} ({len(clip)} frames, {clip.shape[2]}x{clip.shape[1]}) as A, its mirror as B; "
              f"latents from the reference's {region} region for both sky and water")
        ref_x = {}
        for name, folder in refs.items():
            frames = load_clip(folder, short_side=pipe.reference_short_side).frames.permute(0, 2, 3, 1).numpy()
            flow = optical_flow_dis(frames).mean(0).numpy()               # (2, h, w) px/frame at the short side
            ref_groups = np.asarray(pipe.segmenter.classes(np.ascontiguousarray(frames[0])))
            mask = np.ones(ref_groups.shape, bool) if encoded is None else ref_groups == encoded
            ref_x[name] = region_mean(flow[0], mask) * min(height, args.width) / min(frames.shape[1:3])
            print(f"  DIS {name}: {region} x {region_mean(flow[0], mask):+.3f}, y {region_mean(flow[1], mask):+.3f} "
                  f"px/frame ({mask.mean():.0%} of the frame); whole frame x {flow[0].mean():+.3f}, "
                  f"y {flow[1].mean():+.3f} (at {min(frames.shape[1:3])} px short side; "
                  f"{ref_x[name]:+.2f} px/frame at the photo's)")

        # 2-3. the two runs
        masks = {"sky": groups == GROUP_SKY, "water": groups == GROUP_WATER, "others": groups == GROUP_OTHERS,
                 "still": (groups != GROUP_SKY) & (groups != GROUP_WATER)}
        rows = []
        for sky_ref, water_ref in (("A", "B"), ("B", "A")):
            animation = pipe.plan(photo, references={"sky": str(refs[sky_ref]), "water": str(refs[water_ref])},
                                  reference_regions={"sky": region, "water": region}, num_frames=args.frames,
                                  loop="none", appearance=False, mode="recurrent", seed=0)
            frames = np.stack(list(animation.frames()))
            if args.save:
                write_frames(frames, Path(args.save) / f"sky{sky_ref}_water{water_ref}")
            # 4. DIS forward flow on the output, averaged over the frame pairs
            flow = optical_flow_dis(frames).numpy()                       # (T-1, 2, H, W) px/frame
            mean = flow.mean(0)
            magnitude = np.linalg.norm(flow, axis=1).mean(0)
            rows.append({"run": f"sky={sky_ref}, water={water_ref}",
                         "ref": f"{ref_x[sky_ref]:+.2f} / {ref_x[water_ref]:+.2f}",
                         "sky": (region_mean(mean[0], masks["sky"]), region_mean(mean[1], masks["sky"])),
                         "water": (region_mean(mean[0], masks["water"]), region_mean(mean[1], masks["water"])),
                         "others": (region_mean(magnitude, masks["others"]),
                                    region_mean(magnitude, erode(masks["others"], args.band))),
                         "still": (region_mean(magnitude, masks["still"]),
                                   region_mean(magnitude, erode(masks["still"], args.band)))})

    # 5. report
    band = args.band
    print()
    print(f"| run | ref x sky / water | sky x | water x | sky y | water y | others \\|flow\\| | others \\|flow\\| "
          f"(>= {band} px from borders) | still groups \\|flow\\| | still groups \\|flow\\| (>= {band} px) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['ref']} | {r['sky'][0]:+.3f} | {r['water'][0]:+.3f} | {r['sky'][1]:+.3f} | "
              f"{r['water'][1]:+.3f} | {r['others'][0]:.3f} | {r['others'][1]:.3f} | {r['still'][0]:.3f} | "
              f"{r['still'][1]:.3f} |")
    first, second = rows
    opposite = all(np.sign(r["sky"][0]) == -np.sign(r["water"][0]) != 0 for r in rows)
    swapped = np.sign(first["sky"][0]) == -np.sign(second["sky"][0]) and \
        np.sign(first["water"][0]) == -np.sign(second["water"][0])
    print(f"\nsky and water x opposite in both runs: {opposite}; swapped between the runs: {swapped}")
    print("px/frame of the photo (DIS forward flow on the output frames, mean over "
          f"{args.frames - 1} pairs); x > 0: content moves right. ref x: the reference's DIS x velocity in its "
          f"encoded region at the photo's scale.")
    command = "CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_fgla_references.py " + \
        shlex.join(sys.argv[1:] if "--model" in sys.argv else ["--model", args.model, *sys.argv[1:]])
    print(f"command: {command}")
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
