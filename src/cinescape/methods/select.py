"""Choosing a pipeline from what a user asks for: a method, a model folder, the settings. The one place where the CLI, batches, evaluate and bench turn those choices into a pipeline, the extra
arguments of its ``plan`` and its settings object; errors name the parameters (the CLI says its flags).

Example:
    >>> resolve_settings("deeplandscape", num_frames=8).num_frames
    8
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..errors import CinescapeError, OptionError
from . import SHIPPED_MODELS, load_pipeline, method_of, pipeline_class, read_pipeline_config

__all__ = ["load_method_pipeline", "method_label", "model_folder", "resolve_settings", "settings_class_of",
           "split_method_folder"]


def model_folder(method: str | None = None, model: str | os.PathLike | None = None) -> Path:
    """The model folder ``model`` (a path, or a shipped model's name) or the shipped model of ``method``
    (``"al"``, ``"fgla"``, ``"deeplandscape"``; None: the default, AL). Nothing is read."""
    if model is not None:
        return SHIPPED_MODELS[model] if isinstance(model, str) and model in SHIPPED_MODELS else Path(model).expanduser()
    if method is not None and method not in SHIPPED_MODELS:
        raise OptionError(f"method must be one of {sorted(set(SHIPPED_MODELS) - {'default'})}, got {method!r}")
    return SHIPPED_MODELS[method or "al"]


def settings_class_of(pipeline) -> type:
    """The settings dataclass a pipeline (instance or class) takes: its ``settings_class``
    (:class:`~cinescape.methods.base.MethodPipeline`); one without any is refused in one line."""
    settings_class = getattr(pipeline, "settings_class", None)
    if settings_class is None:
        raise CinescapeError(f"{method_label(pipeline)} declares no settings_class (cinescape.methods.base)")
    return settings_class


def resolve_settings(pipeline, settings=None, **fields):
    """The settings object ``pipeline``'s own method takes, ``fields`` replaced, validated.

    ``pipeline``: a loaded pipeline, a pipeline class, or a model folder / shipped model name (``"al"``,
    ``"fgla"``, ``"deeplandscape"``; its ``pipeline.json`` is read, no weights loaded). ``settings``: an instance
    of that method's settings class to start from; None: the method's defaults. A pipeline with a ``settings()``
    method (DeepLandscape) takes its defaults from its folder's ``pipeline.json`` ``"defaults"``; AL and FGLA
    start from :class:`~cinescape.methods.al.AnimationSettings` (their folders' defaults apply when planning).

    Raises :class:`~cinescape.errors.OptionError` (one line) for a field the class does not have (named, with
    the method), settings of another class, or values its ``validate()`` refuses.

    Example:
        >>> type(resolve_settings("fgla", seed=3)).__name__
        'FGLASettings'
        >>> resolve_settings("deeplandscape", frames=3)
        Traceback (most recent call last):
        ...
        cinescape.errors.OptionError: unknown deeplandscape setting 'frames' (DeepLandscapeSettings fields: ...)
    """
    folder_defaults = None
    if isinstance(pipeline, (str, os.PathLike)):
        folder = model_folder(model=pipeline)
        cls = pipeline_class(folder)
        if callable(getattr(cls, "settings", None)):
            folder_defaults = read_pipeline_config(folder).get("defaults", {})
        pipeline = cls
    settings_class = settings_class_of(pipeline)
    method = method_label(pipeline)
    names = [f.name for f in dataclasses.fields(settings_class)]
    unknown = [name for name in fields if name not in names]
    if unknown:
        shown = ", ".join(names) if len(", ".join(names)) < 300 else ", ".join(names)[:297] + "..."
        raise OptionError(f"unknown {method} setting {unknown[0]!r} ({settings_class.__name__} fields: {shown})")
    if settings is not None and not isinstance(settings, settings_class):
        raise OptionError(f"settings of {method} must be {settings_class.__name__}, got {type(settings).__name__}")
    if settings is None:
        if not isinstance(pipeline, type) and callable(getattr(pipeline, "settings", None)):
            settings = pipeline.settings()          # the folder's defaults, read when it was loaded
        else:
            settings = _construct(settings_class, folder_defaults or {}, method)
    try:
        resolved = dataclasses.replace(settings, **fields)
    except TypeError as exc:  # a value of the wrong kind that __post_init__ refuses
        raise OptionError(f"{method} settings: {exc}") from None
    resolved.validate()
    return resolved


def _construct(settings_class: type, defaults: dict, method: str):
    names = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(defaults) - names)
    if unknown:
        raise OptionError(f"the {method} model's pipeline.json defaults hold unknown setting {unknown[0]!r}")
    return settings_class(**defaults)


def method_label(pipeline) -> str:
    """The method's name of a pipeline (instance or class), for messages: its package in cinescape.methods
    (:func:`~cinescape.methods.method_of`), or the class name of a stand-in outside it."""
    try:
        return method_of(pipeline)
    except ValueError:   # a stand-in (tests) outside cinescape.methods
        return getattr(pipeline, "__name__", type(pipeline).__name__)


def load_method_pipeline(method: str | None = None, model: str | Path | None = None):
    """The pipeline of the model folder ``model`` (its ``pipeline.json`` names the class) or of the shipped model
    of ``method`` (None: the default, AL); given both, the folder must be of that method (one-line error)."""
    pipeline = load_pipeline(model_folder(method, model))
    actual = method_of(pipeline)
    if method is not None and actual != method:
        raise CinescapeError(f"{model} is a {actual} model folder, not {method}")
    return pipeline


def split_method_folder(base: str) -> tuple[str | None, str]:
    """A method spec's model part -> ``(method, model)``: ``"METHOD:DIR"`` (a shipped method's name before the
    first ``:``, e.g. ``fgla:runs/x``) says the folder's method, which :func:`load_method_pipeline` checks;
    anything else (a shipped model's name, a folder) is ``(None, base)``.

    Example:
        >>> split_method_folder("fgla:runs/x"), split_method_folder("runs/y"), split_method_folder("deeplandscape")
        (('fgla', 'runs/x'), (None, 'runs/y'), (None, 'deeplandscape'))
    """
    method, sep, rest = base.partition(":")
    if sep and rest and method in SHIPPED_MODELS and method != "default":
        return method, rest
    return None, base
