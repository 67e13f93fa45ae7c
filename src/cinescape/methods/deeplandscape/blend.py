"""DeepLandscape's guided blending of the super-resolved animation with the full-resolution photo (paper Sec. 3.2,
"Super Resolution"): the fluid parts (sky, water) come from the super-resolved frame; the still parts are the
photo's own pixels, changed only by the frame's lighting change, which is carried to full resolution with a
guided filter that uses the photo as its guide (so the change follows the photo's edges).

Deviation: the paper guided-filters the super-resolved frame itself against the photo; we filter only its
*lighting change* (frame rendered with the current style minus the frame rendered with the photo's style, both
with the photo's own noise) and add it to the photo, so with no lighting change a still pixel is exactly the
photo's pixel, and the land never moves with the noise.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...ops.layers import guided_filter

__all__ = ["guided_blend", "MatteBlend"]


def guided_blend(photo: np.ndarray, fluid: np.ndarray, matte: np.ndarray, lighting_change: np.ndarray | None = None,
                 *, radius: int | None = None, eps: float = 1e-3) -> np.ndarray:
    """Composite one output frame at the photo's resolution.

    Args:
        photo: (H, W, 3) uint8, the full-resolution input photo.
        fluid: (H, W, 3) float32 in [-1, 1], the super-resolved frame resized to the photo's size.
        matte: (H, W) float32 in [0, 1], 1 where the scene moves (sky, water).
        lighting_change: optional (h, w, 3) float32 change of the frame's colours in [-1, 1] units at any
            resolution; upsampled with the photo as guide and added to the still parts. None: no change.
        radius: guided-filter window radius in photo pixels (default: 1/64 of the short side, >= 2).
        eps: guided-filter regularisation in squared [0, 1] units.

    Returns:
        (H, W, 3) uint8: ``matte * fluid + (1 - matte) * (photo + guided(lighting_change))``; where the matte is 0
        and the lighting change is 0, exactly the photo's pixels.
    """
    height, width = photo.shape[:2]
    if fluid.shape != (height, width, 3) or matte.shape != (height, width):
        raise ValueError(f"fluid must be ({height}, {width}, 3) and matte ({height}, {width}); "
                         f"got {fluid.shape} and {matte.shape}")
    still = photo.astype(np.float32) / 127.5 - 1.0
    if lighting_change is not None:
        radius = radius or max(2, round(min(height, width) / 64))
        guide = (still + 1.0) * 0.5
        change = cv2.resize(lighting_change.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        subsample = max(1, min(4, radius // 2))
        still = still + np.stack([guided_filter(guide, change[..., c], radius, eps, subsample=subsample)
                                  for c in range(3)], axis=-1)
    alpha = matte.astype(np.float32)[..., None]
    out = alpha * fluid.astype(np.float32) + (1.0 - alpha) * still
    return np.clip(np.rint((out + 1.0) * 127.5), 0, 255).astype(np.uint8)


class MatteBlend:
    """:func:`guided_blend` without a lighting change, for many frames of one photo: ``matte * fluid + (1 - matte)
    * photo`` with the matte's two terms computed once, so a frame costs three in-place passes over its fluid
    array (clip, one multiply-add, the rounding to uint8) instead of a dozen float passes and temporaries.

    ``photo`` (H, W, 3) uint8, ``matte`` (H, W) float32 in [0, 1]; calling it with ``fluid`` (H, W, 3) float32 in
    [-1, 1] units (overwritten) returns the (H, W, 3) uint8 frame: :func:`guided_blend`'s to float rounding (a
    level where that rounding lands on .5), and exactly the photo's pixels where the matte is 0.

    >>> photo = np.full((1, 2, 3), 200, np.uint8)
    >>> blend = MatteBlend(photo, np.float32([[0.0, 0.5]]))
    >>> blend(np.full((1, 2, 3), -1.0, np.float32))[..., 0].tolist()     # fluid black: half-way where the matte is 0.5
    [[200, 100]]
    """

    def __init__(self, photo: np.ndarray, matte: np.ndarray):
        if matte.shape != photo.shape[:2]:
            raise ValueError(f"matte must be {photo.shape[:2]}, got {matte.shape}")
        alpha = matte.astype(np.float32)[..., None]
        self.scale = np.ascontiguousarray(alpha * 127.5)                                   # (H, W, 1)
        # out = alpha * (fluid + 1) * 127.5 + (1 - alpha) * photo = scale * fluid + offset
        self.offset = (self.scale + (1.0 - alpha) * photo.astype(np.float32)).astype(np.float32)

    def __call__(self, fluid: np.ndarray) -> np.ndarray:
        np.clip(fluid, -1.0, 1.0, out=fluid)
        np.multiply(fluid, self.scale, out=fluid)
        np.add(fluid, self.offset, out=fluid)
        return cv2.convertScaleAbs(fluid)   # values in [0, 255]: |x| is x; rounds half to even like np.rint
