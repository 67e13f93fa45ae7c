"""The per-frame fast path of an animation: full-resolution frames rendered on uint8 arrays in bands of rows.

:mod:`cinescape.ops.render` renders a frame on (H, W, 3) float32 arrays: per blended copy a full-resolution float
flow, a float remap, a float blend, the layer composite and the colour maps resized to the frame, then the
conversion to uint8: about fifteen full-frame float passes, and several full-frame float arrays alive at once (a
24-megapixel frame is 288 MB per float copy). Here the same frame is made of uint8 passes over bands of rows that
stay small (:func:`band_height`), so memory does not grow with the photo beyond the frame itself:

1. sample positions of each copy: the working-size flow (photo pixels) resized to the band (the band's rows of a
   bilinear resize with pixel centres aligned, :func:`band_rows`), plus the pixel grid;
2. ``cv2.remap`` of the uint8 source, bicubic (as the reference: moved frames stay as sharp as the photo);
3. the copies blended, ``cv2.addWeighted`` with scalar weights or ``cv2.blendLinear`` with per-pixel weight maps;
4. with layers, ``alpha * blend + still`` (still = ``photo - alpha * fluid`` in int16, alpha in 1/255);
5. the frame's global colour grade, one 3×4 matrix per frame (``cv2.transform``), written into the output.

Rows with no fluid (``alpha == 0`` everywhere in them) are the photo exactly and only get the grade, and so are the
columns of a band beyond its first and last fluid pixel (:func:`fluid_columns`): steps 1-4 are done only between
them, with the working-size fields resized for those columns alone (:func:`resize_columns`). Each rounding to
uint8 costs at most half a level; against the float reference the frames differ by about one level at most
(PSNR > 45 dB, ``tests/test_render_fast.py``). Conventions as in :mod:`cinescape.ops.render`: (H, W, C) arrays,
flows (h, w, 2) in pixels of the full-resolution photo, channel 0 x, backward warping, reflected borders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .resample import DETAIL_KERNEL, LUMA

__all__ = ["band_height", "band_rows", "band_planes", "band_positions", "grade_matrix", "FastLayers", "render_frame_bands",
           "source_window", "source_block", "band_extent", "band_columns", "fluid_columns"]

#: Pixels per band: large enough that OpenCV's own threads split each call well, small enough that a band's
#: temporaries (two maps, two warped copies: ~40 bytes a pixel) stay a few MB.
BAND_PIXELS = 1 << 18


def band_height(width: int, pixels: int = BAND_PIXELS) -> int:
    """Rows per band for frames ``width`` pixels wide (at least 8).

    Example:
        >>> band_height(1024), band_height(6000)
        (256, 43)
    """
    return max(8, pixels // max(1, width))


def _row_weights(small_h: int, height: int, top: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The working-size rows (lower, upper) and weights of ``upper`` that rows ``top .. top + rows - 1`` of a
    bilinear resize from ``small_h`` to ``height`` rows interpolate (pixel centres aligned, edges clamped)."""
    source_y = (np.arange(top, top + rows, dtype=np.float64) + 0.5) * (small_h / height) - 0.5
    lower = np.floor(source_y).astype(np.int64)
    frac = (source_y - lower).astype(np.float32)
    frac[lower < 0] = 0.0                     # OpenCV clamps at the edges
    lower = np.clip(lower, 0, small_h - 1)
    frac[lower >= small_h - 1] = 0.0
    return lower, np.minimum(lower + 1, small_h - 1), frac


