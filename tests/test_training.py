"""Training steps lower their losses; training resumes exactly; codebooks are extracted."""

import pytest
import torch
import torch.nn.functional as F

from cinescape.methods.al.appearance import AppearanceLoss, AppearanceModel, appearance_loss
from cinescape.methods.al.codebook import Codebook
from cinescape.models.squeezenet import SqueezeFeatures
from cinescape.methods.al.motion import MotionModel, motion_loss
from cinescape.ops import flow_normalized_to_pixels
from cinescape.methods.al.train import TrainConfig, train


def smooth_texture(height: int, width: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 4, width // 4, generator=generator) * 2 - 1
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(-1, 1)


def translating_pair(shift: int = 1, size: int = 32, batch: int = 4):
    """Frames of a texture moving ``shift`` px to the right: frame1(p) = frame0(p - shift)."""
    big = smooth_texture(size, size + 8 * batch)
    firsts = torch.cat([big[..., 4 * i + shift:4 * i + shift + size] for i in range(batch)])
    seconds = torch.cat([big[..., 4 * i:4 * i + size] for i in range(batch)])
    return firsts, seconds


def test_motion_training_step_lowers_loss_and_learns_the_motion():
    torch.manual_seed(0)
    model = MotionModel.create(width=0.125, num_res_blocks=1, beta=8.0, encoder_width=0.125, encoder_size=32)
    first, second = translating_pair()
    fields = torch.zeros(first.shape[0], 2, 32, 32)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    initial, stats0, _ = motion_loss(model, first, second, fields)
    for _ in range(60):
        loss, stats, flow = motion_loss(model, first, second, fields)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final, stats, flow = motion_loss(model, first, second, fields)
    assert final.item() < 0.5 * initial.item()
    assert stats["photometric"] < 0.5 * stats["static_photometric"]
    # second(p) = first(p - 1 px in x): the backward flow is -1 px in x, 0 in y (interior)
    pixels = flow_normalized_to_pixels(flow.detach())[..., 4:-4, 4:-4]
    assert -1.5 < pixels[:, 0].mean().item() < -0.5
    assert abs(pixels[:, 1].mean().item()) < 0.3


def test_appearance_training_step_lowers_loss():
    torch.manual_seed(0)
    model = AppearanceModel.create(width=0.125, num_res_blocks=1, encoder_width=0.125, encoder_size=32)
    criterion = AppearanceLoss(SqueezeFeatures(pretrained=False))
    source = smooth_texture(32, 32).expand(4, -1, -1, -1) * 0.5
    target = (source + torch.tensor([0.4, 0.0, -0.4]).view(1, 3, 1, 1)).clamp(-1, 1)  # a warm tint
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    initial, stats0 = appearance_loss(model, criterion, source, target)
    for _ in range(40):
        loss, _ = appearance_loss(model, criterion, source, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final, stats = appearance_loss(model, criterion, source, target)
    assert final.item() < 0.5 * initial.item()
    assert stats["spatial"] < 0.25 * stats["identity_spatial"]  # colours moved towards the target


def _tiny_config(tmp_path, steps: int, kind: str = "motion") -> TrainConfig:
    return TrainConfig(kind=kind, out=str(tmp_path / "run"), synthetic=3, steps=steps, batch_size=2, crop=32,
                       short_side=32, width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16,
                       min_pair_difference=0.0, checkpoint_every=2, log_every=1, bf16=False)


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    straight = _tiny_config(tmp_path / "a", steps=4)
    train(straight, progress=False)
    interrupted = _tiny_config(tmp_path / "b", steps=2)
    train(interrupted, progress=False)
    resumed = _tiny_config(tmp_path / "b", steps=4)
    model_dir = train(resumed, resume=True, progress=False)
    a = torch.load(tmp_path / "a" / "run" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert torch.equal(a["common_fields"], b["common_fields"])
    # the exported model has one motion code per training clip
    codebook = Codebook.load(model_dir)
    assert codebook.motion.shape == (3, 8) and len(codebook.motion_names) == 3
    assert MotionModel.from_pretrained(model_dir).predictor.config.beta == 16.0


def test_appearance_run_exports_a_code_sequence_per_clip(tmp_path):
    config = _tiny_config(tmp_path, steps=2, kind="appearance")
    model_dir = train(config, progress=False, appearance_features=SqueezeFeatures(pretrained=False))
    codebook = Codebook.load(model_dir)
    assert len(codebook.appearance) == 3
    assert all(seq.shape == (16, 8) for seq in codebook.appearance)  # every frame of each 16-frame clip


def test_photometric_error_norms_closed_form():
    from cinescape.methods.al.motion import photometric_error

    a = torch.zeros(1, 3, 2, 2)
    b = torch.full((1, 3, 2, 2), 0.5)
    assert photometric_error(a, b, "l2").item() == pytest.approx(0.25)
    assert photometric_error(a, b, "charbonnier").item() == pytest.approx((0.25 + 1e-6) ** 0.5)
    with pytest.raises(ValueError):
        photometric_error(a, b, "l3")
