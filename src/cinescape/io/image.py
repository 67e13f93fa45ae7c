"""Reading and writing still images, and converting them to and from tensors.

Conventions: an *image array* is a ``numpy.ndarray`` of dtype ``uint8`` and shape (H, W, 3), RGB,
values in [0, 255]. An *image tensor* is a ``torch.float32`` tensor of shape (1, 3, H, W) with values
in [-1, 1] (``x = v / 127.5 - 1``), the range the models work in.

Everything a user can get wrong (a missing, empty, corrupt, tiny or huge file) raises
:class:`~cinescape.errors.InputImageError` or :class:`~cinescape.errors.OutputError` with a one-line
message that names the file and says what to do.
"""

from __future__ import annotations

import os
import re
import secrets
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from cinescape.errors import InputImageError, OutputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MIN_IMAGE_SIDE",
    "load_image",
    "image_to_tensor",
    "tensor_to_image",
    "save_image",
]

#: Default decompression-bomb guard: 50 megapixels, enough for 8K (7680x4320 = 33.2 MP).
DEFAULT_MAX_PIXELS = 50_000_000
#: Smallest accepted side of an input photo, in pixels.
MIN_IMAGE_SIDE = 32

# Extensions save_image() accepts, with the Pillow format and save options used for each.
_SAVE_FORMATS: dict[str, tuple[str, dict]] = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".bmp": ("BMP", {}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
}


