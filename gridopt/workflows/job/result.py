"""Types shared by the stages of the planning job: closed choices, the result, the stage clock.

The enums are :class:`enum.StrEnum`: their ``.value`` is the exact string written into
``summary.json`` and ``dispatch.nc`` (documented in ``docs/job.md``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:
    from gridopt.workflows.dispatch import DispatchResult
    from gridopt.workflows.reconfigure import NetReconfiguration

#: A value of ``summary.json`` (or of the forecast metrics): JSON scalars, lists and objects.
JsonValue: TypeAlias = (
    "Mapping[str, JsonValue] | Sequence[JsonValue] | str | int | float | bool | None"
)
#: The content of ``summary.json``.
Summary: TypeAlias = dict[str, JsonValue]
#: Forecast accuracy per target (see :func:`gridopt.workflows.job.forecast_horizon`).
ForecastMetrics: TypeAlias = dict[str, JsonValue]

#: Progress callback: receives a short description of the step that starts now.
Progress = Callable[[str], None]


class JobStatus(enum.StrEnum):
    """Outcome of a run (``summary.json`` ``status``)."""

    #: Every limit met and every period's AC power flow converged.
    OK = "ok"
    #: The LP needed slack on voltage or thermal limits, or the AC power flow of some period
    #: breaks a limit or does not converge; the least-violating dispatch is still written.
    INFEASIBLE = "infeasible"

    @property
    def exit_code(self) -> int:
        """Exit code of ``gridopt run``: 0 for ``ok``, 3 for ``infeasible``."""
        return 0 if self is JobStatus.OK else 3


class JobStage(enum.StrEnum):
    """Stages of the job, in order (keys of ``summary.json`` ``seconds_by_stage``)."""

    INGEST = "ingest"
    FORECAST = "forecast"
    RECONFIGURE = "reconfigure"
    DISPATCH = "dispatch"
    AC_CHECK = "ac_check"
    OUTPUTS = "outputs"


#: Order of the per-stage timings in the summary.
STAGES: tuple[JobStage, ...] = tuple(JobStage)

#: Key of the whole run's wall time in ``seconds_by_stage`` (not a stage).
TOTAL_SECONDS_KEY = "total"


class ReconfigurationOutcome(enum.StrEnum):
    """What became of the reconfiguration (``dispatch.nc`` attribute ``reconfiguration``)."""

    #: ``[reconfigure] enabled = false``.
    OFF = "off"
    #: The reconfigured topology is the one dispatched and reported.
    ADOPTED = "adopted"
    #: The original topology dispatched at least as well: it is the one reported.
    NOT_ADOPTED = "not adopted"


@dataclasses.dataclass
class StageClock:
    """Wall time per stage, accumulated (a stage may run more than once)."""

    seconds: dict[str, float] = dataclasses.field(default_factory=dict)

    def add(self, stage: JobStage, seconds: float) -> None:
        """Add ``seconds`` to ``stage``; the first call fixes the stage's place in the order."""
        key = stage.value
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds


def iso_utc(value: str | pd.Timestamp | np.datetime64) -> str:
    """``value`` as an ISO 8601 UTC timestamp (naive values are taken as UTC)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").isoformat()


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
        :attr:`JobStatus.OK`, or :attr:`JobStatus.INFEASIBLE` when limits could not all be
        met: the LP needed slack on voltage or thermal limits, or the AC power flow of some
        period breaks a limit or does not converge (``ac_checked`` false). The least-violating
        dispatch is still written.
    summary
        The content of ``summary.json``.
    readings
        Ingested readings ``(time, meter)``.
    forecast
        Content of ``forecast.nc`` (see :func:`gridopt.workflows.job.forecast_horizon`).
    dispatch
        The dispatch result on the network as dispatched (reconfigured when enabled).
    dispatch_original
        With reconfiguration: the dispatch on the original topology (else ``None``).
    reconfiguration
        :class:`gridopt.workflows.reconfigure.NetReconfiguration` or ``None``.
    files
        Output files in the run directory.
    """

    run_id: str
    run_dir: Path
    status: JobStatus
    summary: Summary
    readings: xr.Dataset
    forecast: xr.Dataset
    dispatch: DispatchResult
    dispatch_original: DispatchResult | None
    reconfiguration: NetReconfiguration | None
    files: tuple[Path, ...]

    @property
    def exit_code(self) -> int:
        """0 for ``ok``, 3 for ``infeasible``."""
        return self.status.exit_code


__all__ = [
    "STAGES",
    "TOTAL_SECONDS_KEY",
    "ForecastMetrics",
    "JobResult",
    "JobStage",
    "JobStatus",
    "JsonValue",
    "Progress",
    "ReconfigurationOutcome",
    "StageClock",
    "Summary",
    "iso_utc",
]
