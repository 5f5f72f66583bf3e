"""Running the job: planning instant, run directory, lock and log, the stages in order.

:func:`run_job` holds the run directory's lock, logs to ``run.log`` and stages every output;
:func:`_run_stages` calls the stage modules (:mod:`.readings`, :mod:`.forecast`, :mod:`.plan`,
:mod:`.outputs`, :mod:`.summary`) in order and times them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from gridopt import __version__
from gridopt.errors import InputError
from gridopt.workflows.job.forecast import forecast_stage
from gridopt.workflows.job.outputs import dispatch_dataset, write_outputs
from gridopt.workflows.job.plan import plan_stage
from gridopt.workflows.job.readings import ingest_stage
from gridopt.workflows.job.result import (
    TOTAL_SECONDS_KEY,
    JobResult,
    JobStage,
    JobStatus,
    Progress,
    StageClock,
    iso_utc,
)
from gridopt.workflows.job.summary import build_summary
from gridopt.workflows.jobconfig import JobConfig, read_config
from gridopt.workflows.rundir import (
    LOG_NAME,
    RunLock,
    StagedOutputs,
    compute_run_id,
    log_to_file,
    remove_stale_staging,
)

# One logger for the whole job: run.log names it as before the stages were split.
logger = logging.getLogger("gridopt.workflows.job")


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


def run_directory(
    config: JobConfig | str | Path,
    now: str | pd.Timestamp | None = None,
    out_dir: str | Path | None = None,
) -> tuple[str, Path]:
    """Run id and run directory a job would use, without running it (nothing is created)."""
    cfg = config if isinstance(config, JobConfig) else read_config(config)
    now_utc = resolve_now(now, cfg)
    run_id = compute_run_id(cfg.raw, cfg.input_files(), iso_utc(now_utc), __version__)
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
        exception: it is written with ``status = "infeasible"`` (:attr:`JobStatus.INFEASIBLE`).
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
                        iso_utc(now_utc), __version__)
            try:
                result = _run_stages(cfg, now_utc, run_id, run_dir, staged, say)
            except Exception as exc:
                logger.error("run %s failed: %s", run_id, exc)
                raise
            logger.info("run %s finished: %s, losses %.4f -> %.4f MWh", run_id,
                        result.status.value, result.summary["losses_baseline_mwh"],
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
    # Load the ingest and forecast layers before the clocks start: their import time (about
    # 2 s, mostly the forecast models' libraries) belongs to no stage and not to ``total``.
    import gridopt.forecast.io
    import gridopt.ingest  # noqa: F401

    clock = StageClock()
    t_all = time.perf_counter()

    say(f"ingest: reading {cfg.readings.name}")
    tick = time.perf_counter()
    ingested, weather = ingest_stage(cfg, staged)
    clock.add(JobStage.INGEST, time.perf_counter() - tick)

    tick = time.perf_counter()
    forecast, metrics = forecast_stage(cfg, ingested.data, weather, now_utc, say)
    forecast.attrs["run_id"] = run_id
    clock.add(JobStage.FORECAST, time.perf_counter() - tick)

    # reconfigure and dispatch time themselves (the AC check is timed inside the dispatch)
    plan = plan_stage(cfg, forecast, say, clock)

    say("outputs: writing the run directory")
    tick = time.perf_counter()
    ds = dispatch_dataset(plan, run_id, forecast.attrs["tz"])
    summary = build_summary(cfg, run_id, now_utc, forecast, metrics, plan.chosen, plan.original,
                            plan.reconfiguration, ingested.report,
                            reconfigured=plan.reconfigured)
    write_outputs(staged, forecast, ds, plan, cfg.plots, say)
    clock.add(JobStage.OUTPUTS, time.perf_counter() - tick)
    clock.seconds[TOTAL_SECONDS_KEY] = time.perf_counter() - t_all
    summary["files"] = sorted([*staged.names, "summary.json"])
    summary["seconds_by_stage"] = {k: round(v, 3) for k, v in clock.seconds.items()}
    staged.write_json("summary.json", summary)
    files = staged.commit()
    return JobResult(
        run_id=run_id, run_dir=run_dir, status=JobStatus(str(summary["status"])), summary=summary,
        readings=ingested.data, forecast=forecast, dispatch=plan.chosen,
        dispatch_original=plan.original, reconfiguration=plan.reconfiguration, files=files,
    )


__all__ = ["resolve_now", "run_directory", "run_job"]
