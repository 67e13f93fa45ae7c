"""The argparse pieces every ``cinescape`` command shares: value types with one-line errors."""

from __future__ import annotations

import argparse

from ..methods import SHIPPED_MODELS

#: What ``--method`` takes in every command: the methods with a model shipped in the package.
METHOD_CHOICES = tuple(name for name in SHIPPED_MODELS if name != "default")


def add_method_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--method {al,fgla,deeplandscape}`` (the shipped models; default None: the model folder's own method, AL
    when shipped)."""
    parser.add_argument("--method", choices=METHOD_CHOICES, default=None, help=help)


def _int_at_least(minimum: int):
    """argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a positive integer, got {value}" if minimum == 1 else
                f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _float_at_least(minimum: float, *, inclusive: bool):
    """argparse type: a finite float >= minimum (or > minimum)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not (ok and value < float("inf")):
            raise argparse.ArgumentTypeError(f"expected a number {'>=' if inclusive else '>'} {minimum:g}, got {text}")
        return value
    return parse


_positive_float = _float_at_least(0.0, inclusive=False)
_nonnegative_float = _float_at_least(0.0, inclusive=True)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like every other cinescape error."""

    def error(self, message: str):
        self.exit(2, f"cinescape: error: {self.prog.split()[-1]}: {message} (see --help)\n")

