"""Is the shipped lighting approximator A under-trained? Train a copy of it further on CPU and watch held-out error.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/lighting_approximator_fit.py --seconds 240

A maps (w_a, z_dyn_b, c) to the mapping network's w for the dynamic latent moved a share c towards z_dyn_b (the
training phase ``lighting_step`` of :mod:`cinescape.methods.deeplandscape.train`, same loss: L1 + 0.1 (1 - cos)).
This continues the shipped A with Adam (lr 1e-3, batch 256) against the shipped generator's mapping network for
``--seconds`` and prints, every 2000 steps, the L1 and cosine of the change on 2048 held-out samples (seed 12345),
next to doing nothing (w = w_a). Nothing is saved: the shipped weights stay as they are.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from cinescape.methods.deeplandscape import DeepLandscapePipeline


def samples(generator, n: int, rng: torch.Generator):
    """(w_a, z_dyn_b, c, w_c) for ``n`` random scenes."""
    with torch.no_grad():
        z_static, z_a = generator.sample_latents(n, generator=rng)
        z_b, c = torch.randn(z_a.shape, generator=rng), torch.rand(n, generator=rng)
        w_a = generator.mapping(z_static, z_a)
        w_c = generator.mapping(z_static, z_a * (1 - c).sqrt()[:, None] + z_b * c.sqrt()[:, None])
    return w_a, z_b, c, w_c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = DeepLandscapePipeline.from_pretrained().generator
    lighting = copy.deepcopy(DeepLandscapePipeline.from_pretrained().lighting).train().requires_grad_(True)
    optimizer = torch.optim.Adam(lighting.parameters(), lr=1e-3)
    held_out = samples(generator, 2048, torch.Generator().manual_seed(12345))

    def measure() -> str:
        w_a, z_b, c, w_c = held_out
        with torch.no_grad():
            w = lighting(w_a, z_b, c)
        cosine = F.cosine_similarity(w_c - w_a, w - w_a, dim=1).mean().item()
        error, unchanged = (w - w_c).abs().mean().item(), (w_a - w_c).abs().mean().item()
        return f"L1 {error:.4f} (no change: {unchanged:.4f}), cos {cosine:.3f}"

    print(f"shipped A: {measure()}", flush=True)
    rng, started, step = torch.Generator().manual_seed(1), time.perf_counter(), 0
    while time.perf_counter() - started < args.seconds:
        w_a, z_b, c, w_c = samples(generator, 256, rng)
        w = lighting(w_a, z_b, c)
        loss = (w - w_c).abs().mean() + 0.1 * (1 - F.cosine_similarity(w_c - w_a, w - w_a, dim=1)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % 2000 == 0:
            print(f"step {step} ({time.perf_counter() - started:.0f} s): {measure()}", flush=True)
    print(f"after {step} steps: {measure()}")


if __name__ == "__main__":
    main()
