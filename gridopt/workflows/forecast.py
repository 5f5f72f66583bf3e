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
from gridopt.forecast.io import read_data, read_weather_csv
from gridopt.ingest import QuarantineBudget, write_netcdf

__all__ = [
    "Aggregate",
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
    """Where the readings, the weather and the meter-to-bus mapping come from."""

    data: Path
    weather: Path | None = None
    mapping: Path | None = None
    tz: str | None = None
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)


def read_inputs(inputs: ForecastInputs) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The readings Dataset (NetCDF or a readings file under the budget) and the weather."""
    data = read_data(inputs.data, tz=inputs.tz, budget=inputs.budget)
    weather = read_weather_csv(inputs.weather, tz=inputs.tz) if inputs.weather else None
    return data, weather


def train_to_store(inputs: ForecastInputs, options: ForecastOptions, *, store: Path, name: str,
                   version: str | None = None, train_end: str | None = None) -> dict[str, Any]:
    """Train a forecaster and save it as ``store/name/version``; the summary of what was fit."""
    data, weather = read_inputs(inputs)
    model = train(data, options, weather=weather, mapping=inputs.mapping, train_end=train_end)
    folder = save_model(model, store, name, version)
    return {
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
                     bus_out: Path | None = None) -> dict[str, Any]:
    """Forecast from one origin with ``model_ref`` (``NAME`` or ``NAME@VERSION``) of ``store``.

    Writes the quantile forecast to ``out`` and the P50 bus power to ``bus_out`` when given.
    """
    name, _, version = model_ref.partition("@")
    model, manifest = load_model(store, name, version or None)
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
