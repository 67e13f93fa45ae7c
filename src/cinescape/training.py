"""The one training loop of every cinescape trainer: run folder, checkpoint and resume, CSV log, snapshots, export
and data parallelism (``torchrun``), so that each trainer only says what one step does and how its model is written.

A run folder ``OUT`` holds:

* ``OUT/checkpoint.pt``: one format for every trainer (:func:`save_checkpoint`): ``format``, ``kind`` (``"motion"``,
  ``"appearance"``, ``"fgla"``, ``"velocity"``), ``model``, ``optimizer``, ``step`` (steps done), ``rng`` (the
  trainer's ``random.Random`` state), ``torch_rng``, ``config`` (the config dataclass as a dict), ``world_size``,
  and whatever the trainer adds (e.g. ``clip_names``, ``common_fields``). Checkpoints of earlier versions (AL runs
  without ``kind``, velocity runs with ``student``/``optimiser``) are read by :func:`load_checkpoint`;
* ``OUT/log.csv`` (:class:`RunLog`): the step, the seconds since the run (re)started and the step's figures;
* ``OUT/model/`` the exported model, ``OUT/snapshots/step_N/`` exports every ``snapshot_every`` steps;
* ``OUT/log.png`` (:func:`plot_log`) where the trainer plots its log (DeepLandscape does).

DeepLandscape (``kind`` ``"deeplandscape"``: several networks, optimisers and phases) runs its own loop in
:mod:`cinescape.methods.deeplandscape.train` from the same pieces: :func:`save_checkpoint`, :func:`check_resumable`,
:class:`RunLog`, :class:`Distributed` (:meth:`Distributed.average_gradients`) and :func:`training_settings`.

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
    step, the seconds since this log was opened and the step's figures (numbers; text such as a phase name is
    written as it is), flushed at once; a new file gets a header of the first row's columns, or of ``fields``
    (after ``step`` and ``seconds``) when rows differ in their columns (a row leaves the others empty)."""

    def __init__(self, path: Path, fields: list[str] | None = None):
        self.file = open(path, "a", newline="")
        self.writer: csv.DictWriter | None = None
        self.fields = fields
        self.started = time.time()

    def write(self, step: int, stats: dict[str, float | str]) -> None:
        row = {"step": step, "seconds": round(time.time() - self.started, 1),
               **{k: v if isinstance(v, str) else f"{v:.6g}" for k, v in stats.items()}}
        if self.writer is None:
            fieldnames = ["step", "seconds", *self.fields] if self.fields is not None else list(row)
            self.writer = csv.DictWriter(self.file, fieldnames=fieldnames)
            if self.file.tell() == 0:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def plot_log(log_csv: str | Path, png: str | Path, *, title: str = "") -> Path | None:
    """One panel per figure of a run's ``log.csv`` against its ``step`` (rows where the figure is empty are
    skipped, so a log of several phases plots each phase's figures over its own steps), saved as ``png``.
    Needs matplotlib (the ``eval`` extra); without it nothing is written and None is returned."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    with open(log_csv, newline="") as file:
        rows = list(csv.DictReader(file))
    columns = [c for c in (rows[0] if rows else {}) if c not in ("step", "seconds")]
    curves = {}
    for column in columns:
        points = []
        for row in rows:
            try:
                points.append((float(row["step"]), float(row[column])))
            except (TypeError, ValueError):   # empty, or text (a phase name)
                continue
        if points:
            curves[column] = points
    if not curves:
        return None
    cols = min(3, len(curves))
    rows_count = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows_count, cols, figsize=(4 * cols, 2.6 * rows_count), dpi=100, squeeze=False)
    for ax, (name, points) in zip(axes.flat, curves.items()):
        ax.plot(*zip(*points), lw=1, marker="." if len(points) < 50 else None)   # a lone point shows too
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png = Path(png)
    tmp = png.with_name(png.stem + ".tmp" + png.suffix)
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, png)
    return png


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

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any (e.g. one rank's clock ran out: all stop together)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def average_gradients(self, parameters) -> None:
        """Replace each parameter's gradient by its mean over the ranks (one all_reduce of all of them), so an
        optimiser step after it is the step of the global batch's mean loss. Parameters without a gradient are
        skipped: every rank runs the same code, so they are the same ones everywhere."""
        if self.world_size == 1:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

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

def check_resumable(path: Path, state: dict, kind: str, config, *, clip_names: list[str] | None, world_size: int,
                    architecture: tuple[str, ...]) -> None:
    """A one-line :class:`OptionError` unless checkpoint ``state`` (read from ``path``) is a run of ``kind`` on the
    same ``clip_names`` (None: not checked), world size and ``architecture`` fields of ``config``."""
    if state.get("kind") != kind:
        raise OptionError(f"cannot resume {path}: it is a {state.get('kind')} run, not {kind}")
    if clip_names is not None and state.get("clip_names") != clip_names:
        raise OptionError(f"cannot resume {path}: its training clips differ from this run's data")
    if state.get("world_size", 1) != world_size:
        raise OptionError(f"cannot resume {path}: it was trained by {state.get('world_size', 1)} "
                          f"processes, this run has {world_size}")
    saved = state.get("config", {})
    for name in architecture:
        ours, theirs = getattr(config, name), saved.get(name, getattr(type(config), name, None))
        if ours != theirs:
            raise OptionError(f"cannot resume {path}: it was trained with {name}={theirs!r}, "
                              f"this run has {ours!r}")


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
        check_resumable(path, state, self.kind, self.config, clip_names=clip_names,
                        world_size=self.world.world_size, architecture=self.architecture)
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
