"""Defaults the command line shows in its help, kept free of heavy imports (torch, OpenCV) so that
``cinescape --help`` starts fast; the pipelines import them from here."""

# The phased loop's cycle (frames): each copy moves at most half of it. Chosen on the 10 masked shared photos by
# patch coherence at equal motion (docs/results.md, "Photos").
DEFAULT_LOOP_PERIOD = 20.0
