"""Appearance checks of issue 4 on the held-out webcam (TILDE ``stlouis``, kept out of training).

1. Colour statistics: the first frame is the input photo. For every real frame k, the appearance
   code z_k is encoded from frame k and the input is re-coloured with it; the distance between the
   colour statistics (per-channel mean and standard deviation of RGB in [0, 1], Euclidean over the 6
   numbers) of the re-coloured input and frame k is compared with that of the input itself and frame k.
2. Smoothness: animations of the input (appearance only, motion speed 0, ``--seeds``) must have no
   frame-to-frame step (mean absolute difference) larger than 3x the median step.

    python experiments/check_appearance.py --model src/cinescape/default_model
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cinescape.io.image import image_to_tensor
from cinescape.io.video import read_frame_folder
from cinescape.ops import color_transfer
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline, working_shape

WEBCAM = Path(__file__).resolve().parents[2] / "shared" / "data" / "appearance" / "tilde_webcam" / "stlouis"


def colour_statistics(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) in [-1, 1] -> (6,) per-channel mean and std of RGB in [0, 1]."""
    rgb = (image[0].double() + 1) / 2
    return torch.cat((rgb.mean(dim=(1, 2)), rgb.std(dim=(1, 2))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--webcam", type=Path, default=WEBCAM)
    parser.add_argument("--size", type=int, default=256, help="short side the frames are compared at")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not args.webcam.is_dir():
        print(f"skipped: {args.webcam} not found (needs the project's shared data)")
        return 0
    torch.set_num_threads(args.threads)
    pipeline = CinemagraphPipeline.from_pretrained(args.model)
    model = pipeline.appearance
    frames = [image_to_tensor(f) for f in read_frame_folder(args.webcam)]
    size = working_shape(*frames[0].shape[-2:], args.size)
    frames = [F.interpolate(f, size=size, mode="bilinear", align_corners=False, antialias=True) for f in frames]
    source = frames[0]
    small = F.interpolate(source, size=working_shape(*size, pipeline.working_size), mode="bilinear",
                          align_corners=False, antialias=True)
    generated_d, input_d = [], []
    with torch.no_grad():
        for target in frames[1:]:
            z = model.encode(target)
            output = color_transfer(model.predict_maps(small, z).float(), source)
            real = colour_statistics(target)
            generated_d.append(float((colour_statistics(output) - real).norm()))
            input_d.append(float((colour_statistics(source) - real).norm()))
    generated_d, input_d = np.array(generated_d), np.array(input_d)
    print(f"webcam {args.webcam.name}: {len(frames)} frames, input = {len(frames) and 'frame 0'}, {size[1]}x{size[0]}")
    print(f"colour-statistics distance to real frame k, mean over k = 1..{len(frames) - 1}: "
          f"re-coloured input {generated_d.mean():.4f}, input as is {input_d.mean():.4f} "
          f"(closer on {int((generated_d < input_d).sum())}/{len(generated_d)} frames)")

    image = ((source[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    worst = 0.0
    for seed in args.seeds:
        settings = AnimationSettings(num_frames=args.frames, seed=seed, motion_speed=0.0, appearance=True)
        video = [f.astype(np.float32) for f in pipeline.plan(image, settings).frames()]
        steps = np.array([np.abs(b - a).mean() for a, b in zip(video, video[1:] + video[:1])])  # loop: last -> first
        ratio = steps.max() / max(np.median(steps), 1e-6)
        worst = max(worst, ratio)
        print(f"seed {seed}: frame-to-frame step median {np.median(steps):.3f}, max {steps.max():.3f} "
              f"(max/median {ratio:.2f})")
    print(f"worst max/median step over seeds: {worst:.2f} (target <= 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