def one_line(exc: BaseException, limit: int = 160) -> str:
    """``str(exc)`` squeezed onto one line and shortened, for embedding in a user-facing message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_input_file(path: str | os.PathLike, what: str = "image") -> Path:
    """Fail early, with a clear message, on a path that cannot be an input file."""
    p = Path(path)
    if not p.exists():
        raise InputImageError(f"cannot read {what} '{p}': no such file; check the path")
    if p.is_dir():
        raise InputImageError(f"cannot read {what} '{p}': it is a directory; give the path of a file")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputImageError(f"cannot read {what} '{p}': {one_line(e)}") from e
    if size == 0:
        raise InputImageError(f"cannot read {what} '{p}': the file is empty (0 bytes); give a valid file")
    return p


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any common mode to a uint8 (H, W, 3) RGB array.

    Transparent pixels are composited over white; 16-bit and float greyscale are rescaled to 8 bit.
    """
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale (PNG/TIFF). "I" (int32) is what older Pillow and some TIFFs give for the same
        # data, so it is read with the 16-bit range too. Pillow's own convert("L") clips instead of scaling.
        grey = np.asarray(im).astype(np.float64)
        grey = np.round(np.clip(grey, 0, 65535) / 257.0)
        return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    if mode == "F":
        # Float images carry no standard range: [0, 1] is scaled to [0, 255], anything brighter is
        # taken as already 8-bit, or as 16-bit if it exceeds 255.
        grey = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(grey.max(initial=0.0))
        scale = 255.0 if peak <= 1.0 else (1.0 if peak <= 255.0 else 1.0 / 257.0)
        grey = np.round(np.clip(grey * scale, 0, 255)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in ("1", "L"):
        if not im.has_transparency_data:
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
            return np.repeat(grey[..., None], 3, axis=2)
    if im.has_transparency_data or mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        # Straight (non-premultiplied) alpha over an opaque white background.
        out = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.round(out).astype(np.uint8)
    try:
        # P without transparency, CMYK (Pillow undoes Adobe's inverted CMYK), YCbCr, RGBX, HSV, ...
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except ValueError as e:
        raise InputImageError(f"unsupported colour mode {mode}; convert the image to RGB first") from e


def _decode_image(p: Path, *, max_pixels: int, min_side: int) -> np.ndarray:
    """Open, check the size of, fully decode, orient and convert one image file (see load_image)."""
    name = f"'{p}'"
    with warnings.catch_warnings():
        # We apply our own (usually lower) pixel limit below; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(p)
        except Image.DecompressionBombError as e:
            # Pillow's own guard (about 179 MP) fired before we could read the size; its message has it.
            found = re.search(r"\((\d+) pixels\)", str(e))
            size = f"{int(found.group(1)) / 1e6:.1f} megapixels" if found else "too many pixels"
            raise InputImageError(
                f"image {name} has {size}, over the limit of {max_pixels / 1e6:g} megapixels; "
                "downscale it first"
            ) from e
        except UnidentifiedImageError as e:
            raise InputImageError(
                f"cannot read image {name}: not an image or an unsupported format; "
                "use a PNG, JPEG, WebP, TIFF or BMP file"
            ) from e
        except OSError as e:
            raise InputImageError(f"cannot read image {name}: {one_line(e)}") from e

        with im:
            # Image.open() has only parsed the header: check the size before decoding any pixels.
            w, h = im.size
            if w * h > max_pixels:
                raise InputImageError(
                    f"image {name} is {w}x{h} ({w * h / 1e6:.1f} megapixels), over the limit of "
                    f"{max_pixels / 1e6:g} megapixels; downscale it first"
                )
            if min(w, h) < min_side:
                raise InputImageError(
                    f"image {name} is {w}x{h}, too small; each side must be at least {min_side} pixels"
                )
            try:
                # Force the full decode here, so that a truncated or corrupt file fails now, with a
                # clear message, instead of later or silently (LOAD_TRUNCATED_IMAGES is left False).
                im.load()
                try:
                    oriented = ImageOps.exif_transpose(im)
                except Exception:  # a malformed EXIF block does not make the pixels unusable
                    oriented = im
                return _to_rgb_array(oriented)
            except InputImageError as e:
                raise InputImageError(f"cannot read image {name}: {e}") from e
            except Image.DecompressionBombError as e:
                raise InputImageError(
                    f"cannot read image {name}: it is too large to decode safely; downscale it first"
                ) from e
            except Exception as e:  # Pillow's decoders raise many types (OSError, SyntaxError, ...)
                raise InputImageError(
                    f"cannot decode image {name}: the file is truncated or corrupt ({one_line(e, 80)})"
                ) from e


def load_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = MIN_IMAGE_SIDE,
) -> np.ndarray:
    """Load a photo as an RGB image array, upright and opaque.

    - The EXIF orientation tag is applied, so the array is the image as viewers display it.
    - Greyscale, 1-bit, palette, CMYK and YCbCr images are converted to RGB. 16-bit greyscale is
      scaled to 8 bit (``v / 257``, rounded); 16-bit RGB(A) is reduced to 8 bit by Pillow.
    - Transparency (RGBA, LA, palette or greyscale with a transparent colour) is composited over
      **white**, so fully transparent pixels become (255, 255, 255).
    - For animated images (GIF, APNG, WebP) only the first frame is used.
    - The embedded ICC profile, if any, is ignored (pixel values are taken as sRGB).

    Args:
        path: image file (any format Pillow reads: PNG, JPEG, WebP, TIFF, BMP, GIF, ...).
        max_pixels: decompression-bomb guard; larger images are refused before any pixel is decoded.
            The default, 50 megapixels, admits 8K (7680x4320).
        min_side: smallest accepted width and height, in pixels.

    Returns:
        uint8 array of shape (H, W, 3), RGB.

    Raises:
        InputImageError: the path is missing, a directory or an empty file; the file is not an image,
            is truncated or corrupt; or the image is smaller than ``min_side`` or larger than
            ``max_pixels``.
    """
    p = _check_input_file(path)
    return _decode_image(p, max_pixels=max_pixels, min_side=min_side)


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """Convert a uint8 (H, W, 3) RGB array to a (1, 3, H, W) float32 tensor in [-1, 1].

    Example:
        >>> t = image_to_tensor(np.full((2, 2, 3), 255, np.uint8))
        >>> t.shape, t.dtype, float(t.max())
        (torch.Size([1, 3, 2, 2]), torch.float32, 1.0)
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got {got}")
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:  # e.g. a view of a PIL image; torch.from_numpy warns on read-only memory
        array = array.copy()
    t = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    return (t.to(torch.float32) / 127.5 - 1.0).contiguous()


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """Convert a (1, 3, H, W) or (3, H, W) tensor in [-1, 1] to a uint8 (H, W, 3) RGB array.

    Values are mapped with ``v = (x + 1) * 127.5``, rounded (halves up) and clamped to [0, 255]; NaN becomes 128
    (mid grey). Works for any float dtype and device; the result is on the CPU. Exact inverse of
    :func:`image_to_tensor`.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    t = tensor.detach()
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"image tensor must be (1, 3, H, W) or (3, H, W), got {tuple(tensor.shape)}")
    t = torch.nan_to_num(t.to("cpu", torch.float32), nan=0.0)  # a new tensor: the in-place ops below are safe
    # (x + 1) * 127.5 rounded half up = floor(x * 127.5 + 128) for the non-negative values left by the clamp;
    # in place, as one pass each, because this runs on every full-resolution output frame.
    t = t.mul_(127.5).add_(128.0).clamp_(0, 255).to(torch.uint8)
    return t.permute(1, 2, 0).contiguous().numpy()


