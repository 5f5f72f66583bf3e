"""Output stage of the planning job: the files of the run directory.

``forecast.nc``, ``dispatch.nc``, the CSV tables (``forecast.csv``, ``dispatch.csv``,
``buses.csv``, ``violations.csv``) and the PNG figures, staged through
:class:`gridopt.workflows.rundir.StagedOutputs` (published together by the caller, with
``summary.json`` last).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.workflows.job.result import Progress, iso_utc
from gridopt.workflows.rundir import StagedOutputs

if TYPE_CHECKING:
    from gridopt.workflows.dispatch import DispatchResult
    from gridopt.workflows.job.plan import Plan


def forecast_table(forecast: xr.Dataset) -> pd.DataFrame:
    """Per-interval feeder totals of the forecast (MW) with P10/P50/P90 and actuals."""
    frame = pd.DataFrame({"time_utc": [iso_utc(t) for t in forecast["time"].values]})
    for target in ("consumption", "production"):
        var = f"{target}_total_mw"
        if var not in forecast:
            continue
        for q in forecast["quantile"].values:
            frame[f"{target}_p{round(100 * q):02d}_mw"] = forecast[var].sel(quantile=q).values
        actual = f"{target}_total_actual_mw"
        if actual in forecast:
            frame[f"{target}_actual_mw"] = forecast[actual].values
    return frame


def dispatch_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per-period totals of the dispatch (MW, pu, % of storage capacity)."""
    frame = pd.DataFrame({"time_utc": [iso_utc(t) for t in ds["time"].values]})
    frame["demand_mw"] = ds["p_demand_mw"].sum("bus").values
    frame["pv_available_mw"] = ds["pv_available_mw"].sum("pv").values
    frame["pv_curtailed_mw"] = ds["pv_curtailed_mw"].sum("pv").values
    for name in ds["storage"].values:
        frame[f"{name}_p_mw"] = ds["storage_p_mw"].sel(storage=name).values
        frame[f"{name}_soc_percent"] = ds["soc_percent"].sel(storage=name).values
    frame["p_grid_mw"] = ds["p_grid_mw"].values
    frame["p_grid_baseline_mw"] = ds["p_grid_baseline_mw"].values
    if "losses_baseline_original_mw" in ds:
        frame["losses_baseline_original_mw"] = ds["losses_baseline_original_mw"].values
    frame["losses_baseline_mw"] = ds["losses_baseline_mw"].values
    frame["losses_mw"] = ds["losses_mw"].values
    frame["vmin_baseline_pu"] = ds["vm_baseline_pu"].min("bus").values
    frame["vmin_pu"] = ds["vm_pu"].min("bus").values
    frame["vmax_pu"] = ds["vm_pu"].max("bus").values
    frame["ac_converged"] = ds["ac_converged"].values
    return frame


def bus_table(ds: xr.Dataset) -> pd.DataFrame:
    """Voltage profile: per bus, the lowest and highest voltage over the horizon."""
    frame = pd.DataFrame({"bus": ds["bus"].values})
    if "vm_baseline_original_pu" in ds:
        frame["vmin_baseline_original_pu"] = ds["vm_baseline_original_pu"].min("time").values
    frame["vmin_baseline_pu"] = ds["vm_baseline_pu"].min("time").values
    frame["vmax_baseline_pu"] = ds["vm_baseline_pu"].max("time").values
    frame["vmin_pu"] = ds["vm_pu"].min("time").values
    frame["vmax_pu"] = ds["vm_pu"].max("time").values
    return frame


def violations_table(result: DispatchResult, original: DispatchResult | None = None
                     ) -> pd.DataFrame:
    """Every violated limit: the dispatch's (model slack and AC) and the baseline's (AC)."""
    rows = [{"case": "optimised", **v.as_dict()} for v in result.violations]
    base = original if original is not None else result
    rows += [{"case": "baseline", **v.as_dict()} for v in base.baseline_violations]
    columns = ["case", "kind", "source", "period", "time", "element", "value", "limit"]
    return pd.DataFrame(rows, columns=columns)


def dispatch_dataset(plan: Plan, run_id: str, tz: str) -> xr.Dataset:
    """Content of ``dispatch.nc``: the reported dispatch, with the original topology's losses
    and baseline voltages when a reconfiguration was adopted."""
    ds = plan.chosen.dataset.copy()
    ds.attrs = {**ds.attrs, "run_id": run_id, "tz": tz,
                "reconfiguration": plan.outcome.value}
    reconf = plan.reconfiguration
    if plan.original is not None and reconf is not None and plan.adopted:
        orig = plan.original.dataset
        ds["losses_baseline_original_mw"] = orig["losses_baseline_mw"].assign_attrs(
            long_name="network losses, original topology, no flexibility (AC)")
        ds["losses_original_mw"] = orig["losses_mw"].assign_attrs(
            long_name="network losses, original topology, dispatched (AC)")
        ds["vm_baseline_original_pu"] = orig["vm_baseline_pu"]
        ds.attrs["open_lines"] = np.asarray(reconf.open_lines, dtype=np.int64)
        ds.attrs["open_switches"] = np.asarray(reconf.open_switches, dtype=np.int64)
    return ds


def stage_csv(staged: StagedOutputs, name: str, frame: pd.DataFrame) -> None:
    """Stage ``frame`` as CSV (no index, ``\\n`` line ends)."""
    frame.to_csv(staged.path(name), index=False, lineterminator="\n")


def _write_netcdf(staged: StagedOutputs, name: str, ds: xr.Dataset) -> None:
    ds.to_netcdf(staged.path(name), engine="netcdf4")


def write_outputs(staged: StagedOutputs, forecast: xr.Dataset, ds: xr.Dataset, plan: Plan,
                  plots: bool, say: Progress) -> None:
    """Stage the NetCDF files, the CSV tables and (with ``plots``) the figures."""
    _write_netcdf(staged, "forecast.nc", forecast)
    _write_netcdf(staged, "dispatch.nc", ds)
    stage_csv(staged, "forecast.csv", forecast_table(forecast))
    stage_csv(staged, "dispatch.csv", dispatch_table(ds))
    stage_csv(staged, "buses.csv", bus_table(ds))
    stage_csv(staged, "violations.csv", violations_table(plan.chosen, plan.original))
    if plots:
        say("outputs: figures")
        from gridopt import plot

        for name, fig in (
            ("forecast.png", plot.forecast_figure(forecast)),
            ("dispatch.png", plot.dispatch_figure(ds)),
            ("voltage.png", plot.voltage_figure(ds)),
            ("losses.png", plot.losses_figure(ds)),
        ):
            plot.save_png(fig, staged.path(name))


__all__ = [
    "bus_table",
    "dispatch_dataset",
    "dispatch_table",
    "forecast_table",
    "stage_csv",
    "violations_table",
    "write_outputs",
]
