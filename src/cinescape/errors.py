"""User-facing errors.

Anything a user can cause (a bad file, a wrong option, a missing weights file) raises
:class:`CinescapeError` with a one-line message that says what is wrong and what to do. The CLI prints
it as ``cinescape: error: <message>`` and exits with status 2; anything else is a bug.
"""


class CinescapeError(Exception):
    """An error caused by the user's input, options or files, with a one-line message."""


class InputImageError(CinescapeError, ValueError):
    """The input image cannot be read or is unsuitable."""


class OutputError(CinescapeError, OSError):
    """The output cannot be written (unknown format, unwritable path)."""


class ModelLoadError(CinescapeError, OSError):
    """A model directory or weights file is missing, corrupt or of another kind."""


class OptionError(CinescapeError, ValueError):
    """An option is out of range or malformed."""
