"""Where a photo may move: user motion masks and the automatic sky matte.

A *mask array* is a float32 ``numpy.ndarray`` of shape (H, W) with values in [0, 1]: 1 (white) may move,
0 (black) stays frozen, grey moves partly. :func:`load_mask` reads one from an image file,
:func:`as_mask_tensor` accepts every form the Python API takes, and :class:`SkyMatte` / :func:`sky_mask`
find the sky automatically with a U²-Net-p matte (ncnn; weights ``skyseg/*`` of the weights directory,
see :mod:`cinescape.weights`). ``cinescape evaluate`` uses the same matte for its DeepLandscape metrics.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputImageError, ModelLoadError, OptionError

__all__ = ["SkyMatte", "SKY_MATTE_FILES", "load_mask", "as_mask_tensor", "sky_mask"]

#: The sky matte's files in the weights directory (ncnn graph and fp16 weights).
SKY_MATTE_FILES = ("skyseg/skysegsmall_sim-opt-fp16.param", "skyseg/skysegsmall_sim-opt-fp16.bin")
#: Sky probabilities at or below the first value become 0 (frozen), at or above the second 1 (moving),
#: linear in between, so land the matte is only slightly unsure about stays exactly still.
SKY_RAMP = (0.25, 0.75)


class SkyMatte:
    """U²-Net-p sky matte (ncnn, 384×384; weights ``skyseg/*`` of the weights directory).

    ``matte(image)`` takes a uint8 (H, W, 3) RGB image and returns the (H, W) float32 sky probability in
    [0, 1] (``size=(h, w)``: at that size instead). Needs the ``ncnn`` package (``pip install
    'cinescape[eval]'``); a missing package or weights file raises :class:`~cinescape.errors.ModelLoadError`.
    """

    source = "U²-Net-p sky matte (sky only)"

    def __init__(self):
        from .weights import weight_path

        try:
            import ncnn
        except ImportError:
            raise ModelLoadError("the sky matte needs the ncnn package: pip install 'cinescape[eval]' "
                                 "(or pip install ncnn)") from None
        param = weight_path(SKY_MATTE_FILES[0])
        weights = weight_path(SKY_MATTE_FILES[1])
        self._ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = max(1, torch.get_num_threads())
        if self.net.load_param(str(param)) or self.net.load_model(str(weights)):
            raise ModelLoadError(f"cannot load the sky matte from {param} / {weights}")

    def __call__(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        ncnn = self._ncnn
        height, width = image.shape[:2]
        blob = ncnn.Mat.from_pixels_resize(np.ascontiguousarray(image), ncnn.Mat.PixelType.PIXEL_RGB, width, height,
                                           384, 384)
        # The network expects /255 then ImageNet mean/std, i.e. (v - 255 mean) / (255 std).
        blob.substract_mean_normalize([0.485 * 255, 0.456 * 255, 0.406 * 255],
                                      [1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)])
        extractor = self.net.create_extractor()
        extractor.input("input.1", blob)
        _, out = extractor.extract("1959")
        prob = torch.from_numpy(np.array(out, dtype=np.float32).reshape(1, 1, 384, 384))
        size = (height, width) if size is None else tuple(size)
        return F.interpolate(prob, size=size, mode="bilinear", align_corners=False)[0, 0].clamp(0, 1).numpy()


def sky_mask(image: np.ndarray, size: tuple[int, int] | None = None, matte: SkyMatte | None = None) -> np.ndarray:
    """Motion mask of the sky of a uint8 (H, W, 3) RGB photo: (H, W) (or ``size``) float32 in [0, 1].

    The :class:`SkyMatte` probability mapped through :data:`SKY_RAMP` (below 0.25 frozen, above 0.75 moving,
    linear between). ``matte``: a loaded :class:`SkyMatte` to reuse.
    """
    prob = (matte or SkyMatte())(image, size)
    low, high = SKY_RAMP
    return np.clip((prob - low) / (high - low), 0.0, 1.0).astype(np.float32)


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a motion mask image (any format Pillow reads; colour images are averaged over R, G, B).

    Returns an (H, W) float32 array in [0, 1]: white (255) = 1 may move, black = 0 stays frozen.
    Raises :class:`~cinescape.errors.InputImageError` with a one-line message for a missing, empty,
    truncated or non-image file.
    """
    from .io.image import load_image

    try:
        image = load_image(path, min_side=1)
    except InputImageError as exc:
        raise InputImageError(f"--mask: {exc}") from None
    return (image.astype(np.float32).mean(-1) / 255.0).astype(np.float32)


def as_mask_tensor(mask: np.ndarray | torch.Tensor | str | Path) -> torch.Tensor:
    """Any mask the API accepts -> a (1, 1, H, W) float32 tensor in [0, 1].

    ``mask``: an image path (see :func:`load_mask`); a float (H, W) array or tensor in [0, 1] (a (1, 1, H, W)
    tensor also works); a bool (H, W) array (True moves); or a uint8 (H, W) array in [0, 255].
    Raises :class:`~cinescape.errors.OptionError` for other shapes or values outside [0, 1].
    """
    if isinstance(mask, (str, Path, os.PathLike)):
        mask = load_mask(mask)
    if isinstance(mask, np.ndarray):
        if mask.dtype == np.uint8:
            mask = mask.astype(np.float32) / 255.0
        mask = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))
    if not isinstance(mask, torch.Tensor):
        raise OptionError(f"mask must be an image path, an (H, W) array or a tensor, got {type(mask).__name__}")
    if mask.dim() == 4 and mask.shape[:2] == (1, 1):
        mask = mask[0, 0]
    if mask.dim() != 2 or min(mask.shape) < 1:
        raise OptionError(f"mask must have shape (H, W), got {tuple(mask.shape)}")
    mask = mask.detach().to("cpu", torch.float32)
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise OptionError("mask values must lie in [0, 1] (1 = may move, 0 = frozen)")
    return mask[None, None].contiguous()
