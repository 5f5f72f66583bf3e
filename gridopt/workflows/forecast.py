"""The forecast stage as the ``gridopt forecast`` commands run it: read the inputs, train / predict
/ backtest with :mod:`gridopt.forecast`, write what was asked for, and return one summary.

Each function returns a JSON-ready dictionary (the CLI prints it or emits it with ``--json``) and
writes files atomically; the computation itself lives in :mod:`gridopt.forecast`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from gridopt.forecast import (
    Aggregate,
    BacktestResult,
    ForecastOptions,
    Target,
    backtest,
    load_model,
    predict,
    save_model,
    to_bus_demand,
    train,
)
from gridopt.forecast.fleet import DEFAULT_BLOCK_METERS, RowBudget, predict_fleet, train_fleet
from gridopt.forecast.io import read_data, read_weather_csv
from gridopt.ingest import QuarantineBudget, write_netcdf
from gridopt.workflows.cluster import ClusterSpec, open_cluster

__all__ = [
    "Aggregate",
    "FleetSettings",
    "ForecastInputs",
    "ForecastOptions",
    "Target",
    "backtest_to_files",
    "predict_to_files",
    "read_inputs",
    "train_to_store",
]


@dataclass(frozen=True)
class ForecastInputs:
    """Where the readings, the weather and the meter-to-bus mapping come from.

    ``data`` is a path (NetCDF or a readings file) or a Dataset with gridopt's ingest variables
    (in memory or Dask-backed, e.g. a lazily opened meter store).
    """

    data: Path | xr.Dataset
    weather: Path | None = None
    mapping: Path | None = None
    tz: str | None = None
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)


@dataclass(frozen=True)
class FleetSettings:
    """How a fleet of meters is trained and forecast (:mod:`gridopt.forecast.fleet`).

    Parameters
    ----------
    cluster
        Where the blocks run: in this process (default) or on a Dask cluster.
    max_rows
        Row budget of the global model (``None``: every row).
    seed
        Seed of the row sample.
    block_meters
        Meters per block task.
    """

    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    max_rows: int | None = None
    seed: int = 0
    block_meters: int = DEFAULT_BLOCK_METERS

    @property
    def active(self) -> bool:
        """Whether the fleet path is asked for (a cluster or a row budget)."""
        return self.cluster.distributed or self.max_rows is not None


def read_inputs(inputs: ForecastInputs, *, meter_block: int | None = None
                ) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The readings Dataset and the weather.

    A NetCDF path is opened lazily in blocks of ``meter_block`` meters when that is given (the
    workers of a cluster then read their own blocks), else loaded.
    """
    if isinstance(inputs.data, xr.Dataset):
        data = inputs.data
    else:
        data = read_data(inputs.data, tz=inputs.tz, budget=inputs.budget,
                         meter_chunk=meter_block)
    weather = read_weather_csv(inputs.weather, tz=inputs.tz) if inputs.weather else None
    return data, weather


def train_to_store(inputs: ForecastInputs, options: ForecastOptions, *, store: Path, name: str,
                   version: str | None = None, train_end: str | None = None,
                   fleet: FleetSettings | None = None) -> dict[str, Any]:
    """Train a forecaster and save it as ``store/name/version``; the summary of what was fit.

    With ``fleet`` asking for a cluster or a row budget the per-meter model is trained by
    :func:`gridopt.forecast.fleet.train_fleet`; otherwise in this process as before.
    """
    summary: dict[str, Any] = {}
    if fleet is not None and fleet.active:
        with open_cluster(fleet.cluster) as cluster:
            data, weather = read_inputs(
                inputs, meter_block=fleet.block_meters if cluster.client else None)
            model = train_fleet(data, options, budget=RowBudget(fleet.max_rows, fleet.seed),
                                client=cluster.client, block_meters=fleet.block_meters,
                                weather=weather, train_end=train_end)
            summary = {"dashboard": cluster.dashboard, "workers": cluster.n_workers,
                       "max_rows": fleet.max_rows}
    else:
        data, weather = read_inputs(inputs)
        model = train(data, options, weather=weather, mapping=inputs.mapping,
                      train_end=train_end)
    folder = save_model(model, store, name, version)
    return {**summary,
        "status": "ok",
        "model": name,
        "version": folder.name,
        "path": str(folder),
        "train_start": model.train_start,
        "train_end": model.train_end,
        "series": len(model.series),
        "rows": model.n_train_rows,
        "features": list(model.feature_names),
        "train_seconds": round(model.train_seconds, 3),
    }


def predict_to_files(inputs: ForecastInputs, *, store: Path, model_ref: str,
                     origin: str | None = None, out: Path | None = None,
                     bus_out: Path | None = None, fleet: FleetSettings | None = None
                     ) -> dict[str, Any]:
    """Forecast from one origin with ``model_ref`` (``NAME`` or ``NAME@VERSION``) of ``store``.

    Writes the quantile forecast to ``out`` and the P50 bus power to ``bus_out`` when given.
    On a cluster (``fleet.cluster``) a per-meter model forecasts the meter blocks in parallel
    (:func:`gridopt.forecast.fleet.predict_fleet`, identical values).
    """
    name, _, version = model_ref.partition("@")
    model, manifest = load_model(store, name, version or None)
    if fleet is not None and fleet.cluster.distributed:
        with open_cluster(fleet.cluster) as cluster:
            data, weather = read_inputs(inputs, meter_block=fleet.block_meters)
            forecast = predict_fleet(model, data, origin=origin, client=cluster.client,
                                     block_meters=fleet.block_meters, weather=weather)
    else:
        data, weather = read_inputs(inputs)
        forecast = predict(model, data, origin=origin, weather=weather, mapping=inputs.mapping)
    forecast.attrs["model"] = f"{name}@{manifest['version']}"
    variable = next(iter(forecast.data_vars))
    summary: dict[str, Any] = {
        "status": "ok",
        "model": name,
        "version": manifest["version"],
        "origin": forecast.attrs["origin"],
        "steps": int(forecast.sizes["time"]),
        "series": int(forecast[variable].shape[1]),
        "variable": variable,
        "total_p50_kwh": float(forecast[variable].sel(quantile=0.5).sum()),
    }
    if out:
        summary["out"] = str(write_netcdf(forecast, out))
    if bus_out:
        demand = to_bus_demand(
            forecast, mapping=inputs.mapping if "meter" in forecast.dims else None
        )
        summary["bus_out"] = str(write_netcdf(demand, bus_out))
    return summary


def backtest_to_files(inputs: ForecastInputs, options: ForecastOptions, *, test_start: str,
                      test_end: str, out: Path | None = None
                      ) -> tuple[BacktestResult, dict[str, Any]]:
    """Rolling-origin backtest; every forecast and observation goes to ``out`` when given."""
    data, weather = read_inputs(inputs)
    result = backtest(data, options, test_start=test_start, test_end=test_end,
                      weather=weather, mapping=inputs.mapping)
    summary = {"status": "ok", **result.to_dict()}
    if out:
        summary["out"] = str(write_netcdf(result.forecasts, out))
    return result, summary
