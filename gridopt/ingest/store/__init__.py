"""The meter store: validated readings in an append-only, partitioned Parquet dataset on disk.

Public API::

    summary = append("meters.store", ["day1.csv", "day2.csv"], AppendOptions(), client=None)
    ds = open_store("meters.store")            # lazy (time, meter) Dataset, Dask-backed
    info = store_info("meters.store")          # generation, meters, window, parts, bytes
    read_quarantine("meters.store")            # every quarantined row, with its input

Every input goes through the existing ingest (:func:`gridopt.ingest.read_readings`:
validation, quarantine, budget); an input appended twice changes nothing; an input whose
readings differ from stored ones is refused (:class:`InputStatus` ``CONFLICT``); a writer
killed mid-append leaves the previous generation published (:mod:`.manifest`). See
``docs/store.md`` for the layout, the choice of Parquet over Zarr and the measurements.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gridopt.ingest.store.manifest import (
    DEFAULT_METER_BLOCK,
    MANIFESTS,
    PARTS,
    QUARANTINE,
    Manifest,
    StoreError,
    clean,
    is_store,
    orphans,
    publish,
    read_manifest,
    writer_lock,
)
from gridopt.ingest.store.reader import open_store, read_quarantine
from gridopt.ingest.store.writer import (
    AppendInput,
    AppendOptions,
    InputStatus,
    Staged,
    commit,
    plan_inputs,
    stage,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DEFAULT_METER_BLOCK",
    "AppendOptions",
    "AppendSummary",
    "InputStatus",
    "StoreError",
    "append",
    "is_store",
    "open_store",
    "read_quarantine",
    "store_info",
]

log = logging.getLogger(__name__)
#: Rows of a Parquet input above which it is split into blocks of whole meters.
DEFAULT_MAX_ROWS = 5_000_000


@dataclass(frozen=True)
class AppendSummary:
    """What an append did: the generation published (unchanged when nothing was new) and the
    outcome of every input."""

    store: str
    generation_before: int
    generation: int
    inputs: tuple[Staged, ...]
    seconds: float

    @property
    def failed(self) -> tuple[Staged, ...]:
        """Inputs refused (budget, conflict, unreadable)."""
        return tuple(s for s in self.inputs if s.status not in (
            InputStatus.OK, InputStatus.DEGRADED, InputStatus.ALREADY_APPENDED))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "store": self.store,
            "generation_before": self.generation_before,
            "generation": self.generation,
            "inputs": len(self.inputs),
            "appended": sum(s.status.appended for s in self.inputs),
            "already_appended": sum(s.status is InputStatus.ALREADY_APPENDED
                                    for s in self.inputs),
            "failed": [{"source": s.source, "status": s.status.value, "reason": s.message}
                       for s in self.failed],
            "cells_added": sum(s.cells_added for s in self.inputs if s.status.appended),
            "cells_already_stored": sum(s.cells_identical for s in self.inputs),
            "rows_in": sum(s.rows_in for s in self.inputs),
            "rows_quarantined": sum(s.rows_quarantined for s in self.inputs
                                    if s.status.appended),
            "seconds": self.seconds,
            "per_input": [{"source": s.source, "status": s.status.value,
                           "cells_added": s.cells_added if s.status.appended else 0,
                           "rows_in": s.rows_in, "rows_quarantined": s.rows_quarantined}
                          for s in self.inputs],
        }


def _run(store: Path, items: Sequence[AppendInput], options: AppendOptions, base: Manifest,
         client: Client | None) -> list[Staged]:
    if client is None:
        return [stage(str(store), item, options, base) for item in items]
    base_future = client.scatter(base, broadcast=True)
    futures = client.map(stage, [str(store)] * len(items), list(items),
                         [options] * len(items), [base_future] * len(items),
                         pure=False, retries=2)
    out: list[Staged] = client.gather(futures)
    return out


def append(store: str | Path, paths: Sequence[str | Path], options: AppendOptions | None = None,
           *, client: Client | None = None, meter_block: int = DEFAULT_METER_BLOCK,
           max_rows: int = DEFAULT_MAX_ROWS) -> AppendSummary:
    """Validate readings files and append them to a store, as one new generation.

    Parameters
    ----------
    store
        Store directory; created on the first append.
    paths
        Readings files (CSV or Parquet, as :func:`gridopt.ingest.read_readings` reads them).
        A Parquet file of more than ``max_rows`` rows is validated in blocks of whole meters.
    options
        Ingest options (zone, interval, layout, budget...). Without ``freq`` the store's
        interval is used once it has one.
    client
        A Dask client: inputs are validated and staged as tasks on its workers (which must
        see ``store`` on a shared file system). ``None``: in this process, one after another.
    meter_block
        Meters per block of a new store (the meter chunk of :func:`open_store`).
    max_rows
        Largest Parquet input validated in one piece.

    Raises
    ------
    StoreError
        ``store`` is not a store, or another process is appending to it.
    """
    root = Path(store)
    options = options or AppendOptions()
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not (root / ".lock").exists():
        raise StoreError(f"{root}: a directory that is not a gridopt store; give a new or "
                         "an existing store directory")
    t0 = time.perf_counter()
    with writer_lock(root):
        base = read_manifest(root)
        if base.generation == 0 and meter_block != base.meter_block:
            base = base.evolve(meter_block=meter_block)
        for sub in (PARTS, QUARANTINE, MANIFESTS):
            (root / sub).mkdir(exist_ok=True)
        removed = clean(root, base)
        if removed:
            log.warning("%s: removed %d file(s) left by an append that did not finish",
                        root, removed)
        items = plan_inputs(paths, max_rows)
        staged = _run(root, items, options, base, client)
        manifest, outcomes = commit(root, base, staged)
        if manifest is not base:
            publish(root, manifest)
    return AppendSummary(str(root), base.generation, manifest.generation, tuple(outcomes),
                         time.perf_counter() - t0)


def store_info(store: str | Path) -> dict[str, Any]:
    """What the published generation holds (JSON-ready)."""
    root = Path(store)
    m = read_manifest(root)
    data_bytes = sum((root / p.file).stat().st_size for p in m.parts)
    return {
        "store": str(root),
        "generation": m.generation,
        "freq": m.freq,
        "tz": m.tz,
        "meters": len(m.meters),
        "meter_block": m.meter_block,
        "start": None if m.start_ns is None else pd.Timestamp(m.start_ns, tz="UTC").isoformat(),
        "end": None if m.end_ns is None else pd.Timestamp(m.end_ns, tz="UTC").isoformat(),
        "cells": sum(p.rows for p in m.parts),
        "parts": len(m.parts),
        "bytes": data_bytes,
        "inputs": len(m.sources),
        "rows_quarantined": sum(s.rows_quarantined for s in m.sources),
        "unpublished_files": len(orphans(root, m)),
    }
