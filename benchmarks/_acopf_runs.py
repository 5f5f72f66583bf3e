"""Single timed runs of the AC-OPF benchmark: gridopt and pandapower ``runopp`` (PIPS).

Each function times one solve and returns a flat record (JSON-ready); ``bench_acopf.py``
interleaves them, repeats them and writes the report.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PGLIB = REPO / "data" / "pglib"

Record = dict[str, Any]


def case_path(case: str) -> Path:
    """Path of a PGLib case file in ``data/pglib``."""
    return PGLIB / f"{case}.m"


def gridopt_run(case: str, screening: bool, start: str = "auto",
                ipopt_timing: bool = False) -> Record:
    """Read the .m file, build the network and solve the AC-OPF: one timed interval."""
    from gridopt.network.arrays import build_network
    from gridopt.network.matpower import read_matpower
    from gridopt.opf.ac import ACOptions, solve_ac_opf
    from gridopt.opf.ac_start import ACStart

    options = ACOptions(limit_screening=screening, start=ACStart(start), ipopt_timing=ipopt_timing)
    t0 = time.perf_counter()
    network = build_network(read_matpower(case_path(case)))
    sol = solve_ac_opf(network, options=options)
    seconds = time.perf_counter() - t0
    record: Record = {
        "tool": "gridopt",
        "mode": "screened" if screening else "all limits",
        "start": start,
        "seconds": seconds,
        "solve_seconds": sol.report.solve_seconds,
        "iterations": sol.report.iterations,
        "objective": sol.objective,
        "status": sol.status.value,
        "message": sol.report.message,
        "converged": sol.status.ok,
    }
    record.update({k: float(v) for k, v in sol.extra.items()})
    return record


def gridopt_previous_start(case: str, screening: bool, load_factor: float) -> Record:
    """Solve the case, scale every load by ``load_factor`` and re-solve from the solution.

    Times only the second solve (the "next hour" started from this hour's optimum).
    """
    from gridopt.network.arrays import build_network
    from gridopt.network.matpower import read_matpower
    from gridopt.opf.ac import ACOptions, solve_ac_opf

    options = ACOptions(limit_screening=screening)
    network = build_network(read_matpower(case_path(case)))
    base = solve_ac_opf(network, options=options)
    later = dataclasses.replace(
        network, pd_pu=network.pd_pu * load_factor, qd_pu=network.qd_pu * load_factor
    )
    t0 = time.perf_counter()
    sol = solve_ac_opf(later, options=options, initial=base)
    seconds = time.perf_counter() - t0
    return {
        "tool": "gridopt", "mode": "screened" if screening else "all limits",
        "start": f"previous (loads x{load_factor:g})", "seconds": seconds,
        "iterations": sol.report.iterations, "objective": sol.objective,
        "status": sol.status.value, "converged": sol.status.ok,
    }


def gridopt_scaled_flat(case: str, screening: bool, load_factor: float, start: str) -> Record:
    """The scaled-load problem of :func:`gridopt_previous_start` from ``start`` (reference)."""
    from gridopt.network.arrays import build_network
    from gridopt.network.matpower import read_matpower
    from gridopt.opf.ac import ACOptions, solve_ac_opf
    from gridopt.opf.ac_start import ACStart

    network = build_network(read_matpower(case_path(case)))
    later = dataclasses.replace(
        network, pd_pu=network.pd_pu * load_factor, qd_pu=network.qd_pu * load_factor
    )
    t0 = time.perf_counter()
    sol = solve_ac_opf(later, options=ACOptions(limit_screening=screening, start=ACStart(start)))
    seconds = time.perf_counter() - t0
    return {
        "tool": "gridopt", "mode": "screened" if screening else "all limits",
        "start": f"{start} (loads x{load_factor:g})", "seconds": seconds,
        "iterations": sol.report.iterations, "objective": sol.objective,
        "status": sol.status.value, "converged": sol.status.ok,
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


class PandapowerCase:
    """A PGLib case as a pandapower net (NOTES.md fixes), solved by ``runopp`` on copies."""

    def __init__(self, case: str) -> None:
        import pandapower as pp

        from gridopt.network.case_to_pandapower import pandapower_from_case
        from gridopt.network.matpower import read_matpower

        _scipy_h_shim()
        net, _ = pandapower_from_case(read_matpower(case_path(case)))
        # pandapower's OPF limits a line only when it has max_loading_percent; the converter
        # stores the rating as max_i_ka (rate_a / (sqrt(3) vn)), so 100 % is rate_a at 1 pu.
        net.line["max_loading_percent"] = 100.0
        self._json = pp.to_json(net)

    def run(self, flow_lim: int = 0) -> Record:
        """One ``runopp`` (flat start, PIPS and numba defaults) on a fresh copy; only runopp
        is timed.

        ``flow_lim`` 0 limits |S| (PGLib's problem), 2 current (pandapower's default).
        """
        import pandapower as pp

        net = pp.from_json_string(self._json)
        objective, converged, error = float("nan"), False, ""
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pp.runopp(net, calculate_voltage_angles=True, init="flat", OPF_FLOW_LIM=flow_lim)
            converged = bool(net.OPF_converged)
            objective = float(net.res_cost)
        except pp.OPFNotConverged:
            converged = False
        except Exception as exc:  # a peer failure is a result, reported as such
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        return {
            "tool": "pandapower",
            "mode": "S limits" if flow_lim == 0 else "I limits",
            "seconds": seconds,
            "objective": objective,
            "status": "optimal" if converged else "did not converge",
            "converged": converged,
            "message": error,
        }
