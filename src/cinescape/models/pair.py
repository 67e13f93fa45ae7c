"""A predictor and its latent encoder saved side by side (:class:`PredictorEncoderPair`), the base of AL's motion and
appearance models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import torch

from .encoder import LatentEncoder
from .predictor import Predictor

__all__ = ["PredictorEncoderPair"]


class PredictorEncoderPair(torch.nn.Module):
    """A predictor and its latent encoder, saved side by side in ``<prefix>_predictor/`` and ``<prefix>_encoder/``.

    Subclasses set ``prefix`` and the channel counts they require, and add the paper's semantics.
    """

    prefix: ClassVar[str]
    predictor_channels: ClassVar[int]
    encoder_channels: ClassVar[int]

    def __init__(self, predictor, encoder):
        super().__init__()
        if predictor.config.out_channels != self.predictor_channels or encoder.config.in_channels != self.encoder_channels:
            raise ValueError(f"{type(self).__name__} needs a {self.predictor_channels}-channel predictor and a "
                             f"{self.encoder_channels}-channel encoder")
        self.predictor = predictor
        self.encoder = encoder

    @classmethod
    def folders(cls) -> tuple[str, str]:
        return f"{cls.prefix}_predictor", f"{cls.prefix}_encoder"

    @property
    def latent_dim(self) -> int:
        return self.predictor.config.latent_dim

    @property
    def prior(self) -> str:
        """The encoder's latent regulariser: "none", "vae" or "wae" (see :mod:`cinescape.models.encoder`)."""
        return self.encoder.config.prior

    def encode_for_training(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder input -> (B, D) code for the predictor and the prior's regularisation term (a scalar; 0 with
        no prior). VAE: a reparameterised sample and its KL to N(0, I); WAE: the code and its MMD to N(0, I)."""
        from ..ops.latent import kl_to_standard_normal, mmd_to_standard_normal, reparameterize

        mean, log_var = self.encoder.distribution(x)
        if self.prior == "vae":
            return reparameterize(mean, log_var), kl_to_standard_normal(mean.float(), log_var.float())
        if self.prior == "wae" and mean.shape[0] > 1:
            return mean, mmd_to_standard_normal(mean.float())
        return mean, mean.new_zeros(())

    def save_pretrained(self, folder: str | os.PathLike, **kwargs) -> None:
        predictor_folder, encoder_folder = self.folders()
        self.predictor.save_pretrained(Path(folder) / predictor_folder, **kwargs)
        self.encoder.save_pretrained(Path(folder) / encoder_folder, **kwargs)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike):
        predictor_folder, encoder_folder = cls.folders()
        return cls(Predictor.from_pretrained(Path(folder) / predictor_folder),
                   LatentEncoder.from_pretrained(Path(folder) / encoder_folder)).eval()
