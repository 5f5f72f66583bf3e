"""Figures of a planning job: forecast band, dispatch and state of charge, voltages, losses.

Each function takes the job's Datasets and returns a :class:`matplotlib.figure.Figure` built
without :mod:`matplotlib.pyplot` (no global figure registry, no GUI backend: the canvas is
Agg), so it works the same in scripts, schedulers and notebooks. matplotlib is imported when a
figure is made, not when :mod:`gridopt` is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_BASE = "#7f7f7f"
_OPT = "#1f77b4"
_ORIG = "#d62728"


def _figure(rows: int, height: float = 3.0, width: float = 9.0) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=rows > 1, squeeze=False)[:, 0]
    return fig, axes


def _local_hours(ds: xr.Dataset) -> tuple[np.ndarray, str]:
    """Interval boundaries in local time (one more than intervals: the last one's end)."""
    times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC")
    step = times[1] - times[0] if len(times) > 1 else pd.Timedelta(
        hours=float(ds.attrs.get("period_hours", 1.0)))
    zone = str(ds.attrs.get("tz") or "UTC")
    local = times.append(pd.DatetimeIndex([times[-1] + step])).tz_convert(zone)
    return np.asarray(local.tz_localize(None)), zone


def _closed(values: np.ndarray) -> np.ndarray:
    """Repeat the last value so that a ``where="post"`` step covers the last interval."""
    values = np.asarray(values, dtype=float)
    return np.append(values, values[-1:])


def _time_axis(ax: Axes, x: np.ndarray, zone: str) -> None:
    from matplotlib.dates import DateFormatter

    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    first, last = pd.Timestamp(x[0]), pd.Timestamp(x[-1])
    span = f"{first:%d %b %Y %H:%M} - {last:%d %b %Y %H:%M}"
    ax.set_xlabel(f"local time ({zone}), {span}")


def forecast_figure(forecast: xr.Dataset) -> Figure:
    """Feeder consumption (and PV) forecast: P50 line, P10-P90 band, actuals when known.

    Parameters
    ----------
    forecast
        The job forecast (:func:`gridopt.workflows.job.forecast_horizon`): needs
        ``consumption_total_mw`` ``(time, quantile)``; uses ``production_total_mw`` and the
        ``*_total_actual_mw`` variables when present.
    """
    targets = [t for t in ("consumption", "production") if f"{t}_total_mw" in forecast]
    fig, axes = _figure(len(targets))
    x, zone = _local_hours(forecast)
    colours = {"consumption": "#1f77b4", "production": "#ff7f0e"}
    for ax, target in zip(axes, targets, strict=True):
        total = forecast[f"{target}_total_mw"]
        p10, p50, p90 = (total.sel(quantile=q).values for q in (0.1, 0.5, 0.9))
        c = colours[target]
        ax.fill_between(x, _closed(p10), _closed(p90), step="post", alpha=0.25, color=c,
                        label="P10-P90")
        ax.step(x, _closed(p50), where="post", color=c, label="P50 forecast")
        actual = f"{target}_total_actual_mw"
        if actual in forecast and np.isfinite(forecast[actual].values).any():
            ax.step(x, _closed(forecast[actual].values), where="post", color="black", lw=1.2,
                    label="actual")
        ax.set_ylabel("MW")
        ax.set_title(f"feeder {target} (sum of mapped homes)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    _time_axis(axes[-1], x, zone)
    return fig


def dispatch_figure(dispatch: xr.Dataset) -> Figure:
    """Storage power and state of charge, PV curtailment and grid import of a dispatch."""
    fig, axes = _figure(3)
    x, zone = _local_hours(dispatch)
    ax = axes[0]
    for name in dispatch["storage"].values:
        ax.step(x, _closed(dispatch["storage_p_mw"].sel(storage=name).values), where="post",
                label=f"{name} discharge − charge")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("MW")
    ax.set_title("storage power")
    if dispatch.sizes["storage"]:
        twin = ax.twinx()
        for name in dispatch["storage"].values:
            twin.plot(x[1:], dispatch["soc_percent"].sel(storage=name).values, "o--", ms=3,
                      label=f"{name} state of charge (end of interval)")
        twin.set_ylabel("state of charge (%)")
        twin.set_ylim(0, 100)
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    avail = dispatch["pv_available_mw"].sum("pv").values
    curtailed = dispatch["pv_curtailed_mw"].sum("pv").values
    ax.step(x, _closed(avail), where="post", color="#ff7f0e", label="curtailable PV available")
    ax.fill_between(x, _closed(avail - curtailed), _closed(avail), step="post",
                    color="#ff7f0e", alpha=0.35, label="curtailed")
    ax.set_ylabel("MW")
    ax.set_title("PV curtailment")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[2]
    ax.step(x, _closed(dispatch["p_grid_baseline_mw"].values), where="post", color=_BASE,
            label="baseline (no flexibility)")
    ax.step(x, _closed(dispatch["p_grid_mw"].values), where="post", color=_OPT, label="optimised")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("MW")
    ax.set_title("import from the upstream grid (AC power flow)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    _time_axis(axes[-1], x, zone)
    return fig


def voltage_figure(dispatch: xr.Dataset) -> Figure:
    """Voltage profile along the buses: lowest and highest voltage over the horizon."""
    fig, axes = _figure(1, height=3.6)
    ax = axes[0]
    buses = np.arange(dispatch.sizes["bus"])
    labels = [str(b) for b in dispatch["bus"].values]
    if "vm_baseline_original_pu" in dispatch:
        ax.plot(buses, dispatch["vm_baseline_original_pu"].min("time").values, "v:",
                color=_ORIG, ms=4, label="baseline, original topology: min")
    for var, colour, label in (("vm_baseline_pu", _BASE, "baseline"),
                               ("vm_pu", _OPT, "optimised")):
        ax.plot(buses, dispatch[var].min("time").values, "v-", color=colour, ms=4,
                label=f"{label}: min over the horizon")
        ax.plot(buses, dispatch[var].max("time").values, "^--", color=colour, ms=4,
                label=f"{label}: max over the horizon")
    step = max(1, len(buses) // 20)
    ax.set_xticks(buses[::step], labels[::step])
    ax.set_xlabel("bus")
    ax.set_ylabel("voltage (pu)")
    ax.set_title("voltage profile (AC power flow of every period)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def losses_figure(dispatch: xr.Dataset) -> Figure:
    """Network losses per period and in total: baseline versus optimised (AC)."""
    fig, axes = _figure(1, height=3.6)
    ax = axes[0]
    x, zone = _local_hours(dispatch)
    hours = float(dispatch.attrs.get("period_hours", 1.0))
    series = []
    if "losses_baseline_original_mw" in dispatch:
        series.append(("losses_baseline_original_mw", _ORIG, "baseline, original topology"))
        series.append(("losses_baseline_mw", _BASE, "baseline, reconfigured"))
    else:
        series.append(("losses_baseline_mw", _BASE, "baseline (no flexibility)"))
    series.append(("losses_mw", _OPT, "optimised"))
    for var, colour, label in series:
        values = dispatch[var].values * 1000.0
        total = float(np.nansum(values)) * hours
        ax.step(x, _closed(values), where="post", color=colour, label=f"{label}: {total:.1f} kWh")
    ax.set_ylabel("losses (kW)")
    ax.set_title("network losses (AC power flow)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _time_axis(ax, x, zone)
    return fig


def save_png(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` (no timestamp in the file: same figure, same bytes)."""
    path = Path(path)
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
    return path
