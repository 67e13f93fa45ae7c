"""FGLA's networks (Xue et al., ACM MM 2021): the fine-grained motion encoder E, the motion generator P, their
per-group codebook and the group-map ops they share. The method is described in :mod:`cinescape.methods.fgla`."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ModelLoadError
from ...models.base import PretrainedMixin, load_tensors, save_tensors_atomic
from ...models.pair import PredictorEncoderPair
from ...models.partial_conv import PartialConv2d, masked_average
from ...models.predictor import LatentMapPredictor, PredictorConfig
from ...segmentation import GROUP_NAMES, Segmenter
from ..al.motion import flow_to_input_size

NUM_GROUPS = len(GROUP_NAMES)          # FGLA's six groups
FGLA_CODEBOOK = "fgla_codebook.safetensors"


# -------------------------------------------------------------------------------------------- ops

def mirror(x: torch.Tensor, *, flow: bool = False) -> torch.Tensor:
    """Mirror an image, group map or flow left-right (the last axis); ``flow=True`` also negates x.

    ``x``: (..., H, W) (an image (B, C, H, W) or a group map (B, H, W)), or with ``flow=True`` a flow
    (..., 2, H, W), channel 0 = x: the content at column j moves to column W-1-j, and a displacement to the
    right becomes one to the left, so ``warp(mirror(I), mirror(F, flow=True)) == mirror(warp(I, F))``.
    """
    flipped = x.flip(-1)
    if flow:
        if x.dim() < 3 or x.shape[-3] != 2:
            raise ValueError(f"a flow must be (..., 2, H, W), got {tuple(x.shape)}")
        flipped = torch.cat((-flipped[..., :1, :, :], flipped[..., 1:, :, :]), dim=-3)
    return flipped


def group_masks(groups: torch.Tensor, num_groups: int = NUM_GROUPS) -> torch.Tensor:
    """(B, H, W) integer group map -> (B, N, H, W) float binary masks M^1..M^N (one-hot over the groups)."""
    if groups.dim() != 3:
        raise ValueError(f"group map must be (B, H, W), got {tuple(groups.shape)}")
    if groups.numel() and (int(groups.min()) < 0 or int(groups.max()) >= num_groups):
        raise ValueError(f"group ids must lie in 0..{num_groups - 1}")
    return F.one_hot(groups.long(), num_groups).permute(0, 3, 1, 2).float()


def fill_latent_map(latents: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """FGLA Eq. 5: the latent map ``L(x, y) = z^k`` where pixel (x, y) belongs to group k.

    Args:
        latents: (B, N, D) the latent set Z, one D-d latent per group.
        groups: (B, H, W) integer group ids in 0..N-1.

    Returns:
        (B, D, H, W) latent map.

    Example:
        >>> z = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])          # group 0 -> (1, 2), group 1 -> (3, 4)
        >>> fill_latent_map(z, torch.tensor([[[0, 1]]]))[0, :, 0]
        tensor([[1., 3.],
                [2., 4.]])
    """
    if latents.dim() != 3 or groups.shape[0] != latents.shape[0]:
        raise ValueError(f"latents (B, N, D) and groups (B, H, W) do not match: {tuple(latents.shape)}, "
                         f"{tuple(groups.shape)}")
    return torch.einsum("bnhw,bnd->bdhw", group_masks(groups, latents.shape[1]).to(latents.dtype), latents)


def resize_groups(groups: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of an integer group map (B, H, W) (or (H, W)) to ``size`` (pixel centres)."""
    if tuple(groups.shape[-2:]) == tuple(size):
        return groups.long()
    squeeze = groups.dim() == 2
    maps = groups[None] if squeeze else groups
    out = F.interpolate(maps[:, None].float(), size=tuple(size), mode="nearest-exact")[:, 0].long()
    return out[0] if squeeze else out

# ------------------------------------------------------------------------------------------ model

@dataclass
class PartialConvEncoderConfig:
    in_channels: int = 2           # a flow
    latent_dim: int = 2            # D: latent size per group (paper: 2)
    num_groups: int = NUM_GROUPS   # N: latents per set (paper: 6)
    width: float = 0.5             # multiplier on 64/128/192/256 channels
    input_size: int = 64           # inputs are resized so their short side is this (paper: 128)
    input_scale: float = 32.0      # flows are multiplied by this first (c, so they span about [-1, 1])
    mirror_input: bool = True      # the flip self-supervision: E sees mirrored flows and masks (module docstring)


