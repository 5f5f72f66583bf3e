"""PostgreSQL readers, measured on one window query of the ``readings`` table.

gridopt's readers (:class:`gridopt.ingest.postgres.Reader`: ADBC, psycopg 3 COPY to CSV read by
pyarrow, connectorx) against ``pandas.read_sql`` configured as pandas documents it: an
SQLAlchemy engine (``postgresql+psycopg``). Same SQL text (:func:`window_sql`), same server,
warm-up for each, repeats interleaved. The timing scope of the readers is query -> in-memory
table (Arrow for gridopt's, DataFrame for pandas); ``read_window`` (ADBC, query -> the
validated ``(time, meter)`` Dataset, pivot included) is timed as well, and it is the figure
set against ``pandas.read_sql`` (which does not even pivot).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from gridopt.ingest import read_readings
from gridopt.ingest.postgres import (
    Reader,
    read_window,
    read_window_arrow,
    window_sql,
    write_readings,
)


def load_database(uri: str, files: list[Path]) -> dict[str, Any]:
    """Write every file's validated readings (COPY); the rows and seconds."""
    rows = 0
    t0 = time.perf_counter()
    first = last = None
    for f in files:
        ds = read_readings(f).data
        rows += write_readings(uri, ds)["rows_added"]
        lo, hi = ds["time"].values[0], ds["time"].values[-1]
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
    return {"rows": rows, "seconds": time.perf_counter() - t0, "start": str(first),
            "end": str(last)}


def _pandas(uri: str, sql: str) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        frame = pd.read_sql(sql, engine)
    finally:
        engine.dispose()
    return len(frame)


def run_readers(uri: str, start: str, end: str, repeats: int) -> dict[str, Any]:
    """Every reader on the window, interleaved; each repeat recorded."""
    sql = window_sql(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    impls: dict[str, Any] = {
        **{f"gridopt {r.value}": (lambda r=r: read_window_arrow(uri, sql, r).num_rows)
           for r in Reader},
        "gridopt read_window (adbc, into the Dataset)": (
            lambda: int(read_window(uri, start, end)["quality"].size)),
        "pandas.read_sql (SQLAlchemy + psycopg)": lambda: _pandas(uri, sql),
    }
    runs = []
    for rep in range(repeats + 1):
        for name, func in impls.items():
            t0 = time.perf_counter()
            n = func()
            runs.append({"reader": name, "repeat": rep, "warmup": rep == 0,
                         "seconds": time.perf_counter() - t0, "rows": n})
    return {"sql": sql, "runs": runs}
