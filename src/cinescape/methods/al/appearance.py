"""Appearance: the appearance predictor P^A and encoder E^A of AL Sec. 4.2, and their loss (Algorithm 3).

The predictor maps (frame, z^A) to colour-transfer maps (B, 6, H, W) applied with
:func:`cinescape.ops.color_transfer`; the encoder maps a target frame to z^A.

Feature network: AL uses VGG16 (relu1_2 for content; relu2_2, relu3_3, relu4_3 for style). VGG16's
ImageNet weights are not obtainable offline, so cinescape uses ImageNet SqueezeNet-1.1
(:class:`~cinescape.models.squeezenet.SqueezeFeatures`): stage 1 (relu1, 1/2 resolution) for content,
stages 2-4 (fire2-3, fire4-5, fire6-7) for style.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models import EncoderConfig, LatentEncoder, Predictor, PredictorConfig
from ...models.pair import PredictorEncoderPair
from ...ops import color_transfer, edge_aware_tv


class AppearanceModel(PredictorEncoderPair):
    """P^A and E^A together."""

    prefix = "appearance"
    predictor_channels = 6
    encoder_channels = 3

    @classmethod
    def create(cls, *, width: float = 0.25, num_res_blocks: int = 5, latent_dim: int = 8,
               encoder_width: float = 0.5, encoder_size: int = 64, prior: str = "none") -> "AppearanceModel":
        predictor = Predictor(PredictorConfig(out_channels=6, latent_dim=latent_dim, width=width,
                                              num_res_blocks=num_res_blocks))
        encoder = LatentEncoder(EncoderConfig(in_channels=3, latent_dim=latent_dim, width=encoder_width,
                                              input_size=encoder_size, prior=prior))
        return cls(predictor, encoder)

    def predict_maps(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image in [-1, 1], (B, D) code -> (B, 6, H, W) colour-transfer maps."""
        return self.predictor(image, z)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) target frame in [-1, 1] -> (B, D) code."""
        return self.encoder(image)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix normalised by C * H * W."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)


def spatial_pyramid(image: torch.Tensor, grid: int = 32) -> torch.Tensor:
    """AL Eq. 8's SP: average colour in each cell of a ``grid`` × ``grid`` partition (pyramid height one)."""
    return F.adaptive_avg_pool2d(image, grid)


@dataclass
class AppearanceLossWeights:
    """AL Eq. 11 weights, rescaled for mean-normalised terms and SqueezeNet features (see model card)."""

    style: float = 1.0          # lambda_s (Gram matrices normalised by C*H*W)
    spatial: float = 1.0        # lambda_sp: 32x32 colour layout, stronger than AL's 1e-2 (see model card)
    content: float = 0.1        # lambda_c
    tv: float = 0.1             # lambda_tv on the colour maps (AL: 0.1)
    sigma: float = 0.1
    prior: float = 1e-3         # weight of the encoder's latent regulariser (KL or MMD; only with a prior)


class AppearanceLoss(nn.Module):
    """AL Eq. 7-11 with a frozen feature network (SqueezeNet-1.1 stages; see module docstring)."""

    content_stages = (0,)
    style_stages = (1, 2, 3)

    def __init__(self, features: nn.Module, weights: AppearanceLossWeights = AppearanceLossWeights()):
        super().__init__()
        self.features = features.requires_grad_(False).eval()
        self.weights = weights

    def forward(self, output: torch.Tensor, target: torch.Tensor, source: torch.Tensor, maps: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, float]]:
        """output = colour-transferred source, target = the frame whose appearance is wanted, all (B, 3, S, S)."""
        w = self.weights
        out_feats = self.features(output)
        with torch.no_grad():
            target_feats = self.features(target)
            source_feats = self.features(source)
        style = sum(F.mse_loss(gram_matrix(out_feats[i].float()), gram_matrix(target_feats[i].float()))
                    for i in self.style_stages)
        content = sum(F.mse_loss(out_feats[i].float(), source_feats[i].float()) for i in self.content_stages)
        spatial = F.mse_loss(spatial_pyramid(output.float()), spatial_pyramid(target.float()))
        tv = edge_aware_tv(maps.float(), source, w.sigma)
        total = w.style * style + w.spatial * spatial + w.content * content + w.tv * tv
        return total, {"loss": total.item(), "style": style.item(), "spatial": spatial.item(),
                       "content": content.item(), "tv": tv.item(),
                       "identity_spatial": F.mse_loss(spatial_pyramid(source), spatial_pyramid(target)).item()}


def appearance_loss(model: AppearanceModel, criterion: AppearanceLoss, source: torch.Tensor, target: torch.Tensor
                    ) -> tuple[torch.Tensor, dict[str, float]]:
    """One evaluation of Algorithm 3, lines 7-10: encode the target, predict maps for the source, compare."""
    z, prior_term = model.encode_for_training(target)
    maps = model.predict_maps(source, z)
    output = color_transfer(maps.float(), source)
    total, stats = criterion(output, target, source, maps)
    if model.prior != "none":
        total = total + criterion.weights.prior * prior_term
        stats = {**stats, "loss": total.item(), model.prior: prior_term.item()}
    return total, stats
