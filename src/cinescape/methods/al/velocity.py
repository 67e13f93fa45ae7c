"""A one-call velocity predictor for the Eulerian mode, distilled from the recurrent motion model.

Holynski et al. (CVPR 2021) train their Eulerian network on the *average* optical flow of each training video:
the static field that best stands for the whole clip. Our motion predictor is trained, as in AL, on one
frame-to-frame flow; used as a static field (its prediction on the photo alone) it ties its fine detail to where
the photo's textures are at frame 0. After a few frames the content has moved on but the field has not, so
textures stretch and bunch up in place, where the recurrent mode re-predicts on every moved frame.

The velocity predictor here is the same U-Net (a copy of the motion predictor, fine-tuned) trained to predict,
from the photo and the code, the **mean of the recurrent mode's per-frame flows over a rollout** of ``rollout``
frames (:func:`rollout_mean_flow`): the recurrent motion averaged at each place, as Holynski's targets average
the real flow. No footage is needed beyond start frames; the teacher is the motion model itself. Measured on the
validation clips over all 57 codebook codes (docs/training.md), integrating the *exact*
rollout mean as the static field gave 40.43 dB on still pixels at motion ratio 0.902, against 40.39 / 0.902 for
the recurrent mode and 40.36 / 0.909 for the first-frame field; the distilled predictors' figures, and why the
shipped model has none yet, are in docs/training.md.

Flows follow :mod:`cinescape.ops.warp`: (B, 2, S, S) normalised backward flows, channel 0 = x; training crops
are ``reference_size`` squares, where the predictor's raw output is already normalised to the crop.

    cinescape train velocity --data ../shared/data/motion/skytimelapse128 --out runs/velocity --export DIR
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from ...data.clips import apply_crop, discover_clips, load_clip, parse_source, random_crop_params
from ...data.splits import is_validation_clip
from ...errors import CinescapeError, OptionError
from ...models import Predictor
from ...models.base import atomic_write_bytes
from ...ops import accumulate_flow, flow_normalized_to_pixels, warp
from ...training import Distributed, TrainingRun, adam, optimizer_step
from .. import PIPELINE_CONFIG, read_pipeline_config, write_pipeline_config
from .codebook import Codebook
from .motion import VELOCITY_FOLDER, MotionModel
from .pipeline import DEFAULT_MODEL_DIR


@torch.no_grad()
def rollout_mean_flow(motion: MotionModel, images: torch.Tensor, codes: torch.Tensor, frames: int, *,
                      bf16: bool = True) -> torch.Tensor:
    """The mean per-frame flow of the recurrent motion mode over ``frames`` frames (``frames - 1`` steps).

    Runs AL Algorithm 1 without a mask at speed 1: ``B_{t+1} = P^M(I_t, z)``, ``A_{t+1} =
    accumulate_flow(A_t, B_{t+1})``, ``I_{t+1} = warp(I_0, A_{t+1})``, and returns ``mean_t B_t`` at each pixel.

    Args:
        motion: the recurrent motion model (the teacher).
        images: (B, 3, H, W) start frames in [-1, 1].
        codes: (B, D) motion codes.
        frames: rollout length in frames, >= 2.

    Returns:
        (B, 2, H, W) normalised backward flow per frame step (the units of ``motion.predict_flow``).

    Example:
        >>> motion = MotionModel.create()
        >>> rollout_mean_flow(motion, torch.zeros(1, 3, 32, 32), torch.zeros(1, 8), 3).shape
        torch.Size([1, 2, 32, 32])
    """
    if frames < 2:
        raise ValueError(f"a rollout needs at least 2 frames, got {frames}")
    accumulated = torch.zeros_like(images[:, :2])
    total = torch.zeros_like(accumulated)
    current = images
    for _ in range(frames - 1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            step = motion.predict_flow(current, codes).float()
        total += step
        accumulated = accumulate_flow(accumulated, step)
        current = warp(images, accumulated)
    return total / (frames - 1)


def velocity_loss(velocity: Predictor, images: torch.Tensor, codes: torch.Tensor, targets: torch.Tensor, *,
                  floor: float | None = 0.1) -> torch.Tensor:
    """Relative L1 distance between the predicted velocity and the rollout-mean target (both (B, 2, S, S)
    normalised to the square ``reference_size`` crop).

    Per sample: the mean absolute difference in crop pixels divided by ``floor`` plus the target's mean speed (px),
    then averaged over the batch. ``floor=None``: the plain mean absolute difference in crop pixels. The plain L1
    let the slowest codes' fields pick up errors of a few hundredths of a pixel, which cost them more on still
    pixels (near 50 dB) than the fast codes gained (docs/training.md).
    """
    predicted = velocity(images, codes).float()
    error = flow_normalized_to_pixels(predicted - targets).abs()
    if floor is None:
        return error.mean()
    speed = flow_normalized_to_pixels(targets).norm(dim=1).mean((1, 2))
    return (error.mean((1, 2, 3)) / (speed + floor)).mean()


# VelocityTrainConfig fields the teacher's targets depend on (with the teacher's weights, see target_recipe).
TARGET_FIELDS = ("data", "targets", "rollout", "short_side", "include_validation", "bf16", "seed")
# Of those, the ones that may differ between target sets pooled into one training set.
POOLABLE_FIELDS = ("targets", "seed")


def teacher_fingerprint(teacher: MotionModel) -> str:
    """sha256 over the teacher's per-frame motion predictor weights (names, shapes, dtypes and bytes), so cached
    targets are tied to the network that rolled them out, not to the folder it was loaded from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(teacher.predictor.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def target_recipe(config: "VelocityTrainConfig", teacher: MotionModel) -> dict:
    """What a set of targets was built from: the TARGET_FIELDS of its config and the teacher's fingerprint."""
    return {**{key: getattr(config, key) for key in TARGET_FIELDS}, "teacher": teacher_fingerprint(teacher)}


def load_target_pool(paths: list[str], recipe: dict) -> list[dict[str, torch.Tensor]]:
    """Load other runs' ``targets.pt`` (a file or its run folder) to train on beside this run's own.

    Each must have been built by the same teacher with the same data and rollout settings (``recipe`` up to
    POOLABLE_FIELDS) and with a different seed, else the same crops would be counted twice.
    """
    pool, seeds = [], {recipe["seed"]} if recipe["targets"] else set()
    for spec in paths:
        path = Path(spec) / "targets.pt" if Path(spec).is_dir() else Path(spec)
        if not path.is_file():
            raise OptionError(f"pool: no targets at {path}")
        data = torch.load(path)
        other = json.loads(data.get("recipe", "{}"))
        if {k: v for k, v in other.items() if k not in POOLABLE_FIELDS} != \
                {k: v for k, v in recipe.items() if k not in POOLABLE_FIELDS}:
            raise OptionError(f"pool: {path} was built with another teacher, data or rollout settings")
        if other["seed"] in seeds:
            raise OptionError(f"pool: {path} repeats seed {other['seed']}: its targets are already in the set")
        seeds.add(other["seed"])
        pool.append(data)
    return pool


@dataclass
class VelocityTrainConfig:
    out: str
    data: list[str] = field(default_factory=list)   # clips (or folders of clips) whose frames start the rollouts
    teacher: str | None = None    # model folder with the motion model and codebook (None: the shipped default)
    targets: int = 2048           # (start frame, code) pairs whose rollout means are the training set
    pool: list[str] = field(default_factory=list)   # other runs' targets.pt (same teacher, other seeds) to add
    rollout: int = 32             # frames per teacher rollout (the evaluation's clip length)
    steps: int = 2000
    batch_size: int = 8
    lr: float = 3e-5              # 1e-4 moved the student away from targets P^M was already close to
    lr_schedule: str = "constant"   # or "cosine": lr * (1 + cos(pi * step / steps)) / 2 at step 0, 1, ...
    short_side: int = 160         # frames are decoded with this short side, then cropped at random
    include_validation: bool = False
    bf16: bool = True
    threads: int = 0
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 10
    loss_floor: float | None = 0.1   # px added to each target's mean speed in velocity_loss; None: plain L1

    def validate(self) -> None:
        if not self.data:
            raise OptionError("the velocity distillation needs data (frames to start the teacher's rollouts from)")
        for name, low in (("steps", 1), ("batch_size", 1), ("targets", 0), ("rollout", 2), ("short_side", 8),
                          ("checkpoint_every", 1), ("log_every", 1), ("threads", 0)):
            if getattr(self, name) < low:
                raise OptionError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not self.lr > 0:
            raise OptionError(f"lr must be > 0, got {self.lr}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise OptionError(f"lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.targets == 0 and not self.pool:
            raise OptionError("targets=0 trains on other runs' targets only: give pool (their folders or targets.pt)")


def _start_frames(config: VelocityTrainConfig, size: int, rng: random.Random, progress: bool = True) -> torch.Tensor:
    """``config.targets`` random square crops (resized to ``size``) of random frames of the training clips."""
    frames = []
    for spec in config.data:
        root, stride = parse_source(spec)
        paths = [p for p in discover_clips(root) if config.include_validation or not is_validation_clip(p)]
        if not paths:
            raise OptionError(f"no training clips (frame folders or videos) under {root}")
        for path in tqdm(paths, desc="decoding clips", unit="clip", disable=not progress):
            try:
                frames.extend(load_clip(path, short_side=config.short_side, stride=stride, max_frames=300).frames)
            except CinescapeError as exc:
                tqdm.write(f"skipping {path}: {exc}")
    if not frames:
        raise OptionError("no usable training frames")
    crops = []
    for _ in range(config.targets):
        frame = frames[rng.randrange(len(frames))]
        # No flips: a code's direction is tied to the scene as the teacher sees it, flipping both would teach
        # mirrored codes.
        params = random_crop_params(*frame.shape[-2:], size, rng, flip=False)
        crops.append(apply_crop(frame, params, size))
    return torch.stack(crops)


def build_targets(config: VelocityTrainConfig, teacher: MotionModel, motion_codes: torch.Tensor,
                  rng: random.Random, chunk: int = 32, progress: bool = True) -> dict[str, torch.Tensor]:
    """The training set: start crops, a random codebook code each, and the teacher's rollout-mean flows."""
    size = teacher.predictor.config.reference_size or 128
    images = _start_frames(config, size, rng, progress)
    codes = motion_codes[torch.tensor([rng.randrange(motion_codes.shape[0]) for _ in range(len(images))])]
    targets = [rollout_mean_flow(teacher, images[i:i + chunk], codes[i:i + chunk], config.rollout, bf16=config.bf16)
               for i in tqdm(range(0, len(images), chunk), desc="teacher rollouts", unit="batch", disable=not progress)]
    return {"images": images, "codes": codes, "targets": torch.cat(targets)}


def train_velocity(config: VelocityTrainConfig, *, resume: bool = False, export: str | Path | None = None,
                   progress: bool = True) -> Path:
    """Distil the velocity predictor (module docstring); returns the exported ``OUT/model/velocity_predictor``.

    ``OUT/targets.pt`` keeps the teacher's targets (built once; ``config.pool`` adds other runs' targets,
    :func:`load_target_pool`); the rest of the run folder is :class:`~cinescape.training.TrainingRun`'s
    (checkpoint, ``resume``, log). ``export``: also write the predictor into that model folder as
    ``velocity_predictor/`` (the Eulerian mode then uses it). One process (no torchrun).
    """
    config.validate()
    world = Distributed.single_process("cinescape train velocity")
    if config.threads:
        torch.set_num_threads(config.threads)
    teacher_dir = Path(config.teacher) if config.teacher else DEFAULT_MODEL_DIR
    teacher = MotionModel.from_pretrained(teacher_dir)
    codebook = Codebook.load(teacher_dir)
    out = Path(config.out)   # made once the teacher has loaded: a bad teacher leaves no empty run folder
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    # The teacher's targets are built once (minutes of rollouts) and kept with what they were built from.
    targets_path = out / "targets.pt"
    recipe = target_recipe(config, teacher)
    pool = load_target_pool(config.pool, recipe)
    if config.targets == 0:
        sets = []
    elif targets_path.is_file():
        sets = [torch.load(targets_path)]
        if json.loads(sets[0].get("recipe", "{}")) != recipe:
            raise OptionError(f"{targets_path} was built with another teacher, data or rollout settings: "
                              "use a new out folder")
    else:
        sets = [build_targets(config, teacher, codebook.motion, rng, progress=progress)]
        sets[0]["recipe"] = json.dumps(recipe, sort_keys=True)
        torch.save(sets[0], targets_path.with_suffix(".tmp"))   # then renamed: an interrupted save leaves none
        targets_path.with_suffix(".tmp").replace(targets_path)
    data = {key: torch.cat([s[key] for s in sets + pool]) for key in ("images", "codes", "targets")}
    del sets, pool   # the concatenated copy is all training needs (4096 targets: 1.3 GB)
    rng = random.Random(config.seed + 1)   # the batch order, the same whether or not the targets were cached

    # The student starts from the teacher's velocity predictor (further distillation) or, the first time, from its
    # per-frame P^M, whose flow on the photo is already close to the rollout mean.
    student = copy.deepcopy(teacher.velocity_predictor or teacher.predictor).train()
    optimiser = adam(student, config.lr)
    run = TrainingRun(out, "velocity", config, student, optimiser, rng, world=world, progress=progress)
    run.resume_if(resume)
    count = data["images"].shape[0]

    def step_fn(step: int) -> dict[str, float]:
        batch = torch.tensor([rng.randrange(count) for _ in range(config.batch_size)])
        if config.lr_schedule == "cosine":   # a function of the step alone, so resume needs no state for it
            for group in optimiser.param_groups:
                group["lr"] = config.lr * (1 + math.cos(math.pi * step / config.steps)) / 2
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
            loss = velocity_loss(student, data["images"][batch], data["codes"][batch], data["targets"][batch],
                                 floor=config.loss_floor)
        optimizer_step(optimiser, loss, step)
        return {"loss": loss.item()}

    def write_run_model(folder: Path) -> None:
        student.eval()
        student.save_pretrained(folder / VELOCITY_FOLDER)
        atomic_write_bytes(folder / "velocity_training.json", (json.dumps(asdict(config), indent=2) + "\n").encode())

    model_dir = run.run(step_fn, export=write_run_model, export_to=export,
                        export_into=lambda folder: export_velocity_predictor(student, config, folder))
    return model_dir / VELOCITY_FOLDER


def export_velocity_predictor(predictor: Predictor, config: VelocityTrainConfig, folder: str | Path) -> Path:
    """Write ``predictor`` into the model folder ``folder`` as ``velocity_predictor/`` (float16, as the shipped
    weights are) and record ``config`` under ``"velocity_training"`` in its ``pipeline.json``, if it has one."""
    target = predictor.save_pretrained(Path(folder) / VELOCITY_FOLDER, dtype=torch.float16)
    if (Path(folder) / PIPELINE_CONFIG).is_file():
        settings = read_pipeline_config(folder)
        settings["velocity_training"] = asdict(config)
        write_pipeline_config(folder, settings)
    return target

