"""Readings in PostgreSQL: write the validated cells (COPY), read a window back into the ingest
Dataset through Arrow, write forecasts to a table.

The schema is :mod:`gridopt.ingest.postgres_schema` (narrow ``readings`` partitioned by
month). The default reader is ADBC (``adbc-driver-postgresql``: libpq's binary COPY straight
into Arrow columns); the others are kept for the benchmark (``benchmarks/bench_store.py``,
docs/store.md)::

    write_readings(uri, result.data)                 # idempotent; a conflict is an error
    ds = read_window(uri, "2022-08-01", "2022-08-31")  # same variables as read_readings
    write_forecasts(uri, forecast, run_id="day-ahead 2022-09-01")

``uri`` is a libpq URI, ``postgresql://user@host:port/db``.
"""

from __future__ import annotations

import enum
import io
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xarray as xr
from numpy.typing import NDArray

from gridopt.errors import InputError
from gridopt.ingest.interval import parse_freq
from gridopt.ingest.model import Quality, readings_dataset
from gridopt.ingest.postgres_schema import (
    PARTITION_SQL,
    SCHEMA_SQL,
    WINDOW_SQL,
    Channel,
)
from gridopt.ingest.store.cells import QUALITY, VALUES, dataset_to_cells, time_ns

__all__ = ["Channel", "Reader", "create_schema", "read_window", "read_window_arrow",
           "window_sql", "write_forecasts", "write_readings"]

_COLUMNS = ("meter", "channel", "interval_start", "value", "quality")
_TS = pa.timestamp("us", tz="UTC")


class Reader(enum.StrEnum):
    """How a window is read into Arrow (measured in docs/store.md; ``ADBC`` is the default)."""

    ADBC = "adbc"              # adbc-driver-postgresql, fetch_arrow_table
    COPY_CSV = "copy_csv"      # psycopg 3 COPY (...) TO STDOUT (FORMAT CSV) -> pyarrow.csv
    CONNECTORX = "connectorx"  # connectorx.read_sql(return_type="arrow")


def _connect(uri: str) -> Any:
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError as exc:  # pragma: no cover - a required dependency
        raise InputError("the PostgreSQL store needs adbc-driver-postgresql "
                         "(pip install adbc-driver-postgresql)") from exc
    try:
        return adbc.connect(uri)
    except Exception as exc:
        raise InputError(f"cannot connect to PostgreSQL at {_redact(uri)}: {exc}") from exc


def _redact(uri: str) -> str:
    head, sep, tail = uri.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return uri
    scheme, _, user = head.partition("//")
    return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"


def create_schema(uri: str) -> None:
    """Create the tables and indices of :data:`~gridopt.ingest.postgres_schema.SCHEMA_SQL`
    (idempotent)."""
    with _connect(uri) as conn, conn.cursor() as cur:
        for statement in SCHEMA_SQL.split(";"):
            if statement.strip():
                cur.execute(statement)
        conn.commit()


def _month_starts(lo_ns: int, hi_ns: int) -> list[pd.Timestamp]:
    lo = pd.Timestamp(lo_ns, tz="UTC")
    first = pd.Timestamp(year=lo.year, month=lo.month, day=1, tz="UTC")
    last = pd.Timestamp(hi_ns, tz="UTC")
    months = pd.date_range(first, last, freq="MS", tz="UTC")
    return [*months, months[-1] + pd.offsets.MonthBegin(1)]


def _ensure_partitions(cur: Any, lo_ns: int, hi_ns: int) -> None:
    starts = _month_starts(lo_ns, hi_ns)
    for a, b in itertools.pairwise(starts):
        cur.execute(PARTITION_SQL.format(name=f"readings_{a:%Y_%m}", lo=a.isoformat(),
                                         hi=b.isoformat()))


