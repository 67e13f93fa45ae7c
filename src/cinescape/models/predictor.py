"""The predictor network of Animating Landscape (AL Appendix A.1, Table 1).

A U-Net: three stride-2 convolutions, each given the latent code ``z`` tiled over the image and
concatenated to its input; ``num_res_blocks`` residual blocks; three nearest-neighbour upsampling
convolutions with skip connections to the matching downsampling outputs; instance norm and
LeakyReLU(0.1). The same network is the motion predictor (2-channel head: backward flow) and the
appearance predictor (6-channel head: colour-transfer maps). With ``width=1.0`` and
``num_res_blocks=5`` it is the paper's exact size (128/256/512 channels).

Input: image (B, 3, H, W) in [-1, 1] with H and W divisible by 8, and z (B, latent_dim).
Output: (B, out_channels, H, W) in [-1/beta, 1/beta] (tanh divided by ``config.beta``; beta > 1 only for
motion, whose output is then a normalised backward flow, see :mod:`cinescape.ops.warp`).

``gate=True`` (a cinescape addition, not in AL) adds one head channel g and multiplies the output by
sigmoid(g). A plain tanh head can only produce "no motion" by cancelling its inputs exactly, so still
land keeps a residual drift of about 0.05 px/frame at 128 px; a saturating gate gives exact stillness.

Inference (eval mode, no gradient, no autocast) runs on ONNX Runtime where it is installed
(:mod:`cinescape.models.runtime`: the same maps, less CPU); training and everything else on torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import PretrainedMixin
from .polyphase import check_upsample_conv, nearest_upsample_conv, polyphase_kernels  # noqa: F401 (re-exported)


@dataclass
class PredictorConfig:
    out_channels: int = 2        # 2 = flow (motion), 6 = colour-transfer maps (appearance), 3 = direct RGB
    latent_dim: int = 8
    width: float = 1.0           # channel multiplier on the paper's 128/256/512
    num_res_blocks: int = 5
    in_channels: int = 3
    beta: float = 1.0            # the tanh output is divided by beta (AL: motion flow range [-1/beta, 1/beta])
    reference_size: int = 0      # motion: side of the square training crop its flow units refer to (0: none)
    gate: bool = False           # multiply the output by a predicted sigmoid gate (see the module docstring)

    def channels(self) -> tuple[int, int, int]:
        return tuple(max(8, int(round(c * self.width))) for c in (128, 256, 512))


class ResBlock(nn.Module):
    """conv3x3 - IN - LeakyReLU - conv3x3 - IN, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.InstanceNorm2d(channels),
            nn.LeakyReLU(0.1),
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _tile(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, D, H, W) matching ``like``'s spatial size and dtype."""
    return z.to(like.dtype)[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class Predictor(PretrainedMixin, nn.Module):
    config_class = PredictorConfig
    model_type = "al_predictor"

    def __init__(self, config: PredictorConfig = PredictorConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels()
        z = config.latent_dim
        act = nn.LeakyReLU(0.1)
        self.conv1 = nn.Sequential(nn.Conv2d(config.in_channels + z, c1, 5, 2, 2), act)
        self.conv2 = nn.Sequential(nn.Conv2d(c1 + z, c2, 3, 2, 1), nn.InstanceNorm2d(c2), act)
        self.conv3 = nn.Sequential(nn.Conv2d(c2 + z, c3, 3, 2, 1), nn.InstanceNorm2d(c3), act)
        self.res = nn.Sequential(*[ResBlock(c3) for _ in range(config.num_res_blocks)])
        self.upconv1 = nn.Sequential(nn.Conv2d(c3 * 2, c2, 3, 1, 1), nn.InstanceNorm2d(c2), act)
        self.upconv2 = nn.Sequential(nn.Conv2d(c2 * 2, c1, 3, 1, 1), nn.InstanceNorm2d(c1), act)
        self.upconv3 = nn.Conv2d(c1 * 2, config.out_channels + int(config.gate), 5, 1, 2)
        if config.gate:
            with torch.no_grad():  # start open (sigmoid(2) = 0.88) so the gate does not block learning
                self.upconv3.bias[config.out_channels:] = 2.0

    def condition(self, z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The latent input of a level whose features are ``like``: here the global code (B, D) tiled over it
        (AL); :class:`LatentMapPredictor` takes a spatial latent map instead."""
        return _tile(z, like)

    def forward(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if image.shape[-1] % 8 or image.shape[-2] % 8:
            raise ValueError(f"predictor input size must be divisible by 8, got {tuple(image.shape[-2:])}")
        if not (self.training or torch.is_grad_enabled() or torch.is_autocast_enabled("cpu")) and self._plain():
            from .runtime import run_predictor  # lazy: onnxruntime loads on the first inference

            fast = run_predictor(self, image, z)    # the same maps on ONNX Runtime (None: torch runs them)
            if fast is not None:
                return fast
        d1 = self.conv1(torch.cat((image, self.condition(z, image)), 1))
        d2 = self.conv2(torch.cat((d1, self.condition(z, d1)), 1))
        d3 = self.conv3(torch.cat((d2, self.condition(z, d2)), 1))
        x = self.res(d3)
        x = self._up(self.upconv1, torch.cat((x, d3), 1))
        x = self._up(self.upconv2, torch.cat((x, d2), 1))
        x = self._up(self.upconv3, torch.cat((x, d1), 1))
        if self.config.gate:
            out = self.config.out_channels
            return torch.tanh(x[:, :out]) / self.config.beta * torch.sigmoid(x[:, out:])
        return torch.tanh(x) / self.config.beta


    @classmethod
    def _plain(cls) -> bool:
        """Whether this class computes what :func:`~cinescape.models.runtime.predictor_graph` writes: not a subclass
        with its own conditioning or forward (FGLA's latent-map predictor stays on torch)."""
        return cls.condition is Predictor.condition and cls.forward is Predictor.forward

    def _up(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``layer`` (a convolution, or a Sequential starting with one) on ``x`` upsampled ×2 (nearest). At
        inference the upsampling and the convolution are one :func:`nearest_upsample_conv` (the same maps, about
        half the multiply-adds); training keeps the plain form."""
        if self.training:
            return layer(F.interpolate(x, scale_factor=2, mode="nearest"))
        conv, rest = (layer[0], layer[1:]) if isinstance(layer, nn.Sequential) else (layer, None)
        x = nearest_upsample_conv(x, conv)
        return x if rest is None else rest(x)


class LatentMapPredictor(Predictor):
    """The same U-Net conditioned on a *spatial* latent map (FGLA Eq. 5-6) instead of a tiled global code.

    ``forward(image, latent_map)``: image (B, 3, H, W) in [-1, 1], latent map (B, latent_dim, H, W) (FGLA's
    L_t: each pixel holds its semantic class's latent). The map is concatenated to the image and, like AL's
    tiled code, to the input of every downsampling level (area-resized to that level's size). Same config and
    layers as :class:`Predictor` (``beta`` is FGLA's c); saved with its own ``model_type``.
    """

    model_type = "fgla_generator"

    def condition(self, z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if z.dim() != 4 or z.shape[0] != like.shape[0] or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"latent map must be (B, {self.config.latent_dim}, H, W) for features "
                             f"{tuple(like.shape)}, got {tuple(z.shape)}")
        if z.shape[-2:] != like.shape[-2:]:
            z = F.interpolate(z, size=like.shape[-2:], mode="area")
        return z.to(like.dtype)
