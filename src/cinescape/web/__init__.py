"""``cinescape serve``: a local web page to animate a photo with the mouse.

Upload a photo, paint what moves (the automatic sky/water mask is the starting point), drag arrows, preview a
small loop in seconds, render the full-resolution loop with a progress bar and download it.

Layout:

* :mod:`cinescape.web.service` -- photos, the render queue and its single worker thread, temporary folders;
  no web framework in it (the only module that calls the Python API: :class:`~cinescape.CinemagraphPipeline`,
  :class:`~cinescape.AnimationSettings`, :class:`~cinescape.io.video.VideoWriter`).
* :mod:`cinescape.web.forms` -- the render request's JSON, checked into pipeline settings.
* :mod:`cinescape.web.app` -- the FastAPI routes (``create_app``).
* :mod:`cinescape.web.server` -- ``serve()``: uvicorn on a local port.
* ``static/`` -- the page: plain HTML, CSS and JavaScript on ``<canvas>``, no build step and nothing loaded
  from the network.

FastAPI and uvicorn come with the ``web`` extra (``pip install -e ".[web]"``); importing this package does not
need them, so the CLI can say what is missing.
"""

from __future__ import annotations

import importlib.util

#: The importable modules of the ``web`` extra, and the pip names that provide them.
WEB_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn"}
INSTALL_HINT = 'pip install -e ".[web]"'


def missing_web_packages() -> list[str]:
    """The pip names of the ``web`` extra's packages that cannot be imported here."""
    return [package for module, package in WEB_PACKAGES.items() if importlib.util.find_spec(module) is None]


def check_web_pipeline(pipeline) -> None:
    """Refuse, in one line (:class:`~cinescape.errors.CinescapeError`), a pipeline (instance or class) the page
    cannot drive: the page's controls are AL's settings (masks, arrows, codes, loop), which AL and FGLA take;
    DeepLandscape takes its own settings and inverts each photo for tens of seconds, and the page has no method
    choice yet."""
    from ..errors import CinescapeError
    from ..methods import method_of
    from ..methods.al.pipeline import AnimationSettings
    from ..methods.select import settings_class_of

    if not issubclass(settings_class_of(pipeline), AnimationSettings):
        raise CinescapeError(f"the web page animates AL and FGLA models only, not {method_of(pipeline)} (no method "
                             f"choice on the page yet); use cinescape animate --method {method_of(pipeline)}")


def create_app(*args, **kwargs):
    """The FastAPI application (see :func:`cinescape.web.app.create_app`); needs the ``web`` extra."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["INSTALL_HINT", "WEB_PACKAGES", "check_web_pipeline", "create_app", "missing_web_packages"]
