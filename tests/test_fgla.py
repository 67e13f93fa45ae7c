"""FGLA (Xue et al. 2021): partial convolution, latent map, flip self-supervision, training and per-region motion."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cinescape.errors import ModelLoadError, OptionError
from cinescape.methods.fgla import parse_region_options
from cinescape.methods.fgla import FGLACodebook, FGLAModel, FGLAPipeline
from cinescape.methods.fgla.model import fill_latent_map, mirror
from cinescape.methods.fgla.train import FGLATrainConfig, build_codebook, fgla_loss, fgla_step, load_fgla_clips, train_fgla
from cinescape.models import LatentMapPredictor, PartialConv2d, Predictor, PredictorConfig
from cinescape.ops import flow_normalized_to_pixels, flow_pixels_to_normalized, warp
from cinescape.segmentation import ADE20K_WEIGHTS, GROUP_OTHERS, GROUP_SKY, GROUP_WATER


def _texture(height: int, width: int, seed: int = 0, scale: int = 4) -> torch.Tensor:
    """Smooth random texture (1, 3, H, W) in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // scale, width // scale, generator=generator) * 2 - 1
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(-1, 1)


def _tiny_model(**overrides) -> FGLAModel:
    options = dict(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16, reference_size=32)
    options.update(overrides)
    return FGLAModel.create(**options)


class _SkyOverWater:
    """A stand-in segmenter: sky in the top half, water in the bottom half, at any size."""

    source = "test"

    def classes(self, image, size=None):
        height, width = image.shape[:2] if size is None else size
        groups = np.full((height, width), GROUP_WATER, np.int64)
        groups[:height // 2] = GROUP_SKY
        return groups


# -------------------------------------------------------------------------------- partial convolution


def test_partial_convolution_by_hand_with_a_half_mask():
    conv = PartialConv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(0.5)
    x = torch.arange(16.0).view(1, 1, 4, 4)            # x[r, c] = 4 r + c
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1                                  # the right half is valid
    out, new_mask = conv(x, mask)
    # Eq. 1 at (1, 1): the window holds the valid x[0..2, 2] = 2, 6, 10 (3 of 9): 18 * 9 / 3 + 0.5
    assert out[0, 0, 1, 1].item() == pytest.approx(54.5)
    # at (0, 3): rows -1..1 and columns 2..4, valid x[0, 2], x[0, 3], x[1, 2], x[1, 3] = 2, 3, 6, 7 (4 of 9, the
    # zero padding is invalid): 18 * 9 / 4 + 0.5
    assert out[0, 0, 0, 3].item() == pytest.approx(41.0)
    # no valid input in the window (column 0): the output is 0, not the bias
    assert torch.equal(out[0, 0, :, 0], torch.zeros(4))
    # Eq. 2: the mask grows by the window: column 1 now sees column 2
    assert torch.equal(new_mask[0, 0], torch.tensor([[0.0, 1, 1, 1]] * 4))
    # what lies under the mask's zeros never reaches the output
    changed = x.clone()
    changed[..., :2] = 1000.0
    assert torch.equal(conv(changed, mask)[0], out)


def test_partial_convolution_rescales_to_the_full_window():
    conv = PartialConv2d(1, 1, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0 / 9)                     # a box filter
    mask = (torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    out, new_mask = conv(torch.full((1, 1, 8, 8), 3.0), mask)
    # a constant input stays that constant wherever any of the window is valid (sum(1) / sum(M) undoes the holes)
    assert out.shape == (1, 1, 4, 4) and torch.allclose(out[new_mask.bool()], torch.tensor(3.0))


# ----------------------------------------------------------------------------------- latent map (Eq. 5)


def test_latent_map_holds_each_pixels_group_latent():
    latents = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]])          # (1, N=3, D=2)
    groups = torch.tensor([[[0, 1, 2], [2, 2, 0]]])                             # (1, 2, 3)
    latent_map = fill_latent_map(latents, groups)
    assert latent_map.shape == (1, 2, 2, 3)
    assert torch.equal(latent_map[0, 0], torch.tensor([[1.0, 2.0, 3.0], [3.0, 3.0, 1.0]]))
    assert torch.equal(latent_map[0, 1], torch.tensor([[10.0, 20.0, 30.0], [30.0, 30.0, 10.0]]))


