"""Per-frame sharpness of the moving region of a loop (issue 30 part 3, "loops that never go soft").

For every shared photo with a hand mask (``PHOTOS/masks/NAME.png``) and every method spec (as ``cinescape evaluate
--method``, e.g. ``default`` or ``default:loop_phase_scale=0``), the loop is rendered at the photo's resolution
exactly as ``cinescape evaluate --photos`` renders it (60 frames, seed 0), and each frame, resized to 512 px wide
and colour-normalised to the photo (per-channel mean and std over the frame, as the evaluation does), is compared
with the photo on the hand mask:

* ``abs``: mean |3x3 Laplacian| over RGB and the region, frame over photo (the issue's "mean |Laplacian|");
* ``sq``: mean squared Laplacian, frame over photo (the evaluation's ``sharpness``, per frame);
* ``mid``: mean |difference of Gaussians, sigma 1.5 and 3 px| frame over photo: a lower band, where a contrast gain
  that overshoots (copies that are not independent there) would show as a ratio above 1 (max over frames printed).

A blend of two uncorrelated textures with weights w, 1 - w keeps sqrt(w² + (1-w)²) of their |Laplacian| (0.71 at
w = 1/2) and w² + (1-w)² of its square (0.5). Printed per photo: min and mean of both over the frames, the frame of
the minimum; ``--native`` measures each frame at the photo's own resolution instead (the hand mask resized to it:
what a user sees; at 512 px the downscale hides the loss of the finest detail); with ``--full`` also the
evaluation's coherence, seam and fluid / static motion (``cinescape evaluate``'s
own code, so the figures are the same). ``--json`` writes everything, per-frame curves included.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_loop_sharpness.py --photos ../shared/data/photos \
        --method default --full --json /tmp/sharp_default.json
"""

from __future__ import annotations

import argparse
import json
import math
import time

import cv2
import numpy as np

from cinescape.eval.photo_metrics import match_colour_statistics
from cinescape.eval.photos import (FLOW_WIDTH, PhotoEvalSettings, _measure, _PhotoReference, _render, find_photos,
                                   parse_method_spec, resolve_photo_method)


