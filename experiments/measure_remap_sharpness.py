"""Bicubic against bilinear remaps in the banded renderer: how much detail the moving region keeps (issue 29).

    python experiments/measure_remap_sharpness.py ../shared/data/photos/c3d_demo1.jpg \
        ../shared/data/photos/al_input1.png

Each photo is planned once at its own size (the default pipeline, 60 frames) and frames 10-13 and 31 are rendered
twice, the renderer's ``cv2.remap`` interpolation forced to bicubic (today's) and then to bilinear (what the
fixed-point fast path would do). Printed per photo: the mean squared 3x3 Laplacian of the grey frame over the
wholly fluid region (matte 1, eroded 4 px), as a fraction of the photo's own, min and median over the frames.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np


def laplacian_energy(image: np.ndarray, region: np.ndarray) -> float:
    """Mean squared Laplacian of the grey ``image`` (uint8 RGB) over the bool ``region``."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float((cv2.Laplacian(grey, cv2.CV_32F)[region] ** 2).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+")
    args = parser.parse_args()
    import cinescape.ops.render_fast as render_fast
    from cinescape.io.image import load_image
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    pipeline = CinemagraphPipeline.from_pretrained()
    remap = cv2.remap
    for path in args.photos:
        photo = load_image(path)
        animation = pipeline.plan(photo, num_frames=60)
        alpha = (animation.layers.alpha[..., 0] if animation.layers is not None
                 else np.ones(photo.shape[:2], np.float32))
        region = cv2.erode((alpha >= 0.999).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        own = laplacian_energy(photo, region)
        row = []
        for name, interpolation in (("bicubic", cv2.INTER_CUBIC), ("bilinear", cv2.INTER_LINEAR)):
            def forced(source, map1, map2, _ignored, interpolation=interpolation, **options):
                return remap(source, map1, map2, interpolation, **options)
            render_fast.cv2.remap = forced
            try:
                ratios = [laplacian_energy(animation.frame(i), region) / own for i in (10, 11, 12, 13, 31)]
            finally:
                render_fast.cv2.remap = remap
            row.append(f"{name}: min {min(ratios):.3f} median {float(np.median(ratios)):.3f}")
        print(f"{path.split('/')[-1]} {photo.shape[1]}x{photo.shape[0]}, region {100 * region.mean():.0f} %: "
              + ", ".join(row), flush=True)


if __name__ == "__main__":
    main()
