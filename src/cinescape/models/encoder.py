"""The latent encoder of Animating Landscape (AL Appendix A.1, Table 2; BicycleGAN's resnet_128).

A 4×4 stride-2 convolution, three residual blocks that each halve the resolution (average pooling)
and widen the channels (64 -> 128 -> 192 -> 256 at ``width=1``), LeakyReLU(0.2), global average
pooling (the paper's AvgPool2D(8, 8) at its 128×128 input) and a linear layer to ``latent_dim``.

Input: (B, in_channels, H, W) — a flow field (2 channels, motion encoder) or an RGB image in
[-1, 1] (3 channels, appearance encoder); resized to ``input_size``² first. Output: (B, latent_dim).

``prior`` (AL Sec. 6.6, optional latent regularisers) lets codes be drawn from N(0, I) instead of a codebook:
"vae" makes the last layer also output a log-variance (the code is its mean; training samples around it and
adds a KL term, :func:`cinescape.ops.kl_to_standard_normal`); "wae" keeps the encoder deterministic and
training adds an MMD term between a batch of codes and Gaussian samples
(:func:`cinescape.ops.mmd_to_standard_normal`). "none" (AL's default) leaves codes unregularised.
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
    prior: str = "none"          # latent regulariser: "none" (codebook only), "vae" or "wae" (AL Sec. 6.6)

    def __post_init__(self):
        if self.prior not in LATENT_PRIORS:
            raise ValueError(f"unknown latent prior {self.prior!r}: use one of {', '.join(LATENT_PRIORS)}")


LATENT_PRIORS = ("none", "vae", "wae")


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
        # VAE: mean and log-variance side by side.
        self.fc = nn.Linear(c[3], config.latent_dim * (2 if config.prior == "vae" else 1))

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C, H, W) -> the code's mean (B, D) and, for a VAE, its log-variance (B, D) (else None)."""
        size = self.config.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        x = self.blocks(self.conv1(x * self.config.input_scale))
        x = self.fc(F.leaky_relu(x, 0.2).mean(dim=(2, 3)))
        if self.config.prior == "vae":
            mean, log_var = x.chunk(2, dim=1)
            return mean, log_var
        return x, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, D) code: deterministic (a VAE's mean), as codebooks and inference use it."""
        return self.distribution(x)[0]