def narrow_table(ds: xr.Dataset) -> pa.Table:
    """The Dataset's informative cells as ``readings`` rows: a consumption row per cell, a
    production row where production has a value (NaN is NULL)."""
    cells = dataset_to_cells(ds)
    ts = cells.column("time").cast(_TS)
    cons_row = pa.table({
        "meter": cells.column("meter"),
        "channel": pa.array(np.full(cells.num_rows, Channel.CONSUMPTION, np.int16)),
        "interval_start": ts,
        "value": pc.if_else(pc.is_nan(cells.column(VALUES[0])), None, cells.column(VALUES[0])),
        "quality": cells.column(QUALITY).cast(pa.int16()),
    })
    has_prod = pc.invert(pc.is_nan(cells.column(VALUES[1])))
    prod_row = pa.table({
        "meter": cells.column("meter"),
        "channel": pa.array(np.full(cells.num_rows, Channel.PRODUCTION, np.int16)),
        "interval_start": ts,
        "value": cells.column(VALUES[1]),
        "quality": cells.column(QUALITY).cast(pa.int16()),
    }).filter(has_prod)
    return pa.concat_tables([cons_row, prod_row])


def _meta(cur: Any) -> dict[str, str]:
    cur.execute("SELECT key, value FROM gridopt_meta")
    return {str(k): str(v) for k, v in cur.fetchall()}


def _set_meta(cur: Any, key: str, value: str) -> None:
    cur.execute("INSERT INTO gridopt_meta (key, value) VALUES ('{k}', '{v}') ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value".format(k=key, v=value.replace("'", "''")))


def write_readings(uri: str, ds: xr.Dataset) -> dict[str, int]:
    """Append a validated Dataset's readings to ``readings`` in one transaction.

    The rows go to a temporary table by COPY (ADBC bulk ingest), month partitions are created
    as needed, and rows already stored with the same value and quality are skipped, so writing
    the same readings twice changes nothing.

    Returns
    -------
    dict
        ``rows`` offered and ``rows_added``.

    Raises
    ------
    InputError
        Another interval than the table's, or readings that differ from stored ones (nothing
        is written).
    """
    rows = narrow_table(ds)
    if rows.num_rows == 0:
        return {"rows": 0, "rows_added": 0}
    create_schema(uri)
    t = time_ns(pa.table({"time": rows.column("interval_start").cast(
        pa.timestamp("ns", tz="UTC"))}))
    lo, hi = int(t.min()), int(t.max())
    with _connect(uri) as conn, conn.cursor() as cur:
        meta = _meta(cur)
        freq = str(ds.attrs.get("freq"))
        if "freq" in meta and meta["freq"] != freq:
            raise InputError(f"readings every {freq}, the database's readings are every "
                             f"{meta['freq']}; ingest with --freq {meta['freq']}")
        _ensure_partitions(cur, lo, hi)
        cur.execute("DROP TABLE IF EXISTS gridopt_stage")
        cur.adbc_ingest("gridopt_stage", rows, mode="create", temporary=True)
        cur.execute(
            "SELECT s.meter, s.interval_start, s.channel, r.value, s.value FROM gridopt_stage s "
            "JOIN readings r USING (meter, channel, interval_start) "
            "WHERE r.value IS DISTINCT FROM s.value OR r.quality <> s.quality LIMIT 5")
        conflicts = cur.fetchall()
        if conflicts:
            conn.rollback()
            shown = "; ".join(f"{m} at {ts} channel {c}: stored {a!r}, new {b!r}"
                              for m, ts, c, a, b in conflicts)
            raise InputError(f"readings differ from readings already in the database (e.g. "
                             f"{shown}); nothing was written (the table is append-only)")
        cur.execute(f"INSERT INTO readings ({', '.join(_COLUMNS)}) SELECT "
                    f"{', '.join(_COLUMNS)} FROM gridopt_stage ON CONFLICT DO NOTHING")
        added = int(cur.rowcount)
        first = min(lo, int(meta.get("first_ns", lo)))
        last = max(hi, int(meta.get("last_ns", hi)))
        for key, value in (("freq", freq), ("tz", str(ds.attrs.get("tz", "UTC"))),
                           ("first_ns", str(first)), ("last_ns", str(last))):
            _set_meta(cur, key, value)
        cur.execute("DROP TABLE gridopt_stage")
        conn.commit()
    return {"rows": rows.num_rows, "rows_added": added}


