"""``cinescape serve``: a local web page to animate a photo with the mouse.

Upload a photo, paint what moves (the automatic sky/water mask is the starting point), drag arrows, preview a
small loop in seconds, render the full-resolution loop with a progress bar and download it.

One server runs one method, the one its model folder names (``cinescape serve --method al|fgla|deeplandscape`` or
``--model DIR``); the page shows that method's controls (:func:`page_kind`): AL and FGLA take the mask, arrows,
loop types and colours; DeepLandscape takes the mask, the sky's direction and speed, and the lighting change, and
inverts each photo once (tens of seconds, shown as the phase ``inverting``) for all its previews and renders.

Layout:

* :mod:`cinescape.web.service` -- photos, the render queue and its single worker thread, temporary folders, the
  last DeepLandscape inversion of each photo; no web framework in it (the only module that calls the Python API:
  the pipeline's ``plan`` and ``fluid_matte``, :class:`~cinescape.io.video.VideoWriter`).
* :mod:`cinescape.web.forms` -- the render request's JSON, checked into the method's pipeline settings.
* :mod:`cinescape.web.app` -- the FastAPI routes (``create_app``).
* :mod:`cinescape.web.server` -- ``serve()``: uvicorn on a local port.
* ``static/`` -- the page: plain HTML, CSS and JavaScript on ``<canvas>``, no build step and nothing loaded
  from the network.

FastAPI and uvicorn come with the ``web`` extra (``pip install -e ".[web]"``); importing this package does not
need them, so the CLI can say what is missing.
"""

from __future__ import annotations

import importlib.util

from .controls import check_web_pipeline, page_kind

#: The importable modules of the ``web`` extra, and the pip names that provide them.
WEB_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn"}
INSTALL_HINT = 'pip install -e ".[web]"'


def missing_web_packages() -> list[str]:
    """The pip names of the ``web`` extra's packages that cannot be imported here."""
    return [package for module, package in WEB_PACKAGES.items() if importlib.util.find_spec(module) is None]


def create_app(*args, **kwargs):
    """The FastAPI application (see :func:`cinescape.web.app.create_app`); needs the ``web`` extra."""
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = ["INSTALL_HINT", "WEB_PACKAGES", "check_web_pipeline", "create_app", "missing_web_packages", "page_kind"]
