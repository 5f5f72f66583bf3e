"""``gridopt forecast train|predict|backtest``: demand and production forecasts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridopt.cli._common import (
    EXIT_OK,
    add_budget_args,
    budget_from_args,
    configure_logging,
    emit_json,
    run_guarded,
)

if TYPE_CHECKING:
    from gridopt.workflows.forecast import FleetSettings, ForecastInputs, ForecastOptions

# The forecast workflow (it imports scikit-learn) is imported when a forecast
# command runs, not when the CLI starts.

DEFAULT_STORE = Path("models")


def _common_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", type=Path, metavar="DATA",
                   help="NetCDF from 'gridopt ingest', a readings file (.csv, .parquet) or a "
                        "meter store directory ('gridopt store append')")
    p.add_argument("--weather", type=Path, default=None, metavar="CSV",
                   help="weather covariates: timestamp + numeric columns (temperature, irradiance)")
    p.add_argument("--mapping", type=Path, default=None, metavar="CSV",
                   help="meter_id,bus[,power_factor][,scale] for --aggregate bus")
    p.add_argument("--tz", default=None,
                   help="local IANA zone for calendar and origins (default: the data's tz attr)")
    p.add_argument("--threads", type=int, default=None,
                   help="OpenMP threads of the boosting models (default: all cores)")
    add_budget_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", choices=["consumption", "production", "net"],
                   default="consumption")
    p.add_argument("--aggregate", choices=["total", "meter", "bus"], default="total",
                   help="one total series, one per meter, or one per bus (needs --mapping)")
    p.add_argument("--horizon", type=int, default=24, metavar="STEPS",
                   help="intervals forecast from each origin (default 24)")
    p.add_argument("--origin-hour", type=int, default=0, metavar="H",
                   help="daily origins at this local hour (default 0)")
    p.add_argument("--country", default=None,
                   help="holiday calendar (ISO code for the holidays package, e.g. AU, US)")
    p.add_argument("--subdivision", default=None, help="holiday subdivision, e.g. VIC")
    p.add_argument("--lat", type=float, default=None, help="site latitude (solar geometry)")
    p.add_argument("--lon", type=float, default=None, help="site longitude (solar geometry)")
    p.add_argument("--calibration", choices=["conformal", "none"], default="conformal",
                   help="P10/P90 recalibration on the latest training origins (default conformal)")
    p.add_argument("--max-iter", type=int, default=300, help="boosting iterations per quantile")


def _fleet_args(p: argparse.ArgumentParser, *, budget: bool) -> None:
    group = p.add_argument_group(
        "fleet", "many meters (--aggregate meter): meter blocks on a Dask cluster; without "
        "--workers/--scheduler everything runs in this process")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="start a local Dask cluster of N worker processes (1 thread each)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use an existing Dask scheduler, e.g. tcp://host:8786")
    group.add_argument("--memory-limit", default="auto", metavar="SIZE",
                       help="memory limit per local worker, e.g. 4GiB (default: auto)")
    group.add_argument("--block-meters", type=int, default=500, metavar="B",
                       help="meters per block task (default 500)")
    if budget:
        group.add_argument("--max-rows", type=int, default=None, metavar="ROWS",
                           help="train the global model on a seeded sample of this many rows "
                                "of (origin, meter) pairs x horizon (default: every row)")
        group.add_argument("--sample-seed", type=int, default=0, metavar="S",
                           help="seed of the row sample (default 0)")


def register(subparsers: Any) -> None:
    """Add the ``forecast`` subcommand with ``train``, ``predict`` and ``backtest``."""
    p = subparsers.add_parser(
        "forecast",
        help="train, apply and backtest consumption/production forecasters",
        description=(
            "Global direct multi-horizon forecaster (gradient-boosted quantile regression over "
            "calendar, lag, rolling, weather and solar-geometry features) with P10/P50/P90."
        ),
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input.",
    )
    sub = p.add_subparsers(dest="forecast_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="fit a model and save it in the model store")
    _common_data_args(train)
    _model_args(train)
    train.add_argument("--train-end", default=None,
                       help="use only data before this local date/time")
    train.add_argument("--name", required=True, help="model name in the store")
    train.add_argument("--version", default=None, help="version label (default: next integer)")
    train.add_argument("--store", type=Path, default=DEFAULT_STORE,
                       help="model store directory (default models/)")
    _fleet_args(train, budget=True)
    train.set_defaults(func=run_train)

    predict = sub.add_parser("predict", help="forecast from one origin with a stored model")
    _common_data_args(predict)
    predict.add_argument("--model", required=True, metavar="NAME[@VERSION]",
                         help="stored model (latest version unless @VERSION)")
    predict.add_argument("--store", type=Path, default=DEFAULT_STORE)
    predict.add_argument("--origin", default=None,
                         help="first forecast interval, local time (default: next origin after "
                              "the data)")
    predict.add_argument("--out", type=Path, default=None, metavar="FILE.nc",
                         help="write the forecast (time, series, quantile) as NetCDF")
    predict.add_argument("--bus-out", type=Path, default=None, metavar="FILE.nc",
                         help="also write bus-level p_mw/q_mvar (time, bus) of the P50")
    _fleet_args(predict, budget=False)
    predict.set_defaults(func=run_predict)

    backtest = sub.add_parser("backtest", help="rolling-origin backtest against seasonal naive")
    _common_data_args(backtest)
    _model_args(backtest)
    backtest.add_argument("--test-start", required=True, help="first origin day (local)")
    backtest.add_argument("--test-end", required=True, help="last origin day (local, inclusive)")
    backtest.add_argument("--out", type=Path, default=None, metavar="FILE.nc",
                          help="write every backtest forecast and observation as NetCDF")
    backtest.set_defaults(func=run_backtest)


def _options(args: argparse.Namespace) -> ForecastOptions:
    from gridopt.workflows.forecast import Aggregate, ForecastOptions, Target

    return ForecastOptions(
        target=Target(args.target),
        aggregate=Aggregate(args.aggregate),
        horizon_steps=args.horizon,
        origin_hour=args.origin_hour,
        tz=args.tz,
        country=args.country,
        subdivision=args.subdivision,
        latitude_deg=args.lat,
        longitude_deg=args.lon,
        calibration=args.calibration,
        max_iter=args.max_iter,
        n_threads=args.threads,
    )


def _inputs(args: argparse.Namespace) -> ForecastInputs:
    from gridopt.workflows.forecast import ForecastInputs

    return ForecastInputs(data=args.data, weather=args.weather, mapping=args.mapping, tz=args.tz,
                          budget=budget_from_args(args))


def _fleet(args: argparse.Namespace) -> FleetSettings:
    from gridopt.workflows.cluster import ClusterSpec
    from gridopt.workflows.forecast import FleetSettings

    return FleetSettings(
        cluster=ClusterSpec(workers=args.workers, scheduler=args.scheduler,
                            memory_limit=args.memory_limit),
        max_rows=getattr(args, "max_rows", None), seed=getattr(args, "sample_seed", 0),
        block_meters=args.block_meters)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def run_train(args: argparse.Namespace) -> int:
    """``gridopt forecast train``."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"command": "forecast train", "data": str(args.data)}

    def body() -> int:
        from gridopt.workflows.forecast import train_to_store

        summary = train_to_store(_inputs(args), _options(args), store=args.store, name=args.name,
                                 version=args.version, train_end=args.train_end,
                                 fleet=_fleet(args))
        if args.json:
            emit_json(summary)
        else:
            sys.stdout.write(
                f"trained {args.name} version {summary['version']} on {summary['series']} "
                f"series, {summary['rows']} rows ({summary['train_start']} .. "
                f"{summary['train_end']}) in {summary['train_seconds']:.1f} s -> "
                f"{summary['path']}\n"
            )
        return EXIT_OK

    return run_guarded(body, args.json, context)


