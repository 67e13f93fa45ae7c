"""The measurements of ``cinescape evaluate --photos`` (:mod:`cinescape.eval.photos`, whose docstring gives
the protocol): nearest-patch coherence, colour matching, motion inside / outside a mask, sharpness and the loop
seam of uint8 (H, W, 3) RGB frames, distances on the 0-255 scale."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..ops.optical_flow import optical_flow_dis
from . import metrics as M

__all__ = ["PATCH_SIZE", "resize_to_width", "evenly_spaced", "extract_patches", "NearestPatchIndex",
           "set_search_threads", "patch_coherence", "match_colour_statistics", "region_motion", "sharpness_ratio",
           "frame_sharpness_ratios", "seam_ratio_uint8"]

PATCH_SIZE = 7               # side of the compared patches


def resize_to_width(image: np.ndarray, width: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``image`` (H, W[, C]) resized to width ``min(width, W)`` and height ``round(H * w / W)`` (at least 1);
    never enlarged. Keeps the dtype (uint8 is rounded)."""
    height_in, width_in = image.shape[:2]
    if width >= width_in:
        return image
    height = max(1, round(height_in * width / width_in))
    return cv2.resize(image, (width, height), interpolation=interpolation)


def evenly_spaced(num_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over a loop of ``num_frames``, each in the middle of its share:
    ``(2 i + 1) * num_frames // (2 count)`` (distinct; all frames when there are fewer than ``count``).

    Not from frame 0 on: in most loops frame 0 is the photo itself (a free zero), and a loop whose frames return
    to the photo periodically (a phased loop of period 30 over 60 frames returns every 15) would otherwise be
    sampled exactly where it is the photo."""
    return sorted({(2 * i + 1) * num_frames // (2 * count) for i in range(count)})


def extract_patches(image: np.ndarray, patch: int = PATCH_SIZE, positions: np.ndarray | None = None) -> np.ndarray:
    """``patch`` × ``patch`` patches of an (h, w, 3) image as float32 rows of 3 * patch² values, in the
    order (channel, row, column) for every patch alike.

    Without ``positions``: all patches, (h - patch + 1, w - patch + 1, 3 * patch²), entry (i, j) the patch
    whose top-left pixel is (i, j) (centred on (i + r, j + r), r = patch // 2). With ``positions``: (Q,)
    flat indices into that (h - patch + 1, w - patch + 1) grid -> (Q, 3 * patch²), only those copied."""
    image = np.asarray(image, np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(image, (patch, patch), axis=(0, 1))
    if positions is None:
        return windows.reshape(*windows.shape[:2], -1)
    rows, columns = np.unravel_index(positions, windows.shape[:2])
    return windows[rows, columns].reshape(len(positions), -1)


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def set_search_threads(threads: int) -> None:
    """Threads of the nearest-patch search (faiss's OpenMP pool); the CLI's ``--threads``."""
    faiss = _faiss()
    if faiss is not None and threads > 0:
        faiss.omp_set_num_threads(threads)


class NearestPatchIndex:
    """All 7×7 patches of a reference image (float32 (h, w, 3), 0-255), searchable for the nearest one.

    :meth:`squared_distances` returns, for each query patch, the sum of squared differences (over the
    3 × 7 × 7 values, float64) to the nearest reference patch that the search finds. Search (chosen by
    measurement against exhaustive faiss and torch searches on two photos: 20-50x faster, mean RMS distance
    0.02-0.16 % above the exact one, 99.2-99.8 % of the nearest patches exact): the patches minus their mean
    are projected by PCA to :data:`PCA_DIMS` dimensions (99.6 % of the variance of a 384-px photo), an inverted file
    (:data:`IVF_LISTS` k-means cells, :data:`IVF_PROBES` probed) returns :data:`CANDIDATES` candidates, and
    these are re-ranked by their exact full-dimension distance, as is the reference patch at the query's own
    position when ``positions`` are given (so an unmoved patch is found exactly: distance 0). The result is
    a true distance to a real patch, never below the exact nearest. ``exact=True``, or a reference with fewer than
    :data:`EXACT_BELOW` patches, searches exhaustively (faiss ``IndexFlatL2``; a chunked torch search
    without faiss).
    """

    PCA_DIMS = 32
    IVF_LISTS = 1024
    IVF_PROBES = 16
    CANDIDATES = 8
    EXACT_BELOW = 40_000
    SAME_PATCH_TOLERANCE = 1e-6    # sum of squares (0-255 scale) under which a query is its own reference patch

    def __init__(self, reference: np.ndarray, *, exact: bool = False, patch: int = PATCH_SIZE):
        self.patch = patch
        self.grid_shape = (reference.shape[0] - patch + 1, reference.shape[1] - patch + 1)
        if min(self.grid_shape) < 1:
            raise ValueError(f"reference image {reference.shape[:2]} is smaller than a {patch}x{patch} patch")
        self.patches = np.ascontiguousarray(extract_patches(reference, patch).reshape(-1, 3 * patch * patch))
        self.mean = self.patches.mean(0)
        centred = self.patches - self.mean
        faiss = _faiss()
        self.exact = exact or len(self.patches) < self.EXACT_BELOW
        self.backend = "torch exhaustive" if faiss is None else (
            "faiss IndexFlatL2 (exhaustive)" if self.exact else
            f"faiss PCA{self.PCA_DIMS},IVF{self.IVF_LISTS},Flat nprobe {self.IVF_PROBES}, "
            f"{self.CANDIDATES} candidates re-ranked exactly")
        self.index = None
        if faiss is not None and self.exact:
            self.index = faiss.IndexFlatL2(centred.shape[1])
            self.index.add(centred)
        elif faiss is not None:
            self.index = faiss.index_factory(centred.shape[1], f"PCA{self.PCA_DIMS},IVF{self.IVF_LISTS},Flat")
            self.index.train(centred)
            self.index.add(centred)
            faiss.extract_index_ivf(self.index).nprobe = self.IVF_PROBES
        else:
            import torch

            self._torch_patches = torch.from_numpy(centred)

    def _candidates(self, centred_queries: np.ndarray) -> np.ndarray:
        """(Q, K) indices of candidate reference patches (-1 for none)."""
        if self.index is not None:
            _, found = self.index.search(centred_queries, 1 if self.exact else self.CANDIDATES)
            return found
        import torch

        queries = torch.from_numpy(centred_queries)
        reference = self._torch_patches
        norms = (reference * reference).sum(1)
        found = [(norms[None] - 2 * chunk @ reference.T).argmin(1, keepdim=True)
                 for chunk in queries.split(1024)]
        return torch.cat(found).numpy() if found else np.zeros((0, 1), np.int64)

    def squared_distances(self, queries: np.ndarray, positions: np.ndarray | None = None,
                          chunk: int = 4096) -> np.ndarray:
        """(Q,) float64 sums of squared differences from float32 (Q, 3 * 7²) ``queries`` to their nearest
        reference patch. ``positions``: (Q,) flat indices into the reference patch grid of the queries' own
        positions: their reference patch is then a candidate too, and a query that matches it (sum of
        squares <= :data:`SAME_PATCH_TOLERANCE`) is not searched further (an unmoved patch costs nothing)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        out = np.full(len(queries), np.inf)
        search = np.arange(len(queries))
        if positions is not None:
            own = queries.astype(np.float64) - self.patches[positions]
            out = np.einsum("qd,qd->q", own, own)
            search = np.flatnonzero(out > self.SAME_PATCH_TOLERANCE)
        for start in range(0, len(search), chunk):
            rows = search[start:start + chunk]
            block = queries[rows]
            candidates = self._candidates(np.ascontiguousarray(block - self.mean))
            valid = candidates >= 0
            differences = block[:, None, :].astype(np.float64) - self.patches[np.where(valid, candidates, 0)]
            distances = np.where(valid, np.einsum("qkd,qkd->qk", differences, differences), np.inf)
            out[rows] = np.minimum(out[rows], distances.min(1))
        return out


def _patch_positions(region: np.ndarray, stride: int, patch: int = PATCH_SIZE) -> np.ndarray:
    """Flat indices into the patch grid of an image with (h, w) bool ``region`` of the patches whose centre
    lies in the region, on every ``stride``-th row and column of the grid."""
    r = patch // 2
    grid = region[r:region.shape[0] - r, r:region.shape[1] - r]
    keep = np.zeros_like(grid)
    keep[::stride, ::stride] = grid[::stride, ::stride]
    return np.flatnonzero(keep)


def patch_coherence(frames: list[np.ndarray], index: NearestPatchIndex, region: np.ndarray | None = None,
                    stride: int = 1) -> float:
    """Mean RMS distance (0-255 scale, over the 3 × 7 × 7 values) from each 7×7 patch centred in ``region``
    of each frame to its nearest patch in ``index`` (the photo).

    ``frames``: (h, w, 3) arrays (uint8 or float) of the reference's size; ``region``: (h, w) bool, None = the
    whole frame; ``stride``: query patches on every stride-th row and column. Every frame contributes the same
    patches, so this is also the mean of the per-frame means. NaN when the region holds no patch centre.
    """
    shape = (index.grid_shape[0] + index.patch - 1, index.grid_shape[1] + index.patch - 1)
    region = np.ones(shape, bool) if region is None else np.asarray(region, bool)
    positions = _patch_positions(region, stride, index.patch)
    if positions.size == 0:
        return math.nan
    total = 0.0
    for frame in frames:
        if frame.shape[:2] != shape:
            raise ValueError(f"frame {frame.shape[:2]} and reference {shape} differ in size")
        queries = extract_patches(frame, index.patch, positions)
        total += float(np.sqrt(index.squared_distances(queries, positions) / queries.shape[1]).sum())
    return total / (positions.size * len(frames))


def match_colour_statistics(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``frame`` (h, w, 3) with each channel's mean and standard deviation (over the whole frame) set to
    ``reference``'s: ``(frame - mean_f) / std_f * std_r + mean_r`` -> float32, not clipped. A flat channel
    (std < 1e-6) takes the reference's mean."""
    mean_f, std_f = (v.ravel() for v in cv2.meanStdDev(np.asarray(frame)))
    mean_r, std_r = (v.ravel() for v in cv2.meanStdDev(np.asarray(reference)))
    gain = np.where(std_f > 1e-6, std_r / np.maximum(std_f, 1e-6), 0.0)
    offset = mean_r - mean_f * gain
    return np.asarray(frame, np.float32) * gain.astype(np.float32) + offset.astype(np.float32)


def region_motion(frames: np.ndarray | list[np.ndarray], mask: np.ndarray) -> tuple[float, float]:
    """Mean OpenCV DIS optical-flow magnitude (px/frame; :func:`cinescape.ops.optical_flow.optical_flow_dis`,
    its "medium" preset) between consecutive uint8 (h, w, 3) frames, inside and outside the (h, w) bool
    ``mask`` (NaN for an empty side). Averages run over pixels, then over the T - 1 pairs; a pair of identical
    frames is taken as zero flow without running DIS."""
    mask = np.asarray(mask, bool)
    inside, outside = [], []
    for previous, current in zip(frames[:-1], frames[1:]):
        if np.array_equal(previous, current):
            inside.append(0.0)
            outside.append(0.0)
            continue
        flow = optical_flow_dis(np.stack([previous, current]))[0].numpy()  # (2, h, w), pixels
        magnitude = np.sqrt(flow[0] * flow[0] + flow[1] * flow[1])
        inside.append(float(magnitude[mask].mean()) if mask.any() else math.nan)
        outside.append(float(magnitude[~mask].mean()) if (~mask).any() else math.nan)
    return M.nanmean(inside), M.nanmean(outside)


def _laplacian_energy(image: np.ndarray, region: np.ndarray | None) -> float:
    """Mean squared 3×3 Laplacian over the RGB channels and the (h, w) bool region of a float (h, w, 3) image."""
    laplacian = cv2.Laplacian(np.asarray(image, np.float32), cv2.CV_32F, ksize=1)
    squared = cv2.multiply(laplacian, laplacian)
    mask = None if region is None else region.astype(np.uint8)
    return float(np.mean(cv2.mean(squared, mask=mask)[:3]))


def sharpness_ratio(frames: list[np.ndarray], photo: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared Laplacian of the frames over the photo's, in ``region`` ((h, w) bool, None = everywhere).

    ``frames``, ``photo``: (h, w, 3) of one size; each frame is colour-normalised to the photo first
    (:func:`match_colour_statistics`), so a darker or paler frame is not called blurry. 1 = as sharp as the
    photo, below 1 = blurred (NaN for a flat photo or an empty region)."""
    if region is not None and not np.any(region):
        return math.nan
    reference = _laplacian_energy(photo, region)
    if reference < 1e-9:
        return math.nan
    energies = [_laplacian_energy(match_colour_statistics(f, photo), region) for f in frames]
    return float(np.mean(energies)) / reference


def _mean_abs_laplacian(image: np.ndarray, mask: np.ndarray | None) -> float:
    """Mean |3×3 Laplacian| over the RGB channels and the uint8 (h, w) ``mask`` of a float (h, w, 3) image."""
    laplacian = cv2.Laplacian(np.asarray(image, np.float32), cv2.CV_32F, ksize=1)
    return float(np.mean(cv2.mean(np.abs(laplacian), mask=mask)[:3]))


def frame_sharpness_ratios(frames: list[np.ndarray], photo: np.ndarray, region: np.ndarray | None = None
                           ) -> np.ndarray:
    """Per-frame sharpness of the moving region: mean |Laplacian| (3×3, per RGB channel) of each frame in
    ``region`` over the photo's, each frame colour-normalised to the photo first (:func:`match_colour_statistics`).

    The "loops never go soft" measure (issue 30): its minimum over a loop finds the softest moment (a cross-fade
    midpoint), which :func:`sharpness_ratio`'s loop mean of squared Laplacians hides. Mean |Laplacian| rather
    than its square, so a few strong edges do not dominate. ``frames``, ``photo``: (h, w, 3) of one size;
    ``region``: (h, w) bool, None = everywhere. Returns (T,) float64: 1 = as sharp as the photo, < 1 softer (all
    NaN for a flat photo or an empty region).

    Example:
        >>> photo = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
        >>> blurred = cv2.GaussianBlur(photo, (0, 0), 1.0)
        >>> ratios = frame_sharpness_ratios([photo, blurred], photo)
        >>> float(ratios[0]), bool(ratios[1] < 0.5)
        (1.0, True)
    """
    if region is not None and not np.any(region):
        return np.full(len(frames), math.nan)
    mask = None if region is None else np.asarray(region, bool).astype(np.uint8)
    reference = _mean_abs_laplacian(photo, mask)
    if reference < 1e-9:
        return np.full(len(frames), math.nan)
    return np.array([_mean_abs_laplacian(match_colour_statistics(f, photo), mask) / reference for f in frames])


def seam_ratio_uint8(frames: list[np.ndarray] | np.ndarray) -> float:
    """:func:`cinescape.eval.metrics.seam_ratio` (the last -> first mean absolute difference over the mean
    consecutive one; NaN for a still video) of uint8 (T, h, w, 3) frames, T >= 3, without float copies of
    the whole video."""
    if len(frames) < 3:
        raise ValueError("seam_ratio needs at least 3 frames")
    steps = [float(np.mean(cv2.mean(cv2.absdiff(a, b))[:3])) for a, b in zip(frames[:-1], frames[1:])]
    seam = float(np.mean(cv2.mean(cv2.absdiff(frames[-1], frames[0]))[:3]))
    mean_step = float(np.mean(steps))
    return seam / mean_step if mean_step > 1e-9 else math.nan

