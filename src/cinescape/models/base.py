"""Save and load models as a folder: ``config.json`` (constructor arguments) + ``model.safetensors``.

A model is a plain ``nn.Module`` whose constructor takes one config dataclass; the dataclass is the
JSON config, so ``Model.from_pretrained(path)`` rebuilds exactly what ``save_pretrained`` saved.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import ModelLoadError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def _default_file_mode() -> int:
    """The mode a plain ``open()`` would create files with (0o666 minus the umask); mkstemp uses 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_tensors_atomic(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.save_file`` through a temporary name in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file, turning a missing or corrupt file into a one-line :class:`ModelLoadError`."""
    if not path.is_file():
        raise ModelLoadError(f"missing weights file {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"corrupt weights file {path}: {str(exc).splitlines()[0]}") from None


def read_folder_json(folder: str | os.PathLike, name: str) -> dict:
    """The JSON object ``folder/name`` of a model folder; a missing, corrupt or non-object file is a one-line
    :class:`~cinescape.errors.ModelLoadError`."""
    path = Path(folder) / name
    if not path.is_file():
        raise ModelLoadError(f"{folder} is not a cinescape model folder: {name} is missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"corrupt {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"corrupt {path}: not a JSON object")
    return raw


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` to an ``nn.Module`` built from a config dataclass.

    Subclasses set ``config_class`` and ``model_type`` and keep the config in ``self.config``.
    """

    config_class: ClassVar[type]
    model_type: ClassVar[str]

    def save_pretrained(self, path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into the folder ``path``.

        ``dtype`` (e.g. ``torch.float16``) stores floating-point weights at that precision to save space;
        ``from_pretrained`` loads them back into the model's float32 parameters.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"model_type": self.model_type, **dataclasses.asdict(self.config)}
        state = self.state_dict()
        if dtype is not None:
            state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        save_tensors_atomic(state, folder / WEIGHTS_NAME)
        atomic_write_bytes(folder / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
        return folder

    @classmethod
    def load_config(cls, path: str | os.PathLike) -> Any:
        """The config dataclass of the model folder ``path``; a missing, corrupt or foreign ``config.json``, or
        one with fields this version does not know, is a one-line :class:`~cinescape.errors.ModelLoadError`."""
        config_path = Path(path) / CONFIG_NAME
        raw = read_folder_json(path, CONFIG_NAME)
        if raw.pop("model_type", None) != cls.model_type:
            raise ModelLoadError(f"{path} does not hold a {cls.model_type} model (model_type in {CONFIG_NAME} differs)")
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = set(raw) - fields
        if unknown:
            raise ModelLoadError(f"{config_path} has unknown fields {sorted(unknown)}; is it from a newer cinescape?")
        try:
            return cls.config_class(**raw)
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"invalid {config_path}: {exc}") from None

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, map_location: str | torch.device = "cpu"):
        model = cls(cls.load_config(path))
        state = load_tensors(Path(path) / WEIGHTS_NAME)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelLoadError(f"weights in {path} do not match its config: {str(exc).splitlines()[0]}") from None
        return model.to(map_location).eval()
