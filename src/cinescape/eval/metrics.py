"""Metrics of the landscape-animation papers, as small stateless functions (plus the LPIPS network).

Conventions (stated once, used by every function here unless it says otherwise):

* An image batch is a float tensor of shape (B, 3, H, W) on the **0–255 scale** ("pixel scale");
  :func:`frames_to_tensor` converts uint8 (N, H, W, 3) frames to it. Networks (LPIPS, SqueezeNet) take
  the same pixel scale and map it to their own input range inside.
* A mask is a bool (or {0, 1} float) tensor of shape (H, W), (1, H, W) or (B, 1, H, W); ``True`` marks
  the pixels a masked metric averages over. An empty mask gives NaN, never an exception.
* Flows are (B, 2, H, W) tensors in **pixels** (channel 0 = x), as the synthetic generator's flows after
  :func:`cinescape.ops.flow_normalized_to_pixels`.
* Per-image metrics return a (B,) tensor; reduce it yourself (the harness averages over frames 1..N-1,
  since frame 0 of every method is the input itself).

Where the numbers come from:

* PSNR / SSIM: the standard definitions (Wang et al. 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01,
  K2 = 0.03, L = 255, valid-window SSIM map, mean over the colour channels). Masked variants average
  the squared error / the SSIM map over the mask only (FGLA Table 2, "we mask out dynamic pixels").
* LPIPS: Zhang et al. 2018, SqueezeNet-1.1 backbone + v0.1 linear heads (the "squeeze" variant).
* Moving mask: FGLA Eq. 14; motion ratio: OpenCV DIS optical flow; FID-style distances: Fréchet
  distance between Gaussians fitted to features.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..models.lpips import LPIPS, mask_like, masked_mean
from ..ops.optical_flow import optical_flow_dis

__all__ = [
    "PSNR_CAP_DB",
    "frames_to_tensor",
    "psnr",
    "ssim",
    "ssim_map",
    "rmse",
    "moving_mask",
    "LPIPS",
    "optical_flow_dis",
    "mean_flow_magnitude",
    "motion_ratio",
    "seam_ratio",
    "endpoint_error",
    "gaussian_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "nanmean",
    "inversion_quality",
]

#: PSNR of identical images would be infinite; it is capped here so averages stay finite (the cap
#: is reached at a mean squared error of 255² · 1e-10, far below one grey level).
PSNR_CAP_DB = 100.0
#: FGLA Eq. 14 threshold on the mean per-pixel L1 difference of consecutive real frames (0–255 scale).
FGLA_MOTION_THRESHOLD = 2.5


def frames_to_tensor(frames: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """uint8 frames (N, H, W, 3) (an array or a list of (H, W, 3)) -> float32 (N, 3, H, W) on the 0–255 scale."""
    array = np.stack(frames) if isinstance(frames, (list, tuple)) else np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"frames must be (N, H, W, 3), got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float()


# ---------------------------------------------------------------------------------- pixel metrics


def psnr(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 255), optionally over the pixels where ``mask`` is True.

    Identical images give :data:`PSNR_CAP_DB` (not infinity). Returns (B,).
    """
    error = (image.double() - reference.double()) ** 2
    mse = masked_mean(error, mask_like(mask, error))
    mse = mse.clamp_min(255.0 ** 2 * 10 ** (-PSNR_CAP_DB / 10))
    return (10 * torch.log10(255.0 ** 2 / mse)).float()


