"""VAE and WAE latent regularisers (AL Sec. 6.6): closed forms, encoders pulled to N(0, I), Gaussian codes."""

import math
import random

import numpy as np
import pytest
import torch

from cinescape.errors import OptionError
from cinescape.models import EncoderConfig, LatentEncoder
from cinescape.methods.al.motion import MotionModel
from cinescape.ops import kl_to_standard_normal, mmd_to_standard_normal
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline
from cinescape.methods.al.engine import CinemagraphEngine
from cinescape.methods.al.train import TrainConfig, train


def test_kl_closed_form():
    dim = 8
    # mean 1, unit variance: 0.5 * 1 per dimension
    assert kl_to_standard_normal(torch.ones(3, dim), torch.zeros(3, dim)).item() == pytest.approx(0.5 * dim)
    # mean 0, variance 4: 0.5 * (4 - 1 - ln 4) per dimension
    log_var = torch.full((2, dim), math.log(4.0))
    assert kl_to_standard_normal(torch.zeros(2, dim), log_var).item() == pytest.approx(0.5 * dim * (3 - math.log(4)))


def test_mmd_is_near_zero_for_prior_samples_and_grows_with_the_shift():
    generator = torch.Generator().manual_seed(0)
    prior_like = torch.randn(512, 8, generator=generator)
    values = [mmd_to_standard_normal(prior_like + shift, generator=generator).item() for shift in (0.0, 0.5, 2.0)]
    assert abs(values[0]) < 0.01
    assert values[0] < values[1] < values[2]
    with pytest.raises(ValueError):
        mmd_to_standard_normal(torch.zeros(1, 8))


def test_mmd_gradient_pulls_codes_to_the_prior():
    generator = torch.Generator().manual_seed(1)
    codes = (torch.randn(256, 4, generator=generator) * 0.1 + 2.0).requires_grad_()
    optimizer = torch.optim.Adam([codes], lr=0.05)
    for _ in range(200):
        loss = mmd_to_standard_normal(codes, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert codes.mean().abs().item() < 0.25
    assert 0.7 < codes.std().item() < 1.3


def test_vae_encoder_is_deterministic_and_trains_towards_the_prior():
    torch.manual_seed(0)
    motion = MotionModel.create(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16, prior="vae")
    assert motion.encoder.fc.out_features == 16  # mean and log-variance
    flows = torch.randn(6, 2, 16, 16) * 0.05
    motion.train()
    mean, log_var = motion.encoder.distribution(flows)
    assert torch.equal(motion.encoder(flows), mean)        # the code is the mean, in train mode too
    sample, kl = motion.encode_for_training(flows)
    assert not torch.equal(sample, mean)                   # training samples around it
    assert kl.item() == pytest.approx(kl_to_standard_normal(mean, log_var).item(), rel=1e-5)
    optimizer = torch.optim.Adam(motion.encoder.parameters(), lr=1e-2)
    first = kl.item()
    for _ in range(30):
        _, kl = motion.encode_for_training(flows)
        optimizer.zero_grad()
        kl.backward()
        optimizer.step()
    assert kl.item() < 0.1 * first


def test_no_prior_adds_nothing_and_unknown_prior_is_refused():
    motion = MotionModel.create(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16)
    flows = torch.randn(2, 2, 16, 16)
    code, term = motion.encode_for_training(flows)
    assert torch.equal(code, motion.encoder(flows)) and term.item() == 0.0
    with pytest.raises(ValueError, match="latent prior"):
        LatentEncoder(EncoderConfig(prior="gan"))


def _run(tmp_path, prior: str, steps: int = 3) -> TrainConfig:
    return TrainConfig(kind="motion", out=str(tmp_path / "run"), synthetic=3, steps=steps, batch_size=2, crop=32,
                       short_side=32, width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16,
                       min_pair_difference=0.0, checkpoint_every=2, log_every=1, bf16=False, latent_prior=prior)


def test_trained_wae_model_animates_with_gaussian_codes(tmp_path, tiny_pipeline, photo):
    model_dir = train(_run(tmp_path, "wae"), progress=False)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert "wae" in log[0].split(",")                      # the MMD term is logged
    motion = MotionModel.from_pretrained(model_dir)
    assert motion.prior == "wae"
    pipeline = CinemagraphPipeline(motion, tiny_pipeline.appearance, tiny_pipeline.codebook, working_size=48)
    settings = AnimationSettings(num_frames=3, loop="none", motion_code="gaussian", appearance=False, seed=4)
    code = pipeline.motion_code(settings, random.Random(4))
    expected = torch.randn(1, 8, generator=torch.Generator().manual_seed(random.Random(4).getrandbits(63)))[0]
    assert torch.equal(code, expected)                     # drawn from N(0, I) with the seed, not the codebook
    assert not any(torch.equal(code, c) for c in tiny_pipeline.codebook.motion)
    frames = np.stack(pipeline(photo, settings))
    assert frames.shape == (3, *photo.shape)
    # resuming with another prior is refused in one line
    with pytest.raises(OptionError, match="latent_prior"):
        train(_run(tmp_path, "vae", steps=4), resume=True, progress=False)


def test_gaussian_codes_need_a_model_with_a_prior(tiny_pipeline, photo):
    for settings in (AnimationSettings(num_frames=2, motion_code="gaussian"),
                     AnimationSettings(num_frames=2, appearance_code="gaussian")):
        with pytest.raises(OptionError, match="latent prior"):
            tiny_pipeline(photo, settings)


def test_gaussian_appearance_keyframes(tiny_pipeline):
    from cinescape.methods.al.appearance import AppearanceModel

    appearance = AppearanceModel.create(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=32,
                                        prior="wae")
    pipeline = CinemagraphPipeline(tiny_pipeline.motion, appearance, tiny_pipeline.codebook, working_size=48)
    small = torch.rand(1, 3, 48, 64) * 2 - 1
    settings = AnimationSettings(num_frames=12, appearance_code="gaussian", appearance_keyframes=3)
    codes = pipeline.appearance_codes(small, settings, random.Random(2))
    drawn = CinemagraphEngine.gaussian_codes(appearance, 3, random.Random(2))
    # the photo's own code at frame 0, then the 3 drawn keyframes at frames 3, 6, 9
    assert torch.allclose(codes[0], appearance.encode(small)[0])
    for index, frame in enumerate((3, 6, 9)):
        assert torch.allclose(codes[frame], drawn[index])
