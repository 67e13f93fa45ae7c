"""DeepLandscape generator (Logacheva et al. 2020, Sec. 3.1): a StyleGAN generator whose inputs are split
into a *static* part (the scene) and a *dynamic* part (lighting, clouds, water).

Inputs ("original latents" in the paper):

* ``z_static`` (B, D_st) and ``z_dynamic`` (B, D_dyn): concatenated, pixel-normalised and mapped by the MLP
  :class:`MappingNetwork` to one style vector ``w`` (B, w_dim).
* ``static_noise`` and ``dynamic_noise``: lists of N maps, one per resolution 4, 8, ..., R, each (B, 1, r, r),
  unit normal when sampled. The paper's S^st_n and S^dyn_n.

The synthesis network takes the extended style ``W`` (B, N, w_dim), one style per resolution (the paper's
W = {w_1..w_N}; the same ``w`` repeated unless styles are mixed or inverted). Each block is
``(upsample +) modulated conv -> + a_st * S^st_n + a_dyn * S^dyn_n -> bias, leaky ReLU``, twice, where
``a_st``/``a_dyn`` are learnt per-channel scales (:class:`NoiseBranch`): the paper's "two elementwise additions
of two tensors obtained from S^st_n and S^dyn_n by a learnable per-channel scaling". A ``to_rgb`` layer per
resolution feeds a skip-connected RGB output. Output: (B, 3, R, R) in [-1, 1] (not clamped).

Deviations from the paper (which builds on the 2019 StyleGAN, AdaIN and progressive growing), stated here:

* StyleGAN2-style layers (Karras et al. 2020): weight modulation + demodulation instead of AdaIN, skip RGB
  outputs, no progressive growing; equalised learning rate as in both. Modulation is written as "scale the
  input channels, convolve with the shared weight, scale the output channels by the demodulation factor",
  which equals the per-sample modulated weight and runs as one ordinary convolution.
* Upsampling is bilinear ×2 before the 3×3 convolution (StyleGAN2 uses a transposed conv + blur).

How it runs (same sums as the text above, other rounding; issue 29's speed work): the activation's gain sqrt(2)
is not applied to the (B, C, H, W) features but folded into the weights of the convolutions that read them
(``ModulatedConv2d.input_gain``: after demodulation, which would undo it), so a block's features are
``leaky_relu(.)`` without the gain; a layer's bias rides in its convolution, and its two noise branches are one
(C, 2) × (2, H·W) matrix product added to the convolution's output (:func:`add_noise`), instead of seven passes
over the full-size tensor forward and as many backward.
* Widths, depth of the mapping MLP and latent sizes are config fields: ``DeepLandscapeGeneratorConfig.paper_256()``
  is the paper's 256-px configuration; the shipped model is a CPU-sized 128-px one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ...models.base import PretrainedMixin

__all__ = [
    "DeepLandscapeGeneratorConfig",
    "DeepLandscapeGenerator",
    "MappingNetwork",
    "ModulatedConv2d",
    "NoiseBranch",
    "EqualLinear",
    "EqualConv2d",
    "add_noise",
]

_ACT_GAIN = math.sqrt(2.0)


def leaky_relu_gain(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) times sqrt(2), StyleGAN's activation that keeps unit variance."""
    return F.leaky_relu(x, 0.2) * _ACT_GAIN


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weights stored N(0, 1/lr_mul²), scaled by ``lr_mul/sqrt(fan_in)``
    at run time, so Adam's step is the same relative size for every layer."""

    def __init__(self, in_features: int, out_features: int, *, bias_init: float = 0.0, lr_multiplier: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return leaky_relu_gain(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate (weights scaled by ``1/sqrt(fan_in)`` at run time), 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        return leaky_relu_gain(x) if self.activation else x


def _lerp_up(x: torch.Tensor, out: torch.Tensor) -> None:
    """Bilinear ×2 along the last axis, edges clamped: x (..., n) -> out (..., n, 2), i.e. (..., 2n) interleaved:
    ``out[2i] = x[i] + (x[i-1] - x[i]) / 4``, ``out[2i+1] = x[i] + (x[i+1] - x[i]) / 4``."""
    even, odd = out[..., 0], out[..., 1]
    torch.lerp(x[..., 1:], x[..., :-1], 0.25, out=even[..., 1:])
    even[..., :1] = x[..., :1]
    torch.lerp(x[..., :-1], x[..., 1:], 0.25, out=odd[..., :-1])
    odd[..., -1:] = x[..., -1:]


def _lerp_up_adjoint(g: torch.Tensor, out: torch.Tensor) -> None:
    """The adjoint (gradient) of :func:`_lerp_up`: g (..., n, 2) -> out (..., n)."""
    even, odd = g[..., 0], g[..., 1]
    torch.add(even, odd, out=out)
    out.mul_(0.75)
    out[..., :-1].add_(even[..., 1:], alpha=0.25)
    out[..., 1:].add_(odd[..., :-1], alpha=0.25)
    out[..., :1].add_(even[..., :1], alpha=0.25)     # the clamped edges: out[0] = x[0], out[2n-1] = x[n-1]
    out[..., -1:].add_(odd[..., -1:], alpha=0.25)


#: Elements of the input upsampled at a time: the intermediate and output of a chunk stay in the CPU's cache.
_UPSAMPLE_CHUNK = 1 << 16


class _Upsample2x(torch.autograd.Function):
    """Bilinear ×2 of (B, C, H, W) in separable lerps over chunks of B·C (torch's ``upsample_bilinear2d`` copies
    the batch to another memory layout and back: 5-6× slower here for the generator's shapes)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        planes = x.contiguous().view(b * c, h, w)
        out = torch.empty(b * c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
        step = max(1, _UPSAMPLE_CHUNK // (h * w))
        for k in range(0, b * c, step):
            rows = torch.empty(min(step, b * c - k), h, 2, w, dtype=x.dtype, device=x.device)
            _lerp_up(planes[k:k + step].transpose(1, 2), rows.permute(0, 3, 1, 2))   # along H
            _lerp_up(rows.view(-1, 2 * h, w), out[k:k + step].view(-1, 2 * h, w, 2))    # along W
        return out.view(b, c, 2 * h, 2 * w)

    @staticmethod
    @once_differentiable   # nothing takes a gradient of this gradient (R1 runs through D alone): say so if one does
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        b, c, h2, w2 = grad.shape
        h, w = h2 // 2, w2 // 2
        planes = grad.contiguous().view(b * c, h2, w2)
        out = torch.empty(b * c, h, w, dtype=grad.dtype, device=grad.device)
        step = max(1, _UPSAMPLE_CHUNK // (h * w))
        for k in range(0, b * c, step):
            cols = torch.empty(min(step, b * c - k), h2, w, dtype=grad.dtype, device=grad.device)
            _lerp_up_adjoint(planes[k:k + step].view(-1, h2, w, 2), cols)                 # along W
            _lerp_up_adjoint(cols.view(-1, h, 2, w).permute(0, 3, 1, 2), out[k:k + step].transpose(1, 2))  # H
        return out.view(b, c, h, w)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear ×2 upsampling, ``align_corners=False`` (``F.interpolate(x, scale_factor=2, mode="bilinear")`` within
    float rounding, gradient included): (B, C, H, W) -> (B, C, 2H, 2W), H and W >= 2.

    >>> upsample2x(torch.tensor([[[[0.0, 4.0]]]]).expand(1, 1, 2, 2))[0, 0, 0].tolist()
    [0.0, 1.0, 3.0, 4.0]
    """
    if x.shape[-1] < 2 or x.shape[-2] < 2:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return _Upsample2x.apply(x)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution (StyleGAN2): ``y = conv(x * g * s, W) * d (+ bias)`` with styles ``s =
    affine(w)``, demodulation ``d_o = 1 / sqrt(sum_{i,k} (W_oik s_i)^2 + eps)`` (per sample and output channel)
    and ``g = input_gain``, the gain of the activation that made ``x`` (sqrt(2) after a layer, whose output leaves
    it out: module docstring; 1 for the constant input). Demodulation does not see ``g``: it scales the output.

    Shapes: x (B, C_in, H, W) [upsampled ×2 first when ``upsample``, unless the caller did: ``upsampled=True``], w
    (B, w_dim) or (1, w_dim) (one style for the whole batch), bias (C_out,) or None -> (B, C_out, H', W').
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, *,
                 demodulate: bool = True, upsample: bool = False, input_gain: float = 1.0):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1 (identity modulation)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.upsample = upsample
        self.input_gain = input_gain

    def forward(self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, *,
                upsampled: bool = False) -> torch.Tensor:
        styles = self.affine(w)  # (B, C_in)
        weight = self.weight * self.weight_gain
        if self.upsample and not upsampled:
            x = upsample2x(x)
        if bias is not None:
            bias = bias.to(x.dtype)
        if styles.shape[0] == 1:
            # One style (inversion; rendering, also a batch of frames of one style): fold styles, demodulation and
            # the input's gain into the weight, a (C_out, C_in, k, k) product, instead of scaling the (B, C, H, W)
            # input and output (2 full-size products and their gradients: ~17 % of a fine-tuning step's CPU
            # time). Same sum, other rounding.
            weight = weight * styles.view(1, -1, 1, 1)
            if self.demodulate:
                scale = torch.rsqrt(weight.float().pow(2).sum(dim=(1, 2, 3)) + 1e-8) * self.input_gain
                weight = weight * scale.view(-1, 1, 1, 1)
            elif self.input_gain != 1:
                weight = weight * self.input_gain
            return F.conv2d(x, weight.to(x.dtype), bias, padding=weight.shape[-1] // 2)
        x = x * (styles * self.input_gain)[:, :, None, None].to(x.dtype)
        y = F.conv2d(x, weight.to(x.dtype), padding=weight.shape[-1] // 2)
        if self.demodulate:
            # sum_{i,k} (W_oik s_i)^2 = sum_i s_i^2 * (sum_k W_oik^2): one (B, C_in) x (C_in, C_out) product.
            weight_energy = weight.float().pow(2).sum(dim=(2, 3))  # (C_out, C_in)
            demod = torch.rsqrt(styles.float().pow(2) @ weight_energy.t() + 1e-8)  # (B, C_out)
            demod = demod[:, :, None, None].to(y.dtype)
            return y * demod if bias is None else torch.addcmul(bias.view(1, -1, 1, 1), y, demod)
        return y if bias is None else y + bias.view(1, -1, 1, 1)


def add_noise(y: torch.Tensor, static_noise: torch.Tensor, static_scale: torch.Tensor, dynamic_noise: torch.Tensor,
              dynamic_scale: torch.Tensor) -> torch.Tensor:
    """``y + a_st * S^st + a_dyn * S^dyn`` (per-channel scales times one-channel maps) as one matrix product added
    to ``y``: (C, 2) scales × (2, H·W) maps, one pass over ``y`` instead of two full-size products and two sums
    (and their gradients). ``y`` of the full batch is overwritten (a convolution's output: its gradient does
    not need it).

    Shapes: y (B or 1, C, H, W); the maps (B or 1, 1, H, W); the scales (C,) -> (B, C, H, W), B the largest
    batch (broadcast as a sum would).

    >>> y = torch.zeros(1, 2, 1, 3)
    >>> add_noise(y, torch.ones(1, 1, 1, 3), torch.tensor([1.0, 2.0]),
    ...           torch.tensor([[[[0.0, 1.0, 2.0]]]]), torch.tensor([10.0, 0.0]))[0, :, 0].tolist()
    [[1.0, 11.0, 21.0], [2.0, 2.0, 2.0]]
    """
    _, channels, height, width = y.shape
    batch = max(y.shape[0], static_noise.shape[0], dynamic_noise.shape[0])
    scales = torch.stack((static_scale, dynamic_scale), dim=1).to(y.dtype)                 # (C, 2)
    maps = torch.cat((static_noise.expand(batch, 1, height, width), dynamic_noise.expand(batch, 1, height, width)),
                     dim=1).reshape(batch, 2, height * width).to(y.dtype)
    if y.shape[0] != batch or not y.is_contiguous():     # a broadcast input: a new tensor
        flat = y.expand(batch, -1, -1, -1).reshape(batch, channels, height * width)
        return torch.baddbmm(flat, scales.expand(batch, -1, -1), maps).view(batch, channels, height, width)
    # In place (no copy of y): the caller's y is a convolution's fresh output, which its gradient does not need.
    flat = y.view(batch, channels, height * width)
    if batch == 1:
        flat[0].addmm_(scales, maps[0])
    else:
        flat.baddbmm_(scales.expand(batch, -1, -1), maps)
    return y


class NoiseBranch(nn.Module):
    """One noise input of a layer: the (B, 1, H, W) map times a learnt per-channel scale -> (B, C, H, W).

    A layer has two of these, ``static_noise`` (fed S^st) and ``dynamic_noise`` (fed S^dyn); their outputs are
    added to the convolution's output (a layer adds both at once with :func:`add_noise`; ``forward`` is the
    branch alone). Scales start at zero, so a fresh generator ignores noise."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(channels))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return noise * self.scale.view(1, -1, 1, 1).to(noise.dtype)


class SynthesisLayer(nn.Module):
    """Modulated conv, + static and dynamic noise, + bias, leaky ReLU. Its output leaves out the activation's
    gain sqrt(2): the convolutions that read it fold it in (``input_gain``)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, upsample: bool = False,
                 input_gain: float = _ACT_GAIN):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample, input_gain=input_gain)
        self.static_noise = NoiseBranch(out_channels)
        self.dynamic_noise = NoiseBranch(out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, static_noise: torch.Tensor,
                dynamic_noise: torch.Tensor, *, upsampled: bool = False) -> torch.Tensor:
        x = self.conv(x, w, self.bias, upsampled=upsampled)
        x = add_noise(x, static_noise, self.static_noise.scale, dynamic_noise, self.dynamic_noise.scale)
        # in place: neither the sum nor the product before it needs its output for the gradient
        return F.leaky_relu(x, 0.2, inplace=True)


class ToRGB(nn.Module):
    """1×1 modulated conv without demodulation to RGB (StyleGAN2's skip output), of a layer's output (gain
    folded in)."""

    def __init__(self, in_channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, w_dim, demodulate=False, input_gain=_ACT_GAIN)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w, self.bias)


