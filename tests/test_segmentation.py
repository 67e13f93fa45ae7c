"""Semantic groups (FGLA's six) from the ADE20K segmenter, and ``--auto-mask sky+water``."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHARED_DATA
from PIL import Image

from cinescape.errors import ModelLoadError
from cinescape.segmentation import (ADE20K_CLASSES, ADE20K_GROUPS, ADE20K_WEIGHTS, FLUID_GROUPS, GROUP_CLASSES,
                                    GROUP_GRASS, GROUP_NAMES, GROUP_OTHERS, GROUP_SKY, GROUP_TREE, GROUP_WATER,
                                    GROUP_WATERFALL, ADE20KSegmenter, Segmenter, ade20k_group, fluid_mask)

# ------------------------------------------------------------------------------------- grouping table


@pytest.mark.parametrize("name, group", [
    ("sky", GROUP_SKY), ("tree", GROUP_TREE), ("palm", GROUP_TREE), ("plant", GROUP_TREE),
    ("grass", GROUP_GRASS), ("field", GROUP_GRASS), ("flower", GROUP_GRASS),
    ("water", GROUP_WATER), ("sea", GROUP_WATER), ("river", GROUP_WATER), ("lake", GROUP_WATER),
    ("swimming pool", GROUP_WATER), ("waterfall", GROUP_WATERFALL),
    ("mountain", GROUP_OTHERS), ("rock", GROUP_OTHERS), ("building", GROUP_OTHERS), ("fountain", GROUP_OTHERS),
    ("sand", GROUP_OTHERS), ("hill", GROUP_OTHERS), ("person", GROUP_OTHERS), ("flag", GROUP_OTHERS),
])
def test_known_classes_map_to_their_group(name, group):
    assert ade20k_group(name) == group
    assert GROUP_NAMES[group] == {GROUP_SKY: "sky", GROUP_TREE: "tree", GROUP_GRASS: "grass", GROUP_WATER: "water",
                                  GROUP_WATERFALL: "waterfall", GROUP_OTHERS: "others"}[group]


def test_every_ade20k_class_has_exactly_one_group():
    assert len(ADE20K_CLASSES) == 150 and len(set(ADE20K_CLASSES)) == 150
    # a few positions of the public SceneParse150 order (0-based)
    assert (ADE20K_CLASSES[0], ADE20K_CLASSES[2], ADE20K_CLASSES[21], ADE20K_CLASSES[113], ADE20K_CLASSES[149]) == \
        ("wall", "sky", "water", "waterfall", "flag")
    assert ADE20K_GROUPS.shape == (150,) and ADE20K_GROUPS.dtype == np.int64
    assert set(ADE20K_GROUPS.tolist()) == set(range(len(GROUP_NAMES)))
    listed = [name for names in GROUP_CLASSES.values() for name in names]
    assert len(listed) == len(set(listed))  # no class is in two groups
    assert all(name in ADE20K_CLASSES for name in listed)  # names, not typos
    for index, name in enumerate(ADE20K_CLASSES):
        expected = [g for g, names in GROUP_CLASSES.items() if name in names] or [GROUP_OTHERS]
        assert len(expected) == 1 and ADE20K_GROUPS[index] == expected[0], name
    assert (ADE20K_GROUPS == GROUP_OTHERS).sum() == 137
    assert set(FLUID_GROUPS) == {GROUP_WATER, GROUP_WATERFALL}
    with pytest.raises(KeyError):
        ade20k_group("lava")


# ------------------------------------------------------------------- where the networks come from, errors


def test_the_networks_ship_in_the_package_with_their_licences():
    from cinescape.segmentation import SKY_MATTE_FILES
    from cinescape.weights import BUNDLED, BUNDLED_DIR, REGISTRY, sha256_of

    assert BUNDLED == {*SKY_MATTE_FILES, ADE20K_WEIGHTS}
    for name in BUNDLED:
        assert sha256_of(BUNDLED_DIR / name) == REGISTRY[name].sha256, name
    notice = (BUNDLED_DIR / "NOTICE").read_text()
    assert "MIT License" in notice and "Copyright (c) 2021 xiongzhu666" in notice
    assert "Apache License" in notice and "Version 2.0, January 2004" in notice
    for name in BUNDLED:  # every file's source and checksum is stated
        assert REGISTRY[name].sha256 in notice and Path(name).name in notice
    card = (BUNDLED_DIR / "MODEL_CARD.md").read_text()
    assert "xiongzhu666/Sky-Segmentation-and-Post-processing" in card and "mlcommons/mobile_models" in card
    # small: the issue allows 40 MB of model files in all (default model, FGLA model and these)
    package = BUNDLED_DIR.parent
    models = [f for d in ("default_model", "fgla_model", "segmentation_models") for f in (package / d).rglob("*")
              if f.is_file()]
    assert sum(f.stat().st_size for f in BUNDLED_DIR.rglob("*") if f.is_file()) < 5e6
    assert sum(f.stat().st_size for f in models) <= 40e6


def test_the_runtimes_are_core_dependencies():
    from importlib.metadata import requires

    core = [r.split(";")[0].strip() for r in requires("cinescape") or [] if "extra ==" not in r]
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in core}
    assert {"ncnn", "ai-edge-litert"} <= names, core


def test_weights_resolution_override_then_bundled(tmp_path, monkeypatch):
    import shutil

    from cinescape import weights as W

    monkeypatch.delenv("CINESCAPE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CINESCAPE_WEIGHTS", raising=False)
    assert W.weight_path(ADE20K_WEIGHTS) == W.BUNDLED_DIR / ADE20K_WEIGHTS  # plain install
    override = tmp_path / "override"
    monkeypatch.setenv("CINESCAPE_WEIGHTS", str(override))
    assert W.weight_path(ADE20K_WEIGHTS) == W.BUNDLED_DIR / ADE20K_WEIGHTS  # set, but without the file
    (override / "ade20k").mkdir(parents=True)
    shutil.copy(W.BUNDLED_DIR / ADE20K_WEIGHTS, override / ADE20K_WEIGHTS)
    assert W.weight_path(ADE20K_WEIGHTS) == override / ADE20K_WEIGHTS  # the override wins when it holds the file
    (override / ADE20K_WEIGHTS).write_bytes(b"not a model")  # ... and is checked
    with pytest.raises(ModelLoadError, match="wrong sha256") as caught:
        W.weight_path(ADE20K_WEIGHTS)
    assert "\n" not in str(caught.value)


def test_a_damaged_bundled_copy_is_refused(tmp_path, monkeypatch):
    from cinescape import weights as W

    monkeypatch.delenv("CINESCAPE_WEIGHTS", raising=False)
    (tmp_path / "ade20k").mkdir()
    (tmp_path / ADE20K_WEIGHTS).write_bytes((W.BUNDLED_DIR / ADE20K_WEIGHTS).read_bytes()[:-1])  # truncated
    monkeypatch.setattr(W, "BUNDLED_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="wrong sha256.*reinstall cinescape"):
        ADE20KSegmenter(num_threads=1)


def test_missing_weights_file_is_a_clear_error(no_segmentation_weights):
    with pytest.raises(ModelLoadError) as caught:
        ADE20KSegmenter(num_threads=1)
    message = str(caught.value)
    assert ADE20K_WEIGHTS in message and "CINESCAPE_WEIGHTS" in message and "reinstall cinescape" in message
    assert "\n" not in message


@pytest.mark.parametrize("modules, package", [(("ai_edge_litert", "ai_edge_litert.interpreter"), "ai-edge-litert"),
                                              (("ncnn",), "ncnn")])
def test_a_runtime_that_does_not_load_is_named_in_one_line(modules, package, monkeypatch):
    from cinescape.segmentation import SkyMatte

    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # import fails, as on a platform without a wheel
    with pytest.raises(ModelLoadError, match=f"the {package} package, does not load on this platform") as caught:
        ADE20KSegmenter(num_threads=1) if package == "ai-edge-litert" else SkyMatte()
    assert f"pip install {package}" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("module, package", [("ncnn", "ncnn"), ("ai_edge_litert", "ai-edge-litert")])
def test_cli_default_mask_without_a_runtime_warns_once(module, package, tiny_pipeline, tmp_path, capsys,
                                                       monkeypatch):
    from cinescape.cli import main

    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, module + ".interpreter", None)
    tiny_pipeline.defaults = {"auto_mask": "sky+water"}  # as the shipped model asks
    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)).save(photo)
    out = tmp_path / "loop.mp4"
    code = main(["animate", str(photo), "-o", str(out), "--frames", "3", "--model", str(model), "-q"])
    err = capsys.readouterr().err
    assert code == 0 and out.is_file()
    assert err.count("\n") == 1 and err.startswith("cinescape: warning: animating without the model's default "
                                                     "sky+water mask, land may drift")
    assert f"the {package} package, does not load on this platform" in err


def test_cli_missing_segmenter_weights_is_a_one_line_error(tiny_pipeline, tmp_path, capsys, no_segmentation_weights):
    from cinescape.cli import main

    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    Image.fromarray((rng.random((40, 56, 3)) * 255).astype(np.uint8)).save(photo)
    model = tiny_pipeline.save_pretrained(tmp_path / "model")
    out = tmp_path / "loop.mp4"
    code = main(["animate", str(photo), "-o", str(out), "--frames", "3", "--auto-mask", "sky+water",
                 "--model", str(model), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("cinescape: error:")
    # the sky matte is loaded first: its file is named
    assert "skyseg/" in err and "reinstall cinescape" in err
    assert not out.exists()


# ------------------------------------------------------------------------------ the real segmenter (shipped)


@pytest.fixture(scope="module")
def segmenter():
    return ADE20KSegmenter(num_threads=1)


def test_loading_prints_nothing(capfd):
    capfd.readouterr()
    ADE20KSegmenter(num_threads=1)  # LiteRT's C++ INFO line about its XNNPACK delegate is silenced
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_segmenter_finds_the_sky_at_the_top_of_a_landscape(segmenter):
    from cinescape.data.synthetic import generate_landscape_photo

    photo = generate_landscape_photo(96, 160, seed=3)
    assert isinstance(segmenter, Segmenter)
    groups = segmenter.classes(photo)
    assert groups.shape == photo.shape[:2] and groups.dtype == np.int64
    assert groups.min() >= 0 and groups.max() < len(GROUP_NAMES)
    assert (groups[:12] == GROUP_SKY).mean() > 0.95  # the top rows are sky
    assert (groups[-12:] != GROUP_SKY).mean() > 0.95  # the bottom rows are not
    # another size: nearest neighbours of the model's map (so nearly a subsampling of the full-size one)
    small = segmenter.classes(photo, size=(48, 80))
    assert small.shape == (48, 80) and (small == groups[1::2, 1::2]).mean() > 0.95
    # labels are ADE20K class indices (or -1: none of the model's classes); the groups follow from them
    labels = segmenter.labels(photo)
    assert labels.shape == photo.shape[:2] and labels.min() >= -1 and labels.max() < 150
    assert np.array_equal(np.where(labels >= 0, ADE20K_GROUPS[labels.clip(0)], GROUP_OTHERS), groups)
    assert ADE20K_CLASSES[np.bincount(labels[:12].ravel().clip(0)).argmax()] == "sky"


def test_segmenter_on_a_real_photo_with_a_river(segmenter):
    from cinescape.io.image import load_image

    path = SHARED_DATA / "photos" / "scg_personal_IMG_6036.png"
    if not path.is_file():
        pytest.skip(f"needs {path}")
    photo = np.array(Image.fromarray(load_image(path)).resize((256, 256), Image.BILINEAR))
    groups = segmenter.classes(photo)
    assert (groups[:16, 160:] == GROUP_SKY).mean() > 0.8  # sky at the top right
    assert (groups[-64:, :160] == GROUP_WATER).mean() > 0.8  # the river at the bottom left
    wide = segmenter.classes(np.ascontiguousarray(photo[:128]))  # letterboxed: another aspect works
    assert wide.shape == (128, 256) and (wide[:16, 160:] == GROUP_SKY).mean() > 0.8


# ----------------------------------------------------------------------------- --auto-mask sky+water


class _HalfWater:
    """A segmenter for tests: water below row ``edge`` (of the photo), others above."""

    source = "test"

    def __init__(self, edge_fraction: float):
        self.edge_fraction = edge_fraction

    def classes(self, image, size=None):
        height, width = image.shape[:2] if size is None else size
        groups = np.full((height, width), GROUP_OTHERS, np.int64)
        groups[round(height * self.edge_fraction):] = GROUP_WATER
        return groups


class _NoSky:
    def __call__(self, image, size=None):
        return np.zeros(image.shape[:2] if size is None else size, np.float32)


def test_fluid_mask_is_the_union_of_sky_and_water():
    photo = np.zeros((40, 60, 3), np.uint8)
    mask = fluid_mask(photo, (20, 30), matte=_NoSky(), segmenter=_HalfWater(0.5))
    assert mask.shape == (20, 30) and mask.dtype == np.float32
    assert np.array_equal(mask[:10], np.zeros((10, 30))) and np.array_equal(mask[10:], np.ones((10, 30)))
    both = fluid_mask(photo, matte=_NoSky(), segmenter=_HalfWater(0.5), sky="segmenter")
    assert both.shape == (40, 60) and both[:20].max() == 0 and both[20:].min() == 1
    with pytest.raises(Exception, match="sky"):
        fluid_mask(photo, matte=_NoSky(), segmenter=_HalfWater(0.5), sky="clouds")


def _frozen_core(frozen: np.ndarray, margin: int) -> np.ndarray:
    """``frozen`` eroded by ``margin`` pixels: the feathered band along its edge is left out."""
    core = torch.from_numpy(frozen)[None, None].float()
    return (-F.max_pool2d(-core, 2 * margin + 1, stride=1, padding=margin))[0, 0].bool().numpy()


@pytest.mark.parametrize("auto_mask", ["sky+water", "fluid"])
def test_sky_water_mask_freezes_what_the_segmenter_calls_others(tiny_pipeline, auto_mask):
    # stand-ins for both models, so this runs without weights: no sky, water in the bottom 60 %
    tiny_pipeline.engine.sky_matte, tiny_pipeline.engine.segmenter = _NoSky(), _HalfWater(0.4)
    photo = (np.random.default_rng(1).random((64, 96, 3)) * 255).astype(np.uint8)
    frames = tiny_pipeline(photo, num_frames=4, loop="none", appearance=False, auto_mask=auto_mask)
    plain = tiny_pipeline(photo, num_frames=4, loop="none", appearance=False)
    others = _HalfWater(0.4).classes(photo) == GROUP_OTHERS
    # 10 px margin: the feather (3 working-size px = 4 px here) plus the bilinear flow upsampling
    core = _frozen_core(others, 10)
    assert core.sum() > 0
    for frame in frames:
        assert np.array_equal(frame[core], photo[core])
    assert not np.array_equal(plain[3][core], photo[core])  # without the mask those pixels move
    water = _frozen_core(~others, 10)
    assert not np.array_equal(frames[3][water], photo[water])  # the water moves


def test_auto_sky_water_mask_with_the_real_models(tiny_pipeline):
    from cinescape.io.image import load_image
    from cinescape.segmentation import SkyMatte, sky_mask

    path = SHARED_DATA / "photos" / "scg_personal_IMG_6036.png"  # a house by a river
    if not path.is_file():
        pytest.skip(f"needs {path}")
    photo = np.array(Image.fromarray(load_image(path)).resize((160, 128), Image.BILINEAR))
    frames = tiny_pipeline(photo, num_frames=4, loop="none", appearance=False, auto_mask="sky+water")
    segmenter, matte = tiny_pipeline.engine.segmenter, tiny_pipeline.engine.sky_matte
    assert isinstance(segmenter, ADE20KSegmenter) and isinstance(matte, SkyMatte)  # loaded once, kept
    groups = segmenter.classes(photo)
    assert (groups == GROUP_WATER).mean() > 0.2  # the river is found
    # frozen: what the segmenter calls others and the matte does not call sky, away from the feathered edges
    still = (groups == GROUP_OTHERS) & (sky_mask(photo, matte=matte) < 1e-6)
    core = _frozen_core(still, 12)  # the feather is 3 working-size px = 8 px here, plus the flow upsampling
    assert core.mean() > 0.1
    for frame in frames:
        assert np.array_equal(frame[core], photo[core])
    water = _frozen_core(groups == GROUP_WATER, 12)
    assert water.sum() > 0 and not np.array_equal(frames[3][water], photo[water])


class _WaterBlocks:
    """A stand-in segmenter: water in the bottom half and in a 4×4 speck near the top left, others elsewhere."""

    source = "test"

    def classes(self, image, size=None):
        height, width = image.shape[:2] if size is None else size
        groups = np.full((height, width), GROUP_OTHERS, np.int64)
        groups[height // 2:] = GROUP_WATER
        groups[4:8, 4:8] = GROUP_WATER
        return groups


def test_automatic_matte_keeps_large_water_drops_specks_and_refuses_unknown_kinds():
    from cinescape.segmentation import automatic_matte

    photo = np.full((64, 64, 3), 90, np.uint8)
    photo[32:] = 160                       # the water's edge is also the photo's edge
    matte = automatic_matte(photo, "sky+water", _NoSky(), _WaterBlocks())
    assert matte.shape == (64, 64) and matte.dtype == np.float32
    assert matte[40:].min() == 1 and matte[:24].max() == 0   # the 16-px speck (0.4 % of the photo) is gone
    with pytest.raises(Exception, match="sky\\+water"):
        automatic_matte(photo, "clouds", _NoSky(), _WaterBlocks())


def test_deeplandscape_and_al_move_the_same_automatic_region(tiny_pipeline):
    from tests.test_deeplandscape import _tiny_pipeline as tiny_deeplandscape
    from cinescape.methods.al.pipeline import AnimationSettings

    deeplandscape = tiny_deeplandscape()
    deeplandscape._segmenters = (_NoSky(), _WaterBlocks())
    tiny_pipeline.engine.sky_matte, tiny_pipeline.engine.segmenter = _NoSky(), _WaterBlocks()
    photo = (np.random.default_rng(2).random((48, 80, 3)) * 255).astype(np.uint8)
    al = tiny_pipeline.fluid_matte(photo, AnimationSettings(auto_mask="sky+water"))
    np.testing.assert_array_equal(deeplandscape.fluid_matte(photo), al)
    assert al[:18].max() < 0.5 < al[30:].min()   # still above the water, moving below (edge band between)
