"""Cells: the validated ``(time, meter)`` Dataset as a long Arrow table, and back.

The store keeps one row per cell that carries information: every cell whose quality is not
``MISSING``, and the rare ``MISSING`` cell with a value. An absent cell reads back as NaN with
quality ``MISSING`` (what ingestion puts in a gap), so the dense grid read back is the
ingested one, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xarray as xr
from numpy.typing import NDArray

from gridopt.ingest.model import Quality

METER = "meter"
TIME = "time"
VALUES = ("consumption_kwh", "production_kwh")
QUALITY = "quality"
SCHEMA = pa.schema([
    (METER, pa.string()),
    (TIME, pa.timestamp("ns", tz="UTC")),
    (VALUES[0], pa.float64()),
    (VALUES[1], pa.float64()),
    (QUALITY, pa.int8()),
])
#: Cells with different values for one ``(meter, time)``, shown in an error message.
CONFLICT_EXAMPLES = 5


def dataset_to_cells(ds: xr.Dataset) -> pa.Table:
    """The informative cells of an ingest Dataset (dims ``time, meter``), meter-major.

    Rows are ordered by the Dataset's meter order, then time.
    """
    quality = np.asarray(ds[QUALITY].transpose("meter", "time").values)
    cons = np.asarray(ds[VALUES[0]].transpose("meter", "time").values)
    prod = np.asarray(ds[VALUES[1]].transpose("meter", "time").values)
    keep = (quality != Quality.MISSING) | ~np.isnan(cons) | ~np.isnan(prod)
    m_idx, t_idx = np.nonzero(keep)
    meters = np.asarray(ds["meter"].values).astype(str)
    times = np.asarray(ds["time"].values).astype("datetime64[ns]").view(np.int64)
    return pa.table([
        pa.DictionaryArray.from_arrays(pa.array(m_idx.astype(np.int32)),
                                       pa.array(meters)).cast(pa.string()),
        pa.array(times[t_idx], type=pa.int64()).cast(SCHEMA.field(TIME).type),
        pa.array(cons[m_idx, t_idx]),
        pa.array(prod[m_idx, t_idx]),
        pa.array(quality[m_idx, t_idx].astype(np.int8)),
    ], schema=SCHEMA)


def time_ns(table: pa.Table) -> NDArray[np.int64]:
    """The ``time`` column as int64 ns since the epoch (UTC)."""
    return np.asarray(table.column(TIME).cast(pa.int64()).to_numpy(), dtype=np.int64)


def month_keys(t_ns: NDArray[np.int64]) -> NDArray[np.str_]:
    """``YYYY-MM`` (UTC) of each instant."""
    return np.datetime_as_string(t_ns.astype("datetime64[ns]").astype("datetime64[M]"), unit="M")


def write_part(table: pa.Table, path: str) -> None:
    """Write a cells table as one Parquet file (zstd; row groups of at most 1 M cells)."""
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20,
                   use_dictionary=[METER])


def read_parts(files: Sequence[str], meters: Sequence[str] | None = None,
               start_ns: int | None = None, end_ns: int | None = None) -> pa.Table:
    """The cells of ``files``, optionally only those of ``meters`` in ``[start_ns, end_ns]``."""
    if not files:
        return SCHEMA.empty_table()
    tables = []
    for f in files:
        t = pq.read_table(f, read_dictionary=[METER])
        mask = None
        if meters is not None:
            mask = pa.array(meter_positions(t, meters) >= 0)
        if start_ns is not None or end_ns is not None:
            tn = t.column(TIME).cast(pa.int64())
            tm = pc.and_(pc.greater_equal(tn, start_ns if start_ns is not None else
                                          np.iinfo(np.int64).min),
                         pc.less_equal(tn, end_ns if end_ns is not None else
                                       np.iinfo(np.int64).max))
            mask = tm if mask is None else pc.and_(mask, tm)
        tables.append(t if mask is None else t.filter(mask))
    return pa.concat_tables(tables)


@dataclass(frozen=True)
class Reconciled:
    """New cells against stored ones: what is new, how many were already stored, and the
    cells whose stored values differ (a conflict)."""

    new: pa.Table
    identical: int
    conflicts: pd.DataFrame


def meter_positions(cells: pa.Table, meters: Sequence[str]) -> NDArray[np.int64]:
    """Position of each cell's meter in ``meters`` (-1 when absent), through the dictionary
    of each chunk of the column (no Python object per cell)."""
    index = pd.Index(list(meters))
    out = []
    for chunk in cells.column(METER).chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        lookup = np.asarray(index.get_indexer(
            np.asarray(chunk.dictionary.to_pylist(), dtype=object)), dtype=np.int64)
        out.append(lookup[np.asarray(chunk.indices.to_numpy(zero_copy_only=False), np.int64)])
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _keys(table: pa.Table, meters: Sequence[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([meter_positions(table, meters), time_ns(table)])


def _bits(table: pa.Table) -> NDArray[np.int64]:
    """Values and quality of each cell as integers (NaN compared bitwise)."""
    cols = [np.asarray(table.column(v).to_numpy(zero_copy_only=False), np.float64).view(
        np.int64) for v in VALUES]
    cols.append(np.asarray(table.column(QUALITY).to_numpy(), np.int64))
    return np.stack(cols, axis=1) if table.num_rows else np.empty((0, 3), np.int64)


def reconcile(new: pa.Table, stored: pa.Table) -> Reconciled:
    """Drop the cells of ``new`` that ``stored`` already holds with the same bits; list those
    it holds with other values.

    Appending the same readings twice therefore adds nothing; a reading that would change a
    stored one is a conflict (the store is append-only).
    """
    if stored.num_rows == 0 or new.num_rows == 0:
        return Reconciled(new, 0, pd.DataFrame())
    names = list(dict.fromkeys([*new.column(METER).unique().to_pylist(),
                                *stored.column(METER).unique().to_pylist()]))
    k_new, k_old = _keys(new, names), _keys(stored, names)
    pos = k_old.get_indexer(k_new)
    hit = pos >= 0
    if not hit.any():
        return Reconciled(new, 0, pd.DataFrame())
    b_new, b_old = _bits(new), _bits(stored)
    same = np.zeros(new.num_rows, dtype=bool)
    same[hit] = (b_new[hit] == b_old[pos[hit]]).all(axis=1)
    differ = hit & ~same
    conflicts = pd.DataFrame()
    if differ.any():
        rows = np.flatnonzero(differ)
        old_rows = pos[rows]
        conflicts = pd.DataFrame({
            "meter": [names[k_new[i][0]] for i in rows],
            "time": pd.to_datetime(time_ns(new)[rows], utc=True),
            **{f"stored_{v}": stored.column(v).to_numpy(zero_copy_only=False)[old_rows]
               for v in VALUES},
            "stored_quality": stored.column(QUALITY).to_numpy()[old_rows],
            **{f"new_{v}": new.column(v).to_numpy(zero_copy_only=False)[rows] for v in VALUES},
            "new_quality": new.column(QUALITY).to_numpy()[rows],
        })
    return Reconciled(new.filter(pa.array(~hit)), int(same.sum()), conflicts)


def conflict_message(source: str, conflicts: pd.DataFrame) -> str:
    """The error of a file whose readings differ from stored ones."""
    examples = "; ".join(
        f"{r.meter} at {r.time.isoformat()}: stored {r.stored_consumption_kwh!r} kWh "
        f"(quality {r.stored_quality}), new {r.new_consumption_kwh!r} kWh "
        f"(quality {r.new_quality})"
        for r in conflicts.head(CONFLICT_EXAMPLES).itertuples())
    return (f"{source}: {len(conflicts):,} reading(s) differ from readings already in the "
            f"store (e.g. {examples}). The store is append-only: nothing of this file was "
            f"appended. If the new export is the correct one, build a new store from the "
            f"corrected files")


def dense_block(cells: pa.Table, times_ns: NDArray[np.int64], step_ns: int,
                meters: Sequence[str]) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                NDArray[np.int8]]:
    """Cells -> dense ``(time, meter)`` arrays of consumption, production and quality on the
    grid ``times_ns`` (regular, step ``step_ns``) x ``meters``; absent cells NaN/``MISSING``."""
    shape = (len(times_ns), len(meters))
    cons = np.full(shape, np.nan)
    prod = np.full(shape, np.nan)
    quality = np.full(shape, np.int8(Quality.MISSING), dtype=np.int8)
    if cells.num_rows == 0 or not len(times_ns):
        return cons, prod, quality
    t = time_ns(cells)
    ti = (t - times_ns[0]) // step_ns
    mi = meter_positions(cells, meters)
    ok = (ti >= 0) & (ti < shape[0]) & (mi >= 0)
    ti, mi = ti[ok], mi[ok]
    cons[ti, mi] = np.asarray(cells.column(VALUES[0]).to_numpy(zero_copy_only=False))[ok]
    prod[ti, mi] = np.asarray(cells.column(VALUES[1]).to_numpy(zero_copy_only=False))[ok]
    quality[ti, mi] = np.asarray(cells.column(QUALITY).to_numpy())[ok]
    return cons, prod, quality
