"""Networks that help invert and relight a photo with the DeepLandscape generator (paper Sec. 3.2).

* :class:`StyleEncoder` E: image (B, 3, R, R) in [-1, 1] -> extended style W' (B, N, w_dim). Trained on the
  generator's own samples with a mean-absolute-error loss. The paper uses ResNet-152 features from several
  levels, global-average-pooled and concatenated, and a two-layer ReLU perceptron; we keep that structure with a
  small residual network (deviation: size).
* :class:`LightingApproximator` A: (w_a, z_dyn_b, c) -> w, trained so that
  ``A(M(z_st, z_dyn_a), z_dyn_b, c) ~ M(z_st, sqrt(1 - c) z_dyn_a + sqrt(c) z_dyn_b)``; it changes the lighting of
  an inverted photo whose z is unknown. Written as ``w_a + c * MLP(w_a, z_dyn_b, c)`` so that c = 0 is exactly
  the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models.base import PretrainedMixin

__all__ = ["StyleEncoderConfig", "StyleEncoder", "LightingApproximatorConfig", "LightingApproximator"]


class _ResidualDown(nn.Module):
    """3×3 stride-2 conv, 3×3 conv, GroupNorm + ReLU, with a strided 1×1 skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.norm0 = nn.GroupNorm(8, out_channels)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(8, out_channels)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm0(self.conv0(x)))
        h = self.norm1(self.conv1(h))
        return F.relu(h + self.skip(x))


@dataclass
class StyleEncoderConfig:
    resolution: int = 128
    num_ws: int = 6
    w_dim: int = 256
    widths: tuple[int, ...] = (32, 64, 96, 128, 128)
    hidden: int = 256

    def __post_init__(self):
        self.widths = tuple(self.widths)  # JSON gives a list


class StyleEncoder(PretrainedMixin, nn.Module):
    """E: (B, 3, R, R) in [-1, 1] -> W' (B, num_ws, w_dim)."""

    config_class = StyleEncoderConfig
    model_type = "deeplandscape_style_encoder"

    def __init__(self, config: StyleEncoderConfig = StyleEncoderConfig()):
        super().__init__()
        self.config = config
        self.stem = nn.Conv2d(3, config.widths[0], 3, padding=1)
        channels = [config.widths[0], *config.widths]
        self.stages = nn.ModuleList(_ResidualDown(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.head = nn.Sequential(nn.Linear(sum(config.widths), config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, config.num_ws * config.w_dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-2:] != (self.config.resolution, self.config.resolution):
            image = F.interpolate(image, size=(self.config.resolution,) * 2, mode="bilinear", align_corners=False,
                                  antialias=True)
        h = F.relu(self.stem(image))
        pooled = []
        for stage in self.stages:
            h = stage(h)
            pooled.append(h.mean(dim=(2, 3)))
        return self.head(torch.cat(pooled, dim=1)).view(-1, self.config.num_ws, self.config.w_dim)


@dataclass
class LightingApproximatorConfig:
    w_dim: int = 256
    z_dynamic_dim: int = 128
    hidden: int = 256
    num_layers: int = 3


class LightingApproximator(PretrainedMixin, nn.Module):
    """A: w_a (B, w_dim) or (B, N, w_dim), z_dyn_b (B, D_dyn), c (B,) in [0, 1] -> w of the same shape as w_a."""

    config_class = LightingApproximatorConfig
    model_type = "deeplandscape_lighting"

    def __init__(self, config: LightingApproximatorConfig = LightingApproximatorConfig()):
        super().__init__()
        self.config = config
        dims = [config.w_dim + config.z_dynamic_dim + 1] + [config.hidden] * config.num_layers
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(dims[-1], config.w_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, w_a: torch.Tensor, z_dynamic_b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if w_a.dim() == 3:  # extended W: the same target and coefficient at every resolution
            b, n, d = w_a.shape
            out = self.forward(w_a.reshape(b * n, d), z_dynamic_b.repeat_interleave(n, 0), c.repeat_interleave(n, 0))
            return out.view(b, n, d)
        c = c.view(-1, 1).to(w_a.dtype)
        return w_a + c * self.net(torch.cat((w_a, z_dynamic_b.to(w_a.dtype), c), dim=1))
