"""Compare per-code evaluations (``experiments/measure_motion_codes.py`` JSON) against a reference, at equal motion.

Still-pixel PSNR falls as the motion speeds up, so two ways to animate that differ slightly in speed also differ in
PSNR for that reason alone. This script reports, for each candidate against the reference (both evaluated code by
code on the same clips), paired over the codebook's codes:

* the raw differences of the codebook means (PSNR on still pixels, best LPIPS to the real frames) and the mean
  difference of log motion ratio (speed);
* the PSNR and LPIPS differences **at the reference's speed**: each code's figure moved along that code's own
  slope d(figure)/d(log speed) by the candidate's log-speed difference. The slopes come from a *speed probe*: the
  same run twice, at ``--motion-speed`` 1 and at another speed (``--probe A.json B.json``);
* ± one standard error of the paired mean (code-to-code spread / sqrt(codes));
* what ``cinescape evaluate --samples 5`` would report: the seeds 0-4 figures (the codes those seeds draw, averaged
  as the evaluator averages them), and in how many of 200 groups of 5 consecutive seeds the candidate's PSNR and
  motion ratio are both at least the reference's.

    python experiments/compare_motion_codes.py --reference outputs/motion_codes.json:recurrent \\
        --probe outputs/motion_codes.json:eulerian outputs/motion_codes_eulerian_speed098.json:eulerian \\
        outputs/motion_codes.json:eulerian outputs/motion_codes_rollout_mean.json

A file argument is ``PATH[:MODE]``; MODE defaults to the file's only mode.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

from cinescape.methods.al.codebook import Codebook, CodeSelector
from cinescape.methods.al.pipeline import DEFAULT_MODEL_DIR

GROUPS = 200   # groups of 5 consecutive seeds: 0-4, 5-9, ...


def load_codes(spec: str) -> tuple[str, dict[int, dict[str, float]]]:
    """``PATH[:MODE]`` -> (label, {code: summary}) from a measure_motion_codes.py JSON file."""
    path, _, mode = spec.partition(":")
    try:
        summaries = json.loads(Path(path).read_text())["summaries"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"{path}: not a measure_motion_codes.py result ({exc.__class__.__name__}: {exc})") from None
    modes = sorted({key.split(":")[0] for key in summaries if ":" in key})
    if not mode:
        if len(modes) != 1:
            raise SystemExit(f"{path} holds modes {modes}: name one as {path}:MODE")
        mode = modes[0]
    codes = {int(key.split(":")[1]): value for key, value in summaries.items() if key.startswith(mode + ":")}
    if not codes:
        raise SystemExit(f"{path} has no per-code figures for mode {mode!r}")
    return f"{Path(path).stem}:{mode}", codes


def paired(differences: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean."""
    n = len(differences)
    mean = sum(differences) / n
    return mean, math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1) / n)


def seed_codes(model: Path, count: int) -> list[int]:
    """The codebook index each seed 0..count-1 draws, as ``cinescape evaluate`` (pipeline.plan) draws it."""
    codebook = Codebook.load(model)
    picks = []
    for seed in range(count):
        z = codebook.motion_code(CodeSelector.parse(None), random.Random(seed))
        picks.append(int((codebook.motion - z).abs().sum(1).argmin()))
    return picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, metavar="PATH[:MODE]")
    parser.add_argument("--probe", nargs=2, required=True, metavar="PATH[:MODE]",
                        help="one way to animate evaluated at two speeds: gives each code's slopes")
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="model whose codebook the seeds draw from")
    parser.add_argument("candidates", nargs="+", metavar="PATH[:MODE]")
    args = parser.parse_args()

    _, reference = load_codes(args.reference)
    (_, slow), (_, fast) = load_codes(args.probe[1]), load_codes(args.probe[0])
    codes = sorted(reference)
    if sorted(slow) != codes or sorted(fast) != codes:
        raise SystemExit("--probe runs must hold the reference's codes")
    if any(slow[c]["motion_ratio"] == fast[c]["motion_ratio"] for c in codes):
        raise SystemExit("--probe: the two runs must be the same field at two different speeds")

    def slope(key: str, code: int) -> float:
        return (slow[code][key] - fast[code][key]) / math.log(slow[code]["motion_ratio"] /
                                                              fast[code]["motion_ratio"])

    psnr_slopes = sorted(slope("psnr_static", c) for c in codes)
    print(f"{len(codes)} codes; still-pixel PSNR per unit log speed: median {psnr_slopes[len(codes) // 2]:.2f} dB "
          f"(range {psnr_slopes[0]:.2f} to {psnr_slopes[-1]:.2f})\n")
    seeds = seed_codes(Path(args.model), 5 * GROUPS)
    groups = [seeds[i:i + 5] for i in range(0, len(seeds), 5)]

    def group_mean(table, key, group):
        return sum(table[c][key] for c in group) / len(group)

    print("| candidate | PSNR raw | log speed | PSNR at equal speed | LPIPS raw | LPIPS at equal speed "
          "| seeds 0-4 PSNR / ratio | 5-seed groups both >= |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref0 = (group_mean(reference, "psnr_static", groups[0]), group_mean(reference, "motion_ratio", groups[0]))
    print(f"| reference {args.reference} | | | | | | {ref0[0]:.2f} / {ref0[1]:.3f} | |")
    for spec in args.candidates:
        label, table = load_codes(spec)
        if sorted(table) != codes:
            raise SystemExit(f"{spec} does not hold the reference's codes")
        log_speed = {c: math.log(table[c]["motion_ratio"] / reference[c]["motion_ratio"]) for c in codes}
        cells = []
        for key in ("psnr_static", "lpips_real_best"):
            raw = paired([table[c][key] - reference[c][key] for c in codes])
            equal = paired([table[c][key] - reference[c][key] - slope(key, c) * log_speed[c] for c in codes])
            digits = 3 if key == "psnr_static" else 4
            cells.append(f"{raw[0]:+.{digits}f} ± {raw[1]:.{digits}f}")
            if key == "psnr_static":
                speed = paired(list(log_speed.values()))
                cells.append(f"{speed[0]:+.4f} ± {speed[1]:.4f}")
            cells.append(f"{equal[0]:+.{digits}f} ± {equal[1]:.{digits}f}")
        both = sum(group_mean(table, "psnr_static", g) >= group_mean(reference, "psnr_static", g) and
                   group_mean(table, "motion_ratio", g) >= group_mean(reference, "motion_ratio", g) for g in groups)
        first = (group_mean(table, "psnr_static", groups[0]), group_mean(table, "motion_ratio", groups[0]))
        print(f"| {label} | " + " | ".join(cells) + f" | {first[0]:.2f} / {first[1]:.3f} | {both} / {GROUPS} |")


if __name__ == "__main__":
    main()