class SynthesisBlock(nn.Module):
    """One resolution r: (upsample) two synthesis layers sharing the block's style and noise maps, RGB skip.

    ``forward(x, rgb, ...)`` takes the previous block's features and RGB, or with ``upsampled=True`` the two
    already upsampled by :meth:`upsample_inputs` (a caller that runs the block many times on the same inputs
    upsamples them once)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, first: bool):
        super().__init__()
        self.first = first
        if first:   # reads the constant input: no activation gain to fold
            self.layers = nn.ModuleList([SynthesisLayer(in_channels, out_channels, w_dim, input_gain=1.0)])
        else:
            self.layers = nn.ModuleList([SynthesisLayer(in_channels, out_channels, w_dim, upsample=True),
                                         SynthesisLayer(out_channels, out_channels, w_dim)])
        self.to_rgb = ToRGB(out_channels, w_dim)

    def upsample_inputs(self, x: torch.Tensor, rgb: torch.Tensor | None) -> tuple:
        """The block's inputs as its first layer and RGB skip read them: (up(x), up(rgb)) for a block that
        upsamples, else (x, rgb)."""
        if self.first:
            return x, rgb
        return upsample2x(x), (upsample2x(rgb) if rgb is not None else None)

    def forward(self, x, rgb, w, static_noise, dynamic_noise, *, upsampled: bool = False):
        for k, layer in enumerate(self.layers):
            x = layer(x, w, static_noise, dynamic_noise, upsampled=upsampled and k == 0)
        y = self.to_rgb(x, w)
        if rgb is not None:
            y = y + (rgb if upsampled or self.first else upsample2x(rgb))
        return x, y


class MappingNetwork(nn.Module):
    """M: [z_static, z_dynamic] -> w. Pixel-norm of the concatenated code, then an MLP (equalised lr, ×0.01)."""

    def __init__(self, z_static_dim: int, z_dynamic_dim: int, w_dim: int, num_layers: int, lr_multiplier: float):
        super().__init__()
        dims = [z_static_dim + z_dynamic_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(*(EqualLinear(a, b, lr_multiplier=lr_multiplier, activation=True)
                                      for a, b in zip(dims[:-1], dims[1:])))

    def forward(self, z_static: torch.Tensor, z_dynamic: torch.Tensor) -> torch.Tensor:
        z = torch.cat((z_static, z_dynamic), dim=1)
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


@dataclass
class DeepLandscapeGeneratorConfig:
    resolution: int = 128          # output side R (a power of two >= 8); N = log2(R) - 1 resolutions 4..R
    z_static_dim: int = 128        # D_st
    z_dynamic_dim: int = 128       # D_dyn
    w_dim: int = 256
    mapping_layers: int = 4
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 4096       # channels at resolution r: min(channel_max, channel_base // r)
    channel_max: int = 256

    def __post_init__(self):
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        for name in ("z_static_dim", "z_dynamic_dim", "w_dim", "mapping_layers", "channel_base", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def paper_256(cls) -> "DeepLandscapeGeneratorConfig":
        """The paper's 256×256 model: z = [z_st, z_dyn] in R^512, w in R^512, 8-layer MLP, StyleGAN widths."""
        return cls(resolution=256, z_static_dim=256, z_dynamic_dim=256, w_dim=512, mapping_layers=8,
                   channel_base=16384, channel_max=512)

    @property
    def resolutions(self) -> list[int]:
        return [2 ** k for k in range(2, int(math.log2(self.resolution)) + 1)]

    @property
    def num_ws(self) -> int:
        return len(self.resolutions)

    def channels(self, resolution: int) -> int:
        return min(self.channel_max, self.channel_base // resolution)


class DeepLandscapeGenerator(PretrainedMixin, nn.Module):
    """Mapping network M + synthesis network G with static/dynamic latents and noise (module docstring)."""

    config_class = DeepLandscapeGeneratorConfig
    model_type = "deeplandscape_generator"

    def __init__(self, config: DeepLandscapeGeneratorConfig = DeepLandscapeGeneratorConfig()):
        super().__init__()
        self.config = config
        c = config
        self.mapping = MappingNetwork(c.z_static_dim, c.z_dynamic_dim, c.w_dim, c.mapping_layers,
                                      c.mapping_lr_multiplier)
        self.const = nn.Parameter(torch.randn(c.channels(4), 4, 4))
        blocks = []
        in_channels = c.channels(4)
        for r in c.resolutions:
            blocks.append(SynthesisBlock(in_channels, c.channels(r), c.w_dim, first=(r == 4)))
            in_channels = c.channels(r)
        self.blocks = nn.ModuleList(blocks)
        # Running mean of w, for the truncation trick and as the inversion's fallback start.
        self.register_buffer("w_avg", torch.zeros(c.w_dim))

    # ------------------------------------------------------------------ inputs
    def sample_latents(self, batch: int, *, generator: torch.Generator | None = None, device=None):
        """Unit-normal (z_static, z_dynamic)."""
        device = device or self.const.device
        return (torch.randn(batch, self.config.z_static_dim, generator=generator, device=device),
                torch.randn(batch, self.config.z_dynamic_dim, generator=generator, device=device))

    def sample_noise(self, batch: int, *, generator: torch.Generator | None = None, device=None) -> list[torch.Tensor]:
        """One set of unit-normal noise maps: a list of (B, 1, r, r) for r = 4..R."""
        device = device or self.const.device
        return [torch.randn(batch, 1, r, r, generator=generator, device=device) for r in self.config.resolutions]

    def zero_noise(self, batch: int, *, device=None) -> list[torch.Tensor]:
        device = device or self.const.device
        return [torch.zeros(batch, 1, r, r, device=device) for r in self.config.resolutions]

    # ------------------------------------------------------------------ forward
    def styles(self, z_static: torch.Tensor, z_dynamic: torch.Tensor) -> torch.Tensor:
        """(B, D_st), (B, D_dyn) -> W (B, N, w_dim), the one mapped ``w`` repeated at every resolution."""
        w = self.mapping(z_static, z_dynamic)
        return w.unsqueeze(1).expand(-1, self.config.num_ws, -1)

    def synthesis(self, ws: torch.Tensor, static_noise: list[torch.Tensor],
                  dynamic_noise: list[torch.Tensor]) -> torch.Tensor:
        """W (B, N, w_dim) or (B, w_dim), S^st and S^dyn (lists of N (B|1, 1, r, r)) -> image (B, 3, R, R) in ~[-1, 1]."""
        if ws.dim() == 2:
            ws = ws.unsqueeze(1).expand(-1, self.config.num_ws, -1)
        n = self.config.num_ws
        if ws.shape[1] != n or len(static_noise) != n or len(dynamic_noise) != n:
            raise ValueError(f"the generator needs {n} styles and {n} static and dynamic noise maps, got "
                             f"{ws.shape[1]}, {len(static_noise)} and {len(dynamic_noise)}")
        _, rgb = self.run_blocks(ws, static_noise, dynamic_noise)
        return rgb

    def run_blocks(self, ws: torch.Tensor, static_noise: list[torch.Tensor], dynamic_noise: list[torch.Tensor], *,
                   start: int = 0, stop: int | None = None, state: tuple | None = None,
                   upsampled: bool = False) -> tuple:
        """Run synthesis blocks ``start`` to ``stop`` (exclusive) from ``state = (features, rgb)`` (None: the
        constant input) and return the new ``(features, rgb)`` (features without the activation's gain: module
        docstring). Lets a caller cache the output of blocks whose inputs do not change (e.g. while fine-tuning
        only the finer blocks); ``upsampled=True``: ``state`` is already block ``start``'s
        :meth:`SynthesisBlock.upsample_inputs` (:meth:`upsampled_state`), so a cached state is upsampled once."""
        if state is None:
            state = (self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1), None)
        x, rgb = state
        for i in range(start, len(self.blocks) if stop is None else stop):
            x, rgb = self.blocks[i](x, rgb, ws[:, i], static_noise[i], dynamic_noise[i],
                                    upsampled=upsampled and i == start)
        return x, rgb

    def upsampled_state(self, state: tuple, block: int) -> tuple:
        """``state = (features, rgb)`` of the blocks before ``block``, upsampled as block ``block`` reads it: pass
        the result to :meth:`run_blocks` with ``start=block, upsampled=True``."""
        return self.blocks[block].upsample_inputs(*state)

    def forward(self, z_static: torch.Tensor, z_dynamic: torch.Tensor, static_noise: list[torch.Tensor],
                dynamic_noise: list[torch.Tensor]) -> torch.Tensor:
        """G(M(z_st, z_dyn), S^st, S^dyn): (B, 3, R, R) in ~[-1, 1]."""
        return self.synthesis(self.styles(z_static, z_dynamic), static_noise, dynamic_noise)
