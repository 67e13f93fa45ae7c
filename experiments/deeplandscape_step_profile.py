"""Where a DeepLandscape fine-tuning step's time goes, and what bf16 autocast does to it on this CPU.

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python experiments/deeplandscape_step_profile.py \
        [--threads 1] [--steps 5] [--modes fp32 bf16 l1] [--profile] [--finetune-from 64]

One fine-tuning step of the shipped generator (the blocks from 16 px on, as the inversion runs them, on the
procedural bench photo; ``--finetune-from 64``: the last two blocks, a step once the coarse blocks are frozen):
forward, L1 + LPIPS-SqueezeNet against cached target features, backward, Adam. Prints the
median process CPU time per step of each mode (``fp32``; ``bf16``: the forward under ``torch.autocast("cpu",
torch.bfloat16)``; ``l1``: fp32 without LPIPS), the CPU time of one generator forward and one LPIPS forward, and
with ``--profile`` the torch profiler's table of a few fp32 steps. CPU time, not wall time: on a machine shared
with other jobs it moves far less.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import cv2
import torch

from cinescape.data.synthetic import generate_landscape_photo
from cinescape.methods.deeplandscape import DeepLandscapePipeline
from cinescape.methods.deeplandscape.pipeline import _to_tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["fp32", "bf16", "l1"], choices=["fp32", "bf16", "l1"])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--finetune-from", type=int, default=16, help="first fine-tuned block's resolution")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = DeepLandscapePipeline.from_pretrained()
    lpips = pipe._perceptual("lpips")
    generator = copy.deepcopy(pipe.generator)
    r = generator.config.resolution
    target = _to_tensor(cv2.resize(generate_landscape_photo(576, 1024, seed=3), (r, r), interpolation=cv2.INTER_AREA))
    with torch.no_grad():
        ws = pipe.encoder(target)
    zeros = [torch.zeros(1, 1, s, s) for s in generator.config.resolutions]
    first = generator.config.resolutions.index(args.finetune_from)
    with torch.no_grad():
        cached = generator.run_blocks(ws, zeros, zeros, stop=first)
        target_features = lpips.features((target + 1) * 127.5)
    tuned = [p for block in generator.blocks[first:] for p in block.parameters()]
    for p in tuned:
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(tuned, lr=0.02)

    def step(mode: str) -> float:
        started = time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
            image = generator.run_blocks(ws, zeros, zeros, start=first, state=cached)[1].float()
            loss = (image - target).abs().mean()
            if mode != "l1":
                loss = loss + lpips.distance(lpips.features((image + 1) * 127.5), target_features).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return time.process_time() - started

    for mode in args.modes:
        step(mode)   # warm-up
        print(f"{mode}: {statistics.median(step(mode) for _ in range(args.steps)):.3f} CPU s per step", flush=True)
    with torch.no_grad():
        started = time.process_time()
        image = generator.run_blocks(ws, zeros, zeros, start=first, state=cached)[1]
        middle = time.process_time()
        lpips.features((image + 1) * 127.5)
        print(f"generator forward {middle - started:.3f} CPU s, LPIPS forward {time.process_time() - middle:.3f} CPU s")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                step("fp32")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
