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
    write_json_atomic,
)
from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest import (
    FillPolicy,
    IngestReport,
    Layout,
    aggregate_to_buses,
    mapping_report,
    quarantine_path,
    read_readings,
    write_csv,
    write_netcdf,
)

log = logging.getLogger("gridopt.cli.ingest")


def register(subparsers: Any) -> None:
    """Add the ``ingest`` subcommand to ``subparsers``."""
    p = subparsers.add_parser(
        "ingest",
        help="validate and regularise smart-meter readings",
        description=(
            "Read meter readings (CSV or Parquet), quarantine bad rows with a reason, collapse "
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
    p.add_argument("readings", type=Path, help="readings file (.csv, .csv.gz, .parquet)")
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
    out: Path = args.out
    if out.suffix.lower() != ".nc":
        raise InputError(f"--out {out}: expected a NetCDF file name ending in .nc")
    if not out.parent.exists():
        raise InputError(f"--out {out}: the directory {out.parent} does not exist")
    if args.max_fill_steps < 1:
        raise InputError("--max-fill-steps must be at least 1")
    budget = budget_from_args(args)
    q_file = quarantine_path(out)
    report_file = report_path(out)
    try:
        result = read_readings(
            args.readings,
            tz=args.tz,
            freq=args.freq,
            layout=Layout(args.layout),
            cumulative=args.cumulative,
            fill=FillPolicy(args.fill),
            max_fill_steps=args.max_fill_steps,
            budget=budget,
        )
    except QuarantineBudgetError as exc:
        return _over_budget(args, exc, q_file, report_file)
    buses = None
    bus_file = out.with_name(f"{out.stem}.buses.nc")
    if args.mapping is not None:
        buses = aggregate_to_buses(result.data, args.mapping)
        report_map = mapping_report(result.data, args.mapping)
    # Everything is computed; only now touch the disk (each file atomically).
    write_netcdf(result.data, out)
    write_csv(result.quarantine, q_file)
    if buses is not None:
        write_netcdf(buses, bus_file)
    payload: dict[str, Any] = {"command": "ingest", **_report_dict(result.report, q_file),
                               "out": str(out), "report_file": str(report_file)}
    if buses is not None:
        payload.update({
            "bus_file": str(bus_file),
            "buses": int(buses.sizes["bus"]),
            "unmapped_meters": list(report_map.unmapped_meters),
            "mapped_without_data": list(report_map.mapped_without_data),
        })
    write_json_atomic(payload, report_file)
    if args.json:
        emit_json(payload)
    else:
        _print_summary(payload)
    return EXIT_OK


def report_path(out: Path) -> Path:
    """Where the JSON report of an output goes: ``<out stem>.report.json`` beside it."""
    return out.with_name(f"{out.stem}.report.json")


def _report_dict(report: IngestReport, q_file: Path) -> dict[str, Any]:
    data = report.to_dict()
    data["quarantine_file"] = str(q_file)
    return data


def _over_budget(args: argparse.Namespace, exc: QuarantineBudgetError, q_file: Path,
                 report_file: Path) -> int:
    """Write the quarantine and the report (no dataset), say why, exit 2."""
    report = exc.report
    assert isinstance(report, IngestReport)
    write_csv(exc.quarantine, q_file)
    payload: dict[str, Any] = {"command": "ingest", **_report_dict(report, q_file),
                               "out": None, "report_file": str(report_file),
                               "error": type(exc).__name__, "message": str(exc)}
    write_json_atomic(payload, report_file)
    sys.stderr.write(f"gridopt: error: {exc}\n")
    if args.json:
        emit_json(payload)
    return EXIT_BAD_INPUT


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
    if p.get("rollovers") or p.get("resets"):
        print(f"  register rollovers {p['rollovers']}, resets {p['resets']}")
    print(f"wrote {p['out']}")
    print(f"wrote {p['quarantine_file']}")
    print(f"wrote {p['report_file']}")
    if "bus_file" in p:
        print(f"wrote {p['bus_file']} ({p['buses']} buses)")
        if p["unmapped_meters"]:
            print(f"  meters mapped to no bus: {', '.join(p['unmapped_meters'])}")
