"""Fleet forecast benchmark: day-ahead P10/P50/P90 for every meter of a synthetic fleet.

Protocol (all windows are local dates of the daily 00:00 origins):

1. Data: ``--meters`` synthetic meters x ``--days`` hourly from ``../shared/tools/
   make_fleet_meters.py`` (cached as NetCDF under ``--data-dir``, default /tmp), opened lazily in
   meter blocks. A seeded subset of ``--subset`` meters is the accuracy panel.
2. Reference: gridopt's single-process per-meter model, as before this change: trained on the
   subset alone with every row, in this process (``--ref-threads`` OpenMP threads).
3. Validation: the fleet model (all meters, row budget, on the cluster) is trained before the
   validation window for every budget of ``--budgets``; the chosen budget is the smallest
   whose subset MAE is within ``--tolerance`` of the best budget's.
4. Test: reference and fleet model (chosen budget) are trained before the test window (which
   follows the validation window and was used by no decision) and scored on the subset: MAE
   of the P50, pinball losses of P10/P90 and the P10-P90 coverage, on identical pairs.
5. Timed runs (``--repeats``, modes interleaved): open the data, train on all of it with the
   chosen budget, forecast the next day for every meter and write it to NetCDF; the peak
   resident memory of every worker and of the driver is sampled every 0.25 s.

Usage::

    .venv/bin/python benchmarks/bench_fleet_forecast.py --meters 10000 [--workers 2]
        [--budgets 250000,500000,1000000] [--repeats 1] [--modes cluster,in_process]

``--quick`` (40 meters x 100 days, tiny models, writes to build/bench_fleet_quick) only proves
the code path. Otherwise the script writes docs/benchmarks/fleet_forecast.{md,json} and runs
benchmarks/collect.py. Timed runs belong under ``flock /tmp/gridopt-bench.lock``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet_data import FLEET_TZ, fleet_netcdf
from _fleet_forecast_report import PeakMemory, environment, render

from gridopt.forecast import Aggregate, ForecastOptions, train
from gridopt.forecast import metrics as fm
from gridopt.forecast.fleet import RowBudget, forecast_fleet, train_fleet
from gridopt.workflows.cluster import ClusterSpec, open_cluster

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "fleet-forecast-bench/1"
FIRST_DAY = pd.Timestamp("2022-08-01")  # the generator's first local day


def windows(days: int) -> tuple[list[str], list[str]]:
    """Validation and test origin days: two back-to-back windows at the end of the data."""
    width = 28 if days >= 180 else 7
    last = FIRST_DAY + pd.Timedelta(days=days - 2)  # the last origin with a full day after it
    test = pd.date_range(last - pd.Timedelta(days=width - 1), last, freq="D")
    val = pd.date_range(test[0] - pd.Timedelta(days=width), test[0] - pd.Timedelta(days=1),
                        freq="D")
    return [d.strftime("%Y-%m-%d") for d in val], [d.strftime("%Y-%m-%d") for d in test]


def scores(forecast: xr.Dataset) -> dict[str, float]:
    """Accuracy of a :func:`forecast_fleet` result against its observations."""
    name = f"{forecast.attrs['target']}_kwh"
    observed = forecast["observed_kwh"].values
    q = forecast[name].values
    return {"mae": fm.mae(observed, q[..., 1]), "pinball_p10": fm.pinball(observed, q[..., 0], 0.1),
            "pinball_p90": fm.pinball(observed, q[..., 2], 0.9),
            "coverage": fm.coverage(observed, q[..., 0], q[..., 2]), "pairs": int(observed.size)}


def reference(subset: xr.Dataset, options: ForecastOptions, days: list[str]) -> dict[str, Any]:
    """Single-process model of the subset alone (every row), scored on ``days``."""
    started = time.perf_counter()
    model = train(subset, options, train_end=days[0])
    seconds = time.perf_counter() - started
    result = scores(forecast_fleet(model, subset, days))
    return {**result, "rows": model.n_train_rows, "train_s": round(seconds, 2),
            "fit_s": round(model.train_seconds, 2)}


def fleet(data: xr.Dataset, subset: list[str], options: ForecastOptions, budget: RowBudget,
          days: list[str], client: Any, block: int) -> dict[str, Any]:
    """Fleet model on every meter (budget, cluster), scored on the subset's ``days``."""
    started = time.perf_counter()
    model = train_fleet(data, options, budget=budget, client=client, block_meters=block,
                        train_end=days[0])
    seconds = time.perf_counter() - started
    panel = data.sel(meter=subset)
    result = scores(forecast_fleet(model, panel, days, client=client, block_meters=block))
    return {**result, "max_rows": budget.max_rows, "rows": model.n_train_rows,
            "train_s": round(seconds, 2), "fit_s": round(model.train_seconds, 2)}


