"""Evaluation figures of every motion code of a model's codebook, one code at a time (issues 4 and 5).

Purpose: ``cinescape evaluate --method default --samples 5`` draws 5 random codebook codes (seeds 0..4), and the
codes differ a lot in speed (the shipped codebook's codes move a 128 px validation frame 0.06-1.8 px/frame), so
its figures depend on which codes the seeds happen to draw. This script evaluates each code on its own and
reports the expectation over the whole codebook (what ``--samples`` -> infinity would give: the mean over
codes, each drawn with probability 1/N) beside the per-code figures.

Method: ``cinescape evaluate``'s protocol and metrics (validation split, ``--frames`` frames, ``--size`` px,
the model's default mask, loop "none"), one method per code that always animates with that code
(``motion_code=i``). Columns: masked PSNR / SSIM on the real clip's still pixels, best LPIPS to the real
frames (one sample per code, so it is the code's LPIPS), motion ratio; the last rows are the codebook means
and the ``static`` baseline.

Command (about 15 minutes for both modes on 2 cores):

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_motion_codes.py \\
        --data ../shared/data/motion/skytimelapse128 --mode recurrent eulerian --out outputs/motion_codes.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from cinescape.eval.evaluate import EvalSettings, Generated, PipelineMethod, evaluate
from cinescape.models.base import atomic_write_bytes
from cinescape.methods.al.pipeline import CinemagraphPipeline

KEYS = ("psnr_static", "ssim_static", "lpips_real_best", "motion_ratio")


class CodeMethod(PipelineMethod):
    """A model that always animates with motion code ``code`` (the seed is ignored: deterministic)."""

    stochastic = False

    def __init__(self, pipeline, code: int, mode: str, motion_speed: float = 1.0):
        super().__init__(pipeline, f"{mode}:{code}", mode=mode)
        self.code, self.motion_speed = code, motion_speed

    def generate(self, clip, seed):
        animation = self.pipeline.plan(clip.frames[0], num_frames=clip.frames.shape[0], loop="none",
                                       appearance=False, mode=self.mode, motion_code=self.code,
                                       motion_speed=self.motion_speed)
        return Generated(np.stack(list(animation.frames())), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--mode", nargs="+", default=["recurrent"], choices=["recurrent", "eulerian"])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--motion-speed", type=float, default=1.0,
                        help="flow scale (as cinescape animate's): how still-pixel PSNR trades against speed")
    parser.add_argument("--out", default=None, help="write every figure here as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    pipeline = CinemagraphPipeline.from_pretrained(args.model)
    names = pipeline.codebook.motion_names
    methods = ["static"] + [CodeMethod(pipeline, i, mode, args.motion_speed)
                            for mode in args.mode for i in range(len(names))]
    settings = EvalSettings(data=args.data, frames=args.frames, size=args.size, samples=1, validation_only=True)
    report = evaluate(settings, methods, progress=sys.stderr.isatty(), command=" ".join(sys.argv))
    summaries = {name: m["summary"] for name, m in report["methods"].items()}

    print(f"{len(report['clips'])} validation clips, {args.frames} frames at {args.size} px; "
          f"{len(names)} codes; model {args.model or 'default'}\n")
    print("| mode | code | source | " + " | ".join(KEYS) + " |")
    print("|---|---:|---|" + "---:|" * len(KEYS))
    means = {}
    for mode in args.mode:
        rows = [(i, summaries[f"{mode}:{i}"]) for i in range(len(names))]
        for i, s in sorted(rows, key=lambda r: r[1]["motion_ratio"]):
            print(f"| {mode} | {i} | {Path(names[i]).name} | " + " | ".join(f"{s[k]:.4f}" for k in KEYS) + " |")
        means[mode] = {k: float(np.mean([s[k] for _, s in rows])) for k in KEYS}
    print()
    print("| codebook mean over | " + " | ".join(KEYS) + " |")
    print("|---|" + "---:|" * len(KEYS))
    for mode, m in means.items():
        print(f"| {mode} | " + " | ".join(f"{m[k]:.4f}" for k in KEYS) + " |")
    static = summaries["static"]
    print("| static baseline | " + " | ".join(f"{static[k]:.4f}" if not math.isnan(static[k]) else "–"
                                            for k in KEYS) + " |")
    if args.out:
        result = {"clips": report["clips"], "codes": names, "summaries": summaries, "codebook_means": means}
        atomic_write_bytes(Path(args.out), (json.dumps(result, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
