"""Ingestion benchmark: gridopt vs a straightforward pandas implementation, same input, same rules.

    .venv/bin/python benchmarks/bench_ingest.py [--meters 2000] [--intervals 5000] [--repeats 3]

Generates messy half-hourly readings (10 million rows by default: 2,000 meters x 5,000 intervals;
gaps, exact and conflicting duplicates, non-numeric, negative, unparseable and off-grid rows) as
a CSV, then times, each in a fresh process, (a) ``gridopt.ingest.read_readings`` and (b) a plain
pandas pipeline (read_csv, to_datetime, to_numeric, duplicated, groupby quantile, pivot,
reindex) applying the same validation rules. Both produce the dense (time, meter) grid and the
counts by reason; the script checks that the two agree exactly before reporting wall-clock
medians and the peak resident memory (ru_maxrss) of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORK = Path(os.environ.get("GRIDOPT_BENCH_DIR", "/tmp/gridopt_bench"))


def generate(path: Path, n_meter: int, n_time: int, seed: int = 7) -> dict[str, int]:
    """Write the messy readings CSV (meter-major order); return the injected counts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00")
    step = np.timedelta64(30, "m")
    stamps = np.array([str(start + i * step) + "Z" for i in range(n_time)], dtype=object)
    off_grid = np.array([str(start + i * step + np.timedelta64(7, "m")) + "Z"
                         for i in range(n_time)], dtype=object)
    names = np.array([f"MTR{k:05d}" for k in range(n_meter)], dtype=object)
    meter = np.repeat(np.arange(n_meter, dtype=np.int32), n_time)
    tcode = np.tile(np.arange(n_time, dtype=np.int32), n_meter)
    hour = (tcode % 48) / 2.0
    base = rng.gamma(2.0, 0.15, n_meter)[meter]
    cons = np.round(base * (1.0 + 0.6 * np.sin((hour - 7.0) / 24.0 * 2 * np.pi) ** 2)
                    + rng.exponential(0.05, meter.size), 3)
    pv = np.clip(np.sin((hour - 6.0) / 12.0 * np.pi), 0.0, None) * rng.uniform(0, 1.5, n_meter)[
        meter]
    prod = np.round(pv * rng.uniform(0.6, 1.0, meter.size), 3)
    n = meter.size
    keep = rng.random(n) > 0.005  # 0.5 % gaps
    idx = np.flatnonzero(keep)
    dup = rng.choice(idx, size=int(0.003 * n), replace=False)  # exact duplicates
    conf = rng.choice(np.setdiff1d(idx, dup), size=int(0.0005 * n), replace=False)
    rows = np.concatenate([idx, dup, conf])
    rows.sort(kind="stable")
    is_conf = np.zeros(rows.size, dtype=bool)
    conf_set = np.zeros(n, dtype=bool)
    conf_set[conf] = True
    # the second row of each conflicting pair gets +1 kWh
    second = np.r_[False, rows[1:] == rows[:-1]]
    is_conf[second & conf_set[rows]] = True
    m, t = meter[rows], tcode[rows]
    c, p = cons[rows] + is_conf * 1.0, prod[rows]
    ts = stamps[t]
    c_str = pc.cast(pa.array(c), pa.string())
    p_str = pc.cast(pa.array(p), pa.string())
    k = rows.size
    bad = rng.choice(k, size=int(0.0008 * n), replace=False)
    kinds = np.array_split(bad, 4)
    mask = np.zeros(k, dtype=bool)
    mask[kinds[0]] = True
    c_str = pc.if_else(pa.array(mask), pa.scalar("n/a"), c_str)  # non_numeric
    mask[:] = False
    mask[kinds[1]] = True
    c_str = pc.if_else(pa.array(mask), pa.scalar("-0.5"), c_str)  # negative
    ts_list = ts.copy()
    ts_list[kinds[2]] = "2024-13-45T99:00:00Z"  # unparseable
    ts_list[kinds[3]] = off_grid[t[kinds[3]]]  # off grid
    table = pa.table({
        "meter_id": pa.DictionaryArray.from_arrays(pa.array(m), pa.array(names, pa.string())
                                                   ).cast(pa.string()),
        "timestamp": pa.array(ts_list, pa.string()),
        "consumption_kwh": c_str,
        "production_kwh": p_str,
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
    os.replace(tmp, path)
    return {"rows": int(k), "gaps": int(n - idx.size), "exact_duplicates": int(dup.size),
            "conflicting_pairs": int(conf.size), "bad_each_kind": len(kinds[0])}


# ---------------------------------------------------------------------------------------------
# The straightforward pandas implementation (same rules as gridopt.ingest, see docs/ingest.md).
# ---------------------------------------------------------------------------------------------
def pandas_ingest(path: Path) -> tuple[np.ndarray, list[str], dict[str, int]]:
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    n = len(df)
    reason = pd.Series("", index=df.index, dtype=object)
    meter = df["meter_id"].str.strip()
    ts = pd.to_datetime(df["timestamp"], format="ISO8601", utc=True, errors="coerce")
    cons = pd.to_numeric(df["consumption_kwh"], errors="coerce")
    prod = pd.to_numeric(df["production_kwh"].replace("", np.nan), errors="coerce")

    def mark(mask: pd.Series, why: str) -> None:
        reason[(reason == "") & mask] = why

    mark(meter == "", "missing_meter_id")
    mark(ts.isna(), "unparseable_timestamp")
    mark(df["consumption_kwh"] == "", "missing_value")
    mark(cons.isna(), "non_numeric")
    mark(prod.isna() & (df["production_kwh"] != ""), "non_numeric")
    mark((cons < 0) | (prod < 0), "negative")
    frame = pd.DataFrame({"meter": meter, "ts": ts, "cons": cons, "prod": prod})
    ok = frame[reason == ""].sort_values(["meter", "ts"], kind="stable")
    step = ok.groupby("meter")["ts"].diff()
    step = step[step > pd.Timedelta(0)].value_counts()
    freq = step[step == step.max()].index.min()
    residue = (frame["ts"] - pd.Timestamp("1970-01-01", tz="UTC")) % freq
    phase = residue[reason == ""].mode().iloc[0]
    mark(residue != phase, "off_grid_timestamp")
    good = frame[reason == ""]
    dup = good.duplicated(["meter", "ts", "cons", "prod"])
    collapsed = int(dup.sum())
    uniq = good[~dup]
    conflict_keys = uniq[uniq.duplicated(["meter", "ts"], keep=False)][["meter", "ts"]]
    in_conflict = good.set_index(["meter", "ts"]).index.isin(
        pd.MultiIndex.from_frame(conflict_keys))
    reason.loc[good.index[in_conflict]] = "conflicting_duplicate"
    collapsed -= int((dup & in_conflict).sum())
    placed = uniq[~uniq.set_index(["meter", "ts"]).index.isin(
        pd.MultiIndex.from_frame(conflict_keys))]
    limits = {}
    for col in ("cons", "prod"):
        pos = placed[placed[col] > 0]
        q = pos.groupby("meter")[col].quantile(0.95, interpolation="lower")
        cnt = pos.groupby("meter")[col].size()
        limits[col] = (10.0 * q).where(cnt >= 48)
    lim_c = good["meter"].map(limits["cons"])
    lim_p = good["meter"].map(limits["prod"])
    outlier = ((good["cons"] > lim_c) | (good["prod"] > lim_p)) & (reason[good.index] == "")
    reason.loc[good.index[outlier]] = "outlier"
    collapsed -= int((dup & outlier).sum())
    final = placed[~placed.index.isin(good.index[outlier])]
    grid = final.pivot(index="ts", columns="meter", values="cons")
    t0, t1 = final["ts"].min(), final["ts"].max()
    meters = list(pd.unique(frame.loc[frame["meter"] != "", "meter"]))
    grid = grid.reindex(index=pd.date_range(t0, t1, freq=freq), columns=meters)
    missing = grid.isna()
    gaps = int((missing & ~missing.shift(fill_value=False)).sum().sum())
    counts = {k: int(v) for k, v in reason[reason != ""].value_counts().items()}
    counts.update({"rows_in": n, "duplicates_collapsed": collapsed, "gaps": gaps})
    return grid.to_numpy(), meters, counts


def gridopt_ingest(path: Path) -> tuple[np.ndarray, list[str], dict[str, int]]:
    from gridopt.ingest import read_readings

    res = read_readings(path)
    rep = res.report
    counts = dict(rep.quarantined_by_reason)
    counts.update({"rows_in": rep.rows_in, "duplicates_collapsed": rep.duplicates_collapsed,
                   "gaps": rep.gaps})
    return res.data["consumption_kwh"].values, [str(m) for m in res.data["meter"].values], counts


def child(impl: str, path: Path, save: Path | None) -> None:
    """Run one implementation in this (fresh) process and print timing + peak memory JSON."""
    import pandas  # noqa: F401  - import cost outside the timing, as for gridopt
    import xarray

    import gridopt.ingest  # noqa: F401

    # xarray imports dask lazily on the first Dataset it builds (~2.5 s, once per process):
    # pay it before the clock starts, as for the imports.
    xarray.Dataset({"warm": ("x", np.zeros(1))})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    func = gridopt_ingest if impl == "gridopt" else pandas_ingest
    t0 = time.perf_counter()
    grid, meters, counts = func(path)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if save is not None:
        np.save(save.with_suffix(".npy"), grid)
        save.with_suffix(".json").write_text(json.dumps({"meters": meters, "counts": counts}))
    print(json.dumps({"impl": impl, "seconds": seconds, "peak_rss_mb": peak / 1024,
                      "rss_after_imports_mb": rss_before / 1024, "counts": counts}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=2000)
    ap.add_argument("--intervals", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", choices=["gridopt", "pandas"])
    ap.add_argument("--path", type=Path)
    ap.add_argument("--save", type=Path)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.path, args.save)
        return
    path = WORK / f"readings_{args.meters}x{args.intervals}.csv"
    if not path.exists():
        t0 = time.perf_counter()
        injected = generate(path, args.meters, args.intervals)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.0f} s: {injected}", flush=True)
    runs: dict[str, list[dict]] = {"gridopt": [], "pandas": []}
    for rep in range(args.repeats):
        for impl in ("gridopt", "pandas"):
            save = WORK / f"result_{impl}" if rep == 0 else None
            cmd = [sys.executable, __file__, "--child", impl, "--path", str(path)]
            if save is not None:
                cmd += ["--save", str(save)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs[impl].append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {rep + 1} {impl}: {runs[impl][-1]['seconds']:.2f} s, peak "
                  f"{runs[impl][-1]['peak_rss_mb']:.0f} MB", flush=True)
    # The two implementations must agree exactly.
    g = np.load(WORK / "result_gridopt.npy")
    p = np.load(WORK / "result_pandas.npy")
    gj = json.loads((WORK / "result_gridopt.json").read_text())
    pj = json.loads((WORK / "result_pandas.json").read_text())
    order = [pj["meters"].index(m) for m in gj["meters"]]
    same_grid = g.shape == p[:, order].shape and np.array_equal(g, p[:, order], equal_nan=True)
    same_counts = gj["counts"] == pj["counts"]
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    peak = {k: max(r["peak_rss_mb"] for r in v) for k, v in runs.items()}
    import pandas as pd
    import pyarrow as pa
    import xarray as xr

    summary = {
        "rows": gj["counts"]["rows_in"], "meters": args.meters, "intervals": args.intervals,
        "median_seconds": med, "speedup": med["pandas"] / med["gridopt"],
        "peak_rss_mb": peak, "same_grid": bool(same_grid), "same_counts": bool(same_counts),
        "counts": gj["counts"], "all_seconds": {k: [r["seconds"] for r in v]
                                                for k, v in runs.items()},
        "machine": {"platform": platform.platform(), "cpu": platform.processor() or "?",
                    "cores": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "pandas": pd.__version__,
                    "pyarrow": pa.__version__, "xarray": xr.__version__},
    }
    print(json.dumps(summary, indent=2))
    if not (same_grid and same_counts):
        print(f"MISMATCH: pandas counts {pj['counts']}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
