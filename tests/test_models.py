"""Networks: the paper's sizes, output ranges, and save/load round trips."""

import json

import pytest
import torch

from cinescape.errors import ModelLoadError
from cinescape.models import EncoderConfig, LatentEncoder, Predictor, PredictorConfig


def test_paper_predictor_is_constructible_with_table1_channels():
    model = Predictor(PredictorConfig(out_channels=6, width=1.0, num_res_blocks=5))
    assert model.conv1[0].out_channels == 128 and model.conv1[0].kernel_size == (5, 5)
    assert model.conv2[0].out_channels == 256 and model.conv3[0].out_channels == 512
    assert model.conv1[0].in_channels == 3 + 8  # latent concatenated before each downsampling conv
    assert model.conv2[0].in_channels == 128 + 8 and model.conv3[0].in_channels == 256 + 8
    assert len(model.res) == 5
    assert model.upconv1[0].in_channels == 1024 and model.upconv3.out_channels == 6


def test_paper_encoder_is_constructible_with_table2_channels():
    encoder = LatentEncoder(EncoderConfig(in_channels=3, width=1.0, input_size=128))
    assert encoder.conv1.out_channels == 64 and encoder.fc.in_features == 256 and encoder.fc.out_features == 8
    assert encoder(torch.zeros(2, 3, 128, 128)).shape == (2, 8)


def test_predictor_output_range_is_restricted_by_beta():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1, beta=8.0))
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 48) * 2 - 1, torch.randn(2, 8) * 10)
    assert out.shape == (2, 2, 32, 48)
    assert out.abs().max() <= 1 / 8 + 1e-6


def test_latent_code_changes_the_prediction():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(out_channels=2, width=0.0625, num_res_blocks=1)).eval()
    image = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(image, torch.zeros(1, 8)), model(image, torch.ones(1, 8)))


def test_predictor_rejects_sizes_not_divisible_by_8():
    model = Predictor(PredictorConfig(width=0.0625, num_res_blocks=1))
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.zeros(1, 3, 30, 32), torch.zeros(1, 8))


@pytest.mark.parametrize("dtype,atol", [(None, 0.0), (torch.float16, 1e-2)])
def test_save_load_round_trip(tmp_path, dtype, atol):
    torch.manual_seed(1)
    model = Predictor(PredictorConfig(out_channels=6, width=0.0625, num_res_blocks=2)).eval()
    model.save_pretrained(tmp_path / "p", dtype=dtype)
    loaded = Predictor.from_pretrained(tmp_path / "p")
    assert loaded.config == model.config
    image, z = torch.rand(1, 3, 16, 16), torch.randn(1, 8)
    with torch.no_grad():
        assert torch.allclose(model(image, z), loaded(image, z), atol=atol)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json is missing"):
        Predictor.from_pretrained(tmp_path)
    model = Predictor(PredictorConfig(width=0.0625, num_res_blocks=1))
    model.save_pretrained(tmp_path / "p")
    # a foreign model type
    with pytest.raises(ModelLoadError, match="does not hold"):
        LatentEncoder.from_pretrained(tmp_path / "p")
    # corrupt weights
    (tmp_path / "p" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="corrupt weights"):
        Predictor.from_pretrained(tmp_path / "p")
    # weights that do not match the config
    model.save_pretrained(tmp_path / "q")
    config = json.loads((tmp_path / "q" / "config.json").read_text())
    config["width"] = 0.125
    (tmp_path / "q" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not match"):
        Predictor.from_pretrained(tmp_path / "q")
    # a field this version does not know (a newer cinescape's folder), or a value the config refuses
    config["width"], config["colour_space"] = 0.0625, "lab"
    (tmp_path / "q" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"q/config.json has unknown fields \['colour_space'\]"):
        Predictor.from_pretrained(tmp_path / "q")
    # garbage config
    (tmp_path / "q" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="corrupt"):
        Predictor.from_pretrained(tmp_path / "q")


@pytest.mark.parametrize("kernel", [3, 5])
def test_nearest_upsample_conv_is_the_upsampled_convolution(kernel):
    """The polyphase form equals conv(nearest x2 upsample) on odd sizes, borders included (zero padding)."""
    import torch.nn as nn
    import torch.nn.functional as F

    from cinescape.models.predictor import nearest_upsample_conv

    torch.manual_seed(0)
    conv = nn.Conv2d(5, 4, kernel, padding=kernel // 2)
    x = torch.randn(2, 5, 7, 9)
    plain = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    fast = nearest_upsample_conv(x, conv)
    assert fast.shape == plain.shape == (2, 4, 14, 18)
    assert torch.allclose(fast, plain, atol=1e-5)
    with pytest.raises(ValueError, match="stride-1"):
        nearest_upsample_conv(x, nn.Conv2d(5, 4, 3, stride=2, padding=1))


def test_predictor_inference_path_equals_its_training_path():
    """eval() runs the upsampling convolutions in polyphase form: the same output as train() (no dropout or
    batch statistics in this network), for the tiled-code and the gated head."""
    torch.manual_seed(0)
    net = Predictor(PredictorConfig(out_channels=6, latent_dim=4, width=0.1, num_res_blocks=1, gate=True))
    image, z = torch.rand(2, 3, 24, 40) * 2 - 1, torch.randn(2, 4)
    with torch.no_grad():
        trained = net.train()(image, z)
        inferred = net.eval()(image, z)
    assert torch.allclose(trained, inferred, atol=1e-5)
