"""The peers of the ingestion benchmark: the same rules as ``gridopt ingest``, written as a
competent pandas user and a Polars user would, plus pyarrow's raw CSV read (the floor).

    python benchmarks/_ingest_peers.py {pandas,polars,arrow} READINGS.csv OUT_DIR

Each run is one process (imports included in its wall time, measured by the parent); it writes
its dense grids (``grids.npz``: consumption, production, meters, start, step) and its
quarantine (``quarantine.csv``: row, reason code) to OUT_DIR and prints one JSON line with its
counts and its internal timings.

The rules (docs/ingest.md), in order of precedence, as integer reason codes:

1 missing_meter_id, 2 unparseable_timestamp, 3 missing_value, 4 non_numeric (consumption, then
production), 5 negative (consumption, then production), 6 off_grid_timestamp, 7 conflicting
duplicate, 8 outlier. Each meter's interval is the most common step between its sorted
distinct instants (ties: the smaller), or the smallest step dividing it that makes up at least
max(2, steps // 10) of them; meters with >= 8 such steps decide the file's interval and must
agree. The grid phase is the most common remainder of the instants of rows with a meter and a
time (ties: the smaller). Repeated (meter, interval) rows with equal values collapse; differing
values make every row of the cell a conflict. Outliers: above 10x the meter's lower-rank 0.95
quantile of its positive placed values (per variable, meters with >= 48 of them). The grid runs
from the first to the last interval of the rows that pass the row checks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

REASONS = {1: "missing_meter_id", 2: "unparseable_timestamp", 3: "missing_value",
           4: "non_numeric", 5: "negative", 6: "off_grid_timestamp",
           7: "conflicting_duplicate", 8: "outlier"}
STRONG, NEED_MIN = 8, 2


def _interval_from_steps(meter: np.ndarray, step: np.ndarray, count: np.ndarray) -> int:
    """The file's interval from per-(meter, step) counts (the same rule as gridopt)."""
    import pandas as pd

    frame = pd.DataFrame({"m": meter, "d": step, "n": count})
    frame = frame[frame["d"] > 0]
    total = frame.groupby("m")["n"].transform("sum")
    mode = (frame.sort_values(["m", "n", "d"], ascending=[True, False, True])
            .drop_duplicates("m").set_index("m")["d"])
    frame["mode"] = frame["m"].map(mode)
    need = np.maximum(NEED_MIN, total // 10)
    divisor = frame[(frame["d"] < frame["mode"]) & (frame["mode"] % frame["d"] == 0)
                    & (frame["n"] >= need)]
    chosen = divisor.groupby("m")["d"].min()
    interval = mode.copy()
    interval.loc[chosen.index] = chosen
    support = frame.set_index(["m", "d"])["n"]
    sup = support.loc[list(zip(interval.index, interval.to_numpy(), strict=True))].to_numpy()
    values = np.unique(interval.to_numpy()[sup >= STRONG])
    if values.size == 0:
        values = np.unique(interval.to_numpy()[sup >= NEED_MIN])
    if values.size != 1:
        raise SystemExit(f"meters disagree on the interval: {values}")
    return int(values[0])


def _phase(residue: np.ndarray) -> int:
    values, counts = np.unique(residue, return_counts=True)
    return int(values[np.argmax(counts)])


# ---------------------------------------------------------------------------------------------
def pandas_pipeline(path: Path) -> dict:
    """pandas with the pyarrow CSV engine, categoricals, each distinct string parsed once,
    integer reason codes, vectorised group operations."""
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(path, engine="pyarrow", keep_default_na=False, na_values=[""], dtype={
        "meter_id": "category", "timestamp": "category",
        "consumption_kwh": "string[pyarrow]", "production_kwh": "string[pyarrow]"})
    t_read = time.perf_counter()
    n = len(df)
    meter_cat = df["meter_id"].cat
    names_raw = meter_cat.categories.astype(str).str.strip()
    names = np.array(sorted(set(names_raw) - {""}), dtype=object)
    code_of = pd.Series(np.arange(names.size), index=names)
    cat_to_meter = code_of.reindex(names_raw).fillna(-1).to_numpy(np.int64)
    codes = meter_cat.codes.to_numpy()
    meter = np.where(codes >= 0, cat_to_meter[codes], -1)
    ts_cat = df["timestamp"].cat
    parsed = pd.to_datetime(ts_cat.categories.astype(str).str.strip(), format="ISO8601",
                            utc=True, errors="coerce")
    ts_codes = ts_cat.codes.to_numpy()
    ns_u = parsed.as_unit("ns").asi8
    ns = np.where(ts_codes >= 0, ns_u[ts_codes], np.iinfo(np.int64).min)
    ts_ok = (ts_codes >= 0) & (ns != np.iinfo(np.int64).min)
    cons_txt, prod_txt = df["consumption_kwh"], df["production_kwh"]
    cons = pd.to_numeric(cons_txt, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    prod = pd.to_numeric(prod_txt, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    cons_null = cons_txt.isna().to_numpy()
    prod_null = prod_txt.isna().to_numpy()
    reason = np.zeros(n, dtype=np.int8)

    def mark(mask: np.ndarray, code: int) -> None:
        reason[(reason == 0) & mask] = code

    mark(meter < 0, 1)
    mark(~ts_ok, 2)
    mark(cons_null, 3)
    mark(~np.isfinite(cons), 4)
    mark(cons < 0, 5)
    mark(~prod_null & ~np.isfinite(prod), 4)
    mark(prod < 0, 5)
    t_rows = time.perf_counter()

    timed = (meter >= 0) & ts_ok
    pairs = pd.DataFrame({"m": meter[timed], "t": ns[timed]}).drop_duplicates()
    pairs = pairs.sort_values(["m", "t"])
    pairs["d"] = pairs.groupby("m")["t"].diff()
    steps = pairs.dropna().astype({"d": np.int64}).groupby(["m", "d"]).size().reset_index()
    step = _interval_from_steps(steps["m"].to_numpy(), steps["d"].to_numpy(),
                                steps[0].to_numpy())
    residue = np.mod(ns, step)
    phase = _phase(residue[timed])
    mark(timed & (residue != phase), 6)
    clean = reason == 0
    start, end = int(ns[clean].min()), int(ns[clean].max())
    n_time = (end - start) // step + 1
    t_interval = time.perf_counter()

    rows = np.flatnonzero(clean)
    cell = meter[rows] * n_time + (ns[rows] - start) // step
    frame = pd.DataFrame({"cell": cell, "c": cons[rows], "p": prod[rows]})
    distinct = frame.drop_duplicates()
    conflicting = distinct["cell"].duplicated(keep=False)
    bad_cells = distinct.loc[conflicting, "cell"].unique()
    in_conflict = frame["cell"].isin(bad_cells).to_numpy()
    reason[rows[in_conflict]] = 7
    first = ~frame["cell"].duplicated().to_numpy() & ~in_conflict
    dup = ~first & ~in_conflict
    cells = frame[first]
    m_cell = (cells["cell"] // n_time).to_numpy()
    limits = {}
    for col in ("c", "p"):
        values = cells[col].to_numpy()
        pos = values > 0
        grouped = pd.Series(values[pos]).groupby(m_cell[pos])
        q = grouped.quantile(0.95, interpolation="lower")
        limits[col] = (10 * q).where(grouped.size() >= 48).reindex(
            np.arange(names.size)).to_numpy()
    m_rows = meter[rows]
    over = (frame["c"].to_numpy() > limits["c"][m_rows]) | \
        (frame["p"].to_numpy() > limits["p"][m_rows])
    outlier_cells = np.unique(frame["cell"].to_numpy()[over & ~in_conflict])
    is_out = frame["cell"].isin(outlier_cells).to_numpy() & ~in_conflict
    reason[rows[is_out]] = 8
    keep = first & ~is_out
    t_cells = time.perf_counter()

    cons_grid = np.full(names.size * n_time, np.nan)
    prod_grid = np.full(names.size * n_time, np.nan)
    kept = frame[keep]
    cons_grid[kept["cell"].to_numpy()] = kept["c"].to_numpy()
    prod_grid[kept["cell"].to_numpy()] = kept["p"].to_numpy()
    counts = {REASONS[int(k)]: int(v) for k, v in zip(*np.unique(reason[reason > 0],
                                                                return_counts=True),
                                                      strict=True)}
    counts.update(rows_in=n, rows_clean=int(keep.sum()),
                  duplicates_collapsed=int((dup & ~is_out).sum()))
    t_grid = time.perf_counter()
    return {"cons": cons_grid.reshape(names.size, n_time),
            "prod": prod_grid.reshape(names.size, n_time), "meters": names.astype(str),
            "start": start, "step": step, "reason": reason, "counts": counts,
            "seconds": {"read": t_read - t0, "rows": t_rows - t_read,
                        "interval": t_interval - t_rows, "cells": t_cells - t_interval,
                        "grid": t_grid - t_cells}}


# ---------------------------------------------------------------------------------------------
def polars_pipeline(path: Path) -> dict:
    """Polars: text columns; each distinct timestamp parsed once (explicit format) and mapped
    back; meters as an Enum (integer codes); integer reason codes; per-meter steps and
    per-cell checks as hash group-bys (no global sort, no window functions)."""
    import polars as pl

    t0 = time.perf_counter()
    df = pl.read_csv(path, schema={"meter_id": pl.String, "timestamp": pl.String,
                                   "consumption_kwh": pl.String, "production_kwh": pl.String})
    t_read = time.perf_counter()
    n = df.height
    name = pl.col("meter_id").str.strip_chars()
    names = np.array(sorted(v for v in df.select(name.unique()).to_series().to_list()
                            if v), dtype=object)
    stamps = df.select(pl.col("timestamp").unique()).with_columns(
        pl.col("timestamp").str.strip_chars().str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%#z", time_zone="UTC", time_unit="ns", strict=False)
        .dt.epoch("ns").alias("ns"))
    df = df.select(
        name.cast(pl.Enum(list(names)), strict=False).to_physical().cast(pl.Int32).alias("m"),
        pl.col("timestamp").replace_strict(stamps["timestamp"], stamps["ns"], default=None,
                                           return_dtype=pl.Int64).alias("ns"),
        pl.col("consumption_kwh").is_null().alias("c_null"),
        pl.col("production_kwh").is_null().alias("p_null"),
        pl.col("consumption_kwh").str.strip_chars().cast(pl.Float64, strict=False).alias("c"),
        pl.col("production_kwh").str.strip_chars().cast(pl.Float64, strict=False).alias("p"),
    )
    c, p = pl.col("c"), pl.col("p")
    df = df.with_columns(
        pl.when(pl.col("m").is_null()).then(1)
        .when(pl.col("ns").is_null()).then(2)
        .when(pl.col("c_null")).then(3)
        .when(c.is_null() | ~c.is_finite()).then(4)
        .when(c < 0).then(5)
        .when(~pl.col("p_null") & (p.is_null() | ~p.is_finite())).then(4)
        .when(p < 0).then(5)
        .otherwise(0).cast(pl.Int8).alias("reason"))
    t_rows = time.perf_counter()

    timed = pl.col("m").is_not_null() & pl.col("ns").is_not_null()
    steps = (df.lazy().filter(timed).group_by("m")
             .agg(pl.col("ns").unique().sort().diff().drop_nulls().alias("d"))
             .explode("d").group_by("m", "d").len().collect())
    step = _interval_from_steps(steps["m"].to_numpy(), steps["d"].to_numpy(),
                                steps["len"].to_numpy())
    phase = int(df.lazy().filter(timed).group_by(pl.col("ns") % step).len()
                .sort(["len", "ns"], descending=[True, False]).collect()["ns"][0])
    df = df.with_row_index("row").with_columns(
        pl.when((pl.col("reason") == 0) & timed & (pl.col("ns") % step != phase))
        .then(6).otherwise(pl.col("reason")).cast(pl.Int8).alias("reason"))
    bounds = df.lazy().filter(pl.col("reason") == 0).select(
        pl.col("ns").min().alias("a"), pl.col("ns").max().alias("b")).collect()
    start, end = int(bounds["a"][0]), int(bounds["b"][0])
    n_time = (end - start) // step + 1
    t_interval = time.perf_counter()

    cell = (pl.col("m").cast(pl.Int64) * n_time + (pl.col("ns") - start) // step).alias("cell")
    clean = df.lazy().filter(pl.col("reason") == 0).select("row", "m", "c", "p", cell)
    # A cell conflicts when its rows differ: min != max (or only some production empty).
    cells = clean.group_by("cell").agg(
        pl.len().alias("k"), pl.col("m").first(), pl.col("c").min().alias("c"),
        (pl.col("c").max() != pl.col("c").min()).alias("dc"), pl.col("p").min().alias("p"),
        ((pl.col("p").max() != pl.col("p").min())
         | (pl.col("p").null_count().is_between(1, pl.len() - 1))).fill_null(False)
        .alias("dp")).collect()
    conflict = cells.filter(pl.col("dc") | pl.col("dp"))
    cells = cells.filter(~pl.col("dc") & ~pl.col("dp"))
    limits = {}
    for col in ("c", "p"):
        q = (cells.lazy().filter(pl.col(col) > 0).group_by("m")
             .agg(pl.col(col).quantile(0.95, "lower").alias("q"), pl.len().alias("k"))
             .filter(pl.col("k") >= 48).collect())
        arr = np.full(names.size, np.nan)
        arr[q["m"].to_numpy()] = 10 * q["q"].to_numpy()
        limits[col] = arr
    m_cell = cells["m"].to_numpy()
    over = (cells["c"].to_numpy() > limits["c"][m_cell]) | \
        (cells["p"].to_numpy() > limits["p"][m_cell])
    outliers = cells.filter(pl.Series(over))
    kept = cells.filter(pl.Series(~over))
    reason = df["reason"].to_numpy().copy()
    for code, which in ((7, conflict), (8, outliers)):
        rows = clean.filter(pl.col("cell").is_in(which["cell"].implode())).select("row")
        reason[rows.collect()["row"].to_numpy()] = code
    dups = int(kept["k"].sum()) - kept.height
    t_cells = time.perf_counter()

    cons_grid = np.full(names.size * n_time, np.nan)
    prod_grid = np.full(names.size * n_time, np.nan)
    where = kept["cell"].to_numpy()
    cons_grid[where] = kept["c"].to_numpy()
    prod_grid[where] = kept["p"].to_numpy()
    values, counts_ = np.unique(reason[reason > 0], return_counts=True)
    counts = {REASONS[int(k)]: int(v) for k, v in zip(values, counts_, strict=True)}
    counts.update(rows_in=n, rows_clean=kept.height, duplicates_collapsed=dups)
    t_grid = time.perf_counter()
    return {"cons": cons_grid.reshape(names.size, n_time),
            "prod": prod_grid.reshape(names.size, n_time), "meters": names.astype(str),
            "start": start, "step": step, "reason": reason, "counts": counts,
            "seconds": {"read": t_read - t0, "rows": t_rows - t_read,
                        "interval": t_interval - t_rows, "cells": t_cells - t_interval,
                        "grid": t_grid - t_cells}}


def arrow_floor(path: Path) -> dict:
    """pyarrow's multi-threaded CSV read of the four columns as text: the floor."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    t0 = time.perf_counter()
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in ("meter_id", "timestamp", "consumption_kwh",
                                               "production_kwh")}))
    return {"counts": {"rows_in": table.num_rows},
            "seconds": {"read": time.perf_counter() - t0}}


def main() -> None:
    impl, path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    t0 = time.perf_counter()
    result = {"pandas": pandas_pipeline, "polars": polars_pipeline, "arrow": arrow_floor}[impl](
        path)
    if "cons" in result:
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "grids.npz", cons=result["cons"], prod=result["prod"],
                 meters=result["meters"], start=result["start"], step=result["step"])
        bad = np.flatnonzero(result["reason"] > 0)
        with open(out / "quarantine.csv", "w") as fh:
            fh.write("row,reason\n")
            fh.writelines(f"{r + 1},{REASONS[int(result['reason'][r])]}\n" for r in bad)
    result["seconds"]["total_in_process"] = time.perf_counter() - t0
    print(json.dumps({"impl": impl, "counts": result["counts"], "seconds": result["seconds"]}))


if __name__ == "__main__":
    main()
