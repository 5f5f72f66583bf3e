"""``gridopt`` command-line entry point: parses arguments and dispatches to subcommands.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` to a callable taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gridopt import __version__

#: Subcommand modules, in the order they appear in ``gridopt --help``.
SUBCOMMANDS = ("ingest", "store", "forecast", "network", "powerflow", "opf", "dispatch",
               "reconfigure", "run", "fleet", "demo")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="gridopt",
        description=(
            "Smart-meter readings to forecasts, loss-minimising dispatch and AC-checked OPF."
        ),
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input, 3 infeasible or solver failure.",
    )
    parser.add_argument("--version", action="version", version=f"gridopt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"gridopt.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (also used as the process exit status)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
