"""Ingest stage of the planning job: readings (validated, regular ``(time, meter)``), weather."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import xarray as xr

from gridopt.workflows.job.outputs import stage_csv
from gridopt.workflows.rundir import StagedOutputs

if TYPE_CHECKING:
    from gridopt.ingest.model import IngestResult
    from gridopt.workflows.jobconfig import JobConfig

# One logger for the whole job: run.log names it as before the stages were split.
logger = logging.getLogger("gridopt.workflows.job")


def ingest_stage(cfg: JobConfig, staged: StagedOutputs
                 ) -> tuple[IngestResult, xr.Dataset | None]:
    """Read the readings (:func:`gridopt.ingest.read_readings`) and the optional weather.

    The quarantined rows are staged as ``readings_quarantine.csv``; the readings get the
    config's ``tz`` attribute when it sets one.
    """
    from gridopt.forecast.io import read_weather_csv
    from gridopt.ingest import read_readings

    ingested = read_readings(cfg.readings, tz=cfg.tz, freq=cfg.freq, fill=cfg.fill,
                             max_fill_steps=cfg.max_fill_steps, budget=cfg.budget)
    if cfg.tz:
        ingested.data.attrs["tz"] = cfg.tz
    weather = read_weather_csv(cfg.weather, tz=cfg.tz) if cfg.weather else None
    report = ingested.report
    logger.info("ingest: %d rows, %d clean, %d quarantined, %d meters x %d intervals",
                report.rows_in, report.rows_clean, report.rows_quarantined, report.meters,
                report.intervals)
    stage_csv(staged, "readings_quarantine.csv", ingested.quarantine)
    return ingested, weather


__all__ = ["ingest_stage"]
