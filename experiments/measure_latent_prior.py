"""Can motion codes be drawn from N(0, I) instead of the codebook? (issue 5 item 7: VAE/WAE, AL Sec. 6.6)

Purpose: a model trained with ``--latent-prior wae`` (or ``vae``) should (a) have codebook codes that look like
samples of N(0, I), and (b) animate photos as well with codes drawn from N(0, I) as with codebook codes, while
a model trained without a prior, given Gaussian codes, is off its training distribution.

Method, for the prior model (``--model``, a ``cinescape train motion`` output folder; its appearance half and
settings come from the shipped default model) and the shipped default model (no prior):

1. Codebook: squared MMD to N(0, I) (``cinescape.ops.mmd_to_standard_normal``, 4096 prior samples, seed 0),
   the mean |per-dimension mean| and mean per-dimension standard deviation of the motion codes.
2. Photos: each photo of ``../shared/data/photos`` with a hand-made fluid mask, resized to 512 px width,
   animated with the default settings (its ``sky+water`` auto-mask included), recurrent motion, no appearance,
   ``--frames`` frames, for seeds 0..``--seeds``-1 with a random codebook code and with a code drawn from
   N(0, I). Measured on the frame-to-frame flow (px/frame of the 512 px image): mean magnitude inside and outside
   the fluid mask, the share of (photo, seed) runs moving at least 0.3 px/frame inside, and the spread of
   directions: the resultant length R of the unit mean-flow directions of all runs (1: all the same way,
   0: spread evenly).

Expected: for the prior model, Gaussian codes move the fluid about as much as codebook codes; for the default
model, Gaussian codes (about 6x larger than its codes) give a different speed.

Command (about 5 minutes):

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_latent_prior.py --model runs/motion_wae/model
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from select_motion import PHOTOS, masked_photos  # noqa: E402

from cinescape.methods.al.codebook import Codebook  # noqa: E402
from cinescape.methods.al.motion import MotionModel  # noqa: E402
from cinescape.ops import mmd_to_standard_normal, resize_flow  # noqa: E402
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline  # noqa: E402


def with_motion_of(folder: str) -> CinemagraphPipeline:
    """The shipped pipeline with the motion model and motion codebook of ``folder``."""
    base = CinemagraphPipeline.from_pretrained()
    codebook = Codebook.load(folder)
    return CinemagraphPipeline(MotionModel.from_pretrained(folder), base.appearance,
                               Codebook(motion=codebook.motion, motion_names=codebook.motion_names,
                                        appearance=base.codebook.appearance,
                                        appearance_names=base.codebook.appearance_names),
                               working_size=base.working_size, defaults=base.defaults)


def codebook_stats(codes: torch.Tensor) -> dict:
    prior = torch.randn(4096, codes.shape[1], generator=torch.Generator().manual_seed(0))
    return {"mmd2": mmd_to_standard_normal(codes, prior).item(), "abs_mean": codes.mean(0).abs().mean().item(),
            "std": codes.std(0).mean().item()}


def photo_stats(pipeline: CinemagraphPipeline, photos, seeds: int, frames: int, gaussian: bool) -> dict:
    if gaussian and pipeline.motion.prior == "none":
        # Force N(0, I) codes on a model without a prior (the pipeline refuses them), to show why it needs one.
        def draw(settings, rng):
            return torch.randn(pipeline.motion.latent_dim, generator=torch.Generator().manual_seed(rng.getrandbits(63)))
        pipeline.motion_code = draw
    inside, outside, directions = [], [], []
    for _, image, mask in photos:
        height, width = image.shape[:2]
        for seed in range(seeds):
            settings = AnimationSettings(num_frames=frames, seed=seed, appearance=False, loop="none",
                                         motion_code="gaussian" if gaussian else None)
            animation = pipeline.plan(image, settings)
            flows = resize_flow(animation.steps[1:], (height, width))
            pixels = (flows * torch.tensor([width / 2, height / 2]).view(1, 2, 1, 1)).mean(0)  # (2, H, W)
            magnitude = pixels.norm(dim=0).numpy()
            inside.append(float(magnitude[mask].mean()))
            outside.append(float(magnitude[~mask].mean()))
            mean_vector = pixels[:, torch.from_numpy(mask)].mean(1).numpy()
            directions.append(mean_vector / max(np.linalg.norm(mean_vector), 1e-9))
    pipeline.__dict__.pop("motion_code", None)
    return {"inside": float(np.mean(inside)), "outside": float(np.mean(outside)),
            "moving": float(np.mean(np.array(inside) >= 0.3)),
            "resultant": float(np.linalg.norm(np.mean(directions, axis=0))), "runs": len(inside)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="folder of a motion model trained with --latent-prior")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not PHOTOS.is_dir():
        sys.exit(f"skipped: {PHOTOS} not found (the project's shared data)")
    photos = masked_photos(PHOTOS, 512)
    models = {f"{args.model} (prior {MotionModel.from_pretrained(args.model).prior})": with_motion_of(args.model),
              "shipped default (no prior)": CinemagraphPipeline.from_pretrained()}

    print("| model | codebook MMD² to N(0, I) | mean \\|code mean\\| | mean code std |")
    print("|---|---:|---:|---:|")
    for name, pipeline in models.items():
        stats = codebook_stats(pipeline.codebook.motion)
        print(f"| {name} | {stats['mmd2']:.3f} | {stats['abs_mean']:.3f} | {stats['std']:.3f} |")
    print()
    print("| model | codes | inside \\|flow\\| | outside \\|flow\\| | runs moving ≥ 0.3 inside | direction resultant R |")
    print("|---|---|---:|---:|---:|---:|")
    for name, pipeline in models.items():
        for gaussian in (False, True):
            stats = photo_stats(pipeline, photos, args.seeds, args.frames, gaussian)
            print(f"| {name} | {'N(0, I)' if gaussian else 'codebook'} | {stats['inside']:.3f} | "
                  f"{stats['outside']:.3f} | {stats['moving']:.2f} | {stats['resultant']:.2f} |", flush=True)
    print(f"\n{len(photos)} masked photos at 512 px width, seeds 0-{args.seeds - 1}, {args.frames} frames, recurrent, "
          f"default auto-mask; px/frame")


if __name__ == "__main__":
    started = time.perf_counter()
    random.seed(0)
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
