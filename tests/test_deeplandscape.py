"""DeepLandscape: static/dynamic split of the generator, homography warps of noise maps, guided blending."""

from __future__ import annotations

import math

import pytest
import torch

from cinescape.methods.deeplandscape.generator import DeepLandscapeGenerator, DeepLandscapeGeneratorConfig
from cinescape.methods.deeplandscape.homography import (cloud_homography, homography_from_points,
                                                         homography_power, warp_homography, warp_homography_image)

TINY = DeepLandscapeGeneratorConfig(resolution=16, z_static_dim=8, z_dynamic_dim=8, w_dim=16, mapping_layers=2,
                                    channel_base=128, channel_max=16)


def _tiny_generator(seed: int = 0) -> DeepLandscapeGenerator:
    torch.manual_seed(seed)
    g = DeepLandscapeGenerator(TINY).eval()
    with torch.no_grad():  # noise scales start at 0; make every noise input matter
        for name, p in g.named_parameters():
            if name.endswith("noise.scale"):
                p.normal_()
    return g


def _record(generator, suffix: str):
    outputs, handles = {}, []
    for name, module in generator.named_modules():
        if name.endswith(suffix):
            handles.append(module.register_forward_hook(lambda m, i, o, n=name: outputs.__setitem__(n, o.clone())))
    return outputs, handles


def _reference_synthesis(g, ws, static_noise, dynamic_noise):
    """The generator written the textbook StyleGAN2 way: each sample's input scaled by its styles, the output by its
    demodulation, each noise branch and the bias added one by one, the activation's gain on the features."""
    import torch.nn.functional as F

    def modulated(conv, x, w):
        styles = conv.affine(w)
        weight = conv.weight * conv.weight_gain
        if conv.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        y = F.conv2d(x * styles[:, :, None, None], weight, padding=weight.shape[-1] // 2)
        if conv.demodulate:
            y = y * torch.rsqrt(styles.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t() + 1e-8)[:, :, None, None]
        return y

    batch = max(ws.shape[0], dynamic_noise[0].shape[0])
    ws = ws.expand(batch, -1, -1)
    x, rgb = g.const.expand(batch, -1, -1, -1), None
    for i, block in enumerate(g.blocks):
        for layer in block.layers:
            x = (modulated(layer.conv, x, ws[:, i]) + layer.static_noise(static_noise[i])
                 + layer.dynamic_noise(dynamic_noise[i]) + layer.bias.view(1, -1, 1, 1))
            x = F.leaky_relu(x, 0.2) * math.sqrt(2)
        y = modulated(block.to_rgb.conv, x, ws[:, i]) + block.to_rgb.bias.view(1, -1, 1, 1)
        rgb = y if rgb is None else y + F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
    return rgb


def test_generator_equals_the_textbook_forward_with_its_gain_bias_and_noise_folded():
    # The generator folds the activation's gain into the next weights, the bias into the convolution and both
    # noise branches into one matrix product: the same function as the textbook forward, for per-sample styles,
    # one style for a batch of noise maps (the render) and the fine-tuning's cached, upsampled state.
    g = _tiny_generator()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.3)
    gen = torch.Generator().manual_seed(1)
    ws = g.styles(*g.sample_latents(3, generator=gen))
    s_st, s_dyn = g.sample_noise(1, generator=gen), g.sample_noise(3, generator=gen)
    with torch.no_grad():
        for styles in (ws, ws[:1]):
            reference = _reference_synthesis(g, styles, s_st, s_dyn)
            assert torch.allclose(g.synthesis(styles, s_st, s_dyn), reference, atol=1e-5)
        one = [n[:1] for n in s_dyn]
        state = g.run_blocks(ws[:1], s_st, one, stop=2)
        resumed = g.run_blocks(ws[:1], s_st, one, start=2, state=g.upsampled_state(state, 2), upsampled=True)[1]
        assert torch.allclose(resumed, _reference_synthesis(g, ws[:1], s_st, one), atol=1e-5)
    # and the same gradients for the parameters (the fine-tuning) and for the noise maps (the latent steps)
    maps = [n[:1].clone().requires_grad_(True) for n in s_dyn]
    grads = []
    for forward in (g.synthesis, lambda *a: _reference_synthesis(g, *a)):
        g.zero_grad(set_to_none=True)
        forward(ws[:1].detach(), s_st, maps).square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in g.blocks.parameters()] + [m.grad.flatten() for m in maps]))
        for m in maps:
            m.grad = None
    assert grads[0].abs().max() > 1e-3 and torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)
    image_b = g.synthesis(ws[:1], s_st, g.sample_noise(1, generator=gen)).detach()
    assert (image_b - g.synthesis(ws[:1], s_st, one).detach()).abs().mean() > 1e-3   # the dynamic inputs matter


