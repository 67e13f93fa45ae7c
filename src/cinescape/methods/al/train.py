"""Training of the motion and appearance models (AL Algorithms 2 and 3), resumable, without framework magic.

Usage (the CLI wraps these)::

    cinescape train motion --data ../shared/data/motion --synthetic 16 --out runs/motion --steps 3000
    cinescape train appearance --data ../shared/data/appearance --out runs/appearance --steps 2000

Each run keeps ``OUT/checkpoint.pt`` (model, optimiser, step, RNG states and, for motion, the common
motion fields), ``OUT/log.csv`` (losses per logged step) and ``OUT/model/`` (the exported predictor,
encoder and codebook). ``--resume`` continues from the checkpoint. ``--export DIR`` also writes the
trained part into a pipeline folder DIR (the other part's files there are kept).
"""

from __future__ import annotations

import copy
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .appearance import AppearanceLoss, AppearanceLossWeights, AppearanceModel, appearance_loss
from .codebook import Codebook
from ...data.clips import (Clip, CropParams, apply_crop, apply_crop_flow, attach_flows, clip_from_tensor,
                           common_motion_field, discover_clips, load_clip, parse_source, random_crop_params,
                           sample_clip_indices, select_motion_pairs)
from ...data.splits import is_validation_clip
from ...errors import CinescapeError, OptionError
from ...ops import flow_normalized_to_pixels, resize_flow
from ...training import Distributed, TrainingRun, adam, load_checkpoint, optimizer_step, training_settings
from .. import PIPELINE_CONFIG, read_pipeline_config, write_pipeline_config
from .motion import VELOCITY_FOLDER, MotionLossWeights, MotionModel, motion_loss
from .pipeline import PIPELINE_CLASS

KINDS = ("motion", "appearance")
COMMON_FIELDS = ("predicted", "flow", "pair")


