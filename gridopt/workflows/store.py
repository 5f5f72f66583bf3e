"""The meter store as the ``gridopt store`` commands run it: append files (in this process or
on a Dask cluster), describe the store, export a window to NetCDF.

The computation is :mod:`gridopt.ingest.store`; this module expands the file patterns, opens
the cluster (:mod:`gridopt.workflows.cluster`) and writes the outputs atomically::

    payload = append_files(StoreAppendRequest(store=Path("m.store"), patterns=["exports/*.csv"],
                                              cluster=ClusterSpec(workers=2)))
    payload["generation"], payload["failed"]
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridopt.errors import InputError
from gridopt.ingest import quarantine_path, write_csv, write_netcdf
from gridopt.ingest.store import (
    DEFAULT_METER_BLOCK,
    AppendOptions,
    append,
    open_store,
    read_quarantine,
    store_info,
)
from gridopt.workflows.cluster import ClusterSpec, open_cluster

__all__ = [
    "AppendOptions",
    "StoreAppendRequest",
    "append_files",
    "export_window",
    "info",
]


@dataclass(frozen=True)
class StoreAppendRequest:
    """What ``gridopt store append`` was asked to do."""

    store: Path
    patterns: list[str]
    options: AppendOptions = field(default_factory=AppendOptions)
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    meter_block: int = DEFAULT_METER_BLOCK
    max_rows: int = 5_000_000


def expand(patterns: list[str]) -> list[str]:
    """Files named by the patterns (globs sorted; a pattern matching nothing is an error)."""
    files: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise InputError(f"{pattern}: no file matches")
            files += matched
        else:
            if not Path(pattern).is_file():
                raise InputError(f"{pattern}: no such file")
            files.append(pattern)
    return list(dict.fromkeys(files))


def append_files(request: StoreAppendRequest) -> dict[str, Any]:
    """Append the files as one new generation; the summary (``failed`` lists refused inputs).

    Raises
    ------
    InputError
        No files, a pattern matching nothing, not a store, another writer.
    """
    if request.meter_block < 1:
        raise InputError("--meter-block must be at least 1")
    files = expand(request.patterns)
    if not files:
        raise InputError("no readings files given")
    with open_cluster(request.cluster) as cluster:
        summary = append(request.store, files, request.options, client=cluster.client,
                         meter_block=request.meter_block, max_rows=request.max_rows)
        payload = {"command": "store append", "status": "ok" if not summary.failed
                   else "failed", **summary.to_dict(), "dashboard": cluster.dashboard,
                   "workers": cluster.n_workers}
    return payload


def info(store: Path) -> dict[str, Any]:
    """``gridopt store info``: what the published generation holds."""
    return {"command": "store info", "status": "ok", **store_info(store)}


def export_window(store: Path, out: Path, *, start: str | None = None, end: str | None = None,
                  meters: list[str] | None = None) -> dict[str, Any]:
    """Write a window of the store as the NetCDF ``gridopt ingest`` writes (and the store's
    quarantine beside it as ``<out stem>.quarantine.csv``)."""
    if out.suffix.lower() != ".nc":
        raise InputError(f"-o {out}: expected a NetCDF file name ending in .nc")
    ds = open_store(store, start=start, end=end, meters=meters).load()
    write_netcdf(ds, out)
    q_file = quarantine_path(out)
    write_csv(read_quarantine(store), q_file)
    return {"command": "store export", "status": "ok", "out": str(out),
            "quarantine_file": str(q_file), "meters": int(ds.sizes["meter"]),
            "intervals": int(ds.sizes["time"]),
            "start": str(ds["time"].values[0]), "end": str(ds["time"].values[-1]),
            "generation": int(ds.attrs["generation"])}
