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

__all__ = ["guided_blend"]


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
