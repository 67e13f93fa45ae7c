"""An ncnn network (``.param`` text + ``.bin`` weights) rewritten as an ONNX graph, for ONNX Runtime (issue 29).

Why: the shipped U²-Net-p sky matte (``segmentation_models/skyseg``) is an ncnn model; on this project's 2-core AVX2
CPU ONNX Runtime runs the same network in less CPU time (docs/results.md, "s5-ort"). Only the layers that model
uses are known: Input, Convolution (with a fused ReLU or sigmoid), Pooling (max), Interp (bilinear or nearest, to a fixed size),
BinaryOp (add, sub, mul, div of two blobs), Concat, Split and Sigmoid; anything else raises TypeError and the caller
keeps ncnn.

Formats (ncnn's documentation, "param and model file structure"): the ``.param`` file is ``7767517``, then
``layer_count blob_count``, then one line per layer: ``type name bottom_count top_count bottoms... tops...
key=value...``. The ``.bin`` file holds, layer by layer in that order, each convolution's weights (a 4-byte tag:
0 = float32, 0x01306B47 = float16, padded to 4 bytes) then its bias (float32, no tag).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .onnx_graph import OnnxGraph

__all__ = ["ncnn_to_onnx"]

_FP16_TAG, _FP32_TAG = 0x01306B47, 0
_BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div"}
_ACTIVATIONS = {0: None, 1: "Relu", 4: "Sigmoid"}      # a Convolution's fused activation_type


def _parse_params(fields: list[str]) -> dict[int, float]:
    params = {}
    for field in fields:
        key, value = field.split("=", 1)
        if int(key) < 0:
            raise TypeError(f"ncnn array parameter {field!r} is not supported")
        params[int(key)] = float(value) if any(c in value for c in ".eE") else int(value)
    return params


class _WeightReader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def floats(self, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, "<f4", count, self.offset).copy()
        self.offset += 4 * count
        return values

    def tagged(self, count: int) -> np.ndarray:
        tag = int(np.frombuffer(self.data, "<u4", 1, self.offset)[0])
        self.offset += 4
        if tag == _FP32_TAG:
            return self.floats(count)
        if tag == _FP16_TAG:
            values = np.frombuffer(self.data, "<f2", count, self.offset).astype(np.float32)
            self.offset += (2 * count + 3) // 4 * 4
            return values
        raise TypeError(f"ncnn weight storage {tag:#x} is not supported (only float32 and float16)")


def ncnn_to_onnx(param_path: str | Path, bin_path: str | Path, input_shape: tuple[int, ...], output: str) -> bytes:
    """The ONNX model of an ncnn network: its one input blob, of ``input_shape`` (N, C, H, W), as the graph input
    ``input`` and its blob ``output`` as the graph output ``output``; float32. ncnn's blobs are (C, H, W) of one
    image: a Concat's ``axis`` 0 is the channel axis (ONNX axis 1).

    Example:
        >>> from cinescape.weights import weight_path
        >>> from cinescape.segmentation import SKY_MATTE_FILES
        >>> model = ncnn_to_onnx(*(weight_path(f) for f in SKY_MATTE_FILES), (1, 3, 384, 384), "1959")
        >>> len(model) > 4_000_000          # the float16 weights come back as float32
        True
    """
    lines = Path(param_path).read_text().split("\n")
    if lines[0].strip() != "7767517":
        raise TypeError(f"{param_path} is not an ncnn text .param file")
    weights = _WeightReader(Path(bin_path).read_bytes())
    g = OnnxGraph("ncnn")
    names: dict[str, str] = {}     # ncnn blob -> graph value
    for line in lines[2:]:
        if not line.strip():
            continue
        fields = line.split()
        kind, bottom_count, top_count = fields[0], int(fields[2]), int(fields[3])
        bottoms = [names[b] for b in fields[4:4 + bottom_count]]
        tops = fields[4 + bottom_count:4 + bottom_count + top_count]
        p = _parse_params(fields[4 + bottom_count + top_count:])
        if kind == "Input":
            value = g.input("input", input_shape)
        elif kind == "Split":
            value = bottoms[0]
        elif kind == "Convolution":
            value = _convolution(g, weights, bottoms[0], p)
        elif kind == "Pooling":
            if p.get(0, 0) != 0 or p.get(4, 0) or p.get(5, 0) != 0:
                raise TypeError(f"ncnn Pooling {p} is not supported (max pooling, full padding only)")
            kernel, stride, pad = p.get(1, 0), p.get(2, 1), p.get(3, 0)
            if any(p.get(k, pad) != pad for k in (13, 14, 15)) or p.get(11, kernel) != kernel or p.get(12, stride) != stride:
                raise TypeError(f"ncnn Pooling {p}: only square kernels, strides and equal pads")
            value = g.op("MaxPool", bottoms[0], kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=[pad] * 4, ceil_mode=1)    # ncnn's "full padding": the last partial window counts
        elif kind == "Interp":
            value = _interp(g, bottoms[0], p)
        elif kind == "BinaryOp":
            if p.get(1, 0) or p.get(0, 0) not in _BINARY_OPS:
                raise TypeError(f"ncnn BinaryOp {p} is not supported")
            value = g.op(_BINARY_OPS[p.get(0, 0)], *bottoms)
        elif kind == "Concat":
            value = g.op("Concat", *bottoms, axis=p.get(0, 0) + 1)
        elif kind == "Sigmoid":
            value = g.op("Sigmoid", bottoms[0])
        else:
            raise TypeError(f"ncnn layer {kind} is not supported")
        for top in tops:
            names[top] = value
    if weights.offset != len(weights.data):
        raise TypeError(f"{bin_path}: {len(weights.data) - weights.offset} bytes of weights left unread")
    g.output(names[output], "output", ("n", "c", "h", "w"))
    return g.serialize()


def _convolution(g: OnnxGraph, weights: _WeightReader, x: str, p: dict) -> str:
    outputs, kernel = p[0], p.get(1, 0)
    kernel_h, dilation, stride, pad = p.get(11, kernel), p.get(2, 1), p.get(3, 1), p.get(4, 0)
    if (p.get(8, 0) or p.get(19, 0) or pad < 0 or p.get(11, kernel) != kernel or p.get(12, dilation) != dilation
            or p.get(13, stride) != stride or any(p.get(k, pad) != pad for k in (14, 15, 16))
            or p.get(9, 0) not in _ACTIVATIONS):
        raise TypeError(f"ncnn Convolution {p} is not supported")
    weight = weights.tagged(p[6]).reshape(outputs, -1, kernel_h, kernel)
    bias = weights.floats(outputs) if p.get(5, 0) else None
    y = g.op("Conv", x, g.constant(weight), "" if bias is None else g.constant(bias), kernel_shape=[kernel_h, kernel],
             dilations=[dilation, dilation], strides=[stride, stride], pads=[pad] * 4)
    return g.op(_ACTIVATIONS[p.get(9, 0)], y) if p.get(9, 0) else y


def _interp(g: OnnxGraph, x: str, p: dict) -> str:
    mode = {1: "nearest", 2: "linear"}.get(p.get(0, 0))
    if mode is None or p.get(5, 0) or not (p.get(3, 0) and p.get(4, 0)):
        raise TypeError(f"ncnn Interp {p} is not supported (bilinear or nearest to a fixed size)")
    batch_channels = g.op("Shape", x, start=0, end=2)
    sizes = g.op("Concat", batch_channels, g.constant([p[3], p[4]]), axis=0)
    transform = "align_corners" if p.get(6, 0) else ("half_pixel" if mode == "linear" else "asymmetric")
    return g.op("Resize", x, "", "", sizes, mode=mode, coordinate_transformation_mode=transform,
                nearest_mode="floor")
