"""One feeder of a fleet: the task a worker runs (:func:`run_feeder`) and what it reports.

A task is the feeder's job configuration, the planning instant and the parent of its run
directory (:class:`FeederTask`); it runs the single-feeder job
(:func:`gridopt.workflows.job.run_job`) unchanged and returns a small
:class:`FeederOutcome` (figures of ``summary.json``, never the datasets: those stay in the run
directory). Errors gridopt raises on purpose (bad inputs, an infeasible or failed solve, a
locked run directory) are deterministic, so they are reported, not raised: retrying them would
fail the same way. Anything else propagates, so that Dask retries the task once.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gridopt.errors import GridoptError
from gridopt.workflows.jobconfig import JobConfig

#: Figures of the feeder's ``summary.json`` carried into the fleet summary, in column order.
FIGURES = (
    "network",
    "losses_baseline_mwh",
    "losses_optimised_mwh",
    "loss_reduction_percent",
    "violations_optimised",
    "voltage_violations_optimised",
    "thermal_violations_optimised",
    "ac_checked",
)


class FeederStatus(enum.StrEnum):
    """Outcome of one feeder (``status`` of the fleet summary's rows)."""

    #: Every limit met and every period's AC power flow converged (job status ``ok``).
    OK = "ok"
    #: The job ran but limits could not all be met (job status ``infeasible``): the
    #: least-violating dispatch is published in the feeder's run directory.
    INFEASIBLE = "infeasible"
    #: No dispatch: bad or missing inputs, no feasible dispatch at all, a solver failure, an
    #: internal error or a worker that died twice. Nothing new is published for the feeder.
    FAILED = "failed"


@dataclass(frozen=True)
class FeederTask:
    """What a worker needs to run one feeder.

    Attributes
    ----------
    name
        Feeder name.
    config
        The feeder's job configuration (paths absolute: the workers must see the same files).
    now_utc
        Planning instant, ISO 8601 in UTC.
    out_dir
        Parent of the feeder's run directory (``<fleet run dir>/<name>``).
    run_id
        The run id the job will use (known before it runs: a hash of the inputs).
    """

    name: str
    config: JobConfig
    now_utc: str
    out_dir: Path
    run_id: str

    @property
    def run_dir(self) -> Path:
        """The feeder's run directory."""
        return self.out_dir / self.run_id


@dataclass(frozen=True)
class FeederOutcome:
    """What became of one feeder.

    Attributes
    ----------
    name
        Feeder name.
    status
        :class:`FeederStatus`.
    reason
        Why it is not ``ok`` (``None`` when it is).
    run_id, run_dir
        The feeder's run id and directory (``None`` when its inputs could not be resolved).
    seconds
        Wall time of the feeder's job on its worker (``None`` when it did not finish).
    figures
        The :data:`FIGURES` of its ``summary.json`` (empty when nothing was published).
    """

    name: str
    status: FeederStatus
    reason: str | None = None
    run_id: str | None = None
    run_dir: Path | None = None
    seconds: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def row(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The feeder's row of the fleet summary (``run_dir`` relative to ``relative_to``)."""
        run_dir: str | None = None
        if self.run_dir is not None:
            run_dir = str(self.run_dir.relative_to(relative_to) if relative_to is not None
                          else self.run_dir)
        seconds = None if self.seconds is None else round(self.seconds, 3)
        return {"name": self.name, "status": self.status.value, "run_id": self.run_id,
                "run_dir": run_dir, **{k: self.figures.get(k) for k in FIGURES},
                "seconds": seconds, "reason": self.reason}


def failed(task: FeederTask, reason: str) -> FeederOutcome:
    """The outcome of a feeder whose job did not finish."""
    return FeederOutcome(name=task.name, status=FeederStatus.FAILED, reason=reason,
                         run_id=task.run_id, run_dir=task.run_dir)


def error_reason(exc: BaseException) -> str:
    """``Kind: message`` of an exception, as the fleet summary states it."""
    return f"{type(exc).__name__}: {exc}"


def _infeasible_reason(summary: dict[str, Any]) -> str:
    total = int(summary.get("violations_optimised") or 0)
    voltage = int(summary.get("voltage_violations_optimised") or 0)
    thermal = int(summary.get("thermal_violations_optimised") or 0)
    parts = [f"limits not met: {total} violation(s) ({voltage} voltage, {thermal} thermal, "
             f"{total - voltage - thermal} other; see violations.csv)"]
    if not summary.get("ac_checked", False):
        parts.append("the AC check failed")
    return "; ".join(parts) + "; the least-violating dispatch is published"


def run_feeder(task: FeederTask) -> FeederOutcome:
    """Run one feeder's job (the task a Dask worker runs, or the fleet in-process).

    Returns
    -------
    FeederOutcome
        ``ok`` or ``infeasible`` with the figures of ``summary.json``, or ``failed`` with the
        reason when gridopt raised on purpose (:class:`gridopt.errors.GridoptError`).

    Raises
    ------
    Exception
        Anything that is not a :class:`GridoptError` (a bug, memory, the file system): Dask
        retries the task once, then the fleet reports the feeder failed.
    """
    from gridopt.workflows.job import JobStatus, run_job

    tick = time.perf_counter()
    try:
        result = run_job(task.config, now=task.now_utc, out_dir=task.out_dir)
    except GridoptError as exc:
        return replace(failed(task, error_reason(exc)), seconds=time.perf_counter() - tick)
    seconds = time.perf_counter() - tick
    summary = dict(result.summary)
    ok = result.status is JobStatus.OK
    figures = {k: summary.get(k) for k in FIGURES}
    for key, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            figures[key] = None
    return FeederOutcome(
        name=task.name, status=FeederStatus.OK if ok else FeederStatus.INFEASIBLE,
        reason=None if ok else _infeasible_reason(summary), run_id=result.run_id,
        run_dir=result.run_dir, seconds=seconds, figures=figures,
    )


def warm_up() -> str:
    """Import the job's libraries and compile pandapower's power flow (once per worker).

    The first job in a process spends seconds importing the forecast models' libraries and
    compiling pandapower's numba kernels for the AC check; paying that before the feeders start
    keeps it out of the first feeder's ``seconds`` (not out of the fleet's). Returns the pid.
    """
    import importlib.util
    import os
    import warnings

    import pandapower as pp
    import pandapower.networks as pn

    import gridopt.forecast.io
    import gridopt.ingest
    import gridopt.workflows.dispatch
    import gridopt.workflows.job  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(pn.case33bw(), numba=importlib.util.find_spec("numba") is not None)
    return str(os.getpid())


__all__ = [
    "FIGURES",
    "FeederOutcome",
    "FeederStatus",
    "FeederTask",
    "error_reason",
    "failed",
    "run_feeder",
    "warm_up",
]
