"""The daily planning job: readings -> forecast -> (reconfiguration) -> dispatch -> AC check.

:func:`run_job` is what ``gridopt run --config job.toml [--now T]`` calls. Stages, each a call
into an existing layer:

1. **ingest** :func:`gridopt.ingest.read_readings` (validated, regular ``(time, meter)``);
2. **forecast** :func:`forecast_horizon`: per-meter consumption (and PV production) models
   trained with :func:`gridopt.forecast.train` on the readings before ``now``, P10/P50/P90 for
   the next ``horizon_steps`` intervals from :func:`gridopt.forecast.predict`, mapped onto
   buses with :func:`gridopt.forecast.to_bus_demand`, scored against the readings of the
   horizon when they are known;
3. **reconfigure** (optional) :func:`gridopt.workflows.reconfigure.reconfigure` on the bus forecast
   averaged into ``[reconfigure] periods`` blocks;
4. **dispatch** :class:`gridopt.workflows.dispatch.Dispatcher` on the (reconfigured) network:
   LP with successive loss linearisation, every period checked by ``pandapower.runpp``,
   against a baseline without flexibility; with reconfiguration the original topology is
   dispatched too, so the summary compares against the network as it was;
5. **outputs** written through :class:`gridopt.workflows.rundir.StagedOutputs` into the run
   directory ``<out_dir>/<run_id>``: ``summary.json``, ``forecast.nc``, ``dispatch.nc``,
   CSV tables, PNG figures; ``run.log`` beside them.

The same inputs give the same run id and the same bytes in every output file except
``run.log`` and the ``seconds_by_stage`` entry of ``summary.json`` (wall times).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt import __version__
from gridopt.errors import InputError
from gridopt.workflows.jobconfig import JobConfig, read_config
from gridopt.workflows.rundir import (
    LOG_NAME,
    RunLock,
    StagedOutputs,
    compute_run_id,
    log_to_file,
    remove_stale_staging,
)

logger = logging.getLogger(__name__)

#: Progress callback: receives a short description of the step that starts now.
Progress = Callable[[str], None]

#: Order of the per-stage timings in the summary.
STAGES = ("ingest", "forecast", "reconfigure", "dispatch", "ac_check", "outputs")


@dataclasses.dataclass(frozen=True, eq=False)
class JobResult:
    """Everything a job run produced (also written to ``run_dir``).

    Attributes
    ----------
    run_id
        Hash-based id of the inputs (:func:`gridopt.workflows.rundir.compute_run_id`).
    run_dir
        Directory holding the outputs.
    status
        ``"ok"``, or ``"infeasible"`` when limits could not all be met: the LP needed slack on
        voltage or thermal limits, or the AC power flow of some period breaks a limit or does
        not converge (``ac_checked`` false). The least-violating dispatch is still written.
    summary
        The content of ``summary.json``.
    readings
        Ingested readings ``(time, meter)``.
    forecast
        Content of ``forecast.nc`` (see :func:`forecast_horizon`).
    dispatch
        The dispatch result on the network as dispatched (reconfigured when enabled).
    dispatch_original
        With reconfiguration: the dispatch on the original topology (else ``None``).
    reconfiguration
        :class:`gridopt.opf.switching.ReconfigurationResult` or ``None``.
    files
        Output files in the run directory.
    """

    run_id: str
    run_dir: Path
    status: str
    summary: dict[str, Any]
    readings: xr.Dataset
    forecast: xr.Dataset
    dispatch: Any
    dispatch_original: Any
    reconfiguration: Any
    files: tuple[Path, ...]

    @property
    def exit_code(self) -> int:
        """0 for ``ok``, 3 for ``infeasible``."""
        return 0 if self.status == "ok" else 3


# --------------------------------------------------------------------------------------- time


def _local_tz(config: JobConfig) -> str:
    return config.tz or "UTC"


def resolve_now(now: str | pd.Timestamp | None, config: JobConfig) -> pd.Timestamp:
    """The planning instant in UTC: ``now``, else ``[job] now``, else the current hour.

    Naive values are local time in ``[readings] tz``.
    """
    value = now if now is not None else config.now
    if value is None:
        return pd.Timestamp.now(tz="UTC").floor("h")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(
            f"--now {value!r} is not a date or time; use ISO 8601, e.g. 2022-10-20T00:00 "
            "(local time of [readings] tz) or 2022-10-20T08:00Z"
        ) from None
    if stamp is pd.NaT:
        raise InputError(f"--now {value!r} is not a date or time; use ISO 8601")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(_local_tz(config), ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert("UTC")


def _iso(value: Any) -> str:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").isoformat()


# ---------------------------------------------------------------------------------- forecast


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
        raise InputError(f"--now {_iso(now_utc)} lies before the readings' grid")
    positions = daily_origins(candidates, tz, origin_hour)
    if positions.size == 0:
        raise InputError(
            f"no interval starts at {origin_hour}:00 {tz} after --now {_iso(now_utc)}; check "
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
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[xr.Dataset, dict[str, Any]]:
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
    """
    from gridopt.forecast import ForecastOptions, Target, predict, to_bus_demand, train
    from gridopt.forecast.options import Aggregate
    from gridopt.forecast.series import data_timezone, interval_seconds
    from gridopt.ingest import read_mapping

    say = progress or (lambda _msg: None)
    tz = data_timezone(data, tz)
    now_utc = pd.Timestamp(now)
    now_utc = (now_utc.tz_localize(tz) if now_utc.tzinfo is None else now_utc).tz_convert("UTC")
    now64 = np.datetime64(now_utc.tz_localize(None).as_unit("ns"))
    origin = forecast_origin(data, now_utc, tz, origin_hour)
    history = data.sel(time=data["time"] < now64)
    if train_days:
        start = np.datetime64(now_utc.tz_localize(None) - pd.Timedelta(days=train_days), "ns")
        history = history.sel(time=history["time"] >= start)
    if history.sizes["time"] == 0:
        raise InputError(
            f"no readings before --now {_iso(now_utc)}: the readings cover "
            f"{_iso(data['time'].values[0])} .. {_iso(data['time'].values[-1])}"
        )
    table = read_mapping(mapping) if not isinstance(mapping, pd.DataFrame) else mapping
    interval_s = interval_seconds(data["time"].values)
    base = ForecastOptions(
        aggregate=Aggregate.METER,
        horizon_steps=horizon_steps,
        origin_hour=origin_hour,
        tz=tz,
        **(options or {}),
    )
    targets = [Target.CONSUMPTION]
    if production and _has_production(history):
        targets.append(Target.PRODUCTION)
    origin_local = pd.Timestamp(origin).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    forecasts: dict[str, xr.Dataset] = {}
    scales: dict[str, float] = {}
    for target in targets:
        options_t = dataclasses.replace(base, target=target)
        say(f"forecast: training the {target.value} model")
        model = train(history, options_t, weather=weather)
        say(f"forecast: predicting {target.value} from {origin_local:%Y-%m-%d %H:%M} {tz}")
        forecasts[target.value] = predict(
            model, history, origin=origin_local.isoformat(), weather=weather
        )
        scales[target.value] = model.mase_scale

    cons = forecasts["consumption"]
    times = cons["time"].values
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

    # Readings of the horizon, when known: actuals for the plots and the metrics.
    metrics: dict[str, Any] = {}
    actual = data.reindex(time=times)
    known = bool(np.isfinite(actual["consumption_kwh"].values).any())
    if known:
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
    out.attrs = {
        "origin": _iso(origin),
        "now": _iso(now_utc),
        "tz": tz,
        "interval_s": int(interval_s),
        "horizon_steps": int(horizon_steps),
        "history_start": _iso(history["time"].values[0]),
        "history_end": _iso(history["time"].values[-1]),
        "quantile_sum_note": "*_total_mw sum per-meter quantiles (perfectly correlated errors)",
    }
    return out, metrics