def run_predict(args: argparse.Namespace) -> int:
    """``gridopt forecast predict``."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"command": "forecast predict", "data": str(args.data), "model": args.model}

    def body() -> int:
        from gridopt.workflows.forecast import predict_to_files

        summary = predict_to_files(_inputs(args), store=args.store, model_ref=args.model,
                                   origin=args.origin, out=args.out, bus_out=args.bus_out,
                                   fleet=_fleet(args))
        if args.json:
            emit_json(summary)
        else:
            sys.stdout.write(
                f"forecast {summary['variable']} from {summary['origin']}: {summary['steps']} "
                f"steps x {summary['series']} series, total P50 "
                f"{summary['total_p50_kwh']:.4g} kWh"
                + (f" -> {summary['out']}" if args.out else "")
                + "\n"
            )
        return EXIT_OK

    return run_guarded(body, args.json, context)


def run_backtest(args: argparse.Namespace) -> int:
    """``gridopt forecast backtest``."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"command": "forecast backtest", "data": str(args.data)}

    def body() -> int:
        from gridopt.workflows.forecast import backtest_to_files

        options = _options(args)
        result, summary = backtest_to_files(_inputs(args), options, test_start=args.test_start,
                                            test_end=args.test_end, out=args.out)
        if args.json:
            emit_json(summary)
        else:
            lines = [f"backtest: {result.n_origins} origins x {options.horizon_steps} steps x "
                     f"{summary['series']} series, train {result.train_seconds:.1f} s, predict "
                     f"{result.predict_seconds:.2f} s (energy per interval, kWh)"]
            lines.append(f"{'model':<22}{'MAE':>12}{'RMSE':>12}{'MASE':>8}{'cov P10-P90':>13}")
            for model, m in result.metrics.items():
                lines.append(f"{model:<22}{_fmt(m['mae']):>12}{_fmt(m['rmse']):>12}"
                             f"{_fmt(m['mase']):>8}{_fmt(m.get('coverage_p10_p90')):>13}")
            sys.stdout.write("\n".join(lines) + "\n")
        return EXIT_OK

    return run_guarded(body, args.json, context)
