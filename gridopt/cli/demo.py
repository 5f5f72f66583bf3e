"""``gridopt demo``: the command behind ``make demo``."""

from __future__ import annotations

import argparse
from typing import Any

from gridopt.cli import opf


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="run the demonstration job on the embedded sample data and print a summary"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """AC-OPF of the shipped PGLib IEEE 118-bus case, checked by pandapower."""
    ns = argparse.Namespace(
        case="pglib_opf_case118_ieee", formulation="ac", objective="cost", out=None,
        no_check=False, json=args.json, verbose=0,
    )
    return opf.run(ns)
