"""Do arrows steer the motion? Arrows pointing left, then right, across the sky of a photo (issue 5).

For each arrow direction, arrow mode (``latent``: AL Eq. 12's optimised motion code; ``direct``: the arrows'
interpolated field) and motion mask (``sky``: the U²-Net-p sky matte, ``--auto-mask sky``; ``hand``: a hand-made
mask; ``none``), the photo is planned with ``loop="none"`` and the per-frame flows are read at working size and
converted to pixels per frame of the photo as given (``--width``). Reported:

* ``sky x``: the mean x velocity of the *content* (the negated backward flow) in the sky region (sky matte > 0.5,
  or the hand mask > 0.5 when ncnn or the matte's weights are missing), averaged over the frames; the arrows ask
  for -speed (left) or +speed (right);
* ``sky sign ok``: the fraction of sky pixels whose content x velocity has the arrows' sign;
* ``frozen``: mean flow magnitude where the motion mask is below 0.5 (for ``none``: outside the sky region), and
  its maximum, which sits at the mask's feathered edge; ``frozen interior max``: the maximum more than 3
  working-size pixels from the moving region. The target is <= 0.05 px/frame.

    python experiments/measure_arrows.py --threads 1                      # the shipped model
    python experiments/measure_arrows.py --model runs/motion/model --threads 1
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"   # the sky matte's, if not set elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--photo", default=str(SHARED / "scg_lhq_0000008.png"))
    parser.add_argument("--hand-mask", default=str(SHARED / "masks" / "scg_lhq_0000008.png"))
    parser.add_argument("--width", type=int, default=512, help="resize the photo to this width (default 512)")
    parser.add_argument("--speed", type=float, default=1.0, help="arrow length = speed, px/frame at --width (default 1)")
    parser.add_argument("--frames", type=int, default=8, help="frames planned per run (default 8)")
    parser.add_argument("--steps", type=int, default=100, help="Adam steps of the latent mode (default 100)")
    parser.add_argument("--masks", nargs="+", default=["sky", "hand", "none"], choices=["sky", "hand", "none"])
    parser.add_argument("--modes", nargs="+", default=["latent", "direct"], choices=["latent", "direct"])
    parser.add_argument("--mode", default="recurrent", choices=["recurrent", "eulerian"], help="motion mode")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if WEIGHTS.is_dir():
        os.environ.setdefault("CINESCAPE_WEIGHTS", str(WEIGHTS))

    import torch.nn.functional as F

    from cinescape.ops import flow_normalized_to_pixels
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    pipe = CinemagraphPipeline.from_pretrained(args.model)
    image = Image.open(args.photo).convert("RGB")
    height = round(image.height * args.width / image.width)
    photo = np.asarray(image.resize((args.width, height), Image.LANCZOS))
    hand = np.asarray(Image.open(args.hand_mask).convert("L").resize((args.width, height), Image.BILINEAR),
                      np.float32) / 255

    sky = None
    try:
        from cinescape.segmentation import sky_mask

        sky = sky_mask(photo)
    except Exception as exc:  # no ncnn or no matte weights: the hand mask is the sky region
        print(f"(no sky matte: {str(exc).splitlines()[0]}; the hand mask is the measured region)")
        args.masks = [m for m in args.masks if m != "sky"]

    # arrows across the sky: three rows in the top quarter, at the photo's size
    rows = [0.06, 0.12, 0.2]
    starts = [(0.3, rows[0]), (0.6, rows[1]), (0.8, rows[2])]

    def arrows(sign: float) -> list[dict]:
        return [{"from": [x * args.width, y * height], "to": [x * args.width + sign * args.speed, y * height]}
                for x, y in starts]

    print(f"photo {Path(args.photo).name} at {args.width}x{height}, model {args.model or 'shipped default'}, "
          f"arrows {args.speed:g} px/frame, {args.frames} frames, {args.mode} motion, {args.threads} thread(s)\n")
    print("| arrows | mode | motion mask | sky x (px/frame) | sky sign ok | frozen mean abs flow | frozen max | "
          "frozen interior max | Eq. 12 loss start -> end | seconds |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---:|")
    for mode in args.modes:
        for direction, sign in (("left", -1.0), ("right", 1.0)):
            for mask_name in args.masks:
                options = dict(num_frames=args.frames, loop="none", appearance=False, mode=args.mode,
                               arrows=arrows(sign), arrows_mode=mode, control_steps=args.steps, auto_mask="none")
                if mask_name == "sky":
                    options["auto_mask"] = "sky"
                elif mask_name == "hand":
                    options["mask"] = hand
                started = time.perf_counter()
                animation = pipe.plan(photo, **options)
                seconds = time.perf_counter() - started
                steps = animation.steps[1:]                                  # (T, 2, h, w) backward, normalised
                size = tuple(steps.shape[-2:])
                velocity = -flow_normalized_to_pixels(steps, height, args.width)  # content motion, px/frame
                speed = velocity.norm(dim=1)                                # (T, h, w)

                def at_working(mask: np.ndarray, size: tuple[int, int] = size) -> torch.Tensor:
                    return F.interpolate(torch.from_numpy(mask)[None, None].float(), size=size, mode="bilinear",
                                         align_corners=False, antialias=True)[0, 0]

                region = at_working(sky if sky is not None else hand) > 0.5
                moving = {"sky": at_working(sky) if sky is not None else None, "hand": at_working(hand),
                          "none": region.float()}[mask_name]
                frozen = moving < 0.5
                near = F.max_pool2d((~frozen).float()[None, None], 7, stride=1, padding=3)[0, 0] > 0
                interior = frozen & ~near
                x = velocity[:, 0][:, region]
                sign_ok = float((torch.sign(x) == sign).float().mean())
                frozen_speed = speed[:, frozen]
                loss = ""
                if "arrows" in animation.control:
                    history = animation.control["arrows"]
                    best = min(history, key=lambda h: h["loss"])   # the code plan() keeps
                    loss = f"{history[0]['direction']:.3f} -> {best['direction']:.3f}"
                print(f"| {direction} | {mode} | {mask_name} | {float(x.mean()):+.3f} | {sign_ok:.2f} | "
                      f"{float(frozen_speed.mean()):.4f} | {float(frozen_speed.max()):.3f} | "
                      f"{float(speed[:, interior].max()):.3f} | {loss} | {seconds:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
