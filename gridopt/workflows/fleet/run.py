"""Running a fleet: one job per feeder, in this process or one Dask task per feeder.

:func:`run_fleet` resolves every feeder's job configuration and run id, takes the lock of the
fleet run directory ``<out_dir>/<fleet run id>``, runs the feeders (in order in this process,
or submitted to the cluster with :meth:`distributed.Client.submit`, ``retries=1``, collected
with :func:`distributed.as_completed`), and publishes ``fleet.json`` and ``fleet.csv``
atomically. A feeder that fails is reported with its reason and does not stop the others.

A worker that dies mid-feeder (killed, out of memory) is the scheduler's business: it
re-runs the task on another worker once (``distributed.scheduler.allowed-failures = 1`` on a
cluster started here), then reports :class:`distributed.KilledWorker`, which the fleet turns
into a failed feeder. The feeder's job stages its outputs and publishes them only at the end,
so a killed attempt publishes nothing; its staging folder is removed by the retry, or by the
fleet when the feeder is reported failed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from gridopt import __version__
from gridopt.errors import InputError
from gridopt.workflows.cluster import ClusterSpec, OpenCluster, open_cluster
from gridopt.workflows.fleet.config import FleetConfig, feeder_job_config, read_fleet_config
from gridopt.workflows.fleet.feeder import (
    FeederOutcome,
    FeederStatus,
    FeederTask,
    error_reason,
    failed,
    run_feeder,
    warm_up,
)
from gridopt.workflows.fleet.summary import LOG_NAME, FleetResult, write_summary
from gridopt.workflows.job import run_directory
from gridopt.workflows.job.result import iso_utc
from gridopt.workflows.jobconfig import JobConfig
from gridopt.workflows.rundir import (
    RunLock,
    RunLockedError,
    StagedOutputs,
    compute_run_id,
    log_to_file,
    remove_stale_staging,
)

logger = logging.getLogger(__name__)

#: Progress callback: receives one line per feeder that finished.
FleetProgress = Callable[[str], None]


def resolve_fleet_now(now: str | pd.Timestamp | None, cfg: FleetConfig) -> pd.Timestamp:
    """The planning instant in UTC: ``now``, else ``[fleet] now``, else the current hour.

    Naive values are local time in the shared ``[readings] tz`` (UTC when it has none).
    """
    value = now if now is not None else cfg.now
    if value is None:
        return pd.Timestamp.now(tz="UTC").floor("h")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise InputError(
            f"--now {value!r} is not a date or time; use ISO 8601, e.g. 2022-10-20T00:00 "
            "(local time of [readings] tz) or 2022-10-20T08:00Z"
        )
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(cfg.tz or "UTC", ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert("UTC")


def plan_tasks(cfg: FleetConfig, now_utc: pd.Timestamp, out_dir: Path | None = None
               ) -> tuple[str, Path, list[FeederTask], list[FeederOutcome]]:
    """Fleet run id and directory, the feeders' tasks and the feeders failed before running.

    A feeder whose inputs cannot be resolved (a missing network, mapping, assets or readings
    file) is failed here with the reason; the others get a :class:`FeederTask`.
    """
    now_iso = iso_utc(now_utc)
    resolved: dict[str, tuple[JobConfig, str]] = {}
    reasons: dict[str, str] = {}
    for spec in cfg.feeders:
        try:
            job_cfg = feeder_job_config(cfg, spec)
            resolved[spec.name] = (job_cfg, run_directory(job_cfg, now_utc)[0])
        except InputError as exc:
            reasons[spec.name] = str(exc)
        except OSError as exc:  # an input file that exists but cannot be read
            reasons[spec.name] = error_reason(exc)
    # the reason may name local paths: only that the feeder is unresolved goes into the id
    ids = {f"feeder:{f.name}": resolved[f.name][1] if f.name in resolved else "unresolved"
           for f in cfg.feeders}
    fleet_id = compute_run_id(cfg.raw, {}, now_iso, __version__, extra=ids)
    run_dir = (out_dir if out_dir is not None else cfg.out_dir) / fleet_id
    tasks = [FeederTask(name=name, config=job_cfg, now_utc=now_iso, out_dir=run_dir / name,
                        run_id=run_id) for name, (job_cfg, run_id) in resolved.items()]
    early = [FeederOutcome(name=name, status=FeederStatus.FAILED, reason=reason)
             for name, reason in reasons.items()]
    return fleet_id, run_dir, tasks, early


def _in_process(tasks: Sequence[FeederTask]) -> Iterator[FeederOutcome]:
    for task in tasks:
        try:
            yield run_feeder(task)
        except Exception as exc:  # a feeder's failure must not stop the fleet
            logger.debug("feeder %s failed", task.name, exc_info=True)
            yield failed(task, f"internal error: {error_reason(exc)}")


def _on_cluster(open_: OpenCluster, tasks: Sequence[FeederTask]) -> Iterator[FeederOutcome]:
    from distributed import KilledWorker, as_completed

    client = open_.client
    assert client is not None
    client.run(warm_up)
    token = uuid.uuid4().hex[:8]
    futures = {client.submit(run_feeder, task, key=f"feeder-{task.name}-{token}", retries=1,
                             pure=False): task for task in tasks}
    for future in as_completed(futures):
        task = futures[future]
        try:
            yield future.result()
        except KilledWorker:
            yield failed(task, "its worker died on every attempt (killed or out of memory); "
                               "nothing was published")
        except Exception as exc:  # a feeder's failure must not stop the fleet
            yield failed(task, f"internal error after a retry: {error_reason(exc)}")
        finally:
            future.release()


@contextmanager
def _cluster(spec: ClusterSpec) -> Iterator[OpenCluster]:
    """:func:`open_cluster`, with one re-run of a task whose worker died on a local cluster."""
    if spec.workers is None:
        with open_cluster(spec) as open_:
            if open_.client is not None:
                logger.warning("Dask scheduler %s; dashboard %s", spec.scheduler,
                               open_.dashboard or "unavailable")
            yield open_
        return
    import dask
    import distributed  # noqa: F401 - its config defaults must exist before the override:

    # on exit, dask.config.set removes the keys it added, so setting a key of a not yet
    # imported distributed would drop all of distributed's defaults with it.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            open_cluster(spec) as open_:
        yield open_


def set_dask_log_level(level: int) -> None:
    """Set the level of Dask's ``distributed`` loggers (scheduler, nanny, worker messages).

    ``distributed`` sets its loggers' levels when it is first imported, so it is imported here
    first; a level set before that import would be overwritten.
    """
    import distributed  # noqa: F401

    logging.getLogger("distributed").setLevel(level)


def _clean_failed(outcome: FeederOutcome) -> None:
    """Remove what a killed attempt staged in a failed feeder's run directory."""
    if outcome.run_dir is None or not outcome.run_dir.is_dir():
        return
    try:
        with RunLock(outcome.run_dir):
            remove_stale_staging(outcome.run_dir)
    except (RunLockedError, OSError):
        logger.info("feeder %s: run directory busy, staging left for the next run",
                    outcome.name)


