"""Would a confidence ramp on the ADE20K water class keep still land out of the automatic matte? (Not kept.)

    CINESCAPE_WEIGHTS=../shared/weights python experiments/water_confidence_ramp.py --photos ../shared/data/photos

The automatic matte (:func:`cinescape.segmentation.automatic_matte`) takes water where the segmenter's argmax is
water or sea. Its softmax is lower on the land it mislabels (wet sand, a frozen puddle, an island's flank) than on
open water, so a ramp like the sky matte's (below ``low`` still, above ``high`` moving) could drop that land.
For each photo with a hand mask (``masks/NAME.png``, white = fluid) and the labelme polygons of c3d_demo0/1
(``labelme/NAME.json``; they mark either the water or the sky, so there the sky matte's sky is not counted as still),
this prints the share of the hand
mask's still pixels the refined matte covers (> 0.5) and the share of its fluid pixels it keeps, for the argmax and
for a few ramps on p(water) + p(sea). The logits are the model's 32-channel ``logits/semantic/BiasAdd`` tensor
(128×128 for the 512×512 input), dequantised, upsampled bilinearly and put through a softmax.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cinescape.eval.photos import find_photos
from cinescape.io.image import load_image
from cinescape.ops.layers import refine_matte
from cinescape.segmentation import ADE20K_CLASSES, ADE20K_WEIGHTS, SkyMatte, drop_specks, sky_mask, MIN_FLUID_AREA
from cinescape.weights import weight_path

RAMPS = {"argmax": None, "0.5-0.9": (0.5, 0.9), "0.6-0.95": (0.6, 0.95), "0.7-0.95": (0.7, 0.95),
         "0.8-0.98": (0.8, 0.98)}
WATER_LABELS = [ADE20K_CLASSES.index(name) + 1 for name in ("water", "sea")]   # model label k = ADE20K class k - 1


class WaterProbability:
    """p(water) + p(sea) of the shipped ADE20K model at a photo's size, from its logits tensor."""

    def __init__(self):
        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():   # preserving tensors is meant for debugging; here it is what we need
            warnings.simplefilter("ignore")
            self.interpreter = Interpreter(model_path=str(weight_path(ADE20K_WEIGHTS)), num_threads=2,
                                           experimental_preserve_all_tensors=True)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        logits = next(d for d in self.interpreter.get_tensor_details() if d["name"] == "logits/semantic/BiasAdd")
        self.logits, (self.scale, self.zero_point) = logits["index"], logits["quantization"]

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probability, argmax is water) at the photo's size, both (H, W)."""
        height, width = image.shape[:2]
        scale = 512 / max(height, width)
        h, w = round(height * scale), round(width * scale)
        canvas = np.full((1, 512, 512, 3), 128, np.uint8)
        canvas[0, :h, :w] = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
        self.interpreter.set_tensor(self.input, canvas)
        self.interpreter.invoke()
        logits = (self.interpreter.get_tensor(self.logits).astype(np.float32) - self.zero_point) * self.scale
        logits = F.interpolate(torch.from_numpy(logits).permute(0, 3, 1, 2), size=(512, 512), mode="bilinear",
                               align_corners=False)[:, :, :h, :w]
        prob = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False).softmax(1)[0]
        labels = prob.argmax(0)
        return prob[WATER_LABELS].sum(0).numpy(), np.isin(labels.numpy(), WATER_LABELS)


def labelled_photos(folder: Path):
    """(name, photo, hand fluid mask, whether unmarked sky counts as still) for every hand-masked or
    labelme-annotated photo."""
    for entry in find_photos(folder):
        image, mask = entry.load()
        if mask is not None:
            height, width = image.shape[:2]
            yield entry.name, image, cv2.resize(mask.astype(np.float32), (width, height)) > 0.5, True
    for path in sorted((folder / "labelme").glob("*.json")):
        shapes = json.loads(path.read_text())["shapes"]
        photo = next(p for p in folder.glob(path.stem + ".*") if p.suffix != ".json")
        image = load_image(photo)
        mask = np.zeros(image.shape[:2], np.uint8)
        for shape in shapes:
            if shape["label"] == "motion":
                cv2.fillPoly(mask, [np.round(np.array(shape["points"])).astype(np.int32)], 1)
        yield path.stem, image, mask.astype(bool), False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="../shared/data/photos")
    args = parser.parse_args()
    torch.set_num_threads(2)
    water_probability, sky_matte = WaterProbability(), SkyMatte()
    print("| photo | " + " | ".join(f"{name}: still covered / fluid kept" for name in RAMPS) + " |")
    print("|---|" + "---:|" * len(RAMPS))
    for name, image, fluid, with_sky in labelled_photos(Path(args.photos)):
        prob, argmax = water_probability(image)
        sky = sky_mask(image, None, sky_matte)
        still = ~fluid if with_sky else ~fluid & (sky < 0.5)
        cells = []
        for ramp in RAMPS.values():
            water = argmax.astype(np.float32) if ramp is None else np.clip((prob - ramp[0]) / (ramp[1] - ramp[0]), 0, 1)
            coarse = np.maximum(water, sky)
            matte = refine_matte(image.astype(np.float32) / 127.5 - 1.0, drop_specks(coarse, MIN_FLUID_AREA)) > 0.5
            cells.append(f"{matte[still].mean():.3f} / {matte[fluid].mean():.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
