"""The report of ``cinescape evaluate`` on clips (:mod:`cinescape.eval.evaluate`): the metric table (key, label,
which way is better, format, description), and ``metrics.json``, ``metrics.md``, ``metrics.csv`` and
``plots/*.png``."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..models.base import atomic_write_bytes
from .report import MetricInfo, _clean, prepare_out

__all__ = ["METRICS", "PER_FRAME", "BEST_OF", "SET_LEVEL", "format_table", "write_report"]

#: Every reported figure: key -> how to show it. Order = column order of the tables.
METRICS: dict[str, MetricInfo] = {
    "psnr_static": MetricInfo("Masked PSNR", "higher", "{:.2f}",
                              "PSNR (dB, capped at 100) of frame n vs the input on the pixels the real clip keeps "
                              "still (FGLA Eq. 14 mask, t = 2.5)"),
    "ssim_static": MetricInfo("Masked SSIM", "higher", "{:.4f}", "SSIM of frame n vs the input on the same still pixels"),
    "lpips_input": MetricInfo("LPIPS(I0)", "lower", "{:.4f}", "LPIPS (SqueezeNet) of frame n vs the input (FGLA)"),
    "lpips_real": MetricInfo("LPIPS(In)", "lower", "{:.4f}",
                             "LPIPS of frame n vs real frame n, mean over samples (AL Fig. 10)"),
    "lpips_real_best": MetricInfo("LPIPS(In) best", "lower", "{:.4f}", "the same, best sample of each clip"),
    "rmse_real": MetricInfo("RMSE(In)", "lower", "{:.4f}",
                            "RMSE (intensities in [0, 1]) of frame n vs real frame n, mean over samples (AL Fig. 10)"),
    "rmse_real_best": MetricInfo("RMSE(In) best", "lower", "{:.4f}", "the same, best sample of each clip"),
    "motion_ratio": MetricInfo("Motion ratio", "1", "{:.3f}",
                               "mean DIS optical-flow magnitude of the generated vs the real video on the real "
                               "clip's moving pixels (0 = still; guards against winning by not animating)"),
    "ssim_dl": MetricInfo("DL SSIM", "higher", "{:.4f}",
                          "SSIM of frame n vs the input with sky/water masked out (DeepLandscape)"),
    "lpips_dl": MetricInfo("DL LPIPS", "lower", "{:.4f}",
                           "LPIPS of frame n vs the input with sky/water masked out (DeepLandscape)"),
    "seam_ratio": MetricInfo("Seam ratio", "1", "{:.2f}",
                             "last->first frame difference over the mean consecutive difference (1 = seamless)"),
    "epe": MetricInfo("EPE", "lower", "{:.3f}",
                      "flow end-point error (px) vs the exact flow, mean over samples (synthetic clips only)"),
    "epe_best": MetricInfo("EPE best", "lower", "{:.3f}", "the same, best sample of each clip"),
    "fid_squeezenet": MetricInfo("FID-SqueezeNet", "lower", "{:.2f}",
                                 "Fréchet distance of SqueezeNet-1.1 pooled fire9 features (512-d), real first "
                                 "frames vs generated frame n (DeepLandscape protocol); NOT FID"),
    "fid": MetricInfo("FID", "lower", "{:.2f}", "FID (Inception-v3 pool3), real first frames vs generated frame n"),
    "fvd": MetricInfo("FVD", "lower", "{:.1f}", "Fréchet video distance (I3D logits), real vs generated videos"),
    "inversion_psnr": MetricInfo("Inversion PSNR", "higher", "{:.2f}",
                                 "PSNR (dB) of the GAN inversion's reconstruction vs frame 0 resized to the "
                                 "generator's resolution (DeepLandscape)"),
    "inversion_lpips": MetricInfo("Inversion LPIPS", "lower", "{:.4f}", "LPIPS-SqueezeNet of the same pair "
                                  "(DeepLandscape)"),
}
# Per-frame curves (plotted); the rest are one figure per video or per set.
PER_FRAME = ("psnr_static", "ssim_static", "lpips_input", "lpips_real", "rmse_real", "ssim_dl", "lpips_dl", "epe")
BEST_OF = {"lpips_real_best": "lpips_real", "rmse_real_best": "rmse_real", "epe_best": "epe"}
SET_LEVEL = ("fid_squeezenet", "fid", "fvd")


def _fmt(key: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return METRICS[key].fmt.format(value)


def _columns(report: dict) -> list[str]:
    """Metrics with at least one value (an unavailable network or EPE without synthetic clips drops out)."""
    keep = []
    for key in METRICS:
        values = [m["summary"].get(key) for m in report["methods"].values()]
        if any(v is not None and (not isinstance(v, float) or math.isfinite(v)) for v in values):
            keep.append(key)
    return keep


def format_table(report: dict) -> str:
    """The method × metric table as Markdown (arrows: ↑ higher is better, ↓ lower, →1 closest to 1)."""
    arrows = {"higher": "↑", "lower": "↓", "1": "→1"}
    columns = _columns(report)
    lines = ["| Method | " + " | ".join(f"{METRICS[k].label} {arrows[METRICS[k].better]}" for k in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name, entry in report["methods"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(k, entry["summary"].get(k)) for k in columns) + " |")
    return "\n".join(lines)


def _markdown(report: dict) -> str:
    s = report["settings"]
    shape = f"short side {s['size']}" if s["keep_aspect"] else f"{s['size']}×{s['size']} centre crop"
    lines = ["# cinescape evaluation", ""]
    if report.get("command"):
        lines += ["```", report["command"], "```", ""]
    sources = [s["data"]] if s["data"] else []
    sources += [f"{s['synthetic']} synthetic"] if s["synthetic"] else []
    seeds = f"seeds {s['seed']}..{s['seed'] + s['samples'] - 1}"
    protocol = (f"{len(report['clips'])} clips ({' + '.join(sources)}), {s['frames']} frames each, compared at "
                f"{shape}; {s['samples']} samples ({seeds}) per stochastic method; models: loop {s['loop']}, "
                f"motion {s.get('mode') or _default_mode() + ' (the default)'}, "
                f"appearance {'on' if s['appearance'] else 'off'}. Figures average frames 1..N-1 (frame 0 is the "
                "input), then samples and clips.")
    lines += [protocol, "", format_table(report), "", "| Metric | What it measures |", "|---|---|"]
    for key in _columns(report):
        lines.append(f"| {METRICS[key].label} | {METRICS[key].description} |")
    lines += ["", "Feature networks:", ""]
    lines += [f"- {key}: {text}" for key, text in report["networks"].items()]
    if report["notes"]:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report["notes"]]
    lines += ["", ("Static consistency (PSNR, SSIM, LPIPS(I0), DL) and the Fréchet distances to the first frames are "
                   "won by not animating at all (`static`); read them together with the motion ratio. Fréchet distances need hundreds of clips to be stable; "
                   "on a few clips they only rank methods roughly.")]
    return "\n".join(lines) + "\n"


def _default_mode() -> str:
    from ..methods.al.pipeline import AnimationSettings

    return AnimationSettings().mode


def _csv(report: dict) -> str:
    keys = list(METRICS) + ["moving_fraction", "seam_ratio_real"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "clip"] + keys)
    for name, entry in report["methods"].items():
        for clip, figures in entry["clips"].items():
            writer.writerow([name, clip] + ["" if figures.get(k) is None else f"{figures[k]:.6g}" for k in keys])
        summary = entry["summary"]
        writer.writerow([name, "ALL"] + ["" if summary.get(k) is None else f"{summary[k]:.6g}" for k in keys])
    return buffer.getvalue()


def _plots(report: dict, folder: Path) -> list[Path]:
    """Per-frame curves, one PNG per metric with a line per method (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report["notes"].append("no per-frame plots: matplotlib is not installed (pip install 'cinescape[eval]')")
        return []
    written = []
    for key in PER_FRAME + ("fid_squeezenet", "fid"):
        series = {name: entry["per_frame"][key] for name, entry in report["methods"].items()
                  if key in entry["per_frame"]}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
        for name, values in series.items():
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
            ax.plot(np.arange(1, len(values)), values[1:], marker=".", label=name)
        info = METRICS[key]
        ax.set_xlabel("frame n")
        ax.set_ylabel(f"{info.label} ({'higher' if info.better == 'higher' else 'lower'} is better)")
        ax.set_title(info.label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        path = folder / "plots" / f"{key}.png"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def write_report(report: dict, out: str | Path) -> list[Path]:
    """Write ``metrics.json``, ``metrics.md``, ``metrics.csv`` and ``plots/*.png`` into ``out``."""
    folder = prepare_out(out)
    report = _clean(report)
    plots = _plots(report, folder)
    files = [folder / "metrics.json", folder / "metrics.md", folder / "metrics.csv"]
    atomic_write_bytes(files[0], (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode())
    atomic_write_bytes(files[1], _markdown(report).encode())
    atomic_write_bytes(files[2], _csv(report).encode())
    return files + plots
