"""The predictors' inference on ONNX Runtime (CPU), with torch as the fallback (issue 29).

At inference (eval mode, no gradient, no autocast) :class:`~cinescape.models.predictor.Predictor` hands its forward
to :func:`run_predictor`, which runs the same network as an ONNX graph (:func:`predictor_graph`, written from the
module's weights by :mod:`cinescape.io.onnx_graph`) in an ``onnxruntime.InferenceSession``: all graph
optimisations, as many intra-op threads as torch has. Same maps as torch within ~1e-5 (float32 both; the
decoder's upsampling convolutions in the same polyphase form). On this project's 2-core AVX2 CPU that is faster than
torch's CPU kernels (``experiments/ort_speed.py``; figures in docs/results.md, "s5-ort").

Sessions are cached per network and thread count, in memory only: writing the graph takes milliseconds (no export,
no tracing) so nothing is written to disk. The cache key includes each weight's version counter, so a network that
was trained or loaded into since gets a fresh graph. ``onnxruntime`` not installed, ``CINESCAPE_RUNTIME=torch``, a
network this writer does not know, or any error building or running the session: ``run_predictor`` returns None
and the caller runs torch (an error is logged once per network).
"""

from __future__ import annotations

import logging
import weakref

import numpy as np
import torch
import torch.nn as nn

from ..io.onnx_graph import OnnxGraph, cpu_session, onnxruntime_enabled
from .polyphase import check_upsample_conv, polyphase_kernels

__all__ = ["predictor_graph", "run_predictor"]

log = logging.getLogger(__name__)

_sessions: "weakref.WeakKeyDictionary[nn.Module, tuple]" = weakref.WeakKeyDictionary()
_failed: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()


