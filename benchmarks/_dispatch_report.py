"""Report of the dispatch benchmark: ``docs/benchmarks/dispatch.md`` and ``dispatch.json``.

The runs come from ``bench_dispatch.py``: for each problem size a list of gridopt runs and a
list of PyPSA runs (warm-ups kept apart), each a dict of stage times as written by
``_dispatch_problems.solve_gridopt`` and ``_pypsa_side.py``. Every table cell here is computed
from those runs; nothing is typed in.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from _dispatch_problems import SIMBENCH_CODE, SIMBENCH_PRICE_PER_MWH

REPO = Path(__file__).resolve().parents[1]
MD_PATH = REPO / "docs" / "benchmarks" / "dispatch.md"
JSON_PATH = REPO / "docs" / "benchmarks" / "dispatch.json"
TITLE = "## Dispatch (`benchmarks/bench_dispatch.py`)"
PEGASE_HEADING = "### Multi-period lossless DC OPF: case1354pegase, gridopt vs PyPSA"
SIMBENCH_HEADING = "### Multi-period lossless DC OPF: SimBench MV grid, gridopt vs PyPSA"
#: Objectives must agree to this relative difference, or the report says they do not.
OBJECTIVE_RTOL = 1e-9

METHOD = """
How the two are timed (same on both sub-sections): each run is a fresh process; one warm-up
run of each side first (not counted), then the repeats interleaved (gridopt, PyPSA; then
PyPSA, gridopt; ...), so that a change of machine load hits both; min, median and max of the
repeats; each side single-threaded throughout: one HiGHS thread (the same HiGHS release on both) and
`OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = 1` (PyPSA's post-processing takes a dense
pseudo-inverse per sub-network: 1354 x 1354 for case1354pegase, 1.2 s on one OpenBLAS thread
and 0.8 s on two when the machine is quiet; on this shared machine a second thread made it
erratic: one write-back took 12.9 s, the next 2.6 s). Stages:

* **build**: gridopt: network model and dispatch grid from the pandapower net, forecast
  placement, sparse-matrix assembly; PyPSA: the network from the exported arrays,
  `consistency_check` and `n.optimize.create_model` (the linopy model).
* **hand-over**: gridopt: a new `highspy.Highs` and `passModel`; PyPSA: linopy's
  `Model.solve(io_api="direct")` minus HiGHS's run, i.e. the linopy model handed to `highspy`
  in memory (no LP file) and the solution read back onto linopy's variables.
* **HiGHS run**: HiGHS's own run time: PyPSA: `Highs.getRunTime()` of linopy's
  `solver_model`; gridopt: the `Highs.run()` call (gridopt does not expose its `Highs`
  object; on a test LP the wall time of `run()` and `getRunTime()` agree to 8 ms in 74 s).