def dispatch_input(forecast: xr.Dataset) -> xr.Dataset:
    """The ``(time, bus)`` variables of a job forecast that the dispatch consumes."""
    names = [n for n in ("p_mw", "q_mvar", "pv_p_mw") if n in forecast]
    ds = forecast[names]
    return ds.drop_vars([c for c in ds.coords if c not in ("time", "bus")])


def block_profiles(forecast: xr.Dataset, periods: int) -> xr.Dataset:
    """Average the dispatch input over ``periods`` equal blocks (reconfiguration profiles)."""
    ds = dispatch_input(forecast)
    n = ds.sizes["time"]
    if n % periods:
        raise InputError(
            f"[reconfigure] periods = {periods} does not divide the {n} forecast intervals"
        )
    block = n // periods
    out = ds.coarsen(time=block).mean()
    out = out.assign_coords(time=ds["time"].values[::block])
    out.attrs["period_hours"] = block * float(forecast.attrs["interval_s"]) / 3600.0
    return out


# ------------------------------------------------------------------------------------ the job


@dataclasses.dataclass
class _Clock:
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def run_directory(
    config: JobConfig | str | Path,
    now: str | pd.Timestamp | None = None,
    out_dir: str | Path | None = None,
) -> tuple[str, Path]:
    """Run id and run directory a job would use, without running it (nothing is created)."""
    cfg = config if isinstance(config, JobConfig) else read_config(config)
    now_utc = resolve_now(now, cfg)
    run_id = compute_run_id(cfg.raw, cfg.input_files(), _iso(now_utc), __version__)
    parent = Path(out_dir) if out_dir is not None else cfg.out_dir
    return run_id, parent / run_id


