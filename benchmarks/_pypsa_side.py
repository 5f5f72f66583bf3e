"""PyPSA side of the dispatch benchmark; runs inside the separate PyPSA venv (not gridopt's).

Reads the problem exported by ``bench_dispatch.py`` (an ``.npz`` of plain arrays), builds the
PyPSA network from it (no ``import_from_pandapower_net``: see the pitfalls in
``docs/benchmarks/dispatch.md``), solves the linear OPF with HiGHS and writes a JSON result:
stage times, HiGHS's own run time, peak memory, objective, model sizes as HiGHS received them,
and the branch flows PyPSA's own linear power flow (``Network.lpf``) gives for gridopt's
injections of the first period (the "same DC power flow" check).

The optimisation is the body of ``n.optimize(solver_name="highs", io_api="direct",
solver_options={"threads": 1}, log_to_console=False)`` in PyPSA 1.4, called step by step so
that each step is timed on its own (same calls, same order, same arguments):

1. ``network``: the network from the arrays;
2. ``create_model``: ``n.consistency_check(strict=...)`` + ``n.optimize.create_model``
   (linopy model; ``include_objective_constant=False``, PyPSA's advice and 2.0 default);
3. ``solve``: linopy's ``Model.solve(solver_name="highs", io_api="direct", threads=1,
   log_to_console=False)``: the linopy model handed to ``highspy`` in memory (no LP file),
   ``Highs.run()``, the solution read back onto the linopy model; ``highs_run`` is HiGHS's
   own run time (``Highs.getRunTime()`` of linopy's ``solver_model``), the rest of the step
   is linopy's hand-over both ways;
4. ``write_back``: ``assign_solution``, ``assign_duals``, ``post_processing`` (PyPSA's
   solution onto the network's time series).

``io_api="direct"`` is the interface PyPSA's maintainers point to for speed with HiGHS and
Gurobi (PyPSA-Eur's default config: "Increases performance but only supported for the highs
and gurobi solvers"); one thread as on gridopt's side.

Usage: ``python _pypsa_side.py problem.npz result.json``. Imports nothing from gridopt.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time

import numpy as np
import pandas as pd
import pypsa


def build_network(d: dict[str, np.ndarray]) -> pypsa.Network:
    """The multi-period linear OPF of the exported arrays as a PyPSA network.

    Buses at ``v_nom = 1 kV`` so that PyPSA's per unit (1 MVA base, ``x_pu = x / v_nom^2``)
    is the exported ``x_eff_ohm`` (series reactance times tap ratio over ``S_base``); every
    branch (line or transformer) is a ``Line`` with the exported rating (``s_nom``; unlimited
    branches get a rating they cannot reach). A grid connection with non-zero limits (the
    SimBench part) is a generator at the slack bus that can run negative (export), with the
    time-varying price as ``marginal_cost``.
    """
    n_t = int(d["n_periods"])
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(n_t, name="snapshot"))
    # float first: pandas 3 refuses to write 0.25 into the default integer weightings
    n.snapshot_weightings = n.snapshot_weightings.astype(float)
    n.snapshot_weightings.loc[:, :] = float(d["period_hours"])
    n.add("Carrier", "AC")  # the carrier of buses and lines: declared, as PyPSA asks
    buses = [f"b{i}" for i in range(int(d["n_bus"]))]
    n.add("Bus", buses, v_nom=1.0)
    nl = len(d["branch_from"])
    rate = np.where(np.isfinite(d["rate_mva"]), d["rate_mva"], 1e7)
    n.add(
        "Line",
        [f"l{k}" for k in range(nl)],
        bus0=[buses[i] for i in d["branch_from"]],
        bus1=[buses[i] for i in d["branch_to"]],
        x=d["x_eff_ohm"],
        r=0.0,
        s_nom=rate,
    )
    ng = len(d["gen_bus"])
    if ng:
        pmax = d["gen_pmax_mw"]
        n.add(
            "Generator",
            [f"g{k}" for k in range(ng)],
            bus=[buses[i] for i in d["gen_bus"]],
            p_nom=pmax,
            p_min_pu=d["gen_pmin_mw"] / pmax,
            p_max_pu=1.0,
            marginal_cost=d["gen_cost_per_mwh"],
        )
    p_import = float(d.get("grid_import_max_mw", 0.0))
    p_export = float(d.get("grid_export_max_mw", 0.0))
    if p_import > 0 or p_export > 0:
        # the connection to the upstream grid: imports and exports at one time-varying price
        p_nom = max(p_import, p_export)
        n.add(
            "Generator",
            "grid",
            bus=buses[int(d["slack_bus"])],
            p_nom=p_nom,
            p_min_pu=-p_export / p_nom,
            p_max_pu=p_import / p_nom,
            marginal_cost=pd.Series(d["grid_price_per_mwh"], index=n.snapshots),
        )
    load_bus = d["load_bus"]
    n.add(
        "Load",
        [f"d{k}" for k in range(len(load_bus))],
        bus=[buses[i] for i in load_bus],
        p_set=pd.DataFrame(
            d["load_p_mw"], index=n.snapshots, columns=[f"d{k}" for k in range(len(load_bus))]
        ),
    )
    ns = len(d["storage_bus"])
    if ns:
        p_nom = d["storage_p_mw"]
        n.add(
            "StorageUnit",
            [f"s{k}" for k in range(ns)],
            bus=[buses[i] for i in d["storage_bus"]],
            p_nom=p_nom,
            max_hours=d["storage_e_mwh"] / p_nom,
            efficiency_store=d["storage_eta_c"],
            efficiency_dispatch=d["storage_eta_d"],
            state_of_charge_initial=d["storage_e0_mwh"],
            cyclic_state_of_charge=False,
            standing_loss=0.0,
        )
    return n


def dc_flows(d: dict[str, np.ndarray]) -> np.ndarray:
    """Branch flows of PyPSA's ``lpf`` for gridopt's net injections of the first period."""
    n = pypsa.Network()
    n.set_snapshots([0])
    buses = [f"b{i}" for i in range(int(d["n_bus"]))]
    n.add("Bus", buses, v_nom=1.0)
    nl = len(d["branch_from"])
    n.add(
        "Line",
        [f"l{k}" for k in range(nl)],
        bus0=[buses[i] for i in d["branch_from"]],
        bus1=[buses[i] for i in d["branch_to"]],
        x=d["x_eff_ohm"],
        r=0.0,
    )
    inject = d["check_injection_mw"]
    slack = int(d["slack_bus"])
    n.add("Generator", "slack", bus=buses[slack], control="Slack")
    others = [i for i in range(len(buses)) if i != slack]
    n.add("Load", [f"x{i}" for i in others], bus=[buses[i] for i in others],
          p_set=-inject[others])
    n.lpf()
    return np.asarray(n.lines_t.p0.loc[0, [f"l{k}" for k in range(nl)]].to_numpy(), dtype=float)


#: The checks ``n.optimize()`` makes before building the model (PyPSA 1.4).
STRICT_CHECKS = ["unknown_buses", "maintenance", "phase_shift_bounds"]


def optimize_by_step(n: pypsa.Network) -> dict[str, float | str | int]:
    """``n.optimize(solver_name="highs", io_api="direct", ...)`` with each step timed."""
    t0 = time.perf_counter()
    n.consistency_check(strict=STRICT_CHECKS)
    # False: PyPSA 2.0's default, recommended for conditioning (no constant here: nothing
    # is extendable, so the objective is the same either way)
    m = n.optimize.create_model(consistency_check=False, include_objective_constant=False)
    t1 = time.perf_counter()
    status, condition = m.solve(
        solver_name="highs", io_api="direct", threads=1, log_to_console=False
    )
    t2 = time.perf_counter()
    if status != "ok":
        raise RuntimeError(f"PyPSA/HiGHS: {status} {condition}")
    n.optimize.assign_solution()
    n.optimize.assign_duals(False)
    n.optimize.post_processing()
    t3 = time.perf_counter()
    h = m.solver_model
    info = h.getInfo()
    iterations = sum(max(int(getattr(info, k, 0)), 0) for k in (
        "simplex_iteration_count", "ipm_iteration_count", "pdlp_iteration_count"))
    return {
        "status": str(status),
        "condition": str(condition),
        "model_seconds": t1 - t0,
        "solve_seconds": t2 - t1,
        "highs_run_seconds": float(h.getRunTime()),
        "writeback_seconds": t3 - t2,
        "iterations": iterations,
        "n_variables": int(h.getNumCol()),
        "n_constraints": int(h.getNumRow()),
        "n_nonzeros": int(h.getNumNz()),
        "linopy_nvars": int(m.nvars),
        "linopy_ncons": int(m.ncons),
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    pypsa.options.api.legacy_string_dtype = True  # today's behaviour, stated (no warning)
    src, out = sys.argv[1], sys.argv[2]
    with np.load(src) as f:
        d = {k: f[k] for k in f.files}
    t0 = time.perf_counter()
    n = build_network(d)
    t1 = time.perf_counter()
    steps = optimize_by_step(n)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    flows = dc_flows(d)
    result = {
        **steps,
        "objective": float(n.objective),
        "network_seconds": t1 - t0,
        "total_seconds": t2 - t0,
        "peak_rss_mb": peak,
        "check_flows_mw": flows.tolist(),
        "versions": {
            "pypsa": pypsa.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "linopy": __import__("linopy").__version__,
            "highspy": __import__("importlib.metadata").metadata.version("highspy"),
        },
    }
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