def laplacian_means(image: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(mean |Laplacian|, mean Laplacian²) of a float (h, w, 3) image over RGB and the (h, w) bool region."""
    laplacian = cv2.Laplacian(np.asarray(image, np.float32), cv2.CV_32F, ksize=1)
    mask = region.astype(np.uint8)
    absolute = float(np.mean(cv2.mean(np.abs(laplacian), mask=mask)[:3]))
    squared = float(np.mean(cv2.mean(laplacian * laplacian, mask=mask)[:3]))
    return absolute, squared


def mid_band(image: np.ndarray, region: np.ndarray) -> float:
    """Mean |difference of Gaussians (sigma 1.5 and 3 px)| over RGB and the region: the band just below the
    Laplacian's, where a contrast gain that is too high would show as a boost (ratio above 1)."""
    image = np.asarray(image, np.float32)
    band = cv2.GaussianBlur(image, (0, 0), 1.5) - cv2.GaussianBlur(image, (0, 0), 3.0)
    return float(np.mean(cv2.mean(np.abs(band), mask=region.astype(np.uint8))[:3]))


def per_frame_sharpness(frames: list[np.ndarray], photo: np.ndarray, region: np.ndarray) -> dict[str, list[float]]:
    """Per frame: |Laplacian|, Laplacian² and mid-band ratios (frame over photo) on ``region``, frames
    colour-normalised."""
    ref_abs, ref_sq = laplacian_means(photo, region)
    ref_mid = mid_band(photo, region)
    curves = {"abs": [], "sq": [], "mid": []}
    for frame in frames:
        normalised = match_colour_statistics(frame, photo)
        a, s = laplacian_means(normalised, region)
        curves["abs"].append(a / ref_abs)
        curves["sq"].append(s / ref_sq)
        curves["mid"].append(mid_band(normalised, region) / ref_mid)
    return curves


def native_sharpness(frames, photo: np.ndarray, region: np.ndarray) -> dict[str, list[float]]:
    """:func:`per_frame_sharpness` on frames streamed at the photo's own resolution (none is kept)."""
    curves = {"abs": [], "sq": [], "mid": []}
    for frame in frames:
        for key, values in per_frame_sharpness([frame], photo, region).items():
            curves[key] += values
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--method", action="append", help="method spec (repeatable); default: default")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-photos", type=int, default=None)
    parser.add_argument("--only", nargs="*", help="photo names to keep")
    parser.add_argument("--full", action="store_true", help="also coherence, seam, fluid/static motion")
    parser.add_argument("--json", help="write all figures and per-frame curves here")
    parser.add_argument("--native", action="store_true",
                        help="measure sharpness on the frames at the photo's own resolution (what a user sees) "
                             "instead of at 512 px wide; the hand mask resized to it")
    args = parser.parse_args()

    settings = PhotoEvalSettings(photos=args.photos, frames=args.frames, seed=args.seed, only_masked=True,
                                 max_photos=args.max_photos, sheets=False)
    photos = find_photos(args.photos, only_masked=True, max_photos=args.max_photos)
    if args.only:
        photos = [p for p in photos if p.name in args.only]
    pipelines: dict = {}
    report = {}
    for spec_text in args.method or ["default"]:
        method = resolve_photo_method(parse_method_spec(spec_text), settings, pipelines)
        rows = {}
        print(f"\n== {spec_text}")
        print(f"{'photo':26s} {'abs min':>7s} {'abs mean':>8s} {'sq min':>6s} {'sq mean':>7s} {'midmin':>6s} {'midmax':>6s} {'@':>3s}"
              + (f" {'coher':>6s} {'seam':>5s} {'fluid':>6s} {'static':>6s}" if args.full else "") + f" {'s':>6s}")
        for photo in photos:
            image, mask = photo.load()
            reference = _PhotoReference.build(image, mask, exact=False)
            started = time.perf_counter()
            if args.native:
                samples = None
                region = reference.mask > 0.5 if reference.mask is not None else np.ones(image.shape[:2], bool)
                curves = native_sharpness(method.frames(image, args.frames, args.seed), image, region)
                seconds = time.perf_counter() - started
            else:
                samples = _render(method, reference, args.frames, args.seed, sheets=False)
                seconds = time.perf_counter() - started
                curves = per_frame_sharpness(samples.flow_frames, reference.flow_photo, reference.flow_region)
            row = {"abs_min": min(curves["abs"]), "abs_mean": float(np.mean(curves["abs"])),
                   "sq_min": min(curves["sq"]), "sq_mean": float(np.mean(curves["sq"])),
                   "mid_min": min(curves["mid"]), "mid_max": max(curves["mid"]),
                   "argmin": int(np.argmin(curves["abs"])), "seconds": seconds, "curves": curves}
            if args.full and samples is not None:
                row.update(_measure(reference, samples, settings.patch_stride))
            rows[photo.name] = row
            extra = (f" {row['coherence']:6.3f} {row['seam_ratio']:5.2f} {row['fluid_motion']:6.3f} "
                     f"{row['static_motion']:6.3f}" if args.full else "")
            print(f"{photo.name:26s} {row['abs_min']:7.3f} {row['abs_mean']:8.3f} {row['sq_min']:6.3f} "
                  f"{row['sq_mean']:7.3f} {row['mid_min']:6.3f} {row['mid_max']:6.3f} {row['argmin']:3d}{extra} {seconds:6.1f}", flush=True)
        keys = ["abs_min", "abs_mean", "sq_min", "sq_mean", "mid_min", "mid_max"] + (
            ["coherence", "seam_ratio", "fluid_motion", "static_motion"] if args.full else [])
        means = {k: float(np.nanmean([r[k] for r in rows.values()])) for k in keys}
        worst = {"abs_min": min(r["abs_min"] for r in rows.values()),
                 "seam_max": max(r.get("seam_ratio", math.nan) for r in rows.values()),
                 "static_max": max(r.get("static_motion", math.nan) for r in rows.values())}
        print("mean: " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
        print("worst: " + "  ".join(f"{k} {v:.3f}" for k, v in worst.items()))
        report[spec_text] = {"photos": rows, "mean": means, "worst": worst}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"frames": args.frames, "seed": args.seed, "flow_width": FLOW_WIDTH, "methods": report},
                      handle, indent=1)


if __name__ == "__main__":
    main()