@dataclass
class TrainConfig:
    kind: str                                   # "motion" or "appearance"
    out: str
    data: list[str] = field(default_factory=list)   # PATH or PATH:STRIDE; a clip, or a folder of clips
    synthetic: int = 0                          # procedural clips added to the data
    steps: int = 2000
    batch_size: int = 8
    crop: int = 128                             # training crop side (AL: 256)
    short_side: int = 160                       # clips are decoded with this short side
    lr: float = 1e-4                            # AL: Adam, 1e-4, betas (0.5, 0.999)
    width: float = 0.25
    num_res_blocks: int = 5
    encoder_width: float = 0.5
    encoder_size: int = 64
    latent_dim: int = 8
    latent_prior: str = "none"                  # "vae" or "wae": codes can be drawn from N(0, I) (AL Sec. 6.6)
    latent_prior_weight: float = MotionLossWeights.prior   # weight of its KL / MMD term
    beta: float = 16.0                          # motion only
    motion_gate: bool = False                   # motion only: gated flow head (PredictorConfig.gate)
    init_from: str | None = None                # start from these weights (a run's checkpoint.pt or a model folder)
    motion_tv: float = MotionLossWeights.tv
    motion_norm: str = MotionLossWeights.norm     # "l2" (AL) or "charbonnier"
    min_pair_difference: float = 0.02           # motion only (AL Sec. 6.1)
    min_pair_motion: float = 0.0                # motion only: skip pairs whose p90 pseudo-GT flow is below (px)
    flow_loss: float = 0.0                      # motion only: weight of L1 (crop pixels) to pseudo-GT flow
    common_field: str = "predicted"             # motion only: "predicted" (AL Alg. 2), "flow" (mean pseudo-GT)
    #                                             or "pair" (the pair's own pseudo-GT flow, as FGLA encodes)
    flow_preset: str = "medium"                 # OpenCV DIS preset of the pseudo-GT flow
    max_frames_per_clip: int = 300
    include_validation: bool = False
    bf16: bool = True
    threads: int = 0                            # 0 = torch default
    seed: int = 0
    checkpoint_every: int = 250
    snapshot_every: int = 0                     # also export OUT/snapshots/step_N every N steps (0: never)
    log_every: int = 10

    def validate(self) -> None:
        """One-line :class:`~cinescape.errors.OptionError` naming the first field out of range."""
        if self.kind not in KINDS:
            raise OptionError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.data and not self.synthetic:
            raise OptionError("give training data: data (clips or folders of clips) and/or synthetic (a count)")
        if self.crop < 8 or self.crop % 8:
            raise OptionError(f"crop must be a positive multiple of 8, got {self.crop}")
        if self.common_field not in COMMON_FIELDS:
            raise OptionError(f"common_field must be one of {', '.join(COMMON_FIELDS)}, got {self.common_field!r}")
        if self.latent_prior not in ("none", "vae", "wae"):
            raise OptionError(f"latent_prior must be none, vae or wae, got {self.latent_prior!r}")
        if self.motion_norm not in ("l2", "charbonnier"):
            raise OptionError(f"motion_norm must be l2 or charbonnier, got {self.motion_norm!r}")
        for name in ("steps", "batch_size", "short_side", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("synthetic", "snapshot_every", "threads", "flow_loss", "min_pair_difference", "min_pair_motion",
                     "latent_prior_weight", "motion_tv"):
            if getattr(self, name) < 0:
                raise OptionError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.lr > 0:
            raise OptionError(f"lr must be > 0, got {self.lr}")


# --------------------------------------------------------------------------------------------- data

# TrainConfig fields that shape the network: a checkpoint resumes only with the same values.
ARCHITECTURE_FIELDS = ("width", "num_res_blocks", "encoder_width", "encoder_size", "latent_dim", "latent_prior",
                       "beta", "motion_gate", "crop")


def uses_flows(config: TrainConfig) -> bool:
    return config.kind == "motion" and (config.flow_loss > 0 or config.common_field in ("flow", "pair")
                                        or config.min_pair_motion > 0)


def load_training_clips(config: TrainConfig) -> list[Clip]:
    """Decode every clip of ``config.data`` (minus the validation split) plus the synthetic ones; motion
    clips get their pseudo-GT flows when the configuration uses them."""
    if config.common_field not in COMMON_FIELDS:
        raise OptionError(f"common_field must be one of {', '.join(COMMON_FIELDS)}, got {config.common_field!r}")
    paths: list[tuple[Path, int]] = []
    for spec in config.data:
        root, stride = parse_source(spec)
        if not root.exists():
            raise OptionError(f"training data {root} does not exist")
        found = discover_clips(root)
        if not found:
            raise OptionError(f"no clips (frame folders or videos) found under {root}")
        paths.extend((p, stride) for p in found if config.include_validation or not is_validation_clip(p))
    clips = []
    for path, stride in tqdm(paths, desc="decoding clips", unit="clip"):
        try:
            clips.append(load_clip(path, short_side=config.short_side, stride=stride,
                                   max_frames=config.max_frames_per_clip, name=str(path)))
        except CinescapeError as exc:
            tqdm.write(f"skipping {path}: {exc}")
    if config.synthetic:
        from ...data.synthetic import generate_timelapse

        for i in tqdm(range(config.synthetic), desc="synthetic clips", unit="clip"):
            clip = generate_timelapse(num_frames=24 if config.kind == "motion" else 16, height=config.short_side,
                                      width=config.short_side * 3 // 2, seed=10_000 + i,
                                      day_cycle=config.kind == "appearance")
            made = clip_from_tensor(f"synthetic/{i:03d}", clip.frames)
            if uses_flows(config):  # the generator's exact flows; its flows[t] leads from frame t to t-1
                attach_flows(made, flow_normalized_to_pixels(clip.flows[1:]))
            clips.append(made)
    if config.kind == "motion":
        # Synthetic clips move by construction (their smooth clouds change few pixel values, so the
        # mean-difference test would drop them); the test is for real footage whose motion is unknown.
        clips = [select_motion_pairs(c, 0.0 if c.name.startswith("synthetic/") else config.min_pair_difference)
                 for c in clips]
        dropped = [c.name for c in clips if not c.pairs]
        if dropped:
            tqdm.write(f"{len(dropped)} clips have no frame pair with mean difference >= "
                       f"{config.min_pair_difference} and are not used (raise their stride)")
        clips = [c for c in clips if c.pairs]
        if uses_flows(config):
            for clip in tqdm([c for c in clips if c.flows is None], desc="pseudo-GT flow (DIS)", unit="clip"):
                attach_flows(clip, preset=config.flow_preset)
            if config.min_pair_motion > 0:
                # A flow-based test: a mean difference cannot tell slow clouds over still land from a
                # still frame, but the 90th percentile of the flow's length can.
                for clip in clips:
                    p90 = [torch.quantile(flow.float().norm(dim=0).flatten(), 0.9).item() for flow in clip.flows]
                    clip.pairs = [t for t in clip.pairs if p90[t] >= config.min_pair_motion]
                clips = [c for c in clips if c.pairs]
    if not clips:
        raise OptionError("no usable training clips")
    return clips


def centre_crop_params(clip: Clip) -> CropParams:
    height, width = clip.frames.shape[-2:]
    side = min(height, width)
    return CropParams(top=(height - side) // 2, left=(width - side) // 2, size=side, flip=False)


def flow_common_fields(clips: list[Clip], size: int, mode: str = "flow") -> torch.Tensor:
    """The encoder inputs that stand for each clip in its codebook, over its centre square, normalised,
    (N, 2, size, size): ``"flow"``: the clip's :func:`common_motion_field`; ``"pair"``: the flow of its
    pair of median mean speed, a motion the clip really showed (a mean over time is slower than any pair
    when directions vary)."""
    fields = []
    for clip in clips:
        if mode == "pair":
            pairs = clip.pairs or list(range(len(clip) - 1))
            speeds = clip.flows[pairs].float().norm(dim=1).mean(dim=(1, 2))
            flow = clip.flows[pairs[int(speeds.argsort()[len(pairs) // 2])]].float()
        else:
            flow = common_motion_field(clip)
        fields.append(apply_crop_flow(flow, centre_crop_params(clip), size))
    return torch.stack(fields)


def flip_flow(flow: torch.Tensor) -> torch.Tensor:
    """Mirror a (.., 2, H, W) flow left-right: flip the columns and negate x."""
    flipped = flow.flip(-1).clone()
    flipped[..., 0, :, :] = -flipped[..., 0, :, :]
    return flipped


# ----------------------------------------------------------------------------------------- training

def build_model(config: TrainConfig):
    common = dict(width=config.width, num_res_blocks=config.num_res_blocks, latent_dim=config.latent_dim,
                  encoder_width=config.encoder_width, encoder_size=config.encoder_size, prior=config.latent_prior)
    if config.kind == "motion":
        return MotionModel.create(beta=config.beta, reference_size=config.crop, gate=config.motion_gate, **common)
    if config.kind == "appearance":
        return AppearanceModel.create(**common)
    raise OptionError(f"unknown training kind {config.kind!r}: use motion or appearance")


def initialise_from(model: nn.Module, source: str | Path) -> list[str]:
    """Copy weights from a run's ``checkpoint.pt`` or a model folder into ``model`` (fine-tuning).

    Tensors with the same name and shape are copied; a tensor that grew along its first axis (e.g. a
    head given an extra gate channel) gets the old values in its first rows and keeps its own
    initialisation in the rest. Returns the names that were not copied in full.
    """
    path = Path(source)
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=False)
        state = state.get("model", state) if isinstance(state, dict) else None
    elif path.is_dir():
        state = type(model).from_pretrained(path).state_dict()
    else:
        raise OptionError(f"init_from {path} does not exist")
    if not isinstance(state, dict):
        raise OptionError(f"init_from {path} holds no model weights")
    partial = []
    own = model.state_dict()
    with torch.no_grad():
        for name, tensor in own.items():
            old = state.get(name)
            if old is not None and old.shape == tensor.shape:
                tensor.copy_(old.to(tensor.dtype))
            elif old is not None and old.dim() == tensor.dim() and old.shape[1:] == tensor.shape[1:] \
                    and old.shape[0] < tensor.shape[0]:
                tensor[:old.shape[0]] = old.to(tensor.dtype)
                partial.append(name)
            else:
                partial.append(name)
    return partial


class TrainingStep(nn.Module):
    """One training loss as a module (its ``forward`` is what DDP wraps and synchronises)."""

    def __init__(self, model: nn.Module, motion_weights: MotionLossWeights | None = None,
                 criterion: AppearanceLoss | None = None):
        super().__init__()
        self.model, self.motion_weights, self.criterion = model, motion_weights, criterion

    def forward(self, batch: dict[str, torch.Tensor]):
        if self.criterion is None:
            return motion_loss(self.model, batch["first"], batch["second"], batch["field"], self.motion_weights,
                               batch.get("target"))
        loss, stats = appearance_loss(self.model, self.criterion, batch["first"], batch["second"])
        return loss, stats, None


# ----------------------------------------------------------------------------------------- training

def train(config: TrainConfig, *, resume: bool = False, export: str | Path | None = None,
          appearance_features: torch.nn.Module | None = None, progress: bool = True) -> Path:
    """Train the motion or appearance model; returns the exported model folder ``OUT/model``.

    Under ``torchrun --nproc_per_node N`` the same function trains data-parallel (PyTorch DDP):
    every rank draws the same global batch of ``N * batch_size`` samples from one shared seeded
    sampler and builds only its slice, so N processes compute exactly what one process with batch
    ``N * batch_size`` would (DDP averages the gradients); rank 0 alone logs, checkpoints and exports.

    ``appearance_features`` replaces the SqueezeNet-1.1 feature network (tests pass a random one).
    """
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    world = Distributed.from_environment()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    if config.kind == "appearance" and appearance_features is None:
        from ...models.squeezenet import SqueezeFeatures

        appearance_features = SqueezeFeatures(pretrained=True)  # before decoding data: a missing file fails fast
    clips = load_training_clips(config)
    clip_names = [c.name for c in clips]
    model = build_model(config)
    optimizer = adam(model, config.lr)
    run = TrainingRun(out, config.kind, config, model, optimizer, rng, world=world, architecture=ARCHITECTURE_FIELDS,
                      progress=progress)
    if config.init_from and not (resume and run.checkpoint_path.exists()):
        partial = initialise_from(model, config.init_from)
        if world.is_main and partial:
            tqdm.write(f"init_from: {len(partial)} tensors not copied in full: {', '.join(partial[:6])}")
    size = config.encoder_size
    field_from_flow = config.kind == "motion" and config.common_field in ("flow", "pair")
    # AL Algorithm 2: every clip's common motion field starts at zero and follows the predictions.
    # "flow": the common field is the clip's mean pseudo-GT flow, cropped like each training pair;
    # "pair": the encoder sees the pair's own pseudo-GT flow (FGLA), so codes carry per-pair speeds.
    mean_fields = [common_motion_field(c) for c in clips] if config.common_field == "flow" else None
    common_fields = (flow_common_fields(clips, size, config.common_field) if field_from_flow
                     else torch.zeros(len(clips), 2, size, size))
    state = run.resume_if(resume, clip_names=clip_names)
    if state is not None:
        common_fields = state["common_fields"]

    criterion = None
    if config.kind == "appearance":
        criterion = AppearanceLoss(appearance_features, AppearanceLossWeights(prior=config.latent_prior_weight))
    motion_weights = MotionLossWeights(tv=config.motion_tv, norm=config.motion_norm, flow=config.flow_loss,
                                       prior=config.latent_prior_weight)
    step_module = TrainingStep(model, motion_weights, criterion).to(world.device)
    if world.world_size > 1:
        step_module = DistributedDataParallel(step_module, device_ids=[world.device] if world.device.type == "cuda"
                                              else None)
    model.train()
    mine = slice(world.rank * config.batch_size, (world.rank + 1) * config.batch_size)

    def step_fn(step: int) -> dict[str, float]:
        # The whole global batch is drawn on every rank (same RNG stream), each rank builds its slice.
        indices = sample_clip_indices(len(clips), config.batch_size * world.world_size, rng)
        batch: dict[str, list] = {"first": [], "second": [], "field": [], "target": []}
        flips = []
        for item, i in enumerate(indices):
            clip = clips[i]
            if config.kind == "motion":
                t = rng.choice(clip.pairs)
                tau = t + 1
            else:
                t, tau = rng.randrange(len(clip)), rng.randrange(len(clip))
            params = random_crop_params(clip.frames.shape[-2], clip.frames.shape[-1], config.crop, rng)
            flips.append(params.flip)
            if not mine.start <= item < mine.stop:
                continue
            batch["first"].append(apply_crop(clip.frames[t], params, config.crop))
            batch["second"].append(apply_crop(clip.frames[tau], params, config.crop))
            if config.kind == "motion":
                if field_from_flow:
                    source = mean_fields[i] if mean_fields is not None else clip.flows[t]
                    batch["field"].append(resize_flow(apply_crop_flow(source, params, config.crop)[None],
                                                      (size, size))[0])
                else:
                    batch["field"].append(flip_flow(common_fields[i]) if params.flip else common_fields[i])
                if config.flow_loss > 0:
                    batch["target"].append(apply_crop_flow(clip.flows[t], params, config.crop))
        inputs = {k: torch.stack(v).to(world.device) for k, v in batch.items() if v}
        with torch.autocast(world.device.type, dtype=torch.bfloat16, enabled=config.bf16):
            loss, stats, flow = step_module(inputs)
        optimizer_step(optimizer, loss, step)
        if config.kind == "motion" and not field_from_flow:
            # Algorithm 2 line 14: the predicted flow becomes the clip's common motion field.
            new_fields = world.gather(resize_flow(flow.detach().float(), (size, size))).cpu()
            for row, (i, flipped) in enumerate(zip(indices, flips)):
                common_fields[i] = flip_flow(new_fields[row]) if flipped else new_fields[row]
        return stats

    return run.run(step_fn, export=lambda folder: export_model(model, config, clips, common_fields, folder),
                   export_to=export, extra_state=lambda: {"common_fields": common_fields, "clip_names": clip_names})


# ------------------------------------------------------------------------------------------ export

@torch.no_grad()
def motion_codebook(model: MotionModel, common_fields: torch.Tensor) -> torch.Tensor:
    """One motion code per training clip: the encoding of its final common motion field."""
    return torch.cat([model.encode(chunk) for chunk in common_fields.split(64)])


@torch.no_grad()
def appearance_codebook(model: AppearanceModel, clips: list[Clip], crop: int) -> list[torch.Tensor]:
    """A code sequence per clip: every frame (centre square crop) encoded, in time order."""
    sequences = []
    for clip in clips:
        height, width = clip.frames.shape[-2:]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        frames = clip.frames[:, :, top:top + side, left:left + side].float() / 127.5 - 1
        frames = F.interpolate(frames, size=(crop, crop), mode="bilinear", align_corners=False, antialias=True)
        sequences.append(torch.cat([model.encode(chunk) for chunk in frames.split(32)]))
    return sequences


def export_model(model, config: TrainConfig, clips: list[Clip], common_fields: torch.Tensor, folder: Path) -> None:
    """Write the trained part (predictor, encoder, its codebook half) into a pipeline folder, keeping the rest."""
    model = copy.deepcopy(model).cpu().eval()  # a copy: training may go on, on any device
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, dtype=torch.float16)
    codebook_file = folder / "codebook.safetensors"
    codebook = Codebook.load(folder) if codebook_file.exists() else Codebook(motion=torch.zeros(0, config.latent_dim))
    if config.kind == "motion":
        codebook.motion = motion_codebook(model, common_fields)
        codebook.motion_names = [c.name for c in clips]
        stale = folder / VELOCITY_FOLDER
        if stale.is_dir():  # distilled from the motion model this export replaces
            shutil.rmtree(stale)
            tqdm.write(f"removed {stale}: it was distilled from the previous motion model; "
                       f"re-distil it with `cinescape train velocity --init-from {folder} --export {folder}`")
    else:
        codebook.appearance = appearance_codebook(model, clips, config.crop)
        codebook.appearance_names = [c.name for c in clips]
    codebook.save(folder)
    settings = read_pipeline_config(folder) if (folder / PIPELINE_CONFIG).exists() else {}
    settings.setdefault("pipeline_class", PIPELINE_CLASS)
    settings.setdefault("working_size", 144)
    settings[f"{config.kind}_training"] = training_settings(config)
    write_pipeline_config(folder, settings)


def rebuild_codebook(model_dir: Path, *, motion_checkpoint: str | Path | None = None,
                     appearance_data: list[str] = (), short_side: int = 160) -> Codebook:
    """Re-extract a model folder's codebook: motion codes from a motion run's common motion fields,
    appearance sequences by encoding every frame of each clip under ``appearance_data``."""
    codebook = Codebook.load(model_dir)
    if motion_checkpoint is not None:
        path = Path(motion_checkpoint)
        state = load_checkpoint(path, "motion")
        if "common_fields" not in state:
            raise OptionError(f"{path} is not a cinescape motion checkpoint")
        model = MotionModel.from_pretrained(model_dir)
        codebook.motion = motion_codebook(model, state["common_fields"])
        codebook.motion_names = list(state["clip_names"])
    if appearance_data:
        config = TrainConfig(kind="appearance", out="", data=list(appearance_data), short_side=short_side,
                             include_validation=True)
        clips = load_training_clips(config)
        model = AppearanceModel.from_pretrained(model_dir)
        settings = read_pipeline_config(model_dir) if (Path(model_dir) / PIPELINE_CONFIG).exists() else {}
        crop = settings.get("appearance_training", {}).get("crop", 128)  # encode frames as training saw them
        codebook.appearance = appearance_codebook(model, clips, crop)
        codebook.appearance_names = [c.name for c in clips]
    codebook.save(model_dir)
    return codebook
