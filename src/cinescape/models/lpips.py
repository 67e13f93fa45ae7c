"""LPIPS (Zhang et al. 2018) with the SqueezeNet-1.1 backbone and v0.1 linear heads (the "squeeze" variant), frozen:
a perceptual distance used by the evaluation (:mod:`cinescape.eval.metrics`) and as a training loss
(DeepLandscape's inversion). Images are float (B, 3, H, W) batches on the 0-255 scale; masks are bool or {0, 1}
(H, W), (1, H, W) or (B, 1, H, W), True where a masked mean averages.

Example:
    >>> import torch
    >>> masked_mean(torch.ones(2, 3, 4, 4), None)
    tensor([1., 1.])
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ModelLoadError
from ..weights import weight_path
from .squeezenet import squeezenet1_1_features

__all__ = ["LPIPS", "mask_like", "masked_mean"]


def mask_like(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """Mask as float (B or 1, 1, H, W) matching ``like`` (B, C, H, W)."""
    if mask is None:
        return None
    mask = torch.as_tensor(mask, device=like.device).float()
    while mask.dim() < 4:
        mask = mask.unsqueeze(0)
    return mask


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of (B, C, H, W) ``values`` over C, H, W, weighted by a (B or 1, 1, H, W) mask -> (B,)."""
    if mask is None:
        return values.flatten(1).mean(1)
    mask = mask.expand(values.shape[0], 1, *values.shape[-2:])
    weight = mask.flatten(1).sum(1) * values.shape[1]
    total = (values * mask).flatten(1).sum(1)
    return torch.where(weight > 0, total / weight.clamp_min(1e-12), torch.full_like(total, float("nan")))



# ------------------------------------------------------------------------------------------- LPIPS

# LPIPS's input scaling layer, in [-1, 1] units (the ImageNet mean/std mapped to that range).
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)
# torchvision SqueezeNet-1.1 `features` split into the 7 slices LPIPS uses (relu1, fire2-3, fire4-5, fire6,
# fire7, fire8, fire9): module index ranges [start, stop).
_LPIPS_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 11), (11, 12), (12, 13))
_LPIPS_CHANNELS = (64, 128, 256, 384, 384, 512, 512)


class LPIPS(nn.Module):
    """LPIPS v0.1 with the SqueezeNet-1.1 backbone ("squeeze"), frozen. Images need at least :attr:`MIN_SIZE`
    pixels a side (SqueezeNet's strides and pools leave nothing of a smaller one).

    ``forward(a, b, mask=None)`` takes pixel-scale batches and returns the (B,) distances: per layer,
    unit-normalise the features along channels, square the difference, weight the channels with the
    linear head and average over space; then sum over the 7 layers. With a ``mask`` the spatial average
    of each layer is weighted by the mask area-resized to that layer (the DeepLandscape protocol of
    masking out sky and water). :meth:`features` / :meth:`distance` split the two steps so that features
    of a frame compared with several others are computed once.
    """

    MIN_SIZE = 17   # px, the shortest side the backbone's last layer still has a pixel of

    def __init__(self, pretrained: bool = True):
        super().__init__()
        features = squeezenet1_1_features()
        self.slices = nn.ModuleList(nn.Sequential(*(features[i] for i in range(a, b))) for a, b in _LPIPS_SLICES)
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _LPIPS_CHANNELS)
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        if pretrained:
            self._load(features)
        self.requires_grad_(False)
        self.eval()

    def _load(self, features: nn.Sequential) -> None:
        backbone = weight_path("lpips/squeezenet1_1_features.pth")
        heads = weight_path("lpips/squeeze_lin_v0.1.pth")
        try:
            # The slices share the modules of `features`, so loading into it fills them.
            features.load_state_dict(torch.load(backbone, map_location="cpu", weights_only=True))
            state = torch.load(heads, map_location="cpu", weights_only=True)
            # The reference heads are Sequential(Dropout, Conv2d): keys "lin{i}.model.1.weight".
            with torch.no_grad():
                for i, head in enumerate(self.heads):
                    head.weight.copy_(state[f"lin{i}.model.1.weight"])
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cannot load the LPIPS SqueezeNet weights ({backbone}, {heads}): "
                                 f"{str(exc).splitlines()[0]}") from None

    def raw_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The 7 backbone activations (not normalised) of a pixel-scale batch."""
        x = (images / 127.5 - 1.0 - self.shift) / self.scale
        outputs = []
        for block in self.slices:
            x = block(x)
            outputs.append(x)
        return outputs

    @staticmethod
    def normalize(features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Unit-normalise each activation along channels (LPIPS's eps = 1e-10)."""
        return [f / (f.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) for f in features]

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.normalize(self.raw_features(images))

    def distance(self, features_a: list[torch.Tensor], features_b: list[torch.Tensor],
                 mask: torch.Tensor | None = None) -> torch.Tensor:
        """LPIPS from :meth:`features` of two batches (broadcast over B: a batch of 1 matches any)."""
        total = 0.0
        for fa, fb, head in zip(features_a, features_b, self.heads):
            layer = head((fa - fb) ** 2)  # (B, 1, h, w)
            layer_mask = None
            if mask is not None:
                layer_mask = F.interpolate(mask_like(mask, layer), size=layer.shape[-2:], mode="area")
            total = total + masked_mean(layer, layer_mask)
        return total

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.distance(self.features(a), self.features(b), mask)
