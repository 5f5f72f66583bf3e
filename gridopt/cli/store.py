"""``gridopt store``: the meter store (append readings files, describe it, export a window)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gridopt.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    add_budget_args,
    budget_from_args,
    configure_logging,
    emit_json,
    run_guarded,
)
from gridopt.workflows.cluster import ClusterSpec
from gridopt.workflows.ingest import FillPolicy, Layout
from gridopt.workflows.store import (
    AppendOptions,
    StoreAppendRequest,
    append_files,
    export_window,
    info,
)


def register(subparsers: Any) -> None:
    """Add the ``store`` subcommand (``append``, ``info``, ``export``) to ``subparsers``."""
    p = subparsers.add_parser(
        "store",
        help="the meter store: append readings, describe, export a window",
        description=(
            "An append-only store of validated readings on disk (partitioned Parquet), opened "
            "lazily by gridopt and xarray/Dask. Each file goes through the checks of 'gridopt "
            "ingest' (quarantine, budget); a file appended twice changes nothing; readings "
            "that differ from stored ones are refused. See docs/store.md."
        ),
    )
    sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)

    a = sub.add_parser("append", help="validate readings files and append them",
                       epilog="Exit codes: 0 every file appended (or already there), 2 some "
                              "file refused (listed with its reason; the others are "
                              "appended), 1 internal error.")
    a.add_argument("store", type=Path, help="store directory (created when new)")
    a.add_argument("files", nargs="+",
                   help="readings files or quoted glob patterns ('exports/*.csv')")
    a.add_argument("--tz", default=None, help="IANA zone of naive timestamps")
    a.add_argument("--freq", default=None,
                   help="interval (pandas offset); default the store's, or inferred")
    a.add_argument("--layout", choices=[v.value for v in Layout], default=Layout.LONG.value)
    a.add_argument("--cumulative", action="store_true",
                   help="values are cumulative register readings")
    a.add_argument("--fill", choices=[v.value for v in FillPolicy],
                   default=FillPolicy.NONE.value, help="gap policy of each file")
    a.add_argument("--max-fill-steps", type=int, default=4)
    a.add_argument("--meter-block", type=int, default=500,
                   help="meters per block of a new store (the meter chunk); default 500")
    a.add_argument("--max-rows", type=int, default=5_000_000,
                   help="a Parquet file of more rows is validated in blocks of whole meters")
    add_budget_args(a)
    where = a.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None,
                       help="validate on a local Dask cluster of N processes")
    where.add_argument("--scheduler", default=None,
                       help="validate on an existing Dask cluster (tcp://host:8786); the "
                            "workers must see the store directory")
    _common(a)
    a.set_defaults(func=run, action=_append)

    i = sub.add_parser("info", help="describe the published generation")
    i.add_argument("store", type=Path)
    _common(i)
    i.set_defaults(func=run, action=_info)

    e = sub.add_parser("export", help="write a window as the NetCDF of 'gridopt ingest'")
    e.add_argument("store", type=Path)
    e.add_argument("-o", "--out", type=Path, required=True, help="output NetCDF (FILE.nc)")
    e.add_argument("--start", default=None, help="first interval start (ISO 8601; naive = UTC)")
    e.add_argument("--end", default=None, help="last interval start (inclusive)")
    e.add_argument("--meters", default=None, help="comma-separated meter ids")
    _common(e)
    e.set_defaults(func=run, action=_export)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")


def run(args: argparse.Namespace) -> int:
    """Body of ``gridopt store ACTION``; returns the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"command": f"store {args.store_command}", "store": str(args.store)}
    action = args.action
    return run_guarded(lambda: int(action(args)), args.json, context)


def _append(args: argparse.Namespace) -> int:
    payload = append_files(StoreAppendRequest(
        store=args.store,
        patterns=list(args.files),
        options=AppendOptions(tz=args.tz, freq=args.freq, layout=Layout(args.layout),
                              cumulative=args.cumulative, fill=FillPolicy(args.fill),
                              max_fill_steps=args.max_fill_steps,
                              budget=budget_from_args(args)),
        cluster=ClusterSpec(workers=args.workers, scheduler=args.scheduler),
        meter_block=args.meter_block,
        max_rows=args.max_rows,
    ))
    for failure in payload["failed"]:
        sys.stderr.write(f"gridopt: error: {failure['source']}: {failure['status']}: "
                         f"{failure['reason']}\n")
    if args.json:
        emit_json(payload)
    else:
        print(f"{payload['store']}: generation {payload['generation_before']} -> "
              f"{payload['generation']}: {payload['appended']} of {payload['inputs']} "
              f"input(s) appended, {payload['already_appended']} already there, "
              f"{len(payload['failed'])} refused")
        print(f"  cells added {payload['cells_added']:,}, already stored "
              f"{payload['cells_already_stored']:,}, rows quarantined "
              f"{payload['rows_quarantined']:,} in {payload['seconds']:.1f} s")
    return EXIT_BAD_INPUT if payload["failed"] else EXIT_OK


def _info(args: argparse.Namespace) -> int:
    payload = info(args.store)
    if args.json:
        emit_json(payload)
    else:
        for key, value in payload.items():
            if key not in ("command", "status"):
                print(f"{key}: {value}")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    meters = [m.strip() for m in args.meters.split(",")] if args.meters else None
    payload = export_window(args.store, args.out, start=args.start, end=args.end,
                            meters=meters)
    if args.json:
        emit_json(payload)
    else:
        print(f"wrote {payload['out']} ({payload['meters']} meters x {payload['intervals']} "
              f"intervals, {payload['start']} .. {payload['end']})")
        print(f"wrote {payload['quarantine_file']}")
    return EXIT_OK
