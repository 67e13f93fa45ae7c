"""Per-pixel phased loops and contrast-keeping fades (issue 30 part 3, ops/phased.py): closed-form answers."""

import math

import numpy as np
import pytest
import torch

from cinescape.ops import phased_schedule
from cinescape.ops.phased import (blend_coefficients, blend_hwc, contrast_gain, contrast_preserving_blend,
                                  phase_offsets, phase_weight, phased_copies, phased_cycle, sample_states)
from test_control import constant_motion


def random_offsets(height=6, width=7, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).uniform(0, 1, (height, width)).astype(np.float32))


@pytest.mark.parametrize("num_frames, period", [(60, 20), (101, 20), (30, 7.5)])
def test_per_pixel_weights_sum_to_one_and_copies_stay_within_half_a_cycle(num_frames, period):
    cycle = phased_cycle(num_frames, period)
    offsets = random_offsets()
    for t in range(num_frames):
        displacements, weights = phased_copies(t, cycle, offsets)
        assert torch.allclose(weights.sum(0), torch.ones(offsets.shape), atol=1e-6)
        assert (weights >= 0).all()
        assert (displacements.abs() <= cycle / 2 + 1e-5).all()
        # the copies are half a cycle apart, always
        gap = torch.remainder(displacements[1] - displacements[0], cycle)
        assert torch.allclose(gap, torch.full_like(gap, cycle / 2), atol=1e-4)


@pytest.mark.parametrize("num_frames, period", [(60, 20), (101, 20), (16, 16)])
def test_zero_offsets_reproduce_the_phased_schedule(num_frames, period):
    cycle = phased_cycle(num_frames, period)
    for t, frame in enumerate(phased_schedule(num_frames, period)):
        displacements, weights = phased_copies(t, cycle, torch.zeros(1, 1))
        copies = [(float(d), float(w)) for d, w in zip(displacements.flatten(), weights.flatten()) if w > 1e-9]
        assert len(copies) == len(frame)
        for (d, w), (d_ref, w_ref) in zip(copies, frame):
            assert d == pytest.approx(d_ref, abs=1e-4) and w == pytest.approx(w_ref, abs=1e-6)


def test_offsets_keep_the_loop_seamless_and_every_copy_advances_one_step_per_frame():
    num_frames, cycle = 60, 20.0
    offsets = random_offsets(seed=1)
    for t in range(num_frames):
        now, later = phased_copies(t, cycle, offsets), phased_copies(t + num_frames, cycle, offsets)
        assert torch.allclose(now[0], later[0], atol=1e-4) and torch.allclose(now[1], later[1], atol=1e-6)
        step = phased_copies(t + 1, cycle, offsets)[0] - now[0]
        wrapped = (step - 1).abs() > 1e-4                         # a copy jumping back from +T/2 to -T/2 ...
        assert torch.allclose(step[wrapped], torch.full_like(step[wrapped], 1 - cycle), atol=1e-4)
        assert (now[1][wrapped] < phase_weight(1 / cycle) + 1e-6).all()   # ... does so unseen (weight ~0)


def test_phase_offsets_are_smooth_and_cover_the_spread_evenly_on_the_region():
    region = torch.zeros(64, 96)
    region[:40] = 1
    offsets = phase_offsets(64, 96, scale=0.2, spread=0.5, seed=3, region=region)
    inside = offsets[:40].flatten().numpy()
    assert inside.min() >= 0 and offsets.max() < 0.5
    counts = np.histogram(inside, bins=5, range=(0, 0.5))[0] / inside.size
    assert np.abs(counts - 0.2).max() < 0.01                   # every moment of the fade on a fifth of the region
    steps = max(offsets.diff(dim=0).abs().max(), offsets.diff(dim=1).abs().max())
    assert steps < 0.1                                         # no jumps (a wrap would be ~0.5): smooth
    assert not torch.equal(offsets, phase_offsets(64, 96, scale=0.2, spread=0.5, seed=4, region=region))
    assert torch.equal(offsets, phase_offsets(64, 96, scale=0.2, spread=0.5, seed=3, region=region))


def test_sample_states_interpolates_each_pixel_between_its_two_whole_steps():
    pattern = torch.randn(2, 3, 4)
    states = torch.stack([k * pattern for k in range(-5, 6)])        # state at displacement k is k * pattern
    displacements = torch.tensor([[-4.25, 0.0, 2.5, 5.0]]).expand(3, 4)
    expected = displacements * pattern
    assert torch.allclose(sample_states(states, displacements, origin=5), expected, atol=1e-5)


