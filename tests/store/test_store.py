"""The meter store: values identical to the NetCDF path, idempotent appends, conflicts refused,
a killed writer never read as complete, a Dask cluster gives the same store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from gridopt.cli.main import main
from gridopt.ingest.store import InputStatus, append, open_store, read_quarantine, store_info
from gridopt.ingest.store.manifest import read_manifest
from tests.store._compare import HOMES, REPO, same_bytes


def _days(tmp_path: Path) -> list[Path]:
    """The sample homes split into three files by week (with a bad row in the second)."""
    frame = pd.read_csv(HOMES, dtype=str)
    stamp = pd.to_datetime(frame["timestamp"], utc=True)
    files = []
    for i, (lo, hi) in enumerate([("2022-08-01", "2022-08-08"), ("2022-08-08", "2022-08-15"),
                                  ("2022-08-15", "2022-08-22")]):
        part = frame[(stamp >= lo) & (stamp < hi)].copy()
        if i == 1:
            part.iloc[5, 2] = "not-a-number"
        f = tmp_path / f"week{i}.csv"
        part.to_csv(f, index=False)
        files.append(f)
    return files


def test_store_values_are_the_netcdf_values(tmp_path: Path) -> None:
    nc = tmp_path / "homes.nc"
    assert main(["ingest", str(HOMES), "--out", str(nc)]) == 0
    store = tmp_path / "homes.store"
    assert main(["store", "append", str(store), str(HOMES)]) == 0
    ds = open_store(store)
    assert ds["consumption_kwh"].chunks is not None  # lazy, Dask-backed
    with xr.open_dataset(nc) as reference:
        same_bytes(ds.load(), reference.load())
    out = tmp_path / "export.nc"
    assert main(["store", "export", str(store), "-o", str(out)]) == 0
    with xr.open_dataset(out) as exported, xr.open_dataset(nc) as reference:
        same_bytes(exported.load(), reference.load())


def test_appends_by_week_equal_one_file_and_are_idempotent(tmp_path: Path) -> None:
    files = _days(tmp_path)
    store = tmp_path / "s"
    first = append(store, files[:2])
    assert [s.status for s in first.inputs] == [InputStatus.OK, InputStatus.DEGRADED]
    assert len(read_quarantine(store)) == 1
    again = append(store, files[:2])
    assert again.generation == first.generation
    assert all(s.status is InputStatus.ALREADY_APPENDED for s in again.inputs)
    append(store, files[2:])
    # The same week re-exported (other bytes, same readings): nothing added.
    copy = tmp_path / "week0-again.csv"
    pd.read_csv(files[0], dtype=str).iloc[::-1].to_csv(copy, index=False)
    before = open_store(store).load()
    re_export = append(store, [copy])
    assert re_export.inputs[0].cells_added == 0
    assert re_export.inputs[0].cells_identical == re_export.inputs[0].rows_in > 0
    after = open_store(store).load()
    same_bytes(before, after)
    # Week by week equals the weeks ingested as one file (except the bad row's cell).
    whole = tmp_path / "whole.csv"
    pd.concat([pd.read_csv(f, dtype=str) for f in files]).to_csv(whole, index=False)
    one = append(tmp_path / "one", [whole])
    assert one.inputs[0].status is InputStatus.DEGRADED
    same_bytes(after, open_store(tmp_path / "one").load())


def test_conflicting_values_refuse_the_file(tmp_path: Path) -> None:
    files = _days(tmp_path)
    store = tmp_path / "s"
    append(store, files[:1])
    changed = pd.read_csv(files[0], dtype=str)
    changed.loc[3, "consumption_kwh"] = "9.999"
    bad = tmp_path / "changed.csv"
    changed.to_csv(bad, index=False)
    before = store_info(store)
    summary = append(store, [bad, files[1]])
    assert [s.status for s in summary.inputs] == [InputStatus.CONFLICT, InputStatus.DEGRADED]
    assert "differ from readings already in the store" in summary.inputs[0].message
    assert store_info(store)["generation"] == before["generation"] + 1
    assert main(["store", "append", str(store), str(bad)]) == 2
    assert store_info(store)["unpublished_files"] == 0


def test_same_cells_twice_in_one_append(tmp_path: Path) -> None:
    files = _days(tmp_path)
    copy = tmp_path / "copy.csv"
    frame = pd.read_csv(files[0], dtype=str)
    frame.iloc[::-1].to_csv(copy, index=False)
    summary = append(tmp_path / "s", [files[0], copy])
    assert summary.inputs[1].cells_added == 0
    assert summary.inputs[1].cells_identical == summary.inputs[0].cells_added
    same_bytes(open_store(tmp_path / "s").load(),
                open_store(_single(tmp_path, files[0])).load())


def _single(tmp_path: Path, f: Path) -> Path:
    store = tmp_path / "single"
    append(store, [f])
    return store


def test_window_and_meters(tmp_path: Path) -> None:
    store = tmp_path / "s"
    append(store, [HOMES], meter_block=5)
    full = open_store(store).load()
    assert len(open_store(store)["consumption_kwh"].chunks[1]) == 4
    w = open_store(store, start="2022-09-03T10:30Z", end="2022-09-05T00:00Z",
                   meters=["Building_3", "Building_12"]).load()
    assert str(w["time"].values[0]) == "2022-09-03T11:00:00.000000000"
    assert str(w["time"].values[-1]) == "2022-09-05T00:00:00.000000000"
    ref = full.sel(time=w["time"], meter=w["meter"])
    same_bytes(w, ref)


def test_cluster_append_equals_in_process(tmp_path: Path) -> None:
    files = _days(tmp_path)
    assert main(["store", "append", str(tmp_path / "dask"), *map(str, files),
                 "--workers", "2"]) == 0  # all appended (one degraded)
    append(tmp_path / "local", files)
    same_bytes(open_store(tmp_path / "dask").load(), open_store(tmp_path / "local").load())


def test_large_parquet_split_by_meters(tmp_path: Path) -> None:
    frame = pd.read_csv(HOMES)
    pq_file = tmp_path / "homes.parquet"
    frame.to_parquet(pq_file, index=False)
    summary = append(tmp_path / "s", [pq_file], max_rows=10_000)
    assert len(summary.inputs) == 5   # 17 meters of 2016 rows, 4 meters a block
    with_one = append(tmp_path / "one", [pq_file])
    assert len(with_one.inputs) == 1
    same_bytes(open_store(tmp_path / "s").load(), open_store(tmp_path / "one").load())


KILLED_WRITER = """
import sys
from gridopt.ingest.store import append
append(sys.argv[1], sys.argv[2:])
"""


def test_killed_writer_leaves_the_previous_generation(tmp_path: Path) -> None:
    files = _days(tmp_path)
    store = tmp_path / "s"
    append(store, files[:1])
    published = open_store(store).load()
    generation = read_manifest(store).generation
    many = []
    frame = pd.read_csv(HOMES, dtype=str)
    for i in range(12):   # different meters each: nothing overlaps, lots to stage
        f = tmp_path / f"other{i}.csv"
        frame.assign(meter_id=frame["meter_id"] + f"_{i}").to_csv(f, index=False)
        many.append(str(f))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(store), *many],
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((store / "parts").glob("00000002-*")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Killed while staging: parts were written, nothing was published.
    assert any((store / "parts").glob("00000002-*"))
    assert read_manifest(store).generation == generation
    same_bytes(open_store(store).load(), published)
    assert store_info(store)["unpublished_files"] > 0
    # The next writer removes the leftovers and appends everything.
    summary = append(store, many)
    assert all(s.status is InputStatus.OK for s in summary.inputs)
    assert store_info(store)["unpublished_files"] == 0
    assert open_store(store).sizes["meter"] == 17 * 13


def test_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(Exception, match="not a gridopt store"):
        open_store(tmp_path)
    with pytest.raises(Exception, match="not a gridopt store"):
        append(tmp_path, [HOMES])


def test_forecast_reads_a_store_where_it_reads_a_file(tmp_path: Path) -> None:
    from gridopt.forecast.io import read_data

    store = tmp_path / "s"
    append(store, [HOMES])
    same_bytes(read_data(store), read_data(HOMES))
