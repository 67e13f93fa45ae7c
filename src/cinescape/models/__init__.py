"""Networks: plain ``nn.Module`` s whose constructor takes a config dataclass (saved as JSON)."""

from .encoder import EncoderConfig, LatentEncoder
from .predictor import Predictor, PredictorConfig

__all__ = ["EncoderConfig", "LatentEncoder", "Predictor", "PredictorConfig"]
