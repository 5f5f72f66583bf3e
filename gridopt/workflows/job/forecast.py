"""Forecast stage of the planning job: bus demand of the next horizon from the readings.

Per-meter consumption (and PV production) models trained with :func:`gridopt.forecast.train`
on the readings before ``now``, P10/P50/P90 for the next ``horizon_steps`` intervals from
:func:`gridopt.forecast.predict`, mapped onto buses with :func:`gridopt.forecast.to_bus_demand`,
scored against the readings of the horizon when they are known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.workflows.job.result import ForecastMetrics, Progress, iso_utc

if TYPE_CHECKING:
    from gridopt.forecast import ForecastOptions, Target
    from gridopt.workflows.jobconfig import JobConfig


def forecast_origin(
    data: xr.Dataset, now_utc: pd.Timestamp, tz: str, origin_hour: int
) -> np.datetime64:
    """First interval start on the data's grid at or after ``now`` at ``origin_hour`` local."""
    from gridopt.forecast.features import daily_origins, extend_time, steps_per_day
    from gridopt.forecast.series import interval_seconds

    time_utc = data["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time_utc)
    step = np.timedelta64(interval_s, "s")
    now64 = np.datetime64(now_utc.tz_localize(None).as_unit("ns"))
    ahead = int(np.ceil((now64 - time_utc[-1]) / step)) + 2 * steps_per_day(interval_s)
    grid = extend_time(time_utc, interval_s, max(ahead, 0))
    candidates = grid[grid >= now64]
    if candidates.size == 0:
        raise InputError(f"--now {iso_utc(now_utc)} lies before the readings' grid")
    positions = daily_origins(candidates, tz, origin_hour)
    if positions.size == 0:
        raise InputError(
            f"no interval starts at {origin_hour}:00 {tz} after --now {iso_utc(now_utc)}; check "
            "[forecast] origin_hour and [readings] tz"
        )
    return np.datetime64(candidates[positions[0]], "ns")


def _has_production(data: xr.Dataset) -> bool:
    if "production_kwh" not in data:
        return False
    values = data["production_kwh"].values
    return bool(np.nansum(values) > 0)


def _score(
    observed: np.ndarray, quantiles: np.ndarray, scale: float, unit: str
) -> dict[str, float | int]:
    from gridopt.forecast import metrics as fm

    p10, p50, p90 = quantiles[..., 0], quantiles[..., 1], quantiles[..., 2]
    return {
        f"mae_{unit}": fm.mae(observed, p50),
        f"rmse_{unit}": fm.rmse(observed, p50),
        "mase": fm.mase(observed, p50, scale),
        f"pinball_p10_{unit}": fm.pinball(observed, p10, 0.1),
        f"pinball_p90_{unit}": fm.pinball(observed, p90, 0.9),
        "coverage_p10_p90": fm.coverage(observed, p10, p90),
        "values": int(np.isfinite(observed).sum()),
    }


def _history(data: xr.Dataset, now_utc: pd.Timestamp, train_days: int) -> xr.Dataset:
    """The readings before ``now`` (the last ``train_days`` days of them when non-zero)."""
    now64 = np.datetime64(now_utc.tz_localize(None).as_unit("ns"))
    history = data.sel(time=data["time"] < now64)
    if train_days:
        start = np.datetime64(now_utc.tz_localize(None) - pd.Timedelta(days=train_days), "ns")
        history = history.sel(time=history["time"] >= start)
    if history.sizes["time"] == 0:
        raise InputError(
            f"no readings before --now {iso_utc(now_utc)}: the readings cover "
            f"{iso_utc(data['time'].values[0])} .. {iso_utc(data['time'].values[-1])}"
        )
    return history


def _predict_targets(
    history: xr.Dataset,
    base: ForecastOptions,
    targets: list[Target],
    origin_local: pd.Timestamp,
    weather: xr.Dataset | None,
    say: Progress,
) -> tuple[dict[str, xr.Dataset], dict[str, float]]:
    """Train and predict every target; return the forecasts and MASE scales by target name."""
    from gridopt.forecast import predict, train

    forecasts: dict[str, xr.Dataset] = {}
    scales: dict[str, float] = {}
    for target in targets:
        options_t = dataclasses.replace(base, target=target)
        say(f"forecast: training the {target.value} model")
        model = train(history, options_t, weather=weather)
        say(f"forecast: predicting {target.value} from {origin_local:%Y-%m-%d %H:%M} "
            f"{base.tz}")
        forecasts[target.value] = predict(
            model, history, origin=origin_local.isoformat(), weather=weather
        )
        scales[target.value] = model.mase_scale
    return forecasts, scales


def _on_buses(forecasts: dict[str, xr.Dataset], table: pd.DataFrame) -> xr.Dataset:
    """Per-meter quantiles, P50 per bus (the dispatch input) and feeder totals per quantile."""
    from gridopt.forecast import to_bus_demand

    cons = forecasts["consumption"]
    bus = to_bus_demand(cons, mapping=table)
    out = xr.Dataset(
        {
            "consumption_kwh": cons["consumption_kwh"],
            "p_mw": bus["p_mw"].assign_attrs(long_name="P50 consumption per bus (dispatch input)"),
            "q_mvar": bus["q_mvar"].assign_attrs(long_name="P50 reactive demand per bus"),
        }
    )
    quantiles = cons["quantile"].values

    def totals(fc: xr.Dataset) -> xr.DataArray:
        per_q = [to_bus_demand(fc, quantile=float(q), mapping=table)["p_mw"].sum("bus")
                 for q in quantiles]
        return xr.concat(per_q, dim=xr.DataArray(quantiles, dims="quantile", name="quantile"))

    out["consumption_total_mw"] = totals(cons).transpose("time", "quantile").assign_attrs(
        units="MW", long_name="feeder consumption: sum over buses of the mapped quantiles")
    if "production" in forecasts:
        prod = forecasts["production"]
        out["production_kwh"] = prod["production_kwh"]
        out["pv_p_mw"] = to_bus_demand(prod, mapping=table)["p_mw"].assign_attrs(
            units="MW", long_name="P50 PV production per bus (dispatch input)")
        out["production_total_mw"] = totals(prod).transpose("time", "quantile").assign_attrs(
            units="MW", long_name="feeder PV production: sum over buses of the mapped quantiles")
    return out


def _add_actuals(
    out: xr.Dataset,
    data: xr.Dataset,
    forecasts: dict[str, xr.Dataset],
    scales: dict[str, float],
    table: pd.DataFrame,
    interval_s: int,
) -> ForecastMetrics:
    """Add the readings of the horizon to ``out`` (``*_actual``) and score the forecast.

    Returns the metrics, empty when no reading of the horizon is known.
    """
    from gridopt.forecast import to_bus_demand

    metrics: ForecastMetrics = {}
    actual = data.reindex(time=forecasts["consumption"]["time"].values)
    if not bool(np.isfinite(actual["consumption_kwh"].values).any()):
        return metrics
    for name in forecasts:
        var = f"{name}_kwh"
        observed = actual[var].transpose("time", "meter").reindex(meter=out["meter"])
        out[f"{var}_actual"] = observed
        single = xr.Dataset({var: observed}, attrs={"interval_s": interval_s})
        total = to_bus_demand(single, mapping=table)["p_mw"].sum("bus", min_count=1)
        out[f"{name}_total_actual_mw"] = total.assign_attrs(units="MW")
        q = out[var].transpose("time", "meter", "quantile").values
        metrics[name] = _score(observed.values, q, scales[name], "kwh")
    net_q = out["consumption_total_mw"].values.copy()
    net_obs = out["consumption_total_actual_mw"].values.copy()
    if "production" in forecasts:
        # Net demand quantiles: consumption quantile q minus production quantile 1 - q.
        net_q = net_q - out["production_total_mw"].values[:, ::-1]
        net_obs = net_obs - out["production_total_actual_mw"].values
    feeder = _score(net_obs, net_q, np.nan, "mw")
    feeder.pop("mase")
    metrics["feeder_net"] = feeder
    metrics["horizon_intervals_known"] = int(np.isfinite(net_obs).sum())
    return metrics


def forecast_horizon(
    data: xr.Dataset,
    mapping: str | Path | pd.DataFrame,
    now: str | pd.Timestamp,
    *,
    tz: str | None = None,
    horizon_steps: int = 24,
    origin_hour: int = 0,
    train_days: int = 0,
    production: bool = True,
    weather: xr.Dataset | None = None,
    options: Mapping[str, object] | None = None,
    progress: Progress | None = None,
) -> tuple[xr.Dataset, ForecastMetrics]:
    """Forecast the bus demand of the next horizon from readings before ``now``.

    Parameters
    ----------
    data
        Readings ``(time, meter)`` with ``consumption_kwh`` (and ``production_kwh``).
    mapping
        Meter-to-bus mapping ``meter_id,bus[,power_factor][,scale]``.
    now
        Planning instant: only readings before it are used. The horizon starts at the first
        interval at ``origin_hour`` local time at or after it.
    tz
        Local zone (calendar, origin hour); default the data's ``tz`` attribute.
    horizon_steps, origin_hour
        Length and local start hour of the horizon.
    train_days
        Train on this many days before ``now`` (0: all of them).
    production
        Also forecast PV production (when the readings have any).
    weather
        Covariates (must cover the horizon to be used there).
    options
        Further :class:`gridopt.forecast.ForecastOptions` fields (``max_iter``, ``country``...).
    progress
        Called with a description of each step.

    Returns
    -------
    forecast : xarray.Dataset
        ``consumption_kwh`` / ``production_kwh`` ``(time, meter, quantile)`` (energy per
        interval of one home); ``p_mw``, ``q_mvar``, ``pv_p_mw`` ``(time, bus)`` (P50 mapped
        onto buses: the dispatch input); ``consumption_total_mw`` / ``production_total_mw``
        ``(time, quantile)`` (sums of the mapped quantiles: the band of perfectly correlated
        errors, wider than the band of the sum); when readings of the horizon exist,
        ``*_actual`` counterparts. Attributes ``origin``, ``now``, ``tz``, ``interval_s``.
    metrics : dict
        Per target (``consumption``, ``production``: kWh per meter and interval; ``feeder_net``:
        MW over all buses): MAE, RMSE, MASE, pinball, P10-P90 coverage, number of values. Empty
        when no reading of the horizon is known.

    Notes
    -----
    Over 80 lines only through this docstring (the public contract of the forecast); the
    steps are :func:`_history`, :func:`_predict_targets`, :func:`_on_buses`, :func:`_add_actuals`.
    """
    from gridopt.forecast import ForecastOptions, Target
    from gridopt.forecast.options import Aggregate
    from gridopt.forecast.series import data_timezone, interval_seconds
    from gridopt.ingest import read_mapping

    say = progress or (lambda _msg: None)
    tz = data_timezone(data, tz)
    now_utc = pd.Timestamp(now)
    now_utc = (now_utc.tz_localize(tz) if now_utc.tzinfo is None else now_utc).tz_convert("UTC")
    origin = forecast_origin(data, now_utc, tz, origin_hour)
    history = _history(data, now_utc, train_days)
    table = read_mapping(mapping) if not isinstance(mapping, pd.DataFrame) else mapping
    interval_s = interval_seconds(data["time"].values)
    fields: dict[str, Any] = dict(options or {})  # ForecastOptions checks names and values
    base = ForecastOptions(aggregate=Aggregate.METER, horizon_steps=horizon_steps,
                           origin_hour=origin_hour, tz=tz, **fields)
    targets = [Target.CONSUMPTION]
    if production and _has_production(history):
        targets.append(Target.PRODUCTION)
    origin_local = pd.Timestamp(origin).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    forecasts, scales = _predict_targets(history, base, targets, origin_local, weather, say)
    out = _on_buses(forecasts, table)
    # Readings of the horizon, when known: actuals for the plots and the metrics.
    metrics = _add_actuals(out, data, forecasts, scales, table, interval_s)
    out.attrs = {
        "origin": iso_utc(origin),
        "now": iso_utc(now_utc),
        "tz": tz,
        "interval_s": int(interval_s),
        "horizon_steps": int(horizon_steps),
        "history_start": iso_utc(history["time"].values[0]),
        "history_end": iso_utc(history["time"].values[-1]),
        "quantile_sum_note": "*_total_mw sum per-meter quantiles (perfectly correlated errors)",
    }
    return out, metrics


def forecast_stage(
    cfg: JobConfig,
    data: xr.Dataset,
    weather: xr.Dataset | None,
    now_utc: pd.Timestamp,
    say: Progress,
) -> tuple[xr.Dataset, ForecastMetrics]:
    """:func:`forecast_horizon` with the ``[forecast]`` settings of a job config."""
    fs = cfg.forecast
    options: dict[str, object] = {
        "country": fs.country, "subdivision": fs.subdivision, "latitude_deg": fs.latitude_deg,
        "longitude_deg": fs.longitude_deg, "max_iter": fs.max_iter,
        "calibration": fs.calibration, "n_threads": fs.threads,
    }
    return forecast_horizon(
        data, cfg.mapping, now_utc, tz=cfg.tz, horizon_steps=fs.horizon_steps,
        origin_hour=fs.origin_hour, train_days=fs.train_days, production=fs.production,
        weather=weather, options=options, progress=say,
    )


__all__ = ["forecast_horizon", "forecast_origin", "forecast_stage"]
