"""DeepLandscape's speed paths (issue 29) against their references: the list Adam and plateau rule against torch's,
the OpenCV super-resolution upsampling and in-place blend against the float path, a rendered frame against the
reference composite, and the generator's lerp upsampling against torch's bilinear."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from cinescape.methods.deeplandscape.adam import Adam, ReduceOnPlateau
from cinescape.methods.deeplandscape.blend import MatteBlend, guided_blend
from cinescape.methods.deeplandscape.sr import SuperResolution, SuperResolutionConfig, upscale_hwc

from test_deeplandscape import _tiny_pipeline


def _two_tensors(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 3, generator=g).requires_grad_(True), torch.randn(7, generator=g).requires_grad_(True)]


def test_list_adam_equals_torch_adam_with_groups_a_rate_change_and_a_frozen_tensor():
    ours, theirs = _two_tensors(0), _two_tensors(0)
    opt = Adam([{"params": [ours[0]], "lr": 0.1}, {"params": [ours[1]], "lr": 0.5}])
    ref = torch.optim.Adam([{"params": [theirs[0]], "lr": 0.1}, {"params": [theirs[1]], "lr": 0.5}])
    for step in range(12):
        for params, optimiser in ((ours, opt), (theirs, ref)):
            if step == 4:
                optimiser.param_groups[0]["lr"] = 0.03
            if step == 6:                       # frozen as the fine-tuning freezes its coarse blocks
                params[1].requires_grad_(False)
            optimiser.zero_grad(set_to_none=True)
            sum((p ** 3 - p).sum() for p in params if p.requires_grad).backward()
            optimiser.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    assert not torch.equal(ours[0], _two_tensors(0)[0])


def test_list_adam_equals_torch_adam_when_a_groups_tensors_have_taken_different_numbers_of_steps():
    # One group; its second tensor sits out steps 3-6, so the two have different step counts (bias corrections)
    # from then on: the per-tensor path, where a group whose tensors agree takes one scalar.
    ours, theirs = _two_tensors(1), _two_tensors(1)
    opt, ref = Adam(ours, lr=0.2), torch.optim.Adam(theirs, lr=0.2)
    for step in range(10):
        for params, optimiser in ((ours, opt), (theirs, ref)):
            params[1].requires_grad_(not 3 <= step <= 6)
            optimiser.zero_grad(set_to_none=True)
            sum((p ** 3 - p).sum() for p in params if p.requires_grad).backward()
            optimiser.step()
    assert opt.state[ours[0]]["step"] == 10 and opt.state[ours[1]]["step"] == 6
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_plateau_rule_halves_the_rate_when_torchs_rule_does():
    losses = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9999999, 3.0, 3.0]
    ours = Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    rule, ref_rule = ReduceOnPlateau(ours, factor=0.5, patience=2), torch.optim.lr_scheduler.ReduceLROnPlateau(
        ref, factor=0.5, patience=2)
    rates = []
    for loss in losses:
        rule.step(loss)
        ref_rule.step(loss)
        assert ours.param_groups[0]["lr"] == ref.param_groups[0]["lr"]
        rates.append(ours.param_groups[0]["lr"])
    assert rates[-1] < 1.0


def test_opencv_upscale_with_shuffled_residual_equals_the_sr_net():
    torch.manual_seed(0)
    sr = SuperResolution(SuperResolutionConfig(channels=8, num_blocks=1)).eval()
    with torch.no_grad():
        sr.tail.weight.normal_(0, 0.1)       # a non-zero residual (the net starts as plain bicubic)
        x = torch.rand(2, 3, 12, 10) * 2 - 1
        reference = sr(x).permute(0, 2, 3, 1).numpy()
        features = sr.residual_features(x).numpy()
    for k in range(2):
        ours = upscale_hwc(np.ascontiguousarray(x[k].permute(1, 2, 0).numpy()), features[k], 4)
        assert ours.shape == (48, 40, 3)
        assert np.abs(ours - reference[k]).max() < 1e-5


def test_matte_blend_equals_guided_blend_and_keeps_still_pixels_exactly():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    fluid = rng.uniform(-1.3, 1.3, (30, 50, 3)).astype(np.float32)   # beyond [-1, 1] too: both clip
    matte = np.clip(rng.uniform(-0.5, 1.5, (30, 50)), 0, 1).astype(np.float32)
    reference = guided_blend(photo, np.clip(fluid, -1, 1), matte)
    ours = MatteBlend(photo, matte)(fluid.copy())
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1
    assert np.mean(ours != reference) < 0.01
    still = matte == 0
    assert still.any() and np.array_equal(ours[still], photo[still])


@pytest.mark.parametrize("photo_detail", [0.0, 1.0])
def test_a_rendered_frame_equals_the_float_reference_composite(photo_detail):
    """frame(i) against the composite written out in float: SR net, resize, photo detail, guided blend."""
    pipe = _tiny_pipeline()
    photo = np.random.default_rng(3).integers(0, 256, (36, 52, 3), dtype=np.uint8)
    animation = pipe.plan(photo, num_frames=6, speed=1.0, photo_detail=photo_detail)
    for index in (0, 4):
        small, _ = animation.render_small(index)
        with torch.no_grad():
            big = pipe.super_resolution(small)[0].permute(1, 2, 0).numpy()
        fluid = cv2.resize(big, (52, 36), interpolation=cv2.INTER_AREA if big.shape[1] > 52 else cv2.INTER_LINEAR)
        detail = animation.moved_detail(index)
        if detail is not None:
            fluid = fluid + photo_detail * detail
        reference = guided_blend(photo, np.clip(fluid, -1, 1), animation.blend_matte)
        frame = animation.frame(index)
        assert np.abs(frame.astype(int) - reference.astype(int)).max() <= 1, index


def test_the_shipped_budget_is_15_plus_150_steps_and_the_inversion_runs_exactly_that_many():
    from cinescape.methods.deeplandscape.pipeline import DEFAULT_MODEL
    from cinescape.methods.select import resolve_settings

    shipped = resolve_settings(DEFAULT_MODEL)
    assert (shipped.latent_steps, shipped.finetune_steps) == (15, 150)
    pipe = _tiny_pipeline()
    photo = np.random.default_rng(5).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    calls, probed = [], []
    pipe.invert(photo, pipe.settings(latent_steps=shipped.latent_steps, finetune_steps=shipped.finetune_steps),
                on_step=lambda done, total: calls.append((done, total)),
                probe=lambda step, *rest: probed.append(step))
    assert calls == [(k, 165) for k in range(1, 166)]
    assert probed == list(range(1, 151))


@pytest.mark.parametrize("shape", [(1, 3, 2, 2), (2, 5, 3, 7), (1, 40, 17, 9), (3, 64, 8, 8)])
def test_lerp_upsampling_equals_torchs_bilinear_and_its_gradient(shape, monkeypatch):
    # (3, 64, 8, 8) with a 1024-element chunk: the planes go in several chunks, the last one short
    import torch.nn.functional as F

    from cinescape.methods.deeplandscape import generator

    monkeypatch.setattr(generator, "_UPSAMPLE_CHUNK", 1024)
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    ours = generator.upsample2x(x)
    theirs = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert ours.shape == theirs.shape and torch.allclose(ours, theirs, atol=1e-12)
    weights = torch.randn(theirs.shape, dtype=torch.float64)
    (ours_grad,) = torch.autograd.grad((ours * weights).sum(), x)
    (theirs_grad,) = torch.autograd.grad((theirs * weights).sum(), x)
    assert torch.allclose(ours_grad, theirs_grad, atol=1e-12)
