"""Networks: plain ``nn.Module`` s whose constructor takes a config dataclass (saved as JSON)."""

from .encoder import EncoderConfig, LatentEncoder
from .partial_conv import PartialConv2d
from .predictor import LatentMapPredictor, Predictor, PredictorConfig

__all__ = ["EncoderConfig", "LatentEncoder", "LatentMapPredictor", "PartialConv2d", "Predictor", "PredictorConfig"]
