"""Feature matrices for direct multi-horizon forecasting: pure functions over arrays.

One row per (origin, series, step): the forecast of series ``s`` for the interval
``t = o + h - 1`` (step ``h = 1..H``) made at origin ``o`` (the first forecast interval), using only
intervals ``< o``. Rows are ordered origin-major, then series, then step, so the latest origins
are the last rows (the conformal calibration relies on it).

The target and all level features are divided by a per-(origin, series) scale, the mean absolute
value of the series over the ``history_days`` before the origin. One model then serves homes of
1 kW and feeders of 1 MW alike (a *global* model); forecasts are multiplied back. For PV
production the scale of each row is the clear-sky envelope instead: the highest output at the
same time of day over the last ``history_days`` days (floored at 10 % of the series level), so the
model forecasts a clear-sky index.

Features (``feature_names`` lists them in column order):

- ``step``: horizon step ``h``;
- calendar at the target interval (local time): ``hour`` (fractional), ``weekday`` (0 = Monday),
  ``holiday`` (0/1, ``holidays`` package), ``doy_sin``/``doy_cos`` (season);
- ``lag_day``/``lag_week``: the value at the same time on the latest available day / week
  (``t - P*ceil(h/P)`` for ``P`` intervals per day) - the seasonal naive forecasts;
- ``prof_mean``/``prof_max``/``prof_min``/``prof_std``: statistics over the same time of day of
  the last ``history_days`` available days (for PV ``prof_max`` is the clear-sky envelope);
- ``last``, ``day_mean``, ``day_std``: the last value and the mean/std of the last day;
- ``log_scale``: the series level (series-level feature of the global model);
- for every weather variable ``w``: ``w`` at the target interval, ``w_next`` at the next one
  (hourly weather is often stamped at the end of its hour) and ``w_lag_day`` at the ``lag_day``
  interval (so the model can relate the change in weather to the change since that day);
- with a site position: ``cos_zenith`` at the middle of the target interval and
  ``cos_zenith_lag_day``.

All functions take and return NumPy arrays, never mutate their inputs and hold no state, so a
Dask ``map_blocks`` over series chunks can call them unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np
import pandas as pd

from gridopt.errors import InputError
from gridopt.forecast.options import ForecastOptions, Target

CALENDAR_FEATURES = ("hour", "weekday", "holiday", "doy_sin", "doy_cos")
LAG_FEATURES = (
    "lag_day",
    "lag_week",
    "prof_mean",
    "prof_max",
    "prof_min",
    "prof_std",
    "last",
    "day_mean",
    "day_std",
    "log_scale",
)


@dataclasses.dataclass(frozen=True)
class FeatureMatrix:
    """Design matrix of a set of origins.

    Attributes
    ----------
    X
        ``(n_rows, n_features)`` float64.
    feature_names
        Column names of ``X``.
    y
        Target divided by ``scale`` (NaN where the reading is missing or in the future).
    scale
        Per-row scale (kWh per interval); multiply normalised forecasts by it.
    origin, series, step, time
        Integer positions: origin index on the time grid, series column, step ``h`` (1-based) and
        target index on the time grid.
    """

    X: np.ndarray
    feature_names: tuple[str, ...]
    y: np.ndarray
    scale: np.ndarray
    origin: np.ndarray
    series: np.ndarray
    step: np.ndarray
    time: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """Return one feature column by name."""
        return self.X[:, self.feature_names.index(name)]


def steps_per_day(interval_s: int) -> int:
    """Number of intervals in a day."""
    return 86_400 // interval_s


def extend_time(time: np.ndarray, interval_s: int, extra_steps: int) -> np.ndarray:
    """Return the time grid extended by ``extra_steps`` future intervals."""
    if extra_steps <= 0:
        return np.asarray(time, dtype="datetime64[ns]")
    step = np.timedelta64(interval_s * 1_000_000_000, "ns")
    future = time[-1] + step * np.arange(1, extra_steps + 1)
    return np.concatenate([np.asarray(time, dtype="datetime64[ns]"), future])


def local_index(time: np.ndarray, tz: str) -> pd.DatetimeIndex:
    """Convert UTC interval starts to local time."""
    try:
        return pd.DatetimeIndex(time).tz_localize("UTC").tz_convert(tz)
    except Exception as exc:  # pytz / zoneinfo raise several types
        raise InputError(
            f"unknown time zone {tz!r}; give an IANA name such as 'Australia/Melbourne'"
        ) from exc


def daily_origins(time: np.ndarray, tz: str, origin_hour: int) -> np.ndarray:
    """Positions on the grid whose local time is ``origin_hour:00`` (one per local day)."""
    local = local_index(time, tz)
    mask = (local.hour == origin_hour) & (local.minute == 0) & (local.second == 0)
    return np.flatnonzero(np.asarray(mask))


@functools.lru_cache(maxsize=64)
def _holiday_dates(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> frozenset[object]:
    import holidays

    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError as exc:
        raise InputError(
            f"the holidays package knows no country {country!r}"
            + (f" with subdivision {subdivision!r}" if subdivision else "")
            + "; give an ISO 3166 code such as 'AU' (and e.g. --subdivision VIC)"
        ) from exc
    return frozenset(table.keys())


def calendar_features(
    time: np.ndarray, tz: str, country: str | None, subdivision: str | None = None
) -> np.ndarray:
    """Calendar features of interval starts, shape ``(len(time), 5)`` (``CALENDAR_FEATURES``)."""
    local = local_index(time, tz)
    hour = np.asarray(local.hour + local.minute / 60.0, dtype="float64")
    weekday = np.asarray(local.weekday, dtype="float64")
    holiday = np.zeros(len(local))
    if country:
        years = tuple(sorted({int(y) for y in np.unique(local.year)}))
        dates = _holiday_dates(country, subdivision, years)
        holiday = np.asarray([d in dates for d in local.date], dtype="float64")
    angle = 2.0 * np.pi * (np.asarray(local.dayofyear, dtype="float64") - 1.0) / 365.25
    return np.column_stack([hour, weekday, holiday, np.sin(angle), np.cos(angle)])


def cos_solar_zenith(time: np.ndarray, latitude_deg: float, longitude_deg: float) -> np.ndarray:
    r"""Cosine of the solar zenith angle at UTC instants (clipped at 0 below the horizon).

    Uses the NOAA low-accuracy formulas (Spencer's Fourier series, error < 0.5 degree):

    .. math::

        \gamma = \tfrac{2\pi}{365}(d - 1 + \tfrac{h - 12}{24}),\quad
        \cos\theta_z = \sin\varphi\sin\delta + \cos\varphi\cos\delta\cos\omega

    with declination :math:`\delta(\gamma)`, equation of time :math:`E(\gamma)` in minutes and
    hour angle :math:`\omega = (t_\mathrm{UTC} + 4\lambda + E)/4 - 180` degrees.
    """
    index = pd.DatetimeIndex(time)
    hour = np.asarray(index.hour + index.minute / 60.0 + index.second / 3600.0, dtype="float64")
    gamma = (
        2.0
        * np.pi
        / 365.0
        * (np.asarray(index.dayofyear, dtype="float64") - 1.0 + (hour - 12.0) / 24.0)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    solar_minutes = hour * 60.0 + eqtime + 4.0 * longitude_deg
    hour_angle = np.deg2rad(solar_minutes / 4.0 - 180.0)
    lat = math.radians(latitude_deg)
    cosz = math.sin(lat) * np.sin(decl) + math.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return np.clip(cosz, 0.0, None)


def _take(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values[rows, cols]`` with NaN where ``rows`` falls outside the array."""
    inside = (rows >= 0) & (rows < values.shape[0])
    out = np.full(rows.shape, np.nan)
    out[inside] = values[rows[inside], cols[inside]]
    return out


def history_window(
    values: np.ndarray, pair_o: np.ndarray, pair_s: np.ndarray, window: int
) -> np.ndarray:
    """``(n_pairs, window)``: the ``window`` values before each origin, latest first (NaN
    before the start of the data)."""
    offsets = np.arange(1, window + 1)
    return _take(
        values,
        pair_o[:, None] - offsets[None, :],
        np.broadcast_to(pair_s[:, None], (pair_o.size, window)),
    )


def scale_floors(mean_abs: np.ndarray) -> np.ndarray:
    """Per-origin floor of the series scale from ``(n_origins, n_series)`` mean absolute values.

    A near-silent meter (broken PV) must not blow up its ratios: the scale is floored at 5 % of
    the median series at the same origin (only data before the origin is involved); 1e-6 where
    no series has data.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN origins
        floor = 0.05 * np.nanmedian(mean_abs, axis=1)
    return np.where(np.isfinite(floor) & (floor > 0), floor, 1e-6)


def feature_names(options: ForecastOptions, weather_names: tuple[str, ...]) -> tuple[str, ...]:
    """Column names of the design matrix for these options and weather variables."""
    names = ["step", *CALENDAR_FEATURES, *LAG_FEATURES]
    for name in weather_names:
        names += [name, f"{name}_next", f"{name}_lag_day"]
    if options.latitude_deg is not None:
        names += ["cos_zenith", "cos_zenith_lag_day"]
    return tuple(names)


def build_features(
    values: np.ndarray,
    time: np.ndarray,
    origins: np.ndarray,
    options: ForecastOptions,
    *,
    interval_s: int,
    tz: str,
    weather: np.ndarray | None = None,
    weather_names: tuple[str, ...] = (),
    series: np.ndarray | None = None,
    scale_floor: np.ndarray | None = None,
) -> FeatureMatrix:
    """Build the design matrix of the given origins (or of given (origin, series) pairs).

    Parameters
    ----------
    values
        ``(n_time, n_series)`` target energy per interval (NaN where missing). Values at or after
        an origin are used only as that origin's targets ``y``, never as features.
    time
        ``(n_time + n_future,)`` UTC interval starts; may extend past ``values`` so that
        calendar, weather and solar features exist for future targets.
    origins
        Positions on ``time`` of the first forecast interval of each origin.
    options
        Horizon, history length, calendar and site settings.
    interval_s
        Interval length in seconds.
    tz
        Local time zone of the calendar.
    weather
        ``(len(time), n_weather)`` covariates aligned to ``time`` (NaN where unknown), or one
        row more: the interval after the grid, whose values are the last target's ``w_next``.
    weather_names
        Names of the weather columns.
    series
        Optional column of ``values`` per entry of ``origins``: build the rows of these
        ``(origin, series)`` pairs only, in the given order, instead of every series at every
        origin (a fleet's row budget, :mod:`gridopt.forecast.fleet`).
    scale_floor
        Floor of the scale per pair (required with ``series``; :func:`scale_floors` of the
        whole fleet at each origin). Default: computed from all columns of ``values``.

    Returns
    -------
    FeatureMatrix

    Notes
    -----
    Long because it assembles the feature matrix column family by column family in the order the
    model stores (calendar, lags, rolling windows, weather, solar geometry); splitting it would
    scatter that order.
    """
    n_series = values.shape[1]
    horizon = options.horizon_steps
    per_day = steps_per_day(interval_s)
    history = options.history_days
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and int(origins.max()) + horizon > len(time):
        raise InputError("an origin's horizon runs past the time grid; extend the grid first")
    if weather is not None and (weather.shape[0] not in (len(time), len(time) + 1)
                                or weather.shape[1:] != (len(weather_names),)):
        raise InputError(
            f"weather covariates have shape {weather.shape}; "
            f"expected {(len(time), len(weather_names))} (or one more row: the interval after "
            "the grid, for the last target's next-interval weather)"
        )

    if series is None:  # every series at every origin, origin-major
        pair_o = np.repeat(origins, n_series)
        pair_s = np.tile(np.arange(n_series), origins.size)
    else:  # only the given (origin, series) pairs, in the given order
        pair_o = origins
        pair_s = np.asarray(series, dtype=np.int64)
        if pair_s.shape != origins.shape:
            raise InputError("series must give one column per origin (one (origin, series) pair)")
    pair_pos = np.repeat(np.arange(pair_o.size), horizon)
    h = np.tile(np.arange(1, horizon + 1), pair_o.size)
    o = pair_o[pair_pos]
    s = pair_s[pair_pos]
    t = o + h - 1

    # per (origin, series) statistics over the history window, computed once per pair
    hist = history_window(values, pair_o, pair_s, history * per_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows give NaN features
        mean_abs = np.nanmean(np.abs(hist), axis=1)
        last_day = hist[:, :per_day]
        day_mean = np.nanmean(last_day, axis=1)
        day_std = np.nanstd(last_day, axis=1)
    if scale_floor is None:
        if series is not None:
            raise InputError("(origin, series) pairs need their scale_floor (scale_floors())")
        pair_floor = np.repeat(scale_floors(mean_abs.reshape(origins.size, n_series)), n_series)
    else:
        pair_floor = np.asarray(scale_floor, dtype="float64")
        if pair_floor.shape != pair_o.shape:
            raise InputError("scale_floor must give one floor per (origin, series) pair")
    pair_scale = np.where(np.isfinite(mean_abs), np.maximum(mean_abs, pair_floor), np.nan)
    scale = pair_scale[pair_pos]

    days_back = -(-h // per_day)  # ceil(h / P): the latest day whose same time is known
    lag_day_idx = t - per_day * days_back
    weeks_back = -(-h // (7 * per_day))
    lag_week_idx = t - 7 * per_day * weeks_back
    lag_day = _take(values, lag_day_idx, s)
    lag_week = _take(values, lag_week_idx, s)
    prof = np.column_stack(
        [_take(values, t - per_day * (days_back + k), s) for k in range(history)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prof_mean = np.nanmean(prof, axis=1)
        prof_max = np.nanmax(prof, axis=1)
        prof_min = np.nanmin(prof, axis=1)
        prof_std = np.nanstd(prof, axis=1)
    series_scale = scale
    if options.target is Target.PRODUCTION:
        # PV: normalise by the clear-sky envelope of this time of day (the best output of the
        # last days), floored at 10 % of the series level: the target becomes a clear-sky index
        # that weather explains the same way at every hour and season
        envelope = np.where(np.isfinite(prof_max), prof_max, 0.0)
        scale = np.where(np.isfinite(scale), np.maximum(envelope, 0.1 * scale), np.nan)
    last = _take(values, o - 1, s)

    cal = calendar_features(time, tz, options.country, options.subdivision)
    columns = [h.astype("float64"), *(cal[t, k] for k in range(cal.shape[1]))]
    columns += [
        lag_day / scale,
        lag_week / scale,
        prof_mean / scale,
        prof_max / scale,
        prof_min / scale,
        prof_std / scale,
        last / scale,
        day_mean[pair_pos] / scale,
        day_std[pair_pos] / scale,
        np.log(series_scale),
    ]
    if weather is not None:
        lag_inside = lag_day_idx >= 0
        for k in range(weather.shape[1]):
            lagged = np.full(t.shape, np.nan)
            lagged[lag_inside] = weather[lag_day_idx[lag_inside], k]
            ahead = np.full(t.shape, np.nan)
            inside = t + 1 < weather.shape[0]
            ahead[inside] = weather[t[inside] + 1, k]
            columns += [weather[t, k], ahead, lagged]
    if options.latitude_deg is not None and options.longitude_deg is not None:
        mid = time + np.timedelta64(interval_s * 500_000_000, "ns")
        cosz = cos_solar_zenith(mid, options.latitude_deg, options.longitude_deg)
        columns += [cosz[t], np.where(lag_day_idx >= 0, cosz[np.maximum(lag_day_idx, 0)], np.nan)]
    X = np.column_stack(columns) if columns else np.empty((0, 0))
    y = _take(values, t, s) / scale
    return FeatureMatrix(
        X=X,
        feature_names=feature_names(options, weather_names),
        y=y,
        scale=scale,
        origin=o,
        series=s,
        step=h,
        time=t,
    )
