"""DeepLandscape's two discriminators (paper Sec. 3.1, "Learning the model").

* The *unary* (static) discriminator D_st: a StyleGAN2 residual discriminator on single images (B, 3, R, R).
* The *pairwise* discriminator D_dyn: the same architecture, except that its first block runs on each of the two
  frames separately (shared weights) and the next block takes the two feature maps concatenated along channels.
  Input: a pair stacked along channels, (B, 6, R, R) = [frame_a, frame_b].

Images are in [-1, 1]. Both output one logit per sample (B,). Deviation from the paper: StyleGAN2's residual
discriminator without progressive growing (the paper follows the 2019 StyleGAN with its progressive training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models.base import PretrainedMixin
from .generator import EqualConv2d, EqualLinear

__all__ = ["DiscriminatorConfig", "Discriminator"]


class DiscriminatorBlock(nn.Module):
    """conv 3×3 -> conv 3×3 -> 2× average-pool, plus a pooled 1×1 skip; (B, C_in, r, r) -> (B, C_out, r/2, r/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(self.conv1(self.conv0(x)), 2)
        return (x + skip) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the feature standard deviation across groups of samples (StyleGAN's diversity cue).

    A group is ``group_size`` *consecutive* samples (fewer when the batch is not a multiple of it: the largest
    divisor below). Consecutive groups keep a data-parallel shard's groups inside the shard: two processes with
    batches of ``k * group_size`` form the same groups as one process with their concatenation."""
    b, c, h, w = x.shape
    g = min(group_size, b)
    while b % g:
        g -= 1
    y = x.float().view(-1, g, c, h, w)
    y = (y - y.mean(dim=1, keepdim=True)).pow(2).mean(dim=1).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
    y = y.view(-1, 1, 1, 1, 1).expand(-1, g, 1, h, w).reshape(b, 1, h, w).to(x.dtype)
    return torch.cat((x, y), dim=1)


@dataclass
class DiscriminatorConfig:
    resolution: int = 128
    channel_base: int = 4096
    channel_max: int = 256
    pairwise: bool = False
    mbstd_group: int = 4

    def channels(self, resolution: int) -> int:
        return min(self.channel_max, self.channel_base // resolution)


class Discriminator(PretrainedMixin, nn.Module):
    """D_st (``pairwise=False``, input (B, 3, R, R)) or D_dyn (``pairwise=True``, input (B, 6, R, R)) -> (B,) logits."""

    config_class = DiscriminatorConfig
    model_type = "deeplandscape_discriminator"

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        c = config
        r = c.resolution
        self.from_rgb = EqualConv2d(3, c.channels(r), 1, activation=True)
        blocks = []
        while r > 4:
            in_channels = c.channels(r)
            if c.pairwise and r == c.resolution // 2:  # the block after the per-frame one sees both frames
                in_channels *= 2
            blocks.append(DiscriminatorBlock(in_channels, c.channels(r // 2)))
            r //= 2
        self.blocks = nn.ModuleList(blocks)
        c4 = c.channels(4)
        self.final_conv = EqualConv2d(c4 + 1, c4, 3, activation=True)
        self.final_fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = 6 if self.config.pairwise else 3
        if x.shape[1] != expected:
            raise ValueError(f"this discriminator takes {expected}-channel input, got {x.shape[1]}")
        if self.config.pairwise:
            b = x.shape[0]
            frames = torch.cat((x[:, :3], x[:, 3:]), dim=0)  # run the first block on each frame alone
            h = self.blocks[0](self.from_rgb(frames))
            h = torch.cat((h[:b], h[b:]), dim=1)
            rest = self.blocks[1:]
        else:
            h = self.from_rgb(x)
            rest = self.blocks
        for block in rest:
            h = block(h)
        h = self.final_conv(minibatch_stddev(h, self.config.mbstd_group))
        return self.out(self.final_fc(h.flatten(1))).squeeze(1)
