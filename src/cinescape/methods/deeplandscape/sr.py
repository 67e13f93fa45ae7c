"""×4 super-resolution of generator frames (DeepLandscape's last stage, paper Sec. 3.2 "Super Resolution").

The paper uses ESRGAN×4 trained on (frame, its downscaled inversion) pairs. Real-ESRGAN's RRDBNet (16.7 M
parameters, ~290 GFLOP for one 128-px frame) is far beyond this project's CPU budget (60 frames in well under
two minutes), so this is a small residual network: bicubic ×4 plus a learnt correction predicted at low
resolution and pixel-shuffled up (ESPCN-style), trained here self-supervised on downscaled time-lapse frames
(deviation: plain downscaling, not inversion outputs, as the degraded input).

Images are (B, 3, h, w) in [-1, 1]; the output is (B, 3, 4h, 4w).

    python -m cinescape.methods.deeplandscape.sr --out runs/deeplandscape/sr --steps 2000   # trains on ../shared/data
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models.base import PretrainedMixin

__all__ = ["SuperResolutionConfig", "SuperResolution", "upscale_hwc"]


@dataclass
class SuperResolutionConfig:
    scale: int = 4
    channels: int = 32
    num_blocks: int = 4


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(F.relu(self.conv0(x)))


class SuperResolution(PretrainedMixin, nn.Module):
    """(B, 3, h, w) in [-1, 1] -> (B, 3, s·h, s·w): bicubic upsampling + a pixel-shuffled learnt residual."""

    config_class = SuperResolutionConfig
    model_type = "deeplandscape_super_resolution"

    def __init__(self, config: SuperResolutionConfig = SuperResolutionConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        self.head = nn.Conv2d(3, c, 3, padding=1)
        self.body = nn.Sequential(*(_Residual(c) for _ in range(config.num_blocks)))
        self.tail = nn.Conv2d(c, 3 * config.scale ** 2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # starts as plain bicubic
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        return base + F.pixel_shuffle(self.residual_features(x), self.config.scale)

    def residual_features(self, x: torch.Tensor) -> torch.Tensor:
        """The learnt residual before its pixel shuffle: (B, 3, h, w) -> (B, 3·s², h, w). The rendering shuffles it
        straight into (H, W, 3) arrays (:func:`upscale_hwc`) and adds it to an OpenCV bicubic upsampling."""
        return self.tail(self.body(F.relu(self.head(x))))


def upscale_hwc(small: np.ndarray, features: np.ndarray | None, scale: int) -> np.ndarray:
    """:class:`SuperResolution`'s output for one frame as an (s·h, s·w, 3) float32 array: the bicubic ×``scale``
    upsampling of ``small`` (h, w, 3) float32 (``cv2.INTER_CUBIC``: torch's ``bicubic``, ``align_corners=False``,
    within 4e-7, at a tenth of its CPU) plus ``features`` (3·s², h, w) from
    :meth:`SuperResolution.residual_features`, pixel-shuffled
    (``out[y·s + i, x·s + j, c] = features[c·s² + i·s + j, y, x]``); ``features=None``: the upsampling alone.

    >>> small = np.zeros((2, 2, 3), np.float32)
    >>> features = np.arange(12 * 4, dtype=np.float32).reshape(12, 2, 2)
    >>> upscale_hwc(small, features, 2)[:2, :2, 0].tolist()      # channel 0's 2x2 sub-pixels of input pixel (0, 0)
    [[0.0, 4.0], [8.0, 12.0]]
    """
    h, w = small.shape[:2]
    out = cv2.resize(small, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
    if features is not None:
        shuffled = features.reshape(3, scale, scale, h, w).transpose(3, 1, 4, 2, 0).reshape(h * scale, w * scale, 3)
        out += shuffled
    return out


# ------------------------------------------------------------------------------------------------ training

SR_SOURCES = ("motion/karlsruhe_2024-06-22", "motion/karlsruhe_2024-06-19", "motion/karlsruhe_2024-06-01",
              "motion/videos/clouds_stock.mp4", "appearance/sunset_to_night", "appearance/desert_city_webcam",
              "appearance/tilde_webcam/chamonix", "appearance/tilde_webcam/panorama")


def _load_frames(data: Path, per_source: int) -> list[np.ndarray]:
    from cinescape.io import read_clip

    frames = []
    for rel in SR_SOURCES:
        if (data / rel).exists():
            clip = read_clip(data / rel)
            for i in np.linspace(0, len(clip) - 1, min(per_source, len(clip))).round().astype(int):
                if min(np.asarray(clip[i]).shape[:2]) >= 256:  # skip thin panoramas
                    frames.append(np.asarray(clip[i]))
    if not frames:
        raise SystemExit(f"no training frames under {data}")
    return frames


def train_sr(out: str, *, data: str = "../shared/data", steps: int = 2000, batch: int = 16, patch: int = 96,
             seconds: float = 600.0, threads: int = 1, seed: int = 0) -> SuperResolution:
    """Self-supervised: random high-res patches, area-downscaled ×4 as input, L1 to the patch."""
    import cv2

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frames = _load_frames(Path(data), 12)
    model = SuperResolution()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.time()
    for step in range(1, steps + 1):
        hr = []
        for _ in range(batch):
            f = frames[rng.integers(len(frames))]
            scale = max(rng.uniform(0.35, 1.0), (patch + 2) / min(f.shape[:2]))  # content at several scales
            f = cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else f
            y, x = rng.integers(f.shape[0] - patch + 1), rng.integers(f.shape[1] - patch + 1)
            hr.append(f[y:y + patch, x:x + patch])
        hr = torch.from_numpy(np.stack(hr)).permute(0, 3, 1, 2).float() / 127.5 - 1
        lr = F.interpolate(hr, scale_factor=0.25, mode="area")
        loss = (model(lr) - hr).abs().mean()
        bicubic = (F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False) - hr).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == 1:
            print(f"step {step} l1 {loss.item():.4f} bicubic {bicubic.item():.4f} {time.time() - start:.0f}s", flush=True)
        if time.time() - start > seconds:
            break
    model.eval().save_pretrained(out, dtype=torch.float16)
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train the ×4 super-resolution network")
    parser.add_argument("--out", default="runs/deeplandscape/sr")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    train_sr(a.out, data=a.data, steps=a.steps, seconds=a.seconds, threads=a.threads)