def rmse(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Root mean squared error of intensities in [0, 1] (i.e. pixel values / 255), as AL Fig. 10. Returns (B,)."""
    error = ((image.double() - reference.double()) / 255.0) ** 2
    return masked_mean(error, mask_like(mask, error)).sqrt().float()


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64) -> torch.Tensor:
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_map(image: torch.Tensor, reference: torch.Tensor, *, window_size: int = 11, sigma: float = 1.5,
             k1: float = 0.01, k2: float = 0.03, data_range: float = 255.0) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004), averaged over the colour channels -> (B, 1, H - 10, W - 10).

    Local statistics use a separable Gaussian window over valid positions only (no padding), so the
    map is ``window_size - 1`` pixels smaller than the input; pixel (i, j) of the map is centred on input
    pixel (i + 5, j + 5). Computed in float32 on values divided by ``data_range``, where the cancellation
    in E[x²] - E[x]² (~1e-7) is far below the stabiliser C2 = 9e-4.
    """
    if image.shape != reference.shape:
        raise ValueError(f"ssim: shapes differ, {tuple(image.shape)} vs {tuple(reference.shape)}")
    if min(image.shape[-2:]) < window_size:
        raise ValueError(f"ssim: images must be at least {window_size}x{window_size}, got {tuple(image.shape[-2:])}")
    x, y = image.float() / data_range, reference.float() / data_range
    channels = x.shape[1]
    g = _gaussian_window(window_size, sigma, torch.float32).to(x.device)
    gx = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    gy = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, gx, groups=channels), gy, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = k1 ** 2, k2 ** 2
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return value.mean(1, keepdim=True)


def ssim(image: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None,
         window_size: int = 11) -> torch.Tensor:
    """Mean SSIM (see :func:`ssim_map`), optionally over the window centres where ``mask`` is True. Returns (B,)."""
    value = ssim_map(image, reference, window_size=window_size)
    mask = mask_like(mask, image)
    if mask is not None:
        border = (window_size - 1) // 2  # the map covers the window centres only
        mask = mask[..., border:mask.shape[-2] - border, border:mask.shape[-1] - border]
    return masked_mean(value, mask).float()


def moving_mask(frames: torch.Tensor, threshold: float = FGLA_MOTION_THRESHOLD) -> torch.Tensor:
    """FGLA Eq. 14: pixels whose mean L1 change between consecutive frames exceeds ``threshold``.

    ``frames``: (T, 3, H, W) real video, T >= 2. The per-pixel difference is the L1 norm over the RGB
    channels (their absolute differences summed), on the 0–255 scale, averaged over the T - 1 pairs.
    Returns a bool (H, W) mask, True = moving (so the static-consistency metrics use ``~mask``).
    """
    if frames.shape[0] < 2:
        raise ValueError("moving_mask needs at least 2 frames")
    change = (frames[1:].double() - frames[:-1].double()).abs().sum(1).mean(0)
    return change > threshold


# -------------------------------------------------------------------------------------------- flow


