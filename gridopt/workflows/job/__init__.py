"""The daily planning job: readings -> forecast -> (reconfiguration) -> dispatch -> AC check.

:func:`run_job` is what ``gridopt run --config job.toml [--now T]`` calls. Stages, each a call
into an existing layer, each in its own module of this package:

1. **ingest** (:mod:`.readings`) :func:`gridopt.ingest.read_readings` (validated, regular
   ``(time, meter)``);
2. **forecast** (:mod:`.forecast`) :func:`forecast_horizon`: per-meter consumption (and PV
   production) models trained with :func:`gridopt.forecast.train` on the readings before
   ``now``, P10/P50/P90 for the next ``horizon_steps`` intervals from
   :func:`gridopt.forecast.predict`, mapped onto buses with
   :func:`gridopt.forecast.to_bus_demand`, scored against the readings of the horizon when
   they are known;
3. **reconfigure** (optional, :mod:`.plan`) :func:`gridopt.workflows.reconfigure.reconfigure`
   on the bus forecast averaged into ``[reconfigure] periods`` blocks;
4. **dispatch** (:mod:`.plan`) :class:`gridopt.workflows.dispatch.Dispatcher` on the
   (reconfigured) network: LP with successive loss linearisation, every period checked by
   ``pandapower.runpp``, against a baseline without flexibility; with reconfiguration the
   original topology is dispatched too, so the summary compares against the network as it was;
5. **outputs** (:mod:`.outputs`, :mod:`.summary`) written through
   :class:`gridopt.workflows.rundir.StagedOutputs` into the run directory
   ``<out_dir>/<run_id>``: ``summary.json``, ``forecast.nc``, ``dispatch.nc``, CSV tables, PNG
   figures; ``run.log`` beside them.

:mod:`.run` sequences them (lock, log, timing); :mod:`.result` holds the shared types
(:class:`JobResult`, :class:`JobStatus`, :class:`JobStage`, :class:`ReconfigurationOutcome`).

The same inputs give the same run id and the same bytes in every output file except
``run.log`` and the ``seconds_by_stage`` entry of ``summary.json`` (wall times).
"""

from __future__ import annotations

from gridopt.workflows.job.forecast import forecast_horizon, forecast_origin
from gridopt.workflows.job.outputs import (
    bus_table,
    dispatch_table,
    forecast_table,
    violations_table,
)
from gridopt.workflows.job.plan import Plan, block_profiles, dispatch_input, load_assets
from gridopt.workflows.job.result import (
    STAGES,
    ForecastMetrics,
    JobResult,
    JobStage,
    JobStatus,
    JsonValue,
    Progress,
    ReconfigurationOutcome,
    Summary,
)
from gridopt.workflows.job.run import resolve_now, run_directory, run_job
from gridopt.workflows.job.summary import build_summary

__all__ = [
    "STAGES",
    "ForecastMetrics",
    "JobResult",
    "JobStage",
    "JobStatus",
    "JsonValue",
    "Plan",
    "Progress",
    "ReconfigurationOutcome",
    "Summary",
    "block_profiles",
    "build_summary",
    "bus_table",
    "dispatch_input",
    "dispatch_table",
    "forecast_horizon",
    "forecast_origin",
    "forecast_table",
    "load_assets",
    "resolve_now",
    "run_directory",
    "run_job",
    "violations_table",
]
