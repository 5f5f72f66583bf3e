"""AC-OPF: gridopt (Ipopt + Cython derivatives) vs pandapower ``runopp`` (PIPS), same machine.

Both solve the PGLib case read from ``data/pglib``. pandapower gets the NOTES.md fixes through
``gridopt.network.pandapower_io.pandapower_from_case`` (transformer tap on the MATPOWER "from"
side, slack voltage free within its limits via a controllable ext_grid, out-of-service reference
generator handled) and every line limited at 100 % (pandapower's OPF ignores lines without
``max_loading_percent``); it limits branch current (its default ``OPF_FLOW_LIM=2``; the |S| option
crashes with SciPy 1.17 unless ``.H`` is restored, which this script does) and ignores
angle-difference limits (none binds on these cases). Each case is first solved with |S| limits
(PGLib's problem); if PIPS does not converge, again with current limits, and the table says which.

Timed intervals (process start-up and imports excluded for both):
- gridopt: ``read_matpower`` + ``build_network`` + ``solve_ac_opf`` (flat start, tol 1e-8);
- pandapower: ``pp.runopp`` on a net built beforehand (flat start, PIPS defaults).

Usage: ``python benchmarks/bench_acopf.py [--repeats 3] [--pp-repeats 1] [--cases ...]``;
writes ``docs/benchmarks/acopf.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CASES = [
    "pglib_opf_case118_ieee",
    "pglib_opf_case300_ieee",
    "pglib_opf_case1354_pegase",
    "pglib_opf_case2869_pegase",
]


def baseline() -> dict[str, tuple[float, str]]:
    """AC objective and PowerModels time of each case from data/pglib/BASELINE.md."""
    out = {}
    for line in (REPO / "data" / "pglib" / "BASELINE.md").read_text().splitlines():
        m = re.match(
            r"\|\s*(pglib_\w+)\s*\|[^|]*\|[^|]*\|\s*([0-9.e+]+)\s*\|\s*([^|]+?)\s*\|", line
        )
        if m:
            out[m.group(1)] = (float(m.group(2)), m.group(3))
    return out


def run_gridopt(case: str, repeats: int, screening: bool) -> dict[str, float]:
    from gridopt.network.arrays import build_network
    from gridopt.network.matpower import read_matpower
    from gridopt.opf.ac import ACOptions, solve_ac_opf

    path = REPO / "data" / "pglib" / f"{case}.m"
    times, solve_times, cb_share = [], [], []
    sol = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        network = build_network(read_matpower(path))
        sol = solve_ac_opf(network, options=ACOptions(limit_screening=screening))
        times.append(time.perf_counter() - t0)
        solve_times.append(sol.report.solve_seconds)
        cb_share.append(sol.extra["callback_seconds"] / sol.report.solve_seconds)
    assert sol is not None
    return {
        "seconds": statistics.median(times),
        "solve_seconds": statistics.median(solve_times),
        "callback_share": statistics.median(cb_share),
        "callback_seconds": sol.extra["callback_seconds"],
        "iterations": sol.report.iterations,
        "objective": sol.objective,
        "status": sol.status.value,
        "rounds": sol.extra.get("screening_rounds", 1.0),
        "message": sol.report.message,
    }


def _scipy_h_shim() -> None:
    """pandapower 3.5.6 calls ``sparse_matrix.H`` (removed in SciPy 1.17) for |S| limits.

    Restoring ``.H`` as the conjugate transpose lets runopp solve PGLib's problem
    (``OPF_FLOW_LIM=0``); benchmark-only, never done in the product.
    """
    import scipy.sparse as sp

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        if not hasattr(cls, "H"):
            cls.H = property(lambda self: self.conj().T)  # type: ignore[attr-defined]


def run_pandapower(case: str, repeats: int) -> dict[str, float | str]:
    """runopp with |S| limits (PGLib's problem); if PIPS fails, again with current limits."""
    import pandapower as pp

    from gridopt.network.matpower import read_matpower
    from gridopt.network.pandapower_io import pandapower_from_case

    _scipy_h_shim()
    base_net, _ = pandapower_from_case(read_matpower(REPO / "data" / "pglib" / f"{case}.m"))
    # pandapower's OPF limits a line only when it has max_loading_percent; the converter stores
    # the rating as max_i_ka (rate_a / (sqrt(3) vn)), so 100 % is rate_a at 1 pu voltage.
    base_net.line["max_loading_percent"] = 100.0
    result: dict[str, float | str] = {}
    for flow_lim, label in ((0, "S limits"), (2, "I limits")):
        times = []
        objective, converged = float("nan"), False
        for _ in range(repeats):
            net = pp.from_json_string(pp.to_json(base_net))
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pp.runopp(net, calculate_voltage_angles=True, init="flat", numba=False,
                              OPF_FLOW_LIM=flow_lim)
                converged = bool(net.OPF_converged)
                objective = float(net.res_cost)
            except pp.OPFNotConverged:
                converged = False
            times.append(time.perf_counter() - t0)
        result = {
            "seconds": statistics.median(times),
            "objective": objective,
            "status": f"optimal, {label}" if converged else f"not converged, {label}",
            "converged": float(converged),
        }
        print(f"  pandapower {case} {label}: {result['status']} in {result['seconds']:.2f}s",
              flush=True)
        if converged:
            break
    return result


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} cores{mem}; load average at start {load:.1f}"


