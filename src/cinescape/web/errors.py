"""Errors of the web layer: each is one HTTP status and a one-line message, sent as ``{"error": message}``."""

from __future__ import annotations


class WebError(Exception):
    """A request the server refuses; ``status`` is its HTTP status, ``str(exc)`` the one-line message."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, **extra):
        super().__init__(" ".join(str(message).split()))  # one line, whatever the source said
        if status is not None:
            self.status = status
        self.extra = extra  # more JSON fields for the answer (e.g. "ahead" of a busy answer)


class BadRequest(WebError):
    status = 400


class NotFound(WebError):
    status = 404


class Conflict(WebError):
    """The thing exists but is not in a state that allows this (e.g. a download before the render is done)."""

    status = 409


class TooLarge(WebError):
    status = 413


class Busy(WebError):
    """The render queue is full: try again when a render has finished."""

    status = 429


__all__ = ["BadRequest", "Busy", "Conflict", "NotFound", "TooLarge", "WebError"]
