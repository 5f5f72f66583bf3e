"""Markdown and JSON of the reconfiguration benchmark (``bench_reconfigure.py``)."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

TITLE = "## Reconfiguration: gridopt vs a pandapower branch exchange"
GRIDOPT, PEER = "gridopt", "pandapower branch exchange"


def versions() -> dict[str, str]:
    """Versions of the stack both methods use."""
    import numba
    import numpy as np
    import pandapower
    import pyomo
    import scipy

    import gridopt
    from gridopt.solvers.highs import highs_version

    return {"gridopt": gridopt.__version__, "highs": highs_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pyomo": pyomo.__version__,
            "pandapower": pandapower.__version__, "numba": numba.__version__}


def _spread(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _gap(run: dict[str, Any]) -> str:
    gap = run.get("milp_gap")
    if gap is None:
        return "-"
    return f"{100 * gap:.2g} %"


def system_rows(system: dict[str, Any]) -> list[str]:
    """Table rows of one system: one per method, medians and spread over the repeats."""
    rows = []
    for method in (GRIDOPT, PEER):
        runs = [r[method] for r in system["repeats"]]
        last = runs[-1]
        losses = sorted({round(r["losses_kw_after"], 2) for r in runs})
        opened = last["open_lines"] + [f"sw {s}" for s in last["open_switches"]]
        shown = ", ".join(map(str, opened)) if len(opened) <= 8 else f"{len(opened)} elements"
        rows.append(
            f"| {system['name']} | {method} | {last['losses_kw_before']:.2f} | "
            f"{' / '.join(f'{v:.2f}' for v in losses)} | {last['vmin_pu_after']:.4f} | {shown} "
            f"| {last['power_flows']} | {last.get('fast_power_flows', 0)} | "
            f"{last.get('milp_rounds', 0)} | {_gap(last)} | "
            f"{last.get('branch_exchange_moves', 0)} + {last['local_search_exchanges']} | "
            f"{_spread([r['seconds'] for r in runs])} |")
    return rows


def ratio_line(system: dict[str, Any]) -> str:
    """One sentence per system: time ratio and loss comparison (median over repeats)."""
    g = [r[GRIDOPT] for r in system["repeats"]]
    p = [r[PEER] for r in system["repeats"]]
    tg = statistics.median(r["seconds"] for r in g)
    tp = statistics.median(r["seconds"] for r in p)
    lg = max(r["losses_kw_after"] for r in g)
    lp = min(r["losses_kw_after"] for r in p)
    cmp = ("lower" if lg < lp * (1 - 1e-6) else "equal" if lg <= lp * (1 + 1e-6) else "HIGHER")
    return (f"* {system['name']}: gridopt {tg:.2f} s vs {tp:.2f} s ({tp / tg:.1f}x faster); "
            f"losses {lg:.2f} kW vs {lp:.2f} kW ({cmp}); gridopt's MILP gap "
            f"{_gap(g[-1])} after {g[-1].get('milp_rounds', 0)} round(s) in a "
            f"{g[-1].get('milp_time_limit_s') or 0:.2g} s budget.")


def markdown(report: dict[str, Any]) -> str:
    mach, v = report["machine"], report["machine"]["versions"]
    lines = [
        TITLE,
        "",
        "`benchmarks/bench_reconfigure.py` (command: "
        f"`{' '.join(['bench_reconfigure.py', *report['command']])}`). gridopt = "
        "`gridopt.workflows.reconfigure.reconfigure` with its defaults: fast heuristics on its "
        "own fast power flow (loop-by-loop branch exchange from the present configuration, "
        "sequential opening from the meshed network, iterated exchange), the MILP (LinDistFlow, "
        "HiGHS 1 thread) warm-started with their answer within a time budget scaled to the "
        "network, then an AC branch exchange with `pandapower.runpp` screened by the fast flow. "
        "Peer = best-improvement branch exchange from the present configuration, every "
        "neighbour judged by `pandapower.runpp` (numba), the way pandapower users write it "
        "(`branch_exchange_heuristic`); both use the same AC evaluator and report its losses.",
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores shared with other sessions, load "
        f"average {mach['load_average'][0]:.1f} at the start and "
        f"{mach['load_average_end'][0]:.1f} at the end; Python {mach['python']}, "
        f"{v['highs']}, pyomo {v['pyomo']}, pandapower {v['pandapower']}, numba {v['numba']} "
        f"(JIT warmed by a power flow and one untimed run of each method per system). "
        f"{report['repeats']} repeat(s) per method, the order alternated; times are end to end "
        "(model, MILP, every power flow, the reconfigured copy of the net): median (min-max). "
        "Every run: `docs/benchmarks/reconfigure.json`.",
        "",
        "`pf` = `pandapower.runpp` calls; `fast pf` = gridopt's own fast power flows; `gap` = "
        "relative MIP gap HiGHS proved (`-`: no MILP); `moves` = fast branch-exchange moves + "
        "AC exchanges.",
        "",
        "| network | method | losses before kW | losses after kW | vmin after | open | pf "
        "| fast pf | rounds | gap | moves | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for system in report["systems"]:
        lines += system_rows(system)
    lines += [""]
    lines += [ratio_line(s) for s in report["systems"]]
    lines += ["", *report.get("notes", []), ""]
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