def band_rows(field: np.ndarray, size: tuple[int, int], top: int, rows: int,
              columns: tuple[int, int] | None = None) -> np.ndarray:
    """Rows ``top .. top + rows - 1`` of the bilinear resize of a working-size field ``field`` (h, w, C) float32 to
    ``size`` = (H, W) (``cv2.resize(field, (W, H), INTER_LINEAR)``: pixel centres aligned, edges clamped), without
    resizing the rest; ``columns`` = (x0, x1): only those columns (default all). Returns (rows, x1 - x0, C) float32
    (C = 1 kept).

    The vertical interpolation is done here on the band's few working-size rows, the horizontal one by
    ``cv2.resize`` with the full resize's own coefficients (:func:`resize_columns`), so the rows equal the full
    resize's to float rounding.

    Example:
        >>> field = np.float32([[[0.0], [2.0]], [[4.0], [6.0]]])      # (2, 2, 1)
        >>> band_rows(field, (4, 4), 1, 2)[..., 0].tolist()
        [[1.0, 1.5, 2.5, 3.0], [3.0, 3.5, 4.5, 5.0]]
    """
    height, width = size
    lower, upper, frac = _row_weights(field.shape[0], height, top, rows)
    start, stop = _working_columns(field.shape[1], width, columns)
    frac = frac[:, None, None]
    part = field[:, start:stop]
    band = part[lower] * (1.0 - frac) + part[upper] * frac           # (rows, w, C)
    out = resize_columns(np.ascontiguousarray(band, np.float32), field.shape[1], width, columns, start)
    return out if out.ndim == 3 else out[..., None]