def test_add_noise_is_the_two_noise_branches_summed():
    from cinescape.methods.deeplandscape.generator import NoiseBranch, add_noise

    torch.manual_seed(0)
    static, dynamic = NoiseBranch(5), NoiseBranch(5)
    with torch.no_grad():
        static.scale.normal_(), dynamic.scale.normal_()
    for batch_y, batch_static, batch_dynamic in ((1, 1, 1), (4, 1, 4), (1, 1, 3), (2, 2, 2)):
        y = torch.randn(batch_y, 5, 6, 7)
        s, d = torch.randn(batch_static, 1, 6, 7), torch.randn(batch_dynamic, 1, 6, 7)
        expected = y + static(s) + dynamic(d)
        assert torch.allclose(add_noise(y, s, static.scale, d, dynamic.scale), expected, atol=1e-6)


def test_dynamic_noise_at_the_finest_level_changes_only_that_level():
    g = _tiny_generator()
    gen = torch.Generator().manual_seed(2)
    z_st, z_dyn = g.sample_latents(1, generator=gen)
    s_st, s_dyn = g.sample_noise(1, generator=gen), g.sample_noise(1, generator=gen)
    s_dyn2 = [n.clone() for n in s_dyn]
    s_dyn2[-1] = torch.randn(s_dyn2[-1].shape, generator=gen)
    blocks, handles = _record(g, "to_rgb")
    with torch.no_grad():
        g(z_st, z_dyn, s_st, s_dyn)
        before = dict(blocks)
        assert torch.equal(g.styles(z_st, z_dyn), g.styles(z_st, z_dyn))
        g(z_st, z_dyn, s_st, s_dyn2)
    for h in handles:
        h.remove()
    names = sorted(before, key=lambda n: int(n.split(".")[1]))
    for name in names[:-1]:
        assert torch.equal(before[name], blocks[name]), name
    assert not torch.allclose(before[names[-1]], blocks[names[-1]])


def test_generator_round_trips_through_save_pretrained(tmp_path):
    g = _tiny_generator(3)
    g.save_pretrained(tmp_path / "generator")
    loaded = DeepLandscapeGenerator.from_pretrained(tmp_path / "generator")
    z = g.sample_latents(1, generator=torch.Generator().manual_seed(0))
    noise = g.zero_noise(1)
    with torch.no_grad():
        assert torch.equal(g(*z, noise, noise), loaded(*z, noise, noise))
    assert loaded(*z, noise, noise).shape == (1, 3, 16, 16)


def test_paper_configuration_is_constructible():
    config = DeepLandscapeGeneratorConfig.paper_256()
    assert config.num_ws == 7 and config.channels(4) == 512 and config.channels(256) == 64
    with pytest.raises(ValueError, match="resolution"):
        DeepLandscapeGeneratorConfig(resolution=100)


# ----------------------------------------------------------------------------------------------- homographies

def _pixel_grid(size: int):
    centres = (torch.arange(size, dtype=torch.float64) * 2 + 1) / size - 1
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return x, y


