"""SqueezeNet-1.1 feature extractor (Iandola et al. 2016), layer layout of torchvision's ``.features``.

Used where the papers use VGG16 (AL's style and content losses) because VGG16's ImageNet weights are
not obtainable offline here, while SqueezeNet-1.1's are (see :mod:`cinescape.weights`).

Input: (B, 3, H, W) RGB in [-1, 1]; it is mapped to [0, 1] and normalised with the ImageNet mean/std
inside. Output of :meth:`SqueezeFeatures.forward`: the list of activations after the stages
``relu1`` (64 ch, 1/2), ``fire2-3`` (128 ch, 1/4), ``fire4-5`` (256 ch, 1/8), ``fire6-7`` (384 ch,
1/16), ``fire8-9`` (512 ch, 1/16), the seven-stage split LPIPS uses trimmed to five.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ModelLoadError
from ..weights import weight_path

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class Fire(nn.Module):
    """Squeeze 1×1, then concatenated expand 1×1 and expand 3×3, all with ReLU."""

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.squeeze(x))
        return torch.cat((torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))), 1)


def squeezenet1_1_features() -> nn.Sequential:
    """The 13-module ``features`` stack; parameter names match torchvision's state_dict."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2),                     # 0
        nn.ReLU(inplace=True),                              # 1
        nn.MaxPool2d(3, 2, ceil_mode=True),                 # 2
        Fire(64, 16, 64, 64),                               # 3
        Fire(128, 16, 64, 64),                              # 4
        nn.MaxPool2d(3, 2, ceil_mode=True),                 # 5
        Fire(128, 32, 128, 128),                            # 6
        Fire(256, 32, 128, 128),                            # 7
        nn.MaxPool2d(3, 2, ceil_mode=True),                 # 8
        Fire(256, 48, 192, 192),                            # 9
        Fire(384, 48, 192, 192),                            # 10
        Fire(384, 64, 256, 256),                            # 11
        Fire(512, 64, 256, 256),                            # 12
    )


# Module index ranges of the stages whose outputs are returned.
_STAGES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 13))


class SqueezeFeatures(nn.Module):
    """Frozen SqueezeNet-1.1 features; ``forward`` returns the activations of the five stages."""

    def __init__(self, pretrained: bool = True):
        super().__init__()
        self.features = squeezenet1_1_features()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        if pretrained:
            path = weight_path("lpips/squeezenet1_1_features.pth")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                self.features.load_state_dict(state)
            except (RuntimeError, OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load SqueezeNet-1.1 features from {path}: {str(exc).splitlines()[0]}") from None
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = ((image + 1) / 2 - self.mean.to(image.dtype)) / self.std.to(image.dtype)
        outputs = []
        for start, stop in _STAGES:
            for index in range(start, stop):
                x = self.features[index](x)
            outputs.append(x)
        return outputs
