"""Report of the fleet benchmark: ``docs/benchmarks/fleet.md`` and ``docs/benchmarks/fleet.json``.

Every cell is computed from the runs ``bench_fleet.py`` recorded (one dict per fleet run:
workers, wall seconds, per-feeder status, losses and seconds); nothing is typed in.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MD_PATH = REPO / "docs" / "benchmarks" / "fleet.md"
JSON_PATH = REPO / "docs" / "benchmarks" / "fleet.json"
TITLE = "## Fleet of feeders (`benchmarks/bench_fleet.py`)"
#: Per-feeder losses of runs with different worker counts must agree to this (MWh).
AGREEMENT_MWH = 1e-9
TARGET_SPEEDUP = 1.7


def versions() -> dict[str, str]:
    """Versions of the stack that runs the feeders."""
    import dask
    import distributed
    import pandapower

    import gridopt
    from gridopt.solvers.highs import highs_version

    return {"gridopt": gridopt.__version__, "highs": highs_version(), "dask": dask.__version__,
            "distributed": distributed.__version__, "pandapower": pandapower.__version__}


def _spread(values: list[float], digits: int = 1) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _label(workers: int) -> str:
    return "in-process" if workers == 0 else f"{workers} worker{'s' * (workers > 1)}"


def agreement(runs: list[dict[str, Any]]) -> tuple[float, list[str]]:
    """Largest difference of any feeder's losses between runs, and feeders whose status varies."""
    by_feeder: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
    for run in runs:
        for row in run["feeders"]:
            by_feeder[row["name"]].append((row["status"], row["losses_optimised_mwh"]))
    worst = 0.0
    unstable = []
    for name, seen in by_feeder.items():
        if len({s for s, _ in seen}) > 1:
            unstable.append(name)
        values = [v for _, v in seen if v is not None]
        if values:
            worst = max(worst, max(values) - min(values))
    return worst, sorted(unstable)


def _per_network(runs: list[dict[str, Any]], workers: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        if run["workers"] == workers:
            for row in run["feeders"]:
                if row["seconds"] is not None:
                    out[row["kind"]].append(row["seconds"])
    return dict(out)


def _table(runs: list[dict[str, Any]], worker_counts: list[int]) -> list[str]:
    lines = ["| where | fleet wall time, s | per feeder, s (median of feeders) | feeders per "
             "hour | ok / infeasible / failed |", "|---|---|---|---|---|"]
    for w in worker_counts:
        mine = [r for r in runs if r["workers"] == w]
        walls = [r["wall_s"] for r in mine]
        per = [statistics.median([f["seconds"] for f in r["feeders"] if f["seconds"]])
               for r in mine]
        n = mine[0]["n_feeders"]
        rate = [3600 * n / wall for wall in walls]
        counts = mine[-1]["counts"]
        lines.append(f"| {_label(w)} | {_spread(walls)} | {_spread(per, 2)} | "
                     f"{_spread(rate, 0)} | {counts['ok']} / {counts['infeasible']} / "
                     f"{counts['failed']} |")
    return lines


def report_lines(summary: dict[str, Any]) -> list[str]:
    """The markdown of the fragment."""
    runs, mach, v = summary["runs"], summary["machine"], summary["versions"]
    worker_counts = sorted({r["workers"] for r in runs})
    n = runs[0]["n_feeders"]
    kinds = sorted({f["kind"] for f in runs[0]["feeders"]})
    lines = [
        TITLE, "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores (shared with other sessions), load "
        f"average at the start {mach['load_average'][0]:.1f} (each run's load is in the JSON); "
        f"Python {mach['python']}, gridopt {v['gridopt']}, {v['highs']}, Dask {v['dask']} / "
        f"distributed {v['distributed']}, pandapower {v['pandapower']}. Every run: "
        "`docs/benchmarks/fleet.json`.", "",
        f"`gridopt fleet run` on **{n} feeders** x 24 hourly periods: per feeder its own "
        f"{summary['meters_per_feeder']} synthetic meters (`../shared/tools/make_fleet_meters.py`, "
        f"{summary['days']} days), forecast trained on 28 days, loss-minimising dispatch of a "
        "battery with every period checked by a pandapower AC power flow (the job of `gridopt "
        "run`, reconfiguration off). Networks, round-robin: "
        + ", ".join(f"`{k}`" for k in kinds)
        + " (builder: `benchmarks/_fleet_feeders.py`). Wall time from the call of `run_fleet` "
        "to the published fleet summary, cluster start-up included; per-feeder seconds are the "
        "job's wall time on its worker. Each worker count was warmed up once on a few feeders "
        f"(not counted); {summary['repeats']} repeat(s), worker counts interleaved; min-max in "
        "brackets.", "",
        *_table(runs, worker_counts),
    ]
    if 1 in worker_counts and 2 in worker_counts:
        one = statistics.median(r["wall_s"] for r in runs if r["workers"] == 1)
        two = statistics.median(r["wall_s"] for r in runs if r["workers"] == 2)
        speedup = one / two
        verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
        lines += ["", f"Speed-up from 1 to 2 workers: **{speedup:.2f}x** (median wall times; "
                      f"{verdict} the {TARGET_SPEEDUP}x target)."]
    worst, unstable = agreement(runs)
    lines += ["", f"Results across every run and worker count: per-feeder AC losses agree to "
                  f"{worst:.1e} MWh" + (" (within 1e-9)" if worst <= AGREEMENT_MWH
                                         else " (NOT within 1e-9)")
              + ("; every feeder has the same status in every run." if not unstable
                 else f"; status differs between runs for {', '.join(unstable)}.")]
    rows = ["", "Per-feeder job seconds by network (median, min-max over feeders and repeats):",
            "", "| network | " + " | ".join(_label(w) for w in worker_counts) + " |",
            "|---|" + "---|" * len(worker_counts)]
    per = {w: _per_network(runs, w) for w in worker_counts}
    for kind in kinds:
        rows.append(f"| `{kind}` | " + " | ".join(_spread(per[w].get(kind, []), 2)
                                                 for w in worker_counts) + " |")
    return lines + rows


def write_report(summary: dict[str, Any]) -> str:
    """Write fleet.md and fleet.json; return the markdown."""
    text = "\n".join(report_lines(summary)) + "\n"
    for path, content in ((JSON_PATH, json.dumps(summary, indent=1, default=str) + "\n"),
                          (MD_PATH, text)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content)
        os.replace(tmp, path)
    return text


__all__ = ["JSON_PATH", "MD_PATH", "versions", "write_report"]