def _literal_ts(value: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def window_sql(start: str | pd.Timestamp, end: str | pd.Timestamp,
               meters: Sequence[str] | None = None) -> str:
    """The query every reader runs for a window (interval starts ``start`` .. ``end``
    inclusive; naive = UTC)."""
    lo, hi = _literal_ts(start), _literal_ts(end)
    where = ""
    if meters is not None:
        quoted = ", ".join("'" + str(m).replace("'", "''") + "'" for m in meters)
        where = f" AND meter IN ({quoted})"
    return WINDOW_SQL.format(lo=lo.isoformat(), hi=hi.isoformat(), meters=where)


def read_window_arrow(uri: str, sql: str, reader: Reader = Reader.ADBC) -> pa.Table:
    """Run ``sql`` (a :func:`window_sql`) with ``reader``; columns of ``readings``."""
    reader = Reader(reader)
    if reader is Reader.ADBC:
        with _connect(uri) as conn, conn.cursor() as cur:
            cur.execute(sql)
            table: pa.Table = cur.fetch_arrow_table()
        return table
    if reader is Reader.CONNECTORX:
        import connectorx as cx

        out: pa.Table = cx.read_sql(uri, sql, return_type="arrow")
        return out
    import psycopg

    buf = io.BytesIO()
    with psycopg.connect(uri) as conn, conn.cursor() as cur:
        copy_sql = (f"COPY (SELECT meter, channel, interval_start AT TIME ZONE 'UTC', value, "
                    f"quality FROM ({sql}) q) TO STDOUT (FORMAT CSV)")
        with cur.copy(copy_sql) as copy:
            for block in copy:
                buf.write(block)
    buf.seek(0)
    types = {"meter": pa.string(), "channel": pa.int16(), "interval_start": pa.timestamp("us"),
             "value": pa.float64(), "quality": pa.int16()}
    return pacsv.read_csv(buf, read_options=pacsv.ReadOptions(column_names=list(_COLUMNS)),
                          convert_options=pacsv.ConvertOptions(column_types=types))


def _pivot(table: pa.Table, times: NDArray[np.int64], step_ns: int,
           meters: Sequence[str] | None) -> tuple[NDArray[np.str_], dict[str, NDArray[Any]]]:
    ts = table.column("interval_start")
    if pa.types.is_timestamp(ts.type) and ts.type.tz is None:
        ts = pc.assume_timezone(ts, "UTC")
    t = np.asarray(ts.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy())
    encoded = pc.dictionary_encode(table.column("meter")).combine_chunks()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.array(sorted(names.tolist()) if meters is None else list(meters), dtype=object)
    col = pd.Index(order).get_indexer(names)[codes] if len(names) else codes
    row = (t - times[0]) // step_ns
    channel = np.asarray(table.column("channel").to_numpy(zero_copy_only=False))
    value = np.asarray(table.column("value").to_numpy(zero_copy_only=False), dtype=np.float64)
    quality_in = np.asarray(table.column("quality").to_numpy(zero_copy_only=False), np.int8)
    ok = (col >= 0) & (row >= 0) & (row < len(times))
    shape = (len(times), len(order))
    out = {"cons": np.full(shape, np.nan), "prod": np.full(shape, np.nan),
           "quality": np.full(shape, np.int8(Quality.MISSING), dtype=np.int8)}
    for ch, key in ((Channel.CONSUMPTION, "cons"), (Channel.PRODUCTION, "prod")):
        sel = ok & (channel == ch)
        out[key][row[sel], col[sel]] = value[sel]
        out["quality"][row[sel], col[sel]] = quality_in[sel]
    return order.astype(str), out


def read_window(uri: str, start: str | pd.Timestamp | None = None,
                end: str | pd.Timestamp | None = None, *, meters: Sequence[str] | None = None,
                reader: Reader = Reader.ADBC) -> xr.Dataset:
    """A window of ``readings`` as the ingest Dataset (:func:`gridopt.ingest.read_readings`).

    The time axis is the table's regular grid (``gridopt_meta``) within ``start`` .. ``end``
    (inclusive; default the whole table); meters sorted, or ``meters`` in that order. Cells
    without a row are NaN with quality ``MISSING``.

    Raises
    ------
    InputError
        No readings table, or an empty window.
    """
    with _connect(uri) as conn, conn.cursor() as cur:
        try:
            meta = _meta(cur)
        except Exception as exc:
            raise InputError(f"{_redact(uri)}: no gridopt readings tables ({exc}); write "
                             "readings first") from exc
    if "freq" not in meta:
        raise InputError(f"{_redact(uri)}: the readings table is empty")
    step_ns = int(parse_freq(meta["freq"]).value)
    first, last = int(meta["first_ns"]), int(meta["last_ns"])
    lo, hi = first, last
    if start is not None:
        lo = max(lo, first - ((first - _literal_ts(start).value) // step_ns) * step_ns)
    if end is not None:
        hi = min(hi, first + ((_literal_ts(end).value - first) // step_ns) * step_ns)
    if hi < lo:
        raise InputError(f"the window {start} .. {end} holds no interval of the table")
    times = np.arange(lo, hi + step_ns, step_ns, dtype=np.int64)
    table = read_window_arrow(uri, window_sql(pd.Timestamp(lo, tz="UTC"),
                                              pd.Timestamp(hi, tz="UTC"), meters), reader)
    names, arrays = _pivot(table, times, step_ns, meters)
    return readings_dataset(
        arrays["cons"], arrays["prod"], arrays["quality"],
        times.astype("datetime64[ns]"),
        names,
        attrs={"freq": meta["freq"], "tz": meta.get("tz", "UTC"), "source": _redact(uri),
               "cumulative_input": 0, "fill_policy": "none"},
    )


def write_forecasts(uri: str, forecast: xr.Dataset, *, run_id: str | None = None) -> int:
    """Write a forecast (dims ``time``, a series dim, ``quantile``; attrs ``origin``, ``model``)
    to ``forecasts``; rewriting a run replaces its rows. Returns the rows written."""
    variable = next(iter(forecast.data_vars))
    da = forecast[variable]
    series_dim = next(d for d in da.dims if d not in ("time", "quantile"))
    model = str(forecast.attrs.get("model", "gridopt"))
    origin = _literal_ts(forecast.attrs.get("origin", str(forecast["time"].values[0])))
    run = run_id or f"{model}@{origin.isoformat()}"
    frame = da.transpose("time", series_dim, "quantile").to_dataframe(name="value_kwh")
    frame = frame.reset_index()[["time", series_dim, "quantile", "value_kwh"]]
    n = len(frame)
    table = pa.table({
        "run_id": pa.array([run] * n, pa.string()),
        "model": pa.array([model] * n, pa.string()),
        "origin": pa.array(np.full(n, origin.value // 1000), pa.int64()).cast(_TS),
        "series": pa.array(frame[series_dim].astype(str).to_numpy(), pa.string()),
        "interval_start": pa.array(frame["time"].to_numpy().astype("datetime64[us]").astype(
            np.int64)).cast(_TS),
        "quantile": pa.array(frame["quantile"].to_numpy(np.float32)),
        "value_kwh": pa.array(frame["value_kwh"].to_numpy(np.float64)),
    })
    create_schema(uri)
    cols = "run_id, model, origin, series, interval_start, quantile, value_kwh"
    with _connect(uri) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS gridopt_fstage")
        cur.adbc_ingest("gridopt_fstage", table, mode="create", temporary=True)
        cur.execute("DELETE FROM forecasts WHERE run_id = '{r}'".format(r=run.replace("'", "''")))
        cur.execute(f"INSERT INTO forecasts ({cols}) SELECT {cols} FROM gridopt_fstage")
        written = int(cur.rowcount)
        cur.execute("DROP TABLE gridopt_fstage")
        conn.commit()
    return written
