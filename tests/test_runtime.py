"""The predictors on ONNX Runtime (cinescape.models.runtime): the same maps as torch, and torch whenever the runtime
cannot run them."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import cinescape.models.runtime as runtime
from cinescape.models import LatentMapPredictor, Predictor, PredictorConfig
import cinescape.io.onnx_graph as onnx_graph
from cinescape.io.onnx_graph import OnnxGraph, _varint

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the predictors run on torch")


def torch_forward(net, image, z, monkeypatch):
    """The torch eval-mode forward (polyphase decoder), with the runtime switched off."""
    with monkeypatch.context() as patch:
        patch.setenv("CINESCAPE_RUNTIME", "torch")
        with torch.no_grad():
            return net(image, z)


@pytest.mark.parametrize("config, size", [
    (PredictorConfig(out_channels=6, width=0.0625, num_res_blocks=2), (2, 24, 40)),           # appearance-like
    (PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1, beta=16.0, gate=True), (3, 40, 24)),  # motion
    (PredictorConfig(out_channels=3, latent_dim=4, width=0.1, num_res_blocks=1), (1, 16, 8)),  # 2 x 1 pixels at the bottom
    (PredictorConfig(out_channels=6, width=0.0625, num_res_blocks=1), (2, 72, 104)),          # odd multiples of 8
])
def test_onnx_predictor_equals_torch_predictor(config, size, monkeypatch):
    torch.manual_seed(0)
    net = Predictor(config).eval()
    batch, height, width = size
    image, z = torch.rand(batch, 3, height, width) * 2 - 1, torch.randn(batch, config.latent_dim) * 3
    expected = torch_forward(net, image, z, monkeypatch)
    with torch.no_grad():
        plain = net.train()(image, z)             # nearest upsampling then convolution: the training form
    fast = runtime.run_predictor(net.eval(), image, z)
    assert fast is not None and fast.shape == expected.shape == (batch, config.out_channels, height, width)
    assert (fast - expected).abs().max() < 1e-4 and (fast - plain).abs().max() < 1e-4
    with torch.no_grad():                         # the module's own inference forward takes the runtime
        assert torch.equal(net(image, z), fast)


def test_one_session_serves_every_batch_and_size(monkeypatch):
    torch.manual_seed(1)
    net = Predictor(PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1)).eval()
    for batch, height, width in ((1, 16, 16), (4, 32, 48), (2, 56, 24)):
        image, z = torch.rand(batch, 3, height, width), torch.randn(batch, 8)
        assert (runtime.run_predictor(net, image, z) - torch_forward(net, image, z, monkeypatch)).abs().max() < 1e-4
    assert len([key for key in runtime._sessions if key is net]) == 1


def test_changed_weights_rebuild_the_session(monkeypatch):
    """Loading or training new weights into a network must not leave the runtime running the old ones."""
    torch.manual_seed(2)
    net = Predictor(PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1)).eval()
    image, z = torch.rand(1, 3, 16, 16), torch.randn(1, 8)
    before = runtime.run_predictor(net, image, z)
    with torch.no_grad():
        net.upconv3.bias.add_(0.5)                # in place, as an optimizer step or load_state_dict does
    after = runtime.run_predictor(net, image, z)
    assert (after - before).abs().max() > 1e-3
    assert (after - torch_forward(net, image, z, monkeypatch)).abs().max() < 1e-4


def test_torch_runs_when_onnxruntime_is_missing(monkeypatch):
    net = Predictor(PredictorConfig(out_channels=6, width=0.0625, num_res_blocks=1)).eval()
    image, z = torch.rand(2, 3, 16, 24), torch.randn(2, 8)
    expected = torch_forward(net, image, z, monkeypatch)
    monkeypatch.setattr(onnx_graph, "_onnxruntime", lambda: None)
    assert not onnx_graph.onnxruntime_enabled() and runtime.run_predictor(net, image, z) is None
    with torch.no_grad():
        assert torch.equal(net(image, z), expected)


def test_torch_runs_when_the_runtime_fails(monkeypatch, caplog):
    """A session that cannot be built (or run) falls back to torch, logged once, with no error for the caller."""
    net = Predictor(PredictorConfig(out_channels=6, width=0.0625, num_res_blocks=1)).eval()
    image, z = torch.rand(2, 3, 16, 24), torch.randn(2, 8)
    expected = torch_forward(net, image, z, monkeypatch)

    def broken(*args, **kwargs):
        raise RuntimeError("no CPU provider")

    monkeypatch.setattr(onnx_graph._onnxruntime(), "InferenceSession", broken)
    with torch.no_grad():
        assert torch.equal(net(image, z), expected)
        assert torch.equal(net(image, z), expected)
    assert [r.message for r in caplog.records].count(
        "ONNX Runtime failed for Predictor, running it on torch: no CPU provider") == 1


def test_gradients_training_and_other_predictors_stay_on_torch(monkeypatch):
    net = Predictor(PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1)).eval()
    image, z = torch.rand(1, 3, 16, 16), torch.randn(1, 8, requires_grad=True)
    calls = []
    monkeypatch.setattr(runtime, "run_predictor", lambda *args: calls.append(args))
    net(image, z).sum().backward()                # the appearance-code optimisation needs gradients
    assert z.grad is not None and calls == []
    with torch.no_grad():
        net.train()(image, z)
        assert calls == []
    latent_map = LatentMapPredictor(PredictorConfig(out_channels=3, width=0.0625, num_res_blocks=1)).eval()
    with torch.no_grad():                         # FGLA's predictor conditions on a map: not what the graph writes
        latent_map(image, torch.randn(1, 8, 16, 16))
        assert calls == []
        net.eval()(image, z)
        assert len(calls) == 1


def test_runtime_off_by_environment(monkeypatch):
    monkeypatch.setenv("CINESCAPE_RUNTIME", "torch")
    assert not onnx_graph.onnxruntime_enabled()
    monkeypatch.setenv("CINESCAPE_RUNTIME", "")
    assert onnx_graph.onnxruntime_enabled()


def test_varint_encoding_matches_protobuf():
    """Known encodings from the protobuf wire-format specification (300 -> ac 02; -1 as int64: ten bytes)."""
    assert _varint(1) == b"\x01" and _varint(300) == b"\xac\x02"
    assert _varint(-1) == b"\xff" * 9 + b"\x01"


def test_written_graph_runs_standard_operators():
    """A hand-written graph (with an int64 constant, a float attribute and int-list attributes) runs in
    onnxruntime with the expected result."""
    graph = OnnxGraph("check")
    x = graph.input("x", ("n", 2, 3, 3))
    conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    y = graph.op("Conv", x, graph.constant(conv.weight.detach().numpy()), kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = graph.op("LeakyRelu", graph.op("Reshape", y, graph.constant([-1, 9])), alpha=0.5)
    graph.output(y, "y", ("n", 9))
    session = ort.InferenceSession(graph.serialize(), providers=["CPUExecutionProvider"])
    x_value = np.arange(36, dtype=np.float32).reshape(2, 2, 3, 3) - 20
    expected = torch.nn.functional.leaky_relu(conv(torch.from_numpy(x_value)), 0.5).reshape(-1, 9)
    np.testing.assert_allclose(session.run(None, {"x": x_value})[0], expected.detach().numpy(), atol=1e-5)


# ------------------------------------------------------------------------ the sky matte (ncnn files) on ONNX Runtime

def landscape(height: int = 96, width: int = 160) -> np.ndarray:
    """A blue-to-white sky over green-brown land with a dark ridge: enough structure for the matte to answer."""
    rows = np.linspace(0, 1, height)[:, None, None]
    sky = np.array([70, 130, 220]) * (1 - rows) + np.array([230, 235, 240]) * rows
    land = np.array([60, 90, 40]) + 40 * np.sin(np.arange(width) / 7.0)[None, :, None]
    image = np.where(rows < 0.55, sky, land) * np.ones((1, width, 1))
    image[int(0.5 * height):int(0.6 * height)] = 30
    return np.clip(image, 0, 255).astype(np.uint8)


def test_sky_matte_on_onnxruntime_equals_ncnn(monkeypatch):
    from cinescape.segmentation import SkyMatte

    torch.set_num_threads(1)
    image = landscape()
    matte = SkyMatte()
    fast = matte(image)
    assert matte._onnx not in (None, False)           # the ONNX Runtime session ran
    monkeypatch.setenv("CINESCAPE_RUNTIME", "torch")    # ncnn, as before
    reference = matte(image)
    assert fast.shape == reference.shape == image.shape[:2]
    assert np.abs(fast - reference).max() < 1e-4
    assert reference[:20].mean() > 0.5 > reference[-20:].mean()   # and it is a sky matte: sky up, land down


def test_sky_matte_falls_back_to_ncnn_when_onnxruntime_fails(monkeypatch, caplog):
    from cinescape.segmentation import SkyMatte

    def unsupported(*args, **kwargs):
        raise TypeError("ncnn layer Deconvolution is not supported")

    monkeypatch.setattr("cinescape.io.ncnn_graph.ncnn_to_onnx", unsupported)
    matte, image = SkyMatte(), landscape()
    first, second = matte(image), matte(image)
    assert matte._onnx is False and np.array_equal(first, second)
    monkeypatch.setenv("CINESCAPE_RUNTIME", "torch")
    assert np.array_equal(first, matte(image))
    assert sum("running ncnn" in r.message for r in caplog.records) == 1


def test_ncnn_conversion_refuses_unknown_layers(tmp_path):
    from cinescape.io.ncnn_graph import ncnn_to_onnx

    param = tmp_path / "net.param"
    param.write_text("7767517\n2 2\nInput in 0 1 data\nDeconvolution up 1 1 data out 0=4 1=2 6=64\n")
    (tmp_path / "net.bin").write_bytes(b"")
    with pytest.raises(TypeError, match="Deconvolution is not supported"):
        ncnn_to_onnx(param, tmp_path / "net.bin", (1, 4, 8, 8), "out")


def test_ncnn_conversion_reads_float16_and_float32_weights(tmp_path):
    """A two-layer ncnn net written here (one float16-tagged, one float32-tagged convolution with bias and ReLU):
    the converted graph computes the same as torch."""
    from cinescape.io.ncnn_graph import ncnn_to_onnx

    torch.manual_seed(3)
    first, second = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 1)
    half = first.weight.detach().numpy().astype(np.float16)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(half.astype(np.float32)))
    data = (np.uint32(0x01306B47).tobytes() + half.tobytes() + first.bias.detach().numpy().tobytes()
            + np.uint32(0).tobytes() + second.weight.detach().numpy().tobytes() + second.bias.detach().numpy().tobytes())
    (tmp_path / "net.bin").write_bytes(data)          # 108 float16 values: 216 bytes, already 4-byte aligned
    (tmp_path / "net.param").write_text(
        "7767517\n4 4\nInput in 0 1 data\nConvolution c1 1 1 data a 0=4 1=3 4=1 5=1 6=108 9=1\n"
        "Convolution c2 1 1 a b 0=2 1=1 5=1 6=8\nSigmoid s 1 1 b out\n")
    model = ncnn_to_onnx(tmp_path / "net.param", tmp_path / "net.bin", (1, 3, 6, 5), "out")
    x = torch.rand(1, 3, 6, 5)
    expected = torch.sigmoid(second(torch.relu(first(x)))).detach().numpy()
    got = onnx_graph.cpu_session(model, 1).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
