"""Meter-export readers: a year of one meter in Green Button, NEM12 and MSCONS, gridopt vs the
PyPI parsers.

    .venv/bin/python benchmarks/bench_formats.py [--readings 35040] [--repeats 5]

Generates a year of 15-minute readings of one meter in each format (benchmarks/_formats_data.py;
Green Button 35,040 readings with the OpenESPI sample's structure, NEM12 one NMI with E1 and B1
channels, MSCONS one metering point), then times, in this process after one warm-up of each,
with the repeats interleaved (order rotated every round):

- gridopt ``read_format`` (file -> the long raw table with the estimated flags: the parse) and
  ``read_readings`` (parse + validation + the regular dataset), and
- the peer parsers as their maintainers document them, where installed: greenbutton_objects
  ``parse.parse_feed(path)``, nemreader ``read_nem_file(path)``, pydifact
  ``Interchange.from_str(text)`` with its segments listed (tokenising only: less work than
  gridopt's reader, a floor rather than the same problem).

The peers are not gridopt dependencies; install them beside it, e.g.
``pip install --target /tmp/formats-peers greenbutton-objects==2024.7.11 nemreader==0.9.2
pydifact==0.2.3`` and run with ``PYTHONPATH=/tmp/formats-peers`` (a peer that is not installed
is reported as such). Each implementation's energy total is checked against the generator's;
the script fails if one differs. Writes docs/benchmarks/formats.md and
docs/benchmarks/formats.json, then runs collect.py. Target (issue 12): a year of 15-minute
Green Button data (35k readings) parsed in under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._formats_data import write_green_button, write_mscons, write_nem12  # noqa: E402

WORK = Path(os.environ.get("GRIDOPT_BENCH_DIR", "/tmp/gridopt_bench")) / "formats"
YEAR = 35_040


def _gridopt_parse(path: Path) -> float:
    from gridopt.ingest.formats import detect_format, read_format

    fmt = detect_format(path)
    assert fmt is not None
    table = read_format(path, fmt).table
    return float(np.nansum(table.column("consumption_kwh").to_numpy(zero_copy_only=False))
                 + np.nansum(table.column("production_kwh").to_numpy(zero_copy_only=False)))


def _gridopt_dataset(path: Path) -> float:
    from gridopt.ingest import read_readings

    ds = read_readings(path).data
    return float(ds["consumption_kwh"].sum() + ds["production_kwh"].sum())


def _greenbutton_objects(path: Path) -> float:
    from greenbutton_objects import parse

    points = parse.parse_feed(str(path))
    return sum(r.value for up in points for mr in up.meterReadings for b in mr.intervalBlocks
               for r in b.intervalReadings) / 1000.0


def _nemreader(path: Path) -> float:
    from nemreader import read_nem_file

    data = read_nem_file(str(path))
    return sum(r.read_value for chans in data.readings.values() for rs in chans.values()
               for r in rs)


def _pydifact(path: Path) -> float:
    from pydifact.segmentcollection import Interchange

    segments = list(Interchange.from_str(path.read_text(encoding="latin-1")).segments)
    return sum(float(s.elements[0][1].replace(",", ".")) for s in segments if s.tag == "QTY")


IMPLS: dict[str, dict[str, tuple[str, Callable[[Path], float]]]] = {
    "green_button": {"gridopt parse": ("gridopt", _gridopt_parse),
                     "gridopt dataset": ("gridopt", _gridopt_dataset),
                     "greenbutton_objects": ("greenbutton_objects", _greenbutton_objects)},
    "nem12": {"gridopt parse": ("gridopt", _gridopt_parse),
              "gridopt dataset": ("gridopt", _gridopt_dataset),
              "nemreader": ("nemreader", _nemreader)},
    "mscons": {"gridopt parse": ("gridopt", _gridopt_parse),
               "gridopt dataset": ("gridopt", _gridopt_dataset),
               "pydifact (tokenise only)": ("pydifact", _pydifact)},
}


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        try:
            return metadata.version(module)
        except metadata.PackageNotFoundError:
            return None


def machine() -> dict[str, Any]:
    """Platform, versions and load average."""
    import pandas as pd
    import pyarrow as pa

    import gridopt

    return {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "gridopt": gridopt.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "pyarrow": pa.__version__,
            "peers": {m: _version(m) for m in ("greenbutton_objects", "nemreader", "pydifact")},
            "load_average_start": list(os.getloadavg())}


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})")


def report(summary: dict[str, Any]) -> str:
    """The Markdown fragment docs/benchmarks/formats.md."""
    mach = summary["machine"]
    lines = [
        "## Meter exports: a year of one meter in Green Button, NEM12 and MSCONS",
        "",
        f"Script: `benchmarks/bench_formats.py --readings {summary['readings']} --repeats "
        f"{summary['repeats']}` (files from `benchmarks/_formats_data.py`). One meter, "
        f"{summary['readings']:,} quarter-hour intervals per format (NEM12: E1 and B1 channels, "
        "so twice the values). In-process wall time after one warm-up of each, repeats "
        "interleaved with the order rotated; median (min-max). *gridopt parse* is "
        "`read_format` (file -> the long raw table with the estimated flags); *gridopt "
        "dataset* is `read_readings` (parse + validation + regular dataset). Peers as their "
        "documentation shows; pydifact only tokenises (less work than a reader: a floor). Every "
        "implementation's energy total was checked against the generator's.",
        "",
        "| format | file | implementation | wall time | vs gridopt parse |",
        "|---|---|---|---|---|",
    ]
    for fmt, block in summary["formats"].items():
        base = statistics.median(block["runs"]["gridopt parse"])
        for impl, times in block["runs"].items():
            if not times:
                lines.append(f"| {fmt} | {block['file_mb']:.1f} MB | {impl} | not installed "
                             "| - |")
                continue
            ratio = "" if impl == "gridopt parse" else f"{statistics.median(times) / base:.1f}x"
            lines.append(f"| {fmt} | {block['file_mb']:.1f} MB | {impl} | {_spread(times)} | "
                         f"{ratio} |")
    gb = statistics.median(summary["formats"]["green_button"]["runs"]["gridopt parse"])
    if summary["readings"] >= YEAR:
        verdict = f"{'met' if gb < 1.0 else 'NOT met'}** (median {gb:.3f} s)"
    else:
        verdict = (f"not measured: a reduced run of {summary['readings']:,} readings** (median "
                   f"{gb:.3f} s)")
    lines += [
        "",
        f"**Target (issue 12): a year of 15-minute Green Button data for one meter ({YEAR:,} "
        f"readings) parsed in under 1 s: {verdict}.",
        "",
        f"Machine: {mach['platform']}, {mach['cores']} cores, Python {mach['python']}, numpy "
        f"{mach['numpy']}, pyarrow {mach['pyarrow']}; peers "
        + ", ".join(f"{k} {v or 'not installed'}" for k, v in mach["peers"].items())
        + f"; load average at the start {', '.join(f'{x:.2f}' for x in mach['load_average_start'])}"
        ". Every run in `docs/benchmarks/formats.json`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Generate, time, check and write the fragment."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=YEAR)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    files = {"green_button": WORK / f"greenbutton_{args.readings}.xml",
             "nem12": WORK / f"nem12_{args.readings}.csv",
             "mscons": WORK / f"mscons_{args.readings}.edi"}
    expected = {
        "green_button": write_green_button(files["green_button"], args.readings)["sum_wh"] / 1e3,
        "nem12": write_nem12(files["nem12"], max(1, args.readings // 96))["sum_kwh"],
        "mscons": write_mscons(files["mscons"], args.readings)["sum_kwh"],
    }
    mach = machine()
    summary: dict[str, Any] = {"readings": args.readings, "repeats": args.repeats,
                               "machine": mach, "formats": {}}
    for fmt, impls in IMPLS.items():
        path = files[fmt]
        available = {name: fn for name, (module, fn) in impls.items()
                     if module == "gridopt" or mach["peers"].get(module)}
        runs: dict[str, list[float]] = {name: [] for name in impls}
        totals: dict[str, float] = {}
        for name, fn in available.items():  # warm-up: page cache, imports
            totals[name] = fn(path)
        names = list(available)
        for rnd in range(args.repeats):
            for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                t0 = time.perf_counter()
                fn = available[name]
                fn(path)
                runs[name].append(time.perf_counter() - t0)
        for name, total in totals.items():
            if abs(total - expected[fmt]) > 1e-6 * max(1.0, expected[fmt]):
                raise SystemExit(f"{fmt} {name}: energy {total} != generated {expected[fmt]}")
        summary["formats"][fmt] = {"file_mb": path.stat().st_size / 1e6, "runs": runs,
                                   "energy_kwh": totals, "expected_kwh": expected[fmt]}
        print(fmt, {k: _spread(v) for k, v in runs.items()}, flush=True)
    summary["machine"]["load_average_end"] = list(os.getloadavg())
    text = report(summary)
    print(text)
    if args.no_write:
        return
    out = REPO / "docs" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "formats.json").write_text(json.dumps(summary, indent=1))
    (out / "formats.md").write_text(text)
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)


if __name__ == "__main__":
    main()
