"""The contract every animation method implements, and what the shells (CLI, batches, web page, evaluate) read of it.

A method is one package ``cinescape.methods.<name>`` whose pipeline class subclasses :class:`MethodPipeline`:

* ``from_pretrained(folder)``: the pipeline of a model folder (its ``pipeline.json`` names the class,
  :func:`cinescape.methods.load_pipeline`);
* ``settings_class``: a dataclass whose ``validate()`` raises :class:`~cinescape.errors.OptionError` naming the
  field; :func:`cinescape.methods.select.resolve_settings` builds one from field names;
* ``plan(image, settings=None, *, progress=False, **per_call)``: an animation with ``num_frames``, ``frame(i)``
  (uint8 (H, W, 3)) and ``frames()``; ``__call__`` returns all frames;
* ``offers``: what the method offers (:class:`Offers`), as data: loop types, arrows, colours, region kinds,
  inversion, which ``cinescape animate`` options it takes, which controls of the web page it uses;
* the mapping of the shells' inputs to its settings: :meth:`MethodPipeline.settings_from_cli` and
  :meth:`MethodPipeline.plan_options_from_cli` (``cinescape animate``'s options, by their argparse names),
  :meth:`MethodPipeline.eval_settings` (the evaluation protocol's).

The shells ask these, never which method runs, so a new method is one package and a model folder.

Example:
    >>> from cinescape.methods.al import CinemagraphPipeline
    >>> CinemagraphPipeline.offers.arrows, "crossfade" in CinemagraphPipeline.offers.loops
    (True, True)
    >>> toy = Offers(cli_options=frozenset({"frames", "seed"}))
    >>> toy.loops, toy.web_controls
    ((), None)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from ..errors import OptionError

__all__ = ["MethodPipeline", "Offers", "refuse_options"]


@dataclass(frozen=True)
class Offers:
    """What a method offers, read by the shells instead of its name.

    ``loops``: the values its settings' ``loop`` takes (() : the method has its own loop and no ``loop`` field);
    ``motion_modes``: likewise ``mode``; ``arrows``: drawn arrows steer the motion; ``colours``: the colours change
    over the loop (``--no-appearance`` turns it off); ``region_kinds``: the regions that take a reference motion of
    their own (FGLA's groups); ``auto_masks``: the automatic masks it takes; ``inversion``: a plan first fits the
    photo (slow, seconds to minutes) and takes ``reuse=`` an earlier plan to skip it; ``flow_video``: its
    animations have ``flow_frames()``; ``web_controls``: which control set of the web page drives it (``"al"``,
    ``"deeplandscape"``; None: the basic one, the loop's length, frame rate and seed, :mod:`cinescape.web.pages`); ``cli_options``: the ``cinescape animate`` options (argparse
    names, e.g. ``"frames"``, ``"reference"``) that :meth:`MethodPipeline.settings_from_cli` maps; the CLI refuses
    any other method option given, in one line.
    """

    loops: tuple[str, ...] = ()
    motion_modes: tuple[str, ...] = ()
    arrows: bool = False
    colours: bool = False
    region_kinds: tuple[str, ...] = ()
    auto_masks: tuple[str, ...] = ("none",)
    inversion: bool = False
    flow_video: bool = False
    web_controls: str | None = None
    cli_options: frozenset[str] = frozenset({"frames", "seed"})


def refuse_options(given: Iterable[str], method: str, offered_by: Mapping[str, Iterable[str]] | None = None) -> None:
    """Raise one :class:`~cinescape.errors.OptionError` for the first of the ``cinescape animate`` options
    ``given`` (argparse names): ``--NAME is not available with --method METHOD``, and which methods take it when
    ``offered_by`` (option -> method names) says; nothing when none is given.

    Example:
        >>> refuse_options([], "al")
        >>> refuse_options(["lighting", "direction"], "al")
        Traceback (most recent call last):
        ...
        cinescape.errors.OptionError: --lighting is not available with --method al
        >>> refuse_options(["lighting"], "al", {"lighting": ["deeplandscape"]})
        Traceback (most recent call last):
        ...
        cinescape.errors.OptionError: --lighting is not available with --method al (it is for --method deeplandscape)
    """
    for name in given:
        others = sorted((offered_by or {}).get(name, ()))
        hint = f" (it is for --method {' or '.join(others)})" if others else ""
        raise OptionError(f"--{name.replace('_', '-')} is not available with --method {method}{hint}")


class MethodPipeline:
    """The base of every method's pipeline class (see the module docstring): defaults for the shells' mappings.

    A subclass sets ``settings_class`` and ``offers`` and implements ``from_pretrained`` and ``plan``. The defaults
    here map ``--frames`` and ``--seed`` (and the evaluation protocol's ``num_frames`` and ``seed``) to the
    settings fields of those names.
    """

    settings_class: ClassVar[type]
    offers: ClassVar[Offers] = Offers()

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None) -> "MethodPipeline":
        raise NotImplementedError(f"{cls.__name__}.from_pretrained")

    def plan(self, image, settings=None, *, progress: bool = False, **per_call):
        raise NotImplementedError(f"{type(self).__name__}.plan")

    def __call__(self, image, settings=None, **per_call) -> list:
        """All frames as a list of uint8 (H, W, 3) arrays (for long or large videos, iterate :meth:`plan`)."""
        return list(self.plan(image, settings, **per_call).frames())

    # ------------------------------------------------------------------------ what the shells call

    @classmethod
    def settings_from_cli(cls, options: Mapping[str, Any], folder: Path, photo_size: tuple[int, int] | None = None):
        """The settings of one ``cinescape animate`` run: ``options`` are the command's values by argparse name
        (only those of ``offers.cli_options`` are read; the CLI has refused the others when given), ``folder``
        the model folder (its ``pipeline.json`` may hold defaults; no weights are loaded), ``photo_size`` the
        photo's (H, W) (None for several photos). Raises OptionError (one line) for values the method refuses."""
        from .select import resolve_settings

        names = {f.name for f in dataclasses.fields(cls.settings_class)}
        fields = {field: options[option] for option, field in (("frames", "num_frames"), ("seed", "seed"))
                  if field in names and option in options}
        return resolve_settings(folder, **fields)

    @classmethod
    def plan_options_from_cli(cls, options: Mapping[str, Any]) -> dict:
        """The extra arguments of ``plan`` that ``cinescape animate``'s options give (FGLA: references per
        region), checked before any model loads; none by default."""
        return {}

    def eval_settings(self, num_frames: int, seed: int, *, loop: str | None = None, appearance: bool | None = None,
                      mode: str | None = None, auto_mask: str | None = None, overrides: Mapping | None = None):
        """The settings of one run of an evaluation protocol (:mod:`cinescape.eval`): ``num_frames`` and ``seed``;
        the protocol's ``loop``, ``appearance``, ``mode`` and ``auto_mask`` where the method offers them (None: the
        method's default); ``overrides`` (a method spec's ``KEY=VALUE`` settings) win over all of these. The
        default takes ``num_frames`` and ``seed`` only (a method with its own loop, motion and colours)."""
        from .select import resolve_settings

        return resolve_settings(self, **{"num_frames": num_frames, "seed": seed, **dict(overrides or {})})
