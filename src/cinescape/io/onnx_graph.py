"""A minimal ONNX model writer (build a graph of standard operators from NumPy weights, serialise it) and the ONNX
Runtime CPU session the networks run in.

Why not ``torch.onnx.export``: the TorchScript exporter (``dynamo=False``) is deprecated and needs the ``onnx``
package to write its output; the new exporter needs ``onnx`` and ``onnxscript``; neither can export the predictors'
polyphase decoder with dynamic sizes (the instance norm after ``pixel_shuffle`` loses its channel count). The
networks run here are small and fixed, so the graph is written directly: the ONNX protobuf messages are encoded by
hand (wire format: varints and length-delimited fields), with no dependency beyond NumPy, in milliseconds.

Only the fields used are written (onnx.proto, IR version 8): ``ModelProto`` {ir_version 1, producer_name 2,
graph 7, opset_import 8}, ``GraphProto`` {node 1, name 2, initializer 5, input 11, output 12}, ``NodeProto``
{input 1, output 2, name 3, op_type 4, attribute 5}, ``AttributeProto`` {name 1, f 2, i 3, s 4, ints 8,
type 20}, ``TensorProto`` {dims 1, data_type 2, name 8, raw_data 9}, ``ValueInfoProto`` {name 1, type 2}.
"""

from __future__ import annotations

import functools
import os
import struct

import numpy as np

__all__ = ["OnnxGraph", "cpu_session", "onnxruntime_enabled"]

# TensorProto.DataType and AttributeProto.AttributeType values (onnx.proto)
_DATA_TYPES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7
IR_VERSION, OPSET = 8, 17


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint; negative int64 values as their 64-bit two's complement (10 bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _bytes_field(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _float_field(number: int, value: float) -> bytes:
    return _varint(number << 3 | 5) + struct.pack("<f", value)


def _attribute(name: str, value) -> bytes:
    if isinstance(value, float):
        return _bytes_field(1, name) + _float_field(2, value) + _int_field(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _bytes_field(1, name) + _int_field(3, value) + _int_field(20, _ATTR_INT)
    if isinstance(value, str):
        return _bytes_field(1, name) + _bytes_field(4, value) + _int_field(20, _ATTR_STRING)
    return _bytes_field(1, name) + b"".join(_int_field(8, int(v)) for v in value) + _int_field(20, _ATTR_INTS)


def _value_info(name: str, shape: tuple) -> bytes:
    """A float32 tensor input/output; a str dimension is symbolic (dim_param), an int fixed (dim_value)."""
    dims = b"".join(_bytes_field(1, _bytes_field(2, d) if isinstance(d, str) else _int_field(1, d)) for d in shape)
    tensor_type = _int_field(1, 1) + _bytes_field(2, dims)
    return _bytes_field(1, name) + _bytes_field(2, _bytes_field(1, tensor_type))


class OnnxGraph:
    """An ONNX graph under construction: weights (``constant``), operator nodes (``op``), then ``serialize``.

    Names are generated; ``op`` returns the output's name, to be passed as a later node's input. float32 and int64
    constants only (what the networks here need).

    Example:
        >>> graph = OnnxGraph("double")
        >>> x = graph.input("x", ("batch", 3))
        >>> graph.output(graph.op("Mul", x, graph.constant(np.float32(2))), "y", ("batch", 3))
        >>> model = graph.serialize()
        >>> model[:2] == bytes([0x08, 8])        # field 1 (ir_version), varint 8
        True
    """

    def __init__(self, name: str):
        self.name = name
        self._nodes: list[bytes] = []
        self._initializers: list[bytes] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []
        self._count = 0

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name: str, shape: tuple) -> str:
        """Declare a float32 graph input of ``shape`` (str entries are symbolic sizes); returns its name."""
        self._inputs.append(_value_info(name, shape))
        return name

    def output(self, value: str, name: str, shape: tuple) -> None:
        """Make ``value`` a graph output called ``name`` (an Identity node renames it)."""
        self._nodes.append(self._node("Identity", [value], [name], {}))
        self._outputs.append(_value_info(name, shape))

    def constant(self, array) -> str:
        """A float32 or int64 initializer (the array is copied, C order, little-endian); returns its name."""
        array = np.asarray(array)
        array = array.astype(np.int64 if array.dtype.kind in "iu" else np.float32)
        name = self._fresh("w")
        self._initializers.append(
            b"".join(_int_field(1, d) for d in array.shape) + _int_field(2, _DATA_TYPES[array.dtype])
            + _bytes_field(8, name) + _bytes_field(9, np.ascontiguousarray(array).astype("<" + array.dtype.str[1:])
                                                    .tobytes()))
        return name

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        """Append an ``op_type`` node (standard ONNX domain) on ``inputs``; returns its one output's name.
        Attributes: float, int, str or a sequence of ints ("" as an input name skips an optional input)."""
        output = self._fresh(op_type.lower())
        self._nodes.append(self._node(op_type, list(inputs), [output], attributes))
        return output

    def _node(self, op_type: str, inputs: list[str], outputs: list[str], attributes: dict) -> bytes:
        return (b"".join(_bytes_field(1, i) for i in inputs) + b"".join(_bytes_field(2, o) for o in outputs)
                + _bytes_field(3, self._fresh("node")) + _bytes_field(4, op_type)
                + b"".join(_bytes_field(5, _attribute(k, v)) for k, v in attributes.items()))

    def serialize(self) -> bytes:
        """The ``ModelProto`` bytes (IR version 8, opset 17), loadable by ``onnxruntime.InferenceSession``."""
        graph = (b"".join(_bytes_field(1, n) for n in self._nodes) + _bytes_field(2, self.name)
                 + b"".join(_bytes_field(5, t) for t in self._initializers)
                 + b"".join(_bytes_field(11, i) for i in self._inputs)
                 + b"".join(_bytes_field(12, o) for o in self._outputs))
        opset = _bytes_field(1, "") + _int_field(2, OPSET)
        return (_int_field(1, IR_VERSION) + _bytes_field(2, "cinescape") + _bytes_field(7, graph)
                + _bytes_field(8, opset))


@functools.lru_cache(maxsize=1)
def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def onnxruntime_enabled() -> bool:
    """Whether the predictors run on ONNX Runtime: it is importable and ``$CINESCAPE_RUNTIME`` is not "torch".

    Example:
        >>> isinstance(onnxruntime_enabled(), bool)
        True
    """
    return os.environ.get("CINESCAPE_RUNTIME", "").strip().lower() != "torch" and _onnxruntime() is not None


def cpu_session(model: bytes, threads: int, *, keep_buffers: bool = True):
    """An ``onnxruntime.InferenceSession`` of the ONNX ``model`` on the CPU: all graph optimisations, ``threads``
    intra-op threads that sleep rather than spin between operators (the renderer and the encoder share the cores:
    on the busy 2-core machine spinning threads doubled the CPU time of a network). ``keep_buffers=False``: no
    memory arena, so a big network's activations are freed after each run instead of held by the session.

    Example:
        >>> graph = OnnxGraph("negate")
        >>> graph.output(graph.op("Neg", graph.input("x", (2,))), "y", (2,))
        >>> cpu_session(graph.serialize(), 1).run(None, {"x": np.float32([1, -2])})[0].tolist()
        [-1.0, 2.0]
    """
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = keep_buffers
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
