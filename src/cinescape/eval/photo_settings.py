"""What a photo evaluation is defined by (:class:`PhotoEvalSettings`), shared by :mod:`cinescape.eval.photos` and
the methods it compares (:mod:`cinescape.eval.photo_methods`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import OptionError

@dataclass
class PhotoEvalSettings:
    """Everything that defines a photo evaluation; stored in ``metrics.json`` with the results."""

    photos: str                        # the folder of photos (masks in photos/masks/NAME.png)
    frames: int = 60                   # frames per loop (the default command's)
    seed: int = 0                      # the models' seed (picks their codes), as `animate --seed`
    max_photos: int | None = None      # keep the first N photos (natural name order, after --only-masked)
    only_masked: bool = False          # keep only the photos with a hand mask
    shift_speed: float = 0.5           # `shift` baseline: px/frame at the photo's resolution
    shift_angle: float = 270.0         # `shift` baseline: direction in degrees (0 = right, 90 = down, 270 = up)
    patch_stride: int = 2              # coherence query patches on every STRIDE-th row and column (1 = all)
    exact_search: bool = False         # exact nearest patches (slow) instead of PCA + IVF candidates re-ranked
    sheets: bool = True                # write the contact sheets

    def validate(self) -> None:
        if not 3 <= self.frames <= 10_000:
            raise OptionError(f"frames must be between 3 and 10000, got {self.frames}")
        if self.max_photos is not None and self.max_photos < 1:
            raise OptionError(f"max_photos must be >= 1, got {self.max_photos}")
        if not (math.isfinite(self.shift_speed) and 0 <= self.shift_speed <= 100):
            raise OptionError(f"shift_speed must be between 0 and 100, got {self.shift_speed}")
        if not math.isfinite(self.shift_angle):
            raise OptionError(f"shift_angle must be a finite number of degrees, got {self.shift_angle}")
        if not 1 <= self.patch_stride <= 8:
            raise OptionError(f"patch_stride must be between 1 and 8, got {self.patch_stride}")