def test_translation_warp_shifts_the_noise_map_by_whole_pixels():
    size = 16
    noise = torch.randn(1, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    shift = torch.eye(3, dtype=torch.float64)
    shift[0, 2] = 2 * 2 / size  # two pixels right
    shift[1, 2] = -1 * 2 / size  # one pixel up
    out = warp_homography(noise, shift)
    # out(p) = noise(p - (2, -1) px): row r, column c of out is row r + 1, column c - 2 of noise.
    assert torch.allclose(out[0, 0, :-1, 2:], noise[0, 0, 1:, :-2], atol=1e-12)


def test_projective_warp_of_a_linear_ramp_matches_the_closed_form():
    size = 32
    x, y = _pixel_grid(size)
    ramp = (0.7 * x - 0.3 * y + 0.1)[None, None]
    matrix = homography_from_points(torch.tensor([[-1.0, -1], [1, -1], [-1, 1], [1, 1]]),
                                    torch.tensor([[-0.95, -1.02], [1.03, -0.97], [-1.0, 1.01], [0.98, 1.0]]))
    out = warp_homography(ramp, matrix, padding="border")
    inv = torch.linalg.inv(matrix)
    hom = torch.stack((x, y, torch.ones_like(x)), dim=-1) @ inv.T
    sx, sy = hom[..., 0] / hom[..., 2], hom[..., 1] / hom[..., 2]
    expected = 0.7 * sx - 0.3 * sy + 0.1
    inside = (sx.abs() < 1 - 2 / size) & (sy.abs() < 1 - 2 / size)  # bilinear is exact on a ramp inside
    assert inside.sum() > 0.7 * size * size
    assert torch.allclose(out[0, 0][inside], expected[inside], atol=1e-9)


def test_motion_below_the_horizon_is_mirrored():
    size = 16
    noise = torch.randn(1, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    up = cloud_homography(270.0, 2 * 2 / size, horizon=0.0, perspective=1.0)  # a plain 2-px upward translation
    out = warp_homography(noise, up, horizon=0.0)
    half = size // 2
    assert torch.allclose(out[0, 0, : half - 2], noise[0, 0, 2:half], atol=1e-12)  # sky rows move up
    assert torch.allclose(out[0, 0, half + 2:], noise[0, 0, half:-2], atol=1e-12)  # reflections move down


def test_motion_far_below_a_high_horizon_is_no_faster_than_the_top_row():
    # Rows whose mirror image would lie above the frame move as the top row does (mirrored), not faster.
    size = 32
    x, y = _pixel_grid(size)
    ramp = y[None, None].clone()                     # value = the row's own y: a warp's vertical shift is readable
    horizon = -0.75
    step = cloud_homography(270.0, 2 * 1 / size, horizon=horizon, perspective=0.3)   # top row: 1 px up
    out = warp_homography(ramp, step, horizon=horizon, padding="border")
    shift_px = (out - ramp)[0, 0] * size / 2         # out(p) = ramp(p + s): s in pixels, per row
    edge = torch.tensor([[0.0, -1.0, 1.0]], dtype=torch.float64) @ torch.linalg.inv(step).T   # top edge, x = 0
    edge_shift_px = ((edge[0, 1] / edge[0, 2]) + 1.0).item() * size / 2                   # closed form, pixels
    assert 0.5 < edge_shift_px <= 1.0 + 1e-9           # up; the corners move 1 px, the middle of the edge less
    assert shift_px[:, size // 2].abs().max() <= edge_shift_px + 1e-6       # no row moves faster
    far = shift_px[size // 2:-1, size // 2]            # rows whose mirror lies above the top edge
    assert torch.allclose(far, torch.full_like(far, -edge_shift_px), atol=1e-6)   # mirrored: as fast, downwards


def test_homography_powers():
    step = cloud_homography(30.0, 0.05, horizon=0.2, perspective=0.3)
    assert torch.allclose(homography_power(step, 3), step @ step @ step, atol=1e-12)
    assert torch.allclose(homography_power(step, -1), torch.linalg.inv(step), atol=1e-12)
    half = homography_power(step, 0.5)
    assert torch.allclose(half @ half, step, atol=1e-12)
    corners = torch.tensor([[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0]], dtype=torch.float64)
    moved = corners @ step.T
    expected = 0.05 * torch.tensor([math.cos(math.radians(30)), math.sin(math.radians(30))], dtype=torch.float64)
    assert torch.allclose(moved[:, :2] / moved[:, 2:] - corners[:, :2], expected.expand(2, 2), atol=1e-12)


@pytest.mark.parametrize("horizon", [None, 0.3, -0.6])   # no mirror; mirror point always in the frame; clamped rows
def test_opencv_warp_of_an_image_equals_the_reference_warp(horizon):
    # warp_homography_image renders the photo's detail; warp_homography (pinned by the closed forms above) is the
    # reference. Unit-variance noise: any mis-placed row, band edge or border shows as an O(1) difference.
    import numpy as np

    image = np.random.default_rng(0).standard_normal((45, 70, 3)).astype(np.float32)
    step = cloud_homography(200.0, 0.04, horizon=horizon if horizon is not None else 0.0, perspective=0.3)
    for power in (2.7, -1.5):
        matrix = homography_power(step, power)
        reference = warp_homography(torch.from_numpy(image).permute(2, 0, 1)[None], matrix, horizon=horizon)
        fast = warp_homography_image(image, matrix, horizon=horizon)
        assert fast.shape == image.shape and fast.dtype == np.float32
        assert np.abs(fast - reference[0].permute(1, 2, 0).numpy()).max() < 1e-3
    assert np.abs(fast - image).mean() > 0.3                          # it did move


def test_modulated_conv_of_one_sample_equals_the_batched_path():
    # A batch of one folds styles and demodulation into the weight; it must equal the batched (scale the
    # activations) path sample by sample.
    from cinescape.methods.deeplandscape.generator import ModulatedConv2d

    torch.manual_seed(0)
    for demodulate, upsample, kernel in ((True, False, 3), (True, True, 3), (False, False, 1)):
        conv = ModulatedConv2d(6, 5, kernel, 8, demodulate=demodulate, upsample=upsample)
        x, w = torch.randn(3, 6, 7, 7), torch.randn(3, 8)
        batched = conv(x, w)
        single = torch.cat([conv(x[i:i + 1], w[i:i + 1]) for i in range(3)])
        assert torch.allclose(single, batched, atol=1e-5)
        grads = [torch.autograd.grad(conv(x[:1], w[:1]).square().sum(), conv.weight)[0],
                 torch.autograd.grad(conv(x[:2], w[:2])[:1].square().sum(), conv.weight)[0]]
        assert torch.allclose(grads[0], grads[1], atol=1e-4)
        # one style for a batch (the render's frames): folded once, the same as each sample with that style
        shared = torch.cat([conv(x[i:i + 1], w[:1]) for i in range(3)])
        assert torch.allclose(conv(x, w[:1]), shared, atol=1e-5)
        assert torch.allclose(conv(x, w[:1].expand(3, -1)), shared, atol=1e-5)


# ----------------------------------------------------------------------------------------------- blending

def test_guided_blend_keeps_still_pixels_exactly():
    import numpy as np

    from cinescape.methods.deeplandscape.blend import guided_blend

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    fluid = rng.uniform(-1, 1, (24, 40, 3)).astype(np.float32)
    matte = np.zeros((24, 40), np.float32)
    matte[:8] = 1.0
    matte[8:10] = 0.5
    out = guided_blend(photo, fluid, matte)
    assert np.array_equal(out[10:], photo[10:])                     # still rows: the photo's own pixels
    assert np.array_equal(out[:8], np.rint((fluid[:8] + 1) * 127.5).clip(0, 255).astype(np.uint8))  # fluid rows
    half = np.rint((0.5 * fluid[8:10] + 0.5 * (photo[8:10] / 127.5 - 1) + 1) * 127.5).astype(np.uint8)
    assert np.abs(out[8:10].astype(int) - half).max() <= 1
    # a zero lighting change keeps the still pixels exactly; a uniform one shifts them by that amount
    assert np.array_equal(guided_blend(photo, fluid, matte, np.zeros((6, 10, 3), np.float32))[10:], photo[10:])
    brighter = guided_blend(photo, fluid, matte, np.full((6, 10, 3), 20 / 127.5, np.float32))
    assert np.abs(brighter[10:].astype(int) - np.clip(photo[10:].astype(int) + 20, 0, 255)).max() <= 1


# ----------------------------------------------------------------------------------------------- pipeline

def _tiny_pipeline():
    from cinescape.methods.deeplandscape.encoder import (LightingApproximator, LightingApproximatorConfig,
                                                         StyleEncoder, StyleEncoderConfig)
    from cinescape.methods.deeplandscape.pipeline import DeepLandscapePipeline
    from cinescape.methods.deeplandscape.sr import SuperResolution, SuperResolutionConfig

    torch.manual_seed(0)
    encoder = StyleEncoder(StyleEncoderConfig(resolution=16, num_ws=TINY.num_ws, w_dim=16, widths=(8, 8), hidden=16))
    lighting = LightingApproximator(LightingApproximatorConfig(w_dim=16, z_dynamic_dim=8, hidden=16, num_layers=1))
    sr = SuperResolution(SuperResolutionConfig(channels=8, num_blocks=1))
    return DeepLandscapePipeline(_tiny_generator(), encoder, lighting, sr,
                                 defaults=dict(latent_steps=3, finetune_steps=3, perceptual="none", use_mask=False,
                                               finetune_from=8, num_frames=6, period=6))


def test_pipeline_animates_any_aspect_ratio_at_the_photo_size_and_loops(tmp_path):
    import numpy as np

    pipe = _tiny_pipeline()
    photo = np.random.default_rng(1).integers(0, 256, (30, 52, 3), dtype=np.uint8)
    animation = pipe.plan(photo, speed=1.0, lighting=0.5)
    frames = list(animation.frames())
    assert animation.num_frames == len(frames) == 6
    assert all(f.shape == (30, 52, 3) and f.dtype == np.uint8 for f in frames)
    # frame 0 is the inverted photo itself: its dynamic noise is the optimised one and its style unchanged
    for moved, original in zip(animation.dynamic_noise(0), animation.inversion.dynamic_noise):
        assert torch.allclose(moved, original, atol=1e-6)
    assert torch.equal(animation.styles(0), animation.inversion.ws)
    # the loop closes: one step past the last frame equals frame 0
    assert torch.allclose(animation.styles(6), animation.inversion.ws, atol=1e-6)
    assert not torch.allclose(animation.dynamic_noise(1)[-1], animation.dynamic_noise(0)[-1])
    pipe.save_pretrained(tmp_path / "model")
    again = type(pipe).from_pretrained(tmp_path / "model")
    assert again.defaults["num_frames"] == 6 and again.super_resolution is not None


def test_pipeline_settings_name_the_parameter():
    pipe = _tiny_pipeline()
    with pytest.raises(ValueError, match="num_frames must be >= 2"):
        pipe.settings(num_frames=1)
    with pytest.raises(ValueError, match="lighting"):
        pipe.settings(lighting=2.0)
    with pytest.raises(TypeError, match="unknown DeepLandscape setting"):
        pipe.settings(frames=3)
    with pytest.raises(ValueError, match="direction must be a finite number"):
        pipe.settings(direction=float("nan"))
    with pytest.raises(ValueError, match="speed must be a finite number"):
        pipe.settings(speed=float("inf"))


# ----------------------------------------------------------------------------------------------- training
# `cinescape train deeplandscape`, frame archives, DiffAugment and pair sampling: tests/test_deeplandscape_training.py

def test_fine_detail_is_what_the_generator_cannot_hold_and_never_land_texture_in_the_fluid():
    import numpy as np

    from cinescape.methods.deeplandscape.pipeline import fine_detail

    # a flat photo has no detail
    flat = np.full((64, 96, 3), 90, np.uint8)
    assert fine_detail(flat, np.ones((64, 96), np.float32), 8).abs().max() < 1e-5
    # a checkerboard of land (still) under a flat sky (fluid): the land's texture stays out of the fluid's detail
    photo = np.full((64, 64, 3), 200, np.uint8)
    checker = (np.indices((32, 64)).sum(0) % 2 * 255).astype(np.uint8)
    photo[32:] = checker[..., None]
    matte = np.zeros((64, 64), np.float32)
    matte[:32] = 1
    detail = fine_detail(photo, matte, 8)[0]
    assert detail[:, :32].abs().max() < 1e-5          # the sky is flat: no detail, right up to the land
    assert detail[:, 32:].abs().max() < 1e-5          # the land is the sky's smooth continuation behind it
    # without the matte the checkerboard is all detail (|+-1| around its grey mean)
    assert fine_detail(photo, np.ones((64, 64), np.float32), 8)[0, :, 40:].abs().mean() > 0.9


def test_photo_detail_adds_the_photos_own_fine_detail_moved_with_the_noise():
    import numpy as np

    from cinescape.methods.deeplandscape.pipeline import fine_detail

    pipe = _tiny_pipeline()
    rng = np.random.default_rng(3)
    photo = (128 + rng.integers(-30, 31, (48, 48, 3))).astype(np.uint8)   # detail above the generator's 16 px
    base = pipe.plan(photo, photo_detail=0.0, speed=1.0)
    with_detail = pipe.plan(photo, photo_detail=1.0, speed=1.0, reuse=base)
    assert base.moved_detail(0) is None
    # frame 0: the paper's frame plus the photo's fine detail, unmoved (the tiny pipeline has no mask: all fluid)
    detail = fine_detail(photo, np.ones((48, 48), np.float32), 16)[0].permute(1, 2, 0).numpy() * 127.5
    added = with_detail.frame(0).astype(float) - base.frame(0).astype(float)
    unclipped = (base.frame(0) > 40) & (base.frame(0) < 215)
    assert unclipped.mean() > 0.5
    assert np.abs(added - detail)[unclipped].max() <= 1.0     # uint8 rounding of both frames
    # later frames move it as the noise moves: not frame 0's detail any more
    assert np.abs(with_detail.moved_detail(2) - with_detail.moved_detail(0)).mean() > 0.01
    with pytest.raises(ValueError, match="photo_detail must lie in"):
        pipe.settings(photo_detail=1.5)


def test_a_user_mask_keeps_its_black_part_the_photos_own_pixels_in_every_frame():
    import numpy as np

    pipe = _tiny_pipeline()   # use_mask=False: the mask alone is the matte
    photo = np.random.default_rng(4).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    mask = np.zeros((20, 15), np.float32)   # any size: resized to the photo
    mask[:8] = 1.0                          # the top moves, the rest is still
    animation = pipe.plan(photo, mask=mask, speed=1.0)
    assert animation.matte.shape == (40, 30)
    still = animation.matte == 0
    assert still[24:].all() and (animation.matte[:12] == 1).all()
    for i in range(animation.num_frames):
        frame = animation.frame(i)
        assert np.array_equal(frame[still], photo[still])
    assert not np.array_equal(animation.frame(3)[:10], photo[:10])
    # the mask is an inversion setting: another mask object inverts again
    assert pipe.plan(photo, mask=mask.copy(), reuse=animation).inversion is not animation.inversion
    assert pipe.plan(photo, mask=mask, seed=5, reuse=animation).inversion is animation.inversion


def test_a_plan_reuses_an_inversion_only_of_the_same_photo_and_inversion_settings():
    import numpy as np

    pipe = _tiny_pipeline()
    photo = np.random.default_rng(2).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    first = pipe.plan(photo, seed=0, speed=1.0)
    # another seed only moves the inversion differently: reused, and frame for frame what a fresh plan renders
    # (the tiny pipeline's optimisation is deterministic from its fixed seed)
    torch.manual_seed(0)
    reused = pipe.plan(photo, seed=3, speed=1.0, reuse=first)
    assert reused.inversion is first.inversion
    torch.manual_seed(0)
    fresh = pipe.plan(photo, seed=3, speed=1.0)
    assert fresh.inversion is not first.inversion
    assert np.array_equal(reused.frame(2), fresh.frame(2))
    # an inversion setting or another photo: inverted again
    assert pipe.plan(photo, seed=3, finetune_steps=1, reuse=first).inversion is not first.inversion
    other = photo.copy()
    other[0, 0] ^= 1
    assert pipe.plan(other, seed=0, reuse=first).inversion is not first.inversion


def test_the_inversion_reports_each_step_and_stops_when_its_hook_raises():
    import numpy as np

    pipe = _tiny_pipeline()   # 3 latent + 3 fine-tuning steps
    photo = np.random.default_rng(5).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    steps = []
    first = pipe.plan(photo, on_step=lambda done, total: steps.append((done, total)))
    assert steps == [(i, 6) for i in range(1, 7)]
    steps.clear()
    pipe.plan(photo, seed=2, reuse=first, on_step=lambda done, total: steps.append(done))
    assert steps == []   # reused: nothing to report

    class Stop(Exception):
        pass

    def stop_at_four(done, total):
        steps.append(done)
        if done == 4:
            raise Stop
    with pytest.raises(Stop):
        pipe.plan(photo, on_step=stop_at_four)
    assert steps == [1, 2, 3, 4]


def test_entry_point_reports_bad_input_in_one_line(tmp_path, capsys):
    from cinescape.methods.deeplandscape.__main__ import main

    out = tmp_path / "loop.mp4"
    assert main([str(tmp_path / "missing.jpg"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "missing.jpg" in err
    assert not out.exists()
    assert main([str(tmp_path / "missing.jpg"), "-o", str(out), "--frames", "1"]) == 2
    assert "num_frames must be >= 2" in capsys.readouterr().err


def test_the_fine_tuning_probe_sees_each_step_and_a_cosine_rate_ends_at_its_final_factor():
    import numpy as np

    from cinescape.errors import OptionError

    pipe = _tiny_pipeline()
    photo = np.random.default_rng(6).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    for final, last_step_moves in ((0.0, False), (1.0, True)):
        snapshots = []

        def probe(step, generator, ws, static, dynamic):
            snapshots.append((step, [p.detach().clone() for p in generator.blocks[-1].parameters()]))

        settings = pipe.settings(finetune_steps=2, finetune_lr_final=final)
        pipe.invert(photo, settings, probe=probe)
        assert [step for step, _ in snapshots] == [1, 2]
        moved = any(not torch.equal(a, b) for a, b in zip(snapshots[0][1], snapshots[1][1]))
        assert moved == last_step_moves   # final 0: the last step's rate is 0, so it changes nothing
    with pytest.raises(OptionError, match="finetune_lr_final"):
        pipe.settings(finetune_lr_final=1.5)


def test_coarse_blocks_freeze_after_their_fraction_and_the_fine_blocks_still_lower_the_loss():
    import numpy as np

    from cinescape.errors import OptionError

    pipe = _tiny_pipeline()   # resolutions 4, 8, 16; fine-tuned from 8: block 8 coarse, block 16 fine
    photo = np.random.default_rng(7).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    snapshots = []

    def probe(step, generator, ws, static, dynamic):
        snapshots.append(([p.detach().clone() for p in generator.blocks[1].parameters()],
                          [p.detach().clone() for p in generator.blocks[2].parameters()],
                          [p.grad is None for p in generator.blocks[1].parameters()]))

    settings = pipe.settings(latent_steps=0, finetune_steps=12, coarse_fraction=0.25, fine_from=16)
    inversion = pipe.invert(photo, settings, probe=probe)
    coarse, fine, no_grad = zip(*snapshots)
    base = [p.detach() for p in pipe.generator.blocks[1].parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(coarse[0], base))        # tuned during its 3 steps
    assert not any(no_grad[2]) and all(all(flags) for flags in no_grad[3:])    # then no gradient at all...
    for later in coarse[3:]:                                                 # ...and it never changes again
        assert all(torch.equal(a, b) for a, b in zip(later, coarse[2]))
    assert all(any(not torch.equal(a, b) for a, b in zip(fine[i], fine[i + 1])) for i in range(11))
    with torch.no_grad():
        before = (pipe.generator.synthesis(inversion.ws, inversion.static_noise, inversion.dynamic_noise)
                  - inversion.target).abs().mean()
    after = (inversion.reconstruction() - inversion.target).abs().mean()
    assert after < 0.8 * before
    # no fine-tuning of the coarse block at all: it stays the pretrained one
    untouched = pipe.invert(photo, pipe.settings(latent_steps=0, finetune_steps=3, coarse_fraction=0, fine_from=16))
    assert all(torch.equal(a, b) for a, b in zip(untouched.generator.blocks[1].parameters(), base))
    with pytest.raises(OptionError, match="coarse_fraction"):
        pipe.settings(coarse_fraction=1.5)
    with pytest.raises(OptionError, match="fine_from"):
        pipe.settings(fine_from=48)


@pytest.mark.parametrize("lighting", [0.0, 0.7])
def test_frames_rendered_in_batches_equal_frames_rendered_one_by_one(lighting):
    import numpy as np

    from cinescape.methods.deeplandscape import pipeline as dl

    pipe = _tiny_pipeline()
    photo = np.random.default_rng(8).integers(0, 256, (18, 30, 3), dtype=np.uint8)
    animation = pipe.plan(photo, num_frames=11, period=8, speed=1.0, lighting=lighting)
    batched = list(animation.frames())   # 11 frames: batches of 8 and 3
    assert dl.RENDER_BATCH < 11 and len(batched) == 11
    for index, image in enumerate(batched):
        single = animation.frame(index)
        assert np.abs(image.astype(int) - single.astype(int)).max() <= 1, index
    assert not np.array_equal(batched[0], batched[5])
    frames, changes = animation.render_small_batch([0, 3])
    assert changes[0] is None                       # frame 0 keeps the photo's style: no lighting change
    assert (changes[1] is None) == (lighting == 0)
