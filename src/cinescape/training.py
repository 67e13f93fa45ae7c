"""The one training loop of every cinescape trainer: run folder, checkpoint and resume, CSV log, snapshots, export
and data parallelism (``torchrun``), so that each trainer only says what one step does and how its model is written.

A run folder ``OUT`` holds:

* ``OUT/checkpoint.pt``: one format for every trainer (:func:`save_checkpoint`): ``format``, ``kind`` (``"motion"``,
  ``"appearance"``, ``"fgla"``, ``"velocity"``), ``model``, ``optimizer``, ``step`` (steps done), ``rng`` (the
  trainer's ``random.Random`` state), ``torch_rng``, ``config`` (the config dataclass as a dict), ``world_size``,
  and whatever the trainer adds (e.g. ``clip_names``, ``common_fields``). Checkpoints of earlier versions (AL runs
  without ``kind``, velocity runs with ``student``/``optimiser``) are read by :func:`load_checkpoint`;
* ``OUT/log.csv`` (:class:`RunLog`): the step, the seconds since the run (re)started and the step's figures;
* ``OUT/model/`` the exported model, ``OUT/snapshots/step_N/`` exports every ``snapshot_every`` steps.

Usage (a trainer)::

    run = TrainingRun(out, "fgla", config, model, optimizer, rng)
    run.resume_if(resume, clip_names=names)            # or starts from scratch
    model_dir = run.run(step_fn, export=write_folder, export_to=export)

``step_fn(step)`` draws its batch from ``rng``, takes one optimiser step (:func:`optimizer_step`) and returns the
step's figures (floats, ``"loss"`` among them).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .errors import OptionError

CHECKPOINT_FORMAT = 2
CHECKPOINT_FILE = "checkpoint.pt"
# config fields that say how a run is logged, not what it trains: left out of exported model folders
RUN_ONLY_FIELDS = ("out", "threads", "checkpoint_every", "log_every")


# ------------------------------------------------------------------------------------------ checkpoints

def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` to a temporary name, then renamed: an interrupted save leaves the previous checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
    os.replace(tmp, path)


def _upgrade(state: dict) -> dict:
    """A checkpoint of an earlier cinescape in the current format (format 1: no ``format`` key)."""
    if state.get("format", 1) >= CHECKPOINT_FORMAT:
        return state
    state = dict(state)
    if "student" in state:   # velocity runs: "student", "optimiser"
        state["model"] = state.pop("student")
        state.setdefault("kind", "velocity")
    if "optimiser" in state:
        state["optimizer"] = state.pop("optimiser")
    if "kind" not in state and isinstance(state.get("config"), dict):   # AL motion/appearance runs
        state["kind"] = state["config"].get("kind")
    state["format"] = CHECKPOINT_FORMAT
    return state


def load_checkpoint(path: str | Path, kind: str | tuple[str, ...] | None = None) -> dict:
    """A checkpoint written by :func:`save_checkpoint` (or an earlier cinescape), in the current format.

    ``kind``: the run kind(s) accepted; another kind, or a file that is not a cinescape checkpoint, raises a
    one-line :class:`~cinescape.errors.OptionError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise OptionError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:   # a truncated or foreign file: pickle, zip and torch errors alike
        raise OptionError(f"{path} is not a readable checkpoint: {exc}") from None
    if not isinstance(state, dict) or "model" not in state and "student" not in state:
        raise OptionError(f"{path} is not a cinescape training checkpoint")
    state = _upgrade(state)
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds is not None and state.get("kind") not in kinds:
        raise OptionError(f"{path} is a {state.get('kind')} checkpoint, expected {' or '.join(kinds)}")
    return state


# ---------------------------------------------------------------------------------------------- logging

class RunLog:
    """A run's ``log.csv``, appended to (a resumed run goes on in the same file): :meth:`write` adds a row of the
    step, the seconds since this log was opened and the step's figures, flushed at once; a new file gets a header
    of the first row's columns."""

    def __init__(self, path: Path):
        self.file = open(path, "a", newline="")
        self.writer: csv.DictWriter | None = None
        self.started = time.time()

    def write(self, step: int, stats: dict[str, float]) -> None:
        row = {"step": step, "seconds": round(time.time() - self.started, 1),
               **{k: f"{v:.6g}" for k, v in stats.items()}}
        if self.writer is None:
            self.writer = csv.DictWriter(self.file, fieldnames=list(row))
            if self.file.tell() == 0:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


# ------------------------------------------------------------------------------------- data parallelism

@dataclass
class Distributed:
    """Where this process sits in a ``torchrun`` job (world size 1 without one)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> "Distributed":
        """Join the process group that ``torchrun`` describes in RANK / WORLD_SIZE / LOCAL_RANK: NCCL with
        one GPU per process where CUDA is available, gloo on CPU."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        cuda = torch.cuda.is_available()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)
        if world_size == 1:
            return cls(device=device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return cls(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)

    @classmethod
    def single_process(cls, what: str) -> "Distributed":
        """World size 1, or a one-line error for a trainer (``what``) that does not shard its batches."""
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise OptionError(f"{what} runs in one process; run it without torchrun")
        return cls()

    def mean(self, stats: dict[str, float]) -> dict[str, float]:
        """Average a dict of floats (same keys on every rank) over the ranks."""
        if self.world_size == 1:
            return stats
        values = torch.tensor(list(stats.values()), dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return dict(zip(stats, (values / self.world_size).tolist()))

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's ``tensor`` (same shape on all ranks) along dim 0, in rank order."""
        if self.world_size == 1:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)


# ------------------------------------------------------------------------------------------------ steps

def adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """The optimiser of every cinescape trainer: Adam with AL's betas (0.5, 0.999)."""
    return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, step: int) -> None:
    """Backpropagate ``loss`` and update; a non-finite loss stops the run with a RuntimeError."""
    if not torch.isfinite(loss):
        raise RuntimeError(f"loss became {loss.item()} at step {step}; lower the learning rate (lr)")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


# ------------------------------------------------------------------------------------------------- runs

class TrainingRun:
    """One training run in folder ``out`` (see the module docstring).

    ``config``: the trainer's config dataclass; its ``steps``, ``log_every``, ``checkpoint_every`` and
    ``snapshot_every`` (0 or missing: never) drive the loop.
    ``architecture``: config fields that shape the network; a checkpoint resumes only with the same values.
    """

    def __init__(self, out: str | Path, kind: str, config, model: nn.Module, optimizer: torch.optim.Optimizer,
                 rng: random.Random, *, world: Distributed | None = None, architecture: tuple[str, ...] = (),
                 progress: bool = True):
        self.out = Path(out)
        self.kind, self.config, self.model, self.optimizer, self.rng = kind, config, model, optimizer, rng
        self.world = world or Distributed()
        self.architecture = architecture
        self.progress = progress and self.world.is_main
        self.checkpoint_path = self.out / CHECKPOINT_FILE
        self.start = 0
        self.out.mkdir(parents=True, exist_ok=True)

    def resume_if(self, resume: bool, *, clip_names: list[str] | None = None, required: bool = False) -> dict | None:
        """With ``resume``: restore the model, optimiser, step and RNG states from ``OUT/checkpoint.pt`` and return
        the whole state (for the trainer's own entries), after checking it is a run of this kind, on the same
        ``clip_names``, world size and architecture. Without a checkpoint: None (``required``: an error), and the
        run starts from scratch."""
        if not resume:
            return None
        if not self.checkpoint_path.exists():
            if required:
                raise OptionError(f"resume: no checkpoint at {self.checkpoint_path}")
            if self.progress:
                tqdm.write(f"no checkpoint in {self.out}; starting from scratch")
            return None
        path = self.checkpoint_path
        state = load_checkpoint(path)
        if state.get("kind") != self.kind:
            raise OptionError(f"cannot resume {path}: it is a {state.get('kind')} run, not {self.kind}")
        if clip_names is not None and state.get("clip_names") != clip_names:
            raise OptionError(f"cannot resume {path}: its training clips differ from this run's data")
        if state.get("world_size", 1) != self.world.world_size:
            raise OptionError(f"cannot resume {path}: it was trained by {state.get('world_size', 1)} "
                              f"processes, this run has {self.world.world_size}")
        saved = state.get("config", {})
        for name in self.architecture:
            ours, theirs = getattr(self.config, name), saved.get(name, getattr(type(self.config), name, None))
            if ours != theirs:
                raise OptionError(f"cannot resume {path}: it was trained with {name}={theirs!r}, "
                                  f"this run has {ours!r}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.start = state["step"]
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        return state

    def save(self, step: int, extra: dict) -> None:
        save_checkpoint(self.checkpoint_path, {
            "kind": self.kind, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": step, "rng": self.rng.getstate(), "torch_rng": torch.get_rng_state(),
            "config": dataclasses.asdict(self.config), "world_size": self.world.world_size, **extra})

    def run(self, step_fn: Callable[[int], dict[str, float]], *, export: Callable[[Path], None],
            export_to: str | Path | None = None, export_into: Callable[[Path], None] | None = None,
            extra_state: Callable[[], dict] = dict) -> Path:
        """Steps ``start .. config.steps - 1``; returns ``OUT/model``, written by ``export`` (also every
        ``snapshot_every`` steps into ``OUT/snapshots/step_N``, and into ``export_to`` with ``export_into``,
        default ``export``). ``extra_state()``: the trainer's entries of each checkpoint. Under torchrun every
        rank runs the steps; rank 0 alone logs, checkpoints and exports."""
        config, world = self.config, self.world
        steps = config.steps
        snapshot_every = getattr(config, "snapshot_every", 0)
        log = RunLog(self.out / "log.csv") if world.is_main else None
        bar = tqdm(range(self.start, steps), initial=self.start, total=steps, desc=f"train {self.kind}",
                   unit="step", disable=not self.progress)
        try:
            for step in bar:
                stats = step_fn(step)
                log_now = step % config.log_every == 0 or step == steps - 1
                if log_now:
                    stats = world.mean(stats)  # the global batch's figures, as one process would log them
                if not world.is_main:
                    continue
                if log_now:
                    log.write(step, stats)
                    bar.set_postfix(loss=f"{stats['loss']:.4g}")
                if (step + 1) % config.checkpoint_every == 0 or step == steps - 1:
                    self.save(step + 1, extra_state())
                if snapshot_every and (step + 1) % snapshot_every == 0:
                    export(self.out / "snapshots" / f"step_{step + 1:06d}")
        finally:
            if log is not None:
                log.close()
        model_dir = self.out / "model"
        if world.is_main:
            export(model_dir)
            if export_to is not None:
                (export_into or export)(Path(export_to))
        if world.world_size > 1:
            dist.barrier()  # no rank leaves before the model is written
            dist.destroy_process_group()
        return model_dir


def training_settings(config) -> dict:
    """``config`` as the dict a model folder's ``pipeline.json`` records under ``"<kind>_training"``."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_ONLY_FIELDS}
