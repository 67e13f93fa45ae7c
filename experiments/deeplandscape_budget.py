"""DeepLandscape inversion budget: reconstruction quality along the fine-tuning, for several step budgets and
learning-rate schedules, on a few shared photos.

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python experiments/deeplandscape_budget.py \
        --only c3d_demo1 scg_lhq_0000008 --variants "" "finetune_steps=150,finetune_lr=0.04,finetune_lr_final=0.05"

Each variant (DeepLandscape settings other than the defaults, as ``--settings`` of
``benchmarks/deeplandscape_photos.py``) inverts each photo resized to ``--width``; every ``--every`` fine-tuning
steps and at the last one the reconstruction's PSNR / LPIPS against the target (the figures of the benchmark) are
recorded with the process CPU time spent so far (CPU time, not wall time: it moves little with the other jobs of a
shared machine). The fluid matte is computed once per photo. Prints one line per checkpoint and a table of the
final figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cinescape.eval.metrics import LPIPS, inversion_quality
from cinescape.eval.photo_methods import parse_method_spec
from cinescape.eval.photos import find_photos, resize_to_width
from cinescape.methods.deeplandscape import DeepLandscapePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--variants", nargs="+", default=[""], metavar="KEY=VALUE,...")
    parser.add_argument("--out", default=None, help="write the records here as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = DeepLandscapePipeline.from_pretrained()
    lpips = LPIPS()
    records = []
    for entry in find_photos(args.photos):
        if args.only and entry.name not in args.only:
            continue
        photo = resize_to_width(entry.load()[0], args.width)
        matte = pipe.fluid_matte(photo)
        for variant in args.variants:
            settings = pipe.settings(**(parse_method_spec(f"deeplandscape:{variant}").overrides if variant else {}))
            started = time.process_time()
            checkpoints = []

            def probe(step, generator, ws, static, dynamic, settings=settings, started=started,
                      checkpoints=checkpoints):
                if step % args.every and step != settings.finetune_steps:
                    return
                cpu = time.process_time() - started
                with torch.no_grad():
                    reconstruction = generator.synthesis(ws, static, dynamic)
                quality = inversion_quality(reconstruction, target[0], lpips)
                checkpoints.append({"step": step, "cpu_s": cpu, "psnr": quality["inversion_psnr"],
                                    "lpips": quality["inversion_lpips"]})
                print(json.dumps({"photo": entry.name, "variant": variant, **checkpoints[-1]}), flush=True)

            target = [None]
            inversion = _invert_with_target(pipe, photo, settings, matte, probe, target)
            records.append({"photo": entry.name, "variant": variant, "checkpoints": checkpoints,
                            "cpu_s": time.process_time() - started, "losses": inversion.losses})
    if args.out:
        Path(args.out).write_text(json.dumps(records, indent=2) + "\n")
    print("\n| variant | photos | PSNR dB | LPIPS | CPU s per photo |\n|---|---|---|---|---|")
    for variant in args.variants:
        rows = [r for r in records if r["variant"] == variant]
        final = [r["checkpoints"][-1] for r in rows if r["checkpoints"]]
        print(f"| `{variant or 'defaults'}` | {len(rows)} | {np.mean([c['psnr'] for c in final]):.2f} | "
              f"{np.mean([c['lpips'] for c in final]):.4f} | {np.mean([r['cpu_s'] for r in rows]):.1f} |")


def _invert_with_target(pipe, photo, settings, matte, probe, target_box):
    """``pipe.invert`` with the probe, which needs the inversion target before the inversion returns: it is the
    photo area-resized to the generator's R×R in [-1, 1], computed here the same way."""
    import cv2

    from cinescape.methods.deeplandscape.pipeline import _to_tensor

    r = pipe.generator.config.resolution
    target_box[0] = _to_tensor(cv2.resize(photo, (r, r), interpolation=cv2.INTER_AREA))
    return pipe.invert(photo, settings, matte, probe=probe)


if __name__ == "__main__":
    main()
