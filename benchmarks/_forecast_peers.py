"""Peers of the forecast benchmark: skforecast and mlforecast set up as their users would.

Both peers get exactly the exogenous inputs gridopt's design matrix uses
(:func:`gridopt.forecast.features.build_features`), built here by :func:`exog_frame` from the same
functions: the calendar at the target interval (``hour``, ``weekday``, ``holiday``, ``doy_sin``,
``doy_cos``), every weather column ``w`` at the target interval, one interval ahead (``w_next``)
and one day earlier (``w_lag_day``, gridopt's ``lag_day`` position for a day-ahead horizon), and,
with a site position, ``cos_zenith`` at the middle of the target interval and one day earlier.
Weather is the observed record (a perfect weather forecast) for every model alike.

- skforecast: ``ForecasterRecursiveMultiSeries`` (one global model over all meters, the
  library's recommendation for many series; one series for vic), LightGBM with L1 loss (the
  median, as gridopt's P50), lags 1..24 and the same hour of the 6 days before (48..168),
  ``RollingFeatures`` mean/std/min/max over 24 h and mean over 168 h, ``StandardScaler`` per
  series. P10/P90: skforecast's conformal intervals from *out-of-sample* residuals (binned by
  predicted value) measured on the validation window by the chosen model, the procedure its
  documentation prescribes for calibrated intervals; the validation run itself has no interval.
- mlforecast: ``MLForecast`` with three LightGBM quantile models (alpha 0.1, 0.5, 0.9), lags at
  the same hour of the last 7 days (24..168, all known over a day-ahead horizon, so no quantile
  model feeds its own forecasts back), lag transforms on lag 24 matching gridopt's profile
  features (rolling mean/std over 24 h, seasonal rolling mean/max/min/std over 7 days),
  ``LocalStandardScaler`` per series, exogenous columns as dynamic features (future values
  passed as ``X_df`` at prediction, as its documentation prescribes). Quantiles are sorted per
  row (no crossing), as gridopt does.

Each runner fits once on the intervals before ``fit_end`` (timed: training includes the
library's own feature construction) and then forecasts ``horizon`` intervals from every origin
with only the readings before that origin (timed separately). Production forecasts are clipped
at 0 for every model.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.forecast.features import calendar_features, cos_solar_zenith
from gridopt.forecast.options import QUANTILES

#: skforecast lags: the last day hour by hour plus the same hour of the 6 days before.
SK_LAGS = [*range(1, 25), 48, 72, 96, 120, 144, 168]
#: mlforecast lags: the same hour of the last 7 days (all known from a 00:00 day-ahead origin).
ML_LAGS = [24, 48, 72, 96, 120, 144, 168]


@dataclasses.dataclass(frozen=True)
class LgbmSettings:
    """LightGBM settings searched on the validation window (learning rate 0.05 throughout)."""

    num_leaves: int
    n_estimators: int
    learning_rate: float = 0.05

    def label(self) -> str:
        """Short name for tables."""
        return f"leaves={self.num_leaves}, trees={self.n_estimators}"


#: The small validation grid of both peers.
LGBM_GRID = (
    LgbmSettings(15, 300),
    LgbmSettings(15, 800),
    LgbmSettings(63, 300),
    LgbmSettings(63, 800),
)


@dataclasses.dataclass
class PeerRun:
    """Forecasts ``(n_origin, horizon, n_series, 3)`` (P10, P50, P90; NaN if none) and timings."""

    quantiles: np.ndarray
    train_seconds: float
    predict_seconds: float


def exog_frame(
    time_utc: np.ndarray,
    tz: str,
    weather: xr.Dataset,
    country: str,
    subdivision: str | None,
    latitude_deg: float | None = None,
    longitude_deg: float | None = None,
) -> pd.DataFrame:
    """Exogenous columns identical to gridopt's non-target features, on the hourly UTC grid."""
    index = pd.DatetimeIndex(time_utc, freq="h")
    cal = calendar_features(np.asarray(time_utc), tz, country, subdivision)
    frame = pd.DataFrame(
        cal, index=index, columns=["hour", "weekday", "holiday", "doy_sin", "doy_cos"]
    )
    day = 24
    for name in weather.data_vars:
        values = pd.Series(weather[name].to_series().reindex(index).to_numpy(), index=index)
        frame[str(name)] = values
        frame[f"{name}_next"] = values.shift(-1)
        frame[f"{name}_lag_day"] = values.shift(day)
    if latitude_deg is not None and longitude_deg is not None:
        mid = np.asarray(time_utc) + np.timedelta64(1800, "s")
        cosz = pd.Series(cos_solar_zenith(mid, latitude_deg, longitude_deg), index=index)
        frame["cos_zenith"] = cosz
        frame["cos_zenith_lag_day"] = cosz.shift(day)
    return frame


def _lgbm(settings: LgbmSettings, threads: int, **objective: Any) -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(
        n_estimators=settings.n_estimators,
        learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves,
        random_state=0,
        verbose=-1,
        n_jobs=threads,
        **objective,
    )