def _working_columns(small_w: int, width: int, columns: tuple[int, int] | None) -> tuple[int, int]:
    """The working-size columns ``[start, stop)`` that a horizontal resize from ``small_w`` to ``width`` columns
    reads for the full-size ``columns`` (x0, x1), widened to where ``start * width / small_w`` and ``stop * width /
    small_w`` are whole (or the edges): a resize of them alone has the full resize's scale and the same
    coefficients, and clamps only where the full resize does."""
    if columns is None:
        return 0, small_w
    x0, x1 = columns
    grain = small_w // math.gcd(small_w, width)          # working columns per whole number of full-size columns
    scale = small_w / width
    first = int(np.clip(np.floor((x0 + 0.5) * scale - 0.5), 0, small_w - 1))
    last = int(np.clip(np.floor((x1 - 0.5) * scale - 0.5) + 1, 0, small_w - 1))   # the upper neighbour read
    start = grain * (first // grain)
    stop = min(small_w, grain * -(-(last + 2) // grain))
    return start, stop


def resize_columns(band: np.ndarray, small_w: int, width: int, columns: tuple[int, int] | None,
                   start: int = 0) -> np.ndarray:
    """Columns ``columns`` = (x0, x1) of ``cv2.resize(field, (width, rows), INTER_LINEAR)`` of a (rows, small_w,
    ...) float32 ``field``, from ``band`` = its columns ``start .. start + w' - 1`` as chosen by
    :func:`_working_columns` (``columns`` None: ``band`` is the whole field and every column is returned).
    Returns (rows, x1 - x0, ...) float32.

    Example:
        >>> field = np.arange(12, dtype=np.float32).reshape(1, 12)
        >>> whole = cv2.resize(field, (30, 1), interpolation=cv2.INTER_LINEAR)
        >>> start, stop = _working_columns(12, 30, (11, 19))
        >>> part = resize_columns(field[:, start:stop], 12, 30, (11, 19), start)
        >>> part.shape, bool(np.abs(part - whole[:, 11:19]).max() < 1e-5)
        ((1, 8), True)
    """
    rows = band.shape[0]
    if columns is None:
        return cv2.resize(band, (width, rows), interpolation=cv2.INTER_LINEAR)
    # whole numbers of full-size columns by the choice of start and stop: the full resize's scale exactly
    offset = start * width // small_w
    resized = cv2.resize(band, (band.shape[1] * width // small_w, rows), interpolation=cv2.INTER_LINEAR)
    return resized[:, columns[0] - offset:columns[1] - offset]


def band_planes(planes: np.ndarray, size: tuple[int, int], top: int, rows: int,
                columns: tuple[int, int] | None = None) -> np.ndarray:
    """:func:`band_rows` of planar fields: rows ``top .. top + rows - 1`` (and ``columns`` = (x0, x1), default all)
    of each (h, w) plane of ``planes`` (P, h, w) float32 resized bilinearly to ``size`` = (H, W). Returns (P, rows,
    x1 - x0) float32: each plane a (rows, x1 - x0) array (no ``cv2.split`` of an interleaved field), from one
    ``cv2.resize`` of the planes stacked by rows.

    Example:
        >>> planes = np.float32([[[0.0, 2.0], [4.0, 6.0]], [[1.0, 1.0], [1.0, 1.0]]])      # (2, 2, 2)
        >>> band_planes(planes, (4, 4), 1, 2)[0].tolist()
        [[1.0, 1.5, 2.5, 3.0], [3.0, 3.5, 4.5, 5.0]]
    """
    height, width = size
    count = planes.shape[0]
    lower, upper, frac = _row_weights(planes.shape[1], height, top, rows)
    start, stop = _working_columns(planes.shape[2], width, columns)
    frac = frac[None, :, None]
    part = planes[:, :, start:stop]
    band = part[:, lower] * (1.0 - frac) + part[:, upper] * frac    # (P, rows, w')
    stacked = np.ascontiguousarray(band, np.float32).reshape(count * rows, -1)
    # rows map to themselves (scale 1: weights 1 and 0), so this is the horizontal resize alone
    resized = resize_columns(stacked, planes.shape[2], width, columns, start)
    return resized.reshape(count, rows, resized.shape[1])


def band_positions(flow: np.ndarray, size: tuple[int, int], top: int, rows: int,
                   columns: tuple[int, int] | None = None) -> np.ndarray:
    """Absolute sample positions ``(j + u, i + v)`` of rows ``top .. top + rows - 1`` (and ``columns`` = (x0, x1),
    default all) of an (H, W) frame, from a working-size backward flow ``flow`` (h, w, 2) float32 in
    *full-resolution* pixels: the band's rows of ``cv2.resize(flow, (W, H), INTER_LINEAR)`` (:func:`band_rows`)
    plus the pixel grid. Returns (rows, x1 - x0, 2) float32.

    Example:
        >>> flow = np.zeros((2, 2, 2), np.float32); flow[..., 0] = 1.0     # one pixel right everywhere
        >>> band_positions(flow, (4, 4), 2, 2)[:, :, 0].tolist()
        [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]]
    """
    x0, x1 = (0, size[1]) if columns is None else columns
    positions = band_rows(flow, size, top, rows, columns)
    positions[..., 0] += np.arange(x0, x1, dtype=np.float32)
    positions[..., 1] += np.arange(top, top + rows, dtype=np.float32)[:, None]
    return positions


def grade_matrix(slope: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The 3×4 ``cv2.transform`` matrix on uint8 RGB of the per-channel grade ``slope * x + offset`` defined on
    [-1, 1] values (:func:`~cinescape.ops.render.guided_color_coefficients` with ``locality=0``).

    Example:
        >>> grade_matrix(np.ones(3), np.zeros(3)).tolist()[0]      # the identity
        [1.0, 0.0, 0.0, 0.0]
    """
    slope = np.asarray(slope, np.float64).reshape(3)
    offset = np.asarray(offset, np.float64).reshape(3)
    matrix = np.zeros((3, 4), np.float32)
    matrix[np.arange(3), np.arange(3)] = slope
    # y = a x + b on [-1, 1]; X = 127.5 (x + 1)  =>  Y = a X + 127.5 (b - a + 1)
    matrix[:, 3] = 127.5 * (offset - slope + 1.0)
    return matrix


@dataclass
class FastLayers:
    """What :func:`render_frame_bands` needs of a photo: the uint8 ``photo`` (H, W, 3) for rows without fluid,
    the ``source`` (H, W, 3) that the copies sample (the fluid layer, or the photo without layers): float32 in
    [-1, 1], or uint8 ``127.5 (x + 1)`` (converted a band's rows at a time, :func:`source_window`: a quarter of the
    memory), and with layers the (H, W, 1) float32 matte ``alpha`` and the premultiplied still layer
    ``photo - alpha * fluid`` as (H, W, 3) float32 ``still``, or None: then made per band from ``photo`` and
    ``source`` (:class:`~cinescape.ops.layers.PhotoLayers`'s own arrays: nothing is copied); ``rows``: the
    (first, end) rows holding any fluid (all rows without layers); ``opaque``: (H,) bool, the rows where ``alpha``
    is 1 everywhere (their frame is the copies' blend itself); ``columns``: (H, 2) int, per row the columns
    ``[first, end)`` holding any fluid (:func:`fluid_columns`; None without layers: every column)."""

    photo: np.ndarray
    source: np.ndarray
    alpha: np.ndarray | None = None
    still: np.ndarray | None = None
    rows: tuple[int, int] | None = None
    opaque: np.ndarray | None = None
    columns: np.ndarray | None = None

    def __post_init__(self):
        self.photo = np.ascontiguousarray(self.photo)    # e.g. a flipped view: OpenCV writes C-contiguous rows
        if self.opaque is None and self.alpha is not None:   # rows wholly fluid (alpha 1): no composite there
            self.opaque = (self.alpha.reshape(self.alpha.shape[:2]) >= 1.0).all(axis=1)
        if self.rows is None:
            if self.alpha is None:
                self.rows = (0, self.photo.shape[0])
            else:
                moving = np.flatnonzero(self.alpha.reshape(self.alpha.shape[:2]).any(axis=1))
                self.rows = (int(moving[0]), int(moving[-1]) + 1) if moving.size else (0, 0)
        if self.columns is None and self.alpha is not None:   # beyond them a row is the photo: no sampling
            self.columns = fluid_columns(self.alpha)


def render_frame_bands(layers: FastLayers, copies: list[tuple[np.ndarray, float | np.ndarray | None]],
                       grade: np.ndarray | None = None, out: np.ndarray | None = None,
                       coefficients: np.ndarray | None = None) -> np.ndarray:
    """One uint8 (H, W, 3) frame: the copies of ``layers.source`` sampled along their flows, blended, composited
    over the still layer and graded (see the module docstring), one band of rows at a time.

    Args:
        layers: :class:`FastLayers` of the photo.
        copies: one or two ``(flow, weight)``: ``flow`` (h, w, 2) float32 working-size backward flow in
            full-resolution pixels; ``weight`` a float, or an (H, W) float32 per-pixel weight map (the weights of a
            frame sum to 1 at every pixel).
        grade: a 3×4 matrix on uint8 RGB (:func:`grade_matrix`), or None (no colour change).
        out: an (H, W, 3) uint8 array to write into (a new one by default).
        coefficients: for two copies, an (h, w, 5) float32 working-size field ``[a, b, m_0, m_1, m_2]``: the blend
            is ``a * c_0 + b * c_1 + m`` with the field resized bilinearly to each band (the per-pixel phased loop's
            contrast-keeping blend, :func:`~cinescape.ops.phased.blend_coefficients`; ``a + b`` >= 1 there, and it
            must be well above 0); the copies' weights are then ignored (give None). An (h, w, 7) field ``[a, b, m, s_x, s_y]`` also sharpens the blend along x and
            y by those strengths (:func:`~cinescape.ops.resample.sharpen_axes`, undoing the bicubic sampling's
            softening): each band is then blended one row beyond its ends, the rows its 3-tap filters read.

    Example:
        >>> photo = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
        >>> source = photo.astype(np.float32) / 127.5 - 1
        >>> unmoved = np.zeros((4, 6, 2), np.float32)
        >>> bool((render_frame_bands(FastLayers(photo, source), [(unmoved, 1.0)]) == photo).all())
        True
    """
    height, width = layers.photo.shape[:2]
    out = np.empty(layers.photo.shape, np.uint8) if out is None else out
    first, end = layers.rows
    step = band_height(width, BAND_PIXELS)   # the module value at call time (tests set smaller bands)
    # [-1, 1] -> uint8 units, with the grade folded in: Y = 127.5 a x + 127.5 (a + b') where the grade on uint8 is
    # Y = a X + c, X = 127.5 (x + 1)
    to_uint8 = np.zeros((3, 4), np.float32)
    to_uint8[np.arange(3), np.arange(3)] = 127.5
    to_uint8[:, 3] = 127.5
    if grade is not None:
        to_uint8 = grade[:, :3] @ to_uint8 + np.concatenate((np.zeros((3, 3), np.float32), grade[:, 3:]), axis=1)
    photo_to_uint8 = to_uint8.copy()                   # the same for x - 1
    photo_to_uint8[:, 3] -= to_uint8[:, :3].sum(axis=1)
    for top, bottom in ((0, first), (end, height)):    # rows without fluid: the photo, graded
        for y in range(top, bottom, step):
            y1 = min(y + step, bottom)
            _graded_photo(layers.photo[y:y1], grade, out[y:y1])
    sharpen = coefficients is not None and coefficients.shape[2] == 7
    fields = None if coefficients is None else _blend_fields(coefficients)
    for y in range(first, end, step):
        y1 = min(y + step, end)
        x0, x1 = band_columns(layers.columns, y, y1, width)
        if x1 <= x0:                                   # no fluid in these rows after all
            x0 = x1 = width
        for left, right in ((0, x0), (x1, width)):     # the band's columns without fluid: the photo, graded
            if right > left:
                _graded_photo(layers.photo[y:y1, left:right], grade, out[y:y1, left:right])
        if x1 > x0:
            _render_block(layers, copies, fields, sharpen, (y, y1), (x0, x1), to_uint8, photo_to_uint8,
                          out[y:y1, x0:x1])
    return out


def band_columns(columns: np.ndarray | None, top: int, bottom: int, width: int) -> tuple[int, int]:
    """The columns ``(first, end)`` that hold fluid in rows ``top .. bottom - 1``, from per-row ``columns`` (H, 2)
    int ``[first, end)`` (:attr:`FastLayers.columns`; a row without fluid has first >= end), or ``(0, width)``
    for None. ``first >= end`` when no row of the band holds fluid.

    Example:
        >>> band_columns(np.array([[5, 9], [3, 6], [8, 0]]), 0, 3, 12), band_columns(None, 0, 3, 12)
        ((3, 9), (0, 12))
    """
    if columns is None:
        return 0, width
    return int(columns[top:bottom, 0].min()), int(columns[top:bottom, 1].max())


def fluid_columns(alpha: np.ndarray) -> np.ndarray:
    """Per row of an (H, W) or (H, W, 1) matte, the columns ``[first, end)`` between its first and last non-zero
    values: (H, 2) int64, ``[W, 0]`` for a row without any. Beyond them a frame is the photo itself.

    Example:
        >>> fluid_columns(np.float32([[0, 0.5, 0, 1, 0], [0, 0, 0, 0, 0]])).tolist()
        [[1, 4], [5, 0]]
    """
    moving = alpha.reshape(alpha.shape[:2]) != 0
    width = moving.shape[1]
    any_fluid = moving.any(axis=1)
    first = np.where(any_fluid, moving.argmax(axis=1), width)
    end = np.where(any_fluid, width - moving[:, ::-1].argmax(axis=1), 0)
    return np.stack((first, end), axis=1).astype(np.int64)


def _graded_photo(photo: np.ndarray, grade: np.ndarray | None, out: np.ndarray) -> None:
    """``out`` = the uint8 ``photo`` block, graded by the 3×4 ``grade`` (None: copied)."""
    if grade is None:
        np.copyto(out, photo)
    else:
        cv2.transform(photo, grade, dst=out)


def _render_block(layers: FastLayers, copies, fields, sharpen: bool, rows: tuple[int, int],
                  columns: tuple[int, int], to_uint8: np.ndarray, photo_to_uint8: np.ndarray,
                  out: np.ndarray) -> None:
    """Rows ``rows`` = (y, y1) and columns ``columns`` = (x0, x1) of a frame of :func:`render_frame_bands` written
    into ``out`` (y1 - y, x1 - x0, 3) uint8: the copies sampled, blended, sharpened, composited and graded. With
    sharpening the block is made one row and one column beyond its ends (the pixels its 3-tap filters read, cropped
    after), so a block equals the same pixels of a whole-width band."""
    height, width = layers.photo.shape[:2]
    y, y1 = rows
    x0, x1 = columns
    top, bottom = (max(y - 1, 0), min(y1 + 1, height)) if sharpen else (y, y1)
    left, right = (max(x0 - 1, 0), min(x1 + 1, width)) if sharpen else (x0, x1)
    size = (height, width)
    positions = [band_positions(flow, size, top, bottom - top, (left, right)) for flow, _ in copies]
    # the rows and columns the copies sample: the block's, moved by its flows' extremes
    low, high, least_x, most_x = top, bottom - 1, left, right - 1
    for flow, _ in copies:
        least, most = band_extent(flow[..., 1], size, top, bottom - top)
        low, high = min(low, top + least), max(high, bottom - 1 + most)
        least, most = band_extent(flow[..., 0], size, top, bottom - top)
        least_x, most_x = min(least_x, left + least), max(most_x, right - 1 + most)
    source, (offset, offset_x) = source_block(layers.source, (low, high, top, bottom), (least_x, most_x, left, right))
    warped = []
    for where, (_, weight) in zip(positions, copies):
        if offset or offset_x:
            where -= np.float32([offset_x, offset])
        warped.append((cv2.remap(source, where, None, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT), weight))
    if fields is None:
        frame = _blend(warped, (y, y1), (x0, x1))
    else:
        planes = band_planes(fields[0], size, top, bottom - top, (left, right))
        gain, mean = (None if field is None else band_rows(field, size, top, bottom - top, (left, right))
                      for field in fields[1:])
        frame = _blend_coefficients(warped, np.ascontiguousarray(planes[0]), np.ascontiguousarray(planes[1]),
                                    gain, mean)
        if sharpen:
            frame = _sharpen_band(frame, planes[2], planes[3])[y - top:y1 - top, x0 - left:x1 - left]
    matrix = to_uint8
    if layers.alpha is not None and layers.opaque[y:y1].all():
        pass                              # alpha 1 across the band: the frame is the blend
    elif layers.alpha is not None and layers.still is not None:
        frame = np.ascontiguousarray(frame)
        cv2.multiply(frame, _three_channels(layers.alpha[y:y1, x0:x1]), dst=frame)
        cv2.add(frame, layers.still[y:y1, x0:x1], dst=frame)
    elif layers.alpha is not None:    # alpha * (blend - fluid) + photo, the photo's pixels made float here
        frame = np.ascontiguousarray(frame)
        cv2.subtract(frame, source[y - offset:y1 - offset, x0 - offset_x:x1 - offset_x], dst=frame)
        cv2.multiply(frame, _three_channels(layers.alpha[y:y1, x0:x1]), dst=frame)
        cv2.scaleAdd(layers.photo[y:y1, x0:x1].astype(np.float32), 1.0 / 127.5, frame, dst=frame)
        matrix = photo_to_uint8          # the photo's -1 folded into the matrix
    frame = np.ascontiguousarray(frame)
    cv2.transform(frame, matrix, dst=frame)
    cv2.patchNaNs(frame, 0.0)
    # one pass: saturate_cast<uchar>(round(x)) rounds and clamps
    cv2.addWeighted(frame, 1.0, frame, 0.0, 0.0, dst=out, dtype=cv2.CV_8U)


#: Rows beyond a band's sample positions that the bicubic kernel reads (two each side) and one for rounding.
CUBIC_MARGIN = 3


def band_extent(field: np.ndarray, size: tuple[int, int], top: int, rows: int) -> tuple[float, float]:
    """The least and greatest value of rows ``top .. top + rows - 1`` of the bilinear resize of a working-size
    (h, w) ``field`` to ``size`` = (H, W) (:func:`band_rows`), read from the few working-size rows they interpolate
    (a bilinear resize stays within its inputs' range): no pass over the band. NaN if the field holds NaN.

    Example:
        >>> field = np.float32([[0.0, 2.0], [4.0, 6.0], [8.0, 9.0]])
        >>> band_extent(field, (6, 4), 0, 2)        # full-size rows 0-1 read working rows 0-1
        (0.0, 6.0)
    """
    height = size[0]
    small_h = field.shape[0]
    scale = small_h / height
    lower = int(np.clip(np.floor((top + 0.5) * scale - 0.5), 0, small_h - 1))
    upper = int(np.clip(np.floor((top + rows - 0.5) * scale - 0.5) + 1, 0, small_h - 1))
    rows_read = field[lower:upper + 1]
    return float(rows_read.min()), float(rows_read.max())


def _window(low: float, high: float, first: int, end: int, length: int) -> tuple[int, int]:
    """Along one axis of ``length`` pixels: the range ``[start, stop)`` that bicubic samples at ``low .. high``
    read (reflected borders included; NaN bounds: all of it), and ``first .. end - 1`` themselves."""
    if not (np.isfinite(low) and np.isfinite(high)):   # NaN (or inf): the whole axis
        low, high = 0.0, length - 1.0
    if low < 0:                        # reflected off the start: pixels up to -low are read too
        high = max(high, -low)
    if high > length - 1:              # and off the end
        low = min(low, 2 * length - 1 - high)
    start = min(int(np.clip(np.floor(low) - CUBIC_MARGIN, 0, length)), first)
    stop = max(int(np.clip(np.ceil(high) + CUBIC_MARGIN + 1, 0, length)), end)
    return start, stop


def source_window(source: np.ndarray, low: float, high: float, top: int, bottom: int) -> tuple[np.ndarray, int]:
    """The rows of ``source`` (H, W, C) that bicubic samples at rows ``low .. high`` (source-row coordinates) read,
    and rows ``top .. bottom - 1`` themselves, as float32 in [-1, 1]: ``(window, offset)``, the window holding
    source rows ``offset ..`` (sample positions must be shifted up by ``offset``). A float32 source is returned as
    it is (offset 0); a uint8 one (``127.5 (x + 1)``) has only those rows converted, so no full-resolution float
    copy is held. The window starts at row 0 or ends at row H where a sample reflects off the border, so
    ``BORDER_REFLECT`` reads what it would read in the whole source; NaN bounds take the whole height.

    Example:
        >>> window, offset = source_window(np.zeros((100, 4, 3), np.uint8), 50.0, 51.5, 40, 42)
        >>> offset, window.shape[0], float(window[0, 0, 0])         # rows 40-41, and 47 .. 55
        (40, 16, -1.0)
    """
    window, (offset, _) = source_block(source, (low, high, top, bottom), None)
    return window, offset


def source_block(source: np.ndarray, rows: tuple[float, float, int, int],
                 columns: tuple[float, float, int, int] | None) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`source_window` along both axes: the block of ``source`` (H, W, C) that bicubic samples at rows
    ``rows[0] .. rows[1]`` and columns ``columns[0] .. columns[1]`` read, including rows ``rows[2] .. rows[3] - 1``
    and columns ``columns[2] .. columns[3] - 1``, as float32 in [-1, 1]: ``(block, (row_offset, column_offset))``
    (sample positions must be shifted by the offsets). ``columns`` None: every column. A float32 source is returned
    as it is (offsets 0).

    Example:
        >>> block, offsets = source_block(np.zeros((100, 80, 3), np.uint8), (50.0, 51.5, 40, 42), (10.0, 12.0, 8, 9))
        >>> offsets, block.shape[:2]            # rows 40 .. 55, columns 7 .. 15
        ((40, 7), (16, 9))
    """
    if source.dtype != np.uint8:
        return source, (0, 0)
    start, stop = _window(*rows, source.shape[0])
    left, right = (0, source.shape[1]) if columns is None else _window(*columns, source.shape[1])
    block = source[start:stop, left:right]
    window = cv2.addWeighted(block, 1.0 / 127.5, block, 0.0, -1.0, dtype=cv2.CV_32F)
    return window, (start, left)


def _blend(warped: list[tuple[np.ndarray, float | np.ndarray]], rows: tuple[int, int],
           columns: tuple[int, int]) -> np.ndarray:
    """The copies' blend, written into the first copy's array (per-pixel weights read at ``rows`` and ``columns``,
    each a (start, stop) range)."""
    if len(warped) == 1:
        return warped[0][0]
    if len(warped) != 2:
        raise ValueError(f"render_frame_bands blends one or two copies, got {len(warped)}")
    (first, w1), (second, w2) = warped
    if np.ndim(w1) == 0:
        return cv2.addWeighted(first, float(w1), second, float(w2), 0.0, dst=first)
    (top, bottom), (left, right) = rows, columns
    return cv2.blendLinear(first, second, np.ascontiguousarray(w1[top:bottom, left:right], np.float32),
                           np.ascontiguousarray(w2[top:bottom, left:right], np.float32), dst=first)


def _blend_fields(coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A working-size (h, w, 5 or 7) field ``[a, b, m (, s_x, s_y)]`` as what a band's blend reads: the planes
    (P, h, w) ``[a, b (, s_x, s_y)]``; the gain ``a + b`` as an (h, w, 3) field, or None where it is 1 everywhere
    (the plain blend); ``m`` (h, w, 3), or None where it is 0 everywhere (no contrast term)."""
    scalars = (0, 1, 5, 6) if coefficients.shape[2] == 7 else (0, 1)
    planes = np.ascontiguousarray(coefficients[..., scalars].transpose(2, 0, 1), np.float32)
    gain = coefficients[..., 0:1] + coefficients[..., 1:2]
    gain = None if np.all(np.abs(gain - 1.0) <= 1e-7) else np.ascontiguousarray(np.repeat(gain, 3, axis=2), np.float32)
    mean = coefficients[..., 2:5]
    mean = np.ascontiguousarray(mean, np.float32) if mean.any() else None
    return planes, gain, mean


def _blend_coefficients(warped: list[tuple[np.ndarray, object]], a: np.ndarray, b: np.ndarray,
                        gain: np.ndarray | None, mean: np.ndarray | None) -> np.ndarray:
    """``a * c_0 + b * c_1 + m`` with the band's (rows, W) planes ``a``, ``b`` and (rows, W, 3) fields ``gain`` =
    ``a + b`` and ``m`` (None: 1 and 0), written into the first copy's array: ``cv2.blendLinear`` weighs the
    three-channel copies by the one-channel planes and divides by ``a + b`` (+ 1e-5: 1e-5 of a level's error at
    ``a + b`` >= 1), which ``gain`` multiplies back."""
    if len(warped) != 2:
        raise ValueError(f"a coefficient blend takes two copies, got {len(warped)}")
    first, second = warped[0][0], warped[1][0]
    cv2.blendLinear(first, second, a, b, dst=first)
    if gain is not None:
        cv2.multiply(first, gain, dst=first)
    if mean is not None:
        cv2.add(first, mean, dst=first)
    return first


def _sharpen_band(frame: np.ndarray, strength_x: np.ndarray, strength_y: np.ndarray) -> np.ndarray:
    """``frame + s_x D_x + s_y D_y`` (:func:`~cinescape.ops.resample.sharpen_axes`: the luma's details, added to
    every channel) of a band with (rows, W) strengths, in place; the band's first and last rows see reflected
    neighbours (the caller crops them)."""
    brightness = cv2.transform(frame, LUMA)
    across = cv2.filter2D(brightness, cv2.CV_32F, DETAIL_KERNEL, borderType=cv2.BORDER_REFLECT)
    down = cv2.filter2D(brightness, cv2.CV_32F, DETAIL_KERNEL.T, borderType=cv2.BORDER_REFLECT)
    cv2.multiply(across, strength_x, dst=across)
    cv2.multiply(down, strength_y, dst=down)
    cv2.add(across, down, dst=across)
    cv2.add(frame, cv2.merge([across] * 3), dst=frame)
    return frame


def _three_channels(weights: np.ndarray) -> np.ndarray:
    """(rows, W, 1) or (rows, W) weights repeated on three channels, (rows, W, 3) float32."""
    single = weights.reshape(weights.shape[:2])
    return cv2.merge([single, single, single])
