"""The fleet summary: ``fleet.json`` and ``fleet.csv`` of a fleet run directory.

Both list every feeder in the order of the fleet file with its status, reason, run id, run
directory (relative to the fleet run directory), losses before/after, violations and seconds.
They are staged and published together (:class:`gridopt.workflows.rundir.StagedOutputs`,
``fleet.json`` last). The same inputs give the same bytes except for the ``seconds`` entries
(wall times), as for ``summary.json`` of the job.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridopt import __version__
from gridopt.workflows.fleet.feeder import FIGURES, FeederOutcome, FeederStatus
from gridopt.workflows.rundir import StagedOutputs

JSON_NAME = "fleet.json"
CSV_NAME = "fleet.csv"
LOG_NAME = "fleet.log"
#: Columns of ``fleet.csv`` (the keys of a row of ``fleet.json`` ``feeders``).
COLUMNS = ("name", "status", "run_id", "run_dir", *FIGURES, "seconds", "reason")


class FleetStatus(enum.StrEnum):
    """Outcome of a fleet run (``fleet.json`` ``status``)."""

    #: Every feeder ``ok`` (exit code 0).
    OK = "ok"
    #: Some feeders are not ``ok`` (exit code 3).
    PARTIAL = "partial"
    #: No feeder is ``ok`` (exit code 3).
    FAILED = "failed"

    @property
    def exit_code(self) -> int:
        """0 for ``ok``, 3 otherwise."""
        return 0 if self is FleetStatus.OK else 3


def fleet_status(outcomes: Sequence[FeederOutcome]) -> FleetStatus:
    """``ok`` when every feeder is, ``failed`` when none is, else ``partial``."""
    n_ok = sum(o.status is FeederStatus.OK for o in outcomes)
    if n_ok == len(outcomes):
        return FleetStatus.OK
    return FleetStatus.FAILED if n_ok == 0 else FleetStatus.PARTIAL


def _total(outcomes: Sequence[FeederOutcome], key: str) -> float:
    values = [o.figures.get(key) for o in outcomes if o.status is not FeederStatus.FAILED]
    return round(sum(float(v) for v in values if v is not None), 6)


@dataclass(frozen=True)
class FleetResult:
    """Everything a fleet run produced (also written to ``run_dir``).

    Attributes
    ----------
    run_id
        Hash of the fleet file, the feeders' run ids and the planning instant.
    run_dir
        The fleet run directory ``<out_dir>/<run_id>`` (``fleet.json``, ``fleet.csv``,
        ``fleet.log``, one folder per feeder).
    name
        The fleet's name.
    now_utc
        Planning instant (ISO 8601, UTC).
    outcomes
        One :class:`FeederOutcome` per feeder, in the fleet file's order.
    seconds
        Wall time of the whole fleet run.
    workers
        Worker processes used (1 in-process).
    dashboard
        Dask dashboard address (``None`` in-process or when unavailable).
    """

    run_id: str
    run_dir: Path
    name: str
    now_utc: str
    outcomes: tuple[FeederOutcome, ...]
    seconds: float
    workers: int = 1
    dashboard: str | None = None

    @property
    def status(self) -> FleetStatus:
        """:class:`FleetStatus` of the run."""
        return fleet_status(self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when every feeder is ``ok``, else 3."""
        return self.status.exit_code

    @property
    def ok(self) -> list[str]:
        """Names of the feeders that are ``ok``."""
        return [o.name for o in self.outcomes if o.status is FeederStatus.OK]

    @property
    def failed(self) -> list[dict[str, str | None]]:
        """Name, status and reason of every feeder that is not ``ok``."""
        return [{"name": o.name, "status": o.status.value, "reason": o.reason}
                for o in self.outcomes if o.status is not FeederStatus.OK]

    def summary(self, absolute: bool = False) -> dict[str, Any]:
        """The content of ``fleet.json`` (``absolute``: run directories as absolute paths)."""
        relative = None if absolute else self.run_dir
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "fleet": self.name,
            "gridopt_version": __version__,
            "now": self.now_utc,
            "feeders_total": len(self.outcomes),
            "feeders_ok": len(self.ok),
            "feeders_failed": len(self.outcomes) - len(self.ok),
            "ok": self.ok,
            "failed": self.failed,
            "losses_baseline_mwh": _total(self.outcomes, "losses_baseline_mwh"),
            "losses_optimised_mwh": _total(self.outcomes, "losses_optimised_mwh"),
            "feeders": [o.row(relative) for o in self.outcomes],
            "seconds": round(self.seconds, 3),
        }

    def as_json(self) -> dict[str, Any]:
        """What ``gridopt fleet run --json`` prints: the summary plus where and how it ran."""
        return {**self.summary(absolute=True), "run_dir": str(self.run_dir),
                "workers": self.workers, "dashboard": self.dashboard}


def csv_text(outcomes: Sequence[FeederOutcome], run_dir: Path) -> str:
    """``fleet.csv``: one row per feeder, :data:`COLUMNS` (empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for outcome in outcomes:
        row = outcome.row(run_dir)
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return buffer.getvalue()


def write_summary(staged: StagedOutputs, result: FleetResult) -> tuple[Path, ...]:
    """Stage ``fleet.csv`` and ``fleet.json`` and publish them (``fleet.json`` last)."""
    staged.write_bytes(CSV_NAME, csv_text(result.outcomes, result.run_dir).encode())
    staged.write_json(JSON_NAME, result.summary())
    return staged.commit()


__all__ = [
    "COLUMNS",
    "CSV_NAME",
    "JSON_NAME",
    "LOG_NAME",
    "FleetResult",
    "FleetStatus",
    "csv_text",
    "fleet_status",
    "write_summary",
]
