"""Motion: the motion predictor P^M and encoder E^M of AL Sec. 4.1, and their training loss (Algorithm 2).

The predictor maps (frame t, z^M) to a normalised backward flow from frame t+1 to frame t, restricted
to [-1/beta, 1/beta]; the encoder maps a clip's *common motion field* to z^M. See
:mod:`cinescape.ops.warp` for the flow convention.

Flow units at other sizes: the network is trained on square crops of side ``reference_size``, where
its raw output is a normalised flow. Being fully convolutional, on an H×W input it predicts the same
*pixel* motion for the same content, so :meth:`MotionModel.predict_flow` rescales x by
``reference_size / W`` and y by ``reference_size / H`` to return flows normalised to the input. Without
this, a wide image would move faster horizontally than vertically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ...errors import ModelLoadError
from ...models import EncoderConfig, LatentEncoder, Predictor, PredictorConfig
from ...models.pair import PredictorEncoderPair
from ...ops import edge_aware_tv, flow_normalized_to_pixels, warp


def flow_to_input_size(flow: torch.Tensor, reference_size: int, size: tuple[int, int]) -> torch.Tensor:
    """A predictor's raw (B, 2, H, W) flow, normalised to a ``reference_size`` square, renormalised to its
    input of ``size`` = (H, W): x times ``reference_size / W``, y times ``reference_size / H`` (the module
    docstring). ``reference_size`` 0: returned as is."""
    height, width = size
    if reference_size and (height, width) != (reference_size, reference_size):
        flow = flow * flow.new_tensor([reference_size / width, reference_size / height]).view(1, 2, 1, 1)
    return flow


VELOCITY_FOLDER = "velocity_predictor"   # optional, beside motion_predictor/ (see cinescape.methods.al.velocity)


class MotionModel(PredictorEncoderPair):
    """P^M and E^M together. ``predictor.config.beta`` restricts the flow range.

    ``velocity_predictor``: an optional second U-Net for the Eulerian mode that predicts, in one call, the
    recurrent motion's mean flow per frame (:mod:`cinescape.methods.al.velocity`); None: the Eulerian mode uses P^M's flow
    on the photo.
    """

    prefix = "motion"
    predictor_channels = 2
    encoder_channels = 2

    def __init__(self, predictor, encoder, velocity_predictor: Predictor | None = None):
        super().__init__(predictor, encoder)
        if velocity_predictor is not None and velocity_predictor.config.out_channels != 2:
            raise ValueError("the velocity predictor must predict a 2-channel flow")
        self.velocity_predictor = velocity_predictor

    @classmethod
    def create(cls, *, width: float = 0.25, num_res_blocks: int = 5, beta: float = 16.0, latent_dim: int = 8,
               encoder_width: float = 0.5, encoder_size: int = 64, reference_size: int = 128,
               gate: bool = False, prior: str = "none") -> "MotionModel":
        predictor = Predictor(PredictorConfig(out_channels=2, latent_dim=latent_dim, width=width,
                                              num_res_blocks=num_res_blocks, beta=beta,
                                              reference_size=reference_size, gate=gate))
        # The encoder sees flows scaled by beta, so its input spans about [-1, 1].
        encoder = LatentEncoder(EncoderConfig(in_channels=2, latent_dim=latent_dim, width=encoder_width,
                                              input_size=encoder_size, input_scale=beta, prior=prior))
        return cls(predictor, encoder)

    def predict_flow(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image in [-1, 1], (B, D) code -> (B, 2, H, W) backward flow to the next frame,
        normalised to this image's size (see the module docstring)."""
        return flow_to_input_size(self.predictor(image, z), self.predictor.config.reference_size,
                                  tuple(image.shape[-2:]))

    def predict_velocity(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The Eulerian mode's static velocity field, in :meth:`predict_flow`'s units: the velocity predictor's
        output when the model has one, else P^M's flow on ``image``."""
        if self.velocity_predictor is None:
            return self.predict_flow(image, z)
        return flow_to_input_size(self.velocity_predictor(image, z), self.velocity_predictor.config.reference_size,
                                  tuple(image.shape[-2:]))

    def save_pretrained(self, folder: str | os.PathLike, **kwargs) -> None:
        super().save_pretrained(folder, **kwargs)
        if self.velocity_predictor is not None:
            self.velocity_predictor.save_pretrained(Path(folder) / VELOCITY_FOLDER, **kwargs)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "MotionModel":
        model = super().from_pretrained(folder)
        path = Path(folder) / VELOCITY_FOLDER
        if not path.exists():
            return model
        try:
            return cls(model.predictor, model.encoder, Predictor.from_pretrained(path)).eval()
        except ValueError as exc:
            raise ModelLoadError(f"{path}: {exc}") from None

    def encode(self, flow: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) normalised flow (a common motion field) -> (B, D) code."""
        return self.encoder(flow)


@dataclass
class MotionLossWeights:
    """AL Eq. 4 weights. The TV term is computed on the flow in pixels of the training crop."""

    photometric: float = 1.0     # lambda_p
    tv: float = 0.1              # lambda_tv
    norm: str = "l2"             # L_p's norm: "l2" (AL Eq. 1) or "charbonnier" (robust L1, sqrt(d^2 + 1e-6))
    sigma: float = 0.1           # edge sensitivity of the TV weights (AL: 0.1)
    flow: float = 0.0            # weight of the L1 distance (crop pixels) to a pseudo-GT flow (FGLA's L_flow)
    prior: float = 1e-3          # weight of the encoder's latent regulariser (KL or MMD; only with a prior)


def photometric_error(predicted: torch.Tensor, target: torch.Tensor, norm: str = "l2") -> torch.Tensor:
    """Mean per-pixel error: squared ("l2", AL Eq. 1) or Charbonnier ("charbonnier", ~|d|).

    Charbonnier keeps a constant pull towards zero flow on still, textured land even for sub-pixel
    errors, where the squared error's gradient vanishes and the TV term would drag the land along.
    """
    if norm == "l2":
        return F.mse_loss(predicted, target)
    if norm == "charbonnier":
        return torch.sqrt((predicted - target) ** 2 + 1e-6).mean()
    raise ValueError(f"unknown photometric norm {norm!r}: use l2 or charbonnier")


def motion_loss(model: MotionModel, frame: torch.Tensor, next_frame: torch.Tensor, common_field: torch.Tensor,
                weights: MotionLossWeights = MotionLossWeights(),
                target_flow: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """One evaluation of AL Eq. 1-4 (Algorithm 2, lines 10-13), plus FGLA's flow term when asked.

    Args:
        frame, next_frame: (B, 3, S, S) consecutive frames in [-1, 1].
        common_field: (B, 2, h, w) the clips' common motion fields (normalised flow), the encoder input.
        target_flow: (B, 2, S, S) normalised pseudo-GT backward flow, used when ``weights.flow > 0``.
            The photometric loss alone cannot tell a cloud drifting over a smooth sky from no motion
            (both warp to nearly the same image), which drives predictions towards zero flow.

    Returns:
        total loss, its parts as floats, and the predicted flow (B, 2, S, S) (to update the common fields).
    """
    z, prior_term = model.encode_for_training(common_field)
    flow = model.predict_flow(frame, z).float()
    predicted = warp(frame, flow)
    photometric = photometric_error(predicted, next_frame, weights.norm)
    tv = edge_aware_tv(flow_normalized_to_pixels(flow), next_frame, weights.sigma)
    total = weights.photometric * photometric + weights.tv * tv
    stats = {}
    if model.prior != "none":
        total = total + weights.prior * prior_term
        stats[model.prior] = prior_term.item()
    if weights.flow > 0:
        if target_flow is None:
            raise ValueError("weights.flow > 0 needs a target_flow")
        flow_error = flow_normalized_to_pixels(flow - target_flow.float()).abs().mean()
        total = total + weights.flow * flow_error
        stats["flow_l1_px"] = flow_error.item()
    stats = {"loss": total.item(), "photometric": photometric.item(), "tv": tv.item(), **stats,
             "static_photometric": photometric_error(frame, next_frame, weights.norm).item(),
             "flow_px": flow_normalized_to_pixels(flow).norm(dim=1).mean().item()}
    return total, stats, flow
