"""AC-OPF: gridopt (Ipopt + Cython derivatives) vs pandapower ``runopp`` (PIPS), same machine.

Both solve PGLib's problem (apparent-power limits |S| <= rate_a at both branch ends) on the
cases in ``data/pglib``. pandapower gets the NOTES.md fixes through
``gridopt.network.case_to_pandapower.pandapower_from_case`` (transformer tap on the MATPOWER "from"
side, slack voltage free within its limits, out-of-service reference generator handled), every
line limited at 100 %, ``OPF_FLOW_LIM=0`` (|S|; SciPy 1.17 needs ``.H`` restored, which
``benchmarks/_acopf_runs.py`` does) and otherwise runopp's defaults (flat start, PIPS, numba).
It ignores angle-difference limits (none binds on these cases).

Per case: one untimed warm-up of each (gridopt screened, gridopt with all limits, pandapower),
then ``--repeats`` rounds, each running the three one after another (interleaved). Where
pandapower's warm-up did not converge, it gets ``--failed-pp-repeats`` timed runs (case2869
takes ~4 min per attempt) and the table says "did not converge (X s)", with no ratio. The
callback share comes from one extra run of each gridopt mode with Ipopt's own timing statistics
(``ACOptions(ipopt_timing=True)``: "Function Evaluations" / "OverallAlgorithm" wall time).
The start-point study then times every start (flat, DC, previous solution) on all cases.

Timed intervals (process start-up and imports excluded for both):
- gridopt: ``read_matpower`` + ``build_network`` + ``solve_ac_opf`` (tol 1e-8);
- pandapower: ``pp.runopp`` on a net built beforehand.

Usage: ``python benchmarks/bench_acopf.py [--repeats 3] [--cases ...] [--held-out ...]``;
writes ``docs/benchmarks/acopf.md`` and ``docs/benchmarks/acopf.json`` (every run), then runs
``benchmarks/collect.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _acopf_report import (
    baseline,
    comparison_table,
    looser_table,
    machine,
    start_table,
    versions,
)
from _acopf_runs import (
    REPO,
    PandapowerCase,
    Record,
    gridopt_previous_start,
    gridopt_run,
    gridopt_scaled_flat,
)

CASES = [
    "pglib_opf_case118_ieee",
    "pglib_opf_case300_ieee",
    "pglib_opf_case1354_pegase",
    "pglib_opf_case2869_pegase",
]
#: PGLib cases in data/pglib that the benchmark cases above were never tuned on.
HELD_OUT = ["pglib_opf_case24_ieee_rts", "pglib_opf_case30_ieee", "pglib_opf_case57_ieee"]
STARTS = ["flat", "dc"]


def _log(case: str, rec: Record) -> None:
    it = f", {rec['iterations']} it" if "iterations" in rec else ""
    print(f"  {case} {rec['tool']} {rec['mode']} {rec.get('start', '')}: {rec['status']} "
          f"{rec['seconds']:.3f} s{it}", flush=True)


def compare_case(case: str, args: argparse.Namespace, runs: list[Record]) -> None:
    """Warm-up, then interleaved timed repeats of gridopt (both modes) and pandapower."""
    pp_case = None if args.skip_pandapower else PandapowerCase(case)

    def add(rec: Record, **extra: Any) -> Record:
        rec.update(case=case, **extra)
        runs.append(rec)
        _log(case, rec)
        return rec

    add(gridopt_run(case, True), warmup=True)
    add(gridopt_run(case, False), warmup=True)
    n_pp = 0
    if pp_case is not None:
        warm = add(pp_case.run(0), warmup=True)
        n_pp = args.repeats if warm["converged"] else min(args.repeats, args.failed_pp_repeats)
    for rep in range(args.repeats):
        add(gridopt_run(case, True), repeat=rep)
        add(gridopt_run(case, False), repeat=rep)
        if pp_case is not None and rep < n_pp:
            add(pp_case.run(0), repeat=rep)
    for screening in (True, False):
        add(gridopt_run(case, screening, ipopt_timing=True), ipopt_stats_run=True, warmup=True)
    failed = [r for r in runs if r["case"] == case and r["tool"] == "pandapower"
              and not r["converged"]]
    if pp_case is not None and failed and args.pp_current_limits:
        add(pp_case.run(2), repeat=0)


def start_study(case: str, args: argparse.Namespace, runs: list[Record]) -> None:
    """Every start, both modes, interleaved over repeats (after one warm-up of the DC path)."""
    gridopt_run(case, True, start="dc")  # warm-up: Pyomo/HiGHS import and first DC solve
    for rep in range(args.start_repeats):
        for screening in (True, False):
            for start in STARTS:
                rec = gridopt_run(case, screening, start=start)
                rec.update(case=case, study=True, repeat=rep)
                runs.append(rec)
                _log(case, rec)
            for rec in (gridopt_scaled_flat(case, screening, args.load_factor, "flat"),
                        gridopt_scaled_flat(case, screening, args.load_factor, "dc"),
                        gridopt_previous_start(case, screening, args.load_factor)):
                rec.update(case=case, study=True, repeat=rep)
                runs.append(rec)
                _log(case, rec)


def write_report(args: argparse.Namespace, runs: list[Record], info: dict[str, Any]) -> str:
    ref = baseline()
    main_lines, ratios = comparison_table(runs, args.cases, ref)
    held_lines, held_ratios = comparison_table(runs, args.held_out, ref)
    m = info["machine_at_start"]
    v = info["versions"]
    def n_pp(case: str) -> int:
        return len([r for r in runs if r["case"] == case and r["tool"] == "pandapower"
                    and r["mode"] == "S limits" and not r.get("warmup")])

    pp_counts = ", ".join(f"{c.split('_case')[1]}: {n_pp(c)}" for c in args.cases + args.held_out)
    all_cases = args.cases + args.held_out
    below = [c for c in all_cases if c in ratios or c in held_ratios]
    below_10 = [c for c in below if {**ratios, **held_ratios}[c] < 10.0]
    no_ratio = [c for c in all_cases if c not in ratios and c not in held_ratios]
    starts = [*STARTS, f"flat (loads x{args.load_factor:g})",
              f"dc (loads x{args.load_factor:g})", f"previous (loads x{args.load_factor:g})"]
    lines = [
        "## AC-OPF: gridopt vs pandapower runopp (PGLib cases)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB; load average "
        f"{m['load_average_1min']:.1f} at start, {info['load_average_at_end']:.1f} at end.  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".  ",
        f"Command: `{info['command']}` ({info['wall_minutes']:.1f} min). Every run is in "
        "`docs/benchmarks/acopf.json`.",
        "",
        "Same problem for both: PGLib's |S| <= rate_a limits (pandapower `OPF_FLOW_LIM=0`). "
        "Each tool gets one untimed warm-up solve of the same case, then "
        f"{args.repeats} timed repeats, gridopt (screened), gridopt (all limits) and pandapower "
        "interleaved within each repeat; cells give min / median / max seconds. Where "
        "pandapower's warm-up did not converge it gets "
        f"{args.failed_pp_repeats} timed run(s) and no ratio is given. "
        f"Timed pandapower runs per case: {pp_counts}. gridopt's time includes reading the .m "
        "file and building the network; pandapower's is `runopp` on a net built beforehand. "
        "Speed-up: pandapower median / gridopt median.",
        "",
        *main_lines,
        "",
        "Callback share: Ipopt's own timing statistics (`print_timing_statistics`): wall time "
        "of 'Function Evaluations' (every objective, constraint, Jacobian and Hessian call as "
        "seen from Ipopt, so including cyipopt's argument and result copies) over "
        "'OverallAlgorithm', summed over the screening rounds; in brackets the share a Python "
        "timer around gridopt's callback methods sees, which misses cyipopt's copies. One run "
        "per mode with `ACOptions(ipopt_timing=True)`, outside the timed repeats. 'screened' "
        "imposes branch limits lazily (docs/acopf.md) and is the default; 'all limits' imposes "
        "every limit from the start; both reach the same optimum. BASELINE objectives have "
        "five significant digits.",
        "",
        *looser_table(runs, ref),
        "### Held-out cases",
        "",
        "PGLib cases in `data/pglib` that the benchmark was not tuned on (the only ones besides "
        "the four above: `data/pglib` has no other case of 500-2,000 buses), same protocol:",
        "",
        *held_lines,
        "",
        "### Start points",
        "",
        "Iterations (all repeats; several values when they differ) and seconds of each start "
        f"({args.start_repeats} repeats, interleaved; same timed interval as above, the DC "
        "start's DC-OPF included). 'flat': va = 0, vm = 1, generators mid-range. 'dc': angles "
        "and active dispatch of the DC-OPF (HiGHS); with screening, the limits its DC flows "
        "load to 80% or more are imposed from the first round, solved at full accuracy. The "
        "default `ACStart.AUTO` is 'dc' for the cost objective (the tables above use it; none "
        "of these cases has a transformer phase shift of 30 degrees or more, where AUTO takes "
        "the angles from the case). 'previous': every load scaled by "
        f"{args.load_factor:g} (a next-hour problem) and solved from the solution of the "
        "unscaled case (`solve_ac_opf(..., initial=solution)`, whose limits loaded to 80% or "
        "more seed the screening), beside the same scaled problem from a flat and a DC start; "
        "only the second solve is timed.",
        "",
        *start_table(runs, all_cases, ref, starts),
        "",
        "Target (>= 10x pandapower on every case, screened gridopt against runopp on the same "
        f"problem): below 10x on {', '.join(below_10) if below_10 else 'no case with a ratio'}; "
        f"no ratio (pandapower did not converge or was not run) on "
        f"{', '.join(no_ratio) if no_ratio else 'no case'}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=CASES)
    parser.add_argument("--held-out", nargs="*", default=HELD_OUT)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--failed-pp-repeats", type=int, default=1,
                        help="timed pandapower runs where its warm-up did not converge")
    parser.add_argument("--start-repeats", type=int, default=None,
                        help="repeats of the start-point study (default: --repeats)")
    parser.add_argument("--load-factor", type=float, default=1.02)
    parser.add_argument("--pp-current-limits", action="store_true",
                        help="also run pandapower once with current limits where |S| fails")
    parser.add_argument("--skip-pandapower", action="store_true", help="development only")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "acopf.md"))
    args = parser.parse_args()
    if args.start_repeats is None:
        args.start_repeats = args.repeats

    t0 = time.perf_counter()
    info: dict[str, Any] = {
        "command": "python benchmarks/bench_acopf.py " + " ".join(sys.argv[1:]),
        "machine_at_start": machine(),
        "versions": versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    runs: list[Record] = []
    for case in args.cases + args.held_out:
        compare_case(case, args, runs)
    for case in args.cases + args.held_out:
        start_study(case, args, runs)
    info["load_average_at_end"] = os.getloadavg()[0]
    info["wall_minutes"] = (time.perf_counter() - t0) / 60.0

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = write_report(args, runs, info)
    for path, content in ((out, text),
                          (out.with_suffix(".json"),
                           json.dumps({**info, "args": vars(args), "runs": runs}, indent=1))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content)
        os.replace(tmp, path)
    print(text)
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)


if __name__ == "__main__":
    main()
