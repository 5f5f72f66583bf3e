"""``gridopt fleet run --config FLEET.toml``: the daily planning job for many feeders.

One job per feeder (the one ``gridopt run`` runs), in this process or one Dask task per feeder
(``--workers N``: a local cluster of N processes; ``--scheduler ADDRESS``: an existing one),
then ``fleet.json`` and ``fleet.csv`` in ``<out-dir>/<fleet run id>``. See ``docs/fleet.md``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from gridopt.cli._common import configure_logging, emit_json, run_guarded

EPILOG = (
    "Exit codes: 0 every feeder ok, 1 internal error, 2 bad input (fleet file, --now, "
    "--workers/--scheduler; nothing runs), 3 some feeders failed or could not meet their "
    "limits (each is named in the summary with its reason; the others are published), 4 "
    "another fleet run holds the fleet run directory, 143 terminated (SIGTERM)."
)


class FeederLines:
    """Write one line per finished feeder on stderr when it is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def __call__(self, line: str) -> None:
        if self.enabled:
            self.stream.write(line + "\n")
            self.stream.flush()


def register(subparsers: Any) -> None:
    """Add the ``fleet`` subcommand (``fleet run``)."""
    p = subparsers.add_parser(
        "fleet",
        help="the daily planning job for many feeders (one Dask task per feeder)",
        description="Commands for a fleet of feeders described by a fleet file (docs/fleet.md).",
    )
    sub = p.add_subparsers(dest="fleet_command", metavar="COMMAND", required=True)
    r = sub.add_parser(
        "run",
        help="run the planning job of every feeder and write the fleet summary",
        description=(
            "Run the planning job (as gridopt run) for every [[feeder]] of FLEET.toml: in this "
            "process one after the other, or one task per feeder on a Dask cluster. A feeder "
            "that fails is reported with its reason and does not stop the others. Writes "
            "<out-dir>/<fleet run id>/ with fleet.json, fleet.csv and one run directory per "
            "feeder; the same inputs give the same run ids and the same files."
        ),
        epilog=EPILOG,
    )
    r.add_argument("--config", required=True, type=Path, metavar="FLEET.toml",
                   help="fleet file (see docs/fleet.md)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="start a local Dask cluster of N worker processes (one thread each)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use an existing Dask cluster (tcp://host:8786); its workers must "
                            "see the same files at the same paths")
    r.add_argument("--now", default=None, metavar="TIMESTAMP",
                   help="planning instant, ISO 8601 (naive = local time of [readings] tz); "
                        "default [fleet] now, else the current hour")
    r.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                   help="parent of the fleet run directory (default [output] dir of the file)")
    r.add_argument("--json", action="store_true",
                   help="print the fleet summary as one JSON object on stdout")
    r.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    r.set_defaults(func=run)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_fleet(s: dict[str, Any]) -> str:
    """The fleet summary as a readable table, one row per feeder."""
    head = (f"{'feeder':<20} {'status':<10} {'losses MWh before':>17} {'after':>9} "
            f"{'viol.':>5} {'seconds':>8}  reason")
    lines = [f"fleet {s['fleet']} ({s['run_id']}): {s['status']}, {s['feeders_ok']} of "
             f"{s['feeders_total']} feeders ok in {s['seconds']:.1f} s on {s['workers']} "
             "worker(s)", head]
    for row in s["feeders"]:
        lines.append(
            f"{row['name']:<20} {row['status']:<10} "
            f"{_fmt(row['losses_baseline_mwh'], '.4f'):>17} "
            f"{_fmt(row['losses_optimised_mwh'], '.4f'):>9} "
            f"{_fmt(row['violations_optimised'], 'd'):>5} {_fmt(row['seconds'], '.1f'):>8}  "
            f"{row['reason'] or ''}")
    lines.append(f"outputs  {s['run_dir']}")
    return "\n".join(lines)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM as an exception: the cluster is closed, staged files are discarded, locks freed.
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt fleet run`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    previous = signal.signal(signal.SIGTERM, _terminate)
    context = {"command": "fleet run", "config": str(args.config)}

    def body() -> int:
        from gridopt.workflows.cluster import ClusterSpec
        from gridopt.workflows.fleet import run_fleet, set_dask_log_level

        spec = ClusterSpec(workers=args.workers, scheduler=args.scheduler)
        if spec.distributed:  # Dask's INFO chatter (scheduler, nanny, workers) only with -vv
            set_dask_log_level(logging.INFO if args.verbose >= 2 else logging.WARNING)
        result = run_fleet(args.config, now=args.now, out_dir=args.out_dir, cluster=spec,
                           progress=FeederLines())
        if args.json:
            emit_json(result.as_json())
        else:
            sys.stdout.write(format_fleet(result.as_json()) + "\n")
        return result.exit_code

    try:
        return run_guarded(body, args.json, context)
    finally:
        signal.signal(signal.SIGTERM, previous)
