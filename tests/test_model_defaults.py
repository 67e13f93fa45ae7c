"""A model folder's recommended settings ("defaults" in pipeline.json), and their fallbacks."""

import json

import numpy as np
import pytest

from cinescape.errors import ModelLoadError
from cinescape.pipeline import AnimationSettings, CinemagraphPipeline


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


def test_a_default_mask_without_its_weights_warns_and_animates_unmasked(tmp_path, monkeypatch, tiny_pipeline):
    monkeypatch.setenv("CINESCAPE_WEIGHTS", str(tmp_path))      # an empty weights folder
    monkeypatch.delenv("CINESCAPE_ALLOW_DOWNLOAD", raising=False)
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
