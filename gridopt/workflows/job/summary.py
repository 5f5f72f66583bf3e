"""``summary.json`` of the planning job: figures of the reported dispatch, readings, forecast.

The field list is documented in ``docs/job.md``; floats are rounded to 6 digits, non-finite
ones written as ``null``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import xarray as xr

from gridopt import __version__
from gridopt.solvers.status import SolveStatus
from gridopt.workflows.job.result import ForecastMetrics, JobStatus, JsonValue, Summary, iso_utc

if TYPE_CHECKING:
    from gridopt.ingest.model import IngestReport
    from gridopt.workflows.dispatch import DispatchResult
    from gridopt.workflows.jobconfig import JobConfig
    from gridopt.workflows.reconfigure import NetReconfiguration


def _round(value: object, digits: int = 6) -> object:
    if isinstance(value, float | np.floating):
        return float(round(float(value), digits)) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, digits) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def job_status(summary: dict[str, object]) -> JobStatus:
    """``ok`` when the dispatch ``summary`` is optimal and AC-checked, else ``infeasible``."""
    optimal = summary["status"] == SolveStatus.OPTIMAL.value
    return JobStatus.OK if optimal and summary["ac_checked"] else JobStatus.INFEASIBLE


def _readings(report: IngestReport, forecast: xr.Dataset) -> dict[str, JsonValue]:
    """The ``readings`` entry: ingest counts and the history the forecast was trained on."""
    return {
        "status": report.status.value,
        "rows_in": int(report.rows_in),
        "rows_quarantined": int(report.rows_quarantined),
        "quarantined_fraction": float(report.quarantined_fraction),
        "worst_meter": report.worst_meter,
        "worst_meter_fraction": float(report.worst_meter_fraction),
        "meters": int(report.meters),
        "cells_missing": int(report.cells_missing),
        "history_start": forecast.attrs["history_start"],
        "history_end": forecast.attrs["history_end"],
    }


def _reconfiguration(
    reconf: NetReconfiguration,
    reconfigured: DispatchResult,
    result: DispatchResult,
    baseline_mwh: float,
    dispatch_only_mwh: float,
) -> dict[str, JsonValue]:
    """The ``reconfiguration`` entry: the configuration and the losses with and without it."""
    rs = reconf.summary()
    return {
        "enabled": True,
        "adopted": reconfigured is result,
        "open_lines": [int(v) for v in reconf.open_lines],
        "open_switches": [int(v) for v in reconf.open_switches],
        "switching_operations": int(reconf.switching_operations),
        "radial": bool(reconf.radial),
        "profile_blocks": int(cast(int, rs["periods"])),
        "losses_baseline_original_mwh": baseline_mwh,
        "losses_baseline_reconfigured_mwh": reconfigured.baseline_losses_mwh,
        "losses_dispatch_only_mwh": dispatch_only_mwh,
        "losses_reconfigured_dispatch_mwh": reconfigured.losses_mwh,
        "blocks_losses_kw_before": cast(JsonValue, rs["losses_kw_before"]),
        "blocks_losses_kw_after": cast(JsonValue, rs["losses_kw_after"]),
    }


def build_summary(
    cfg: JobConfig,
    run_id: str,
    now_utc: pd.Timestamp,
    forecast: xr.Dataset,
    metrics: ForecastMetrics,
    result: DispatchResult,
    original: DispatchResult | None,
    reconf: NetReconfiguration | None,
    report: IngestReport,
    reconfigured: DispatchResult | None = None,
) -> Summary:
    """The ``summary.json`` content (everything but ``files`` and ``seconds_by_stage``).

    ``result`` is the dispatch reported (on the topology adopted), ``original`` the dispatch
    on the original topology when reconfiguration ran, ``reconfigured`` the dispatch on the
    reconfigured topology (adopted or not).

    Long because it is one dict literal in the order of ``summary.json``, kept in one piece so
    that the layout of the file reads off the code.
    """
    s = result.summary()
    ds = result.dataset
    base_ref = original.summary() if original is not None else s
    base_ds = original.dataset if original is not None else ds
    baseline_mwh = float(base_ref["losses_baseline_mwh"])
    optimised_mwh = float(s["losses_optimised_mwh"])
    dt = float(s["period_hours"])
    summary: Summary = {
        "run_id": run_id,
        "status": job_status(s).value,
        "job": cfg.name,
        "gridopt_version": __version__,
        "network": s["network"],
        "grid_model": s["grid_model"],
        "now": iso_utc(now_utc),
        "horizon_start": forecast.attrs["origin"],
        "periods": int(s["periods"]),
        "period_hours": dt,
        "losses_baseline_mwh": baseline_mwh,
        "losses_optimised_mwh": optimised_mwh,
        "loss_reduction_percent": (100.0 * (baseline_mwh - optimised_mwh) / baseline_mwh
                                   if baseline_mwh > 0 else 0.0),
        "losses_model_mwh": s["losses_model_mwh"],
        "ac_checked": bool(s["ac_checked"]),
        "settled": bool(s["settled"]),
        "linearisation_rounds": int(s["iterations"]),
        "voltage_violations_baseline": int(base_ref["voltage_violations_baseline"]),
        "voltage_violations_optimised": int(s["voltage_violations_optimised"]),
        "thermal_violations_optimised": int(s["thermal_violations_optimised"]),
        "violations_optimised": len(s["violations"]),
        "vmin_pu_baseline": float(base_ds["vm_baseline_pu"].min()),
        "vmin_pu_optimised": float(ds["vm_pu"].min()),
        "vmax_pu_baseline": float(base_ds["vm_baseline_pu"].max()),
        "vmax_pu_optimised": float(ds["vm_pu"].max()),
        "curtailed_mwh": s["curtailed_mwh"],
        "storage_losses_mwh": s["storage_losses_mwh"],
        "shifted_mwh": s["shifted_mwh"],
        "demand_mwh": float(forecast["p_mw"].sum()) * dt,
        "pv_available_mwh": float(forecast["pv_p_mw"].sum()) * dt if "pv_p_mw" in forecast
        else 0.0,
        "storage": [str(n) for n in ds["storage"].values],
        "curtailable_pv": [str(n) for n in ds["pv"].values],
        "readings": _readings(report, forecast),
        "forecast_metrics": metrics or None,
        "reconfiguration": None,
    }
    if reconf is not None and reconfigured is not None:
        summary["reconfiguration"] = _reconfiguration(
            reconf, reconfigured, result, baseline_mwh, float(base_ref["losses_optimised_mwh"]))
    return cast(Summary, _round(summary))


__all__ = ["build_summary", "job_status"]
