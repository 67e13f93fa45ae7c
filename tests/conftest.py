"""Shared fixtures. Tests run on 2 CPU cores: keep models and images tiny."""

import os
from pathlib import Path

import pytest
import torch

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
def tiny_pipeline():
    """A randomly initialised, tiny pipeline with a random codebook (fast; no shipped weights needed)."""
    from cinescape.appearance import AppearanceModel
    from cinescape.codebook import Codebook
    from cinescape.motion import MotionModel
    from cinescape.pipeline import CinemagraphPipeline

    torch.manual_seed(0)
    motion = MotionModel.create(width=0.0625, num_res_blocks=1, beta=16.0, encoder_width=0.125, encoder_size=32,
                                reference_size=32)
    appearance = AppearanceModel.create(width=0.0625, num_res_blocks=1, encoder_width=0.125, encoder_size=32)
    codebook = Codebook(motion=torch.randn(5, 8), appearance=[torch.randn(7, 8), torch.randn(4, 8)],
                        motion_names=[f"m{i}" for i in range(5)], appearance_names=["a0", "a1"])
    return CinemagraphPipeline(motion, appearance, codebook, working_size=48)
