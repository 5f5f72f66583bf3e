"""Optimal power flow workflow: load a network, solve, check with an AC power flow, write.

Plain typed functions used by the CLI (``gridopt opf``) and by notebooks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pandapower import pandapowerNet

from gridopt.ingest.io import write_netcdf
from gridopt.network.load import LoadedNetwork, load_network
from gridopt.opf.ac import ACOptions, solve_ac_opf
from gridopt.opf.dc import DCOptions, solve_dc_opf
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.validate.acpf import ACCheck, CheckTolerances, check_ac

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OPFRunOptions:
    """What to solve and how (picklable).

    Attributes
    ----------
    formulation
        AC (Ipopt) or DC (HiGHS).
    objective
        Generation cost ($/h) or total branch losses (MW; AC only).
    ac_check
        Check an optimal AC result with an independent pandapower power flow. The check never
        discards the solution: its outcome is ``OPFRun.check.status``.
    check_tolerances
        What the AC check accepts as agreement (mismatch, voltage magnitude and angle).
    ac, dc
        Solver options of each formulation.
    """

    formulation: Formulation = Formulation.AC
    objective: Objective = Objective.COST
    ac_check: bool = True
    check_tolerances: CheckTolerances = field(default_factory=CheckTolerances)
    ac: ACOptions = field(default_factory=ACOptions)
    dc: DCOptions = field(default_factory=DCOptions)


@dataclass(frozen=True, eq=False)
class OPFRun:
    """A solved OPF with its power-flow check and timings (seconds by stage).

    ``check`` is None when no check ran (``--no-check``, a DC formulation, or a solution that
    is not optimal); otherwise its ``status`` says whether pandapower confirmed the solution.
    """

    loaded: LoadedNetwork
    solution: OPFSolution
    check: ACCheck | None
    seconds: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-ready summary (the fields of ``gridopt opf --json``)."""
        sol = self.solution
        net = sol.network
        ok = sol.status.ok
        out: dict[str, Any] = {
            "case": self.loaded.name,
            "formulation": sol.formulation.value,
            "objective_kind": sol.objective_kind.value,
            "status": sol.status.value,
            "solver": sol.report.solver,
            "solver_message": sol.report.message,
            "objective": sol.objective if ok else None,
            "objective_units": "$/h" if sol.objective_kind is Objective.COST else "MW",
            "generation_cost_usd_per_h": sol.generation_cost if ok else None,
            "losses_mw": sol.losses_mw if ok else None,
            "vmin_pu": float(np.min(sol.vm_pu)) if ok else None,
            "vmax_pu": float(np.max(sol.vm_pu)) if ok else None,
            "max_mismatch_mva": None,
            "ac_check_status": None,
            "iterations": sol.report.iterations,
            "solve_seconds": sol.report.solve_seconds,
            "total_seconds": self.seconds.get("total", float("nan")),
            "seconds_by_stage": dict(self.seconds),
            "buses": net.n_bus,
            "generators": net.n_gen,
            "branches": net.n_branch,
        }
        if sol.formulation is Formulation.DC:
            out["losses_mw"] = 0.0 if ok else None
        for key in ("callback_seconds", "screening_rounds", "flow_limits_imposed"):
            if key in sol.extra:
                out[key] = sol.extra[key]
        if self.check is not None:
            out["max_mismatch_mva"] = self.check.max_mismatch_mva
            out["ac_check_status"] = self.check.status.value
            out["ac_check"] = self.check.to_dict()
        if net.notes:
            out["notes"] = list(net.notes)
        return out


def run_opf(
    spec: str | Path | pandapowerNet | LoadedNetwork,
    options: OPFRunOptions | None = None,
) -> OPFRun:
    """Load a network, solve its OPF and check the result with pandapower's AC power flow.

    Parameters
    ----------
    spec
        Network name, ``.m``/``.json`` path, ``simbench:<code>``, pandapower net, or an already
        loaded network.
    options
        Formulation, objective and solver options.

    Returns
    -------
    OPFRun
        Solution (also when not optimal: see ``solution.status``), the power-flow check of an
        optimal AC solution, and seconds by stage (``load``, ``solve``, ``check``, ``total``).
        A check that does not pass (``run.check.passed`` false) keeps the solution; its
        ``status``, ``message`` and ``element`` say what went wrong.

    Raises
    ------
    InputError
        For a network that cannot be loaded or an objective the formulation does not support.
    """
    options = options or OPFRunOptions()
    t0 = time.perf_counter()
    loaded = spec if isinstance(spec, LoadedNetwork) else load_network(spec)
    network = loaded.network
    t1 = time.perf_counter()
    if options.formulation is Formulation.AC:
        solution = solve_ac_opf(network, options.objective, options.ac)
    else:
        solution = solve_dc_opf(network, options.objective, options.dc)
    t2 = time.perf_counter()
    check = None
    if options.ac_check and options.formulation is Formulation.AC and solution.status.ok:
        check = check_ac(loaded, solution, options.check_tolerances)
    t3 = time.perf_counter()
    seconds = {"load": t1 - t0, "solve": t2 - t1, "check": t3 - t2, "total": t3 - t0}
    logger.info("OPF of %s: %s in %.3f s", loaded.name, solution.status.value, t2 - t1)
    return OPFRun(loaded=loaded, solution=solution, check=check, seconds=seconds)


def write_opf_result(run: OPFRun, path: str | Path) -> Path:
    """Write the solution Dataset (with the check's figures as attributes) atomically to NetCDF.

    The check's figures become ``ac_check_<field>`` attributes (``ac_check_status`` is
    ``passed``, ``failed``, ``not_converged`` or ``error``; NaN figures are left out).
    """
    ds = run.solution.to_dataset()
    if run.check is not None:
        for key, value in run.check.to_dict().items():
            if isinstance(value, bool):
                value = int(value)
            elif isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            if isinstance(value, int | float | str):
                ds.attrs[f"ac_check_{key}"] = value
    return write_netcdf(ds, path)


__all__ = [
    "CheckTolerances",
    "Formulation",
    "OPFRunOptions",
    "Objective",
    "run_opf",
    "write_opf_result",
]
