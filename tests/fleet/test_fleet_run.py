"""``gridopt fleet run``: in-process and on a real 2-worker LocalCluster, failures, reruns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from gridopt.workflows.fleet import COLUMNS
from tests.conftest import REPO
from tests.fleet._cli import fleet_json
from tests.fleet.conftest import write_fleet, write_inputs

GOOD = ("demo", "half", "json33")
FEEDER_OUTPUTS = {"summary.json", "forecast.nc", "dispatch.nc", "forecast.csv", "dispatch.csv",
                  "buses.csv", "violations.csv", "readings_quarantine.csv"}
#: Files whose every byte must repeat (the logs hold wall-clock times, the summaries seconds).
TIMED = {"run.log", "fleet.log", "summary.json", "fleet.json", "fleet.csv"}


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every published file under a fleet run directory (no lock files, no staging)."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.parts[-2:])}


def untimed_json(data: bytes, keys: tuple[str, ...]) -> Any:
    obj = json.loads(data)
    for key in keys:
        obj.pop(key, None)
    for row in obj.get("feeders", []):
        row.pop("seconds", None)
    return obj


def untimed_csv(data: bytes) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    for row in rows:
        row.pop("seconds")
    return rows


@pytest.fixture(scope="module")
def fleet_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The good fleet in-process, then again on a 2-worker LocalCluster into the same folder."""
    folder = tmp_path_factory.mktemp("fleet")
    write_inputs(folder)
    config = write_fleet(folder, GOOD)
    out = folder / "out"
    code_a, a, _ = fleet_json(config, out)
    files_a = snapshot(Path(a["run_dir"]))
    code_b, b, err_b = fleet_json(config, out, "--workers", "2")
    files_b = snapshot(Path(b["run_dir"]))
    return {"config": config, "a": (code_a, a, files_a), "b": (code_b, b, files_b),
            "err_b": err_b}


def test_fleet_summary_contract(fleet_runs: dict[str, Any]) -> None:
    code, s, files = fleet_runs["a"]
    assert code == 0, s["failed"]
    assert {"feeders", "ok", "failed", "seconds", "run_dir"} <= set(s)
    assert s["status"] == "ok" and s["ok"] == list(GOOD) and s["failed"] == []
    assert s["feeders_total"] == 3 and s["workers"] == 1 and s["dashboard"] is None
    run_dir = Path(s["run_dir"])
    assert run_dir.name == s["run_id"]
    on_disk = json.loads(files["fleet.json"])
    assert on_disk == untimed_json(json.dumps(s).encode(), ("run_dir", "workers",
                                                            "dashboard")) | {
        "seconds": on_disk["seconds"], "feeders": on_disk["feeders"]}
    rows = list(csv.DictReader(io.StringIO(files["fleet.csv"].decode())))
    assert tuple(rows[0]) == COLUMNS and [r["name"] for r in rows] == list(GOOD)
    for row, disk_row, csv_row in zip(s["feeders"], on_disk["feeders"], rows, strict=True):
        feeder_dir = Path(row["run_dir"])
        assert feeder_dir == run_dir / row["name"] / row["run_id"]
        assert disk_row["run_dir"] == f"{row['name']}/{row['run_id']}" == csv_row["run_dir"]
        assert {p.name for p in feeder_dir.iterdir()} - {".lock", "run.log"} == FEEDER_OUTPUTS
        job = json.loads((feeder_dir / "summary.json").read_text())
        assert job["job"] == row["name"] and job["status"] == row["status"] == "ok"
        for key in ("losses_baseline_mwh", "losses_optimised_mwh", "violations_optimised"):
            assert row[key] == job[key] == disk_row[key]
            assert float(csv_row[key]) == pytest.approx(job[key], abs=1e-12)
        assert row["losses_optimised_mwh"] < row["losses_baseline_mwh"]
        assert row["seconds"] > 0
    # the variants are different feeders: different losses
    losses = {r["name"]: r["losses_baseline_mwh"] for r in s["feeders"]}
    assert len(set(losses.values())) == 3
    assert s["losses_baseline_mwh"] == pytest.approx(sum(losses.values()), abs=1e-5)


