"""FGLA: fine-grained motion embedding for landscape animation (Xue et al., ACM MM 2021), per-region motion.

AL encodes a clip's motion into ONE code, so a photo's sky and water move alike. FGLA encodes the motion
of each *semantic group* separately (Sec. 3):

1. **Groups.** Every pixel is labelled with one of six groups, sky, tree, grass, water, waterfall, others
   (:mod:`cinescape.segmentation`; any :class:`~cinescape.segmentation.Segmenter`, by default the ADE20K one
   with its sky replaced by the U²-Net-p sky matte's, :class:`SkyMatteSegmenter`).
2. **Fine-grained motion encoder** E (Eq. 1-4): a stack of partial convolutions
   (:class:`~cinescape.models.partial_conv.PartialConv2d`) that reads a flow only under one group's mask,
   ``z^i = E(F, M^i)``, so the latent *set* Z = [z^1 .. z^N] holds one ``latent_dim``-d latent per group
   (paper: 6 groups x 2-d).
3. **Latent map** (Eq. 5): ``L(x, y) = z^k`` where pixel (x, y) is in group k (:func:`fill_latent_map`).
4. **Motion generator** P (Eq. 6): the project's U-Net predictor fed the image and the latent map
   (:class:`~cinescape.models.predictor.LatentMapPredictor`), output ``tanh(.) / c`` with c = 32, a
   normalised backward flow (:mod:`cinescape.ops.warp`) of a ``reference_size`` square, rescaled to other
   image sizes like AL's (:meth:`FGLAModel.predict_flow`).

Training (Sec. 3.3, :func:`fgla_loss`, :func:`train_fgla`): a frame pair (I_t, I_{t+1}) of a clip, its
pseudo-ground-truth backward flow F_t (OpenCV DIS, computed on the original frames; procedural clips carry
their exact flow) and the group map of the clip's first frame (cached per clip). **Flip self-supervision**:
the encoder sees the *horizontally mirrored* flow (columns flipped, x negated) and mirrored group masks, while
the generator sees the original frame and must produce the original flow, so the encoder cannot pass the
flow's layout through to the generator pixel for pixel (the flip happens after estimating the flow, so every
flow value stays a valid flow). The mirroring lives in :meth:`FGLAModel.encode`, so references at inference
go through exactly the same path. Loss::

    L = L_frame + alpha * L_flow + beta * L_tv          (Eq. 12; alpha = 0.5, beta = 5, sigma = 0.1)

* ``L_frame``: mean L1 between warp(I_t, F^) and I_{t+1} (images in [-1, 1]), Eq. 8;
* ``L_flow``: mean L1 between F^ and F_t, Eq. 9;
* ``L_tv``: :func:`~cinescape.ops.edge_aware_tv` of F^ guided by the generated frame, Eq. 10-11.

Units: ``L_flow`` and ``L_tv`` are computed on flows in **normalised units of the training crop** (the
generator's own output units, the paper's convention: 1 = half the crop side), averaged over pixels (and
neighbour pairs), not summed. In crop pixels at the default 128 px crop one pixel is 1/64, so
alpha = 0.5 and beta = 5 equal 0.0078 and 0.078 per pixel: the TV weight is close to the AL motion run's 0.1
(pixels), the flow weight is 13x below the AL run's ``--flow-loss 0.1``. The log also reports ``flow_l1_px``.

Deviations, stated: the encoder has no instance norm (normalising the first layer would remove a uniform
flow's mean, the very thing to encode; AL's encoder has none either) and ends in a masked global average and a
linear layer; the latent map is concatenated at every downsampling level of the U-Net (AL's conditioning), not
only to the input; group maps come from each clip's first frame (training) or the photo (inference) and are
held fixed while the clouds move (the paper re-segments every frame).

Use (:class:`FGLAPipeline`, ``cinescape animate --method fgla``): each group's latent comes from a reference
clip (its DIS flow averaged over its frames, encoded under the reference's own mask of that group, or of the
region ``reference_regions`` names instead, e.g. a cloud clip's sky or whole frame for a photo's water), or from
the model's per-group codebook (the training clips' latents, picked at random from the seed: what
``cinescape evaluate --method fgla:DIR`` does), or keeps still.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .codebook import Codebook, CodeSelector
from .data.clips import (Clip, CropParams, apply_crop, apply_crop_flow, attach_flows, common_motion_field, load_clip,
                         random_crop_params, sample_clip_indices)
from .errors import ModelLoadError, OptionError
from .models.base import PredictorEncoderPair, PretrainedMixin, atomic_write_bytes, load_tensors, save_tensors_atomic
from .models.partial_conv import PartialConv2d, masked_average
from .models.predictor import LatentMapPredictor, PredictorConfig
from .motion import flow_to_input_size
from .ops import edge_aware_tv, feather_mask, flow_normalized_to_pixels, warp
from .pipeline import DEFAULT_MODEL_DIR, MASK_FEATHER_SIGMA, PIPELINE_CONFIG, AnimationSettings, CinemagraphPipeline

DEFAULT_FGLA_DIR = Path(__file__).parent / "fgla_model"  # the FGLA model shipped in the package
from .segmentation import GROUP_NAMES, GROUP_OTHERS, GROUP_SKY, GROUP_WATER, Segmenter

__all__ = ["NUM_GROUPS", "mirror", "group_masks", "fill_latent_map", "resize_groups", "PartialConvEncoderConfig",
           "PartialConvEncoder", "FGLAModel", "FGLALossWeights", "fgla_loss", "fgla_step", "FGLATrainConfig",
           "load_fgla_clips", "train_fgla", "FGLACodebook", "build_codebook", "export_fgla", "FGLAPipeline",
           "parse_group", "parse_region_options", "is_fgla_folder", "SkyMatteSegmenter"]

NUM_GROUPS = len(GROUP_NAMES)          # FGLA's six groups
FGLA_CODEBOOK = "fgla_codebook.safetensors"
REFERENCE_REGION_ALL = "all"   # reference_regions: encode a reference's whole frame


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


def _crop_groups(groups: torch.Tensor, params: CropParams, out_size: int) -> torch.Tensor:
    """The crop, resize (nearest) and flip of :func:`~cinescape.data.clips.apply_crop` on an (H, W) group map."""
    patch = groups[params.top:params.top + params.size, params.left:params.left + params.size]
    patch = resize_groups(patch, (out_size, out_size))
    return patch.flip(-1) if params.flip else patch


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
        :meth:`cinescape.motion.MotionModel.predict_flow`: the raw output refers to a ``reference_size`` square)."""
        latent_map = fill_latent_map(latents.float(), resize_groups(groups, tuple(image.shape[-2:])))
        return flow_to_input_size(self.predictor(image, latent_map), self.predictor.config.reference_size,
                                  tuple(image.shape[-2:]))


