"""Shared fixtures. Tests run on 2 CPU cores: keep models and images tiny."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED / "data"
SHARED_WEIGHTS = SHARED / "weights"

# Tests use tiny tensors: one thread avoids thread hand-off costs that dominate on a busy 2-core machine.
torch.set_num_threads(1)
# Third-party weights (SqueezeNet-1.1 for the appearance loss) come from ../shared/weights when present.
if SHARED_WEIGHTS.is_dir():
    os.environ.setdefault("CINESCAPE_WEIGHTS", str(SHARED_WEIGHTS))


def needs_shared(*parts: str) -> Path:
    """Skip the calling test unless ../shared/<parts> exists; return the path."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the project's shared data/weights; not present on this machine)")
    return path


@pytest.fixture
def no_segmentation_weights(tmp_path, monkeypatch):
    """A broken install: neither ``$CINESCAPE_WEIGHTS`` nor the package's own copy holds the sky matte or the
    ADE20K segmenter (and downloading is off)."""
    import cinescape.weights

    monkeypatch.setenv("CINESCAPE_WEIGHTS", str(tmp_path / "empty-weights"))
    monkeypatch.delenv("CINESCAPE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(cinescape.weights, "BUNDLED_DIR", tmp_path / "no-bundled-copy")


@pytest.fixture
def tiny_pipeline():
    """A randomly initialised, tiny pipeline with a random codebook (fast; no shipped weights needed)."""
    from cinescape.methods.al.appearance import AppearanceModel
    from cinescape.methods.al.codebook import Codebook
    from cinescape.methods.al.motion import MotionModel
    from cinescape.methods.al.pipeline import CinemagraphPipeline

    torch.manual_seed(0)
    motion = MotionModel.create(width=0.0625, num_res_blocks=1, beta=16.0, encoder_width=0.125, encoder_size=32,
                                reference_size=32)
    appearance = AppearanceModel.create(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=32)
    codebook = Codebook(motion=torch.randn(5, 8), appearance=[torch.randn(7, 8), torch.randn(4, 8)],
                        motion_names=[f"m{i}" for i in range(5)], appearance_names=["a0", "a1"])
    return CinemagraphPipeline(motion, appearance, codebook, working_size=48)


@pytest.fixture
def photo():
    """A smooth random texture, 58x81 (odd sizes on purpose), so small shifts change it a little."""
    rng = np.random.default_rng(0)
    base = torch.from_numpy(rng.random((1, 3, 8, 11))).float()
    image = F.interpolate(base, size=(58, 81), mode="bicubic", align_corners=False).clamp(0, 1)
    return (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.fixture
def model_dir(tiny_pipeline, tmp_path):
    """``tiny_pipeline`` saved as a model folder (for ``--model``)."""
    return str(tiny_pipeline.save_pretrained(tmp_path / "model"))


@pytest.fixture
def photo_path(photo, tmp_path):
    """The ``photo`` fixture saved as a PNG file."""
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def run_cli(args, capsys):
    """``cinescape ARGS`` in-process: its exit code and what it wrote to stderr."""
    from cinescape.cli import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def assert_renders_alike(frame: np.ndarray, reference: np.ndarray) -> None:
    """A rendered uint8 frame equals the torch reference render up to OpenCV's 1/32 px sample positions:
    no pixel off by more than one level, and under 1 % of the values off at all."""
    difference = np.abs(frame.astype(int) - reference.astype(int))
    assert difference.max() <= 1 and np.mean(difference > 0) < 0.01, (difference.max(), np.mean(difference > 0))
