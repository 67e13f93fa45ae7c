"""CPU time of one DeepLandscape optimisation step and of the render's generator call, for A/B runs of two
checkouts (issue 29): the fine-tuning step with the blocks from 64 px (after the coarse blocks freeze) and from
16 px (the coarse phase), the latent step (W and the noise maps through the whole generator), and the render's
8-frame generator call per frame.

    CINESCAPE_WEIGHTS=../shared/weights PYTHONPATH=src python experiments/deeplandscape_step_cpu.py [--steps 15]

Medians of process CPU time at one torch thread, on the procedural bench photo and the shipped generator, the
loss as the inversion's (L1 + 0.3 LPIPS against cached target features; the latent step's W prior too) with the
project's Adam. A checkout without ``upsampled_state`` (before s7-dl) runs the cached state as it did. Run
against another checkout with ``PYTHONPATH=<checkout>/src``, alternating: CPU time moves less than wall time with
the other jobs of a shared machine, but it still moves.
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
from cinescape.methods.deeplandscape.adam import Adam
from cinescape.methods.deeplandscape.pipeline import _to_tensor


def cpu_of(step) -> float:
    started = time.process_time()
    step()
    return time.process_time() - started


def median_cpu(step, repeats: int) -> float:
    """Median CPU seconds of ``step`` over ``repeats`` calls, after two untimed ones (allocator and caches warm)."""
    cpu_of(step), cpu_of(step)
    return statistics.median(cpu_of(step) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per figure (medians)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = DeepLandscapePipeline.from_pretrained()
    lpips = pipe._perceptual("lpips")
    base = pipe.generator
    r = base.config.resolution
    target = _to_tensor(cv2.resize(generate_landscape_photo(576, 1024, seed=3), (r, r), interpolation=cv2.INTER_AREA))
    with torch.no_grad():
        w_start = pipe.encoder(target)
        target_features = lpips.features((target + 1) * 127.5)
    generator_noise = torch.Generator().manual_seed(0)
    noise = [torch.randn(1, 1, s, s, generator=generator_noise) * 0.1 for s in base.config.resolutions]
    cached_upsampled = hasattr(base, "upsampled_state")

    def loss_of(image: torch.Tensor) -> torch.Tensor:
        return (image - target).abs().mean() + 0.3 * lpips.distance(lpips.features((image + 1) * 127.5),
                                                                    target_features).mean()

    figures = []
    for resolution in (64, 16):
        generator = copy.deepcopy(base)
        first = generator.config.resolutions.index(resolution)
        with torch.no_grad():
            cached = generator.run_blocks(w_start, noise, noise, stop=first)
            if cached_upsampled:
                cached = generator.upsampled_state(cached, first)
        tuned = [p for block in generator.blocks[first:] for p in block.parameters()]
        for p in tuned:
            p.requires_grad_(True)
        optimiser = Adam(tuned, lr=0.02)
        extra = {"upsampled": True} if cached_upsampled else {}

        def fine_step():
            loss = loss_of(generator.run_blocks(w_start, noise, noise, start=first, state=cached, **extra)[1])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

        figures.append(f"fine-tuning step from {resolution} px {1e3 * median_cpu(fine_step, args.steps):.1f} ms")

    ws = w_start.clone().requires_grad_(True)
    masks = [torch.rand(1, 1, s, s, generator=generator_noise) for s in base.config.resolutions]
    static = [torch.zeros(1, 1, s, s, requires_grad=True) for s in base.config.resolutions]
    dynamic = [torch.zeros(1, 1, s, s, requires_grad=True) for s in base.config.resolutions]
    optimiser = Adam([{"params": [ws], "lr": 0.1}, {"params": static + dynamic, "lr": 0.5}])

    def latent_step():
        s_st = [s * (1 - m) for s, m in zip(static, masks)]
        s_dyn = [d * m for d, m in zip(dynamic, masks)]
        loss = loss_of(base.synthesis(ws, s_st, s_dyn)) + 0.01 * (ws - w_start).pow(2).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    figures.append(f"latent step {1e3 * median_cpu(latent_step, args.steps):.1f} ms")
    frames = [torch.randn(8, 1, s, s, generator=generator_noise) for s in base.config.resolutions]

    def render_call():
        with torch.no_grad():
            base.synthesis(w_start, noise, frames)

    figures.append(f"render generator {1e3 * median_cpu(render_call, max(3, args.steps // 4)) / 8:.1f} ms/frame")
    print(" | ".join(figures))


if __name__ == "__main__":
    main()
