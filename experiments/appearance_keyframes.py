"""Colour maps at keyframes: how far does interpolating the grade between predicted frames miss? (issue 29)

Purpose: the appearance network is the costliest per-frame stage of the default loop. Predicting it every k-th
frame and interpolating (``appearance_stride`` k) would cut it k-fold; issue 29 allows a fast path to change the
frames by PSNR >= 45 dB at most. This measures the worst frame's PSNR of stride k against stride 1 on one plan.

Method: each photo resized to 1024 px wide (aspect kept), planned once with the default model and settings (101
frames, seed 0); the same plan rendered with stride 1 and each stride k (the animation's anchor cache cleared);
per photo the worst frame's PSNR, the largest per-pixel difference and the frames' CPU seconds, one torch thread.

Command (the figures in docs/results.md, "Third 2026-12-07 session"; about a minute a photo):

    CINESCAPE_WEIGHTS=../shared/weights python experiments/appearance_keyframes.py 4,6,8 ../shared/data/photos/*.png
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import torch

from cinescape.io.image import load_image
from cinescape.methods import load_pipeline
from cinescape.methods.select import model_folder, resolve_settings


def main() -> None:
    torch.set_num_threads(1)
    pipeline = load_pipeline(model_folder(None, None))
    strides = [int(s) for s in sys.argv[1].split(",")]
    for path in sys.argv[2:]:
        photo = load_image(path)
        photo = cv2.resize(photo, (1024, round(photo.shape[0] * 1024 / photo.shape[1])), interpolation=cv2.INTER_AREA)
        animation = pipeline.plan(photo, resolve_settings(pipeline, num_frames=101, loop="phased"))

        def render(stride: int):
            animation.map_stride, animation._anchor_cache = stride, {}
            started = time.process_time()
            frames = [frame.astype(np.float32) for frame in animation.frames()]
            return frames, time.process_time() - started

        reference, seconds = render(1)
        row = [path.split("/")[-1], f"stride 1 {seconds:.1f} s"]
        for stride in strides:
            frames, seconds = render(stride)
            worst = min(10 * np.log10(255 ** 2 / max(float(np.mean((a - b) ** 2)), 1e-12))
                        for a, b in zip(reference, frames))
            largest = max(float(np.abs(a - b).max()) for a, b in zip(reference, frames))
            row.append(f"stride {stride}: worst frame {worst:.1f} dB, max diff {largest:.0f}, {seconds:.1f} s")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
