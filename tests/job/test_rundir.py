"""Run directory building blocks: run ids, staged outputs, the lock, the run log."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest

from gridopt.workflows.rundir import (
    RunLock,
    RunLockedError,
    StagedOutputs,
    compute_run_id,
    log_to_file,
    remove_stale_staging,
)


def test_run_id_changes_with_every_input(tmp_path: Path) -> None:
    data = tmp_path / "readings.csv"
    data.write_text("a,b\n1,2\n")
    args = (b"[job]\n", {"readings": data}, "2022-10-20T08:00:00+00:00", "0.1.0")
    ref = compute_run_id(*args)
    assert ref == compute_run_id(*args)
    assert ref.startswith("20221020T0800Z-") and len(ref) == len("20221020T0800Z-") + 12
    assert compute_run_id(b"[job]\n#\n", *args[1:]) != ref
    assert compute_run_id(args[0], args[1], "2022-10-21T08:00:00+00:00", args[3]) != ref
    assert compute_run_id(*args[:3], "0.2.0") != ref
    data.write_text("a,b\n1,3\n")
    assert compute_run_id(*args) != ref


def test_staged_outputs_appear_only_on_commit_summary_last(tmp_path: Path) -> None:
    staged = StagedOutputs(tmp_path)
    staged.write_json("summary.json", {"x": 1})
    staged.write_bytes("b.csv", b"1\n")
    staged.write_bytes("a.nc", b"2")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".staging-{os.getpid()}"]
    assert staged.names == ("b.csv", "a.nc", "summary.json")
    staged.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc", "b.csv", "summary.json"]


def test_staged_outputs_are_discarded_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), StagedOutputs(tmp_path) as staged:
        staged.write_bytes("dispatch.nc", b"half")
        raise RuntimeError("solver crashed")
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_is_removed(tmp_path: Path) -> None:
    (tmp_path / ".staging-999999").mkdir()
    (tmp_path / ".staging-999999" / "forecast.nc").write_bytes(b"partial")
    assert remove_stale_staging(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match="another gridopt run") as info:
            RunLock(tmp_path).acquire()
        assert info.value.exit_code == 4
    with RunLock(tmp_path):  # free again
        pass


def test_run_log_gets_info_without_making_the_console_chattier(tmp_path: Path) -> None:
    console = io.StringIO()
    handler = logging.StreamHandler(console)  # what the CLI's logging set-up installs
    root = logging.getLogger()
    root.addHandler(handler)
    gridopt_logger = logging.getLogger("gridopt")
    before = gridopt_logger.level
    gridopt_logger.setLevel(logging.WARNING)
    try:
        with log_to_file(tmp_path / "run.log"):
            logging.getLogger("gridopt.workflows.job").info("stage forecast done")
            logging.getLogger("gridopt.workflows.job").warning("not settled")
        logging.getLogger("gridopt.workflows.job").info("after the run")
    finally:
        root.removeHandler(handler)
        gridopt_logger.setLevel(before)
    text = (tmp_path / "run.log").read_text()
    assert "stage forecast done" in text and "not settled" in text
    assert "after the run" not in text
    assert "stage forecast done" not in console.getvalue()
    assert "not settled" in console.getvalue()