class _Writer:
    """Writes a :class:`~cinescape.models.predictor.Predictor`'s layers into an :class:`OnnxGraph`; unknown layers raise TypeError."""

    def __init__(self, graph: OnnxGraph):
        self.graph = graph

    def weight(self, tensor: torch.Tensor | None) -> str:
        return "" if tensor is None else self.graph.constant(tensor.detach().float().cpu().numpy())

    def conv(self, x: str, conv: nn.Conv2d) -> str:
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise TypeError(f"no ONNX writer for {conv}")
        (ph, pw), (kh, kw) = conv.padding, conv.kernel_size
        return self.graph.op("Conv", x, self.weight(conv.weight), self.weight(conv.bias), kernel_shape=[kh, kw],
                             pads=[ph, pw, ph, pw], strides=list(conv.stride))

    def layer(self, x: str, module: nn.Module) -> str:
        g = self.graph
        if isinstance(module, nn.Sequential):
            for child in module:
                x = self.layer(x, child)
            return x
        if isinstance(module, nn.Conv2d):
            return self.conv(x, module)
        if isinstance(module, nn.InstanceNorm2d) and not module.affine and not module.track_running_stats:
            channels = module.num_features
            return g.op("InstanceNormalization", x, g.constant(np.ones(channels)), g.constant(np.zeros(channels)),
                        epsilon=float(module.eps))
        if isinstance(module, nn.LeakyReLU):
            return g.op("LeakyRelu", x, alpha=float(module.negative_slope))
        if type(module).__name__ == "ResBlock":      # predictor.ResBlock (not imported: predictor imports this)
            return g.op("Add", x, self.layer(x, module.body))
        raise TypeError(f"no ONNX writer for {type(module).__name__}")

    def upsample_conv(self, x: str, layer: nn.Module) -> str:
        """:func:`~cinescape.models.predictor.nearest_upsample_conv` of ``layer``'s first convolution, then the
        rest of ``layer``: the four phases concatenated phase-major and interleaved by DepthToSpace (DCR)."""
        g = self.graph
        conv, rest = (layer[0], layer[1:]) if isinstance(layer, nn.Sequential) else (layer, None)
        check_upsample_conv(conv)
        phases = polyphase_kernels(conv.weight.detach().float())
        bias = None if conv.bias is None else conv.bias.detach().float()
        if all(kernel.shape[-2:] == (3, 3) for kernel, _ in phases):      # k = 5: one convolution (one 3×3 window)
            stacked = torch.cat([kernel for kernel, _ in phases])
            x = g.op("Conv", x, self.weight(stacked), self.weight(None if bias is None else bias.repeat(4)),
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        else:
            outputs = []
            for kernel, (top, left) in phases:
                kh, kw = kernel.shape[-2:]
                outputs.append(g.op("Conv", x, self.weight(kernel), self.weight(bias), kernel_shape=[kh, kw],
                                    pads=[-top, -left, kh - 1 + top, kw - 1 + left]))
            x = g.op("Concat", *outputs, axis=1)
        x = g.op("DepthToSpace", x, blocksize=2, mode="DCR")
        return x if rest is None else self.layer(x, rest)


def predictor_graph(predictor: nn.Module) -> bytes:
    """The ONNX model of ``predictor``'s inference (eval-mode) forward: inputs ``image`` (B, C, H, W) and ``code``
    (B, latent_dim), float32, any B and H, W divisible by 8; output ``out`` (B, out_channels, H, W). Raises TypeError
    for a predictor this writer cannot express (a subclass with its own conditioning, an unknown layer).

    Example:
        >>> from cinescape.models import Predictor, PredictorConfig
        >>> model = predictor_graph(Predictor(PredictorConfig(width=0.0625, num_res_blocks=1)))
        >>> len(model) > 10000
        True
    """
    config = predictor.config
    g = OnnxGraph("predictor")
    writer = _Writer(g)
    image = g.input("image", ("batch", config.in_channels, "height", "width"))
    code = g.op("Unsqueeze", g.input("code", ("batch", config.latent_dim)), g.constant([2, 3]))
    leading_ones = g.constant([1, 1])

    def with_code(features: str) -> str:     # the code tiled over the features' size, concatenated (AL)
        size = g.op("Concat", leading_ones, g.op("Shape", features, start=2), axis=0)
        return g.op("Concat", features, g.op("Expand", code, size), axis=1)

    d1 = writer.layer(with_code(image), predictor.conv1)
    d2 = writer.layer(with_code(d1), predictor.conv2)
    d3 = writer.layer(with_code(d2), predictor.conv3)
    x = writer.layer(d3, predictor.res)
    x = writer.upsample_conv(g.op("Concat", x, d3, axis=1), predictor.upconv1)
    x = writer.upsample_conv(g.op("Concat", x, d2, axis=1), predictor.upconv2)
    x = writer.upsample_conv(g.op("Concat", x, d1, axis=1), predictor.upconv3)
    out = config.out_channels
    if config.gate:
        starts, axes = g.constant([0]), g.constant([1])
        head = g.op("Slice", x, starts, g.constant([out]), axes)
        gate = g.op("Sigmoid", g.op("Slice", x, g.constant([out]), g.constant([out + 1]), axes))
        y = g.op("Mul", g.op("Tanh", head), gate)
    else:
        y = g.op("Tanh", x)
    if config.beta != 1.0:
        y = g.op("Div", y, g.constant(np.float32(config.beta)))
    g.output(y, "out", ("batch", out, "height", "width"))
    return g.serialize()


def _weights_key(module: nn.Module) -> tuple:
    """Changes when any weight is replaced or changed in place (optimizer steps and ``load_state_dict`` bump a
    tensor's version counter)."""
    return tuple((p.data_ptr(), p._version) for p in module.parameters())


def _session(predictor: nn.Module, threads: int):
    key = (threads, _weights_key(predictor))
    cached = _sessions.get(predictor)
    if cached is not None and cached[0] == key:
        return cached[1]
    session = cpu_session(predictor_graph(predictor), threads, keep_buffers=False)
    _sessions[predictor] = (key, session)
    return session


def run_predictor(predictor: nn.Module, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
    """``predictor(image, z)`` computed by ONNX Runtime, or None where torch must run it (see the module
    docstring). Shapes as :class:`~cinescape.models.predictor.Predictor`: image (B, C, H, W), z (B, latent_dim) -> (B, out_channels, H, W),
    float32 on the CPU.

    Example:
        >>> from cinescape.models import Predictor, PredictorConfig
        >>> net = Predictor(PredictorConfig(width=0.0625, num_res_blocks=1)).eval()
        >>> image, z = torch.rand(2, 3, 16, 24), torch.randn(2, 8)
        >>> out = run_predictor(net, image, z)
        >>> out is None or bool(torch.allclose(out, net(image, z), atol=1e-4))
        True
    """
    if (predictor in _failed or not onnxruntime_enabled() or image.device.type != "cpu"
            or z.dim() != 2 or z.shape[0] != image.shape[0]):
        return None
    try:
        session = _session(predictor, torch.get_num_threads())
        feed = {"image": image.detach().float().contiguous().numpy(), "code": z.detach().float().contiguous().numpy()}
        return torch.from_numpy(session.run(None, feed)[0])
    except Exception as error:  # noqa: BLE001 - any runtime failure falls back to torch, once logged
        _failed.add(predictor)
        log.warning("ONNX Runtime failed for %s, running it on torch: %s", type(predictor).__name__, error)
        return None
