"""Did a change move DeepLandscape's pixels? A loop's frames saved by one checkout, compared with another's (issue 29).

    PYTHONPATH=../before/src CINESCAPE_WEIGHTS=../shared/weights python experiments/deeplandscape_same_frames.py \
        save /tmp/before.npz ../shared/data/photos/scg_lhq_0000008.png --frames 12 --latent-steps 2 --finetune-steps 4
    PYTHONPATH=src CINESCAPE_WEIGHTS=../shared/weights python experiments/deeplandscape_same_frames.py \
        save /tmp/after.npz ../shared/data/photos/scg_lhq_0000008.png --frames 12 --latent-steps 2 --finetune-steps 4
    python experiments/deeplandscape_same_frames.py compare /tmp/before.npz /tmp/after.npz

``save`` plans the photo at its own size (seed 0, one torch thread, the budget given: a small one is enough to
compare renderers, the inversion being deterministic) and stores every frame, uint8; ``compare`` prints the worst
frame's PSNR, the PSNR over all frames, the largest per-pixel difference and the share of differing pixels.
"""

from __future__ import annotations

import argparse

import numpy as np


def save(out: str, photo: str, frames: int, latent_steps: int, finetune_steps: int) -> None:
    import torch

    from cinescape.io import load_image
    from cinescape.methods.deeplandscape import DeepLandscapePipeline

    torch.set_num_threads(1)
    pipe = DeepLandscapePipeline.from_pretrained()
    animation = pipe.plan(load_image(photo), num_frames=frames, latent_steps=latent_steps,
                          finetune_steps=finetune_steps)
    np.savez(out, frames=np.stack(list(animation.frames())))


def compare(before: str, after: str) -> None:
    a = np.load(before)["frames"].astype(np.float64)
    b = np.load(after)["frames"].astype(np.float64)
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    difference = np.abs(a - b)

    def psnr(value: float) -> float:
        return 10 * np.log10(255 ** 2 / max(value, 1e-12))

    print(f"{len(a)} frames: worst frame PSNR {psnr(mse.max()):.1f} dB, all {psnr(mse.mean()):.1f} dB; largest "
          f"difference {difference.max():.0f} levels, {(difference > 0).mean() * 100:.4f} % of pixels differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    saving = sub.add_parser("save")
    saving.add_argument("out")
    saving.add_argument("photo")
    saving.add_argument("--frames", type=int, default=12)
    saving.add_argument("--latent-steps", type=int, default=2)
    saving.add_argument("--finetune-steps", type=int, default=4)
    comparing = sub.add_parser("compare")
    comparing.add_argument("before")
    comparing.add_argument("after")
    args = parser.parse_args()
    if args.command == "save":
        save(args.out, args.photo, args.frames, args.latent_steps, args.finetune_steps)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    main()
