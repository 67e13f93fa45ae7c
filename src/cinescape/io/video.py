"""Writing looping videos (MP4, WebM, GIF, WebP, PNG folders); reading clips is :mod:`cinescape.io.video_reader`
(its functions are importable from here too).

Conventions: a *frame* is a ``numpy.ndarray`` of dtype ``uint8`` and shape (H, W, 3), RGB, values in
[0, 255]; all frames of one video have the same size. Sizes are given as ``(width, height)``.

Outputs are atomic: a :class:`VideoWriter` encodes into a hidden temporary file (or folder) next to
the target and renames it onto the target only when the video is complete, so an interrupted or
failed run never leaves a partial or corrupt video behind.

The output format follows the path:

=========================  ==========================================================================
``*.mp4``                  H.264 (libx264, CRF 18, preset "veryfast"), yuv420p, BT.709, ``+faststart``
``*.webm``                 VP9 (libvpx-vp9, CRF 30 constant quality), yuv420p, BT.709
``*.gif``                  one global 256-colour palette for all frames, no dithering, loops forever
``*.webp``                 animated WebP (libwebp, quality 85), loops forever
``folder/``                numbered PNG frames ``0000.png, 0001.png, ...`` (a path ending in ``/``
                           or an existing directory)
=========================  ==========================================================================

The extension is case-insensitive. yuv420p needs even dimensions, so MP4 and WebM frames of odd
width or height are padded by one row/column that repeats the last one (the video is at most 1 px
larger than the frames; nothing is cropped). MP4 frames above H.264's largest frame (level 6.2: 35.65 megapixels)
are scaled down to the largest size of the same aspect ratio that fits (:func:`mp4_frame_size`), so that the
video is one decoders must play.
"""

from __future__ import annotations

import math
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import cv2
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, Interpolation
from PIL import Image

from cinescape.errors import OptionError, OutputError
from cinescape.io.image import _check_output_dir, one_line, _temp_sibling

# The readers live in cinescape.io.video_reader; importable from here too.
from cinescape.io.video_reader import (
    FRAME_EXTENSIONS,
    VIDEO_EXTENSIONS,
    read_clip,
    read_frame_folder,
    read_video_frames,
)

__all__ = ["SUPPORTED_OUTPUTS", "VideoWriter", "mp4_frame_size", "video_size", "write_video"]

#: One-line description of the output formats, for CLI help and error messages.
SUPPORTED_OUTPUTS = (
    "'.mp4' (H.264), '.webm' (VP9), '.gif', '.webp' (animated), "
    "or a folder path ending in '/' (numbered PNG frames)"
)

_FILE_OUTPUTS = (".mp4", ".webm", ".gif", ".webp")
# swscale's default RGB<->YUV paths are biased by about -1 level; these flags are unbiased and, for
# decoding, interpolate chroma at full resolution (measured: mean abs error 4.6 -> 3.8 after H.264). H.264 is
# converted by rgb_to_yuv420p (the same values within a level, 2.4x faster at 24 MP).
_ENCODE_SCALING = Interpolation.AREA | Interpolation.ACCURATE_RND  # 2x2 chroma average


#: Frames a background :class:`VideoWriter` holds at most: queued ones plus the one being encoded. Two: rendering
#: and encoding take turns without either waiting, and memory stays a few frames whatever the video's length.
FRAMES_IN_FLIGHT = 2

#: libx264's options for ``*.mp4``. veryfast: 1.8x faster than "fast" and no larger at CRF 18 (measured on the
#: project's clips, docs/results.md).
MP4_OPTIONS = {"crf": "18", "preset": "veryfast"}

#: Frames of at least this many pixels (above 4K UHD: a camera photo) are encoded with :data:`MP4_LARGE_OPTIONS`.
MP4_LARGE_PIXELS = 12_000_000

#: libx264 for large frames: no B-frames, no lookahead and no macroblock tree, so it holds about 8 frames instead of
#: about 25 (veryfast's 3 B-frames and 10-frame lookahead). At 6000×4000 the encoder's own memory fell from 1.70 GB
#: to 0.65 GB; the file grew 66 % at the same CRF (20 frames of a 24 MP loop, docs/results.md).
MP4_LARGE_OPTIONS = {**MP4_OPTIONS, "x264-params": "bframes=0:rc-lookahead=0:mbtree=0"}

