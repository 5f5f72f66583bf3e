"""Train, predict and backtest the global direct multi-horizon forecaster on Datasets.

Forecast layout (:func:`predict`): an :class:`xarray.Dataset` with one variable named after the
target (``consumption_kwh``, ``production_kwh`` or ``net_kwh``: energy per interval) and dims
``(time, <series>, quantile)``, where ``<series>`` is ``meter``, ``bus`` or ``series`` (one entry
``"total"``) and ``quantile`` holds 0.1, 0.5, 0.9. ``time`` is the UTC interval start. Attributes:
``origin`` (ISO, UTC), ``target``, ``units``, ``tz``, ``interval_s``.

Backtest layout (:class:`BacktestResult.forecasts`): dims ``(origin, step, series[, quantile])``
with variables ``observed``, ``gridopt`` (quantiles), ``seasonal_naive_day``,
``seasonal_naive_week`` and the 2-D coordinate ``time(origin, step)``.

:func:`gridopt.forecast.bus_demand.to_bus_demand` turns a forecast into the ``(time, bus)``
``p_mw``/``q_mvar`` Dataset the dispatch consumes.
"""

from __future__ import annotations

import dataclasses
import logging
import time as _time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError, warn
from gridopt.forecast import metrics as fm
from gridopt.forecast.estimators import QuantileBoostingRegressor
from gridopt.forecast.features import (
    FeatureMatrix,
    build_features,
    daily_origins,
    extend_time,
    steps_per_day,
)
from gridopt.forecast.options import QUANTILES, ForecastOptions, Target
from gridopt.forecast.series import (
    TOTAL_SERIES,
    align_weather,
    data_hash,
    data_timezone,
    interval_seconds,
    target_series,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainedForecaster:
    """A fitted global forecaster and the facts needed to use and audit it.

    Attributes
    ----------
    options
        The options it was trained with.
    regressor
        The fitted quantile model over the design matrix.
    feature_names
        Design-matrix columns, in order.
    weather_names
        Weather variables it expects (empty: none).
    interval_s
        Interval length of the training data in seconds.
    tz
        Local time zone used for calendar features and origins.
    series
        Series names seen in training (the model is global: other series can be forecast too).
    series_dim
        ``meter``, ``bus`` or ``total``.
    train_start, train_end
        First and last training interval start (UTC, ISO 8601).
    data_sha256
        Hash of the training target series (:func:`gridopt.forecast.series.data_hash`).
    n_train_rows
        Rows of the design matrix used for fitting.
    mase_scale
        In-sample MAE of the weekly seasonal naive forecast on the training data (kWh).
    train_seconds
        Wall time of the fit.
    """

    options: ForecastOptions
    regressor: QuantileBoostingRegressor
    feature_names: tuple[str, ...]
    weather_names: tuple[str, ...]
    interval_s: int
    tz: str
    series: tuple[str, ...]
    series_dim: str
    train_start: str
    train_end: str
    data_sha256: str
    n_train_rows: int
    mase_scale: float
    train_seconds: float


@dataclasses.dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`backtest`: forecasts per origin, metrics per model and timings."""

    forecasts: xr.Dataset
    metrics: dict[str, dict[str, float]]
    n_origins: int
    train_seconds: float
    predict_seconds: float
    model: TrainedForecaster

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: metrics, n_origins, train_seconds, predict_seconds."""
        return {
            "metrics": self.metrics,
            "n_origins": self.n_origins,
            "train_seconds": round(self.train_seconds, 3),
            "predict_seconds": round(self.predict_seconds, 3),
            "target": self.model.options.target.value,
            "aggregate": self.model.options.aggregate.value,
            "horizon_steps": self.model.options.horizon_steps,
            "series": len(self.forecasts["series"]),
        }


def _iso(value: np.datetime64) -> str:
    return pd.Timestamp(value).tz_localize("UTC").isoformat()


def _weather_matrix(
    weather: xr.Dataset | None, time: np.ndarray
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    if weather is None:
        return None, ()
    return align_weather(weather, time)


def _training_origins(
    time: np.ndarray, n_known: int, tz: str, options: ForecastOptions, per_day: int
) -> np.ndarray:
    origins = daily_origins(time[:n_known], tz, options.origin_hour)
    keep = (origins >= 7 * per_day) & (origins + options.horizon_steps <= n_known)
    return origins[keep]


def train(
    data: xr.Dataset,
    options: ForecastOptions,
    *,
    weather: xr.Dataset | None = None,
    mapping: pd.DataFrame | str | Path | None = None,
    train_end: str | pd.Timestamp | None = None,
) -> TrainedForecaster:
    """Fit the global quantile model on every daily origin of the data.

    Parameters
    ----------
    data
        Readings ``(time, meter)`` or bus data ``(time, bus)``.
    options
        Target, aggregation, horizon, origin hour, calendar and model settings.
    weather
        Optional covariates ``(time,)`` per variable (UTC), used at the target interval.
    mapping
        Meter-to-bus mapping (table or CSV) for ``aggregate=bus``.
    train_end
        Use only intervals starting before this instant (UTC if naive... see
        :func:`parse_local_time`); default all data.

    Returns
    -------
    TrainedForecaster
    """
    series = target_series(data, options.target, options.aggregate, mapping)
    tz = data_timezone(data, options.tz)
    if train_end is not None:
        cutoff = parse_local_time(train_end, tz)
        series = series.sel(time=series["time"] < cutoff)
    return _fit(series, options, tz, weather)


def _fit(
    series: xr.DataArray, options: ForecastOptions, tz: str, weather: xr.Dataset | None
) -> TrainedForecaster:
    time = series["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time)
    per_day = steps_per_day(interval_s)
    values = series.values.astype("float64")
    origins = _training_origins(time, len(time), tz, options, per_day)
    if origins.size < 10:
        raise InputError(
            f"only {origins.size} complete daily origin(s) at {options.origin_hour}:00 {tz} with a "
            f"week of history before them and {options.horizon_steps} intervals after; give at "
            "least 3 weeks of data (more is better: months)"
        )
    weather_values, weather_names = _weather_matrix(weather, time)
    matrix = build_features(
        values,
        time,
        origins,
        options,
        interval_s=interval_s,
        tz=tz,
        weather=weather_values,
        weather_names=weather_names,
    )
    valid = np.isfinite(matrix.y) & np.isfinite(matrix.scale)
    skipped = int((~valid).sum())
    if skipped:
        logger.info(
            "training: %d of %d rows have no target (missing reading) and are not fitted",
            skipped,
            valid.size,
        )
    dark = _dark_rows(matrix, options)
    valid &= ~dark
    regressor = QuantileBoostingRegressor(
        quantiles=QUANTILES,
        max_iter=options.max_iter,
        learning_rate=options.learning_rate,
        max_leaf_nodes=options.tree_size()[0],
        min_samples_leaf=options.tree_size()[1],
        l2_regularization=options.l2_regularization,
        calibration=options.calibration,
        calibration_fraction=options.calibration_fraction,
        random_state=options.random_state,
        n_threads=options.n_threads,
    )
    started = _time.perf_counter()
    regressor.fit(matrix.X[valid], matrix.y[valid])
    seconds = _time.perf_counter() - started
    return TrainedForecaster(
        options=options,
        regressor=regressor,
        feature_names=matrix.feature_names,
        weather_names=weather_names,
        interval_s=interval_s,
        tz=tz,
        series=tuple(str(s) for s in series["series"].values),
        series_dim=str(series.attrs.get("series_dim", "series")),
        train_start=_iso(time[0]),
        train_end=_iso(time[-1]),
        data_sha256=data_hash(series),
        n_train_rows=int(valid.sum()),
        mase_scale=fm.seasonal_naive_scale(values, 7 * per_day),
        train_seconds=seconds,
    )


def parse_local_time(value: str | pd.Timestamp | np.datetime64, tz: str) -> np.datetime64:
    """Parse an instant; naive values are local time in ``tz``. Returns UTC ``datetime64[ns]``."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"cannot read {value!r} as a date or time; use ISO 8601, e.g. 2014-12-01"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return np.datetime64(stamp.tz_convert("UTC").tz_localize(None).as_unit("ns"))


def _dark_rows(matrix: FeatureMatrix, options: ForecastOptions) -> np.ndarray:
    """Production rows that are certainly dark: no output at this time of day all last week
    (and the sun below the horizon, when the site is known). They are forecast as 0 and left
    out of training: a majority of exact zeros pins the median boosting model at 0 (its
    gradient vanishes on them), so it would never learn the daylight hours.
    """
    if options.target is not Target.PRODUCTION:
        return np.zeros(matrix.X.shape[0], dtype=bool)
    dark = matrix.column("prof_max") == 0.0
    if "cos_zenith" in matrix.feature_names:
        dark &= matrix.column("cos_zenith") == 0.0
    return np.asarray(dark)


def _quantile_forecast(model: TrainedForecaster, matrix: FeatureMatrix) -> np.ndarray:
    """``(n_rows, 3)`` quantile forecasts in kWh (NaN where the scale is unknown)."""
    quantiles = np.full((matrix.X.shape[0], len(QUANTILES)), np.nan)
    ok = np.isfinite(matrix.scale)
    if ok.any():
        quantiles[ok] = model.regressor.predict_quantiles(matrix.X[ok]) * matrix.scale[ok, None]
    if model.options.target is Target.PRODUCTION:
        quantiles = np.maximum(quantiles, 0.0)  # a PV system does not consume
        quantiles[_dark_rows(matrix, model.options) & ok] = 0.0
    return quantiles


def _check_compatible(
    model: TrainedForecaster, interval_s: int, weather_names: tuple[str, ...]
) -> None:
    if interval_s != model.interval_s:
        raise InputError(
            f"the data has {interval_s} s intervals but the model was trained on "
            f"{model.interval_s} s; resample the readings or train a model on this interval"
        )
    if weather_names != model.weather_names:
        raise InputError(
            f"the model expects weather variables {list(model.weather_names)} but got "
            f"{list(weather_names)}; pass the same --weather columns used in training"
        )


def predict(
    model: TrainedForecaster,
    data: xr.Dataset,
    *,
    origin: str | pd.Timestamp | None = None,
    weather: xr.Dataset | None = None,
    mapping: pd.DataFrame | str | Path | None = None,
) -> xr.Dataset:
    """Forecast ``horizon_steps`` intervals from one origin, using only data before it.

    Parameters
    ----------
    model
        A trained forecaster.
    data
        Recent readings (at least a week before the origin).
    origin
        First forecast interval (naive = local time of the model). Default: the first interval
        at ``origin_hour`` local time after the last reading.
    weather
        Covariates covering the horizon (required if the model was trained with weather).
    mapping
        Meter-to-bus mapping (table or CSV) for ``aggregate=bus``.

    Returns
    -------
    xarray.Dataset
        See the module docstring for the layout.

    Notes
    -----
    Long because it checks the origin, the weather cover and the model's compatibility before
    building the one origin's features, each with its own message.
    """
    options = model.options
    series = target_series(data, options.target, options.aggregate, mapping)
    time = series["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time)
    step = np.timedelta64(interval_s * 1_000_000_000, "ns")
    if origin is None:
        candidates = extend_time(time, interval_s, steps_per_day(interval_s))
        after = candidates[candidates > time[-1]]
        origin_utc = after[daily_origins(after, model.tz, options.origin_hour)][0]
    else:
        origin_utc = parse_local_time(origin, model.tz)
    offset = (origin_utc - time[0]) / step
    if offset != int(offset) or offset < 7 * steps_per_day(interval_s):
        raise InputError(
            f"origin {_iso(origin_utc)} is not on the interval grid of the data or has less than "
            "a week of readings before it; choose an interval start at least 7 days after "
            f"{_iso(time[0])}"
        )
    origin_pos = int(offset)
    values = series.values.astype("float64")[:origin_pos]  # nothing at or after the origin
    extra = origin_pos + options.horizon_steps - len(values)
    grid = extend_time(time[: len(values)], interval_s, extra)
    # one interval past the horizon too: the last target's next-interval weather (w_next), as
    # training and the backtest see it wherever the weather record reaches
    weather_values, weather_names = _weather_matrix(
        weather, extend_time(time[: len(values)], interval_s, extra + 1))
    _check_compatible(model, interval_s, weather_names)
    if weather_values is not None:
        horizon_weather = weather_values[origin_pos : origin_pos + options.horizon_steps]
        if np.isnan(horizon_weather).any():
            warn(
                logger,
                f"weather covers only part of the horizon from {_iso(origin_utc)}; forecasts "
                "there use no weather (extend the weather file to the end of the horizon)",
                stacklevel=2,
            )
    matrix = build_features(
        values,
        grid,
        np.array([origin_pos]),
        options,
        interval_s=interval_s,
        tz=model.tz,
        weather=weather_values,
        weather_names=weather_names,
    )
    quantiles = _quantile_forecast(model, matrix)
    n_series = values.shape[1]
    cube = quantiles.reshape(n_series, options.horizon_steps, len(QUANTILES)).transpose(1, 0, 2)
    dim = series.attrs.get("series_dim", "series")
    dim = "series" if dim == "total" else dim
    name = f"{options.target.value}_kwh"
    out = xr.Dataset(
        {
            name: (
                ("time", dim, "quantile"),
                cube,
                {"units": "kWh", "long_name": f"{options.target.value} energy per interval"},
            )
        },
        coords={
            "time": grid[origin_pos : origin_pos + options.horizon_steps],
            dim: series["series"].values,
            "quantile": np.asarray(QUANTILES),
        },
        attrs={
            "origin": _iso(origin_utc),
            "target": options.target.value,
            "aggregate": options.aggregate.value,
            "units": "kWh",
            "tz": model.tz,
            "interval_s": interval_s,
        },
    )
    return out


def backtest(
    data: xr.Dataset,
    options: ForecastOptions,
    *,
    test_start: str | pd.Timestamp,
    test_end: str | pd.Timestamp,
    weather: xr.Dataset | None = None,
    mapping: pd.DataFrame | str | Path | None = None,
) -> BacktestResult:
    """Rolling-origin backtest over daily origins at ``origin_hour``, test_start..test_end.

    The model is trained once on the data before the first origin (so every origin's training
    data precede it) and each origin's features use only readings before that origin. Seasonal
    naive forecasts (same time yesterday / last week) are scored on the same rows.

    ``test_start`` and ``test_end`` are local dates or times; a date-only ``test_end`` includes
    that whole day.

    Long because it runs the whole rolling-origin protocol in one place (one fit, every origin,
    the naive references, metrics on identical pairs), so that the protocol can be read top to
    bottom.
    """
    series = target_series(data, options.target, options.aggregate, mapping)
    tz = data_timezone(data, options.tz)
    time = series["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time)
    start = parse_local_time(test_start, tz)
    end = parse_local_time(test_end, tz)
    if isinstance(test_end, str) and len(test_end.strip()) <= 10:
        end = parse_local_time(pd.Timestamp(test_end) + pd.Timedelta(days=1), tz) - np.timedelta64(
            1, "ns"
        )
    all_origins = daily_origins(time, tz, options.origin_hour)
    origins = all_origins[(time[all_origins] >= start) & (time[all_origins] <= end)]
    origins = origins[origins + options.horizon_steps <= len(time)]
    if origins.size == 0:
        raise InputError(
            f"no daily origin at {options.origin_hour}:00 {tz} between {test_start} and {test_end} "
            f"with {options.horizon_steps} intervals of data after it; the data cover "
            f"{_iso(time[0])} .. {_iso(time[-1])}"
        )
    first = int(origins[0])
    model = _fit(series.isel(time=slice(0, first)), options, tz, weather)
    weather_values, weather_names = _weather_matrix(weather, time)
    values = series.values.astype("float64")
    started = _time.perf_counter()
    matrix = build_features(
        values,
        time,
        origins,
        options,
        interval_s=interval_s,
        tz=tz,
        weather=weather_values,
        weather_names=weather_names,
    )
    quantiles = _quantile_forecast(model, matrix)
    predict_seconds = _time.perf_counter() - started
    observed = matrix.y * matrix.scale
    naive_day = matrix.column("lag_day") * matrix.scale
    naive_week = matrix.column("lag_week") * matrix.scale
    scale = model.mase_scale
    metrics: dict[str, dict[str, float]] = {
        "gridopt": {
            "mae": fm.mae(observed, quantiles[:, 1]),
            "rmse": fm.rmse(observed, quantiles[:, 1]),
            "mase": fm.mase(observed, quantiles[:, 1], scale),
            "pinball_p10": fm.pinball(observed, quantiles[:, 0], 0.1),
            "pinball_p90": fm.pinball(observed, quantiles[:, 2], 0.9),
            "coverage_p10_p90": fm.coverage(observed, quantiles[:, 0], quantiles[:, 2]),
        }
    }
    for name, forecast in (("seasonal_naive_day", naive_day), ("seasonal_naive_week", naive_week)):
        metrics[name] = {
            "mae": fm.mae(observed, forecast),
            "rmse": fm.rmse(observed, forecast),
            "mase": fm.mase(observed, forecast, scale),
        }
    n_series = values.shape[1]
    shape = (origins.size, n_series, options.horizon_steps)

    def cube(flat: np.ndarray) -> np.ndarray:
        return flat.reshape(shape).transpose(0, 2, 1)

    forecasts = xr.Dataset(
        {
            "observed": (("origin", "step", "series"), cube(observed)),
            "gridopt": (
                ("origin", "step", "series", "quantile"),
                quantiles.reshape(*shape, len(QUANTILES)).transpose(0, 2, 1, 3),
            ),
            "seasonal_naive_day": (("origin", "step", "series"), cube(naive_day)),
            "seasonal_naive_week": (("origin", "step", "series"), cube(naive_week)),
        },
        coords={
            "origin": time[origins],
            "step": np.arange(1, options.horizon_steps + 1),
            "series": series["series"].values,
            "quantile": np.asarray(QUANTILES),
            "time": (
                ("origin", "step"),
                time[origins[:, None] + np.arange(options.horizon_steps)[None, :]],
            ),
        },
        attrs={"units": "kWh", "target": options.target.value, "tz": tz, "interval_s": interval_s},
    )
    return BacktestResult(
        forecasts=forecasts,
        metrics=metrics,
        n_origins=int(origins.size),
        train_seconds=model.train_seconds,
        predict_seconds=predict_seconds,
        model=model,
    )


__all__ = [
    "TOTAL_SERIES",
    "BacktestResult",
    "TrainedForecaster",
    "backtest",
    "parse_local_time",
    "predict",
    "train",
]
