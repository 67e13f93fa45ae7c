"""``cinescape`` command line: a thin shell over the Python API.

    cinescape animate photo.jpg -o loop.mp4
    cinescape animate photos/ -o loops/ --workers 2
    cinescape train motion --data ../shared/data/motion --out runs/motion
    cinescape codebook --model runs/appearance/model --appearance-data ../shared/data/appearance
    cinescape evaluate --data ../shared/data/motion/skytimelapse128 --method static shift default
    cinescape bench --sizes 512x288 1024x576
    cinescape serve --open                      # a local web page: paint what moves, draw arrows, render

User errors print one line (``cinescape: error: ...``) and exit with status 2; no traceback, and no
partial output file is left behind. Several photos (``cinescape animate photos/ -o loops/``, :mod:`cinescape.batch`)
print one line per photo that failed and exit with status 1 if any did.

One module per command group parses its options and calls the library: :mod:`.animate` (animate, several
photos), :mod:`.train` (train, codebook), :mod:`.evaluate` (evaluate, bench), :mod:`.serve`; :mod:`.options`
holds the shared argparse value types. This module builds the parser, runs the command and turns library errors
into one line that names the command's flags.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings

from ..version import __version__
from ..errors import CinescapeError
from . import animate, evaluate, serve, train
from .animate import EXAMPLES
from .options import _Parser
from .train import TRAIN_OPTION_FIELDS, train_config

__all__ = ["main", "build_parser", "COMMANDS", "TRAIN_OPTION_FIELDS", "train_config"]

# one module per command group; each adds its subcommands' options and runs them
COMMANDS = {"animate": animate.run_animate, "train": train.run_train, "codebook": train.run_codebook,
            "evaluate": evaluate.run_evaluate, "bench": evaluate.run_bench, "serve": serve.run_serve}
# Library errors name parameters (settings and config fields); the CLI says its flags instead: these by this
# table, the others whose flag is the parameter's name (num_frames -> --frames is here, loop_period -> --loop-period
# is found) by _flag_words.
PARAMETER_FLAGS = {"animate": animate.PARAMETER_FLAGS, "train": train.PARAMETER_FLAGS,
                   "evaluate": evaluate.PARAMETER_FLAGS, "bench": evaluate.BENCH_PARAMETER_FLAGS}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cinescape", description="Turn a landscape photo into a looping time-lapse.",
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cinescape {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    animate.add_parser(commands)
    train.add_parsers(commands)
    evaluate.add_parsers(commands)
    serve.add_parser(commands)
    return parser


def _flag_words(message: str, command: str) -> str:
    """``message`` with the parameter names it starts with or quotes (``num_frames must ...``, ``pool: ...``,
    ``appearance=False``) replaced by this command's flags (``--frames``, ``--pool``, ``--no-appearance``).
    Text in single quotes is what the user typed (a path, a ``--method`` spec such as ``'default:loop=x'``) and is
    left as it is."""
    special = PARAMETER_FLAGS.get(command, {})
    for name, flag in special.items():
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
    # a parameter name is a snake_case word followed by what a message says of it
    parameter = re.compile(r"(?<![\w/.-])([a-z][a-z0-9]*(?:_[a-z0-9]+)*)"
                           r"(?=( must| \(|=|: | both| and [^ ]+( [a-z]+)? both| sets the))")
    pieces = re.split(r"('[^']*')", message)   # odd pieces: quoted
    return "".join(piece if i % 2 else parameter.sub(
        lambda m: f"--{m.group(1).replace('_', '-')}" if _is_flag(m.group(1), command) else m.group(1), piece)
        for i, piece in enumerate(pieces))


def _is_flag(name: str, command: str) -> bool:
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if hasattr(a, "choices")).choices.get(command)
    return sub is not None and any(f"--{name.replace('_', '-')}" in action.option_strings for action in sub._actions)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed on one line
        return int(exc.code or 0)
    args.argv = argv  # evaluate records its command line
    # Library warnings (e.g. a model's default mask unavailable) as one plain line on stderr, like the errors.
    # showwarning (not formatwarning) so that the line is printed even where a caller records warnings.
    previous_showwarning = warnings.showwarning
    warnings.showwarning = lambda message, *rest, **kw: print(f"cinescape: warning: {message}", file=sys.stderr)
    try:
        status = COMMANDS[args.command](args) or 0
    except CinescapeError as exc:
        print(f"cinescape: error: {_flag_words(str(exc), args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cinescape: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission changed mid-run, ...
        print(f"cinescape: error: {exc}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = previous_showwarning
    return status