def test_cluster_results_equal_in_process_results(fleet_runs: dict[str, Any],
                                                  tmp_path: Path) -> None:
    (code_a, a, _), (code_b, b, _) = fleet_runs["a"], fleet_runs["b"]
    assert code_a == code_b == 0
    assert b["workers"] == 2 and b["dashboard"], b
    assert "dashboard" in fleet_runs["err_b"]  # printed on stderr when the cluster starts
    for ra, rb in zip(a["feeders"], b["feeders"], strict=True):
        assert ra["run_id"] == rb["run_id"]
        for key in ("losses_baseline_mwh", "losses_optimised_mwh"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-9)
    # the cluster rerun rewrote the same directories: compare the in-process files kept in
    # memory with the datasets the workers wrote
    for row in a["feeders"]:
        name = f"{row['name']}/{row['run_id']}"
        kept = tmp_path / f"{row['name']}.nc"
        kept.write_bytes(fleet_runs["a"][2][f"{name}/dispatch.nc"])
        before = xr.load_dataset(kept)
        after = xr.load_dataset(Path(row["run_dir"]) / "dispatch.nc")
        assert set(before.data_vars) == set(after.data_vars)
        for var in before.data_vars:
            np.testing.assert_allclose(after[var].values, before[var].values, rtol=0,
                                       atol=1e-9, err_msg=f"{name} {var}")
        for key in ("losses_model_mwh", "losses_optimised_mwh", "curtailed_mwh"):
            assert after.attrs[key] == pytest.approx(before.attrs[key], abs=1e-9)


def test_rerun_is_idempotent(fleet_runs: dict[str, Any]) -> None:
    (_, a, files_a), (_, b, files_b) = fleet_runs["a"], fleet_runs["b"]
    assert a["run_id"] == b["run_id"] and a["run_dir"] == b["run_dir"]
    assert set(files_a) == set(files_b)
    for name in sorted(files_a):
        if Path(name).name not in TIMED:
            assert files_a[name] == files_b[name], name
        elif Path(name).name == "summary.json":
            assert (untimed_json(files_a[name], ("seconds_by_stage",))
                    == untimed_json(files_b[name], ("seconds_by_stage",))), name
    assert (untimed_json(files_a["fleet.json"], ("seconds",))
            == untimed_json(files_b["fleet.json"], ("seconds",)))
    assert untimed_csv(files_a["fleet.csv"]) == untimed_csv(files_b["fleet.csv"])
    log = files_b["fleet.log"].decode()
    assert log.count(f"fleet {a['run_id']} finished: ok, 3 of 3 feeders ok") == 2


def test_broken_feeders_are_reported_and_the_rest_finish(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("broken-fleet")
    write_inputs(folder)
    config = write_fleet(folder, ("broken", "demo", "tight"))
    code, s, _ = fleet_json(config, folder / "out")
    assert code == 3 and s["status"] == "partial"
    assert s["ok"] == ["demo"]
    reasons = {f["name"]: f["reason"] for f in s["failed"]}
    assert set(reasons) == {"broken", "tight"}
    assert "missing_network.json" in reasons["broken"] and "no such file" in reasons["broken"]
    assert reasons["tight"].startswith("InfeasibleError: ")
    assert "grid connection" in reasons["tight"]
    rows = {r["name"]: r for r in s["feeders"]}
    assert [r["name"] for r in s["feeders"]] == ["broken", "demo", "tight"]  # file order
    assert rows["broken"]["run_dir"] is None and rows["broken"]["status"] == "failed"
    tight = Path(rows["tight"]["run_dir"])
    # nothing published for the infeasible feeder: its log only
    assert {p.name for p in tight.iterdir()} <= {".lock", "run.log"}
    demo = Path(rows["demo"]["run_dir"])
    assert FEEDER_OUTPUTS <= {p.name for p in demo.iterdir()}
    table = list(csv.DictReader((Path(s["run_dir"]) / "fleet.csv").open()))
    assert {r["name"]: r["status"] for r in table} == {
        "broken": "failed", "demo": "ok", "tight": "failed"}
    assert table[2]["reason"] == reasons["tight"]


def test_two_cluster_runs_in_one_process(tmp_path: Path) -> None:
    """The allowed-failures override of a local cluster leaves Dask's configuration intact.

    In a fresh interpreter, where ``distributed`` is not imported before the first run (as in
    a script or a benchmark that runs several fleets).
    """
    import subprocess
    import sys

    write_inputs(tmp_path)
    config = write_fleet(tmp_path, ("broken",))
    script = f"""
import dask
from gridopt.workflows.cluster import ClusterSpec
from gridopt.workflows.fleet import run_fleet
for attempt in range(2):
    result = run_fleet({str(config)!r}, out_dir={str(tmp_path)!r} + f"/out{{attempt}}",
                       cluster=ClusterSpec(workers=1))
    assert result.workers == 1 and result.exit_code == 3, result
assert dask.config.get("distributed.scheduler.allowed-failures") == 3
assert dask.config.get("distributed.comm.timeouts.connect") is not None
print("two runs ok")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0 and "two runs ok" in proc.stdout, proc.stderr[-2000:]
