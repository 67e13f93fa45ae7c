"""Does `cinescape evaluate` measure what a user gets? (issue 14)

1. The reference: `cinescape evaluate --data DATA --validation-only --method static default` (a subprocess,
   default everything else; `--evaluate-args` adds options), whose metrics.json records its settings.
2. The user: for each of its clips, frame 0 is saved as a PNG at its native size and animated by the real CLI,

       cinescape animate f0.png -o OUT/ --loop none --no-appearance --frames N --seed S   (default everything else)

   and the PNG frames are read back and scored by `evaluate()` itself with the reference's settings: a method
   whose videos are those frames, prepared (cropped/resized) like the real frames; same masks, metric functions
   and averaging.

Prints both tables as one, the user-minus-evaluate differences of the headline figures, and the largest
per-clip differences.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/check_user_path.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from cinescape.data.splits import is_validation_clip
from cinescape.eval.evaluate import EvalSettings, Generated, Method, evaluate, find_clips, format_table, prepare_frames
from cinescape.io.video import read_clip

HEADLINE = ("psnr_static", "ssim_static", "lpips_real", "lpips_real_best", "rmse_real_best", "motion_ratio")


class UserCLIMethod(Method):
    """The clip's native frame 0 animated by a `cinescape animate` subprocess, frames read back from PNG."""

    stochastic = True

    def __init__(self, clips: dict[str, Path], settings: EvalSettings, work: Path, threads: int, extra: list[str]):
        self.name = "user CLI" + (" " + " ".join(extra) if extra else "")
        self.clips, self.settings, self.work, self.threads, self.extra = clips, settings, work, threads, extra
        self.commands: list[str] = []

    def generate(self, clip, seed):
        s = self.settings
        folder = self.work / clip.name
        photo = folder / "f0.png"
        if not photo.exists():
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(read_clip(self.clips[clip.name], max_frames=1, stride=s.stride)[0]).save(photo)
        out = folder / f"seed{seed}"
        cli_args = ["animate", str(photo), "-o", f"{out}/", "--loop", "none", "--no-appearance",
                    "--frames", str(s.frames), "--seed", str(seed), "-q", *self.extra]
        self.commands.append(" ".join(cli_args))
        if out.exists():
            shutil.rmtree(out)
        run_cli(cli_args, self.threads)
        return Generated(prepare_frames(read_clip(out), s.size, s.keep_aspect))


def run_cli(args: list[str], threads: int) -> None:
    """`cinescape ARGS` in a subprocess (the console script, else this Python), with `threads` OpenMP threads."""
    command = shutil.which("cinescape")
    argv = [command] if command else [sys.executable, "-c", "import sys; from cinescape.cli import main; sys.exit(main())"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads > 0 else None
    subprocess.run(argv + args, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/motion/skytimelapse128")
    parser.add_argument("--evaluate-args", default="", help="extra `cinescape evaluate` options, e.g. '--size 128'")
    parser.add_argument("--animate-args", default="", help="extra `cinescape animate` options, e.g. '--model DIR'")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every run")
    parser.add_argument("--work", default=None, help="keep the PNGs and reports here (default: a temporary folder)")
    args = parser.parse_args()
    if args.threads > 0:
        import torch
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        run_cli(["evaluate", "--data", args.data, "--validation-only", "--method", "static", "default", "--out",
                 str(work / "evaluate"), "--threads", str(args.threads), "-q", *args.evaluate_args.split()],
                args.threads)
        reference = json.loads((work / "evaluate" / "metrics.json").read_text())
        settings = EvalSettings(**reference["settings"])
        paths = [p for p in find_clips(settings.data) if not settings.validation_only or is_validation_clip(p)]
        user = UserCLIMethod({(p.stem if p.is_file() else p.name): p for p in paths}, settings, work / "user",
                             args.threads, args.animate_args.split())
        report = evaluate(settings, [user], progress=False)
    report["methods"] = {**reference["methods"], user.name: report["methods"][user.name]}
    print(f"{len(report['clips'])} clips, {settings.frames} frames, compared at {settings.size} px, seeds "
          f"{settings.seed}..{settings.seed + settings.samples - 1}\nreference: {reference['command']}\n"
          f"user runs like: cinescape {user.commands[0]}\n")
    print(format_table(report), "\n")
    evaluated, used = report["methods"]["default"], report["methods"][user.name]
    print(f"| {user.name} − default | " + " | ".join(f"{k} {used['summary'][k] - evaluated['summary'][k]:+.4f}"
                                                     for k in HEADLINE) + " |")
    worst = {k: max(abs(used["clips"][c][k] - evaluated["clips"][c][k]) for c in report["clips"]) for k in HEADLINE}
    print("largest per-clip |difference|: " + ", ".join(f"{k} {v:.4f}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
