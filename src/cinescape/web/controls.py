"""Which of the web page's control sets drives a pipeline: the method's ``offers.web_controls``
(:class:`~cinescape.methods.base.Offers`)."""

from __future__ import annotations

from ..errors import CinescapeError

__all__ = ["check_web_pipeline", "page_kind"]


def page_kind(pipeline) -> str:
    """Which controls the page shows for a pipeline (instance or class): its method's ``offers.web_controls``
    (:class:`~cinescape.methods.base.Offers`): ``"al"`` (masks, arrows, codes, loop types, colours: AL, FGLA) or
    ``"deeplandscape"`` (mask, direction, speed, lighting; each photo is inverted once, see
    :mod:`cinescape.web.service`). A method without any is refused in one line
    (:class:`~cinescape.errors.CinescapeError`)."""
    offers = getattr(pipeline, "offers", None)
    controls = getattr(offers, "web_controls", None)
    if controls not in ("al", "deeplandscape"):
        name = getattr(pipeline, "__name__", type(pipeline).__name__)
        raise CinescapeError(f"the web page has no controls for {name} (its offers.web_controls is "
                             f"{controls!r}); use cinescape animate")
    return controls


def check_web_pipeline(pipeline) -> None:
    """Refuse, in one line (:class:`~cinescape.errors.CinescapeError`), a pipeline (instance or class) the page
    cannot drive: one whose settings are neither AL's (AL, FGLA) nor DeepLandscape's (:func:`page_kind`)."""
    page_kind(pipeline)
