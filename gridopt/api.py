"""The notebook API: the steps of the CLI as functions that return Datasets, results and figures.

Thin wrappers over the workflows (no logic of their own), mirroring the command line::

    from gridopt import api

    readings = api.ingest("readings.csv", tz="Etc/GMT+8")             # gridopt ingest
    net = api.load_network("case33bw")                                 # NET of every command
    forecast, metrics = api.forecast(readings, "mapping.csv", now="2022-10-20T00:00")
    result = api.dispatch(net, forecast, assets="assets.toml")         # gridopt dispatch
    config = api.reconfigure(net, forecast)                            # gridopt reconfigure
    job = api.run_job("job.toml", now="2022-10-20T00:00")              # gridopt run
    api.forecast_figure(forecast); api.dispatch_figure(result.dataset)

Figures are :class:`matplotlib.figure.Figure` objects (Agg canvas): a notebook shows them
with ``display(fig)``; ``api.save_png(fig, path)`` writes one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandapower as pp
import pandas as pd
import xarray as xr

from gridopt.plot import (
    dispatch_figure,
    forecast_figure,
    losses_figure,
    save_png,
    voltage_figure,
)
from gridopt.workflows.job import JobResult, dispatch_input, forecast_horizon, load_assets

if TYPE_CHECKING:  # imported when called (they pull in the solvers)
    from gridopt.workflows.dispatch import DispatchResult
    from gridopt.workflows.reconfigure import NetReconfiguration


def load_network(spec: str | Path | pp.pandapowerNet) -> pp.pandapowerNet:
    """A pandapower net from a name (``case33bw``), a ``.json``/``.m`` file or ``simbench:<code>``.

    Returns a fresh copy: changing it changes nothing else
    (:func:`gridopt.network.load.load_network`).
    """
    from gridopt.network.load import load_network as _load

    return _load(spec).pandapower_net()


def ingest(
    path: str | Path,
    *,
    tz: str | None = None,
    freq: str | None = None,
    fill: str = "none",
    max_fill_steps: int = 4,
    mapping: str | Path | pd.DataFrame | None = None,
    max_quarantine: float = 0.05,
    max_meter_quarantine: float = 0.25,
) -> xr.Dataset:
    """Read, validate and regularise meter readings (``gridopt ingest``).

    More quarantined rows than ``max_quarantine`` of the file or ``max_meter_quarantine`` of
    any meter raise :class:`gridopt.errors.QuarantineBudgetError` (with the report and the
    quarantine) instead of returning data.

    Returns the readings ``(time, meter)`` (``consumption_kwh``, ``production_kwh``,
    ``quality``), or with ``mapping`` the bus-level ``p_mw``/``q_mvar`` ``(time, bus)``. For the
    quarantine and the counts use :func:`gridopt.ingest.read_readings`, which this wraps.
    """
    from gridopt.ingest import QuarantineBudget, aggregate_to_buses, read_readings

    budget = QuarantineBudget(max_file_fraction=max_quarantine,
                              max_meter_fraction=max_meter_quarantine)
    data = read_readings(path, tz=tz, freq=freq, fill=fill, max_fill_steps=max_fill_steps,
                         budget=budget).data
    if tz:
        data.attrs["tz"] = tz
    return aggregate_to_buses(data, mapping) if mapping is not None else data


def forecast(
    readings: xr.Dataset,
    mapping: str | Path | pd.DataFrame,
    now: str | pd.Timestamp,
    *,
    horizon_steps: int = 24,
    origin_hour: int = 0,
    train_days: int = 0,
    production: bool = True,
    weather: xr.Dataset | None = None,
    **options: Any,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Day-ahead P10/P50/P90 forecast from the readings before ``now``, mapped onto buses.

    ``options`` are :class:`gridopt.forecast.ForecastOptions` fields (``max_iter``,
    ``country``, ``latitude_deg``, ``longitude_deg``, ``n_threads``, ...). Returns the forecast
    Dataset (``p_mw``, ``q_mvar``, ``pv_p_mw`` per bus for :func:`dispatch`, per-meter quantiles,
    feeder totals, actuals when known) and the accuracy metrics (empty without actuals); see
    :func:`gridopt.workflows.job.forecast_horizon`.
    """
    return forecast_horizon(
        readings, mapping, now, horizon_steps=horizon_steps, origin_hour=origin_hour,
        train_days=train_days, production=production, weather=weather, options=options,
    )


def dispatch(
    net: pp.pandapowerNet,
    forecast: xr.Dataset,
    *,
    assets: str | Path | None = None,
    name: str = "network",
    **options: Any,
) -> DispatchResult:
    """Loss-minimising dispatch with an AC power flow of every period (``gridopt dispatch``).

    ``forecast`` is a ``(time, bus)`` Dataset (``p_mw``, ``q_mvar``, optional ``pv_p_mw``) such
    as the output of :func:`forecast`; ``assets`` a TOML file that adds to the net's own assets;
    ``options`` are :class:`gridopt.opf.dispatch.options.DispatchOptions` fields. Returns a
    :class:`gridopt.workflows.dispatch.DispatchResult`: ``.dataset`` (xarray), ``.summary()``,
    ``.violations``.
    """
    from gridopt.opf.dispatch.options import DispatchOptions
    from gridopt.workflows.dispatch import dispatch as _dispatch

    return _dispatch(net, dispatch_input(forecast), load_assets(net, assets),
                     DispatchOptions(**options), name=name)


def reconfigure(
    net: pp.pandapowerNet,
    profiles: xr.Dataset | None = None,
    *,
    max_switching: int | None = None,
    local_search: bool = True,
) -> NetReconfiguration:
    """Radial configuration with the lowest losses (``gridopt reconfigure``).

    ``profiles``: ``(time, bus)`` net demand (a :func:`forecast` Dataset works). Returns a
    :class:`gridopt.workflows.reconfigure.NetReconfiguration` (``.net`` is the reconfigured
    copy, ``.configuration`` the switch states, ``.summary()`` the figures).
    """
    from gridopt.workflows.reconfigure import ReconfigureOptions
    from gridopt.workflows.reconfigure import reconfigure as _reconfigure

    data = dispatch_input(profiles) if profiles is not None else None
    return _reconfigure(net, data, ReconfigureOptions(max_switching=max_switching,
                                                      local_search=local_search))


def run_job(
    config: str | Path,
    *,
    now: str | pd.Timestamp | None = None,
    out_dir: str | Path | None = None,
) -> JobResult:
    """Run a planning job (``gridopt run``); the result holds the Datasets and the summary."""
    from gridopt.workflows.job import run_job as _run_job

    return _run_job(config, now=now, out_dir=out_dir)


__all__ = [
    "JobResult",
    "dispatch",
    "dispatch_figure",
    "forecast",
    "forecast_figure",
    "ingest",
    "load_network",
    "losses_figure",
    "reconfigure",
    "run_job",
    "save_png",
    "voltage_figure",
]