class PartialConvEncoder(PretrainedMixin, nn.Module):
    """E of FGLA Eq. 3: four 3x3 stride-2 partial convolutions with LeakyReLU(0.1), a masked global average
    over the final mask and a linear layer. ``forward(flow, mask)``: (B, 2, H, W) normalised flow and its
    (B, 1, H, W) binary group mask -> (B, latent_dim). Flow outside the mask never reaches the latent; an
    empty mask gives ``fc.bias``."""

    config_class = PartialConvEncoderConfig
    model_type = "fgla_encoder"

    def __init__(self, config: PartialConvEncoderConfig = PartialConvEncoderConfig()):
        super().__init__()
        self.config = config
        channels = [config.in_channels] + [max(8, int(round(n * config.width))) for n in (64, 128, 192, 256)]
        self.convs = nn.ModuleList(PartialConv2d(a, b, 3, stride=2, padding=1) for a, b in zip(channels, channels[1:]))
        self.fc = nn.Linear(channels[-1], config.latent_dim)

    def forward(self, flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = flow * self.config.input_scale
        for conv in self.convs:
            x, mask = conv(x, mask)
            x = F.leaky_relu(x, 0.1)   # leaky_relu(0) = 0: positions outside the mask stay exactly 0
        return self.fc(masked_average(x, mask))


class FGLAModel(PredictorEncoderPair):
    """FGLA's motion generator P (:class:`LatentMapPredictor`) and fine-grained encoder E
    (:class:`PartialConvEncoder`), saved in ``fgla_predictor/`` and ``fgla_encoder/``."""

    prefix = "fgla"
    predictor_channels = 2
    encoder_channels = 2

    def __init__(self, predictor: LatentMapPredictor, encoder: PartialConvEncoder):
        super().__init__(predictor, encoder)
        if predictor.config.latent_dim != encoder.config.latent_dim:
            raise ValueError("the generator's latent map and the encoder's latents must have the same size")

    @classmethod
    def create(cls, *, width: float = 0.25, num_res_blocks: int = 5, flow_range: float = 32.0, latent_dim: int = 2,
               num_groups: int = NUM_GROUPS, encoder_width: float = 0.5, encoder_size: int = 64,
               reference_size: int = 128, mirror_input: bool = True) -> "FGLAModel":
        """``flow_range``: FGLA's c (flow = tanh / c); ``reference_size``: the training crop's side."""
        predictor = LatentMapPredictor(PredictorConfig(out_channels=2, latent_dim=latent_dim, width=width,
                                                       num_res_blocks=num_res_blocks, beta=flow_range,
                                                       reference_size=reference_size))
        encoder = PartialConvEncoder(PartialConvEncoderConfig(latent_dim=latent_dim, num_groups=num_groups,
                                                              width=encoder_width, input_size=encoder_size,
                                                              input_scale=flow_range, mirror_input=mirror_input))
        return cls(predictor, encoder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "FGLAModel":
        predictor_folder, encoder_folder = cls.folders()
        return cls(LatentMapPredictor.from_pretrained(Path(folder) / predictor_folder),
                   PartialConvEncoder.from_pretrained(Path(folder) / encoder_folder)).eval()

    @property
    def num_groups(self) -> int:
        return self.encoder.config.num_groups

    def encode(self, flow: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """The latent set, Eq. 3-4: (B, 2, H, W) normalised flow and (B, H, W) group map -> (B, N, D).

        Both are resized so their short side is ``encoder.config.input_size`` (flow bilinear, its normalised
        values unchanged; groups nearest) and, with ``mirror_input``, mirrored left-right (flip
        self-supervision, see the module docstring). Groups absent from a map get ``fc.bias`` without running
        the encoder.
        """
        config = self.encoder.config
        batch, n = flow.shape[0], config.num_groups
        height, width = flow.shape[-2:]
        scale = config.input_size / min(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        if size != (height, width):
            flow = F.interpolate(flow, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
        groups = resize_groups(groups, size)
        if config.mirror_input:
            flow, groups = mirror(flow, flow=True), mirror(groups)
        masks = group_masks(groups, n).reshape(batch * n, 1, *size)
        present = masks.flatten(1).amax(1) > 0
        index = present.nonzero().squeeze(1)
        latents = self.encoder.fc.bias.float().unsqueeze(0).repeat(batch * n, 1)
        if index.numel():
            encoded = self.encoder(flow[index // n], masks[index])
            latents = latents.index_copy(0, index, encoded.float())
        return latents.view(batch, n, -1)

    def encode_field(self, flow_px: torch.Tensor, groups: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The latent set of one clip's motion field: (2, H, W) flow in pixels of an H x W frame and its (H, W)
        group map -> (N, D). Pixels are normalised by the short side (2 / min(H, W) in x and y: the units of
        a training crop covering the short side), so an image's aspect does not change its speeds."""
        groups = torch.as_tensor(np.asarray(groups) if isinstance(groups, np.ndarray) else groups).long()
        flow = flow_px.float()[None] * (2.0 / min(flow_px.shape[-2:]))
        return self.encode(flow, groups[None])[0]

    @torch.no_grad()
    def still_latent(self) -> torch.Tensor:
        """(D,) the latent of a region that does not move: a zero flow encoded under a full mask."""
        size = self.encoder.config.input_size
        zeros = torch.zeros(1, 2, size, size, device=self.encoder.fc.weight.device)
        return self.encode(zeros, torch.zeros(1, size, size, dtype=torch.long, device=zeros.device))[0, 0]

    def predict_flow(self, image: torch.Tensor, latents: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """Eq. 5-6: (B, 3, H, W) image in [-1, 1], (B, N, D) latent set, (B, h, w) group map (resized nearest to
        H x W) -> (B, 2, H, W) backward flow to the next frame, normalised to this image (as
        :meth:`cinescape.methods.al.motion.MotionModel.predict_flow`: the raw output refers to a ``reference_size`` square)."""
        latent_map = fill_latent_map(latents.float(), resize_groups(groups, tuple(image.shape[-2:])))
        return flow_to_input_size(self.predictor(image, latent_map), self.predictor.config.reference_size,
                                  tuple(image.shape[-2:]))

# --------------------------------------------------------------------------------------- codebook

@dataclass
class FGLACodebook:
    """Per-group latents of the training clips (AL's codebook, one per group): ``latents[g]`` (K_g, D) with the
    clips they come from in ``names[g]``. A group with no entries keeps still."""

    latents: list[torch.Tensor]
    names: list[list[str]]

    def pick(self, group: int, rng: random.Random) -> torch.Tensor | None:
        """A latent of ``group`` drawn at random (None if the codebook has none)."""
        entries = self.latents[group]
        return entries[rng.randrange(entries.shape[0])] if entries.shape[0] else None

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FGLA_CODEBOOK
        tensors = {f"group.{g}": latents.float().contiguous() for g, latents in enumerate(self.latents)}
        save_tensors_atomic(tensors, path, {"names": json.dumps(self.names), "groups": json.dumps(list(GROUP_NAMES))})
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "FGLACodebook":
        path = Path(folder) / FGLA_CODEBOOK
        tensors = load_tensors(path)
        from safetensors import safe_open

        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        count = sum(k.startswith("group.") for k in tensors)
        if count != NUM_GROUPS:
            raise ModelLoadError(f"{path} holds {count} groups, expected {NUM_GROUPS}")
        names = json.loads(metadata.get("names", "[]")) or [[] for _ in range(count)]
        return cls([tensors[f"group.{g}"].float() for g in range(count)], names)


def load_group_segmenter(segmenter: Segmenter | None, sky_matte: bool = True) -> Segmenter:
    """``segmenter``, else the ADE20K segmenter (with the sky matte's sky when ``sky_matte``); a missing weights
    file or package is a one-line error."""
    if segmenter is not None:
        return segmenter
    from ...segmentation import ADE20KSegmenter, SkyMatteSegmenter

    try:
        return SkyMatteSegmenter() if sky_matte else ADE20KSegmenter()
    except ModelLoadError as exc:
        what = "the ADE20K segmenter and the sky matte" if sky_matte else "the ADE20K segmenter"
        raise ModelLoadError(f"FGLA needs {what} for its semantic groups: {exc}") from None