def _temp_sibling(path: Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name next to ``path``, so the final ``os.replace`` stays on one file system."""
    return path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"


def _check_output_dir(path: Path, what: str) -> None:
    """Raise OutputError unless files can be created in ``path``'s parent directory.

    Missing parent directories are *not* created: a typo in the path should fail, not scatter folders.
    """
    parent = path.parent
    if not parent.exists():
        raise OutputError(
            f"cannot write {what} '{path}': the directory '{parent}' does not exist; create it first"
        )
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} '{path}': '{parent}' is not a directory")
    # Probe by creating a file: os.access() is wrong for root, read-only mounts and some ACLs.
    probe = _temp_sibling(path, ".probe")
    try:
        with open(probe, "xb"):
            pass
    except OSError as e:
        reason = "permission denied" if isinstance(e, PermissionError) else one_line(e)
        raise OutputError(
            f"cannot write {what} '{path}': the directory '{parent}' is not writable ({reason})"
        ) from e
    finally:
        probe.unlink(missing_ok=True)


def save_image(array: np.ndarray, path: str | os.PathLike) -> None:
    """Save a uint8 (H, W, 3) RGB array atomically; the format follows the extension.

    The image is written to a hidden temporary file in the same directory and renamed over ``path``
    only when complete, so ``path`` never holds a partial image. An existing file is replaced.

    Args:
        array: uint8 (H, W, 3) RGB image.
        path: ``.png``, ``.jpg``/``.jpeg`` (quality 95), ``.webp`` (quality 95), ``.bmp`` or
            ``.tif``/``.tiff``. The directory must exist.

    Raises:
        ValueError: ``array`` is not a uint8 (H, W, 3) array.
        OutputError: unknown extension, missing or unwritable directory, ``path`` is a directory, or
            the write failed.
    """
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got {got}")
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in _SAVE_FORMATS:
        raise OutputError(
            f"cannot write image '{p}': unknown extension '{p.suffix}'; use one of {', '.join(_SAVE_FORMATS)}"
        )
    if p.is_dir():
        raise OutputError(f"cannot write image '{p}': it is a directory; give a file name")
    _check_output_dir(p, "image")
    fmt, options = _SAVE_FORMATS[ext]
    tmp = _temp_sibling(p)
    try:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format=fmt, **options)
        os.replace(tmp, p)
    except OSError as e:
        raise OutputError(f"cannot write image '{p}': {one_line(e)}") from e
    finally:
        tmp.unlink(missing_ok=True)
