"""Which of the web page's control sets drives a pipeline: the method's ``offers.web_controls``
(:class:`~cinescape.methods.base.Offers`); the sets themselves are in :mod:`cinescape.web.pages`."""

from __future__ import annotations

from ..errors import CinescapeError

__all__ = ["PAGE_KINDS", "check_web_pipeline", "page_kind"]

#: The page's control sets (:mod:`cinescape.web.pages`).
PAGE_KINDS = ("basic", "al", "deeplandscape")


def page_kind(pipeline) -> str:
    """Which controls the page shows for a pipeline (instance or class): its method's ``offers.web_controls``
    (:class:`~cinescape.methods.base.Offers`): ``"al"`` (masks, arrows, codes, loop types, colours: AL, FGLA),
    ``"deeplandscape"`` (mask, direction, speed, lighting; each photo is inverted once), or ``"basic"`` (the loop's
    length, frame rate and seed; any method, also one that names no set). A pipeline without ``plan`` (not a
    :class:`~cinescape.methods.base.MethodPipeline`), or one naming a set the page does not have, is refused in one line (:class:`~cinescape.errors.CinescapeError`)."""
    name = getattr(pipeline, "__name__", type(pipeline).__name__)
    offers = getattr(pipeline, "offers", None)
    controls = getattr(offers, "web_controls", None) or "basic"
    if not hasattr(pipeline, "plan"):
        raise CinescapeError(f"the web page has no controls for {name} (not a cinescape method pipeline); "
                             "use cinescape animate")
    if controls not in PAGE_KINDS:
        raise CinescapeError(f"the web page has no controls for {name} (its offers.web_controls is "
                             f"{controls!r}, the page has {', '.join(PAGE_KINDS)}); use cinescape animate")
    return controls


def check_web_pipeline(pipeline) -> None:
    """Refuse, in one line (:class:`~cinescape.errors.CinescapeError`), a pipeline (instance or class) the page
    cannot drive (:func:`page_kind`)."""
    page_kind(pipeline)
