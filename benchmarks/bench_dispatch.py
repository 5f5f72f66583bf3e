"""Dispatch benchmarks: gridopt vs PyPSA on a multi-period linear OPF, and the warm re-solve.

Three parts (all write ``docs/benchmarks/dispatch.md`` and ``docs/benchmarks/dispatch.json``):

1. **Multi-period lossless DC OPF, gridopt vs PyPSA** on pandapower's ``case1354pegase`` over
   24 and 96 hourly periods: line ratings from the case (``sqrt(3) max_i_ka vn_kv``; the 64
   transformers with the ``sn_mva = 99.999`` "no limit" placeholder left unlimited, lines with
   ``max_i_ka = 99999`` too), linear generator costs ``c1`` from PGLib's
   ``pglib_opf_case1354_pegase`` (pandapower's copy of the case has the placeholder cost 1 for
   every unit, which makes the optimum degenerate), loads scaled by a daily shape, and ten
   batteries (200 MW / 800 MWh, 95 % each way) so that periods are coupled. gridopt builds the
   LP from the pandapower net with :func:`gridopt.opf.dispatch.matrix.solve_dc_dispatch_matrices`
   (sparse matrices straight to ``highspy``); PyPSA (linopy + HiGHS, ``io_api="direct"``) runs
   in its own virtual environment (``.bench-venvs/pypsa``, created here on first use:
   installing PyPSA beside gridopt upgrades pandas to 3.x) through
   ``benchmarks/_pypsa_side.py``, which builds the network from the exported arrays (not
   ``import_from_pandapower_net``). One HiGHS thread each; each run a fresh process (peak
   memory is that process's maximum resident set); a warm-up run of each side, then the
   repeats interleaved, the side that goes first alternating. Stage times: build, hand-over to
   HiGHS, HiGHS's own run time, write-back (``benchmarks/_dispatch_report.py``). Before
   comparing, both models' DC power flows are checked on the same injections, and the
   objectives of every run must agree to 1e-9 (relative).

2. **The same on a SimBench MV grid** (``--simbench``): ``1-MV-rural--0-sw`` with one day of
   its own 15-min profiles, a priced grid connection and two batteries
   (``_dispatch_problems.simbench_problem``). ``--only-simbench`` runs just this part and
   merges its section into the existing report and JSON, keeping the other sections.

3. **Re-solve with a new forecast** (persistent highspy instance, successive loss
   linearisation, AC check) on case33bw with three PV systems and a battery, 48 x 30 min: first
   solve (build + load + solve) vs re-solves with a revised forecast of the same day and with a
   very different day.

Usage: ``python benchmarks/bench_dispatch.py [--repeats 3] [--periods 24 96] [--skip-pypsa]
[--skip-pegase] [--skip-resolve] [--simbench | --only-simbench] [--report-only]``; run
timed runs under ``flock /tmp/gridopt-bench.lock``. Exits non-zero if the objectives
disagree. ``--report-only`` rewrites the report from ``docs/benchmarks/dispatch.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _dispatch_problems import (
    SIMBENCH_CODE,
    SIMBENCH_PERIODS,
    export_problem,
    pegase_problem,
    simbench_problem,
    solve_gridopt,
)
from _dispatch_report import (
    JSON_PATH,
    OBJECTIVE_RTOL,
    condense,
    merge_simbench,
    write_report,
)
from _machine import machine

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".bench-venvs" / "pypsa"
PYPSA_SIDE = REPO / "benchmarks" / "_pypsa_side.py"
#: The PyPSA venv's pins (the versions the report was made with; bump deliberately).
PYPSA_PINS = ("pypsa==1.4.0", "linopy==0.10.1", "highspy==1.16.0")
TOOLS = ("gridopt", "pypsa")
#: Both sides single-threaded throughout: one HiGHS thread (set by each side) and one BLAS /
#: OpenMP thread. PyPSA's post-processing takes a dense pseudo-inverse (1354 x 1354 for
#: case1354pegase: 1.2 s on one OpenBLAS thread, 0.8 s on two on a quiet machine here), and a
#: second thread on a 2-core machine shared with other jobs made run times erratic (one
#: write-back took 12.9 s, the next 2.6 s).
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"}


def gridopt_worker(case: str, n_periods: int, npz: Path | None, out: Path,
                   problem: Path | None = None) -> None:
    """One gridopt run in this (fresh) process; optionally export the problem for PyPSA.

    The SimBench problem comes pickled from the parent (``problem``), so that reading the
    SimBench CSVs (a year of profiles) counts neither in the times nor in the peak memory.
    """
    import pandapower  # noqa: F401
    import xarray  # noqa: F401

    import gridopt.opf.dispatch.matrix  # noqa: F401

    imports_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if case == "simbench":
        if problem is None:
            raise ValueError("the SimBench worker needs the pickled problem (--problem)")
        with problem.open("rb") as fh:
            net, assets, forecast = pickle.load(fh)  # written by this script
        name = SIMBENCH_CODE
    else:
        net, assets, forecast = pegase_problem(n_periods)
        name = "case1354pegase"
    res = solve_gridopt(net, assets, forecast, name)
    keep = {k: v for k, v in res.items()
            if k not in ("grid", "inputs", "positions", "flows", "x", "matrices")}
    keep["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if npz is not None:
        export_problem(res, assets, npz)
    keep["check_flows_mw"] = res["flows"][0].tolist()
    keep["imports_rss_mb"] = imports_rss_mb
    keep["n_bus"] = res["grid"].n_bus
    keep["n_branch"] = res["grid"].n_branch
    out.write_text(json.dumps(keep))


def ensure_pypsa_venv() -> Path:
    """Create ``.bench-venvs/pypsa`` with the pinned PyPSA, linopy and highspy unless it exists."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PYPSA_PINS], check=True)
    return python