* **write-back**: gridopt: the solution vector and the generator, storage, grid and
  branch-flow schedules out of it; PyPSA: `assign_solution`, `assign_duals`,
  `post_processing` (the solution onto the network's time series).
* **total**: the sum (gridopt's starts at the pandapower net, PyPSA's at the arrays).

PyPSA's side is `n.optimize(solver_name="highs", io_api="direct",
solver_options={"threads": 1}, log_to_console=False, include_objective_constant=False)` called
step by step (the same calls in the same order as its body in PyPSA 1.4:
`benchmarks/_pypsa_side.py`; `include_objective_constant=False` is PyPSA's advice for
conditioning and its 2.0 default, and changes nothing here); `io_api="direct"` is
what PyPSA's maintainers point to for speed with HiGHS (PyPSA-Eur's config: "Increases
performance but only supported for the highs and gurobi solvers"). Model sizes are as HiGHS
received them (before presolve).
"""

NOTES_PEGASE = """
Notes: the problem: the pitfalls of `import_from_pandapower_net` listed in issue 4 are avoided
by exporting arrays from gridopt's `DispatchGrid` (series reactance times tap over S_base as
PyPSA `Line.x` at `v_nom = 1 kV`, ratings in MVA with `sqrt(3)`, parallel lines, in-service
elements and open switches already resolved); transformer phase shifts (at most 0.09 degrees
here) are left out by both. The two LPs are the same problem in different formulations:
gridopt's has more columns (bus angles; two slacks per rated branch and period, because its
thermal limits are soft) and fewer rows (PyPSA writes a row per cycle (KVL) and per line limit
and no angles); HiGHS's presolve and simplex see different matrices, so the HiGHS-time ratio
compares formulations, the rest compares the modelling layers.
"""

NOTES_SIMBENCH = """
Notes: the same LP family as above, on a radial MV feeder over one day of 15-min periods: the
grid connection (PyPSA: a generator at the slack bus with `p_min_pu = -1` and the time-varying
price as `marginal_cost`) imports and exports at one price, so the objective is the day's net
purchase cost (negative: the feeder exports its wind and PV surplus). The SimBench timing
starts from the pandapower net and the profiles already loaded (reading the SimBench CSVs,
~7 s, is left out on both sides). The HV/MV transformers' 150 degree shift is left out by both
(two parallel units with the same shift: no flow changes). At this size both sides spend most
of their time outside HiGHS.
"""


# ---------------------------------------------------------------------------------------------
# statistics


def _med(values: list[float]) -> float:
    return float(statistics.median(values))


def _spread(values: list[float], digits: int = 2) -> str:
    """``median (min-max)`` of a list of seconds."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{_med(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def stages(run: dict[str, Any], tool: str) -> dict[str, float]:
    """Build, hand-over, HiGHS run, write-back and total seconds of one run."""
    if tool == "gridopt":
        return {
            "build": run["prepare_seconds"] + run["build_seconds"],
            "handover": run["load_seconds"],
            "highs": run["highs_run_seconds"],
            "writeback": run["read_seconds"],
            "total": run["total_seconds"],
        }
    return {
        "build": run["network_seconds"] + run["model_seconds"],
        "handover": run["solve_seconds"] - run["highs_run_seconds"],
        "highs": run["highs_run_seconds"],
        "writeback": run["writeback_seconds"],
        "total": run["total_seconds"],
    }


def _column(runs: list[dict[str, Any]], tool: str, key: str) -> list[float]:
    return [stages(r, tool)[key] for r in runs]


def condense(row: dict[str, Any]) -> dict[str, Any]:
    """Replace every run's first-period branch flows by the largest gridopt-PyPSA difference.

    The flows (one per branch) are the DC power-flow check; keeping them in every run would
    make ``dispatch.json`` mostly flow arrays. Rows already condensed are returned as they are.
    """
    runs = [r for t in ("gridopt", "pypsa") for r in row[t]] + list(row["warmup"].values())
    flows = {t: [np.asarray(r.pop("check_flows_mw")) for r in
                 row[t] + ([row["warmup"][t]] if t in row["warmup"] else [])
                 if "check_flows_mw" in r] for t in ("gridopt", "pypsa")}
    if flows["gridopt"] and flows["pypsa"]:
        row["flow_check_max_diff_mw"] = max(float(np.max(np.abs(g - p)))
                                            for g in flows["gridopt"] for p in flows["pypsa"])
    for r in runs:
        r.pop("check_flows_mw", None)
    return row


# ---------------------------------------------------------------------------------------------
# tables


def comparison_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Stage table (median (min-max) of the repeats), sizes, then agreement and ratios."""
    lines = [
        "| periods | tool | build (s) | hand-over (s) | HiGHS run (s) | write-back (s) | "
        "total (s) | peak memory (MB) | columns | rows | nonzeros | simplex iterations | "
        "objective |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for tool, label in (("gridopt", "gridopt"), ("pypsa", "PyPSA")):
            runs = row[tool]
            if not runs:
                continue
            first = runs[0]
            cells = [_spread(_column(runs, tool, k)) for k in
                     ("build", "handover", "highs", "writeback", "total")]
            lines.append(
                f"| {row['periods']} | {label} | " + " | ".join(cells)
                + f" | {_med([r['peak_rss_mb'] for r in runs]):.0f} | {first['n_variables']} | "
                f"{first['n_constraints']} | {first['n_nonzeros']} | {first['iterations']} | "
                f"{first['objective']:.2f} |"
            )
    lines += ["", "Agreement and ratios (PyPSA median / gridopt median):", ""]
    for row in rows:
        lines += agreement_lines(row)
    return lines


def agreement_lines(row: dict[str, Any]) -> list[str]:
    """Objective and flow agreement, sizes, end-to-end and HiGHS-time ratios of one size."""
    g, p = row["gridopt"], row["pypsa"]
    if not p:
        return [f"* {row['periods']} periods: PyPSA not run (`--skip-pypsa`)."]
    objectives = [r["objective"] for r in g + p]
    rel = (max(objectives) - min(objectives)) / abs(p[0]["objective"])
    agree = rel <= OBJECTIVE_RTOL
    flow_diff = row["flow_check_max_diff_mw"]
    total = _med(_column(p, "pypsa", "total")) / _med(_column(g, "gridopt", "total"))
    highs = _med(_column(p, "pypsa", "highs")) / _med(_column(g, "gridopt", "highs"))
    rest_p = [s["total"] - s["highs"] for s in (stages(r, "pypsa") for r in p)]
    rest_g = [s["total"] - s["highs"] for s in (stages(r, "gridopt") for r in g)]
    rest = _med(rest_p) / _med(rest_g)
    mem = _med([r["peak_rss_mb"] for r in p]) / _med([r["peak_rss_mb"] for r in g])
    mem_text = (f"{mem:.1f}x less peak memory" if mem >= 1
                else f"{1 / mem:.1f}x more peak memory")
    dcol = g[0]["n_variables"] - p[0]["n_variables"]
    drow = p[0]["n_constraints"] - g[0]["n_constraints"]
    size = (f"gridopt's LP has {dcol:+d} columns and PyPSA's {drow:+d} rows relative to the "
            "other's" if (dcol or drow) else "both LPs have the same size")
    verdict = ("objectives agree" if agree
               else f"OBJECTIVES DISAGREE (more than {OBJECTIVE_RTOL:.0e})")
    return [
        f"* {row['periods']} periods: {verdict}: largest relative difference over all runs "
        f"{rel:.1e}; PyPSA's `lpf` and gridopt's DC flows for the same injections differ by at "
        f"most {flow_diff:.1e} MW (all pairs of runs); thermal slack used by gridopt "
        f"{g[0]['max_thermal_slack_mva']:.1e} MVA; {size}. End to end gridopt "
        f"{_ratio_text(total)}; HiGHS run alone {_ratio_text(highs)}; everything but HiGHS "
        f"{_ratio_text(rest)}; {mem_text}."
    ]


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def _versions_text(rows: list[dict[str, Any]]) -> str:
    versions = next((r["pypsa"][0]["versions"] for r in rows if r["pypsa"]), None)
    if not versions:
        return ""
    return (f"PyPSA {versions['pypsa']} (linopy {versions['linopy']}, pandas "
            f"{versions['pandas']}, highspy {versions['highspy']})")


def _runs_text(rows: list[dict[str, Any]]) -> str:
    n = len(rows[0]["gridopt"])
    loads = [r["load_average_before"][0] for row in rows for tool in ("gridopt", "pypsa")
             for r in row[tool]]
    return (f"{n} interleaved repeat{'s' if n != 1 else ''} after one warm-up each; 1-min load "
            f"average before a run {min(loads):.1f} to {max(loads):.1f}")


def pegase_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The case1354pegase section."""
    return [
        PEGASE_HEADING,
        "",
        "Same LP on both sides (problem in the script's docstring and in `docs/dispatch.md`); "
        f"{_runs_text(rows)}. {_versions_text(rows) or 'PyPSA not run'}.",
        "",
        *comparison_lines(rows),
        "",
        *NOTES_PEGASE.strip().splitlines(),
    ]


def simbench_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The SimBench section: problem, comparison table, agreement and notes."""
    g = rows[0]["gridopt"][0]
    return [
        SIMBENCH_HEADING,
        "",
        f"`{SIMBENCH_CODE}` as SimBench delivers it ({g['n_bus']} buses after fusing its "
        f"closed bus-bus switches, {g['n_branch']} in-service branches: radial lines, its open "
        "line switches respected, two parallel HV/MV transformers), one day of its own 15-min "
        "profiles (the first 96 steps of the SimBench year; loads minus static generators as "
        "uncontrolled bus demand), the ext_grid importing and exporting at "
        f"{SIMBENCH_PRICE_PER_MWH:.0f} EUR/MWh times the hourly shape of the case1354 part "
        "(39.6 to 60 EUR/MWh), two batteries of 2 MW / 8 MWh (95 % each way, start at 50 %) "
        f"at the buses with most load. Timed as above; {_runs_text(rows)}. "
        f"{_versions_text(rows) or 'PyPSA not run'}.",
        "",
        *comparison_lines(rows),
        "",
        *NOTES_SIMBENCH.strip().splitlines(),
        "gridopt's peak memory is mostly its imports (pandapower, xarray, SciPy, highspy): "
        f"{_med([r['imports_rss_mb'] for r in rows[0]['gridopt']]):.0f} MB before it reads "
        "the problem.",
    ]


def resolve_lines(resolve: dict[str, Any]) -> list[str]:
    """The re-solve section (gridopt only)."""
    runs = resolve["runs"]
    first = [r["first"] for r in runs]
    revised = [r["revised"] for r in runs]
    other = [r["other"] for r in runs]
    st = runs[len(runs) // 2]
    lines = [
        "### Re-solve with a new forecast: case33bw, 48 x 30 min (persistent highspy instance)",
        "",
        "Dispatcher with successive loss linearisation and `pandapower.runpp` checks of "
        f"the baseline and the result in every period; {len(runs)} runs in one process "
        "(seconds: median (min-max); stages of the median run).",
        "",
        "| solve | seconds | rounds | build + load | LP solves | tangents | AC checks | other |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, key, secs in (("first (build + solve)", "first", first),
                             ("revised forecast (load +4 %, PV -10 %)", "revised", revised),
                             ("another day (load +15 %, PV -30 %)", "other", other)):
        s = st[f"{key}_stages"]
        idx = ("first", "revised", "other").index(key)
        ac = s["baseline_ac"] + s["ac_check"]
        rest = s["total"] - s["build"] - s["solve"] - s["cuts"] - ac
        lines.append(
            f"| {label} | {_spread(secs)} | {st['iterations'][idx]} | {s['build']:.2f} | "
            f"{s['solve']:.2f} | {s['cuts']:.2f} | {ac:.2f} | {rest:.2f} |"
        )
    lines += [
        "",
        f"Re-solve speed-up: {_med(first) / _med(revised):.1f}x (revised forecast), "
        f"{_med(first) / _med(other):.1f}x (another day). Build + load is "
        f"{100 * st['first_stages']['build'] / st['first_stages']['total']:.0f} % of the "
        "first solve.",
    ]
    return lines


# ---------------------------------------------------------------------------------------------
# machine and files




def gridopt_versions() -> dict[str, str]:
    """Versions of gridopt's side (imports its stack: call after the timed runs)."""
    import pandapower
    import pyomo
    import scipy

    import gridopt
    from gridopt.solvers.highs import highs_version

    return {"gridopt": gridopt.__version__, "highs": highs_version(),
            "numpy": np.__version__, "scipy": scipy.__version__,
            "pyomo": pyomo.__version__, "pandapower": pandapower.__version__}


def header_lines(mach: dict[str, Any]) -> list[str]:
    v = mach.get("versions") or gridopt_versions()
    return [
        TITLE,
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores (shared), load average at the start "
        f"{mach['load_average'][0]:.1f}; Python {mach['python']}, {v['highs']}, pyomo "
        f"{v['pyomo']}, pandapower {v['pandapower']}. Every run (warm-ups included), the "
        "machine and the versions: `docs/benchmarks/dispatch.json`.",
    ]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(summary: dict[str, Any]) -> str:
    """Write dispatch.md (every section the summary has) and dispatch.json; return the md."""
    summary["machine"].setdefault("versions", gridopt_versions())
    lines = header_lines(summary["machine"])
    lines += ["", *METHOD.strip().splitlines()]
    if summary.get("pegase"):
        lines += ["", *pegase_lines(summary["pegase"])]
    if summary.get("simbench"):
        lines += ["", *simbench_lines(summary["simbench"])]
    if summary.get("resolve"):
        lines += ["", *resolve_lines(summary["resolve"])]
    text = "\n".join(lines) + "\n"
    write_atomic(MD_PATH, text)
    write_atomic(JSON_PATH, json.dumps(summary, indent=1, default=str) + "\n")
    return text


def merge_simbench(simbench: list[dict[str, Any]], mach: dict[str, Any]) -> str:
    """Put a new SimBench section into the existing report and JSON, keeping the rest."""
    summary: dict[str, Any] = (json.loads(JSON_PATH.read_text()) if JSON_PATH.exists()
                               else {"machine": mach})
    mach.setdefault("versions", gridopt_versions())
    summary["simbench"] = simbench
    summary["simbench_machine"] = mach
    write_atomic(JSON_PATH, json.dumps(summary, indent=1, default=str) + "\n")
    text = MD_PATH.read_text() if MD_PATH.exists() else TITLE + "\n"
    body = "\n".join(simbench_lines(simbench)) + "\n"
    pattern = re.compile(re.escape(SIMBENCH_HEADING) + r".*?(?=^### |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    elif "\n### Re-solve" in text:
        text = text.replace("\n### Re-solve", "\n" + body + "\n### Re-solve", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    write_atomic(MD_PATH, text)
    return text
