"""``gridopt demo``: the command behind ``make demo``: the whole planning job on the sample data.

Runs ``data/jobs/demo.toml`` (installed as ``gridopt/_data/jobs/demo.toml``): the 17 CityLearn
sample homes (consumption and rooftop PV) mapped onto pandapower's ``case33bw`` feeder, a
day-ahead forecast from six weeks of readings, reconfiguration, dispatch of a community battery
and three curtailable PV inverters, an AC power flow of every period, and prints the summary as
a table. It runs from any directory: the config names its inputs relative to itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gridopt.cli import run as run_cli
from gridopt.workflows.jobconfig import demo_config


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="run the planning job on the embedded sample data and print a summary",
        description=(
            "Run the planning job of data/jobs/demo.toml (case33bw with the 17 CityLearn sample "
            "homes, their PV, a battery and curtailable PV inverters) and print its summary."
        ),
        epilog=run_cli.EPILOG,
    )
    p.add_argument("--out-dir", type=Path, default=Path("runs"), metavar="DIR",
                   help="parent of the run directory (default ./runs)")
    p.add_argument("--now", default=None, metavar="TIMESTAMP",
                   help="planning instant (default 2022-10-20T00:00, local time of the sample)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo job through ``gridopt run`` (same output, exit codes and run directory)."""
    ns = argparse.Namespace(config=demo_config(), now=args.now, out_dir=args.out_dir,
                            json=args.json, verbose=args.verbose)
    return run_cli.run(ns)
