"""The cluster a command runs on: in-process by default, a real LocalCluster with --workers."""

from __future__ import annotations

import os

import pytest

from gridopt.errors import InputError
from gridopt.workflows.cluster import ClusterSpec, open_cluster


def test_without_workers_nothing_is_started() -> None:
    with open_cluster(ClusterSpec()) as cluster:
        assert cluster.client is None
        assert cluster.dashboard is None
        assert cluster.n_workers == 1


def test_local_cluster_runs_tasks_in_worker_processes() -> None:
    with open_cluster(ClusterSpec(workers=2, memory_limit="2GiB")) as cluster:
        assert cluster.client is not None
        assert cluster.n_workers == 2
        pids = set(cluster.client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        assert cluster.client.submit(sum, [1, 2, 3]).result() == 6


def test_conflicting_or_bad_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="not both"):
        ClusterSpec(workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(InputError, match="at least 1"):
        ClusterSpec(workers=0)


def test_unreachable_scheduler_names_the_address() -> None:
    with pytest.raises(InputError, match=r"127\.0\.0\.1:9"), open_cluster(
            ClusterSpec(scheduler="tcp://127.0.0.1:9")):
        pass
