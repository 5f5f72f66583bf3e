"""The daily job for a fleet of feeders: ``gridopt fleet run --config FLEET.toml``.

A fleet file (:mod:`.config`) holds the job's sections shared by every feeder (``[readings]``,
``[forecast]``, ``[reconfigure]``, ``[dispatch]``, ``[output]``) and one ``[[feeder]]`` table
per feeder (``name``, ``network``, ``mapping``, optional ``assets`` and ``readings``
overrides). Each feeder runs the single-feeder job (:func:`gridopt.workflows.job.run_job`)
unchanged: in this process one after the other, or as one Dask task per feeder on the cluster
of :mod:`gridopt.workflows.cluster` (process workers with one thread each: HiGHS keeps
per-process state). :mod:`.feeder` is the task, :mod:`.run` the driver, :mod:`.summary` the
fleet summary.

Layout of a fleet run (``docs/fleet.md``)::

    <out_dir>/<fleet run id>/
        fleet.json              # per-feeder status, reason, losses, violations, seconds
        fleet.csv               # the same rows as a table
        fleet.log               # the fleet's log (each feeder has its own run.log)
        <feeder name>/<run id>/ # the feeder's run directory, as `gridopt run` makes it

A feeder that fails is reported with its reason and does not stop the others. The same inputs
give the same run ids and the same bytes in every output file except the logs and the
``seconds`` entries.
"""

from __future__ import annotations

from gridopt.workflows.fleet.config import (
    FeederSpec,
    FleetConfig,
    feeder_job_config,
    parse_fleet_config,
    read_fleet_config,
)
from gridopt.workflows.fleet.feeder import FeederOutcome, FeederStatus, FeederTask, run_feeder
from gridopt.workflows.fleet.run import (
    plan_tasks,
    resolve_fleet_now,
    run_fleet,
    set_dask_log_level,
)
from gridopt.workflows.fleet.summary import (
    COLUMNS,
    CSV_NAME,
    JSON_NAME,
    FleetResult,
    FleetStatus,
)

__all__ = [
    "COLUMNS",
    "CSV_NAME",
    "JSON_NAME",
    "FeederOutcome",
    "FeederSpec",
    "FeederStatus",
    "FeederTask",
    "FleetConfig",
    "FleetResult",
    "FleetStatus",
    "feeder_job_config",
    "parse_fleet_config",
    "plan_tasks",
    "read_fleet_config",
    "resolve_fleet_now",
    "run_feeder",
    "run_fleet",
    "set_dask_log_level",
]
