"""Issue 14: what separates `cinescape evaluate`'s model figures from a user's? Each candidate switched alone.

Variants of the default model (every one scored by evaluate's own functions on the same prepared real frames):

* ``old``: the pre-fix evaluate: the model animates frame 0 *after* it was resized to ``--size``;
* ``fixed``: evaluate now (:class:`PipelineMethod`): the native frame 0 animated, its frames prepared like the
  real ones;
* ``old+native-mask`` / ``fixed+resized-mask``: those two, with the fluid matte taken from the other input
  (the native matte resized up, or the resized frame's matte resized down; passed as ``mask``, no automatic
  mask): what the mask alone explains;
* ``user``: ``scripts/check_user_path.py --work DIR``'s PNG frames (the real CLI), read back.

Besides evaluate's figures, LPIPS(In) best-of-S is also computed the other ways one might: best sample per
frame, one best seed for the whole set, the last frame only.

    CINESCAPE_WEIGHTS=../shared/weights python benchmarks/eval_user_gap.py --size 256 --user /tmp/user256 \\
        --variants old fixed old+native-mask fixed+resized-mask user
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cinescape.data.splits import is_validation_clip
from cinescape.eval import metrics as M
from cinescape.eval.evaluate import (EvalSettings, Generated, Method, PipelineMethod, _ClipState, _frame_metrics,
                                     _Networks, _summarise_clip, load_clips)
from cinescape.io.video import read_clip
from cinescape.methods.al.pipeline import CinemagraphPipeline

KEYS = ("psnr_static", "ssim_static", "lpips_real", "lpips_real_best", "rmse_real_best", "motion_ratio")


class Variant(PipelineMethod):
    """Animate the ``photo`` ("native" or "resized" frame 0) with the automatic matte or that of ``matte``."""

    def __init__(self, pipeline, name, photo: str, matte: str | None = None):
        super().__init__(pipeline, name)
        self.photo, self.matte = photo, matte

    def generate(self, clip, seed):
        inputs = {"native": clip.input, "resized": clip.frames[0]}
        settings = self.animation_settings(len(clip.frames), seed)
        if self.matte is not None:
            matte = self.pipeline.fluid_matte(inputs[self.matte], settings)
            settings = replace(settings, mask=matte, auto_mask="none")
        frames = list(self.pipeline.plan(inputs[self.photo], settings).frames())
        return Generated(clip.prepare(frames) if self.photo == "native" else np.stack(frames))


class CachedUser(Method):
    name, stochastic = "user", True

    def __init__(self, folder: Path):
        self.folder = folder

    def generate(self, clip, seed):
        return Generated(clip.prepare(read_clip(self.folder / clip.name / f"seed{seed}", max_frames=len(clip.frames))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/motion/skytimelapse128")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all-clips", action="store_true")
    parser.add_argument("--other-clips", action="store_true", help="only the clips that are not validation clips")
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument("--variants", nargs="+", default=["old", "fixed"])
    parser.add_argument("--user", default=None, help="check_user_path.py --work folder (for the `user` variant)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = EvalSettings(data=args.data, frames=args.frames, size=args.size, samples=args.samples, seed=args.seed,
                            validation_only=not (args.all_clips or args.other_clips), max_clips=args.max_clips)
    pipeline = CinemagraphPipeline.from_pretrained(None)
    makers = {"old": lambda: Variant(pipeline, "old", "resized"), "fixed": lambda: PipelineMethod(pipeline, "fixed"),
              "old+native-mask": lambda: Variant(pipeline, "old+native-mask", "resized", "native"),
              "fixed+resized-mask": lambda: Variant(pipeline, "fixed+resized-mask", "native", "resized"),
              "user": lambda: CachedUser(Path(args.user))}
    methods = [makers[v]() for v in args.variants]
    clips, _ = load_clips(settings)
    if args.other_clips:
        clips = [c for c in clips if not is_validation_clip(Path(args.data) / c.name)]
    nets = _Networks(settings, None)
    rows = {m.name: {"figures": [], "lpips": []} for m in methods}  # then the static baseline's LPIPS
    for clip in clips:
        real = M.frames_to_tensor(clip.frames)
        feats, _ = nets.lpips_features(real)
        state = _ClipState(real, M.moving_mask(real), M.optical_flow_dis(clip.frames), feats, M.seam_ratio(real))
        static = nets.lpips.distance([f[:1] for f in feats], feats).float().numpy()[None]  # (1 sample, N)
        rows.setdefault("static (LPIPS only)", {"figures": [], "lpips": []})["lpips"].append(static)
        for method in methods:
            samples = [_frame_metrics(nets, clip, state, method.generate(clip, settings.seed + s))
                       for s in range(settings.samples)]
            rows[method.name]["figures"].append(_summarise_clip(samples)[0])
            rows[method.name]["lpips"].append(np.stack([s["curves"]["lpips_real"] for s in samples]))
    print(f"{len(clips)} clips, {args.frames} frames, compared at {args.size} px, seeds "
          f"{args.seed}..{args.seed + args.samples - 1}")
    print("| variant | " + " | ".join(KEYS) + " | LPIPS best per frame | LPIPS one best seed | LPIPS best, last frame |")
    print("|---|" + "---:|" * (len(KEYS) + 3))
    for name, row in rows.items():
        lp = np.stack(row["lpips"])[:, :, 1:]  # (clips, samples, frames 1..N-1)
        figures = [M.nanmean([f[k] for f in row["figures"]]) for k in KEYS] if row["figures"] else [np.nan] * 6
        extra = [lp.min(1).mean(), lp.mean((0, 2)).min(), lp[:, :, -1].min(1).mean()]
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in figures + extra) + " |")


if __name__ == "__main__":
    main()