def versions() -> str:
    import cyipopt
    import pandapower
    import scipy

    import gridopt

    ipopt = ".".join(map(str, cyipopt.IPOPT_VERSION))
    return (
        f"Python {platform.python_version()}, gridopt {gridopt.__version__}, Ipopt {ipopt} "
        f"(MUMPS, cyipopt-wheels), pandapower {pandapower.__version__}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=CASES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pp-repeats", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "acopf.md"))
    args = parser.parse_args()

    ref = baseline()
    header = machine()
    rows = []
    for case in args.cases:
        g = run_gridopt(case, args.repeats, screening=True)
        full = run_gridopt(case, args.repeats, screening=False)
        p = run_pandapower(case, args.pp_repeats)
        ref_obj, ref_time = ref[case]
        rows.append((case, g, full, p, ref_obj, ref_time))
        print(
            f"{case}: gridopt {g['seconds']:.3f}s ({g['iterations']} it, {g['status']}), "
            f"all limits {full['seconds']:.3f}s, pandapower {p['seconds']:.2f}s ({p['status']}), "
            f"ratio {p['seconds'] / g['seconds']:.1f}x",
            flush=True,
        )

    lines = [
        "## AC-OPF: gridopt vs pandapower runopp (PGLib cases)",
        "",
        f"Machine: {header}.  ",
        f"Versions: {versions()}.  ",
        f"Command: `python benchmarks/bench_acopf.py --repeats {args.repeats} "
        f"--pp-repeats {args.pp_repeats}` (gridopt medians of {args.repeats} runs, pandapower "
        f"median of {args.pp_repeats}; imports and process start excluded; gridopt's time "
        "includes reading the .m file and building the network).",
        "",
        "| case | gridopt s | iterations | rounds | objective rel. to BASELINE | callbacks share "
        "| gridopt, all limits imposed, s | pandapower runopp s | pandapower objective rel. "
        "| speed-up vs pandapower | PGLib/PowerModels s (ma27) | gridopt / PGLib time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, g, full, p, ref_obj, ref_time in rows:
        pg_rel = (p["objective"] - ref_obj) / ref_obj if p["converged"] else float("nan")
        try:
            pglib_s = float(ref_time)
            vs_pglib = f"{g['seconds'] / pglib_s:.2f}"
        except ValueError:
            pglib_s, vs_pglib = float("nan"), f"(PGLib: {ref_time})"
        lines.append(
            f"| {case} | {g['seconds']:.3f} | {g['iterations']} | {int(g['rounds'])} "
            f"| {(g['objective'] - ref_obj) / ref_obj:+.1e} | {g['callback_share'] * 100:.1f}% "
            f"| {full['seconds']:.3f} | {p['seconds']:.2f} ({p['status']}) | {pg_rel:+.1e} "
            f"| {p['seconds'] / g['seconds']:.1f}x | {ref_time} | {vs_pglib} |"
        )
    lines += [
        "",
        "Callbacks share: seconds in gridopt's objective, gradient, constraint, Jacobian and "
        "Hessian callbacks (including cyipopt's copies) divided by Ipopt's wall time. `rounds`: "
        "limit-screening rounds (docs/acopf.md); 'all limits imposed' solves the full problem in "
        "one round. BASELINE objectives have five significant digits. pandapower status: "
        "'S limits' = PGLib's apparent-power limits (`OPF_FLOW_LIM=0`), 'I limits' = its "
        "default current limits, used when PIPS did not converge with S limits (a looser "
        "problem above 1 pu voltage, hence its lower objective).",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