def mean_flow_magnitude(flows: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean end-point length (pixels) of (B, 2, H, W) flows over the mask. Returns (B,)."""
    magnitude = flows.double().norm(dim=1, keepdim=True)
    return masked_mean(magnitude, mask_like(mask, magnitude)).float()


def motion_ratio(generated: np.ndarray, real: np.ndarray, mask: torch.Tensor | None = None,
                 real_flows: torch.Tensor | None = None) -> float:
    """Mean DIS flow magnitude of a generated video divided by that of the real video, on ``mask``.

    ``generated``, ``real``: uint8 (T, H, W, 3); ``mask``: the real clip's moving pixels
    (:func:`moving_mask`). 1 means as much motion as the real clip, 0 a still video: the guard
    against winning the static-consistency metrics by not animating. NaN if the real clip is still.
    ``real_flows`` may pass the real clip's :func:`optical_flow_dis` to avoid recomputing it.
    """
    if real_flows is None:
        real_flows = optical_flow_dis(real)
    gen = float(mean_flow_magnitude(optical_flow_dis(generated), mask).mean())
    ref = float(mean_flow_magnitude(real_flows, mask).mean())
    return gen / ref if ref > 1e-6 else float("nan")


def endpoint_error(flow: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean end-point error ``|flow - reference|_2`` in pixels over the mask. Returns (B,)."""
    error = (flow.double() - reference.double()).norm(dim=1, keepdim=True)
    return masked_mean(error, mask_like(mask, error)).float()


# -------------------------------------------------------------------------------------------- loop


def seam_ratio(frames: torch.Tensor) -> float:
    """How visible the loop seam is: the last -> first difference over the mean consecutive difference.

    ``frames``: (T, 3, H, W) pixel scale, T >= 3; differences are mean absolute differences. A seamless
    loop gives about 1, a cut loop much more; NaN when the video does not change at all.
    """
    if frames.shape[0] < 3:
        raise ValueError("seam_ratio needs at least 3 frames")
    x = frames.double()
    steps = (x[1:] - x[:-1]).abs().flatten(1).mean(1)
    seam = float((x[0] - x[-1]).abs().mean())
    mean_step = float(steps.mean())
    return seam / mean_step if mean_step > 1e-9 else float("nan")


# ------------------------------------------------------------------------------- Fréchet distance


def gaussian_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64. N >= 2."""
    x = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {x.shape}")
    return x.mean(0), np.cov(x, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2), as FID/FVD use it.

    ``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)``. The trace term is computed as the sum of the
    square roots of the eigenvalues of the symmetric PSD matrix ``S1^½ S2 S1^½`` (similar to ``S1 S2``,
    so the same eigenvalues): exact, and stable for the rank-deficient covariances of small test
    sets, where a general matrix square root (scipy's ``sqrtm``) returns complex noise.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)
    return max(value, 0.0)


def frechet_distance_from_features(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets (N >= 2 each).

    With fewer samples than dimensions (an evaluation on a few clips) the covariances are ``S = A Aᵀ``
    with ``A`` the centred features / sqrt(N - 1), and ``tr((S1 S2)^½)`` is the nuclear norm of the small
    N1×N2 matrix ``A1ᵀ A2`` (same non-zero eigenvalues): exact, and far cheaper than D×D eigenproblems.
    """
    x = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    y = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or min(x.shape[0], y.shape[0]) < 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two (N >= 2, D) feature sets of one D, got {x.shape} and {y.shape}")
    if x.shape[0] * y.shape[0] > x.shape[1] ** 2:
        return frechet_distance(*gaussian_statistics(x), *gaussian_statistics(y))
    ax = (x - x.mean(0)) / math.sqrt(x.shape[0] - 1)
    ay = (y - y.mean(0)) / math.sqrt(y.shape[0] - 1)
    trace_sqrt = float(np.linalg.svd(ax @ ay.T, compute_uv=False).sum())
    diff = x.mean(0) - y.mean(0)
    return max(float(diff @ diff + (ax * ax).sum() + (ay * ay).sum() - 2 * trace_sqrt), 0.0)


def nanmean(values) -> float:
    """Mean of the finite values, NaN if there are none (no warning)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    return float(array.mean()) if array.size else math.nan


# ------------------------------------------------------------------------------------- GAN inversion


def inversion_quality(reconstruction: torch.Tensor, target: torch.Tensor, lpips: LPIPS | None = None) -> dict:
    """How well a GAN inversion reproduces its photo: PSNR (dB, :func:`psnr`) and LPIPS-SqueezeNet of the
    reconstruction against the target, at the generator's resolution.

    ``reconstruction``, ``target``: (1, 3, R, R) in the generator's range [-1, 1] (clamped there), e.g. a
    DeepLandscape inversion's ``reconstruction()`` and ``target`` (the photo resized to R×R); mapped to the pixel
    scale by ``(x + 1) * 127.5`` without rounding. ``lpips``: the network (None: LPIPS is NaN).
    Returns ``{"inversion_psnr": float, "inversion_lpips": float}``.

    Example:
        >>> target = torch.zeros(1, 3, 8, 8)
        >>> round(inversion_quality(target + 0.02, target)["inversion_psnr"], 4)   # 20 log10(2 / 0.02)
        40.0
    """
    def pixels(x: torch.Tensor) -> torch.Tensor:
        return (x.detach().float().clamp(-1, 1) + 1) * 127.5

    rec, tgt = pixels(reconstruction), pixels(target)
    quality = {"inversion_psnr": float(psnr(rec, tgt).mean()), "inversion_lpips": math.nan}
    if lpips is not None:
        with torch.no_grad():
            quality["inversion_lpips"] = float(lpips(rec, tgt).mean())
    return quality