#: libx264 for a draft (``VideoWriter(draft=True)``, the web page's preview): ultrafast at the same CRF. On 50
#: preview frames (682x384) of three shared photos: 2-2.7x less encoder CPU, PSNR to the frames within about 1 dB of
#: veryfast's, a file 3-4x larger (docs/results.md, s6-preview).
MP4_DRAFT_OPTIONS = {**MP4_OPTIONS, "preset": "ultrafast"}


#: H.264's largest frame: level 6.2's MaxFS, 139,264 macroblocks of 16×16 pixels (35.65 MP, e.g. 8192×4352). Larger
#: frames are not H.264 any decoder must play (libx264 writes them, flagged beyond every level), so MP4 frames above it
#: are scaled down to fit (:func:`mp4_frame_size`).
H264_MAX_MACROBLOCKS = 139_264


def mp4_frame_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` of the H.264 video made of ``width`` × ``height`` frames: the frames' own size rounded
    up to even sides (yuv420p), or, where that is more than :data:`H264_MAX_MACROBLOCKS` macroblocks (above 35.65
    MP), the largest even size of the same aspect ratio (within a pixel) that fits.

    Example:
        >>> mp4_frame_size(1023, 575), mp4_frame_size(6000, 4000)
        ((1024, 576), (6000, 4000))
        >>> mp4_frame_size(8660, 5773)        # the CLI's 50-megapixel limit: 35.6 MP
        (7298, 4864)
    """
    def macroblocks(w: int, h: int) -> int:
        return -(-w // 16) * -(-h // 16)

    size = (width + width % 2, height + height % 2)
    if macroblocks(*size) <= H264_MAX_MACROBLOCKS:
        return size
    scale = math.sqrt(H264_MAX_MACROBLOCKS * 256 / (width * height))
    while True:
        size = (2 * int(width * scale / 2), 2 * int(height * scale / 2))
        if macroblocks(*size) <= H264_MAX_MACROBLOCKS:
            return size
        scale *= 0.999


# BT.709 RGB (full range) -> Y'CbCr (limited range: Y in 16..235, Cb/Cr in 16..240), rows of [r, g, b, offset]
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
_BT709_Y = np.float32([[_KR * 219 / 255, _KG * 219 / 255, _KB * 219 / 255, 16.0]])
_CB, _CR = 224 / 255 / (2 * (1 - _KB)), 224 / 255 / (2 * (1 - _KR))
_BT709_CBCR = np.float32([[-_KR * _CB, -_KG * _CB, (1 - _KB) * _CB, 128.0],
                          [(1 - _KR) * _CR, -_KG * _CR, -_KB * _CR, 128.0]])


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """A uint8 (H, W, 3) RGB frame (full range, even H and W) as planar BT.709 limited-range YUV 4:2:0: a uint8
    (3H/2, W) array, the Y plane then the U and V planes (each (H/2, W/2), stored as H/4 rows of W), the layout
    ``av.VideoFrame.from_ndarray(..., format="yuv420p")`` takes. Chroma is the 2×2 mean of the RGB, converted
    (:func:`rgb_to_yuv420p_planes`).

    Within one level of FFmpeg's swscale conversion (area chroma, accurate rounding) and 2.4x faster at 6000×4000
    (0.21 s against 0.50 s, multi-threaded OpenCV passes), without swscale's full-size RGB frame copy.

    Example:
        >>> yuv = rgb_to_yuv420p(np.full((2, 4, 3), 255, np.uint8))    # white: Y 235, U = V = 128
        >>> yuv[:2].tolist(), yuv[2:].tolist()
        ([[235, 235, 235, 235], [235, 235, 235, 235]], [[128, 128, 128, 128]])
    """
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"YUV 4:2:0 needs even sides, got {width}x{height}")
    out = np.empty((height * 3 // 2, width), np.uint8)
    chroma = out[height:].reshape(2, height // 2, width // 2)
    rgb_to_yuv420p_planes(frame, out[:height], chroma[0], chroma[1])
    return out


def rgb_to_yuv420p_planes(frame: np.ndarray, luma: np.ndarray, blue: np.ndarray, red: np.ndarray) -> None:
    """:func:`rgb_to_yuv420p` written into three uint8 planes: ``luma`` (H, W), ``blue`` (Cb) and ``red`` (Cr)
    (H/2, W/2) each; any row stride (e.g. an ``av.VideoFrame``'s own planes, whose rows are padded), so the frame
    is converted where the encoder reads it, without a copy.

    Example:
        >>> luma, blue, red = np.zeros((2, 4), np.uint8), np.zeros((1, 2), np.uint8), np.zeros((1, 2), np.uint8)
        >>> rgb_to_yuv420p_planes(np.zeros((2, 4, 3), np.uint8), luma, blue, red)    # black: Y 16
        >>> luma.tolist(), blue.tolist(), red.tolist()
        ([[16, 16, 16, 16], [16, 16, 16, 16]], [[128, 128]], [[128, 128]])
    """
    height, width = frame.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"YUV 4:2:0 needs even sides, got {width}x{height}")
    cv2.transform(frame, _BT709_Y, dst=luma)
    # both chroma rows in one transform (its rounding is what earlier videos were made with), then split
    chroma = cv2.transform(cv2.resize(frame, (width // 2, height // 2), interpolation=cv2.INTER_AREA), _BT709_CBCR)
    np.copyto(blue, chroma[..., 0])
    np.copyto(red, chroma[..., 1])


def _yuv420p_frame(frame: np.ndarray) -> av.VideoFrame:
    """An ``av.VideoFrame`` (yuv420p, tagged BT.709 limited range) of a uint8 (H, W, 3) RGB frame, converted into
    the frame's own planes (:func:`rgb_to_yuv420p_planes`)."""
    height, width = frame.shape[:2]
    vf = av.VideoFrame(width, height, "yuv420p")
    planes = [np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
              for plane in vf.planes]
    rgb_to_yuv420p_planes(frame, *planes)
    vf.colorspace, vf.color_range = Colorspace.ITU709, ColorRange.MPEG
    vf.color_trc, vf.color_primaries = ColorTrc.BT709, ColorPrimaries.BT709
    return vf


def _check_frame(frame: object) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        if isinstance(frame, np.ndarray):
            got = f"dtype {frame.dtype}, shape {frame.shape}"
        else:
            got = type(frame).__name__
        raise ValueError(f"video frames must be uint8 numpy arrays of shape (H, W, 3), got {got}")
    return np.ascontiguousarray(frame)


def _fps_fraction(fps: float) -> Fraction:
    # NTSC-style rates (30000/1001) come in as floats; recover the small exact fraction.
    return Fraction(fps).limit_denominator(1001)


# --------------------------------------------------------------------------------------------------
# Encoders. Each writes one temporary output (a file or a folder) and knows nothing about atomicity.
# --------------------------------------------------------------------------------------------------


class _Encoder:
    """Interface: ``write`` frames of one fixed size, then ``finish`` (complete) or ``abort``. ``prepare`` turns a
    frame into what ``write`` takes (by default the frame itself); a background writer calls it in the caller's
    thread and queues its result."""

    def prepare(self, frame: np.ndarray) -> object:
        return frame

    def write(self, frame) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class _PyAVEncoder(_Encoder):
    """MP4 / WebM / WebP through FFmpeg (PyAV), streaming: constant memory whatever the length."""

    def __init__(self, tmp: Path, ext: str, fps: float, width: int, height: int, draft: bool = False):
        rate = _fps_fraction(fps)
        if ext == ".webp":
            container, codec, pix_fmt = "webp", "libwebp_anim", "bgra"
            # libwebp converts RGB itself; FFmpeg's webp muxer plays once unless loop=0.
            options, container_options = {"quality": "85"}, {"loop": "0"}
        elif ext == ".webm":
            container, codec, pix_fmt = "webm", "libvpx-vp9", "yuv420p"
            # crf with b=0 is libvpx's constant-quality mode; cpu-used 4 + row-mt keep it fast.
            options = {"crf": "30", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
            container_options = {}
        else:
            container, codec, pix_fmt = "mp4", "libx264", "yuv420p"
            options = dict(MP4_DRAFT_OPTIONS if draft else
                           MP4_LARGE_OPTIONS if width * height >= MP4_LARGE_PIXELS else MP4_OPTIONS)
            # faststart moves the index to the front, so browsers can play while downloading.
            container_options = {"movflags": "+faststart"}
        self._pix_fmt = pix_fmt
        self._own_yuv = codec == "libx264"     # converted here (rgb_to_yuv420p); WebM keeps swscale's bytes
        self._index = 0
        self._container = av.open(str(tmp), "w", format=container, container_options=container_options)
        try:
            self._stream = self._container.add_stream(codec, rate=rate, options=options)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = pix_fmt
            if pix_fmt == "yuv420p":
                # Convert with BT.709 / limited range and say so in the stream, so that players (which
                # guess BT.601 for small untagged videos) show the colours that were written.
                cc = self._stream.codec_context
                cc.colorspace = Colorspace.ITU709
                cc.color_range = ColorRange.MPEG
                cc.color_primaries = ColorPrimaries.BT709
                cc.color_trc = ColorTrc.BT709
        except BaseException:
            self._container.close()
            raise

    def prepare(self, frame: np.ndarray) -> np.ndarray | av.VideoFrame:
        """H.264: the frame converted (BT.709 limited range, as the stream says), an ``av.VideoFrame`` half the
        RGB frame's size, made without a full-size RGB AVFrame; other codecs: the frame itself."""
        return _yuv420p_frame(frame) if self._own_yuv else frame

    def write(self, frame: np.ndarray | av.VideoFrame) -> None:
        if isinstance(frame, av.VideoFrame):
            vf = frame
        elif self._own_yuv:
            vf = _yuv420p_frame(frame)
        elif self._pix_fmt == "yuv420p":
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
                format="yuv420p",
                src_colorspace=Colorspace.ITU709,
                dst_colorspace=Colorspace.ITU709,
                src_color_range=ColorRange.JPEG,
                dst_color_range=ColorRange.MPEG,
                dst_color_trc=ColorTrc.BT709,
                dst_color_primaries=ColorPrimaries.BT709,
                interpolation=_ENCODE_SCALING,
            )
        else:
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format=self._pix_fmt)
        vf.pts = self._index  # the stream's time base is 1/fps
        self._index += 1
        self._container.mux(self._stream.encode(vf))

    def finish(self) -> None:
        self._container.mux(self._stream.encode(None))  # flush delayed frames
        self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # closing a half-written container may fail; it is deleted anyway
            pass


class _GifEncoder(_Encoder):
    """GIF with one global palette built from all frames.

    A palette from the first frames alone would miss colours that appear later (a day-to-night
    time-lapse ends in colours the first frames never show), so frames are spooled as raw RGB to an
    anonymous temporary file next to the output while a small pixel sample of each frame is kept.
    At the end a 256-colour median-cut palette is built from the sample and every frame is mapped
    to it. Memory: the sample (at most 16K pixels per frame) plus the palettised frames (1 byte per
    pixel), which Pillow holds to compute frame differences. (Pillow's k-means refinement would
    cut the error by a fifth but costs seconds per 100K sampled pixels, so it is not used.)

    Dithering is off: error diffusion makes the dot pattern differ between frames even where the
    picture is still, which shows as crawling noise in a loop and defeats GIF's frame-difference
    compression. Without it static regions stay identical from frame to frame; the price is mild
    banding in smooth gradients.
    """

    _SAMPLE_PER_FRAME = 1 << 14
    _SAMPLE_TOTAL = 1 << 19

    def __init__(self, tmp: Path, fps: float, width: int, height: int):
        self._tmp, self._fps, self._size = tmp, fps, (width, height)
        self._spool: BinaryIO = tempfile.TemporaryFile(dir=tmp.parent, prefix=".cinescape-gif-")
        self._samples: list[np.ndarray] = []
        self._count = 0
        # Regular grid of pixels for the palette sample.
        self._step = max(1, math.ceil(math.sqrt(width * height / self._SAMPLE_PER_FRAME)))

    def write(self, frame: np.ndarray) -> None:
        self._spool.write(frame.tobytes())
        self._samples.append(frame[:: self._step, :: self._step].reshape(-1, 3))
        self._count += 1

    def _durations_ms(self) -> list[int]:
        # GIF delays are whole centiseconds: round the *cumulative* times so the average rate is exact
        # (30 fps -> 30, 40, 30 ms ...) rather than always 30 ms.
        ticks = [round(100 * i / self._fps) for i in range(self._count + 1)]
        return [10 * max(1, b - a) for a, b in zip(ticks, ticks[1:])]

    def finish(self) -> None:
        sample = np.concatenate(self._samples)
        if len(sample) > self._SAMPLE_TOTAL:
            sample = sample[:: math.ceil(len(sample) / self._SAMPLE_TOTAL)]
        # Median cut ignores layout, so the sample is simply folded into a 64-pixel-wide image.
        rows = -(-len(sample) // 64)
        sample = np.resize(sample, (rows, 64, 3))  # np.resize repeats pixels to fill the last row
        palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.MEDIANCUT)
        w, h = self._size
        nbytes = w * h * 3
        self._spool.seek(0)
        frames = []
        for _ in range(self._count):
            rgb = np.frombuffer(self._spool.read(nbytes), np.uint8).reshape(h, w, 3)
            frames.append(Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE))
        self._spool.close()
        # Passing the palette makes Pillow write it once, as the global colour table, instead of a
        # local copy per frame; optimize=False stops it from trimming the palette per frame.
        # disposal=1 keeps each frame under the next, which Pillow crops to the changed area.
        frames[0].save(
            self._tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            palette=palette.getpalette(),
            duration=self._durations_ms(),
            loop=0,
            optimize=False,
            disposal=1,
        )

    def abort(self) -> None:
        self._spool.close()


class _FolderEncoder(_Encoder):
    """Numbered PNG frames in a folder (PNG compression level 1: fast, frames are intermediate data)."""

    def __init__(self, tmp: Path):
        self._dir = tmp
        self._count = 0
        os.mkdir(tmp)

    def write(self, frame: np.ndarray) -> None:
        Image.fromarray(frame).save(self._dir / f"{self._count:04d}.png", format="PNG", compress_level=1)
        self._count += 1

    def finish(self) -> None:
        # Names are written 4 digits wide; past 10000 frames widen them all so they still sort.
        width = len(str(self._count - 1))
        if width > 4:
            for i in range(10 ** 4):
                os.rename(self._dir / f"{i:04d}.png", self._dir / f"{i:0{width}d}.png")
            for i in range(10 ** 4, 10 ** (width - 1)):
                os.rename(self._dir / f"{i}.png", self._dir / f"{i:0{width}d}.png")

    def abort(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Public writer
# --------------------------------------------------------------------------------------------------


def video_size(path: str | os.PathLike, size: tuple[int, int], kind: str | None = None) -> tuple[int, int]:
    """``(width, height)`` of the video :class:`VideoWriter` writes to ``path`` from frames of ``size`` = (width,
    height): even sides for MP4 and WebM, and MP4 at most H.264's largest frame (:func:`mp4_frame_size`); other
    formats the frames' own size. ``kind``: :func:`output_kind`'s answer, if known.

    Example:
        >>> video_size("loop.mp4", (8660, 5773)), video_size("loop.webm", (99, 51)), video_size("frames/", (99, 51))
        ((7298, 4864), (100, 52), (99, 51))
    """
    raw = os.fspath(path)
    kind = kind or output_kind(raw, Path(raw))
    width, height = size
    if kind == ".mp4":
        return mp4_frame_size(width, height)
    if kind == ".webm":
        return width + width % 2, height + height % 2
    return width, height


def output_kind(raw: str, path: Path) -> str:
    """'folder' or a file extension from _FILE_OUTPUTS; raise OutputError for anything else."""
    ext = path.suffix.lower()
    if raw.endswith(("/", os.sep)):
        return "folder"
    if ext in _FILE_OUTPUTS:
        if path.is_dir():
            raise OutputError(
                f"cannot write video '{path}': it is a directory; give a file name, or end the path "
                "with '/' to write PNG frames into it"
            )
        return ext
    if path.is_dir():
        return "folder"
    shown = f"unknown extension '{path.suffix}'" if path.suffix else "no extension"
    raise OutputError(f"cannot write video '{path}': {shown}; use {SUPPORTED_OUTPUTS}")


class VideoWriter:
    """Write frames to a video file or a folder of PNG frames, atomically.

    Use it as a context manager. On a normal exit the video is finished and renamed onto ``path``
    (replacing an existing file). If the block raises, or no frame was written, the temporary output
    is deleted and nothing appears at ``path``. Outside a ``with`` block, call :meth:`close` (or
    :meth:`abort`) yourself.

    The path is checked in the constructor, before any frame is computed: an unknown extension, a
    missing or unwritable directory, a directory where a file is expected, or a non-empty target
    folder (without ``overwrite``) raise :class:`~cinescape.errors.OutputError`. Missing parent
    directories are not created.

    Args:
        path: output path; see the module docstring (or :data:`SUPPORTED_OUTPUTS`) for the formats.
        fps: frames per second (> 0). GIF stores delays in centiseconds, and browsers slow GIFs
            above 50 fps down.
        size: ``(width, height)`` of the frames; if None, taken from the first frame.
        overwrite: for folder outputs, replace an existing non-empty folder (files are always replaced).
        background: encode in a worker thread, so the caller renders the next frame while this one is converted
            and encoded (OpenCV and FFmpeg release the GIL; libx264 adds its own threads). At most
            :data:`FRAMES_IN_FLIGHT` written frames are held; a frame must not be modified after :meth:`write`.
            An encoder error surfaces at the next :meth:`write` or at :meth:`close`.
        draft: a quick look, written fast rather than small: MP4 with :data:`MP4_DRAFT_OPTIONS` (the same CRF,
            a larger file); other formats are unchanged.

    Example:
        >>> with VideoWriter("loop.mp4", fps=30, size=(640, 360)) as w:  # doctest: +SKIP
        ...     for frame in frames:
        ...         w.write(frame)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float = 30.0,
        size: tuple[int, int] | None = None,
        *,
        overwrite: bool = False,
        background: bool = False,
        draft: bool = False,
    ):
        raw = os.fspath(path)
        self.path = Path(raw)
        self._kind = output_kind(raw, self.path)
        if self._kind == "folder" and self.path.name in ("", ".", ".."):
            self.path = self.path.resolve()  # "./" has no name to put a temporary sibling next to
        try:
            fps = float(fps)
        except (TypeError, ValueError):
            raise OptionError(f"fps must be a number, got {fps!r}") from None
        if not math.isfinite(fps) or fps <= 0:
            raise OptionError(f"fps must be a positive number, got {fps}")
        if self._kind == ".gif" and fps > 100:
            raise OptionError(
                f"GIF cannot play faster than 100 fps, got {fps:g}; choose a lower fps or another format"
            )
        self.fps = fps
        if size is not None:
            if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
                raise ValueError(f"size must be (width, height) with positive ints, got {size!r}")
            size = (int(size[0]), int(size[1]))
        self.size = size
        self.overwrite = overwrite
        what = "frames folder" if self._kind == "folder" else "video"
        if self._kind == "folder":
            if self.path.exists() and not self.path.is_dir():
                raise OutputError(f"cannot write frames folder '{self.path}': a file with that name exists")
            if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
                raise OutputError(
                    f"cannot write frames into '{self.path}': the folder is not empty; "
                    "empty it, choose another folder, or allow overwriting"
                )
        _check_output_dir(self.path, what)
        self.frames_written = 0
        self._tmp = _temp_sibling(self.path)
        self._encoder: _Encoder | None = None
        self._closed = False
        self._background = background
        self._draft = draft
        self._queue: queue.Queue | None = None       # frames for the worker thread (background=True)
        self._worker: threading.Thread | None = None
        self._worker_error: BaseException | None = None

    # Context manager ------------------------------------------------------------------------------

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # Writing --------------------------------------------------------------------------------------

    @property
    def output_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the encoded video: ``size``, rounded up to even for MP4 and WebM, and for MP4
        scaled down to H.264's largest frame where it is larger (:func:`mp4_frame_size`)."""
        if self.size is None:
            return None
        return video_size(self.path, self.size, self._kind)

    def _start(self) -> None:
        ow, oh = self.output_size
        if self._kind == "folder":
            self._encoder = _FolderEncoder(self._tmp)
        elif self._kind == ".gif":
            self._encoder = _GifEncoder(self._tmp, self.fps, ow, oh)
        else:
            self._encoder = _PyAVEncoder(self._tmp, self._kind, self.fps, ow, oh, self._draft)

    def _fail(self, e: BaseException) -> OutputError:
        self.abort()
        return OutputError(f"cannot write '{self.path}': {one_line(e)}")

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 (H, W, 3) RGB frame.

        Raises:
            ValueError: wrong dtype or shape, or a size different from ``size`` / the first frame.
            OutputError: the encoder or the disk failed (the partial output is removed).
        """
        if self._closed:
            raise ValueError(f"VideoWriter for '{self.path}' is already closed")
        frame = _check_frame(frame)
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
        elif (w, h) != self.size:
            raise ValueError(f"frame is {w}x{h} but the video '{self.path}' is {self.size[0]}x{self.size[1]}")
        ow, oh = self.output_size
        if ow < w:   # above H.264's largest frame: scaled down (area average, as for any reduction)
            frame = cv2.resize(frame, (ow, oh), interpolation=cv2.INTER_AREA)
        elif (ow, oh) != (w, h):
            # Replicate the last row / column: invisible at the edge, unlike black padding.
            frame = np.pad(frame, ((0, oh - h), (0, ow - w), (0, 0)), mode="edge")
        try:
            if self._encoder is None:
                self._start()
            if self._background:   # converted here: the queue holds the encoder's input (half an RGB frame for H.264)
                self._put(self._encoder.prepare(frame))
            else:
                self._encoder.write(frame)
        except (OSError, av.FFmpegError) as e:
            raise self._fail(e) from e
        self.frames_written += 1

    # Background encoding ---------------------------------------------------------------------------

    def _put(self, frame: np.ndarray) -> None:
        if self._worker is None:
            self._queue = queue.Queue(maxsize=FRAMES_IN_FLIGHT - 1)   # + the one being encoded
            self._worker = threading.Thread(target=self._encode_queued, name="cinescape-encoder", daemon=True)
            self._worker.start()
        while True:   # wait for room, but not forever if the worker died
            if self._worker_error is not None:
                raise self._worker_error
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def _encode_queued(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._worker_error is not None:
                continue   # drain after a failure, so the caller's put never blocks
            try:
                self._encoder.write(frame)
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                self._worker_error = e

    def _join_worker(self, *, stop: bool = False) -> None:
        """Let the worker encode what is queued (``stop``: drop it) and end; re-raise its error if it failed."""
        if self._worker is None:
            return
        if stop:
            self._worker_error = self._worker_error or OutputError(f"writing '{self.path}' was stopped")
        self._queue.put(None)
        self._worker.join()
        self._worker = None
        if self._worker_error is not None and not stop:
            raise self._worker_error

    def close(self) -> None:
        """Finish the video and move it onto ``path``; with no frames written, leave nothing."""
        if self._closed:
            return
        if self._encoder is None:  # zero frames
            self.abort()
            return
        try:
            self._join_worker()
            self._encoder.finish()
            self._commit()
        except OutputError:
            self.abort()
            raise
        except (OSError, av.FFmpegError) as e:
            raise self._fail(e) from e
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Stop writing and delete the temporary output; ``path`` is left untouched."""
        self._closed = True
        self._join_worker(stop=True)
        if self._encoder is not None:
            self._encoder.abort()
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            self._tmp.unlink(missing_ok=True)

    def _commit(self) -> None:
        if self._kind != "folder":
            os.replace(self._tmp, self.path)
            return
        if not self.path.exists():
            os.rename(self._tmp, self.path)
        elif not any(self.path.iterdir()):
            os.replace(self._tmp, self.path)  # POSIX rename replaces an empty directory
        elif self.overwrite:
            # Swap by renames so the target is never half old, half new; then drop the old folder.
            old = _temp_sibling(self.path, ".old")
            os.rename(self.path, old)
            os.rename(self._tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            raise OutputError(
                f"cannot write frames into '{self.path}': the folder was filled while writing; "
                "choose another folder"
            )


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    fps: float = 30.0,
    *,
    overwrite: bool = False,
) -> int:
    """Write an iterable of uint8 (H, W, 3) RGB frames with a :class:`VideoWriter`; return the count.

    Frames are consumed one at a time, so a generator keeps memory flat (except for GIF, see
    :class:`VideoWriter`). Raises ValueError if ``frames`` is empty (nothing is written).
    """
    with VideoWriter(path, fps=fps, overwrite=overwrite) as writer:
        for frame in frames:
            writer.write(frame)
    if writer.frames_written == 0:
        raise ValueError(f"no frames to write to '{writer.path}'")
    return writer.frames_written
