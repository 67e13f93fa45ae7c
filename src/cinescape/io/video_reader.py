"""Reading clips: video files (PyAV; animated GIF and WebP through Pillow) and folders of frame images.

Frames are ``numpy.ndarray`` uint8 (H, W, 3), RGB, values in [0, 255] (the conventions of
:mod:`cinescape.io.video`, which writes them and re-exports these readers).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image, ImageSequence, UnidentifiedImageError

from cinescape.errors import InputImageError
from cinescape.io.image import DEFAULT_MAX_PIXELS, _check_input_file, _decode_image, one_line, _to_rgb_array

__all__ = ["VIDEO_EXTENSIONS", "FRAME_EXTENSIONS", "read_video_frames", "read_frame_folder", "read_clip"]

#: Video files read_video_frames() accepts (GIF and WebP through Pillow, the others through PyAV).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".webp")
#: Image files read_frame_folder() collects.
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

# swscale flags of the RGB conversion (see cinescape.io.video): unbiased, chroma interpolated at full resolution.
_DECODE_SCALING = (
    Interpolation.BILINEAR
    | Interpolation.ACCURATE_RND
    | Interpolation.FULL_CHR_H_INT
    | Interpolation.FULL_CHR_H_INP
)
# Animated formats decoded frame by frame with Pillow: FFmpeg cannot decode animated WebP.
_PILLOW_ANIMATIONS = (".gif", ".webp", ".png", ".apng")


def _check_selection(max_frames: int | None, stride: int) -> None:
    if not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be None or an int >= 1, got {max_frames!r}")


def _read_with_pillow(p: Path, max_frames: int | None, stride: int) -> list[np.ndarray]:
    try:
        with Image.open(p) as im:
            frames = []
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                if i % stride:
                    continue
                # Pillow composites GIF/WebP frames (disposal, blending) itself; transparency -> white.
                frames.append(_to_rgb_array(frame))
                if max_frames is not None and len(frames) >= max_frames:
                    break
            return frames
    except UnidentifiedImageError as e:
        raise InputImageError(f"cannot read video '{p}': not a recognised animation format") from e
    except InputImageError:
        raise
    except Exception as e:  # Pillow's decoders raise many types on corrupt data
        raise InputImageError(
            f"cannot decode video '{p}': the file is truncated or corrupt ({one_line(e, 80)})"
        ) from e


def _read_with_pyav(p: Path, max_frames: int | None, stride: int) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise InputImageError(f"cannot read video '{p}': the file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, vf in enumerate(container.decode(stream)):
                if i % stride:
                    continue
                arr = vf.to_ndarray(format="rgb24", interpolation=_DECODE_SCALING)
                # Phone videos store portrait as landscape + a display rotation (degrees counterclockwise).
                turns = round((vf.rotation or 0) / 90) % 4
                frames.append(np.ascontiguousarray(np.rot90(arr, turns)) if turns else arr)
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except InputImageError:
        raise
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InputImageError(
            f"cannot decode video '{p}': not a video, or truncated or corrupt ({one_line(e, 80)})"
        ) from e
    return frames


def read_video_frames(
    path: str | os.PathLike, *, max_frames: int | None = None, stride: int = 1
) -> list[np.ndarray]:
    """Decode a video file into a list of uint8 (H, W, 3) RGB frames.

    MP4, MOV, WebM, MKV, AVI (anything FFmpeg reads) go through PyAV, with the display rotation of
    phone videos applied; GIF, animated WebP and APNG go through Pillow, transparency over white.

    Args:
        path: video file.
        max_frames: keep at most this many frames (after striding); None for all.
        stride: keep every ``stride``-th frame, starting with the first.

    Raises:
        InputImageError: missing, empty, not a video, corrupt, or no frame could be decoded.
    """
    _check_selection(max_frames, stride)
    p = _check_input_file(path, "video")
    if p.suffix.lower() in _PILLOW_ANIMATIONS:
        frames = _read_with_pillow(p, max_frames, stride)
    else:
        frames = _read_with_pyav(p, max_frames, stride)
    if not frames:
        raise InputImageError(f"cannot read video '{p}': no frame could be decoded")
    return frames


def _natural_key(name: str) -> list:
    # "frame2" < "frame10": digit runs compare as numbers. re.split with a group alternates
    # text, number, text, ..., so keys always compare str with str and int with int.
    parts = re.split(r"(\d+)", name)
    return [int(part) if i % 2 else part.lower() for i, part in enumerate(parts)]


def read_frame_folder(
    path: str | os.PathLike,
    *,
    max_frames: int | None = None,
    stride: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[np.ndarray]:
    """Read a folder of frame images (``FRAME_EXTENSIONS``) in natural name order (2.png < 10.png).

    Hidden files and other extensions are ignored. Each frame is loaded like :func:`load_image`
    (EXIF orientation, transparency over white) but without the minimum-size check.

    Args:
        path: folder of frames.
        max_frames: keep at most this many frames (after striding); None for all.
        stride: keep every ``stride``-th file, starting with the first.
        max_pixels: per-frame decompression-bomb guard.

    Raises:
        InputImageError: missing folder, no frames in it, an unreadable frame, or frames of
            different sizes.
    """
    _check_selection(max_frames, stride)
    p = Path(path)
    if not p.is_dir():
        what = "is not a folder" if p.exists() else "does not exist"
        raise InputImageError(f"cannot read frames folder '{p}': it {what}; check the path")
    names = sorted(
        (e.name for e in os.scandir(p) if e.is_file() and not e.name.startswith(".")
         and os.path.splitext(e.name)[1].lower() in FRAME_EXTENSIONS),
        key=_natural_key,
    )
    names = names[::stride]
    if max_frames is not None:
        names = names[:max_frames]
    if not names:
        raise InputImageError(
            f"cannot read frames folder '{p}': no frame images ({', '.join(FRAME_EXTENSIONS)}) in it"
        )
    frames = []
    for name in names:
        frame = _decode_image(_check_input_file(p / name, "frame"), max_pixels=max_pixels, min_side=1)
        if frames and frame.shape != frames[0].shape:
            h0, w0 = frames[0].shape[:2]
            raise InputImageError(
                f"frame '{p / name}' is {frame.shape[1]}x{frame.shape[0]} but '{p / names[0]}' is {w0}x{h0}; "
                "all frames of a clip must have the same size"
            )
        frames.append(frame)
    return frames


def read_clip(
    path: str | os.PathLike, *, max_frames: int | None = None, stride: int = 1
) -> list[np.ndarray]:
    """Read a clip: a folder of frames (:func:`read_frame_folder`) or a video (:func:`read_video_frames`)."""
    if Path(path).is_dir():
        return read_frame_folder(path, max_frames=max_frames, stride=stride)
    return read_video_frames(path, max_frames=max_frames, stride=stride)