def timed_run(path: Path, options: ForecastOptions, budget: RowBudget, client: Any,
              block: int, out_dir: Path) -> dict[str, Any]:
    """Train on all data and forecast the next day of every meter; time and peak memory."""
    load = os.getloadavg()
    with PeakMemory(client) as memory:
        started = time.perf_counter()
        chunks = {"meter": block} if client is not None else None
        with xr.open_dataset(path, chunks=chunks) as data:
            model = train_fleet(data, options, budget=budget, client=client,
                                block_meters=block)
            forecast = forecast_fleet(model, data, client=client, block_meters=block)
            target = out_dir / "fleet_forecast.nc"
            forecast.drop_vars("observed_kwh").to_netcdf(target)
        seconds = time.perf_counter() - started
    cube = forecast[f"{options.target.value}_kwh"].values
    ordered = bool(np.all(cube[..., 0] <= cube[..., 1]) and np.all(cube[..., 1] <= cube[..., 2]))
    n_meters = int(forecast.sizes["meter"])
    n_days = (pd.Timestamp(model.train_end) - pd.Timestamp(model.train_start)).days + 1
    return {"seconds": round(seconds, 2), "fit_s": round(model.train_seconds, 2),
            "rows": model.n_train_rows, "meters": n_meters, "meter_years": n_meters * n_days
            / 365.25, "finite": bool(np.isfinite(cube).all()), "ordered_quantiles": ordered,
            "memory": memory.summary(), "load_average_before": load,
            "load_average_after": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    """Run the protocol of the module docstring; write the JSON and the Markdown fragment."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--subset", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker (Dask syntax)")
    parser.add_argument("--block-meters", type=int, default=500)
    parser.add_argument("--budgets", default="250000,500000,1000000",
                        help="row budgets tried on the validation window")
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--ref-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--modes", default="cluster", help="cluster and/or in_process")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "gridopt")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.meters, args.days, args.subset, args.max_iter = 40, 100, 10, 30
        args.budgets, args.block_meters = "5000,20000", 15
    out_dir = args.out_dir or (REPO / ("build/bench_fleet_quick" if args.quick
                                       else "docs/benchmarks"))
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    path = fleet_netcdf(args.meters, args.days, args.data_dir)
    options = ForecastOptions(aggregate=Aggregate.METER, tz=FLEET_TZ, country="US",
                              max_iter=args.max_iter, n_threads=1)
    ref_options = ForecastOptions(aggregate=Aggregate.METER, tz=FLEET_TZ, country="US",
                                  max_iter=args.max_iter, n_threads=args.ref_threads)
    val_days, test_days = windows(args.days)
    budgets = [int(b) for b in args.budgets.split(",")]
    with xr.open_dataset(path) as handle:
        names = [str(m) for m in handle["meter"].values]
    rng = np.random.default_rng(11)
    subset = sorted(rng.choice(names, size=min(args.subset, len(names)), replace=False).tolist())
    with xr.open_dataset(path) as handle:
        panel = handle.sel(meter=subset).load()
    ref_val = reference(panel, ref_options, val_days)
    print(f"reference validation {ref_val}", flush=True)
    spec = ClusterSpec(workers=args.workers, memory_limit=args.memory_limit)
    with open_cluster(spec) as cluster, xr.open_dataset(
            path, chunks={"meter": args.block_meters}) as lazy:
        tried = []
        for max_rows in budgets:
            tried.append(fleet(lazy, subset, options, RowBudget(max_rows), val_days,
                               cluster.client, args.block_meters))
            print(f"validation {tried[-1]}", flush=True)
        best = min(row["mae"] for row in tried)
        chosen = min(row["max_rows"] for row in tried
                     if row["mae"] <= best * (1 + args.tolerance))
        test_fleet = fleet(lazy, subset, options, RowBudget(chosen), test_days, cluster.client,
                           args.block_meters)
    test_ref = reference(panel, ref_options, test_days)
    print(f"test fleet {test_fleet}\ntest reference {test_ref}", flush=True)
    timed: dict[str, list[dict[str, Any]]] = {mode: [] for mode in args.modes.split(",")}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.repeats):
            for mode in timed:
                if mode == "cluster":
                    with open_cluster(spec) as cluster:
                        run = timed_run(path, options, RowBudget(chosen), cluster.client,
                                        args.block_meters, Path(scratch))
                else:
                    run = timed_run(path, options, RowBudget(chosen), None, args.block_meters,
                                    Path(scratch))
                timed[mode].append(run)
                print(f"timed {mode} {run}", flush=True)
    result = {
        "schema": SCHEMA, "environment": env, "command": sys.argv,
        "config": {"meters": args.meters, "days": args.days, "subset": args.subset,
                   "workers": args.workers, "memory_limit": args.memory_limit,
                   "block_meters": args.block_meters, "budgets": budgets,
                   "tolerance": args.tolerance, "max_iter": args.max_iter,
                   "ref_threads": args.ref_threads, "options": options.to_dict()},
        "accuracy": {
            "chosen_max_rows": chosen,
            "validation": {"window": [val_days[0], val_days[-1]], "reference": ref_val,
                           "budgets": tried},
            "test": {"window": [test_days[0], test_days[-1]], "reference": test_ref,
                     "fleet": test_fleet, "ratio": test_fleet["mae"] / test_ref["mae"]},
        },
        "timed": timed,
        "finished_load_average": os.getloadavg(),
    }
    (out_dir / "fleet_forecast.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "fleet_forecast.md").write_text(render(result))
    if not args.quick and args.out_dir is None:
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
    print((out_dir / "fleet_forecast.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
