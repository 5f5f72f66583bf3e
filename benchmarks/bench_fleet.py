"""Fleet benchmark: ``gridopt fleet run`` on N feeders x 24 h, 1 vs 2 Dask workers.

The feeders (``benchmarks/_fleet_feeders.py``): case33bw, case118zh and SimBench LV/MV grids,
round-robin, each with its own synthetic meters, meter-to-bus mapping and battery. Every run is
:func:`gridopt.workflows.fleet.run_fleet` on a fresh output folder with a LocalCluster of the
given number of worker processes (one thread each; ``0`` = in this process), timed from the
call to the published fleet summary (cluster start-up included). Each worker count gets one
warm-up run on a few feeders first (not counted); the repeats interleave the worker counts,
alternating which goes first. Per-feeder losses must agree between every run (1e-9 MWh).

Usage: ``python benchmarks/bench_fleet.py [--feeders 100] [--workers 1 2] [--repeats 1]
[--work-dir DIR] [--report-only]``; timed runs under ``flock /tmp/gridopt-bench.lock``.
Writes ``docs/benchmarks/fleet.md`` and ``fleet.json``, then runs ``benchmarks/collect.py``.
Exits non-zero when the per-feeder results of the runs disagree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fleet_feeders import DAYS, METERS_PER_FEEDER, build_fleet
from _fleet_report import AGREEMENT_MWH, JSON_PATH, agreement, versions, write_report
from _machine import machine

REPO = Path(__file__).resolve().parents[1]


def _kind(network: str) -> str:
    name = Path(network).name
    return name.removesuffix(".json").removesuffix(".m").removesuffix("--0-sw")


def _subset(fleet: Path, count: int, name: str) -> Path:
    """A fleet file with the first ``count`` feeders of ``fleet`` (for warm-ups)."""
    text = fleet.read_text()
    head, *tables = text.split("\n[[feeder]]\n")
    path = fleet.with_name(name)
    path.write_text(head + "".join("\n[[feeder]]\n" + t for t in tables[:count]))
    return path


def run_once(fleet: Path, workers: int, out: Path) -> dict[str, Any]:
    """One timed fleet run; the per-feeder rows of its summary and the wall time."""
    from gridopt.workflows.cluster import ClusterSpec
    from gridopt.workflows.fleet import run_fleet

    load = list(os.getloadavg())
    spec = ClusterSpec(workers=workers) if workers else ClusterSpec()
    tick = time.perf_counter()
    result = run_fleet(fleet, out_dir=out, cluster=spec)
    wall = time.perf_counter() - tick
    rows = result.summary()["feeders"]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "infeasible", "failed")}
    feeders = [{"name": r["name"], "kind": _kind(r["network"] or r["name"]),
                "status": r["status"], "reason": r["reason"], "seconds": r["seconds"],
                "losses_baseline_mwh": r["losses_baseline_mwh"],
                "losses_optimised_mwh": r["losses_optimised_mwh"],
                "violations": r["violations_optimised"]} for r in rows]
    print(f"  {workers} worker(s): {wall:.1f} s, {counts}", flush=True)
    return {"workers": workers, "n_feeders": len(rows), "wall_s": wall,
            "fleet_seconds": result.seconds, "load_average_before": load,
            "load_average_after": list(os.getloadavg()), "counts": counts, "feeders": feeders}


def _kinds_by_name(fleet: Path) -> dict[str, str]:
    import tomllib

    doc = tomllib.loads(fleet.read_text())
    return {f["name"]: _kind(f["network"]) for f in doc["feeder"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeders", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                    help="worker counts to compare (0: in this process)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="inputs and outputs (default: a temporary folder, removed after)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report from docs/benchmarks/fleet.json")
    args = ap.parse_args(argv)
    if args.report_only:
        print(write_report(json.loads(JSON_PATH.read_text())))
        return 0
    warnings.simplefilter("ignore")  # pandapower's FutureWarnings, once per network
    mach = machine()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="gridopt-bench-fleet-"))
    try:
        fleet = build_fleet(work / "inputs", args.feeders)
        kinds = _kinds_by_name(fleet)
        warm = _subset(fleet, min(args.feeders, 2 * max(max(args.workers), 1)), "warmup.toml")
        warmups = []
        for w in args.workers:
            print(f"warm-up, {w} worker(s)", flush=True)
            warmups.append(run_once(warm, w, work / f"warmup-{w}"))
        runs = []
        for rep in range(args.repeats):
            order = args.workers if rep % 2 == 0 else list(reversed(args.workers))
            print(f"repeat {rep + 1}/{args.repeats}", flush=True)
            for w in order:
                run = run_once(fleet, w, work / f"out-{w}-{rep}")
                for row in run["feeders"]:
                    row["kind"] = kinds[row["name"]]
                runs.append(run)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    summary = {"machine": mach, "versions": versions(), "feeders": args.feeders,
               "meters_per_feeder": METERS_PER_FEEDER, "days": DAYS, "repeats": args.repeats,
               "workers": args.workers, "warmups": warmups, "runs": runs}
    print(write_report(summary))
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
    worst, unstable = agreement(runs)
    if worst > AGREEMENT_MWH or unstable:
        print(f"results disagree between runs: {worst:.3e} MWh, status of {unstable}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
