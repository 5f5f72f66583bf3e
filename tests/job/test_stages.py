"""The job's closed choices and the stage helpers that need no solver (fast: no job run)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridopt.errors import InputError
from gridopt.workflows.job import (
    STAGES,
    JobStage,
    JobStatus,
    ReconfigurationOutcome,
    block_profiles,
    dispatch_input,
)
from gridopt.workflows.job.result import StageClock, iso_utc
from gridopt.workflows.job.summary import job_status


def test_enum_values_are_the_strings_of_the_outputs() -> None:
    # docs/job.md documents these exact strings; json writes the value of a StrEnum
    assert [s.value for s in JobStatus] == ["ok", "infeasible"]
    assert json.dumps({"status": JobStatus.INFEASIBLE}) == '{"status": "infeasible"}'
    assert (JobStatus.OK.exit_code, JobStatus.INFEASIBLE.exit_code) == (0, 3)
    assert [s.value for s in ReconfigurationOutcome] == ["off", "adopted", "not adopted"]
    assert STAGES == tuple(JobStage)
    assert [s.value for s in STAGES] == [
        "ingest", "forecast", "reconfigure", "dispatch", "ac_check", "outputs"]


@pytest.mark.parametrize(
    ("solve_status", "ac_checked", "expected"),
    [("optimal", True, JobStatus.OK), ("optimal", False, JobStatus.INFEASIBLE),
     ("infeasible", True, JobStatus.INFEASIBLE), ("not_converged", False, JobStatus.INFEASIBLE)],
)
def test_job_status_needs_an_optimal_ac_checked_dispatch(
    solve_status: str, ac_checked: bool, expected: JobStatus
) -> None:
    assert job_status({"status": solve_status, "ac_checked": ac_checked}) is expected


def test_stage_clock_accumulates_in_first_seen_order() -> None:
    clock = StageClock()
    clock.add(JobStage.AC_CHECK, 1.0)
    clock.add(JobStage.DISPATCH, 2.0)
    clock.add(JobStage.AC_CHECK, 0.5)
    assert clock.seconds == {"ac_check": 1.5, "dispatch": 2.0}
    assert all(type(k) is str for k in clock.seconds)  # plain keys in summary.json


def _forecast(n_time: int = 6) -> xr.Dataset:
    time = pd.date_range("2022-10-20T08:00", periods=n_time, freq="h").values
    p = np.arange(n_time * 2, dtype=float).reshape(n_time, 2)
    return xr.Dataset(
        {"p_mw": (("time", "bus"), p), "q_mvar": (("time", "bus"), p / 10),
         "consumption_kwh": (("time", "meter"), np.ones((n_time, 3)))},
        coords={"time": time, "bus": [1, 2], "meter": ["a", "b", "c"]},
        attrs={"interval_s": 3600},
    )


def test_dispatch_input_keeps_only_the_bus_variables() -> None:
    ds = dispatch_input(_forecast())
    assert set(ds.data_vars) == {"p_mw", "q_mvar"}
    assert set(ds.coords) == {"time", "bus"}


def test_block_profiles_average_equal_blocks() -> None:
    fc = _forecast(6)
    blocks = block_profiles(fc, 2)
    assert blocks.sizes["time"] == 2 and blocks.attrs["period_hours"] == 3.0
    np.testing.assert_allclose(blocks["p_mw"].values, [[2.0, 3.0], [8.0, 9.0]])
    assert blocks["time"].values[1] == fc["time"].values[3]
    with pytest.raises(InputError, match="periods = 4 does not divide the 6"):
        block_profiles(fc, 4)


def test_iso_utc_takes_naive_values_as_utc() -> None:
    assert iso_utc(np.datetime64("2022-10-20T08:00")) == "2022-10-20T08:00:00+00:00"
    assert iso_utc(pd.Timestamp("2022-10-20T00:00", tz="Etc/GMT+8")) == (
        "2022-10-20T08:00:00+00:00")
