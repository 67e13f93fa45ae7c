"""Measure how far each training source moves per frame, to choose its temporal stride.

For every clip under the given paths, decoded at the training short side (160 px) and stride 1, this
prints the 90th percentile of the OpenCV DIS flow magnitude per frame pair (the moving part: clouds,
water) and the mean frame difference. The stride that brings a source's motion per training pair to
a target of a few pixels is ``ceil(target / p90)``.

    python experiments/measure_motion.py ../shared/data/motion --target 2.0
"""

from __future__ import annotations

import argparse
import math

import torch

from cinescape.data.clips import load_clip, mean_pair_difference
from cinescape.ops.optical_flow import backward_flow_dis
from cinescape.data.clips import discover_clips
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--short-side", type=int, default=160)
    parser.add_argument("--target", type=float, default=2.0, help="wanted p90 motion per training pair, pixels")
    parser.add_argument("--max-frames", type=int, default=120)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'clip':60s} {'frames':>6s} {'p90 px/frame':>12s} {'mean diff':>9s} {'stride':>6s}")
    for root in args.paths:
        for path in discover_clips(Path(root)):
            clip = load_clip(path, short_side=args.short_side, max_frames=args.max_frames)
            flows = backward_flow_dis(clip.frames.permute(0, 2, 3, 1).numpy())
            magnitude = flows.norm(dim=1)
            p90 = torch.quantile(magnitude.flatten(1)[:, ::7], 0.9, dim=1).median().item()
            stride = max(1, math.ceil(args.target / max(p90, 1e-3)))
            print(f"{str(path):60s} {len(clip):6d} {p90:12.2f} {mean_pair_difference(clip).median().item():9.4f} "
                  f"{stride:6d}")


if __name__ == "__main__":
    main()
