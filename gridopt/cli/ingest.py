"""``gridopt ingest``: meter readings -> clean regular NetCDF + quarantine CSV (+ bus power)."""

from __future__ import annotations

import argparse
import logging
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
from gridopt.workflows.ingest import FillPolicy, IngestRequest, Layout, ingest_to_files

log = logging.getLogger("gridopt.cli.ingest")


def register(subparsers: Any) -> None:
    """Add the ``ingest`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "ingest",
        help="validate and regularise smart-meter readings",
        description=(
            "Read meter readings (CSV or Parquet, or a meter export recognised from its content: "
            "Green Button XML, AEMO NEM12, EDIFACT MSCONS; see docs/formats.md), quarantine "
            "bad rows with a reason, collapse "
            "exact duplicates, put the readings on a regular UTC grid and write NetCDF. The "
            "quarantine CSV and a JSON report are written beside the output as "
            "<out stem>.quarantine.csv and <out stem>.report.json."
        ),
        epilog=(
            "Exit codes: 0 written (JSON status 'ok', or 'degraded' when rows were quarantined "
            "within the budget), 1 internal error, 2 bad input or more quarantined than the "
            "budget allows (status 'over_budget': the quarantine and the report are written, "
            "no dataset)."
        ),
    )
    p.add_argument("readings", type=Path,
                   help="readings file (.csv, .csv.gz, .parquet; Green Button .xml, NEM12, MSCONS)")
    p.add_argument("--out", type=Path, required=True, help="output NetCDF file (FILE.nc)")
    p.add_argument("--tz", default=None,
                   help="IANA zone of naive timestamps, e.g. Australia/Sydney")
    p.add_argument("--freq", default=None,
                   help="interval as a pandas offset (30min, h); inferred when omitted")
    p.add_argument("--layout", choices=[v.value for v in Layout], default=Layout.LONG.value,
                   help="long: meter_id,timestamp,consumption_kwh[,production_kwh]; "
                        "wide: timestamp + one kWh column per meter")
    p.add_argument("--cumulative", action="store_true",
                   help="values are cumulative register readings (rollovers/resets detected)")
    p.add_argument("--mapping", type=Path, default=None,
                   help="CSV meter_id,bus[,power_factor][,scale]: also write bus-level p_mw, "
                        "q_mvar to <out stem>.buses.nc")
    p.add_argument("--fill", choices=[v.value for v in FillPolicy], default=FillPolicy.NONE.value,
                   help="gap policy: none (leave NaN) or linear (interior gaps, flagged filled)")
    p.add_argument("--max-fill-steps", type=int, default=4,
                   help="longest gap in intervals that --fill linear fills (default 4)")
    add_budget_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the report")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Body of ``gridopt ingest``; returns the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"command": "ingest", "readings": str(args.readings), "out": str(args.out)}
    return run_guarded(lambda: _ingest(args), args.json, context)


def _ingest(args: argparse.Namespace) -> int:
    outcome = ingest_to_files(IngestRequest(
        readings=args.readings,
        out=args.out,
        tz=args.tz,
        freq=args.freq,
        layout=Layout(args.layout),
        cumulative=args.cumulative,
        fill=FillPolicy(args.fill),
        max_fill_steps=args.max_fill_steps,
        budget=budget_from_args(args),
        mapping=args.mapping,
    ))
    if outcome.error is not None:
        sys.stderr.write(f"gridopt: error: {outcome.error}\n")
        if args.json:
            emit_json(outcome.payload)
        return EXIT_BAD_INPUT
    if args.json:
        emit_json(outcome.payload)
    else:
        _print_summary(outcome.payload)
    return EXIT_OK


def _print_summary(p: dict[str, Any]) -> None:
    print(f"read {p['rows_in']} rows from {p['source']}: {p['status']}")
    print(f"  clean {p['rows_clean']}, quarantined {p['rows_quarantined']}, "
          f"duplicates collapsed {p['duplicates_collapsed']}")
    for reason, count in p["quarantined_by_reason"].items():
        print(f"    {reason}: {count}")
    print(f"  {p['meters']} meters x {p['intervals']} intervals of {p['freq']} "
          f"from {p['start']} to {p['end']} (UTC)")
    print(f"  cells measured {p['cells_measured']}, filled {p['cells_filled']}, "
          f"missing {p['cells_missing']} in {p['gaps']} gaps")
    if p["aggregated_meters"] or p["split_meters"]:
        print(f"  meters' own intervals {p['meter_intervals']}: {len(p['aggregated_meters'])} "
              f"summed to {p['freq']} ({p['cells_aggregated']} cells, {p['cells_partial']} "
              f"incomplete left missing), {len(p['split_meters'])} split evenly "
              f"({p['cells_split']} cells)")
    if p.get("cells_estimated"):
        print(f"  cells estimated or substituted by the export {p['cells_estimated']}")
    if p.get("rollovers") or p.get("resets"):
        print(f"  register rollovers {p['rollovers']}, resets {p['resets']}")
    print(f"wrote {p['out']}")
    print(f"wrote {p['quarantine_file']}")
    print(f"wrote {p['report_file']}")
    if "bus_file" in p:
        print(f"wrote {p['bus_file']} ({p['buses']} buses)")
        if p["unmapped_meters"]:
            print(f"  meters mapped to no bus: {', '.join(p['unmapped_meters'])}")
