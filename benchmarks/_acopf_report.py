"""Tables of the AC-OPF benchmark (``docs/benchmarks/acopf.md``) from its raw runs."""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from _acopf_runs import PGLIB, Record


def baseline() -> dict[str, tuple[float, str]]:
    """AC objective and PowerModels time of each case from data/pglib/BASELINE.md."""
    out = {}
    for line in (PGLIB / "BASELINE.md").read_text().splitlines():
        m = re.match(
            r"\|\s*(pglib_\w+)\s*\|[^|]*\|[^|]*\|\s*([0-9.e+]+)\s*\|\s*([^|]+?)\s*\|", line
        )
        if m:
            out[m.group(1)] = (float(m.group(2)), m.group(3))
    return out


def machine() -> dict[str, Any]:
    """CPU, cores, memory and the 1-minute load average now."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = float("nan")
    try:
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "load_average_1min": os.getloadavg()[0]}


def versions() -> dict[str, str]:
    """Versions of Python, gridopt, Ipopt and the peer."""
    import cyipopt
    import pandapower
    import scipy

    import gridopt

    return {
        "python": platform.python_version(), "gridopt": gridopt.__version__,
        "ipopt": ".".join(map(str, cyipopt.IPOPT_VERSION)) + " (MUMPS, cyipopt-wheels)",
        "pandapower": pandapower.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
    }


def select(runs: Iterable[Record], **match: Any) -> list[Record]:
    """Timed runs (no warm-up) with the given field values."""
    return [r for r in runs if not r.get("warmup") and all(r.get(k) == v for k, v in match.items())]


def spread(records: list[Record], key: str = "seconds") -> str:
    """``min / median / max`` of ``key`` (one value alone when there is one run)."""
    vals = [float(r[key]) for r in records]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.3g}"
    return f"{min(vals):.3g} / {statistics.median(vals):.3g} / {max(vals):.3g}"


def median(records: list[Record], key: str = "seconds") -> float:
    return statistics.median(float(r[key]) for r in records) if records else float("nan")


def _rel(obj: float, ref: float) -> str:
    return f"{(obj - ref) / ref:+.1e}" if np.isfinite(obj) else "-"


def _share(rec: Record | None) -> str:
    if rec is None or not rec.get("ipopt_total_seconds"):
        return "-"
    ipopt = rec["ipopt_function_eval_seconds"] / rec["ipopt_total_seconds"]
    python = rec["callback_seconds"] / rec["ipopt_total_seconds"]
    return f"{ipopt * 100:.0f}% ({python * 100:.0f}%)"


def comparison_table(runs: list[Record], cases: list[str], ref: dict[str, tuple[float, str]]
                     ) -> tuple[list[str], dict[str, float]]:
    """gridopt (screened, all limits) against pandapower on ``cases``; speed-ups by case."""
    lines = [
        "| case | gridopt s (screened) | it. | rounds | gridopt s (all limits) | it. "
        "| objective rel. to BASELINE | pandapower runopp s (S limits) | pandapower objective "
        "rel. | speed-up screened / all limits | callback share, Ipopt stats (Python timer): "
        "screened; all limits | PGLib/PowerModels s (ma27) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios: dict[str, float] = {}
    for case in cases:
        g = select(runs, case=case, tool="gridopt", mode="screened", start="auto")
        a = select(runs, case=case, tool="gridopt", mode="all limits", start="auto")
        p = select(runs, case=case, tool="pandapower", mode="S limits")
        stats = {r["mode"]: r for r in runs if r["case"] == case and r.get("ipopt_stats_run")}
        ref_obj, ref_time = ref[case]
        if p and all(r["converged"] for r in p):
            pp_cell = f"{spread(p)} ({len(p)} runs)"
            pp_rel = _rel(p[-1]["objective"], ref_obj)
            ratio = median(p) / median(g)
            ratios[case] = ratio
            ratio_cell = f"{ratio:.1f}x / {median(p) / median(a):.1f}x"
        else:
            worst = [r for r in p if not r["converged"]]
            pp_cell = (f"did not converge ({spread(worst)} s, {len(worst)} of {len(p)} runs)"
                       if p else "not run")
            pp_rel, ratio_cell = "-", "no ratio"
        lines.append(
            f"| {case} | {spread(g)} | {g[-1]['iterations']} | {int(g[-1]['screening_rounds'])} "
            f"| {spread(a)} | {a[-1]['iterations']} | {_rel(g[-1]['objective'], ref_obj)} "
            f"| {pp_cell} | {pp_rel} | {ratio_cell} "
            f"| {_share(stats.get('screened'))}; {_share(stats.get('all limits'))} | {ref_time} |"
        )
    return lines, ratios


def looser_table(runs: list[Record], ref: dict[str, tuple[float, str]]) -> list[str]:
    """pandapower with current limits where it failed with |S| limits (no ratio)."""
    i_runs = select(runs, tool="pandapower", mode="I limits")
    if not i_runs:
        return []
    lines = [
        "pandapower with its default current limits (`OPF_FLOW_LIM=2`), run once where PIPS did "
        "not converge with |S| limits: a different, looser problem (above 1 pu voltage a current "
        "limit allows more than rate_a MVA), so no speed-up is given.",
        "",
        "| case | pandapower runopp s (I limits) | status | objective rel. to BASELINE |",
        "|---|---|---|---|",
    ]
    for r in i_runs:
        lines.append(f"| {r['case']} | {r['seconds']:.3g} | {r['status']} "
                     f"| {_rel(r['objective'], ref[r['case']][0])} |")
    return [*lines, ""]


def start_table(runs: list[Record], cases: list[str], ref: dict[str, tuple[float, str]],
                starts: list[str]) -> list[str]:
    """Iterations and seconds of every start point, screened and with all limits."""
    lines = [
        "| case | start | iterations, screened | s, screened (min / med / max) "
        "| iterations, all limits | s, all limits (min / med / max) | objective rel. |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        ref_obj = ref[case][0]
        for start in starts:
            s = select(runs, case=case, start=start, mode="screened", study=True)
            a = select(runs, case=case, start=start, mode="all limits", study=True)
            if not s or not a:
                continue
            it_s = "/".join(sorted({str(r["iterations"]) for r in s}))
            it_a = "/".join(sorted({str(r["iterations"]) for r in a}))
            ok = all(r["converged"] for r in s + a)
            objective = _rel(s[-1]["objective"], ref_obj) if "loads" not in start else "(scaled)"
            lines.append(f"| {case} | {start} | {it_s} | {spread(s)} | {it_a} | {spread(a)} "
                         f"| {objective}{'' if ok else ' (not converged)'} |")
    totals = []
    for start in starts:
        parts = []
        for mode in ("screened", "all limits"):
            meds = [median(select(runs, case=c, start=start, mode=mode, study=True))
                    for c in cases]
            its = [select(runs, case=c, start=start, mode=mode, study=True) for c in cases]
            n_it = sum(r[-1]["iterations"] for r in its if r)
            parts.append(f"{mode} {np.nansum(meds):.3g} s, {n_it} iterations")
        totals.append(f"{start}: {'; '.join(parts)}")
    return [*lines, "", "Sums over these cases (medians): " + " | ".join(totals) + "."]
