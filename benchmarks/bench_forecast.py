"""Forecast accuracy benchmark: gridopt vs skforecast (Ridge, LightGBM) and seasonal naive.

Cases (issue 3, "Accuracy and speed"):

1. ``vic``: Victoria total demand, hourly, day-ahead: every day at 00:00 Australia/Melbourne
   forecast the next 24 h; train on data before 2014-12-01, test origins 2014-12-01..2014-12-30.
   skforecast Ridge (24 lags, standardised) and LightGBM (lags 1..24 and 168, hour, weekday,
   month, holiday, temperature), both recursive, fitted once on the training data
   (``TimeSeriesFold(steps=24, refit=False)``).
2. ``citylearn``: 17 CityLearn 2022 homes, hourly, day-ahead per home at 00:00 local; test
   origins 2023-05-01..2023-07-30, training on everything before. Consumption vs skforecast
   LightGBM per home (same lags and calendar/temperature features); PV production vs seasonal
   naive (and the same per-home LightGBM for reference), gridopt using weather and solar
   geometry.

Weather covariates are the observed values (a perfect weather forecast) for every model alike.
All errors are computed on exactly the same (time, series) pairs.

Usage::

    .venv/bin/python benchmarks/bench_forecast.py [--case vic|citylearn|all] [--threads 1]
        [--write-docs docs/benchmarks/forecast.md]

skforecast and lightgbm are benchmark-only dependencies (``pip install skforecast lightgbm``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _forecast_data import (
    CITYLEARN_LATITUDE_DEG,
    CITYLEARN_LONGITUDE_DEG,
    load_citylearn,
    load_vic,
)

from gridopt.forecast import Aggregate, ForecastOptions, Target, backtest
from gridopt.forecast import metrics as fm


def _skforecast_backtest(
    y: pd.Series,
    exog: pd.DataFrame | None,
    estimator: Any,
    lags: list[int],
    first_origin: pd.Timestamp,
    steps: int,
) -> tuple[pd.Series, float]:
    """Recursive skforecast model fitted once before ``first_origin``; predictions per fold."""
    from skforecast.model_selection import TimeSeriesFold, backtesting_forecaster
    from skforecast.recursive import ForecasterRecursive

    forecaster = ForecasterRecursive(estimator=estimator, lags=lags)
    cv = TimeSeriesFold(
        steps=steps,
        initial_train_size=int(y.index.get_loc(first_origin)),
        refit=False,
        verbose=False,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, predictions = backtesting_forecaster(
            forecaster=forecaster,
            y=y,
            cv=cv,
            metric="mean_absolute_error",
            exog=exog,
            n_jobs=1,
            show_progress=False,
        )
    seconds = time.perf_counter() - started
    return predictions["pred"], seconds


def _calendar_exog(index: pd.DatetimeIndex, tz: str, holidays_local: set[Any]) -> pd.DataFrame:
    local = index.tz_localize("UTC").tz_convert(tz)
    return pd.DataFrame(
        {
            "hour": local.hour,
            "weekday": local.weekday,
            "month": local.month,
            "holiday": np.array([d in holidays_local for d in local.date], dtype=float),
        },
        index=index,
    )


def _lgbm(threads: int) -> Any:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(
        n_estimators=500,
        learning_rate=0.05,
        num_leaves=31,
        random_state=0,
        verbose=-1,
        n_jobs=threads,
    )


def _scores(
    observed: np.ndarray, forecast: np.ndarray, scale: float, unit: float
) -> dict[str, float]:
    return {
        "mae": fm.mae(observed, forecast) / unit,
        "rmse": fm.rmse(observed, forecast) / unit,
        "mase": fm.mase(observed, forecast, scale),
    }


def _gridopt_scores(result: Any, unit: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, values in result.metrics.items():
        out[name] = {
            k: (v / unit if k in ("mae", "rmse", "pinball_p10", "pinball_p90") else v)
            for k, v in values.items()
        }
    return out


def bench_vic(threads: int) -> dict[str, Any]:
    """Victoria day-ahead benchmark (MW)."""
    import holidays
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data, weather = load_vic()
    tz = "Australia/Melbourne"
    options = ForecastOptions(
        target=Target.CONSUMPTION,
        aggregate=Aggregate.TOTAL,
        horizon_steps=24,
        origin_hour=0,
        country="AU",
        subdivision="VIC",
        n_threads=threads,
    )
    result = backtest(
        data, options, test_start="2014-12-01", test_end="2014-12-30", weather=weather
    )
    unit = 1000.0  # kWh per hour -> MW
    metrics = _gridopt_scores(result, unit)
    observed = result.forecasts["observed"].isel(series=0).values.ravel()
    times = pd.DatetimeIndex(result.forecasts["time"].values.ravel())

    # skforecast on the same hourly series (MW), ending with the last test interval
    y = pd.Series(
        data["consumption_kwh"].isel(meter=0).values / unit,
        index=pd.DatetimeIndex(data["time"].values),
    )
    y = y.loc[: times[-1]].asfreq("h")
    first_origin = times[0]
    years = range(y.index[0].year, y.index[-1].year + 2)
    vic_holidays = set(holidays.country_holidays("AU", subdiv="VIC", years=years))
    exog = _calendar_exog(y.index, tz, vic_holidays)
    exog["temperature_c"] = weather["temperature_c"].to_series().reindex(y.index).to_numpy()
    timings = {
        "gridopt_train_seconds": result.train_seconds,
        "gridopt_predict_seconds": result.predict_seconds,
    }
    ridge_pred, timings["skforecast_ridge_seconds"] = _skforecast_backtest(
        y, None, make_pipeline(StandardScaler(), Ridge()), list(range(1, 25)), first_origin, 24
    )
    lgbm_pred, timings["skforecast_lightgbm_seconds"] = _skforecast_backtest(
        y, exog, _lgbm(threads), [*range(1, 25), 168], first_origin, 24
    )
    scale = result.model.mase_scale / unit
    for name, pred in (("skforecast_ridge", ridge_pred), ("skforecast_lightgbm", lgbm_pred)):
        metrics[name] = _scores(observed / unit, pred.reindex(times).to_numpy(), scale, 1.0)
    return {
        "case": "vic_electricity hourly day-ahead, origins 2014-12-01..2014-12-30 00:00 local",
        "unit": "MW",
        "n_origins": result.n_origins,
        "metrics": metrics,
        "timings": timings,
    }


def bench_citylearn(threads: int) -> dict[str, Any]:
    """CityLearn homes day-ahead benchmark (kWh per hour)."""
    import holidays

    data, weather = load_citylearn()
    tz = str(data.attrs["tz"])
    test_start, test_end = "2023-05-01", "2023-07-30"
    out: dict[str, Any] = {
        "case": (
            f"citylearn2022, 17 homes, hourly day-ahead, origins {test_start}..{test_end} "
            "00:00 local"
        ),
        "unit": "kWh per hour",
    }
    index = pd.DatetimeIndex(data["time"].values)
    years = range(index[0].year, index[-1].year + 2)
    us_holidays = set(holidays.country_holidays("US", subdiv="CA", years=years))
    for target in (Target.CONSUMPTION, Target.PRODUCTION):
        options = ForecastOptions(
            target=target,
            aggregate=Aggregate.METER,
            horizon_steps=24,
            origin_hour=0,
            country="US",
            subdivision="CA",
            latitude_deg=CITYLEARN_LATITUDE_DEG,
            longitude_deg=CITYLEARN_LONGITUDE_DEG,
            n_threads=threads,
        )
        result = backtest(data, options, test_start=test_start, test_end=test_end, weather=weather)
        metrics = _gridopt_scores(result, 1.0)
        forecasts = result.forecasts
        times = pd.DatetimeIndex(forecasts["time"].values.ravel())
        observed = (
            forecasts["observed"]
            .transpose("origin", "step", "series")
            .values.reshape(len(times), -1)
        )
        variable = f"{target.value}_kwh"
        predictions = np.full_like(observed, np.nan)
        seconds = 0.0
        exog = _calendar_exog(index, tz, us_holidays)
        exog["temperature_c"] = weather["temperature_c"].values
        for k, meter in enumerate(forecasts["series"].values):
            y = (
                pd.Series(data[variable].sel(meter=meter).values, index=index)
                .loc[: times[-1]]
                .asfreq("h")
            )
            pred, spent = _skforecast_backtest(
                y, exog.loc[y.index], _lgbm(threads), [*range(1, 25), 168], times[0], 24
            )
            predictions[:, k] = pred.reindex(times).to_numpy()
            seconds += spent
        metrics["skforecast_lightgbm"] = _scores(
            observed, predictions, result.model.mase_scale, 1.0
        )
        out[target.value] = {
            "n_origins": result.n_origins,
            "series": int(forecasts.sizes["series"]),
            "metrics": metrics,
            "timings": {
                "gridopt_train_seconds": result.train_seconds,
                "gridopt_predict_seconds": result.predict_seconds,
                "skforecast_lightgbm_seconds": seconds,
            },
        }
    return out


def _row(name: str, m: dict[str, float], digits: int) -> str:
    def f(key: str) -> str:
        value = m.get(key)
        return (
            ""
            if value is None
            else f"{value:.{digits}f}"
            if key != "coverage_p10_p90"
            else f"{value:.3f}"
        )

    mase = m.get("mase")
    return (
        f"| {name} | {f('mae')} | {f('rmse')} | {'' if mase is None else f'{mase:.3f}'} | "
        f"{f('pinball_p10')} | {f('pinball_p90')} | {f('coverage_p10_p90')} |"
    )


def render_markdown(results: dict[str, Any]) -> str:
    """Markdown fragment with the tables and the target checks."""
    lines = ["## Forecasting", ""]
    head = "| model | MAE | RMSE | MASE | pinball P10 | pinball P90 | coverage P10-P90 |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if "vic" in results:
        r = results["vic"]
        m = r["metrics"]
        lines += [f"### {r['case']} ({r['unit']}, {r['n_origins']} origins x 24 h)", "", head, rule]
        lines += [_row(name, m[name], 1) for name in m]
        best_sk = min(m["skforecast_ridge"]["mae"], m["skforecast_lightgbm"]["mae"])
        cov = m["gridopt"]["coverage_p10_p90"]
        lines += [
            "",
            f"- Target MAE below the best skforecast model ({best_sk:.1f} MW): "
            f"gridopt {m['gridopt']['mae']:.1f} MW -> "
            f"**{'met' if m['gridopt']['mae'] < best_sk else 'NOT met'}**.",
            f"- Target P10-P90 coverage in [0.72, 0.88]: {cov:.3f} -> "
            f"**{'met' if 0.72 <= cov <= 0.88 else 'NOT met'}**.",
            "- Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["timings"].items()) + ".",
            "",
        ]
    if "citylearn" in results:
        r = results["citylearn"]
        for target in ("consumption", "production"):
            t = r[target]
            m = t["metrics"]
            lines += [
                f"### {r['case']}: {target} ({r['unit']}, {t['n_origins']} origins x 24 h x "
                f"{t['series']} homes)",
                "",
                head,
                rule,
            ]
            lines += [_row(name, m[name], 4) for name in m]
            naive = min(m["seasonal_naive_day"]["mae"], m["seasonal_naive_week"]["mae"])
            g = m["gridopt"]["mae"]
            lines.append("")
            if target == "consumption":
                gain = 1.0 - g / naive
                lines += [
                    f"- Target MAE at least 15 % below the better seasonal naive ({naive:.4f}): "
                    f"{100 * gain:.1f} % below -> **{'met' if gain >= 0.15 else 'NOT met'}**.",
                    "- Target MAE below skforecast LightGBM "
                    f"({m['skforecast_lightgbm']['mae']:.4f}): "
                    f"**{'met' if g < m['skforecast_lightgbm']['mae'] else 'NOT met'}**.",
                ]
            else:
                lines.append(
                    f"- Target PV MAE no worse than the better seasonal naive ({naive:.4f}): "
                    f"gridopt {g:.4f} -> **{'met' if g <= naive else 'NOT met'}**."
                )
            lines.append(
                "- Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in t["timings"].items()) + "."
            )
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["vic", "citylearn", "all"], default="all")
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1)")
    parser.add_argument("--write-docs", type=Path, default=None, metavar="FILE.md")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    if args.case in ("vic", "all"):
        results["vic"] = bench_vic(args.threads)
        print(json.dumps({"vic": results["vic"]}, default=float), flush=True)
    if args.case in ("citylearn", "all"):
        results["citylearn"] = bench_citylearn(args.threads)
        print(json.dumps({"citylearn": results["citylearn"]}, default=float), flush=True)
    text = render_markdown(results)
    print(text)
    if args.write_docs:
        import platform

        header = (
            "<!-- written by benchmarks/bench_forecast.py; do not edit by hand -->\n"
            f"Run: `.venv/bin/python benchmarks/bench_forecast.py --threads {args.threads}` on "
            f"{platform.machine()}, Python {platform.python_version()} (machine shared with other "
            "jobs: timings are indicative).\n\n"
        )
        tmp = args.write_docs.with_suffix(".md.tmp")
        tmp.write_text(header + text + "\n")
        tmp.replace(args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