def _execute(tasks: Sequence[FeederTask], spec: ClusterSpec, total: int, done_before: int,
             say: FleetProgress) -> tuple[list[FeederOutcome], int, str | None]:
    outcomes: list[FeederOutcome] = []
    with _cluster(spec) as open_:
        stream = _on_cluster(open_, tasks) if open_.client is not None else _in_process(tasks)
        for outcome in stream:
            if outcome.status is FeederStatus.FAILED:
                _clean_failed(outcome)
            outcomes.append(outcome)
            _report(outcome, done_before + len(outcomes), total, say)
        return outcomes, open_.n_workers, open_.dashboard


def _report(outcome: FeederOutcome, done: int, total: int, say: FleetProgress) -> None:
    seconds = "" if outcome.seconds is None else f" in {outcome.seconds:.1f} s"
    reason = f": {outcome.reason}" if outcome.reason else ""
    line = f"[{done}/{total}] {outcome.name}: {outcome.status.value}{seconds}{reason}"
    logger.info("%s", line)
    say(line)


def run_fleet(
    config: FleetConfig | str | Path,
    *,
    now: str | pd.Timestamp | None = None,
    out_dir: str | Path | None = None,
    cluster: ClusterSpec | None = None,
    progress: FleetProgress | None = None,
) -> FleetResult:
    """Run the daily job of every feeder of a fleet and write the fleet summary.

    Parameters
    ----------
    config
        A :class:`FleetConfig` or the path of a fleet TOML file.
    now
        Planning instant (overrides ``[fleet] now``); naive = local time of ``[readings] tz``.
    out_dir
        Parent of the fleet run directory (overrides ``[output] dir``).
    cluster
        Where the feeders run (default: one after the other in this process).
    progress
        Called with one line per feeder that finished.

    Returns
    -------
    FleetResult
        Its ``exit_code`` is 0 when every feeder is ``ok``, else 3.

    Raises
    ------
    InputError
        A bad fleet file, ``--now`` or cluster address (exit code 2); no feeder runs.
    gridopt.workflows.rundir.RunLockedError
        Another fleet run holds the fleet run directory (exit code 4).
    """
    t_all = time.perf_counter()
    cfg = config if isinstance(config, FleetConfig) else read_fleet_config(config)
    spec = cluster or ClusterSpec()
    say = progress or (lambda _line: None)
    now_utc = resolve_fleet_now(now, cfg)
    fleet_id, run_dir, tasks, early = plan_tasks(
        cfg, now_utc, Path(out_dir).absolute() if out_dir is not None else None)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the fleet run directory {run_dir}: {exc}; check "
                         "--out-dir") from None
    with RunLock(run_dir):
        remove_stale_staging(run_dir)
        with log_to_file(run_dir / LOG_NAME, loggers=(__name__,)):
            logger.info("fleet %s: config %s, now %s, %d feeders, gridopt %s", fleet_id,
                        cfg.where, iso_utc(now_utc), len(cfg.feeders), __version__)
            for i, outcome in enumerate(early, start=1):
                _report(outcome, i, len(cfg.feeders), say)
            ran, workers, dashboard = _execute(tasks, spec, len(cfg.feeders), len(early), say)
            by_name = {o.name: o for o in (*early, *ran)}
            result = FleetResult(
                run_id=fleet_id, run_dir=run_dir, name=cfg.name, now_utc=iso_utc(now_utc),
                outcomes=tuple(by_name[f.name] for f in cfg.feeders),
                seconds=time.perf_counter() - t_all, workers=workers, dashboard=dashboard)
            with StagedOutputs(run_dir, last="fleet.json") as staged:
                write_summary(staged, result)
            logger.info("fleet %s finished: %s, %d of %d feeders ok, %.1f s", fleet_id,
                        result.status.value, len(result.ok), len(result.outcomes),
                        result.seconds)
    return result


__all__ = ["FleetProgress", "plan_tasks", "resolve_fleet_now", "run_fleet", "set_dask_log_level"]