def run_job(
    config: JobConfig | str | Path,
    *,
    now: str | pd.Timestamp | None = None,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> JobResult:
    """Run the planning job and write its outputs into ``<out_dir>/<run_id>``.

    Parameters
    ----------
    config
        A :class:`JobConfig` or the path of a job TOML file.
    now
        Planning instant (overrides ``[job] now``); naive = local time of ``[readings] tz``.
    out_dir
        Parent of the run directory (overrides ``[output] dir``).
    progress
        Called with a description of each step as it starts.

    Returns
    -------
    JobResult

    Raises
    ------
    InputError
        Bad config or inputs (exit code 2); nothing is written but ``run.log`` when the run
        directory was already created.
    gridopt.workflows.rundir.RunLockedError
        Another run holds the run directory (exit code 4).
    InfeasibleError, SolverError
        No dispatch at all (grid connection or storage targets impossible) or a solver failure
        (exit code 3). A dispatch that had to break voltage or thermal limits is *not* an
        exception: it is written with ``status = "infeasible"``.
    """
    cfg = config if isinstance(config, JobConfig) else read_config(config)
    say = progress or (lambda _msg: None)
    now_utc = resolve_now(now, cfg)
    run_id, run_dir = run_directory(cfg, now_utc, out_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot create the run directory {run_dir}: {exc}; check --out-dir"
        ) from None
    with RunLock(run_dir):
        remove_stale_staging(run_dir)
        with log_to_file(run_dir / LOG_NAME), StagedOutputs(run_dir) as staged:
            logger.info("run %s: config %s, now %s, gridopt %s", run_id, cfg.path,
                        _iso(now_utc), __version__)
            try:
                result = _run_stages(cfg, now_utc, run_id, run_dir, staged, say)
            except Exception as exc:
                logger.error("run %s failed: %s", run_id, exc)
                raise
            logger.info("run %s finished: %s, losses %.4f -> %.4f MWh", run_id, result.status,
                        result.summary["losses_baseline_mwh"],
                        result.summary["losses_optimised_mwh"])
            return result


def _run_stages(
    cfg: JobConfig,
    now_utc: pd.Timestamp,
    run_id: str,
    run_dir: Path,
    staged: StagedOutputs,
    say: Progress,
) -> JobResult:
    from gridopt.forecast.io import read_weather_csv
    from gridopt.ingest import read_readings

    clock = _Clock()
    t_all = time.perf_counter()

    # 1. ingest
    say(f"ingest: reading {cfg.readings.name}")
    tick = time.perf_counter()
    ingested = read_readings(cfg.readings, tz=cfg.tz, freq=cfg.freq, fill=cfg.fill,
                             max_fill_steps=cfg.max_fill_steps, budget=cfg.budget)
    data = ingested.data
    if cfg.tz:
        data.attrs["tz"] = cfg.tz
    weather = read_weather_csv(cfg.weather, tz=cfg.tz) if cfg.weather else None
    report = ingested.report
    logger.info("ingest: %d rows, %d clean, %d quarantined, %d meters x %d intervals",
                report.rows_in, report.rows_clean, report.rows_quarantined, report.meters,
                report.intervals)
    quarantine = ingested.quarantine
    _stage_csv(staged, "readings_quarantine.csv", quarantine)
    clock.add("ingest", time.perf_counter() - tick)

    # 2. forecast
    tick = time.perf_counter()
    fs = cfg.forecast
    options: dict[str, Any] = {
        "country": fs.country, "subdivision": fs.subdivision, "latitude_deg": fs.latitude_deg,
        "longitude_deg": fs.longitude_deg, "max_iter": fs.max_iter,
        "calibration": fs.calibration, "n_threads": fs.threads,
    }
    forecast, metrics = forecast_horizon(
        data, cfg.mapping, now_utc, tz=cfg.tz, horizon_steps=fs.horizon_steps,
        origin_hour=fs.origin_hour, train_days=fs.train_days, production=fs.production,
        weather=weather, options=options, progress=say,
    )
    forecast.attrs["run_id"] = run_id
    clock.add("forecast", time.perf_counter() - tick)

    # 3. network, assets, optional reconfiguration
    from gridopt.network.load import load_network

    loaded = load_network(cfg.network)
    net = loaded.pandapower_net()
    assets = load_assets(net, cfg.assets)
    reconf = None
    net_dispatched = net
    if cfg.reconfigure.enabled:
        from gridopt.opf.switching import MilpOptions, ReconfigureOptions
        from gridopt.workflows.reconfigure import reconfigure

        rs = cfg.reconfigure
        say(f"reconfigure: MILP over {rs.periods} block(s) + AC branch exchange")
        tick = time.perf_counter()
        profiles = block_profiles(forecast, rs.periods)
        reconf = reconfigure(
            net, profiles,
            ReconfigureOptions(max_switching=rs.max_switching, local_search=rs.local_search,
                               milp=MilpOptions(time_limit_s=rs.milp_time_limit_s)),
        )
        net_dispatched = reconf.net
        logger.info("reconfigure: open lines %s, switches %s, %d operations",
                    list(reconf.open_lines), list(reconf.open_switches),
                    reconf.switching_operations)
        clock.add("reconfigure", time.perf_counter() - tick)

    # 4. dispatch (+ AC check of every period, inside the dispatcher)
    demand = dispatch_input(forecast)
    dispatch_original = None
    if reconf is not None:
        say("dispatch: original topology (reference)")
        dispatch_original = _dispatch(net, demand, assets, cfg, loaded.name, clock)
    say("dispatch: loss-minimising schedule + AC power flow of every period")
    result = _dispatch(net_dispatched, demand, assets, cfg, loaded.name, clock)
    adopted = True
    if dispatch_original is not None and not _better(result, dispatch_original):
        # The configuration was chosen on block-averaged flows without the assets; when the
        # AC-checked dispatch on the original topology is at least as good, keep that topology.
        logger.info(
            "reconfigure: not adopted: dispatched losses %.4f MWh on the new configuration vs "
            "%.4f MWh on the original one", result.losses_mwh, dispatch_original.losses_mwh)
        adopted = False

    # 5. outputs
    say("outputs: writing the run directory")
    tick = time.perf_counter()
    chosen = result if adopted or dispatch_original is None else dispatch_original
    ds = chosen.dataset.copy()
    ds.attrs = {**ds.attrs, "run_id": run_id, "tz": forecast.attrs["tz"],
                "reconfiguration": "off" if reconf is None else
                ("adopted" if adopted else "not adopted")}
    if dispatch_original is not None and reconf is not None and adopted:
        orig = dispatch_original.dataset
        ds["losses_baseline_original_mw"] = orig["losses_baseline_mw"].assign_attrs(
            long_name="network losses, original topology, no flexibility (AC)")
        ds["losses_original_mw"] = orig["losses_mw"].assign_attrs(
            long_name="network losses, original topology, dispatched (AC)")
        ds["vm_baseline_original_pu"] = orig["vm_baseline_pu"]
        ds.attrs["open_lines"] = np.asarray(reconf.open_lines, dtype=np.int64)
        ds.attrs["open_switches"] = np.asarray(reconf.open_switches, dtype=np.int64)
    summary = build_summary(cfg, run_id, now_utc, forecast, metrics, chosen,
                            dispatch_original, reconf, ingested.report,
                            reconfigured=result if reconf is not None else None)
    _write_netcdf(staged, "forecast.nc", forecast)
    _write_netcdf(staged, "dispatch.nc", ds)
    _stage_csv(staged, "forecast.csv", forecast_table(forecast))
    _stage_csv(staged, "dispatch.csv", dispatch_table(ds))
    _stage_csv(staged, "buses.csv", bus_table(ds))
    _stage_csv(staged, "violations.csv", violations_table(chosen, dispatch_original))
    if cfg.plots:
        say("outputs: figures")
        from gridopt import plot

        for name, fig in (
            ("forecast.png", plot.forecast_figure(forecast)),
            ("dispatch.png", plot.dispatch_figure(ds)),
            ("voltage.png", plot.voltage_figure(ds)),
            ("losses.png", plot.losses_figure(ds)),
        ):
            plot.save_png(fig, staged.path(name))
    clock.add("outputs", time.perf_counter() - tick)
    clock.seconds["total"] = time.perf_counter() - t_all
    summary["files"] = sorted([*staged.names, "summary.json"])
    summary["seconds_by_stage"] = {k: round(v, 3) for k, v in clock.seconds.items()}
    staged.write_json("summary.json", summary)
    files = staged.commit()
    return JobResult(
        run_id=run_id, run_dir=run_dir, status=summary["status"], summary=summary,
        readings=data, forecast=forecast, dispatch=chosen, dispatch_original=dispatch_original,
        reconfiguration=reconf, files=files,
    )


def load_assets(net: Any, path: str | Path | None) -> Any:
    """Assets declared in ``net``, overridden and extended by the TOML file at ``path``."""
    from gridopt.network.assets import assets_from_toml, merge_assets
    from gridopt.network.pandapower_model import assets_from_net

    assets = assets_from_net(net)
    if path is not None:
        names = {str(n): int(i) for i, n in net.bus.name.items() if n is not None}
        assets = merge_assets(assets, assets_from_toml(Path(path), names))
    return assets


def _better(candidate: Any, reference: Any) -> bool:
    """True when ``candidate`` breaks no more limits and has lower AC-checked losses."""
    return (len(candidate.violations), candidate.losses_mwh) < (
        len(reference.violations), reference.losses_mwh)


def _dispatch(net: Any, demand: xr.Dataset, assets: Any, cfg: JobConfig, name: str,
              clock: _Clock) -> Any:
    from gridopt.opf.dispatch.options import DispatchOptions
    from gridopt.workflows.dispatch import dispatch

    ds = cfg.dispatch
    options = DispatchOptions(
        max_iterations=ds.max_iterations, loss_tolerance=ds.loss_tolerance,
        curtailment_penalty_per_mwh=ds.curtailment_penalty_per_mwh,
        cycling_penalty_per_mwh=ds.cycling_penalty_per_mwh,
        loss_weight_per_mwh=ds.loss_weight_per_mwh, threads=ds.threads,
    )
    tick = time.perf_counter()
    result = dispatch(net, demand, assets, options, name=name)
    spent = time.perf_counter() - tick
    ac = float(result.seconds_by_stage.get("ac_check", 0.0)) + float(
        result.seconds_by_stage.get("baseline_ac", 0.0))
    clock.add("ac_check", ac)
    clock.add("dispatch", max(spent - ac, 0.0))
    return result


# ---------------------------------------------------------------------------------- summaries


def _round(value: Any, digits: int = 6) -> Any:
    if isinstance(value, float | np.floating):
        return float(round(float(value), digits)) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v, digits) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def build_summary(
    cfg: JobConfig,
    run_id: str,
    now_utc: pd.Timestamp,
    forecast: xr.Dataset,
    metrics: dict[str, Any],
    result: Any,
    original: Any,
    reconf: Any,
    report: Any,
    reconfigured: Any = None,
) -> dict[str, Any]:
    """The ``summary.json`` content (everything but ``files`` and ``seconds_by_stage``).

    ``result`` is the dispatch reported (on the topology adopted), ``original`` the dispatch
    on the original topology when reconfiguration ran, ``reconfigured`` the dispatch on the
    reconfigured topology (adopted or not).
    """
    s = result.summary()
    ds = result.dataset
    base_ref = original.summary() if original is not None else s
    base_ds = original.dataset if original is not None else ds
    baseline_mwh = float(base_ref["losses_baseline_mwh"])
    optimised_mwh = float(s["losses_optimised_mwh"])
    dt = float(s["period_hours"])
    summary: dict[str, Any] = {
        "run_id": run_id,
        "status": "ok" if s["status"] == "optimal" and s["ac_checked"] else "infeasible",
        "job": cfg.name,
        "gridopt_version": __version__,
        "network": s["network"],
        "grid_model": s["grid_model"],
        "now": _iso(now_utc),
        "horizon_start": forecast.attrs["origin"],
        "periods": int(s["periods"]),
        "period_hours": dt,
        "losses_baseline_mwh": baseline_mwh,
        "losses_optimised_mwh": optimised_mwh,
        "loss_reduction_percent": (100.0 * (baseline_mwh - optimised_mwh) / baseline_mwh
                                   if baseline_mwh > 0 else 0.0),
        "losses_model_mwh": s["losses_model_mwh"],
        "ac_checked": bool(s["ac_checked"]),
        "settled": bool(s["settled"]),
        "linearisation_rounds": int(s["iterations"]),
        "voltage_violations_baseline": int(base_ref["voltage_violations_baseline"]),
        "voltage_violations_optimised": int(s["voltage_violations_optimised"]),
        "thermal_violations_optimised": int(s["thermal_violations_optimised"]),
        "violations_optimised": len(s["violations"]),
        "vmin_pu_baseline": float(base_ds["vm_baseline_pu"].min()),
        "vmin_pu_optimised": float(ds["vm_pu"].min()),
        "vmax_pu_baseline": float(base_ds["vm_baseline_pu"].max()),
        "vmax_pu_optimised": float(ds["vm_pu"].max()),
        "curtailed_mwh": s["curtailed_mwh"],
        "storage_losses_mwh": s["storage_losses_mwh"],
        "shifted_mwh": s["shifted_mwh"],
        "demand_mwh": float(forecast["p_mw"].sum()) * dt,
        "pv_available_mwh": float(forecast["pv_p_mw"].sum()) * dt if "pv_p_mw" in forecast
        else 0.0,
        "storage": [str(n) for n in ds["storage"].values],
        "curtailable_pv": [str(n) for n in ds["pv"].values],
        "readings": {
            "status": report.status.value,
            "rows_in": int(report.rows_in),
            "rows_quarantined": int(report.rows_quarantined),
            "quarantined_fraction": float(report.quarantined_fraction),
            "worst_meter": report.worst_meter,
            "worst_meter_fraction": float(report.worst_meter_fraction),
            "meters": int(report.meters),
            "cells_missing": int(report.cells_missing),
            "history_start": forecast.attrs["history_start"],
            "history_end": forecast.attrs["history_end"],
        },
        "forecast_metrics": metrics or None,
        "reconfiguration": None,
    }
    if reconf is not None and reconfigured is not None:
        rs = reconf.summary()
        summary["reconfiguration"] = {
            "enabled": True,
            "adopted": reconfigured is result,
            "open_lines": [int(v) for v in reconf.open_lines],
            "open_switches": [int(v) for v in reconf.open_switches],
            "switching_operations": int(reconf.switching_operations),
            "radial": bool(reconf.radial),
            "profile_blocks": int(rs["periods"]),
            "losses_baseline_original_mwh": baseline_mwh,
            "losses_baseline_reconfigured_mwh": reconfigured.baseline_losses_mwh,
            "losses_dispatch_only_mwh": float(base_ref["losses_optimised_mwh"]),
            "losses_reconfigured_dispatch_mwh": reconfigured.losses_mwh,
            "blocks_losses_kw_before": rs["losses_kw_before"],
            "blocks_losses_kw_after": rs["losses_kw_after"],
        }
    return _round(summary)


