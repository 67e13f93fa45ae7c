"""Motion against real footage, and loops that never go soft (issue 30's measurements).

    PYTHONPATH=src python benchmarks/motion_vs_footage.py                 # everything, default:appearance=false
    PYTHONPATH=src python benchmarks/motion_vs_footage.py --only scene    # waves, river, fountain
    PYTHONPATH=src python benchmarks/motion_vs_footage.py --method default --method default:loop_period=30 \
        --only scene,sky,photos,waterfalls --out /tmp/footage

* **Clips** (``benchmarks/footage_clips.json``; groups ``scene``, ``sky``, ``extra``): each clip's real motion is its
  mean DIS flow at ``--width`` px (:func:`cinescape.eval.footage.truth_motion`, moving pixels = fast enough and
  steady in direction); its first frame, at the same width, is animated by each ``--method`` (specs as
  ``cinescape evaluate --photos --method``: ``default``, ``fgla``, ``default:KEY=VALUE,...``, a model folder) for
  ``--frames`` frames, and the loop's mean DIS flow is compared with the truth: direction **agreement**
  (truth-speed-weighted cosine), **coverage** (share of the moving pixels the loop moves >= 0.05 px/frame at 512
  px) and **speed ratio** (median speeds, the loop's px per output frame over the clip's px per clip frame).
  Criteria (issue 30): scene clips agreement >= 0.6 mean and >= 0.3 each, coverage >= 0.7; sky clips speed ratio
  0.5-2.
* **Photos** (``--data``/photos with a hand mask in photos/masks): each photo animated at its own resolution
  (``--photo-width`` to shrink it first), every frame resized to 512 px wide: per-frame sharpness of the moving
  region over the photo's (:func:`cinescape.eval.photo_metrics.frame_sharpness_ratios`), minimum and mean over the
  loop. Criterion: >= 0.9 in every frame.
* **Waterfalls** (``benchmarks/footage_waterfalls.json``: hand polygons of the falling water): the loop's mean
  DIS flow at 512 px wide in each polygon: angle of its mean from straight down and its speed. Criterion: within
  30 degrees, >= 0.5 px/frame.

``--only`` takes group names (scene, sky, extra, photos, waterfalls) and clip or photo names, comma-separated.
Prints a Markdown table per part and writes ``OUT/footage.json`` and, unless ``--no-pictures``, the truth and
animation flow pictures (``OUT/pictures/``: first frame / colour-coded flow on the moving pixels / arrows).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from cinescape.eval.footage import (REFERENCE_WIDTH, arrow_overlay, box_mask, compare_motion, fall_direction,
                                    flow_picture, mean_flow, truth_motion)
from cinescape.eval.photo_methods import parse_method_spec, resolve_photo_method
from cinescape.eval.photo_metrics import frame_sharpness_ratios, resize_to_width
from cinescape.eval.photos import PhotoEvalSettings, find_photos
from cinescape.io.video_reader import read_clip

HERE = Path(__file__).resolve().parent
CLIP_GROUPS = ("scene", "sky", "extra")
PARTS = (*CLIP_GROUPS, "photos", "waterfalls")
PHOTO_WIDTH = 512          # the photos' sharpness and waterfall flow are measured at this width (issue 30)
# The default command's motion and loop without its colour grade: the grade changes neither the motion nor the
# (colour-normalised) sharpness, and its bf16 network costs ~50x more than fp32 on a CPU without AVX-512 BF16
# (measured: 4 frames at 448x256, fp32 6.3 s, bf16 > 290 s on this project's machine under load).
DEFAULT_METHOD = "default:appearance=false"


def _selected(only: set[str] | None, name: str, group: str) -> bool:
    return only is None or name in only or group in only


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _picture(frame: np.ndarray, flow: np.ndarray, moving: np.ndarray, max_speed: float) -> np.ndarray:
    """First frame, colour-coded flow (grey outside ``moving``), arrows: stacked vertically."""
    return np.concatenate([frame, flow_picture(flow, max_speed, moving), arrow_overlay(frame, flow, moving)], 0)


def _loop(method, image: np.ndarray, frames: int, seed: int) -> tuple[list[np.ndarray], float]:
    started = time.perf_counter()
    loop = list(method.frames(image, frames, seed))
    return loop, time.perf_counter() - started


def run_clips(clips: list[dict], methods: list, args, out: Path | None) -> dict:
    results: dict = {}
    for clip in clips:
        path = Path(args.data) / clip["path"]
        stride = clip.get("frame_stride", 1)
        frames = [resize_to_width(f, args.width) for f in read_clip(path, max_frames=clip.get("frames"),
                                                                        stride=stride)]
        shape = frames[0].shape[:2]
        ignore = box_mask(shape, clip.get("ignore", []))
        if "region" in clip:
            ignore |= ~box_mask(shape, clip["region"])
        # speeds per clip frame: pairs of the read frames are `stride` clip frames apart
        truth = truth_motion(mean_flow(frames, stabilize=clip.get("stabilize", False)), ignore=ignore)
        truth.mean.flow /= stride
        truth.mean.speed /= stride
        real_speed = float(np.percentile(np.hypot(*truth.flow)[truth.moving], 99)) if truth.moving.any() else 1.0
        if out is not None:
            _write_png(out / "pictures" / f"truth__{clip['name']}.png",
                       _picture(frames[0], truth.flow, truth.moving, real_speed))
        entry = {"group": clip["group"], "size": f"{shape[1]}x{shape[0]}", "clip_frames": len(frames),
                 "frame_stride": stride, "methods": {}}
        for method in methods:
            loop, seconds = _loop(method, frames[0], args.frames, args.seed)
            made = mean_flow(loop, cyclic=True)
            figures = compare_motion(made, truth)
            figures["seconds"] = seconds
            entry["methods"][method.label] = figures
            if out is not None:
                everywhere = np.ones(shape, bool)
                _write_png(out / "pictures" / f"anim__{clip['name']}__{_file_label(method.label)}.png",
                           _picture(frames[0], made.flow, everywhere, real_speed))
            print(f"  {clip['name']:<18} {method.label}: agreement {figures['agreement']:+.2f} coverage "
                  f"{figures['coverage']:.2f} speed ratio {figures['speed_ratio']:.2f} ({seconds:.1f} s)",
                  file=sys.stderr)
        entry["moving_share"] = entry["methods"][methods[0].label]["moving_share"]
        entry["truth_speed"] = entry["methods"][methods[0].label]["truth_speed"]
        results[clip["name"]] = entry
    return results


def _file_label(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in label)


def _polygon_mask(shape: tuple[int, int], scale: float, polygons: list) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for polygon in polygons:
        cv2.fillPoly(mask, [np.round(np.asarray(polygon, np.float64) * scale).astype(np.int32)], 1)
    return mask.astype(bool)


def run_photos(photos: list, falls: dict, methods: list, args, out: Path | None) -> tuple[dict, dict]:
    """Sharpness of the masked photos and fall direction of the waterfall photos, one loop per photo x method."""
    from cinescape.io.image import load_image

    sharp: dict = {}
    waterfalls: dict = {}
    for photo in photos:
        image, mask = photo.load() if photo.mask_path is not None else (load_image(photo.path), None)
        full_width = image.shape[1]
        if args.photo_width:
            image = resize_to_width(image, args.photo_width)
        small = resize_to_width(image, PHOTO_WIDTH)
        for method in methods:
            loop, seconds = _loop(method, image, args.frames, args.seed)
            loop = [resize_to_width(f, PHOTO_WIDTH) for f in loop]
            if mask is not None and photo.name in args.photo_parts["photos"]:
                region = cv2.resize(mask, small.shape[1::-1], interpolation=cv2.INTER_AREA) > 0.5
                ratios = frame_sharpness_ratios(loop, small, region)
                sharp.setdefault(photo.name, {})[method.label] = {
                    "sharpness_min": float(np.nanmin(ratios)), "sharpness_mean": float(np.nanmean(ratios)),
                    "softest_frame": int(np.nanargmin(ratios)), "seconds": seconds}
                print(f"  {photo.name:<24} {method.label}: sharpness min {np.nanmin(ratios):.3f} mean "
                      f"{np.nanmean(ratios):.3f} ({seconds:.1f} s)", file=sys.stderr)
            if photo.name in falls and photo.name in args.photo_parts["waterfalls"]:
                flow = mean_flow(loop, cyclic=True).flow
                scale = small.shape[1] / full_width
                for fall in falls[photo.name]:
                    region = (_polygon_mask(small.shape[:2], scale, [fall["polygon"]])
                              & ~_polygon_mask(small.shape[:2], scale, fall.get("exclude", [])))
                    figures = fall_direction(flow, region)
                    waterfalls.setdefault(f"{photo.name} / {fall['name']}", {})[method.label] = figures
                    print(f"  {photo.name} / {fall['name']} {method.label}: {figures['angle_from_down']:.0f} deg "
                          f"from down, {figures['speed']:.3f} px/frame", file=sys.stderr)
                    if out is not None:
                        _write_png(out / "pictures" / f"fall__{photo.name}__{_file_label(method.label)}.png",
                                   _picture(small, flow, np.ones(small.shape[:2], bool), 1.0))
    return sharp, waterfalls


def _fmt(value: float, spec: str = "{:.2f}") -> str:
    return "n/a" if value is None or not math.isfinite(value) else spec.format(value)


def _mean(values: list[float]) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else math.nan


def clip_table(results: dict, labels: list[str]) -> str:
    lines = ["| Clip | Group | Method | Moving share | Real speed (px/clip frame) | Loop speed (px/frame) | "
             "Speed ratio | Agreement | Coverage |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, entry in results.items():
        for label in labels:
            f = entry["methods"][label]
            lines.append(f"| {name} | {entry['group']} | {label} | {_fmt(f['moving_share'])} | "
                         f"{_fmt(f['truth_speed'], '{:.3f}')} | {_fmt(f['animation_speed'], '{:.3f}')} | "
                         f"{_fmt(f['speed_ratio'])} | {_fmt(f['agreement'], '{:+.2f}')} | {_fmt(f['coverage'])} |")
    for group in CLIP_GROUPS:
        members = [e for e in results.values() if e["group"] == group]
        if not members or group == "extra":
            continue
        for label in labels:
            figures = [e["methods"][label] for e in members]
            ratios = [f["speed_ratio"] for f in figures]
            lines.append(f"| **mean ({len(members)})** | **{group}** | {label} | "
                         f"{_fmt(_mean([f['moving_share'] for f in figures]))} | | | "
                         f"{_fmt(_mean(ratios))} (median {_fmt(float(np.nanmedian(ratios)))}) | "
                         f"{_fmt(_mean([f['agreement'] for f in figures]), '{:+.2f}')} (min "
                         f"{_fmt(min(f['agreement'] for f in figures), '{:+.2f}')}) | "
                         f"{_fmt(_mean([f['coverage'] for f in figures]))} |")
    return "\n".join(lines)


def photo_table(sharp: dict, labels: list[str]) -> str:
    lines = ["| Photo | Method | Sharpness min | Sharpness mean | Softest frame |", "|---|---|---:|---:|---:|"]
    for name, by_method in sharp.items():
        for label in labels:
            f = by_method[label]
            lines.append(f"| {name} | {label} | {_fmt(f['sharpness_min'], '{:.3f}')} | "
                         f"{_fmt(f['sharpness_mean'], '{:.3f}')} | {f['softest_frame']} |")
    for label in labels:
        mins = [by_method[label]["sharpness_min"] for by_method in sharp.values()]
        means = [by_method[label]["sharpness_mean"] for by_method in sharp.values()]
        if mins:
            lines.append(f"| **mean ({len(mins)})** | {label} | {_fmt(_mean(mins), '{:.3f}')} (lowest "
                         f"{_fmt(min(mins), '{:.3f}')}) | {_fmt(_mean(means), '{:.3f}')} | |")
    return "\n".join(lines)


def fall_table(waterfalls: dict, labels: list[str]) -> str:
    lines = ["| Falling water | Method | Angle from down (deg) | Speed (px/frame at 512 px) | Median speed |",
             "|---|---|---:|---:|---:|"]
    for name, by_method in waterfalls.items():
        for label in labels:
            f = by_method[label]
            lines.append(f"| {name} | {label} | {_fmt(f['angle_from_down'], '{:.0f}')} | "
                         f"{_fmt(f['speed'], '{:.3f}')} | {_fmt(f['median_speed'], '{:.3f}')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", action="append",
                        help=f"method spec (repeatable; default: {DEFAULT_METHOD})")
    parser.add_argument("--only", help=f"comma-separated parts ({', '.join(PARTS)}) and clip / photo names")
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"),
                        help="the shared data folder (default ../shared/data)")
    parser.add_argument("--width", type=int, default=REFERENCE_WIDTH, help="clip measurement width (px)")
    parser.add_argument("--photo-width", type=int, default=None,
                        help="animate photos at this width (default: their own resolution)")
    parser.add_argument("--frames", type=int, default=60, help="frames per loop (the default command's 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default=None, help="folder for footage.json and the flow pictures")
    parser.add_argument("--no-pictures", action="store_true")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not (data / "motion").is_dir() or not (data / "photos").is_dir():
        print(f"motion_vs_footage: error: no shared data at {data} (needs motion/ and photos/); pass --data",
              file=sys.stderr)
        return 2
    if not 64 <= args.width <= 4096 or not 3 <= args.frames <= 1000:
        print("motion_vs_footage: error: --width must be 64..4096 and --frames 3..1000", file=sys.stderr)
        return 2
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    only = None if not args.only else {part.strip() for part in args.only.split(",") if part.strip()}
    config = json.loads((HERE / "footage_clips.json").read_text())
    falls = json.loads((HERE / "footage_waterfalls.json").read_text())["photos"]
    clips = [c for c in config["clips"] if _selected(only, c["name"], c["group"])]
    all_photos = find_photos(data / "photos")
    args.photo_parts = {
        "photos": {p.name for p in all_photos if p.mask_path is not None and _selected(only, p.name, "photos")},
        "waterfalls": {name for name in falls if _selected(only, name, "waterfalls")}}
    photos = [p for p in all_photos if p.name in args.photo_parts["photos"] | args.photo_parts["waterfalls"]]
    known = set(PARTS) | {c["name"] for c in config["clips"]} | {p.name for p in all_photos}
    if only and only - known:
        print(f"motion_vs_footage: error: --only: unknown {', '.join(sorted(only - known))} (parts: "
              f"{', '.join(PARTS)}, or a clip / photo name)", file=sys.stderr)
        return 2
    try:
        specs = [parse_method_spec(m, baselines=("static",)) for m in (args.method or [DEFAULT_METHOD])]
    except Exception as exc:  # OptionError: one line
        print(f"motion_vs_footage: error: {exc}", file=sys.stderr)
        return 2
    pipelines: dict = {}
    methods = [resolve_photo_method(spec, PhotoEvalSettings(photos=str(data / "photos")), pipelines)
               for spec in specs]
    labels = [m.label for m in methods]
    out = None if args.out is None or args.no_pictures else Path(args.out)

    started = time.perf_counter()
    clip_results = run_clips(clips, methods, args, out)
    sharp, waterfalls = run_photos(photos, falls, methods, args, out)
    report = {"command": " ".join(["python", "benchmarks/motion_vs_footage.py", *(argv or sys.argv[1:])]),
              "width": args.width, "frames": args.frames, "seed": args.seed, "clips": clip_results,
              "photos": sharp, "waterfalls": waterfalls, "seconds": time.perf_counter() - started}
    if clip_results:
        print("\n" + clip_table(clip_results, labels))
    if sharp:
        print("\n" + photo_table(sharp, labels))
    if waterfalls:
        print("\n" + fall_table(waterfalls, labels))
    print(f"\n{report['seconds']:.0f} s in all")
    if args.out is not None:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "footage.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
