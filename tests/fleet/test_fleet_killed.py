"""A worker killed (SIGKILL) in the middle of a feeder: Dask re-runs the task, or the fleet
reports the feeder failed; either way nothing partial is published.

The test starts its own LocalCluster (2 worker processes, ``allowed-failures = 1`` as
``--workers`` sets it) and runs the fleet on it through ``--scheduler``. A watcher thread waits
until a worker stages outputs for the feeder ``demo`` (``.staging-<worker pid>`` in its run
directory: the job is under way) and kills that worker process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster

from gridopt.workflows.cluster import ClusterSpec
from gridopt.workflows.fleet import FeederStatus, run_fleet
from tests.fleet.conftest import write_fleet, write_inputs
from tests.fleet.test_fleet_run import FEEDER_OUTPUTS


class WorkerKiller(threading.Thread):
    """Kill the worker running ``feeder`` whenever one stages its outputs, ``times`` times."""

    def __init__(self, client: Client, root: Path, feeder: str, times: int) -> None:
        super().__init__(daemon=True)
        self.client, self.root, self.feeder, self.times = client, root, feeder, times
        self.killed: list[int] = []
        self.done = threading.Event()

    def _workers(self) -> set[int]:
        return {int(pid) for pid in self.client.run(os.getpid).values()}

    def run(self) -> None:
        while not self.done.is_set() and len(self.killed) < self.times:
            for staging in self.root.glob(f"*/{self.feeder}/*/.staging-*"):
                pid = int(staging.name.rsplit("-", 1)[1])
                # only worker processes of this test's cluster, each once
                if pid in self.killed or pid == os.getpid() or pid not in self._workers():
                    continue
                time.sleep(0.5)  # well inside the job (ingest and forecast take seconds)
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)
            self.done.wait(0.05)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=":0") as local, Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("killed-fleet")
    write_inputs(folder)
    return folder


def _run_with_kills(client: Client, folder: Path, out: Path, times: int) -> dict[str, Any]:
    config = write_fleet(folder, ("demo", "half"), name=f"{out.name}.toml")
    killer = WorkerKiller(client, out, "demo", times)
    killer.start()
    try:
        result = run_fleet(config, out_dir=out,
                           cluster=ClusterSpec(scheduler=client.scheduler.address))
    finally:
        killer.done.set()
        killer.join()
    return {"result": result, "killed": killer.killed,
            "rows": {o.name: o for o in result.outcomes}}


def _published(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir()} - {".lock", "run.log"}


def test_a_worker_killed_once_is_retried(cluster: Client, inputs: Path) -> None:
    run = _run_with_kills(cluster, inputs, inputs / "once", times=1)
    assert len(run["killed"]) == 1
    demo, half = run["rows"]["demo"], run["rows"]["half"]
    assert demo.status is half.status is FeederStatus.OK, (demo.reason, half.reason)
    assert run["result"].exit_code == 0
    assert demo.run_dir is not None
    assert _published(demo.run_dir) == FEEDER_OUTPUTS  # the retry's files, no staging left
    log = (demo.run_dir / "run.log").read_text()
    assert log.count(f"run {demo.run_id}: config") == 2  # killed attempt + retry
    assert log.count(f"run {demo.run_id} finished") == 1


def test_a_feeder_whose_worker_always_dies_is_reported_and_publishes_nothing(
        cluster: Client, inputs: Path) -> None:
    run = _run_with_kills(cluster, inputs, inputs / "always", times=2)
    assert len(run["killed"]) == 2
    demo, half = run["rows"]["demo"], run["rows"]["half"]
    assert half.status is FeederStatus.OK
    assert demo.status is FeederStatus.FAILED
    assert demo.reason is not None and "worker died" in demo.reason
    assert run["result"].exit_code == 3
    assert run["result"].failed == [{"name": "demo", "status": "failed",
                                     "reason": demo.reason}]
    assert demo.run_dir is not None
    assert _published(demo.run_dir) == set()  # no output, and the staging folders are gone
    summary = (run["result"].run_dir / "fleet.json").read_text()
    assert "worker died" in summary