def forecast_table(forecast: xr.Dataset) -> pd.DataFrame:
    """Per-interval feeder totals of the forecast (MW) with P10/P50/P90 and actuals."""
    frame = pd.DataFrame({"time_utc": [_iso(t) for t in forecast["time"].values]})
    for target in ("consumption", "production"):
        var = f"{target}_total_mw"
        if var not in forecast:
            continue
        for q in forecast["quantile"].values:
            frame[f"{target}_p{round(100 * q):02d}_mw"] = forecast[var].sel(quantile=q).values
        actual = f"{target}_total_actual_mw"
        if actual in forecast:
            frame[f"{target}_actual_mw"] = forecast[actual].values
    return frame


def dispatch_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per-period totals of the dispatch (MW, pu, % of storage capacity)."""
    frame = pd.DataFrame({"time_utc": [_iso(t) for t in ds["time"].values]})
    frame["demand_mw"] = ds["p_demand_mw"].sum("bus").values
    frame["pv_available_mw"] = ds["pv_available_mw"].sum("pv").values
    frame["pv_curtailed_mw"] = ds["pv_curtailed_mw"].sum("pv").values
    for name in ds["storage"].values:
        frame[f"{name}_p_mw"] = ds["storage_p_mw"].sel(storage=name).values
        frame[f"{name}_soc_percent"] = ds["soc_percent"].sel(storage=name).values
    frame["p_grid_mw"] = ds["p_grid_mw"].values
    frame["p_grid_baseline_mw"] = ds["p_grid_baseline_mw"].values
    if "losses_baseline_original_mw" in ds:
        frame["losses_baseline_original_mw"] = ds["losses_baseline_original_mw"].values
    frame["losses_baseline_mw"] = ds["losses_baseline_mw"].values
    frame["losses_mw"] = ds["losses_mw"].values
    frame["vmin_baseline_pu"] = ds["vm_baseline_pu"].min("bus").values
    frame["vmin_pu"] = ds["vm_pu"].min("bus").values
    frame["vmax_pu"] = ds["vm_pu"].max("bus").values
    frame["ac_converged"] = ds["ac_converged"].values
    return frame


def bus_table(ds: xr.Dataset) -> pd.DataFrame:
    """Voltage profile: per bus, the lowest and highest voltage over the horizon."""
    frame = pd.DataFrame({"bus": ds["bus"].values})
    if "vm_baseline_original_pu" in ds:
        frame["vmin_baseline_original_pu"] = ds["vm_baseline_original_pu"].min("time").values
    frame["vmin_baseline_pu"] = ds["vm_baseline_pu"].min("time").values
    frame["vmax_baseline_pu"] = ds["vm_baseline_pu"].max("time").values
    frame["vmin_pu"] = ds["vm_pu"].min("time").values
    frame["vmax_pu"] = ds["vm_pu"].max("time").values
    return frame


def violations_table(result: Any, original: Any = None) -> pd.DataFrame:
    """Every violated limit: the dispatch's (model slack and AC) and the baseline's (AC)."""
    rows = [{"case": "optimised", **v.as_dict()} for v in result.violations]
    base = original if original is not None else result
    rows += [{"case": "baseline", **v.as_dict()} for v in base.baseline_violations]
    columns = ["case", "kind", "source", "period", "time", "element", "value", "limit"]
    return pd.DataFrame(rows, columns=columns)


def _stage_csv(staged: StagedOutputs, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(staged.path(name), index=False, lineterminator="\n")


def _write_netcdf(staged: StagedOutputs, name: str, ds: xr.Dataset) -> None:
    ds.to_netcdf(staged.path(name), engine="netcdf4")


__all__ = [
    "STAGES",
    "JobResult",
    "Progress",
    "block_profiles",
    "build_summary",
    "dispatch_input",
    "forecast_horizon",
    "forecast_origin",
    "load_assets",
    "resolve_now",
    "run_directory",
    "run_job",
]
