"""``python -m cinescape.cli ...`` (as torchrun runs it): the ``cinescape`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
