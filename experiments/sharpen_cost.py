"""CPU cost of the phased loop's resampling sharpening in the banded renderer: one frame of ``render_frame_bands``
with 5 coefficient channels ``[a, b, m]`` against 7 ``[a, b, m, s_x, s_y]`` (the sharpening), alternated, one
OpenCV thread, median CPU milliseconds per frame. Synthetic inputs: a random photo and random working-size flows.

    python experiments/sharpen_cost.py --size 1024x576 --repeat 12
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from cinescape.ops.render_fast import FastLayers, render_frame_bands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x576", help="WIDTHxHEIGHT of the frame")
    parser.add_argument("--repeat", type=int, default=12)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cv2.setNumThreads(1)
    small_h, small_w = height // 4, width // 4
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    layers = FastLayers(photo, photo)
    copies = [(rng.normal(0, 3, (small_h, small_w, 2)).astype(np.float32), None) for _ in range(2)]
    blend = np.concatenate([np.full((small_h, small_w, 1), 0.6, np.float32),
                            np.full((small_h, small_w, 1), 0.5, np.float32),
                            np.zeros((small_h, small_w, 3), np.float32)], axis=2)
    sharpened = np.concatenate([blend, np.full((small_h, small_w, 2), 0.3, np.float32)], axis=2)
    out = np.empty_like(photo)
    times: dict[int, list[float]] = {5: [], 7: []}
    for _ in range(args.repeat):
        for coefficients in (blend, sharpened):
            started = time.process_time()
            render_frame_bands(layers, copies, None, out, coefficients=coefficients)
            times[coefficients.shape[2]].append(time.process_time() - started)
    plain, sharp = (1e3 * float(np.median(times[k])) for k in (5, 7))
    print(f"{width}x{height}: blend {plain:.1f} ms, blend + sharpening {sharp:.1f} ms CPU per frame "
          f"(+{100 * (sharp / plain - 1):.0f} %)")


if __name__ == "__main__":
    main()
