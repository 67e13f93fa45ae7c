"""Choosing a pipeline from what a user asks for: a method, a model folder, FGLA's per-region options. The one
place where the CLI and batches (and later the web page) turn those choices into a pipeline and the extra
arguments of its ``plan``; errors name the parameters (the CLI says its flags).

Example:
    >>> parse_region_options(["sky=clouds.mp4"], ["water=0.5"])
    ({'sky': 'clouds.mp4'}, {'water': 0.5}, {})
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CinescapeError, OptionError
from . import SHIPPED_MODELS, load_pipeline, method_of

__all__ = ["parse_region_options", "pipeline_for"]


def parse_region_options(references=(), region_speeds=(), reference_regions=()) \
        -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """``GROUP=CLIP``, ``GROUP=X`` and ``GROUP=REGION`` lists (as ``cinescape animate``'s ``--reference``,
    ``--region-speed`` and ``--reference-region``) -> the ``references``, ``speeds`` and ``reference_regions``
    dicts :meth:`~cinescape.methods.fgla.FGLAPipeline.plan` takes, keyed by group name."""
    from ..segmentation import GROUP_NAMES
    from .fgla import parse_group

    def split(text: str, name: str) -> tuple[str, str]:
        group, sep, value = text.partition("=")
        if not sep or not value:
            raise OptionError(f"{name}: each takes GROUP=VALUE (e.g. sky=clouds.mp4), got {text!r}")
        return GROUP_NAMES[parse_group(group)], value

    def collect(texts, name: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for text in texts:
            group, value = split(text, name)
            if group in values:
                raise OptionError(f"{name}: {group}= is given twice")
            values[group] = value
        return values

    refs = collect(references, "references")
    rates: dict[str, float] = {}
    for text in region_speeds:
        group, value = split(text, "region_speeds")
        try:
            rates[group] = float(value)
        except ValueError:
            raise OptionError(f"region_speeds: {group}= takes a number, got {value!r}") from None
    return refs, rates, collect(reference_regions, "reference_regions")


def pipeline_for(method: str | None = None, model: str | Path | None = None, *, references=(), region_speeds=(),
                 reference_regions=(), motion_code: str | None = None) -> tuple[object, dict]:
    """(pipeline, extra ``plan`` arguments): the model folder ``model`` (its ``pipeline.json`` names the class)
    or the shipped model of ``method`` (``"al"``, ``"fgla"``, ``"deeplandscape"``; None: the default, AL). Given
    both, the folder must be of that method. FGLA's region options are parsed before any model loads."""
    region_given = bool(references or region_speeds or reference_regions)
    if region_given and method not in (None, "fgla"):
        raise OptionError("references, reference_regions and region_speeds need method='fgla'")
    refs, speeds, regions = parse_region_options(references, region_speeds, reference_regions)
    if model is None and method is not None and method not in SHIPPED_MODELS:
        raise OptionError(f"method must be one of {sorted(set(SHIPPED_MODELS) - {'default'})}, got {method!r}")
    pipeline = load_pipeline(model if model is not None else SHIPPED_MODELS[method or "al"])
    actual = method_of(pipeline)
    if method is not None and actual != method:
        raise CinescapeError(f"{model} is a {actual} model folder, not {method}")
    if actual != "fgla":
        if region_given:
            raise OptionError("references, reference_regions and region_speeds need method='fgla'")
        return pipeline, {}
    if motion_code is not None:
        raise OptionError("motion_code is for method='al'; FGLA takes references GROUP=CLIP (or a seed)")
    return pipeline, {"references": refs, "speeds": speeds, "reference_regions": regions}