# ------------------------------------------------------------------------------------------- loss

@dataclass
class FGLALossWeights:
    """FGLA Eq. 12. ``flow`` (alpha) and ``tv`` (beta) weigh terms computed on normalised flows (module docstring)."""

    frame: float = 1.0
    flow: float = 0.5      # alpha
    tv: float = 5.0        # beta
    sigma: float = 0.1     # edge sensitivity of the TV weights, Eq. 11


def fgla_loss(model: FGLAModel, frame: torch.Tensor, next_frame: torch.Tensor, groups: torch.Tensor,
              target_flow: torch.Tensor, weights: FGLALossWeights = FGLALossWeights()
              ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """FGLA's training objective (Sec. 3.3) on one batch.

    Args:
        frame, next_frame: (B, 3, S, S) I_t and I_{t+1} in [-1, 1].
        groups: (B, S, S) group map of I_t.
        target_flow: (B, 2, S, S) pseudo-GT backward flow F_t (normalised: ``warp(frame, F_t) ≈ next_frame``).
            It is also the encoder's input, mirrored inside :meth:`FGLAModel.encode` (flip self-supervision).

    Returns:
        total loss, its parts as floats, and the generated flow (B, 2, S, S).
    """
    latents = model.encode(target_flow, groups)
    flow = model.predict_flow(frame, latents, groups).float()
    target_flow = target_flow.float()
    predicted = warp(frame, flow)
    frame_l1 = (predicted - next_frame).abs().mean()
    flow_l1 = (flow - target_flow).abs().mean()
    tv = edge_aware_tv(flow, predicted.detach(), weights.sigma)
    total = weights.frame * frame_l1 + weights.flow * flow_l1 + weights.tv * tv
    stats = {"loss": total.item(), "frame": frame_l1.item(), "flow": flow_l1.item(), "tv": tv.item(),
             "static_frame": (frame - next_frame).abs().mean().item(),
             "flow_l1_px": flow_normalized_to_pixels(flow.detach() - target_flow).abs().mean().item(),
             "flow_px": flow_normalized_to_pixels(flow.detach()).norm(dim=1).mean().item()}
    return total, stats, flow


def fgla_step(model: FGLAModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
              weights: FGLALossWeights = FGLALossWeights(), *, bf16: bool = False) -> dict[str, float]:
    """One optimisation step on a batch ``{"first", "second", "groups", "flow"}`` (see :func:`fgla_loss`)."""
    device = batch["first"].device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        loss, stats, _ = fgla_loss(model, batch["first"], batch["second"], batch["groups"], batch["flow"], weights)
    if not torch.isfinite(loss):
        raise RuntimeError(f"loss became {loss.item()}; lower --lr")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return stats


# ------------------------------------------------------------------------------------------- data

@dataclass
class FGLATrainConfig:
    """An FGLA training run (``cinescape train fgla``); fields shared with :class:`cinescape.train.TrainConfig`
    mean the same."""

    out: str
    data: list[str] = field(default_factory=list)   # PATH or PATH:STRIDE
    synthetic: int = 0
    frame_stride: int = 4            # FGLA Sec. 4.2, one of every 4 frames: the stride of sources without :STRIDE
    steps: int = 2000
    batch_size: int = 8
    crop: int = 128                  # paper: 256
    short_side: int = 160
    lr: float = 1e-4                 # paper: Adam 1e-4 (betas as AL's, 0.5 / 0.999)
    width: float = 0.25              # generator channel multiplier
    num_res_blocks: int = 5
    encoder_width: float = 0.5
    encoder_size: int = 64           # paper: the encoder sees 128 px of a 256 px frame
    latent_dim: int = 2              # paper: 2
    flow_range: float = 32.0         # c: flow = tanh / c (paper: 32)
    alpha: float = FGLALossWeights.flow
    beta: float = FGLALossWeights.tv
    sigma: float = FGLALossWeights.sigma
    min_pair_difference: float = 0.02
    min_pair_motion: float = 0.0
    flow_preset: str = "medium"
    max_frames_per_clip: int = 300
    include_validation: bool = False
    codebook_min_fraction: float = 0.02   # a clip gives a group a codebook latent when the group covers this much
    sky_matte: bool = True           # groups: ADE20K with the sky matte's sky (SkyMatteSegmenter), else ADE20K alone
    bf16: bool = True
    threads: int = 0
    seed: int = 0
    checkpoint_every: int = 250
    snapshot_every: int = 0
    log_every: int = 10

    def validate(self) -> None:
        if self.crop % 8:
            raise OptionError(f"--crop must be a multiple of 8, got {self.crop}")
        if self.frame_stride < 1:
            raise OptionError(f"--frame-stride must be >= 1, got {self.frame_stride}")
        if not self.data and not self.synthetic:
            raise OptionError("give training data with --data PATH (repeatable) and/or --synthetic N")
        if min(self.alpha, self.beta) < 0 or self.flow_range <= 1:
            raise OptionError("alpha and beta must be >= 0 and the flow range c > 1")

    def loss_weights(self) -> FGLALossWeights:
        return FGLALossWeights(flow=self.alpha, tv=self.beta, sigma=self.sigma)


def _with_stride(spec: str, default: int) -> str:
    """``PATH`` -> ``PATH:default``; ``PATH:STRIDE`` stays (an explicit stride wins)."""
    return spec if re.search(r":\d+$", spec) else f"{spec}:{default}"


class SkyMatteSegmenter:
    """A :class:`~cinescape.segmentation.Segmenter` whose sky is the U²-Net-p sky matte's: FGLA's groups from
    ``segmenter`` (default :class:`~cinescape.segmentation.ADE20KSegmenter`), then every pixel with a sky
    probability >= 0.5 becomes sky and every other pixel the segmenter called sky becomes others.

    Why: the shipped ADE20K model (31 classes, MobileNetV2) calls deep-blue sky *water*; on the first frames of
    the 24 Sky Time-lapse training clips at 160 px it put >= 2 % water in 20 of them and up to 64 % (a clear sky
    with clouds), which would teach the water latent the clouds' motion. The matte finds that sky as sky.
    """

    source = "ADE20K groups with the U²-Net-p sky matte's sky"

    def __init__(self, segmenter: Segmenter | None = None, matte=None):
        from .segmentation import ADE20KSegmenter, SkyMatte

        self.segmenter = segmenter if segmenter is not None else ADE20KSegmenter()
        self.matte = matte if matte is not None else SkyMatte()

    def classes(self, image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        groups = np.array(self.segmenter.classes(image, size), dtype=np.int64)
        sky = self.matte(image, groups.shape) >= 0.5
        groups[(groups == GROUP_SKY) & ~sky] = GROUP_OTHERS
        groups[sky] = GROUP_SKY
        return groups


def _load_segmenter(segmenter: Segmenter | None, sky_matte: bool = True) -> Segmenter:
    """``segmenter``, else the ADE20K segmenter (with the sky matte's sky when ``sky_matte``); a missing weights
    file or package is a one-line error."""
    if segmenter is not None:
        return segmenter
    from .segmentation import ADE20KSegmenter

    try:
        return SkyMatteSegmenter() if sky_matte else ADE20KSegmenter()
    except ModelLoadError as exc:
        what = "the ADE20K segmenter and the sky matte" if sky_matte else "the ADE20K segmenter"
        raise ModelLoadError(f"FGLA needs {what} for its semantic groups: {exc}") from None


def _synthetic_groups(clip: Clip, index: int, short_side: int) -> torch.Tensor:
    """The exact group map of procedural clip ``index`` of :func:`cinescape.train.load_training_clips`: its
    generator's moving mask above the horizon is sky, below it water, the rest others."""
    from .data.synthetic import generate_timelapse

    # the same call as load_training_clips makes for motion clips (checked against its frames below)
    made = generate_timelapse(num_frames=24, height=short_side, width=short_side * 3 // 2, seed=10_000 + index,
                              day_cycle=False)
    frames = ((made.frames.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if frames.shape != clip.frames.shape or not torch.equal(frames[0], clip.frames[0]):
        raise RuntimeError(f"cannot reproduce the procedural clip {clip.name}: train.load_training_clips changed")
    moving = made.masks[0, 0] > 0.5
    rows = torch.arange(moving.shape[0]).view(-1, 1) < round(made.horizon * moving.shape[0])
    groups = torch.full(moving.shape, GROUP_OTHERS, dtype=torch.uint8)
    groups[moving & rows] = GROUP_SKY
    groups[moving & ~rows] = GROUP_WATER
    return groups


def load_fgla_clips(config: FGLATrainConfig, segmenter: Segmenter | None = None,
                    cache: Path | None = None) -> tuple[list[Clip], list[torch.Tensor]]:
    """The training clips with their pseudo-GT flows, and each clip's (H, W) uint8 group map (of its first frame).

    Decoding, pair selection and flows are :func:`cinescape.train.load_training_clips`'s (a motion
    configuration with a flow loss); sources without ``:STRIDE`` get ``frame_stride``. Procedural clips map
    their exact sky/water masks to groups; the others are segmented once (``segmenter``, default
    :class:`~cinescape.segmentation.ADE20KSegmenter`, loaded before any decoding so a missing weights file fails
    fast). ``cache``: a file of group maps by clip name, read and updated (so a resumed run does not segment again).
    """
    from .train import TrainConfig, load_training_clips

    data = [_with_stride(spec, config.frame_stride) for spec in config.data]
    if data:
        segmenter = _load_segmenter(segmenter, config.sky_matte)
    motion = TrainConfig(kind="motion", out=config.out, data=data, synthetic=config.synthetic,
                         short_side=config.short_side, min_pair_difference=config.min_pair_difference,
                         min_pair_motion=config.min_pair_motion, flow_loss=1.0, flow_preset=config.flow_preset,
                         max_frames_per_clip=config.max_frames_per_clip, include_validation=config.include_validation,
                         seed=config.seed)
    clips = load_training_clips(motion)
    stored = torch.load(cache, weights_only=True) if cache is not None and cache.is_file() else {}
    maps = []
    for clip in tqdm(clips, desc="semantic groups", unit="clip", disable=len(clips) < 8):
        known = stored.get(clip.name)
        if known is not None and tuple(known.shape) == tuple(clip.frames.shape[-2:]):
            maps.append(known)
        elif clip.name.startswith("synthetic/"):
            maps.append(_synthetic_groups(clip, int(clip.name.split("/")[1]), config.short_side))
        else:
            first = np.ascontiguousarray(clip.frames[0].permute(1, 2, 0).numpy())
            maps.append(torch.from_numpy(segmenter.classes(first).astype(np.uint8)))
    if cache is not None:
        torch.save({c.name: m for c, m in zip(clips, maps)}, cache)
    return clips, maps


def _sample_batch(clips: list[Clip], maps: list[torch.Tensor], config: FGLATrainConfig,
                  rng: random.Random) -> dict[str, torch.Tensor]:
    batch: dict[str, list] = {"first": [], "second": [], "groups": [], "flow": []}
    for i in sample_clip_indices(len(clips), config.batch_size, rng):
        clip = clips[i]
        t = rng.choice(clip.pairs)
        params = random_crop_params(clip.frames.shape[-2], clip.frames.shape[-1], config.crop, rng)
        batch["first"].append(apply_crop(clip.frames[t], params, config.crop))
        batch["second"].append(apply_crop(clip.frames[t + 1], params, config.crop))
        batch["flow"].append(apply_crop_flow(clip.flows[t], params, config.crop))
        batch["groups"].append(_crop_groups(maps[i], params, config.crop))
    return {k: torch.stack(v) for k, v in batch.items()}


# --------------------------------------------------------------------------------------- training

def build_fgla_model(config: FGLATrainConfig) -> FGLAModel:
    return FGLAModel.create(width=config.width, num_res_blocks=config.num_res_blocks, flow_range=config.flow_range,
                            latent_dim=config.latent_dim, encoder_width=config.encoder_width,
                            encoder_size=config.encoder_size, reference_size=config.crop)


def train_fgla(config: FGLATrainConfig, *, resume: bool = False, export: str | Path | None = None,
               segmenter: Segmenter | None = None, progress: bool = True) -> Path:
    """Train FGLA (Sec. 3.3) and export ``OUT/model``; returns that folder. Conventions of
    :func:`cinescape.train.train`: ``OUT/checkpoint.pt`` (model, optimiser, step, RNG states; ``resume``
    continues from it), ``OUT/log.csv`` every ``log_every`` steps, ``OUT/snapshots/step_N`` every
    ``snapshot_every`` steps, and ``export`` writes the model folder there too. One process (no torchrun)."""
    from .train import RunLog, _save_checkpoint

    config.validate()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise OptionError("cinescape train fgla runs in one process; run it without torchrun")
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    clips, maps = load_fgla_clips(config, segmenter, cache=out / "group_maps.pt")
    model = build_fgla_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.999))
    start = 0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if state.get("kind") != "fgla":
            raise OptionError(f"cannot resume {checkpoint_path}: it is not an FGLA run")
        if state["clip_names"] != [c.name for c in clips]:
            raise OptionError(f"cannot resume {checkpoint_path}: its training clips differ from --data/--synthetic")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
    elif resume and progress:
        tqdm.write(f"no checkpoint in {out}; starting from scratch")

    weights = config.loss_weights()
    model.train()
    log = RunLog(out / "log.csv")
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc="train fgla", unit="step",
               disable=not progress)
    try:
        for step in bar:
            stats = fgla_step(model, optimizer, _sample_batch(clips, maps, config, rng), weights, bf16=config.bf16)
            if step % config.log_every == 0 or step == config.steps - 1:
                log.write(step, stats)
                bar.set_postfix(loss=f"{stats['loss']:.4g}")
            if (step + 1) % config.checkpoint_every == 0 or step == config.steps - 1:
                _save_checkpoint(checkpoint_path, {
                    "kind": "fgla", "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step + 1, "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                    "config": dataclasses.asdict(config), "clip_names": [c.name for c in clips]})
            if config.snapshot_every and (step + 1) % config.snapshot_every == 0:
                export_fgla(model, config, clips, maps, out / "snapshots" / f"step_{step + 1:06d}")
    finally:
        log.close()
    model_dir = out / "model"
    export_fgla(model, config, clips, maps, model_dir)
    if export is not None:
        export_fgla(model, config, clips, maps, Path(export))
    return model_dir


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


@torch.no_grad()
def build_codebook(model: FGLAModel, clips: list[Clip], maps: list[torch.Tensor],
                   min_fraction: float = 0.02) -> FGLACodebook:
    """Each clip's mean pseudo-GT flow (:func:`~cinescape.data.clips.common_motion_field`) encoded under each group
    that covers at least ``min_fraction`` of its first frame (:meth:`FGLAModel.encode_field`)."""
    model = model.eval()
    latents = [[] for _ in range(model.num_groups)]
    names = [[] for _ in range(model.num_groups)]
    for clip, groups in zip(clips, maps):
        encoded = model.encode_field(common_motion_field(clip), groups)
        fractions = torch.bincount(groups.long().flatten(), minlength=model.num_groups).float() / groups.numel()
        for g in range(model.num_groups):
            if fractions[g] >= min_fraction:
                latents[g].append(encoded[g])
                names[g].append(clip.name)
    dim = model.encoder.config.latent_dim
    return FGLACodebook([torch.stack(v) if v else torch.zeros(0, dim) for v in latents], names)


def export_fgla(model: FGLAModel, config: FGLATrainConfig, clips: list[Clip], maps: list[torch.Tensor],
                folder: Path) -> None:
    """Write an FGLA model folder: ``fgla_predictor/``, ``fgla_encoder/`` (config JSON + safetensors),
    ``fgla_codebook.safetensors`` and ``pipeline.json`` (working size and the training settings)."""
    import copy

    model = copy.deepcopy(model).cpu().eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, dtype=torch.float16)
    build_codebook(model, clips, maps, config.codebook_min_fraction).save(folder)
    settings = {"working_size": 144, "method": "fgla",
                "fgla_training": {k: v for k, v in dataclasses.asdict(config).items()
                                  if k not in ("out", "threads", "checkpoint_every", "log_every")}}
    atomic_write_bytes(folder / PIPELINE_CONFIG, (json.dumps(settings, indent=2) + "\n").encode())


