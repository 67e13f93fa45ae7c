"""Latent codebooks (AL Sec. 3): codes extracted from training clips, and how users pick them.

* Motion: one code per training clip, ``motion`` (N, D).
* Appearance: one code *sequence* per training clip, ``appearance[i]`` (T_i, D), in time order.

A code is picked by a :class:`CodeSelector`: an index into the codebook, a position 0..1 along the
first principal component of the codes (AL Fig. 14 sorts codes that way), or at random from a seed. A model
trained with a latent prior (VAE/WAE, AL Sec. 6.6) can instead draw codes from N(0, I) ("gaussian"), which the
pipeline does without the codebook.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...errors import ModelLoadError, OptionError
from ...models.base import load_tensors, save_tensors_atomic

CODEBOOK_NAME = "codebook.safetensors"


@dataclass(frozen=True)
class CodeSelector:
    """How to pick a code: ``index`` (int), ``pc`` (float in [0, 1]), ``gaussian`` (drawn from N(0, I) with the
    seed; needs a model trained with a latent prior) or none of them (a random codebook code from the seed)."""

    index: int | None = None
    pc: float | None = None
    gaussian: bool = False

    @classmethod
    def parse(cls, text: str | int | float | None) -> "CodeSelector":
        """``None``/"random" -> random; ``"3"`` -> index 3; ``"pc:0.25"`` -> a quarter along the first PC;
        ``"gaussian"`` -> drawn from N(0, I)."""
        if text is None or (isinstance(text, str) and text.strip().lower() in ("", "random")):
            return cls()
        if isinstance(text, int):
            return cls(index=text)
        value = str(text).strip().lower()
        if value == "gaussian":
            return cls(gaussian=True)
        if re.fullmatch(r"\d+", value):
            return cls(index=int(value))
        match = re.fullmatch(r"pc:([0-9]*\.?[0-9]+)", value)
        if match and 0.0 <= float(match.group(1)) <= 1.0:
            return cls(pc=float(match.group(1)))
        raise OptionError(f"bad code selector {text!r}: use an index (e.g. 3), pc:POSITION with POSITION in 0..1 "
                          f"(e.g. pc:0.5), random, or gaussian")


def first_pc_order(codes: torch.Tensor) -> torch.Tensor:
    """Indices of ``codes`` (N, D) sorted by their projection on the first principal component.

    The PC's sign is fixed so the largest-magnitude component is positive, making the order reproducible.
    """
    if codes.shape[0] < 2:
        return torch.arange(codes.shape[0])
    centred = codes.double() - codes.double().mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    axis = vh[0]
    axis = axis * torch.sign(axis[axis.abs().argmax()])
    return torch.argsort(centred @ axis, stable=True)


def _pick(count: int, selector: CodeSelector, rng: random.Random, order_source: torch.Tensor, what: str) -> int:
    if selector.gaussian:
        raise OptionError(f"a gaussian {what} code is drawn by the pipeline, not picked from the codebook")
    if count == 0:
        raise ModelLoadError(f"the model's codebook has no {what} codes")
    if selector.index is not None:
        if not 0 <= selector.index < count:
            raise OptionError(f"{what} code index {selector.index} is out of range: the codebook has {count} "
                              f"(0..{count - 1})")
        return selector.index
    if selector.pc is not None:
        order = first_pc_order(order_source)
        return int(order[min(count - 1, int(round(selector.pc * (count - 1))))])
    return rng.randrange(count)


@dataclass
class Codebook:
    motion: torch.Tensor                                   # (N, D)
    appearance: list[torch.Tensor] = field(default_factory=list)   # each (T_i, D)
    motion_names: list[str] = field(default_factory=list)
    appearance_names: list[str] = field(default_factory=list)

    def motion_code(self, selector: CodeSelector, rng: random.Random) -> torch.Tensor:
        """(D,) motion code."""
        return self.motion[_pick(self.motion.shape[0], selector, rng, self.motion, "motion")]

    def appearance_sequence(self, selector: CodeSelector, rng: random.Random) -> torch.Tensor:
        """(T, D) appearance code sequence of one training clip; PC order uses each sequence's mean code."""
        means = torch.stack([seq.mean(0) for seq in self.appearance]) if self.appearance else torch.zeros(0, 1)
        return self.appearance[_pick(len(self.appearance), selector, rng, means, "appearance")]

    def save(self, folder: str | Path) -> Path:
        tensors = {"motion": self.motion}
        tensors.update({f"appearance.{i}": seq for i, seq in enumerate(self.appearance)})
        metadata = {"motion_names": json.dumps(self.motion_names), "appearance_names": json.dumps(self.appearance_names)}
        path = Path(folder) / CODEBOOK_NAME
        save_tensors_atomic(tensors, path, metadata)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "Codebook":
        path = Path(folder) / CODEBOOK_NAME
        tensors = load_tensors(path)
        if "motion" not in tensors:
            raise ModelLoadError(f"{path} is not a cinescape codebook (no 'motion' codes)")
        appearance = [tensors[f"appearance.{i}"] for i in range(sum(k.startswith("appearance.") for k in tensors))]
        from safetensors import safe_open

        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        return cls(motion=tensors["motion"].float(), appearance=[a.float() for a in appearance],
                   motion_names=json.loads(metadata.get("motion_names", "[]")),
                   appearance_names=json.loads(metadata.get("appearance_names", "[]")))
