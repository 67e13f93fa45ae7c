"""The animation methods, one package each, and the one loader of their model folders.

* :mod:`cinescape.methods.al`: Animating Landscape (Endo et al. 2019), :class:`~cinescape.methods.al.CinemagraphPipeline`;
* :mod:`cinescape.methods.fgla`: FGLA (Xue et al. 2021), :class:`~cinescape.methods.fgla.FGLAPipeline`.

A model folder says what it is: its ``pipeline.json`` holds ``"pipeline_class": "<package>.<ClassName>"``, resolved
as ``cinescape.methods.<package>.<ClassName>``, beside that class's own fields; its component models sit beside it
as ``<component>/config.json`` + ``.safetensors``. :func:`load_pipeline` reads it and returns
``<Class>.from_pretrained(folder)``, so a new method is one package here and one class name in its folders.

A pipeline class has ``from_pretrained(folder)``; ``settings_class`` (a dataclass whose ``validate()`` raises
:class:`~cinescape.errors.OptionError` naming the *parameter*); ``plan(image, settings=None, **per_call)`` returning
an animation with ``num_frames``, ``frame(i)`` (uint8 (H, W, 3)) and ``frames()``; and ``__call__(image,
settings=None, **per_call)``, all frames. Per-call inputs are arguments, never state on the instance: one pipeline
may be called from two threads at once.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from ..errors import ModelLoadError

PIPELINE_CONFIG = "pipeline.json"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The model folders shipped in the package, by the names the CLI and evaluate accept.
SHIPPED_MODELS = {"default": PACKAGE_DIR / "default_model", "al": PACKAGE_DIR / "default_model",
                  "fgla": PACKAGE_DIR / "fgla_model", "deeplandscape": PACKAGE_DIR / "deeplandscape_model"}

__all__ = ["PIPELINE_CONFIG", "SHIPPED_MODELS", "load_pipeline", "method_of", "pipeline_class",
           "read_pipeline_config", "write_pipeline_config"]


def read_pipeline_config(folder: str | Path) -> dict:
    """A model folder's ``pipeline.json`` as a dict; a missing folder or file, or a corrupt one, is a one-line
    :class:`~cinescape.errors.ModelLoadError`."""
    from ..models.base import read_folder_json

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(f"model folder {folder} does not exist")
    return read_folder_json(folder, PIPELINE_CONFIG)


def write_pipeline_config(folder: str | Path, settings: dict) -> Path:
    """Write ``settings`` as the folder's ``pipeline.json`` (atomically: a temporary file, then renamed)."""
    from ..models.base import atomic_write_bytes

    path = Path(folder) / PIPELINE_CONFIG
    atomic_write_bytes(path, (json.dumps(settings, indent=2) + "\n").encode())
    return path


def _class_name(folder: Path, settings: dict) -> str:
    """``settings["pipeline_class"]``; folders written before it existed are recognised by their components."""
    name = settings.get("pipeline_class")
    if name is not None:
        return name
    if settings.get("method") == "fgla" or (folder / "fgla_predictor").is_dir():
        return "fgla.FGLAPipeline"
    return "al.CinemagraphPipeline"


def pipeline_class(folder: str | Path) -> type:
    """The pipeline class a model folder names (see the module docstring), without loading its weights."""
    folder = Path(folder).expanduser()
    if folder.is_dir() and not (folder / PIPELINE_CONFIG).exists() and (folder / "fgla_predictor").is_dir():
        name = "fgla.FGLAPipeline"   # FGLA folders once came without pipeline.json
    else:
        name = _class_name(folder, read_pipeline_config(folder))
    package, _, class_name = str(name).rpartition(".")
    try:
        if not package or not class_name:
            raise ImportError
        cls = getattr(importlib.import_module(f"{__name__}.{package}"), class_name)
    except ModuleNotFoundError as missing:
        outside = missing.name and not missing.name.startswith(f"{__name__}.")
        if outside:   # the method exists but needs a package this environment lacks: say which, not "no such class"
            raise ModelLoadError(f"{folder / PIPELINE_CONFIG} names pipeline class {name!r}, which needs the "
                                 f"package {missing.name!r}: pip install it (or reinstall cinescape)") from None
        raise ModelLoadError(f"{folder / PIPELINE_CONFIG} names pipeline class {name!r}, which cinescape does not "
                             f"have (expected '<method>.<ClassName>' of a package in cinescape.methods)") from None
    except (ImportError, AttributeError, ValueError):
        raise ModelLoadError(f"{folder / PIPELINE_CONFIG} names pipeline class {name!r}, which cinescape does not "
                             f"have (expected '<method>.<ClassName>' of a package in cinescape.methods)") from None
    if not isinstance(cls, type) or not hasattr(cls, "from_pretrained"):
        raise ModelLoadError(f"{folder / PIPELINE_CONFIG} names {name!r}, which is not a pipeline class")
    return cls


def load_pipeline(folder: str | Path | None = None):
    """The pipeline of a model folder: ``pipeline_class(folder).from_pretrained(folder)``.

    ``folder``: a model folder, or the name of a shipped model (``"default"``/``"al"``: the AL model, ``"fgla"``:
    the FGLA model); None: the default model.

    Example:
        >>> type(load_pipeline("fgla")).__name__
        'FGLAPipeline'
    """
    if folder is None or (isinstance(folder, str) and folder in SHIPPED_MODELS):
        folder = SHIPPED_MODELS["default" if folder is None else folder]
    folder = Path(folder).expanduser()
    return pipeline_class(folder).from_pretrained(folder)


def method_of(pipeline) -> str:
    """The method package a pipeline (or pipeline class) belongs to: ``"al"``, ``"fgla"``, ...

    Example:
        >>> from cinescape.methods.fgla import FGLAPipeline
        >>> method_of(FGLAPipeline)
        'fgla'
    """
    cls = pipeline if isinstance(pipeline, type) else type(pipeline)
    prefix = f"{__name__}."
    if not cls.__module__.startswith(prefix):
        raise ValueError(f"{cls.__name__} is not a pipeline of a package in {__name__}")
    return cls.__module__[len(prefix):].split(".")[0]
