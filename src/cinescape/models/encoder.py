"""The latent encoder of Animating Landscape (AL Appendix A.1, Table 2; BicycleGAN's resnet_128).

A 4×4 stride-2 convolution, three residual blocks that each halve the resolution (average pooling)
and widen the channels (64 -> 128 -> 192 -> 256 at ``width=1``), LeakyReLU(0.2), global average
pooling (the paper's AvgPool2D(8, 8) at its 128×128 input) and a linear layer to ``latent_dim``.

Input: (B, in_channels, H, W) — a flow field (2 channels, motion encoder) or an RGB image in
[-1, 1] (3 channels, appearance encoder); resized to ``input_size``² first. Output: (B, latent_dim).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import PretrainedMixin


@dataclass
class EncoderConfig:
    in_channels: int = 2
    latent_dim: int = 8
    width: float = 1.0           # multiplier on 64/128/192/256 channels
    input_size: int = 128        # inputs are resized to input_size × input_size
    input_scale: float = 1.0     # inputs are multiplied by this first (motion: beta, so flows span ~[-1, 1])


class DownResBlock(nn.Module):
    """LeakyReLU - conv3x3 - LeakyReLU - conv3x3 - avgpool2, plus an avgpool2 - conv1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(in_channels, in_channels, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.AvgPool2d(2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class LatentEncoder(PretrainedMixin, nn.Module):
    config_class = EncoderConfig
    model_type = "al_encoder"

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        c = [max(8, int(round(n * config.width))) for n in (64, 128, 192, 256)]
        self.conv1 = nn.Conv2d(config.in_channels, c[0], 4, 2, 1)
        self.blocks = nn.Sequential(DownResBlock(c[0], c[1]), DownResBlock(c[1], c[2]), DownResBlock(c[2], c[3]))
        self.fc = nn.Linear(c[3], config.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        x = self.blocks(self.conv1(x * self.config.input_scale))
        x = F.leaky_relu(x, 0.2).mean(dim=(2, 3))
        return self.fc(x)
