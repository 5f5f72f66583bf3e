"""Reading the store: the published generation as a lazy, Dask-backed ``(time, meter)`` Dataset.

Chunks are one calendar month (UTC) of one meter block; computing a chunk reads only the part
files of that month and block (column ``meter`` filtered to the block's meters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xarray as xr
from numpy.typing import NDArray

from gridopt.ingest.interval import parse_freq
from gridopt.ingest.model import readings_dataset
from gridopt.ingest.store.cells import dense_block, month_keys, read_parts
from gridopt.ingest.store.manifest import Manifest, StoreError, read_manifest


def _read_chunk(files: list[str], meters: list[str], start_ns: int, n_times: int,
                step_ns: int) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                       NDArray[np.int8]]:
    times = start_ns + step_ns * np.arange(n_times, dtype=np.int64)
    cells = read_parts(files, meters, int(times[0]), int(times[-1]))
    return dense_block(cells, times, step_ns, meters)


def _utc_ns(value: str | pd.Timestamp | None) -> int | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _time_axis(m: Manifest, start: str | pd.Timestamp | None,
               end: str | pd.Timestamp | None) -> tuple[NDArray[np.int64], int]:
    assert m.freq is not None and m.start_ns is not None and m.end_ns is not None
    step_ns = int(parse_freq(m.freq).value)
    first = m.start_ns
    lo, hi = first, m.end_ns
    s, e = _utc_ns(start), _utc_ns(end)
    if s is not None:
        lo = max(lo, first - ((first - s) // step_ns) * step_ns)   # first interval >= start
    if e is not None:
        hi = min(hi, first + ((e - first) // step_ns) * step_ns)   # last interval <= end
    if hi < lo:
        raise StoreError(f"the window {start} .. {end} holds no interval of the store "
                         f"({pd.Timestamp(m.start_ns, tz='UTC')} .. "
                         f"{pd.Timestamp(m.end_ns, tz='UTC')})")
    return np.arange(lo, hi + step_ns, step_ns, dtype=np.int64), step_ns


def open_store(path: str | Path, *, start: str | pd.Timestamp | None = None,
               end: str | pd.Timestamp | None = None,
               meters: list[str] | None = None) -> xr.Dataset:
    """Open the published generation of a meter store as a lazy Dataset.

    Parameters
    ----------
    path
        Store directory (made by :func:`gridopt.ingest.store.append`).
    start, end
        Optional window of interval starts (inclusive; naive values are UTC).
    meters
        Optional subset of meters (in this order); default every meter in registry order.

    Returns
    -------
    xarray.Dataset
        The variables, coordinates and attributes of the ingest Dataset
        (:func:`gridopt.ingest.read_readings`): ``consumption_kwh``, ``production_kwh``
        (float64), ``quality`` (int8) on ``(time, meter)``, Dask-backed with chunks of one
        month (UTC) by one meter block. Cells no input held are NaN with quality
        ``MISSING``. Attribute ``generation`` names the generation read.

    Raises
    ------
    StoreError
        Not a store, an empty store, an empty window or unknown meters.
    """
    path = Path(path)
    m = read_manifest(path)
    if not m.parts:
        raise StoreError(f"{path}: the store holds no readings yet")
    times, step_ns = _time_axis(m, start, end)
    all_meters = list(m.meters)
    index = {name: i for i, name in enumerate(all_meters)}
    if meters is None:
        chosen = all_meters
    else:
        unknown = [x for x in meters if x not in index]
        if unknown:
            raise StoreError(f"{path}: meter(s) not in the store: {', '.join(unknown[:5])}")
        chosen = list(meters)
    # Consecutive runs of chosen meters in one block form one chunk.
    runs: list[tuple[int, list[str]]] = []
    for name in chosen:
        b = index[name] // m.meter_block
        if runs and runs[-1][0] == b:
            runs[-1][1].append(name)
        else:
            runs.append((b, [name]))
    months = month_keys(times)
    edges = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    bounds = [*edges.tolist(), len(times)]
    rows: dict[str, list[list[Any]]] = {v: [] for v in ("cons", "prod", "quality")}
    for i in range(len(edges)):
        lo, hi = bounds[i], bounds[i + 1]
        month = str(months[lo])
        row: dict[str, list[Any]] = {v: [] for v in rows}
        for block, names in runs:
            files = [str(path / p.file) for p in m.parts if p.month == month
                     and block in p.blocks and p.start_ns <= times[hi - 1]
                     and p.end_ns >= times[lo]]
            parts = dask.delayed(_read_chunk, nout=3, pure=True)(
                files, names, int(times[lo]), hi - lo, step_ns)
            shape = (hi - lo, len(names))
            row["cons"].append(da.from_delayed(parts[0], shape, np.float64))
            row["prod"].append(da.from_delayed(parts[1], shape, np.float64))
            row["quality"].append(da.from_delayed(parts[2], shape, np.int8))
        for v in rows:
            rows[v].append(row[v])
    arrays = {v: da.block(rows[v]) for v in rows}
    return readings_dataset(
        arrays["cons"], arrays["prod"], arrays["quality"],
        times.astype("datetime64[ns]"),
        np.asarray(chosen, dtype=str),
        attrs={
            "freq": m.freq,
            "tz": m.tz,
            "source": str(path),
            "cumulative_input": int(m.attrs.get("cumulative_input", 0)),
            "fill_policy": str(m.attrs.get("fill_policy", "none")),
            "generation": m.generation,
        },
    )


def read_quarantine(path: str | Path) -> pd.DataFrame:
    """Every quarantined row of the published inputs (column ``source`` names the input)."""
    path = Path(path)
    m = read_manifest(path)
    frames = [pq.read_table(path / s.quarantine_file).to_pandas()
              for s in m.sources if s.quarantine_file is not None]
    if not frames:
        return pd.DataFrame(columns=["source", "row", "meter_id", "timestamp",
                                     "consumption_kwh", "production_kwh", "reason"])
    return pd.concat(frames, ignore_index=True)
