"""Where the work of a command runs: one process (the default), a local Dask cluster, or an
existing one.

The commands that scale take ``--workers N`` (a :class:`distributed.LocalCluster` of ``N``
processes with one thread each: HiGHS, Ipopt and pandapower's numba kernels keep per-process
state and release no GIL worth sharing) or ``--scheduler ADDRESS`` (a cluster somebody else
runs). Without either they run in this process, as before, with no server started::

    with open_cluster(ClusterSpec(workers=2)) as cluster:
        cluster.client          # a distributed.Client, or None for in-process work
        cluster.dashboard       # the dashboard address when a cluster was started, else None

gridopt never schedules work itself: a task graph goes to Dask, which retries tasks of a worker
that died (``retries``) and reports the ones that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridopt.errors import InputError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterSpec", "OpenCluster", "open_cluster"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSpec:
    """How a command spreads its work.

    Parameters
    ----------
    workers
        Start a local cluster of this many worker processes (one thread each). ``None``: do
        not start one.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``). Exclusive with ``workers``.
    memory_limit
        Memory limit per local worker (Dask's syntax, ``"4GiB"``); ``"auto"`` lets Dask divide
        the machine's memory between the workers.
    """

    workers: int | None = None
    scheduler: str | None = None
    memory_limit: str = "auto"

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise InputError("give --workers N or --scheduler ADDRESS, not both")
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be at least 1, got {self.workers}")
        if self.scheduler is not None and not self.scheduler.strip():
            raise InputError("--scheduler needs an address such as tcp://host:8786")

    @property
    def distributed(self) -> bool:
        """Whether the work goes to a Dask cluster (started here or existing)."""
        return self.workers is not None or self.scheduler is not None


@dataclass(frozen=True)
class OpenCluster:
    """A cluster opened by :func:`open_cluster`: its client (``None`` in-process) and
    dashboard address (``None`` when none was started or the dashboard is unavailable)."""

    client: Client | None
    dashboard: str | None

    @property
    def n_workers(self) -> int:
        """Worker processes the work can use (1 in-process)."""
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info().get("workers", {})))


@contextmanager
def open_cluster(spec: ClusterSpec) -> Iterator[OpenCluster]:
    """Open the cluster ``spec`` asks for and close what was started on exit.

    A local cluster is closed with its workers; a client of an existing scheduler is closed,
    the scheduler is left running.

    Raises
    ------
    InputError
        When an existing scheduler cannot be reached (the address is named).
    """
    if not spec.distributed:
        yield OpenCluster(client=None, dashboard=None)
        return
    from distributed import Client, LocalCluster

    if spec.workers is not None:
        with LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                          memory_limit=spec.memory_limit) as local, Client(local) as client:
            dashboard = _dashboard(client)
            log.warning("Dask LocalCluster with %d worker processes; dashboard %s",
                        spec.workers, dashboard or "unavailable")
            yield OpenCluster(client=client, dashboard=dashboard)
        return
    assert spec.scheduler is not None
    try:
        client = Client(spec.scheduler, timeout="10s")
    except OSError as err:
        raise InputError(f"cannot reach the Dask scheduler at {spec.scheduler}: {err}; start "
                         "one (dask scheduler) or use --workers N for a local cluster") from err
    with client:
        yield OpenCluster(client=client, dashboard=_dashboard(client))


def _dashboard(client: Client) -> str | None:
    """The dashboard address of a client's cluster, when it serves one."""
    try:
        link = client.dashboard_link
    except (AttributeError, KeyError):
        return None
    return str(link) if link else None