# --------------------------------------------------------------------------------------- pipeline

def is_fgla_folder(path: str | Path) -> bool:
    return (Path(path).expanduser() / FGLAModel.folders()[0]).is_dir()


def _describe(source) -> str:
    """A reference for messages: its path, or the shape of its frames."""
    return str(source) if isinstance(source, (str, Path)) else f"(frames {tuple(np.shape(source))})"


def parse_group(name: str) -> int:
    """A group name (``sky``, ``tree``, ``grass``, ``water``, ``waterfall``, ``others``) -> its id."""
    key = name.strip().lower()
    if key not in GROUP_NAMES:
        raise OptionError(f"unknown region {name!r}: use one of {', '.join(GROUP_NAMES)}")
    return GROUP_NAMES.index(key)


def parse_region_options(references: list[str] = (), speeds: list[str] = (),
                         regions: list[str] = ()) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """CLI ``--reference GROUP=CLIP``, ``--region-speed GROUP=X`` and ``--reference-region GROUP=REGION`` lists ->
    the ``references``, ``speeds`` and ``reference_regions`` dicts :meth:`FGLAPipeline.plan` takes."""
    def split(text: str, flag: str) -> tuple[str, str]:
        group, sep, value = text.partition("=")
        if not sep or not value:
            raise OptionError(f"{flag} takes GROUP=VALUE (e.g. sky=clouds.mp4), got {text!r}")
        return GROUP_NAMES[parse_group(group)], value

    def collect(texts: list[str], flag: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for text in texts:
            group, value = split(text, flag)
            if group in values:
                raise OptionError(f"{flag} {group}= is given twice")
            values[group] = value
        return values

    refs = collect(references, "--reference")
    rates: dict[str, float] = {}
    for text in speeds:
        group, value = split(text, "--region-speed")
        try:
            rates[group] = float(value)
        except ValueError:
            raise OptionError(f"--region-speed {group}= takes a number, got {value!r}") from None
    return refs, rates, collect(regions, "--reference-region")


class _LatentSetMotion(nn.Module):
    """Adapts :class:`FGLAModel` to the pipeline's ``motion.predict_flow(image, z)``: ``z`` is the latent set
    flattened, (1, N * D); ``groups`` (h, w), set per animation, is the photo's group map (held fixed)."""

    def __init__(self, model: FGLAModel):
        super().__init__()
        self.model = model
        self.groups: torch.Tensor | None = None

    def predict_flow(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.groups is None:
            raise RuntimeError("the photo's group map is not set (FGLAPipeline.motion_mask sets it)")
        latents = z.view(z.shape[0], self.model.num_groups, -1)
        groups = self.groups.to(image.device)[None].expand(image.shape[0], -1, -1)
        return self.model.predict_flow(image, latents, groups)

    def predict_velocity(self, image: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The Eulerian mode's field: FGLA has no velocity predictor, so its flow on the photo."""
        return self.predict_flow(image, z)


@dataclass
class _Request:
    latents: list[torch.Tensor | None]   # per group: a latent, or None for a codebook pick
    speeds: list[float]


class FGLAPipeline(CinemagraphPipeline):
    """Photo -> looping time-lapse with FGLA's per-region motion (AL Algorithm 1 with FGLA's motion model).

    ``plan(image, references={"sky": CLIP, ...}, speeds={"water": 0.5, ...}, ...)`` returns the same
    :class:`~cinescape.pipeline.Animation` as :class:`~cinescape.pipeline.CinemagraphPipeline` (loop modes,
    recurrent/Eulerian motion, masks and appearance work alike). Each group's latent and speed:

    * a group with a reference: the reference's latent of that group (:meth:`reference_latents`), or of the
      region ``reference_regions`` names for it (another group, or ``"all"``: :meth:`reference_latent`), speed 1
      (or ``speeds``);
    * with no reference at all, or a group given a speed: a latent of the model's per-group codebook picked at
      random from ``seed`` (a group the codebook lacks gets the still latent), speed 1 (or ``speeds``);
    * any other group (references were given, not for it): keeps still, with the latent of a zero flow
      (:meth:`FGLAModel.still_latent`) and its flow multiplied by 0, so it is exactly still.

    The per-pixel speeds (feathered like masks) multiply every step flow, together with ``mask`` and
    ``auto_mask``. The photo's group map comes from ``segmenter`` (default: the ADE20K segmenter, loaded on
    first use) or ``groups=`` in :meth:`plan`; it is held fixed over the animation. Colours (``appearance``) use
    the appearance model of the FGLA folder if it has one, else the shipped default model's.
    """

    def __init__(self, model: FGLAModel, codebook: FGLACodebook, appearance=None, appearance_codebook: Codebook | None = None,
                 working_size: int = 144, *, segmenter: Segmenter | None = None, sky_matte: bool = True,
                 reference_short_side: int = 160, reference_max_frames: int = 120):
        super().__init__(_LatentSetMotion(model), appearance,
                         appearance_codebook or Codebook(motion=torch.zeros(0, model.encoder.config.latent_dim)),
                         working_size)
        self.model = model.eval()
        self.fgla_codebook = codebook
        self._segmenter = segmenter
        self.sky_matte = sky_matte   # the default segmenter: as the model was trained (FGLATrainConfig.sky_matte)
        self.reference_short_side = reference_short_side
        self.reference_max_frames = reference_max_frames
        self._request: _Request | None = None
        self._given_groups: torch.Tensor | None = None
        self._group_cache: dict = {}
        self._reference_cache: dict = {}

    # ------------------------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, *, appearance_from: str | Path | None = None,
                        segmenter: Segmenter | None = None) -> "FGLAPipeline":
        """Load an FGLA model folder (``cinescape train fgla`` writes ``OUT/model``); ``path=None`` loads the
        FGLA model shipped inside the package (``cinescape/fgla_model``)."""
        folder = DEFAULT_FGLA_DIR if path is None else Path(path).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder {folder} does not exist")
        if not is_fgla_folder(folder):
            raise ModelLoadError(f"{folder} is not an FGLA model folder ({FGLAModel.folders()[0]}/ is missing); "
                                 "train one with `cinescape train fgla`")
        settings = {}
        if (folder / PIPELINE_CONFIG).is_file():
            try:
                settings = json.loads((folder / PIPELINE_CONFIG).read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ModelLoadError(f"corrupt {folder / PIPELINE_CONFIG}: {exc}") from None
        model = FGLAModel.from_pretrained(folder)
        codebook = FGLACodebook.load(folder)
        from .appearance import AppearanceModel

        source = folder if (folder / AppearanceModel.folders()[0]).is_dir() else Path(appearance_from or DEFAULT_MODEL_DIR)
        appearance, appearance_codebook = None, None
        if (source / AppearanceModel.folders()[0]).is_dir():
            appearance, appearance_codebook = AppearanceModel.from_pretrained(source), Codebook.load(source)
        training = settings.get("fgla_training", {})
        return cls(model, codebook, appearance, appearance_codebook, int(settings.get("working_size", 144)),
                   segmenter=segmenter, sky_matte=bool(training.get("sky_matte", True)),
                   reference_short_side=int(training.get("short_side", 160)))

    def save_pretrained(self, path: str | Path) -> Path:
        folder = Path(path)
        self.model.save_pretrained(folder, dtype=torch.float16)
        self.fgla_codebook.save(folder)
        if self.appearance is not None:
            self.appearance.save_pretrained(folder, dtype=torch.float16)
            self.codebook.save(folder)
        settings = {"working_size": self.working_size, "method": "fgla",
                    "fgla_training": {"short_side": self.reference_short_side, "sky_matte": self.sky_matte}}
        atomic_write_bytes(folder / PIPELINE_CONFIG, (json.dumps(settings, indent=2) + "\n").encode())
        return folder

    # --------------------------------------------------------------------------------- semantics

    @property
    def segmenter(self) -> Segmenter:
        if self._segmenter is None:
            self._segmenter = _load_segmenter(None, self.sky_matte)
        return self._segmenter

    def image_groups(self, image: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The photo's (h, w) group map at ``size`` (from ``groups=`` of :meth:`plan`, else the segmenter; cached)."""
        if self._given_groups is not None:
            return resize_groups(self._given_groups, size)
        from .io.image import tensor_to_image

        array = image if isinstance(image, np.ndarray) else tensor_to_image(image)
        key = (hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).hexdigest(), array.shape,
               tuple(size))
        if key not in self._group_cache:
            self._group_cache = {key: torch.from_numpy(np.asarray(self.segmenter.classes(array, tuple(size)))).long()}
        return self._group_cache[key]

    def reference_latents(self, source) -> tuple[torch.Tensor, torch.Tensor]:
        """A reference clip's latent set and its group fractions: ``((N, D), (N,))``.

        ``source``: a video file or frame folder (``PATH`` or ``PATH:STRIDE``), or uint8 frames (T, H, W, 3).
        Frames are decoded at the training short side, their DIS backward flows averaged over the clip, and the
        mean flow encoded under each group of the reference's own first-frame segmentation (Algorithm 1, line 6).
        """
        field, groups = self._reference_field(source)
        with torch.no_grad():
            latents = self.model.encode_field(field, groups)
        fractions = torch.bincount(groups.flatten(), minlength=self.model.num_groups).float() / groups.numel()
        return latents, fractions

    def reference_latent(self, source, region: int | str) -> torch.Tensor:
        """(D,) the latent of one region of a reference clip: ``region`` a group (id or name), encoded under the
        reference's own mask of that group (as :meth:`reference_latents`), or ``"all"``, its whole frame.

        ``"all"`` (or another group's name) lets a clip's motion drive a group the clip does not show, e.g. a
        cloud time-lapse's drift for a photo's water (``plan(references={"water": clouds},
        reference_regions={"water": "sky"})``). A group the reference's segmentation lacks raises OptionError.
        """
        if isinstance(region, str) and region.strip().lower() == REFERENCE_REGION_ALL:
            field, groups = self._reference_field(source)
            with torch.no_grad():   # one mask over the whole frame: the group-0 latent of an all-zero map
                return self.model.encode_field(field, torch.zeros_like(groups))[0]
        group = parse_group(region) if isinstance(region, str) else int(region)
        latents, fractions = self.reference_latents(source)
        if fractions[group] == 0:
            raise OptionError(f"the reference {_describe(source)} shows no {GROUP_NAMES[group]} (by its "
                              f"segmentation): pick a clip that does, or encode another of its regions "
                              f"(reference_regions, e.g. {{'{GROUP_NAMES[group]}': 'all'}})")
        return latents[group]

    def _reference_field(self, source) -> tuple[torch.Tensor, torch.Tensor]:
        """A reference's mean DIS backward flow (2, H, W) in pixels and its first frame's group map (H, W) (cached
        per path)."""
        from .train import parse_source

        key = str(source) if isinstance(source, (str, Path)) else None
        if key is not None and key in self._reference_cache:
            return self._reference_cache[key]
        if isinstance(source, (str, Path)):
            path, stride = parse_source(str(source))
            if not path.exists():
                raise OptionError(f"reference clip {path} does not exist")
            clip = load_clip(path, short_side=self.reference_short_side, stride=stride,
                             max_frames=self.reference_max_frames, name=str(path))
        else:
            frames = np.asarray(source)
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 2:
                raise OptionError("a reference must be a clip path or uint8 frames (T >= 2, H, W, 3)")
            clip = Clip(name="reference", frames=torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2))
        attach_flows(clip)
        first = np.ascontiguousarray(clip.frames[0].permute(1, 2, 0).numpy())
        groups = torch.from_numpy(np.asarray(self.segmenter.classes(first))).long()
        result = (common_motion_field(clip), groups)
        if key is not None:
            self._reference_cache[key] = result
        return result

    def resolve_regions(self, references: dict | None = None, speeds: dict | None = None,
                        reference_regions: dict | None = None) -> _Request:
        """Each group's latent (or None: a codebook pick) and speed, from ``references``, ``speeds`` and
        ``reference_regions`` keyed by group name (see the class docstring)."""
        references = {parse_group(k): v for k, v in (references or {}).items()}
        speeds = {parse_group(k): float(v) for k, v in (speeds or {}).items()}
        regions = {parse_group(k): v for k, v in (reference_regions or {}).items()}
        for group, speed in speeds.items():
            if not (np.isfinite(speed) and 0 <= speed <= 10):
                raise OptionError(f"--region-speed {GROUP_NAMES[group]} must be between 0 and 10, got {speed}")
        for group, region in regions.items():
            if group not in references:
                raise OptionError(f"reference_regions names {GROUP_NAMES[group]}, which has no reference")
            if isinstance(region, str) and region.strip().lower() != REFERENCE_REGION_ALL:
                try:  # an unknown region name is a one-line error before any clip is read
                    parse_group(region)
                except OptionError:
                    raise OptionError(f"unknown reference region {region!r} for {GROUP_NAMES[group]}: use "
                                      f"{', '.join(GROUP_NAMES)} or {REFERENCE_REGION_ALL}") from None
            elif not isinstance(region, str) and not 0 <= int(region) < self.model.num_groups:
                raise OptionError(f"reference_regions: a region is a group name or {REFERENCE_REGION_ALL!r}, "
                                  f"got {region!r}")
        still = self.model.still_latent()
        latents: list[torch.Tensor | None] = []
        rates: list[float] = []
        for group in range(self.model.num_groups):
            if group in references:
                if group in regions:
                    latents.append(self.reference_latent(references[group], regions[group]))
                else:
                    encoded, fractions = self.reference_latents(references[group])
                    if fractions[group] == 0:
                        raise OptionError(f"the {GROUP_NAMES[group]} reference {_describe(references[group])} shows "
                                          f"no {GROUP_NAMES[group]} (by its segmentation): pick a clip that does, "
                                          f"or encode another of its regions (reference_regions)")
                    latents.append(encoded[group])
                rates.append(speeds.get(group, 1.0))
            elif not references or group in speeds:
                latents.append(None)
                rates.append(speeds.get(group, 1.0))
            else:
                latents.append(still)
                rates.append(0.0)
        return _Request(latents, rates)

    # ---------------------------------------------------------------------------------- inference

    def motion_code(self, settings: AnimationSettings, rng: random.Random) -> torch.Tensor:
        """The latent set Z of this animation, flattened (N * D,): references, codebook picks (from ``rng``) or still."""
        if CodeSelector.parse(settings.motion_code) != CodeSelector():
            raise OptionError("FGLA has no single motion code: use references (--reference GROUP=CLIP) or --seed")
        request = self._request or self.resolve_regions()
        still = None
        latents = []
        for group, latent in enumerate(request.latents):
            if latent is None:
                latent = self.fgla_codebook.pick(group, rng)
                if latent is None:
                    still = self.model.still_latent() if still is None else still
                    latent = still
            latents.append(latent.float())
        return torch.stack(latents).flatten()

    def arrow_motion_code(self, *args, **kwargs):
        raise OptionError("arrows steer AL's single motion code (--arrows-mode latent); with --method fgla use "
                          "--arrows-mode direct, or references per region")

    def motion_mask(self, image, settings: AnimationSettings, size: tuple[int, int], *,
                    matte: np.ndarray | None = None) -> torch.Tensor | None:
        """The user/automatic mask (as :class:`~cinescape.pipeline.CinemagraphPipeline`) times the per-group speeds
        (each group's indicator feathered, weighted by its speed); also sets the photo's group map."""
        base = super().motion_mask(image, settings, size, matte=matte)
        groups = self.image_groups(image, size)
        self.motion.groups = groups
        speeds = (self._request or self.resolve_regions()).speeds
        if all(s == 1.0 for s in speeds):
            return base
        masks = group_masks(groups[None], self.model.num_groups)
        speed = sum(s * feather_mask(masks[:, g:g + 1], MASK_FEATHER_SIGMA) for g, s in enumerate(speeds) if s)
        speed = speed if torch.is_tensor(speed) else torch.zeros(1, 1, *size)
        return speed if base is None else base * speed

    def plan(self, image, settings: AnimationSettings | None = None, *, references: dict | None = None,
             speeds: dict | None = None, groups: np.ndarray | torch.Tensor | None = None,
             reference_regions: dict | None = None, progress: bool = False, **overrides):
        """:meth:`CinemagraphPipeline.plan` with FGLA's regions.

        ``references``: ``{group name: clip}`` (a video file or frame folder, ``PATH:STRIDE`` allowed, or uint8
        frames (T, H, W, 3)); ``speeds``: ``{group name: factor}``; ``groups``: the photo's (H, W) group map
        (any size: resized nearest) instead of the segmenter's; ``reference_regions``: ``{group name: region}``,
        the region of that group's reference to encode, a group name or ``"all"`` (the whole frame), instead
        of the group itself (:meth:`reference_latent`). See the class docstring.
        """
        from .io.image import load_image

        if isinstance(image, (str, Path)):
            image = load_image(image)
        self._given_groups = None if groups is None else torch.as_tensor(np.asarray(groups)).long()
        self._request = self.resolve_regions(references, speeds, reference_regions)
        try:
            return super().plan(image, settings, progress=progress, **overrides)
        finally:
            self._request, self._given_groups = None, None