def _one_run(tool: str, cmd: list[str], out: Path) -> dict[str, Any]:
    """Run one side in a fresh process; its result with the load average before it."""
    load = list(os.getloadavg())
    started = datetime.now(UTC).isoformat(timespec="seconds")
    tick = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, **SINGLE_THREAD_ENV})
    result: dict[str, Any] = json.loads(out.read_text())
    result.update(load_average_before=load, started=started,
                  process_seconds=time.perf_counter() - tick)
    return result


def _command(tool: str, case: str, n_t: int, npz: Path, out: Path, extra: list[str],
             python: Path | None, export: bool = False) -> list[str]:
    """The command line of one run of ``tool``."""
    if tool == "gridopt":
        cmd = [sys.executable, __file__, "--worker", str(n_t), "--case", case,
               "--out", str(out), *extra]
        return cmd + (["--export", str(npz)] if export else [])
    if python is None:
        raise ValueError("PyPSA's venv is not set up")
    return [str(python), str(PYPSA_SIDE), str(npz), str(out)]


def run_comparison(periods: list[int], repeats: int, with_pypsa: bool,
                   case: str = "pegase") -> list[dict[str, Any]]:
    """Warm-up of each side, then ``repeats`` interleaved rounds per size."""
    rows = []
    python = ensure_pypsa_venv() if with_pypsa else None
    with tempfile.TemporaryDirectory() as tmp:
        for n_t in periods:
            extra: list[str] = []
            if case == "simbench":
                # in a process of its own: a child's peak RSS (ru_maxrss) starts from its
                # parent's resident size at the fork, so this process must stay small
                pkl = Path(tmp) / f"simbench_{n_t}.pkl"
                subprocess.run([sys.executable, __file__, "--prepare", str(n_t), "--problem",
                                str(pkl)], check=True, cwd=REPO)
                extra = ["--problem", str(pkl)]
            npz = Path(tmp) / f"{case}_{n_t}.npz"

            tools = [t for t in TOOLS if t == "gridopt" or python is not None]
            # warm-up: gridopt first (it exports the problem PyPSA reads)
            warmup = {}
            for tool in tools:
                out = Path(tmp) / f"{tool}_{n_t}_warmup.json"
                cmd = _command(tool, case, n_t, npz, out, extra, python, export=True)
                warmup[tool] = _one_run(tool, cmd, out)
                logging.info("%s %s %d periods warm-up: %.1f s", tool, case, n_t,
                             warmup[tool]["total_seconds"])
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in TOOLS}
            order = []
            for r in range(repeats):
                round_tools = tools if r % 2 == 0 else tools[::-1]
                order.append(list(round_tools))
                for tool in round_tools:
                    out = Path(tmp) / f"{tool}_{n_t}_{r}.json"
                    cmd = _command(tool, case, n_t, npz, out, extra, python)
                    runs[tool].append(_one_run(tool, cmd, out))
                    logging.info("%s %s %d periods run %d: %.1f s (HiGHS %.1f s)", tool, case,
                                 n_t, r, runs[tool][-1]["total_seconds"],
                                 runs[tool][-1]["highs_run_seconds"])
            rows.append(condense({"periods": n_t, "order": order, "warmup": warmup, **runs}))
    return rows