def test_latent_map_predictor_with_a_constant_map_is_the_tiled_code_predictor():
    torch.manual_seed(0)
    config = PredictorConfig(out_channels=2, latent_dim=2, width=0.0625, num_res_blocks=1, beta=32.0)
    tiled, spatial = Predictor(config), LatentMapPredictor(config)
    spatial.load_state_dict(tiled.state_dict())
    image, z = _texture(16, 24), torch.tensor([[0.3, -0.7]])
    expected = tiled(image, z)
    assert torch.allclose(spatial(image, z[:, :, None, None].expand(-1, -1, 16, 24)), expected, atol=1e-6)
    assert expected.abs().max() <= 1 / 32  # tanh / c


# ------------------------------------------------------------------------------- flip self-supervision


def test_mirror_flips_columns_and_negates_the_flows_x():
    flow = torch.tensor([[[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0]]]])               # (1, 2, 1, 3)
    assert torch.equal(mirror(flow, flow=True), torch.tensor([[[[-3.0, -2.0, -1.0]], [[6.0, 5.0, 4.0]]]]))
    assert torch.equal(mirror(torch.tensor([[[0, 1, 5]]])), torch.tensor([[[5, 1, 0]]]))  # a group map
    # mirroring commutes with warping: a mirrored frame moved by the mirrored flow is the mirrored result
    image = _texture(16, 16)
    moving = flow_pixels_to_normalized(torch.randn(1, 2, 16, 16, generator=torch.Generator().manual_seed(1)), 16, 16)
    assert torch.allclose(warp(mirror(image), mirror(moving, flow=True)), mirror(warp(image, moving)), atol=1e-5)


def test_the_encoder_sees_the_mirrored_flow_and_masks():
    torch.manual_seed(0)
    model = _tiny_model()
    flow = flow_pixels_to_normalized(torch.randn(1, 2, 16, 16), 16, 16)
    groups = torch.full((1, 16, 16), GROUP_OTHERS)
    groups[:, :, :5] = GROUP_SKY                                                # sky on the LEFT
    latents = model.encode(flow, groups)
    sky_mask = torch.zeros(1, 1, 16, 16)
    sky_mask[..., 11:] = 1                                                      # ... is on the right when mirrored
    with torch.no_grad():
        by_hand = model.encoder(mirror(flow, flow=True), sky_mask)
        unmirrored = model.encoder(flow, 1 - sky_mask.flip(-1))
    assert torch.allclose(latents[0, GROUP_SKY], by_hand[0], atol=1e-6)
    assert not torch.allclose(latents[0, GROUP_SKY], unmirrored[0], atol=1e-4)
    # a group absent from the map gets fc.bias; a flow change outside the sky leaves the sky latent alone
    assert torch.equal(latents[0, GROUP_WATER], model.encoder.fc.bias.detach())
    elsewhere = flow.clone()
    elsewhere[..., 5:] += 0.05
    assert torch.allclose(model.encode(elsewhere, groups)[0, GROUP_SKY], latents[0, GROUP_SKY], atol=1e-6)


# ------------------------------------------------------------------------------------------- training


