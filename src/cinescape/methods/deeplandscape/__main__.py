"""Animate one photo with DeepLandscape (until the lead wires ``cinescape animate --method deeplandscape``).

    python -m cinescape.methods.deeplandscape photo.jpg -o loop.mp4 [--frames 60] [--fps 20] [--model FOLDER]

Prints the timing of the inversion and of the rendering; bad input gives one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from ...errors import CinescapeError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cinescape.methods.deeplandscape", description=__doc__.split("\n\n")[0])
    parser.add_argument("photo")
    parser.add_argument("-o", "--output", required=True, help="video file (.mp4, .gif, ...) or frame folder")
    parser.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent-steps", type=int, default=None)
    parser.add_argument("--finetune-steps", type=int, default=None)
    parser.add_argument("--direction", type=float, default=None, help="sky motion direction in degrees (0 right, 270 up)")
    parser.add_argument("--speed", type=float, default=None, help="generator pixels per frame")
    parser.add_argument("--lighting", type=float, default=None, help="lighting change strength in [0, 1]")
    parser.add_argument("--no-mask", action="store_true", help="no sky/water segmentation (the paper's EOIF variant)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    per_call = {k: v for k, v in dict(num_frames=args.frames, seed=args.seed, latent_steps=args.latent_steps,
                                      finetune_steps=args.finetune_steps, direction=args.direction, speed=args.speed,
                                      lighting=args.lighting, threads=args.threads).items() if v is not None}
    if args.no_mask:
        per_call["use_mask"] = False
    try:
        from ...io import write_video
        from .pipeline import DeepLandscapePipeline

        start = time.time()
        pipe = DeepLandscapePipeline.from_pretrained(args.model)
        animation = pipe.plan(args.photo, **per_call)
        planned = time.time()
        count = write_video(animation.frames(), args.output, fps=args.fps, overwrite=args.overwrite)
    except (CinescapeError, ValueError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    print(f"wrote {count} frames to {args.output}: inversion {planned - start:.1f} s, rendering "
          f"{time.time() - planned:.1f} s ({animation.inversion.perceptual} fine-tuning)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
