"""A model folder's recommended settings ("defaults" in pipeline.json), and their fallbacks."""

import json

import numpy as np
import pytest

from cinescape.errors import ModelLoadError
from cinescape.methods.al.pipeline import AnimationSettings, CinemagraphPipeline


def _photo(height=48, width=64):
    rng = np.random.default_rng(0)
    return (rng.random((height, width, 3)) * 255).astype(np.uint8)


def test_defaults_are_saved_and_loaded(tmp_path, tiny_pipeline):
    tiny_pipeline.defaults = {"auto_mask": "sky+water"}
    tiny_pipeline.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "pipeline.json").read_text())["defaults"] == {"auto_mask": "sky+water"}
    assert CinemagraphPipeline.from_pretrained(tmp_path).defaults == {"auto_mask": "sky+water"}
    (tmp_path / "pipeline.json").write_text(json.dumps({"working_size": 48, "defaults": {"auto_mask": "trees"}}))
    with pytest.raises(ModelLoadError, match="auto_mask"):
        CinemagraphPipeline.from_pretrained(tmp_path)


def test_a_default_mask_without_its_weights_warns_and_animates_unmasked(tiny_pipeline, no_segmentation_weights):
    # a broken install: no weights folder and no copy in the package
    settings = AnimationSettings(num_frames=4, appearance=False, loop="none")
    unmasked = list(tiny_pipeline.plan(_photo(), settings).frames())
    tiny_pipeline.defaults = {"auto_mask": "sky"}
    with pytest.warns(UserWarning, match="without the model's default sky mask"):
        fallback = list(tiny_pipeline.plan(_photo(), settings).frames())
    assert all(np.array_equal(a, b) for a, b in zip(unmasked, fallback))
    # asked for explicitly, the same missing file is an error
    with pytest.raises(ModelLoadError, match="skyseg"):
        tiny_pipeline.plan(_photo(), AnimationSettings(num_frames=4, appearance=False, auto_mask="sky"))
    # and "none" overrides the model's default without touching the weights
    explicit_none = list(tiny_pipeline.plan(_photo(), AnimationSettings(num_frames=4, appearance=False, loop="none",
                                                                        auto_mask="none")).frames())
    assert all(np.array_equal(a, b) for a, b in zip(unmasked, explicit_none))


def test_the_default_mask_comes_from_the_package_without_a_weights_folder(tmp_path, monkeypatch, tiny_pipeline):
    """A plain install: $CINESCAPE_WEIGHTS unset (or an empty folder), the networks shipped in the package."""
    import warnings

    import cinescape.weights as W

    monkeypatch.delenv("CINESCAPE_WEIGHTS", raising=False)
    monkeypatch.delenv("CINESCAPE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # no user cache either
    from cinescape.data.synthetic import generate_landscape_photo

    photo = generate_landscape_photo(64, 112, seed=3)
    tiny_pipeline.defaults = {"auto_mask": "sky+water"}
    settings = AnimationSettings(num_frames=4, appearance=False, loop="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no "animating without the model's default mask"
        frames = list(tiny_pipeline.plan(photo, settings).frames())
    assert W.weight_path("skyseg/skysegsmall_sim-opt-fp16.bin").parent == W.BUNDLED_DIR / "skyseg"
    mask = tiny_pipeline.motion_mask(photo, settings, (32, 56))
    assert mask is not None and float(mask.min()) == 0.0     # the land is frozen ...
    assert float(mask.max()) > 0.9                          # ... and the sky moves
    unmasked = list(tiny_pipeline.plan(photo, AnimationSettings(num_frames=4, appearance=False, loop="none",
                                                                auto_mask="none")).frames())
    assert not np.array_equal(frames[3], unmasked[3])