def _synthetic_batch():
    """Consecutive frames of a tiny procedural clip with their exact flows and exact groups (sky / water / others)."""
    from cinescape.data.synthetic import generate_timelapse

    clip = generate_timelapse(5, 32, 32, seed=4, day_cycle=False, cloud_speed=3.0)
    horizon = round(clip.horizon * 32)
    groups = torch.full((32, 32), GROUP_OTHERS)
    moving = clip.masks[0, 0] > 0.5
    groups[:horizon][moving[:horizon]] = GROUP_SKY
    groups[horizon:][moving[horizon:]] = GROUP_WATER
    # flows[t] leads from frame t to frame t - 1: warp(frames[t - 1], flows[t]) ≈ frames[t]
    return {"first": clip.frames[:-1], "second": clip.frames[1:], "flow": clip.flows[1:],
            "groups": groups.expand(4, -1, -1)}


def test_a_training_step_lowers_the_loss_on_a_synthetic_clip():
    torch.manual_seed(0)
    model = _tiny_model(flow_range=8.0)
    batch = _synthetic_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.5, 0.999))
    initial, before, _ = fgla_loss(model, batch["first"], batch["second"], batch["groups"], batch["flow"])
    for _ in range(40):
        stats = fgla_step(model, optimizer, batch)
    assert set(stats) >= {"loss", "frame", "flow", "tv", "flow_l1_px"}
    final, after, _ = fgla_loss(model, batch["first"], batch["second"], batch["groups"], batch["flow"])
    assert final.item() < 0.6 * initial.item()
    assert after["flow_l1_px"] < 0.6 * before["flow_l1_px"]
    # Eq. 12 with alpha = 0.5, beta = 5
    assert after["loss"] == pytest.approx(after["frame"] + 0.5 * after["flow"] + 5 * after["tv"], rel=1e-5)


