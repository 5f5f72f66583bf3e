"""Benchmark of the meter store (issue 11): the embedded format (gridopt's Parquet store vs
Zarr) and the PostgreSQL readers (ADBC, COPY, connectorx vs ``pandas.read_sql``).

Data: ``../shared/tools/make_fleet_meters.py`` (synthetic meters built from the 17 real
homes; hourly; a folder of Parquet files of ``--block`` meters each). Writes
docs/benchmarks/store.md and docs/benchmarks/store.json (machine, versions, load, every
repeat), then runs benchmarks/collect.py.

Reduced size (a few minutes)::

    python benchmarks/bench_store.py --meters 1000 --days 60 --pg-meters 57 --pg-days 365

Full size (PostgreSQL window of 10 M readings: 571 meters x 365 days x 24 h x 2 channels)::

    flock /tmp/gridopt-bench.lock python benchmarks/bench_store.py --meters 2000 --days 365 \\
        --pg-meters 571 --pg-days 365 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._store_formats import run_daily, run_formats  # noqa: E402
from benchmarks._store_pg import load_database, run_readers  # noqa: E402
from tests.store.pg_server import postgres_server  # noqa: E402

MAKE_FLEET = REPO.parent / "shared" / "tools" / "make_fleet_meters.py"
OUT = REPO / "docs" / "benchmarks"
PACKAGES = ("numpy", "pandas", "pyarrow", "xarray", "dask", "zarr", "adbc-driver-postgresql",
            "psycopg", "connectorx", "sqlalchemy")


def machine() -> dict[str, Any]:
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {"platform": platform.platform(), "cores": os.cpu_count(),
            "python": platform.python_version(), "versions": versions,
            "load_average_start": list(os.getloadavg())}


def make_fleet(n: int, days: int, block: int, out: Path) -> list[Path]:
    subprocess.run([sys.executable, str(MAKE_FLEET), str(n), str(out), "--days", str(days),
                    "--block", str(block)], check=True, capture_output=True)
    return sorted(out.glob("*.parquet"))


def _stats(values: list[float]) -> tuple[float, float, float]:
    return float(np.min(values)), float(np.median(values)), float(np.max(values))


def _cell(values: list[float]) -> str:
    lo, med, hi = _stats(values)
    return f"{med:.3f} ({lo:.3f}-{hi:.3f})"


def report(s: dict[str, Any]) -> str:
    f, pg, mach = s["formats"], s["postgres"], s["machine"]
    timed = [r for r in f["runs"] if not r["warmup"]]
    lines = [
        "## Meter store (`benchmarks/bench_store.py`)",
        "",
        f"### Embedded format: {s['args']['meters']:,} meters x {s['args']['days']} days "
        f"hourly ({timed[0]['cells']:,} cells) in {f['files']} files of {f['block']} meters",
        "",
        "Both sides run the same ingest of each file (validation, quarantine, budget); "
        "gridopt's Parquet store also computes each file's digest, checks it against the "
        "stored cells and commits a manifest; Zarr (through xarray, chunks of one month x one "
        "block) appends each file along `meter`. Window: one block of meters x one week. "
        "Seconds, median (min-max) of the repeats after a warm-up.",
        "",
        "| format | append all files (s) | lazy open + window (s) | lazy open + read all (s) "
        "| bytes on disk |",
        "|---|---|---|---|---|",
    ]
    for name in ("parquet", "zarr"):
        rs = [r for r in timed if r["format"] == name]
        lines.append(f"| {name} | {_cell([r['append_s'] for r in rs])} | "
                     f"{_cell([r['window_s'] for r in rs])} | "
                     f"{_cell([r['read_all_s'] for r in rs])} | {rs[0]['bytes']:,} |")
    lines += ["", f"Values read back identical in both formats: {f['identical']}.", ""]
    d = s["daily"]
    lines += [f"Daily appends ({d['days']} files of one day of every meter, one append each; "
              "Zarr along `time`, without any check that a day is new):", "",
              "| format | seconds per daily append | bytes on disk |", "|---|---|---|"]
    for name in ("parquet", "zarr"):
        rs = [r for r in d["runs"] if r["format"] == name and not r["warmup"]]
        lines.append(f"| {name} | {_cell([r['seconds_per_day'] for r in rs])} | "
                     f"{rs[0]['bytes']:,} |")
    lines.append("")
    pr = [r for r in pg["runs"] if not r["warmup"]]
    rows = max(r["rows"] for r in pr if r["reader"].startswith("gridopt adbc"))
    pandas_name = next(r["reader"] for r in pr if r["reader"].startswith("pandas"))
    pandas_med = _stats([r["seconds"] for r in pr if r["reader"] == pandas_name])[1]
    lines += [
        f"### PostgreSQL: a window of {rows:,} readings ({s['args']['pg_meters']} meters x "
        f"{s['args']['pg_days']} days hourly, 2 channels)",
        "",
        f"Written by COPY (`write_readings`, ADBC bulk ingest into a temporary table, then one "
        f"INSERT that skips stored rows): {pg['load']['rows']:,} rows in "
        f"{pg['load']['seconds']:.1f} s ({pg['load']['rows'] / pg['load']['seconds']:,.0f} "
        f"rows/s, ingest of the files included). Read: the same SQL for every reader "
        f"(`window_sql`), server on this machine (TCP, 127.0.0.1).",
        "",
        "| reader | seconds | readings/s | vs pandas.read_sql |",
        "|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["reader"] for r in pr):
        secs = [r["seconds"] for r in pr if r["reader"] == name]
        med = _stats(secs)[1]
        ratio = "1" if name == pandas_name else f"{pandas_med / med:.1f}x faster"
        lines.append(f"| {name} | {_cell(secs)} | {rows / med:,.0f} | {ratio} |")
    lines += [
        "",
        f"Machine: {mach['platform']}, {mach['cores']} cores, Python {mach['python']}; "
        + ", ".join(f"{k} {v}" for k, v in mach["versions"].items() if v) +
        f". Load average at the start "
        f"{', '.join(f'{x:.2f}' for x in mach['load_average_start'])}, at the end "
        f"{', '.join(f'{x:.2f}' for x in s['load_average_end'])}. Every run is in "
        "`docs/benchmarks/store.json`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--block", type=int, default=250)
    ap.add_argument("--pg-meters", type=int, default=57)
    ap.add_argument("--pg-days", type=int, default=365)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--daily", type=int, default=7, help="days appended one by one")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = ap.parse_args()
    mach = machine()
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.work) as tmp:
        work = Path(tmp)
        files = make_fleet(args.meters, args.days, args.block, work / "fleet")
        formats = run_formats(files, work, args.block, args.repeats,
                              ("2022-08-08T00:00:00", "2022-08-14T23:00:00"))
        daily = run_daily(files, work, args.block, args.repeats, args.daily)
        pg_files = make_fleet(args.pg_meters, args.pg_days, args.block, work / "pg")
        with postgres_server() as uri:
            load = load_database(uri, pg_files)
            readers = run_readers(uri, load["start"], load["end"], args.repeats)
    summary = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in
                        vars(args).items()},
               "machine": mach, "formats": formats, "daily": daily,
               "postgres": {"load": load, **readers},
               "load_average_end": list(os.getloadavg())}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "store.json").write_text(json.dumps(summary, indent=1) + "\n")
    (OUT / "store.md").write_text(report(summary))
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
    print((OUT / "store.md").read_text())


if __name__ == "__main__":
    main()
