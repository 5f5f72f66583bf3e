"""The ingest stage as a command runs it: read and validate a readings file, then write the
dataset, the quarantine, the optional bus power and the JSON report (each atomically).

The computation is :func:`gridopt.ingest.read_readings`; this module only decides what goes to
disk and in which order, so the CLI (and a notebook) gets one call and one summary dictionary::

    outcome = ingest_to_files(IngestRequest(readings=Path("meters.csv"), out=Path("clean.nc")))
    outcome.payload["status"]        # "ok" | "degraded" | "over_budget"
    outcome.error                    # the QuarantineBudgetError when over budget, else None
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest import (
    FillPolicy,
    IngestReport,
    Layout,
    QuarantineBudget,
    aggregate_to_buses,
    mapping_report,
    quarantine_path,
    read_readings,
    write_csv,
    write_netcdf,
)
from gridopt.ingest.io import write_text

__all__ = [
    "FillPolicy",
    "IngestOutcome",
    "IngestRequest",
    "Layout",
    "QuarantineBudget",
    "ingest_to_files",
    "json_safe",
    "report_path",
    "write_json_atomic",
]


def json_safe(value: Any) -> Any:
    """Make a value JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(obj: dict[str, Any], path: Path) -> Path:
    """Write one JSON object (NaN as null) to ``path`` atomically."""
    return write_text(json.dumps(json_safe(obj), indent=2) + "\n", path)


def report_path(out: Path) -> Path:
    """Where the JSON report of an output goes: ``<out stem>.report.json`` beside it."""
    return out.with_name(f"{out.stem}.report.json")


@dataclass(frozen=True)
class IngestRequest:
    """What ``gridopt ingest`` was asked to do (the options of :func:`read_readings` + files)."""

    readings: Path
    out: Path
    tz: str | None = None
    freq: str | None = None
    layout: Layout = Layout.LONG
    cumulative: bool = False
    fill: FillPolicy = FillPolicy.NONE
    max_fill_steps: int = 4
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)
    mapping: Path | None = None


@dataclass(frozen=True)
class IngestOutcome:
    """The summary written to the report file, and the budget error when the file was refused."""

    payload: dict[str, Any]
    error: QuarantineBudgetError | None = None


def _check_request(request: IngestRequest) -> None:
    out = request.out
    if out.suffix.lower() != ".nc":
        raise InputError(f"--out {out}: expected a NetCDF file name ending in .nc")
    if not out.parent.exists():
        raise InputError(f"--out {out}: the directory {out.parent} does not exist")
    if request.max_fill_steps < 1:
        raise InputError("--max-fill-steps must be at least 1")


def _report_dict(report: IngestReport, q_file: Path) -> dict[str, Any]:
    data = report.to_dict()
    data["quarantine_file"] = str(q_file)
    return data


def ingest_to_files(request: IngestRequest) -> IngestOutcome:
    """Read, validate and write; nothing is written before everything is computed.

    Within the quarantine budget: the dataset, the quarantine CSV, the bus power (with a mapping)
    and ``<out stem>.report.json``. Over budget: only the quarantine and the report, and the
    outcome carries the :class:`QuarantineBudgetError` (the caller exits 2).

    Raises
    ------
    InputError
        Bad options, an unreadable file or a file with no usable readings.
    """
    _check_request(request)
    out = request.out
    q_file = quarantine_path(out)
    report_file = report_path(out)
    try:
        result = read_readings(
            request.readings,
            tz=request.tz,
            freq=request.freq,
            layout=request.layout,
            cumulative=request.cumulative,
            fill=request.fill,
            max_fill_steps=request.max_fill_steps,
            budget=request.budget,
        )
    except QuarantineBudgetError as exc:
        report = exc.report
        assert isinstance(report, IngestReport)
        write_csv(exc.quarantine, q_file)
        refused: dict[str, Any] = {"command": "ingest", **_report_dict(report, q_file),
                                   "out": None, "report_file": str(report_file),
                                   "error": type(exc).__name__, "message": str(exc)}
        write_json_atomic(refused, report_file)
        return IngestOutcome(refused, exc)
    buses = None
    bus_file = out.with_name(f"{out.stem}.buses.nc")
    if request.mapping is not None:
        buses = aggregate_to_buses(result.data, request.mapping)
        report_map = mapping_report(result.data, request.mapping)
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
    return IngestOutcome(payload)