def _opposite_pairs(size: int = 32):
    """One texture, sky (top) and water (bottom) moving 2 px in opposite directions, and the same swapped."""
    image = _texture(size, size)
    groups = torch.full((2, size, size), GROUP_WATER)
    groups[:, :size // 2] = GROUP_SKY
    flow = torch.zeros(1, 2, size, size)
    flow[:, 0, :size // 2], flow[:, 0, size // 2:] = 2.0, -2.0
    flows = flow_pixels_to_normalized(torch.cat((flow, -flow)), size, size)
    first = image.expand(2, -1, -1, -1)
    return {"first": first, "second": warp(first, flows), "flow": flows, "groups": groups}


@pytest.fixture(scope="module")
def direction_model():
    """A tiny FGLA model trained for 60 steps to move sky and water as their latents say."""
    torch.manual_seed(0)
    model = _tiny_model(flow_range=4.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.5, 0.999))
    batch = _opposite_pairs()
    for _ in range(60):
        fgla_step(model, optimizer, batch)
    return model.eval()


def _moving_frames(shift_px: int, size: int = 64, count: int = 4) -> np.ndarray:
    """uint8 frames (T, H, W, 3) whose backward flow is ``shift_px`` in x: frame[t+1](p) = frame[t](p + shift)."""
    span = abs(shift_px) * count
    big = ((_texture(size, size + span, seed=7, scale=8)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8)
    starts = [shift_px * t if shift_px > 0 else span + shift_px * t for t in range(count)]
    return np.stack([big[:, s:s + size].numpy() for s in starts])


def test_references_in_opposite_directions_move_sky_and_water_oppositely(direction_model):
    codebook = FGLACodebook([torch.zeros(0, 2)] * 6, [[] for _ in range(6)])
    pipe = FGLAPipeline(direction_model, codebook, segmenter=_SkyOverWater())
    photo = ((_texture(32, 32)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    right, left = _moving_frames(4), _moving_frames(-4)  # 4 px of 64: the training pairs' 2 px of 32

    sky_latents, fractions = pipe.reference_latents(right)
    assert fractions[GROUP_SKY] == pytest.approx(0.5) and fractions[GROUP_WATER] == pytest.approx(0.5)
    water_latents, _ = pipe.reference_latents(left)
    # the latent set carries each reference's latent of its own group; Eq. 5 puts it on that group's pixels
    request = pipe.resolve_regions({"sky": right, "water": left})
    assert torch.equal(request.latents[GROUP_SKY], sky_latents[GROUP_SKY])
    assert torch.equal(request.latents[GROUP_WATER], water_latents[GROUP_WATER])
    assert not torch.allclose(sky_latents[GROUP_SKY], water_latents[GROUP_WATER], atol=1e-3)
    assert request.speeds[GROUP_OTHERS] == 0.0 and request.speeds[GROUP_SKY] == 1.0
    groups = torch.from_numpy(_SkyOverWater().classes(photo))[None]
    latent_map = fill_latent_map(torch.stack([l if l is not None else torch.zeros(2) for l in request.latents])[None],
                                 groups)
    assert torch.equal(latent_map[0, :, 3, 5], sky_latents[GROUP_SKY])
    assert torch.equal(latent_map[0, :, 28, 5], water_latents[GROUP_WATER])

    def region_flows(references):
        animation = pipe.plan(photo, references=references, num_frames=3, loop="none", appearance=False,
                              working_size=32)
        step = flow_normalized_to_pixels(animation.steps[1:2])[0, 0]
        return step[2:14, 4:-4].mean().item(), step[18:30, 4:-4].mean().item()

    sky, water = region_flows({"sky": right, "water": left})
    assert sky > 1.0 and water < -1.0                    # each region follows its reference (2 px at 32 px)
    sky, water = region_flows({"sky": left, "water": right})
    assert sky < -1.0 and water > 1.0


class _AllSky:
    """A stand-in segmenter that calls every pixel sky (a cloud clip without water)."""

    source = "test"

    def classes(self, image, size=None):
        return np.full(image.shape[:2] if size is None else size, GROUP_SKY, np.int64)


def test_reference_regions_let_a_sky_clip_drive_water(direction_model):
    codebook = FGLACodebook([torch.zeros(0, 2)] * 6, [[] for _ in range(6)])
    pipe = FGLAPipeline(direction_model, codebook, segmenter=_AllSky())
    photo = ((_texture(32, 32)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    groups = _SkyOverWater().classes(photo)
    right, left = _moving_frames(4), _moving_frames(-4)
    # by default a group's latent comes from the reference's own mask of that group: a sky clip has no water
    with pytest.raises(OptionError, match="shows no water"):
        pipe.resolve_regions({"water": right})
    sky_latent = pipe.reference_latents(right)[0][GROUP_SKY]
    request = pipe.resolve_regions({"water": right}, reference_regions={"water": "sky"})
    assert torch.equal(request.latents[GROUP_WATER], sky_latent)
    # "all": the whole frame (here all sky, so the same latent)
    whole = pipe.resolve_regions({"water": right}, reference_regions={"Water": "all"}).latents[GROUP_WATER]
    assert torch.allclose(whole, sky_latent, atol=1e-5)
    with pytest.raises(OptionError, match="which has no reference"):
        pipe.resolve_regions({"sky": right}, reference_regions={"water": "all"})
    with pytest.raises(OptionError, match="unknown reference region .lava. for water: use .* or all"):
        pipe.resolve_regions({"water": right}, reference_regions={"water": "lava"})

    def region_flows(references):
        animation = pipe.plan(photo, references=references, reference_regions={"water": "all"}, groups=groups,
                              num_frames=3, loop="none", appearance=False, working_size=32)
        step = flow_normalized_to_pixels(animation.steps[1:2])[0, 0]
        return step[2:14, 4:-4].mean().item(), step[18:30, 4:-4].mean().item()

    sky, water = region_flows({"sky": left, "water": right})   # one clip and its mirror, one per region
    assert sky < -1.0 and water > 1.0
    sky, water = region_flows({"sky": right, "water": left})
    assert sky > 1.0 and water < -1.0


def test_regions_without_a_reference_keep_exactly_still_and_speeds_scale(direction_model):
    codebook = FGLACodebook([torch.randn(50, 2) * 3 for _ in range(6)], [[str(i) for i in range(50)]] * 6)
    pipe = FGLAPipeline(direction_model, codebook, segmenter=_SkyOverWater())
    photo = ((_texture(48, 64, seed=3)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    right = _moving_frames(4)
    frames = list(pipe.plan(photo, references={"sky": right}, num_frames=4, loop="none", appearance=False,
                            working_size=32).frames())
    # water has no reference: frozen (its flow is multiplied by 0); 8 px margin for the feathered edge
    for frame in frames:
        assert np.array_equal(frame[32:], photo[32:])
    assert not np.array_equal(frames[3][:16], photo[:16])
    # speeds scale a region's flow; codebook mode (no reference) picks a latent per group from the seed
    base = pipe.plan(photo, num_frames=2, loop="none", appearance=False, working_size=32, seed=5)
    fast = pipe.plan(photo, speeds={"water": 2.0}, num_frames=2, loop="none", appearance=False, working_size=32,
                     seed=5)
    assert torch.allclose(fast.steps[1, :, 28:], 2 * base.steps[1, :, 28:], atol=1e-6)
    assert torch.allclose(fast.steps[1, :, :12], base.steps[1, :, :12], atol=1e-6)
    other_seed = pipe.plan(photo, num_frames=2, loop="none", appearance=False, working_size=32, seed=6)
    assert not torch.allclose(other_seed.steps[1], base.steps[1])
    with pytest.raises(OptionError, match="no single motion code"):
        pipe.plan(photo, num_frames=2, appearance=False, motion_code="3")
    with pytest.raises(OptionError, match="unknown region"):
        pipe.plan(photo, references={"lava": right}, num_frames=2, appearance=False)


def test_sky_matte_segmenter_takes_its_sky_from_the_matte():
    from cinescape.segmentation import SkyMatteSegmenter

    class AllSkyLeftWaterRight:
        source = "test"

        def classes(self, image, size=None):
            groups = np.full(size or image.shape[:2], GROUP_WATER, np.int64)
            groups[:, :groups.shape[1] // 2] = GROUP_SKY
            return groups

    def top_matte(image, size=None):  # sky probability 0.9 in the top quarter, 0.2 below
        prob = np.full(size or image.shape[:2], 0.2, np.float32)
        prob[:prob.shape[0] // 4] = 0.9
        return prob

    groups = SkyMatteSegmenter(AllSkyLeftWaterRight(), top_matte).classes(np.zeros((16, 8, 3), np.uint8))
    assert (groups[:4] == GROUP_SKY).all()                       # the matte's sky, over the segmenter's water
    assert (groups[4:, :4] == GROUP_OTHERS).all()                # the segmenter's sky the matte rejects
    assert (groups[4:, 4:] == GROUP_WATER).all()


def test_parse_region_options():
    refs, speeds, regions = parse_region_options(["sky=a.mp4:2", "Water=b"], ["grass=0.5"], ["water=sky"])
    assert refs == {"sky": "a.mp4:2", "water": "b"} and speeds == {"grass": 0.5} and regions == {"water": "sky"}
    for bad in (["sky"], ["sky=a", "sky=b"], ["fog=a"]):
        with pytest.raises(OptionError):
            parse_region_options(bad)
    with pytest.raises(OptionError, match="twice"):
        parse_region_options([], [], ["water=sky", "water=all"])
    with pytest.raises(OptionError, match="number"):
        parse_region_options([], ["sky=fast"])


# ------------------------------------------------------------------------------ runs, export and loading


def _config(tmp_path, **overrides) -> FGLATrainConfig:
    options = dict(out=str(tmp_path / "run"), synthetic=2, steps=4, batch_size=2, crop=32, short_side=32,
                   width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=16, min_pair_difference=0.0,
                   checkpoint_every=2, log_every=1, bf16=False)
    options.update(overrides)
    return FGLATrainConfig(**options)


def test_training_run_resumes_exactly_and_exports_a_loadable_model(tmp_path):
    straight = train_fgla(_config(tmp_path / "a"), progress=False)
    train_fgla(_config(tmp_path / "b", steps=2), progress=False)
    resumed = train_fgla(_config(tmp_path / "b"), resume=True, progress=False, export=tmp_path / "exported")
    a, b = FGLAModel.from_pretrained(straight), FGLAModel.from_pretrained(resumed)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    log = (tmp_path / "b" / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,seconds,loss,frame,flow,tv") and len(log) == 1 + 4
    state = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=False)
    assert state["kind"] == "fgla" and state["step"] == 4 and set(state) >= {"model", "optimizer", "rng", "torch_rng"}
    # the codebook: each procedural clip's mean flow encoded under its sky and its water (exact masks)
    clips, maps = load_fgla_clips(_config(tmp_path / "b"))
    assert set(np.unique(maps[0].numpy())) == {GROUP_SKY, GROUP_WATER, GROUP_OTHERS}
    codebook = FGLACodebook.load(resumed)
    assert codebook.names[GROUP_SKY] == ["synthetic/000", "synthetic/001"] and codebook.latents[1].shape == (0, 2)
    assert torch.allclose(codebook.latents[GROUP_SKY], build_codebook(b, clips, maps).latents[GROUP_SKY], atol=1e-2)
    assert (tmp_path / "exported" / "fgla_codebook.safetensors").is_file()
    pipe = FGLAPipeline.from_pretrained(resumed, segmenter=_SkyOverWater())
    assert pipe.appearance is not None  # colours come from the shipped default model
    photo = ((_texture(40, 48)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    frames = list(pipe.plan(photo, num_frames=4, loop="crossfade").frames())
    assert len(frames) == 4 and frames[0].shape == (40, 48, 3)
    again = FGLAPipeline.from_pretrained(pipe.save_pretrained(tmp_path / "saved"), segmenter=_SkyOverWater())
    assert torch.equal(again.fgla_codebook.latents[GROUP_SKY], pipe.fgla_codebook.latents[GROUP_SKY])
    with pytest.raises(ModelLoadError, match="not an FGLA model folder"):
        FGLAPipeline.from_pretrained(tmp_path / "a" / "run")


def _clip_folder(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for index, frame in enumerate(_moving_frames(2, size=40, count=3)):
        Image.fromarray(frame).save(folder / f"{index:02d}.png")
    return folder


def test_missing_segmentation_weights_is_a_one_line_error(tmp_path, capsys, no_segmentation_weights):
    folder = _clip_folder(tmp_path)
    with pytest.raises(ModelLoadError) as caught:
        train_fgla(_config(tmp_path, synthetic=0, data=[str(folder)]), progress=False)
    message = str(caught.value)
    assert "FGLA" in message and ADE20K_WEIGHTS in message and "\n" not in message
    from cinescape.cli import main

    code = main(["train", "fgla", "--data", str(folder), "--out", str(tmp_path / "cli"), "--steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cinescape: error:") and len(err.strip().splitlines()) == 1
    assert ADE20K_WEIGHTS in err


def test_shipped_fgla_model_loads_and_is_small():
    from cinescape.methods.fgla import DEFAULT_FGLA_DIR, FGLAPipeline

    files = [p for p in DEFAULT_FGLA_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 6 * 1024 * 1024
    assert (DEFAULT_FGLA_DIR / "MODEL_CARD.md").is_file()
    pipeline = FGLAPipeline.from_pretrained()   # no segmentation is needed to load it
    assert pipeline.model.num_groups == 6


def test_cli_fgla_bad_model_and_references_need_fgla(tmp_path, capsys):
    from cinescape.cli import main

    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((40, 48, 3), np.uint8)).save(photo)
    out = tmp_path / "loop.mp4"
    assert main(["animate", str(photo), "-o", str(out), "--method", "fgla", "--model", str(tmp_path / "none"),
                 "-q"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["animate", str(photo), "-o", str(out), "--reference", "sky=clip.mp4", "-q"]) == 2
    assert "--method fgla" in capsys.readouterr().err
    assert main(["animate", str(photo), "-o", str(out), "--method", "fgla", "--model", str(tmp_path),
                 "--reference", "lava=clip.mp4", "-q"]) == 2
    assert "unknown region" in capsys.readouterr().err


def test_cli_train_and_animate_fgla(tmp_path, capsys):
    from cinescape.cli import main

    run = tmp_path / "run"
    assert main(["train", "fgla", "--synthetic", "1", "--steps", "2", "--batch-size", "2", "--crop", "32",
                 "--short-side", "32", "--width", "0.0625", "--res-blocks", "1", "--min-pair-difference", "0",
                 "--no-bf16", "--threads", "1", "--out", str(run)]) == 0
    assert "trained fgla model" in capsys.readouterr().err
    # animating a photo needs the ADE20K segmenter and the sky matte: both ship in the package
    from cinescape.data.synthetic import generate_landscape_photo

    photo = tmp_path / "photo.png"
    Image.fromarray(generate_landscape_photo(64, 96, seed=3)).save(photo)
    reference = tmp_path / "reference"
    reference.mkdir()
    for index, frame in enumerate(_moving_frames(2, size=64, count=3)):
        Image.fromarray(frame).save(reference / f"{index:02d}.png")
    out = tmp_path / "frames"
    code = main(["animate", str(photo), "-o", f"{out}/", "--method", "fgla", "--model", str(run / "model"),
                 "--frames", "3", "--loop", "none", "--no-appearance", "--region-speed", "sky=2", "-q"])
    assert code == 0 and len(list(out.iterdir())) == 3, capsys.readouterr().err
    # a reference without the group it is given for is refused with one line
    code = main(["animate", str(photo), "-o", str(tmp_path / "x.mp4"), "--method", "fgla", "--model",
                 str(run / "model"), "--reference", f"waterfall={reference}", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "waterfall" in err and len(err.strip().splitlines()) == 1
    # ... unless --reference-region encodes it from the clip's whole frame
    code = main(["animate", str(photo), "-o", f"{tmp_path / 'frames2'}/", "--method", "fgla", "--model",
                 str(run / "model"), "--frames", "2", "--loop", "none", "--no-appearance",
                 "--reference", f"waterfall={reference}", "--reference-region", "waterfall=all", "-q"])
    assert code == 0 and len(list((tmp_path / "frames2").iterdir())) == 2, capsys.readouterr().err


def test_evaluate_resolves_fgla_models(direction_model, tmp_path):
    from cinescape.eval import metrics as M
    from cinescape.eval.evaluate import EvalSettings, PipelineMethod, evaluate, resolve_method

    codebook = FGLACodebook([torch.randn(2, 2) for _ in range(6)], [["a", "b"]] * 6)
    folder = FGLAPipeline(direction_model, codebook).save_pretrained(tmp_path / "fgla")
    settings = EvalSettings(synthetic=1, frames=3, size=32, samples=2, sky_matte=False)
    for name in (f"fgla:{folder}", str(folder)):
        method = resolve_method(name, settings)
        assert isinstance(method, PipelineMethod) and isinstance(method.pipeline, FGLAPipeline)
    method.pipeline.engine.segmenter = _SkyOverWater()
    torch.manual_seed(0)
    lpips = M.LPIPS(pretrained=False)
    report = evaluate(settings, ["static", method], progress=False, lpips=lpips)
    summary = report["methods"][str(folder)]["summary"]
    assert np.isfinite(summary["epe"]) and np.isfinite(summary["lpips_input"]) and summary["motion_ratio"] > 0
