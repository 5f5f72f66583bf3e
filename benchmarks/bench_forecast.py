"""Forecast accuracy benchmark: gridopt vs skforecast, mlforecast and seasonal naive.

Day-ahead forecasts: every day at 00:00 local time each model forecasts the next 24 hours. Time
is split per case into train / validation / test (origins are local dates, inclusive):

1. ``vic`` (vic_electricity, Victoria total demand, hourly, one series, MW): train before
   2014-06-01; validation origins 2014-06-01..2014-08-31 (92); test origins
   2014-09-01..2014-11-30 (91). December 2014 is left out on purpose: it was the reported window
   of earlier versions of this benchmark (gridopt's defaults were developed against it) and is
   the window of the regression test in tests/forecast.
2. ``citylearn`` (17 CityLearn 2022 homes, consumption and PV production, kWh per hour): train
   before 2023-03-01; validation origins 2023-03-01..2023-04-30 (61); test origins
   2023-05-01..2023-07-30 (91). The data end on 2023-07-31, so the test window is the one
   earlier versions reported: gridopt's per-target defaults were set while it was visible (now
   they are only one entry of the searched grid).

Protocol: each model's settings are chosen on the validation window with models fitted on the
train window (gridopt: tree size x learning rate, then history length, then calibration;
peers: LightGBM leaves x trees), by the validation MAE of the P50 (calibration by the P10+P90
pinball loss). The chosen set-ups are refitted on train + validation and scored once on the
test window. Every model is scored on identical (series, time) pairs (asserted). Training time
(features + fit, one thread) is reported per meter-year of training data.

Usage::

    .venv/bin/python benchmarks/bench_forecast.py [--case vic|citylearn|all] [--threads 1]
        [--quick] [--out-dir DIR]

``--quick`` (3 homes, 7 origins per window, tiny models, writes to build/bench_forecast_quick)
only proves the code path. Without it the script writes docs/benchmarks/forecast.{md,json}
(merging cases already there) and runs benchmarks/collect.py. Peers: ``pip install -e .[bench]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _forecast_peers as peers
from _forecast_data import (
    CITYLEARN_LATITUDE_DEG,
    CITYLEARN_LONGITUDE_DEG,
    load_citylearn,
    load_vic,
)
from _forecast_report import common_pairs, render, scores

from gridopt.forecast import Aggregate, ForecastOptions, Target, backtest

REPO = Path(__file__).resolve().parents[1]
HOURS_PER_YEAR = 8766.0
SCHEMA = "forecast-bench/2"

#: gridopt stage 1 grid: (max_leaf_nodes, min_samples_leaf, learning_rate); 300 iterations.
GRIDOPT_TREES = ((15, 200, 0.05), (15, 200, 0.1), (31, 40, 0.05), (31, 40, 0.1))


@dataclasses.dataclass(frozen=True)
class Case:
    """A benchmark case: data, calendar and the three windows."""

    name: str
    title: str
    unit: str
    unit_kwh: float
    data: xr.Dataset
    weather: xr.Dataset
    base: ForecastOptions
    validation: tuple[str, str]
    test: tuple[str, str]
    note: str


@dataclasses.dataclass
class Window:
    """Origins of one window and the observations on its (origin, step, series) pairs."""

    origins: np.ndarray  # positions on the time grid
    observed: np.ndarray  # (n_origin, horizon, n_series)
    naive_day: np.ndarray
    naive_week: np.ndarray
    mase_scale: float


def _gridopt(
    case: Case, options: ForecastOptions, window: tuple[str, str]
) -> tuple[Any, float, float]:
    """gridopt backtest; returns (result, train seconds incl. features, predict seconds)."""
    started = time.perf_counter()
    result = backtest(
        case.data, options, test_start=window[0], test_end=window[1], weather=case.weather
    )
    total = time.perf_counter() - started
    return result, total - result.predict_seconds, result.predict_seconds


def _window(result: Any, time_grid: np.ndarray) -> Window:
    f = result.forecasts
    origins = np.searchsorted(time_grid, f["origin"].values)
    if not np.array_equal(time_grid[origins], f["origin"].values):
        raise AssertionError("gridopt origins are not on the data's time grid")
    return Window(
        origins=origins,
        observed=f["observed"].transpose("origin", "step", "series").values,
        naive_day=f["seasonal_naive_day"].transpose("origin", "step", "series").values,
        naive_week=f["seasonal_naive_week"].transpose("origin", "step", "series").values,
        mase_scale=float(result.model.mase_scale),
    )


def _cube(result: Any) -> np.ndarray:
    return result.forecasts["gridopt"].transpose("origin", "step", "series", "quantile").values


def _score(window: Window, q: np.ndarray, unit: float) -> dict[str, Any]:
    mask = common_pairs(window.observed, {"model": q})
    s = scores(window.observed / unit, q / unit, mask, window.mase_scale / unit)
    return s


def _search_gridopt(case: Case, threads: int, quick: bool) -> dict[str, Any]:
    """Stage 1 trees x learning rate, stage 2 history days, stage 3 calibration."""
    base = dataclasses.replace(case.base, n_threads=threads)
    if quick:
        base = dataclasses.replace(base, max_iter=40)
    runs: list[dict[str, Any]] = []
    grid = GRIDOPT_TREES[:2] if quick else GRIDOPT_TREES

    def run(options: ForecastOptions, label: str) -> tuple[float, Any]:
        result, train_s, predict_s = _gridopt(case, options, case.validation)
        window = _window(result, case.data["time"].values)
        metrics = _score(window, _cube(result), case.unit_kwh)
        runs.append(
            {
                "label": label,
                "options": _gridopt_settings(options),
                "metrics": metrics,
                "train_seconds": train_s,
                "predict_seconds": predict_s,
            }
        )
        print(f"  gridopt validation {label}: MAE {metrics['mae']:.4f}", flush=True)
        return float(metrics["mae"]), result

    best: tuple[float, ForecastOptions, Any] | None = None
    for leaves, leaf_rows, rate in grid:
        options = dataclasses.replace(
            base, max_leaf_nodes=leaves, min_samples_leaf=leaf_rows, learning_rate=rate
        )
        mae, result = run(options, f"leaves={leaves}/{leaf_rows} rows, lr={rate}, 7 days")
        if best is None or mae < best[0]:
            best = (mae, options, result)
    assert best is not None
    longer = dataclasses.replace(best[1], history_days=14)
    best_label = next(r["label"] for r in runs if r["options"] == _gridopt_settings(best[1]))
    mae, result = run(longer, best_label.replace("7 days", "14 days"))
    if mae < best[0]:
        best = (mae, longer, result)
    chosen, result = best[1], best[2]
    window = _window(result, case.data["time"].values)
    conformal = _score(window, _cube(result), case.unit_kwh)
    label = next(r["label"] for r in runs if r["options"] == _gridopt_settings(chosen))
    # calibration: the chosen set-up refitted without the conformal shift (conformal is the
    # default of every run above)
    run(dataclasses.replace(chosen, calibration="none"), label + ", no calib.")
    plain = runs[-1]["metrics"]
    use_conformal = (conformal["pinball_p10"] + conformal["pinball_p90"]) <= (
        plain["pinball_p10"] + plain["pinball_p90"]
    )
    if not use_conformal:
        chosen = dataclasses.replace(chosen, calibration="none")
        label += ", no calib."
    return {"runs": runs, "chosen_label": label, "chosen": chosen, "window": window}


def _gridopt_settings(options: ForecastOptions) -> dict[str, Any]:
    keys = (
        "max_iter",
        "learning_rate",
        "max_leaf_nodes",
        "min_samples_leaf",
        "history_days",
        "calibration",
    )
    return {k: getattr(options, k) for k in keys}


def _peer_inputs(case: Case, series: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    time_grid = case.data["time"].values
    variable = f"{case.base.target.value}_kwh"
    values = case.data[variable]
    if case.base.aggregate is Aggregate.TOTAL:
        wide = pd.DataFrame({str(series[0]): values.sum("meter").values}, index=time_grid)
    else:
        wide = values.sel(meter=series).to_pandas()
        wide.columns = [str(c) for c in wide.columns]
    wide.index = pd.DatetimeIndex(time_grid, freq="h")
    exog = peers.exog_frame(
        time_grid,
        str(case.data.attrs["tz"]),
        case.weather,
        str(case.base.country),
        case.base.subdivision,
        case.base.latitude_deg,
        case.base.longitude_deg,
    )
    return wide, exog


def _peer(
    name: str,
    wide: pd.DataFrame,
    exog: pd.DataFrame,
    window: Window,
    settings: Any,
    threads: int,
    production: bool,
    residuals: Any = None,
) -> peers.PeerRun:
    fit_end = int(window.origins[0])
    if name == "skforecast":
        run = peers.skforecast_run(
            wide, exog, fit_end, window.origins, 24, settings, threads, residuals
        )
    else:
        run = peers.mlforecast_run(wide, exog, fit_end, window.origins, 24, settings, threads)
    if production:
        run.quantiles = np.maximum(run.quantiles, 0.0)
    return run


def _meter_years(n_series: int, fit_end: int) -> float:
    return n_series * fit_end / HOURS_PER_YEAR


def run_target(case: Case, threads: int, quick: bool) -> dict[str, Any]:
    """Search on validation, refit, score once on test, for gridopt and both peers."""
    time_grid = case.data["time"].values
    production = case.base.target is Target.PRODUCTION
    print(f"{case.name} {case.base.target.value}: gridopt search", flush=True)
    search = _search_gridopt(case, threads, quick)
    test_result, g_train, g_predict = _gridopt(case, search["chosen"], case.test)
    test = _window(test_result, time_grid)
    series = test_result.forecasts["series"].values
    wide, exog = _peer_inputs(case, series)
    # the validation window, as gridopt defined it (same origins and pairs for the peers)
    val_first = search["window"]
    forecasts: dict[str, np.ndarray] = {"gridopt": _cube(test_result)}
    timings: dict[str, dict[str, float]] = {}
    fit_end = int(test.origins[0])
    timings["gridopt"] = {"train_seconds": g_train, "predict_seconds": g_predict}
    validation: dict[str, Any] = {"gridopt": _strip(search)}
    grid: tuple[peers.LgbmSettings, ...] = peers.LGBM_GRID[:2] if quick else peers.LGBM_GRID
    if quick:
        grid = tuple(dataclasses.replace(s, n_estimators=s.n_estimators // 10) for s in grid)
    for name in ("skforecast", "mlforecast"):
        runs: list[dict[str, Any]] = []
        best: tuple[float, Any, peers.PeerRun] | None = None
        for settings in grid:
            run = _peer(name, wide, exog, val_first, settings, threads, production)
            metrics = _score(val_first, run.quantiles, case.unit_kwh)
            runs.append(
                {
                    "label": settings.label(),
                    "settings": dataclasses.asdict(settings),
                    "metrics": metrics,
                    "train_seconds": run.train_seconds,
                    "predict_seconds": run.predict_seconds,
                }
            )
            print(f"  {name} validation {settings.label()}: MAE {metrics['mae']:.4f}", flush=True)
            if best is None or metrics["mae"] < best[0]:
                best = (metrics["mae"], settings, run)
        assert best is not None
        residuals = None
        if name == "skforecast":
            residuals = peers.residuals_of(wide, val_first.origins, 24, best[2].quantiles[..., 1])
        final = _peer(name, wide, exog, test, best[1], threads, production, residuals)
        forecasts[name] = final.quantiles
        timings[name] = {
            "train_seconds": final.train_seconds,
            "predict_seconds": final.predict_seconds,
        }
        validation[name] = {
            "runs": runs,
            "chosen_label": best[1].label(),
            "chosen": dataclasses.asdict(best[1]),
        }
    nan_q = np.full((*test.observed.shape, 1), np.nan)
    for name, values in (
        ("seasonal_naive_day", test.naive_day),
        ("seasonal_naive_week", test.naive_week),
    ):
        forecasts[name] = np.concatenate([nan_q, values[..., None], nan_q], axis=-1)
    mask = common_pairs(test.observed, forecasts)  # identical (series, time) pairs for all
    unit = case.unit_kwh
    metrics = {
        name: scores(test.observed / unit, q / unit, mask, test.mase_scale / unit)
        for name, q in forecasts.items()
    }
    meter_years = _meter_years(len(series), fit_end)
    for t in timings.values():
        t["train_seconds_per_meter_year"] = t["train_seconds"] / meter_years
    return {
        "series": len(series),
        "validation": {"n_origins": int(val_first.origins.size), **validation},
        "test": {
            "n_origins": int(test.origins.size),
            "metrics": metrics,
            "timings": timings,
            "meter_years_trained": meter_years,
        },
    }


def _strip(search: dict[str, Any]) -> dict[str, Any]:
    return {
        "runs": search["runs"],
        "chosen_label": search["chosen_label"],
        "chosen": _gridopt_settings(search["chosen"]),
    }


def vic_case(quick: bool) -> list[Case]:
    data, weather = load_vic()
    base = ForecastOptions(
        target=Target.CONSUMPTION,
        aggregate=Aggregate.TOTAL,
        horizon_steps=24,
        origin_hour=0,
        country="AU",
        subdivision="VIC",
    )
    validation, test = ("2014-06-01", "2014-08-31"), ("2014-09-01", "2014-11-30")
    if quick:
        validation, test = ("2014-06-01", "2014-06-07"), ("2014-09-01", "2014-09-07")
    note = "December 2014 (the former reported window, also the tests' window) is not used."
    return [
        Case(
            "vic",
            "vic_electricity, Victoria total demand, hourly day-ahead",
            "MW",
            1000.0,
            data,
            weather,
            base,
            validation,
            test,
            note,
        )
    ]


def citylearn_cases(quick: bool) -> list[Case]:
    buildings = range(1, 4) if quick else range(1, 18)
    data, weather = load_citylearn(buildings=buildings)
    validation, test = ("2023-03-01", "2023-04-30"), ("2023-05-01", "2023-07-30")
    if quick:
        validation, test = ("2023-03-01", "2023-03-07"), ("2023-05-01", "2023-05-07")
    note = (
        "The data end on 2023-07-31: the test window is the one earlier versions reported "
        "(gridopt's defaults were developed while it was visible)."
    )
    out = []
    for target in (Target.CONSUMPTION, Target.PRODUCTION):
        base = ForecastOptions(
            target=target,
            aggregate=Aggregate.METER,
            horizon_steps=24,
            origin_hour=0,
            country="US",
            subdivision="CA",
            latitude_deg=CITYLEARN_LATITUDE_DEG,
            longitude_deg=CITYLEARN_LONGITUDE_DEG,
        )
        out.append(
            Case(
                "citylearn",
                f"citylearn2022, {len(buildings)} homes, hourly day-ahead",
                "kWh per hour",
                1.0,
                data,
                weather,
                base,
                validation,
                test,
                note,
            )
        )
    return out


def run_case(cases: list[Case], threads: int, quick: bool) -> dict[str, Any]:
    first = cases[0]
    split = {
        "train": f"before {first.validation[0]}",
        "validation": f"{first.validation[0]}..{first.validation[1]}",
        "test": f"{first.test[0]}..{first.test[1]}",
        "note": first.note,
    }
    return {
        "title": first.title,
        "unit": first.unit,
        "split": split,
        "targets": {c.base.target.value: run_target(c, threads, quick) for c in cases},
    }


def _write(
    out_dir: Path, cases: dict[str, Any], runs: list[dict[str, Any]], run: dict[str, Any]
) -> None:
    """Write the JSON (every run) and the markdown fragment of all cases so far."""
    json_path = out_dir / "forecast.json"
    payload = {"schema": SCHEMA, "cases": cases, "runs": [*runs, run]}
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    tmp.replace(json_path)
    load = run["load_average_1_5_15"]
    shown = json_path.relative_to(REPO) if json_path.is_relative_to(REPO) else json_path
    header = (
        "<!-- written by benchmarks/bench_forecast.py; do not edit by hand -->\n"
        f"Last run: `.venv/bin/python {run['command']}` ({run['started']}, "
        f"{run['wall_seconds']:.0f} s) on {run['machine']} with {run['cpu_count']} cores, "
        f"Python {run['python']}, "
        + ", ".join(f"{k} {v}" for k, v in run["versions"].items())
        + f"; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (machine "
        f"shared with other jobs: timings are indicative). Raw runs: {shown}.\n"
    )
    text = render(cases, header)
    md = out_dir / "forecast.md"
    md.with_suffix(".md.tmp").write_text(text + "\n")
    md.with_suffix(".md.tmp").replace(md)
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--case", choices=["vic", "citylearn", "all"], default="all")
    parser.add_argument("--threads", type=int, default=1, help="threads per model (default 1)")
    parser.add_argument("--quick", action="store_true", help="tiny run proving the code path")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    out_dir = args.out_dir or (
        REPO / "build" / "bench_forecast_quick" if args.quick else REPO / "docs" / "benchmarks"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    json_path = out_dir / "forecast.json"
    previous = json.loads(json_path.read_text()) if json_path.is_file() else {}
    cases = previous.get("cases", {}) if previous.get("schema") == SCHEMA else {}
    runs = previous.get("runs", []) if previous.get("schema") == SCHEMA else []
    t0 = time.perf_counter()
    command = "benchmarks/bench_forecast.py " + " ".join(argv or sys.argv[1:])
    run: dict[str, Any] = {
        "started": started,
        "command": command,
        "cases": sorted(c for c in ("vic", "citylearn") if args.case in (c, "all")),
        "load_average_1_5_15": load,
        "wall_seconds": 0.0,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": peers.versions(),
    }
    for name, make in (("vic", vic_case), ("citylearn", citylearn_cases)):
        if args.case in (name, "all"):
            case_load = os.getloadavg()
            case_started = time.perf_counter()
            cases[name] = run_case(make(args.quick), args.threads, args.quick)
            cases[name]["run"] = {
                "command": command,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "load_average_1_5_15": case_load,
                "wall_seconds": time.perf_counter() - case_started,
            }
            run["wall_seconds"] = time.perf_counter() - t0
            _write(out_dir, cases, runs, run)  # after each case: a late failure keeps it
    if out_dir.resolve() == (REPO / "docs" / "benchmarks").resolve():
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