def test_contrast_preserving_blend_keeps_an_identical_pair_and_the_variance_of_independent_noise():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.normal(0.2, 0.5, (1, 3, 64, 64)).astype(np.float32))
    weights = torch.full((2, 64, 64), 0.5)
    mean = torch.full((3, 1, 1), 0.2)
    same = contrast_preserving_blend(torch.cat([image, image]), weights, mean, correlation=1.0)
    assert torch.allclose(same, image[0], atol=1e-6)                # identical copies: the image itself
    one = contrast_preserving_blend(torch.cat([image, -image]), torch.stack([torch.ones(64, 64),
                                                                             torch.zeros(64, 64)]), mean)
    assert torch.allclose(one, image[0], atol=1e-6)                 # one copy with all the weight: that copy
    noise = torch.from_numpy(rng.normal(0.2, 0.5, (2, 3, 256, 256)).astype(np.float32))
    weights = torch.full((2, 256, 256), 0.5)
    plain = (weights.unsqueeze(1) * noise).sum(0)
    kept = contrast_preserving_blend(noise, weights, mean)
    assert plain.var().item() == pytest.approx(0.25 / 2, rel=0.03)   # a plain 50/50 blend halves the variance
    assert kept.var().item() == pytest.approx(0.25, rel=0.03)         # the contrast-preserving one keeps it
    assert kept.mean().item() == pytest.approx(0.2, abs=0.01)
    uneven = torch.stack([torch.full((256, 256), 0.8), torch.full((256, 256), 0.2)])
    assert contrast_preserving_blend(noise, uneven, mean).var().item() == pytest.approx(0.25, rel=0.03)


def test_blend_coefficients_at_full_resolution_give_the_contrast_preserving_blend():
    rng = np.random.default_rng(1)
    copies = torch.from_numpy(rng.normal(0, 1, (2, 3, 5, 6)).astype(np.float32))
    first_weight = torch.from_numpy(rng.uniform(0, 1, (5, 6)).astype(np.float32))
    weights = torch.stack([first_weight, 1 - first_weight])
    mean = torch.from_numpy(rng.normal(0, 0.1, (3, 5, 6)).astype(np.float32))
    correlation = torch.from_numpy(rng.uniform(0, 1, (5, 6)).astype(np.float32))
    expected = contrast_preserving_blend(copies, weights, mean, correlation)
    hwc = lambda t: np.ascontiguousarray(t.expand(3, -1, -1).permute(1, 2, 0).numpy())   # noqa: E731
    a, b, m = blend_coefficients(weights, mean, correlation)
    out = blend_hwc(hwc(copies[0]), hwc(copies[1]), hwc(a), hwc(b), hwc(m))
    np.testing.assert_allclose(out, hwc(expected), atol=1e-5)
    a, b, m = blend_coefficients(weights)                              # no mean: the plain blend
    assert m is None
    plain = blend_hwc(hwc(copies[0]), hwc(copies[1]), hwc(a), hwc(b))
    np.testing.assert_allclose(plain, hwc((weights.unsqueeze(1) * copies).sum(0)), atol=1e-5)


def test_contrast_gain_is_one_over_the_blend_deviation():
    weights = torch.tensor([[0.5, 0.8, 1.0], [0.5, 0.2, 0.0]])
    expected = [1 / math.sqrt(0.5), 1 / math.sqrt(0.68), 1.0]
    assert contrast_gain(weights).tolist() == pytest.approx(expected, rel=1e-6)
    assert contrast_gain(weights, 0.5).tolist() == pytest.approx([1 / math.sqrt(0.75), 1 / math.sqrt(0.84), 1.0])


def test_pixel_phased_loop_is_seamless_and_with_zero_offsets_starts_at_the_photo(tiny_pipeline, photo):
    constant_motion(tiny_pipeline, pixels=(1.5, 0.5))
    n = 12
    plain = tiny_pipeline.plan(photo, num_frames=n, loop="phased", loop_period=6, loop_phase_spread=0.0,
                               loop_contrast=True, appearance=False, mode="eulerian")
    assert np.array_equal(plain.frame(0), photo)                      # one copy, unmoved, with all the weight
    old = tiny_pipeline.plan(photo, num_frames=n, loop="phased", loop_period=6, loop_phase_spread=0.0,
                             loop_contrast=False, appearance=False, mode="eulerian")
    assert old.phased is None                                         # today's renderer, untouched
    assert not np.array_equal(plain.frame(2), old.frame(2))          # the contrast term acts mid-fade
    shifted = tiny_pipeline.plan(photo, num_frames=n, loop="phased", loop_period=6, appearance=False,
                                 mode="eulerian")
    frames = [shifted.frame(i) for i in range(n + 1)]
    assert np.array_equal(frames[n], frames[0])                       # frame N is frame 0: no seam
    assert not np.array_equal(frames[0], photo)                       # offsets: frame 0 is mid-cycle somewhere
    steps = [np.abs(frames[i + 1].astype(int) - frames[i].astype(int)).mean() for i in range(n)]
    assert steps[-1] <= 1.5 * np.mean(steps[:-1])


def test_still_copies_get_no_contrast_boost(tiny_pipeline, photo):
    # with no motion the two copies are the same image: a blend of them loses nothing, and the contrast term (its
    # correlation from the copies' offset) must leave every frame the photo, whatever the fade
    constant_motion(tiny_pipeline, pixels=(0.0, 0.0))
    animation = tiny_pipeline.plan(photo, num_frames=8, loop="phased", loop_period=4, appearance=False,
                                   mode="eulerian")
    for index in range(8):
        assert np.abs(animation.frame(index).astype(int) - photo.astype(int)).max() <= 1
