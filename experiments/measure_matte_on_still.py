"""Where the automatic sky+water matte covers what the hand masks keep still, and which part of it does.

    CINESCAPE_WEIGHTS=../shared/weights python experiments/measure_matte_on_still.py --photos ../shared/data/photos

For each shared photo with a hand mask (white = fluid), over the pixels the hand mask keeps still: the share the
U²-Net-p sky matte calls sky (> 0.5), the share the ADE20K segmenter calls water or waterfall, and the share where
the refined automatic matte every method moves (:func:`cinescape.segmentation.automatic_matte`, ``"sky+water"``:
AL's and FGLA's ``--auto-mask sky+water``, DeepLandscape's segmentation variant) exceeds 0.5. Those are the pixels
a method moves against the hand mask.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from cinescape.eval.photos import find_photos
from cinescape.segmentation import FLUID_GROUPS, ADE20KSegmenter, SkyMatte, automatic_matte, sky_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sky_matte, segmenter = SkyMatte(), ADE20KSegmenter()
    print("| photo | still px | sky matte on still | ADE20K water on still | automatic matte on still |")
    print("|---|---:|---:|---:|---:|")
    for entry in find_photos(args.photos):
        image, mask = entry.load()
        if mask is None:
            continue
        height, width = image.shape[:2]
        still = cv2.resize(mask.astype(np.float32), (width, height)) <= 0.5
        sky = sky_mask(image, (height, width), sky_matte) > 0.5
        water = np.isin(segmenter.classes(image, (height, width)), FLUID_GROUPS)
        matte = automatic_matte(image, "sky+water", sky_matte, segmenter)
        share = lambda covered: float(np.mean(covered[still]))  # noqa: E731
        print(f"| {entry.name} | {still.mean():.2f} | {share(sky):.3f} | {share(water):.3f} | "
              f"{share(matte > 0.5):.3f} |", flush=True)


if __name__ == "__main__":
    main()