def skforecast_run(
    y_wide: pd.DataFrame,
    exog: pd.DataFrame,
    fit_end: int,
    origins: np.ndarray,
    horizon: int,
    settings: LgbmSettings,
    threads: int,
    residuals: tuple[dict[str, pd.Series], dict[str, pd.Series]] | None = None,
) -> PeerRun:
    """skforecast global recursive LightGBM; P10/P90 only with out-of-sample ``residuals``."""
    from skforecast.preprocessing import RollingFeatures
    from skforecast.recursive import ForecasterRecursiveMultiSeries
    from sklearn.preprocessing import StandardScaler

    forecaster = ForecasterRecursiveMultiSeries(
        estimator=_lgbm(settings, threads, objective="l1"),
        lags=SK_LAGS,
        window_features=RollingFeatures(
            stats=["mean", "std", "min", "max", "mean"], window_sizes=[24, 24, 24, 24, 168]
        ),
        encoding="ordinal",
        transformer_series=StandardScaler(),
    )
    names = [str(c) for c in y_wide.columns]
    out = np.full((origins.size, horizon, len(names), len(QUANTILES)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        forecaster.fit(series=y_wide.iloc[:fit_end], exog=exog.iloc[:fit_end])
        train_seconds = time.perf_counter() - started
        if residuals is not None:
            forecaster.set_out_sample_residuals(y_true=residuals[0], y_pred=residuals[1])
        window = int(forecaster.window_size)
        started = time.perf_counter()
        for k, o in enumerate(origins):
            last_window = y_wide.iloc[o - window : o]
            future = exog.iloc[o : o + horizon]
            if residuals is None:
                pred = forecaster.predict(steps=horizon, last_window=last_window, exog=future)
                columns = {"pred": 1}
            else:
                pred = forecaster.predict_interval(
                    steps=horizon,
                    last_window=last_window,
                    exog=future,
                    method="conformal",
                    interval=[0.1, 0.9],
                    use_in_sample_residuals=False,
                    use_binned_residuals=True,
                )
                columns = {"lower_bound": 0, "pred": 1, "upper_bound": 2}
            for j, name in enumerate(names):
                rows = pred[pred["level"] == name]
                for column, q in columns.items():
                    out[k, :, j, q] = rows[column].to_numpy()
        predict_seconds = time.perf_counter() - started
    return PeerRun(out, train_seconds, predict_seconds)


def residuals_of(
    y_wide: pd.DataFrame, origins: np.ndarray, horizon: int, median: np.ndarray
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    """``(y_true, y_pred)`` per series of validation forecasts, for conformal intervals."""
    y_true: dict[str, pd.Series] = {}
    y_pred: dict[str, pd.Series] = {}
    rows = (origins[:, None] + np.arange(horizon)[None, :]).ravel()
    for j, name in enumerate(y_wide.columns):
        observed = y_wide.iloc[rows, j].to_numpy()
        forecast = median[:, :, j].ravel()
        ok = np.isfinite(observed) & np.isfinite(forecast)
        y_true[str(name)] = pd.Series(observed[ok])
        y_pred[str(name)] = pd.Series(forecast[ok])
    return y_true, y_pred


def _long(y_wide: pd.DataFrame, rows: slice, exog: pd.DataFrame | None) -> pd.DataFrame:
    part = y_wide.iloc[rows]
    frame = (
        part.rename_axis("ds")
        .reset_index()
        .melt(id_vars="ds", var_name="unique_id", value_name="y")
    )
    if exog is not None:
        frame = frame.merge(exog.iloc[rows].rename_axis("ds").reset_index(), on="ds")
    return frame[["unique_id", "ds", *[c for c in frame.columns if c not in ("unique_id", "ds")]]]


def mlforecast_run(
    y_wide: pd.DataFrame,
    exog: pd.DataFrame,
    fit_end: int,
    origins: np.ndarray,
    horizon: int,
    settings: LgbmSettings,
    threads: int,
) -> PeerRun:
    """mlforecast global LightGBM quantile models (P10, P50, P90)."""
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import (
        RollingMean,
        RollingStd,
        SeasonalRollingMax,
        SeasonalRollingMean,
        SeasonalRollingMin,
        SeasonalRollingStd,
    )
    from mlforecast.target_transforms import LocalStandardScaler

    models = {
        f"q{round(100 * q)}": _lgbm(settings, threads, objective="quantile", alpha=q)
        for q in QUANTILES
    }
    forecaster = MLForecast(
        models=models,
        freq="h",
        lags=ML_LAGS,
        lag_transforms={
            24: [
                RollingMean(window_size=24),
                RollingStd(window_size=24),
                SeasonalRollingMean(season_length=24, window_size=7),
                SeasonalRollingMax(season_length=24, window_size=7),
                SeasonalRollingMin(season_length=24, window_size=7),
                SeasonalRollingStd(season_length=24, window_size=7),
            ]
        },
        target_transforms=[LocalStandardScaler()],
        num_threads=threads,
    )
    names = [str(c) for c in y_wide.columns]
    position = {name: j for j, name in enumerate(names)}
    out = np.full((origins.size, horizon, len(names), len(QUANTILES)), np.nan)
    train = _long(y_wide, slice(0, fit_end), exog)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        forecaster.fit(train, static_features=[], keep_last_n=24 * 10)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        known = fit_end
        for k, o in enumerate(origins):
            if o < known:
                raise ValueError("origins must not precede the data already given to mlforecast")
            if o > known:
                forecaster.update(_long(y_wide, slice(known, int(o)), None))
                known = int(o)
            future = _long(y_wide, slice(int(o), int(o) + horizon), exog).drop(columns="y")
            pred = forecaster.predict(h=horizon, X_df=future)
            pred = pred.sort_values(["unique_id", "ds"])
            for name, rows in pred.groupby("unique_id", sort=False):
                j = position[str(name)]
                for q, key in enumerate(models):
                    out[k, :, j, q] = rows[key].to_numpy()
        predict_seconds = time.perf_counter() - started
    out = np.sort(out, axis=-1)
    return PeerRun(out, train_seconds, predict_seconds)


def versions() -> dict[str, str]:
    """Versions of the libraries compared."""
    import importlib.metadata as md

    names = ["gridopt", "scikit-learn", "lightgbm", "skforecast", "mlforecast", "numpy", "pandas"]
    return {name: md.version(name) for name in names}
