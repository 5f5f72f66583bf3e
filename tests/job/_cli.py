"""Run ``gridopt run`` as the CLI does, also as ``python -m tests.job._cli run ...`` (subprocess).

Uses ``gridopt.cli.main`` when ``run`` is registered there, else a parser with the ``run``
subcommand alone (same module, same function, same exit codes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gridopt.cli import main as cli_main


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` (``run ...``) and return the exit code."""
    if "run" in cli_main.SUBCOMMANDS:
        return cli_main.main(list(argv))
    from gridopt.cli import run

    parser = argparse.ArgumentParser(prog="gridopt")
    run.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
