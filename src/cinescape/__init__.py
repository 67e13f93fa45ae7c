"""cinescape: a landscape photo in, a seamless looping time-lapse out."""

__version__ = "0.1.0"
