"""Write the CLI reference (docs/cli.md) from the argparse parser, so it cannot drift from the code:

    python docs/cli_reference.py > docs/cli.md

``tests/test_docs.py`` checks that the committed docs/cli.md is what this prints."""

from __future__ import annotations

import argparse
import os


def render() -> str:
    """The reference as Markdown: ``cinescape --help`` and every command's ``--help``, 100 columns wide."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"   # argparse wraps to the terminal's width: fixed here, so the text is stable
    try:
        from cinescape.cli import build_parser

        parser = build_parser()
        commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
        parts = ["# Command-line reference", "",
                 "Generated from the parser by `python docs/cli_reference.py > docs/cli.md` (a test checks it is up "
                 "to date). The [guide](guide.md) explains the options with examples.", "",
                 "## cinescape", "", "```text", parser.format_help().rstrip(), "```", ""]
        for name, command in commands.choices.items():
            parts += [f"## cinescape {name}", "", "```text", command.format_help().rstrip(), "```", ""]
        return "\n".join(parts)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


if __name__ == "__main__":
    print(render(), end="")
