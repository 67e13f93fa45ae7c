"""Plot the loss curves of training runs from their ``log.csv`` files.

    python experiments/plot_training.py runs/motion_flow runs/appearance_v1 --out docs/loss_curves.png

One panel per logged column (loss terms, flow magnitude); a moving average over ``--smooth`` logged
rows, one line per run. Needs matplotlib (``pip install 'cinescape[eval]'``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def read_log(run: Path) -> dict[str, np.ndarray]:
    path = run / "log.csv" if run.is_dir() else run
    with open(path, newline="") as file:
        rows = [r for r in csv.DictReader(file) if r.get("step", "").isdigit()]
    columns = {key: np.array([float(r[key]) for r in rows]) for key in rows[0] if key not in ("seconds",)}
    order = np.argsort(columns["step"], kind="stable")  # a resumed run appends; keep steps in order
    return {key: values[order] for key, values in columns.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (or log.csv files)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--smooth", type=int, default=20, help="moving-average window, in logged rows")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = {str(run): read_log(run) for run in args.runs}
    keys = sorted({k for log in logs.values() for k in log if k != "step"})
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    window = np.ones(args.smooth) / args.smooth
    for axis, key in zip(axes.flat, keys):
        for name, log in logs.items():
            if key not in log or len(log[key]) < args.smooth:
                continue
            axis.plot(log["step"][args.smooth - 1:], np.convolve(log[key], window, mode="valid"), label=name)
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(keys):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