def objectives_agree(rows: list[dict[str, Any]]) -> bool:
    """Every run's objective (warm-ups included) within ``OBJECTIVE_RTOL`` of the others."""
    for row in rows:
        values = [r["objective"] for t in TOOLS for r in row[t]]
        values += [w["objective"] for w in row["warmup"].values()]
        if (max(values) - min(values)) > OBJECTIVE_RTOL * abs(values[0]):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# re-solve


def run_resolve(repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from gridopt.workflows.dispatch import Dispatcher
    from tests.dispatch.conftest import day_forecast, feeder_net

    net = feeder_net()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = Dispatcher(net, 48, 0.5, name="case33bw")
        first = d.solve(day_forecast(net, 48))
        t1 = time.perf_counter()
        revised = d.solve(day_forecast(net, 48, load_scale=1.04, pv_scale=0.9))
        t2 = time.perf_counter()
        other = d.solve(day_forecast(net, 48, load_scale=1.15, pv_scale=0.7))
        t3 = time.perf_counter()
        runs.append({
            "first": t1 - t0, "revised": t2 - t1, "other": t3 - t2,
            "first_stages": first.seconds_by_stage, "revised_stages": revised.seconds_by_stage,
            "other_stages": other.seconds_by_stage,
            "iterations": (first.iterations, revised.iterations, other.iterations),
            "losses": (first.losses_mwh, revised.losses_mwh, other.losses_mwh),
            "settled": (first.settled, revised.settled, other.settled),
            "build": d.build_seconds, "load": d.load_seconds,
        })
    return {"runs": runs}


# ---------------------------------------------------------------------------------------------
# main


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--periods", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--skip-pypsa", action="store_true")
    parser.add_argument("--skip-pegase", action="store_true")
    parser.add_argument("--skip-resolve", action="store_true")
    parser.add_argument("--simbench", action="store_true",
                        help="also run the SimBench MV part")
    parser.add_argument("--only-simbench", action="store_true",
                        help="run only the SimBench MV part and merge it into the existing report")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite dispatch.md from the runs in dispatch.json (no runs)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--case", default="pegase", help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--problem", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        with args.problem.open("wb") as fh:
            pickle.dump(simbench_problem(n_periods=args.prepare), fh)
        return
    if args.worker:
        gridopt_worker(args.case, args.worker, args.export, args.out, args.problem)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.report_only:
        saved: dict[str, Any] = json.loads(JSON_PATH.read_text())
        for key in ("pegase", "simbench"):
            saved[key] = [condense(row) for row in saved.get(key) or []]
        sys.stdout.write(write_report(saved))
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
        return
    mach = machine()
    summary: dict[str, Any] = {
        "command": sys.argv[1:], "started": datetime.now(UTC).isoformat(),
        "machine": mach, "repeats": args.repeats, "objective_rtol": OBJECTIVE_RTOL,
        "environment_of_runs": SINGLE_THREAD_ENV,
    }
    with_pypsa = not args.skip_pypsa
    simbench = None
    if args.simbench or args.only_simbench:
        simbench = run_comparison([SIMBENCH_PERIODS], args.repeats, with_pypsa,
                                  case="simbench")
    if args.only_simbench:
        assert simbench is not None
        mach["load_average_end"] = list(os.getloadavg())
        sys.stdout.write(merge_simbench(simbench, mach))
        sys.exit(0 if objectives_agree(simbench) else 1)
    pegase = [] if args.skip_pegase else run_comparison(args.periods, args.repeats, with_pypsa)
    resolve = None if args.skip_resolve else run_resolve(args.repeats)
    summary.update(pegase=pegase, simbench=simbench, resolve=resolve,
                   finished=datetime.now(UTC).isoformat())
    mach["load_average_end"] = list(os.getloadavg())
    sys.stdout.write(write_report(summary))
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)
    sys.exit(0 if objectives_agree(pegase + (simbench or [])) else 1)


if __name__ == "__main__":
    main()
