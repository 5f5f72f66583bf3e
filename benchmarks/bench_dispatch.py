"""Dispatch benchmarks: gridopt vs PyPSA on a multi-period linear OPF, and the warm re-solve.

Two parts (both write ``docs/benchmarks/dispatch.md``):

1. **Multi-period lossless DC OPF, gridopt vs PyPSA** on pandapower's ``case1354pegase`` over
   24 and 96 hourly periods: line ratings from the case (``sqrt(3) max_i_ka vn_kv``; the 64
   transformers with the ``sn_mva = 99.999`` "no limit" placeholder left unlimited, lines with
   ``max_i_ka = 99999`` too), linear generator costs ``c1`` from PGLib's
   ``pglib_opf_case1354_pegase`` (pandapower's copy of the case has the placeholder cost 1 for
   every unit, which makes the optimum degenerate), loads scaled by a daily shape, and ten
   batteries (200 MW / 800 MWh, 95 % each way) so that periods are coupled. gridopt builds the
   LP from the pandapower net with :func:`gridopt.opf.dispatch.matrix.solve_dc_dispatch_matrices`
   (sparse matrices straight to ``highspy``: a Pyomo model of ~700 000 rows would take minutes
   to build); PyPSA (linopy + HiGHS) runs in its own virtual environment
   (``.bench-venvs/pypsa``, created here on first use: installing PyPSA beside gridopt upgrades
   pandas to 3.x) through ``benchmarks/_pypsa_side.py``, which builds the network from the
   exported arrays (not ``import_from_pandapower_net``). Both on one HiGHS thread; each side in
   a fresh process (peak memory is that process's maximum resident set). Timed: gridopt from
   the pandapower net and forecast to the solution; PyPSA from the arrays to the solution.
   Before comparing, both models' DC power flows are checked on the same injections.

2. **Multi-period lossless DC OPF on a SimBench MV grid, gridopt vs PyPSA** (``--simbench``):
   ``1-MV-rural--0-sw`` as SimBench delivers it (radial, its six open line switches respected;
   the two closed bus-bus switches fused), one day of its own profiles (the first 96
   quarter-hours of the SimBench year): loads and static generators (uncontrolled, netted into
   the bus demand), an import/export price at the ext_grid of 60 EUR/MWh times the daily shape
   below (each hour's price held for its four quarter-hours; no generators: the connection is
   the only controllable source besides storage), two batteries (2 MW / 8 MWh, 95 % each way)
   at the buses with most load so that periods are coupled. Same LP, same export to PyPSA.
   ``--only-simbench`` runs just this part and merges its section into the existing
   ``docs/benchmarks/dispatch.md``, keeping the other sections.

3. **Re-solve with a new forecast** (Pyomo + persistent HiGHS, successive loss
   linearisation, AC check) on case33bw with three PV systems and a battery, 48 x 30 min: first
   solve (build + load + solve) vs re-solves with a revised forecast of the same day and with a
   very different day.

Usage: ``python benchmarks/bench_dispatch.py [--repeats 3] [--periods 24 96] [--skip-pypsa]
[--skip-pegase] [--skip-resolve] [--simbench | --only-simbench]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".bench-venvs" / "pypsa"
PGLIB_CASE = REPO / "data" / "pglib" / "pglib_opf_case1354_pegase.m"

#: Hourly load factors of a working day (peak 1.0 at 18:00), and day factors for 96 periods.
DAILY_SHAPE = np.array([
    0.72, 0.69, 0.67, 0.66, 0.67, 0.71, 0.80, 0.88, 0.93, 0.95, 0.96, 0.96,
    0.95, 0.94, 0.93, 0.93, 0.94, 0.97, 1.00, 0.99, 0.95, 0.89, 0.82, 0.76,
])
DAY_FACTORS = (1.0, 0.98, 1.02, 0.95)
N_STORAGE = 10
NOTES_PEGASE = """
Notes: gridopt's "build model" is `grid_from_pandapower` + forecast placement + matrix assembly +
passing the matrices to HiGHS; PyPSA's is building the network from the arrays + linopy's
`create_model`. PyPSA's "solve" includes linopy writing the problem for HiGHS and reading the
solution back. gridopt's LP has more columns (bus angles; two slacks per rated branch and period,
because its thermal limits are soft) and fewer rows (PyPSA writes a row per cycle and per line
limit); HiGHS's own time is the larger part on both sides. The problem: the pitfalls of
`import_from_pandapower_net` listed in issue 4 are avoided by exporting arrays from gridopt's
`DispatchGrid` (series reactance times tap over S_base as PyPSA `Line.x` at `v_nom = 1 kV`,
ratings in MVA with `sqrt(3)`, parallel lines, in-service elements and open switches already
resolved); transformer phase shifts (at most 0.09 degrees here) are left out by both.
SimBench MV grid with its own profiles: next section.
"""
PLACEHOLDER_SN_MVA = 99.999
SIMBENCH_CODE = "1-MV-rural--0-sw"
SIMBENCH_PERIODS = 96
SIMBENCH_PRICE_PER_MWH = 60.0
SIMBENCH_HEADING = "### Multi-period lossless DC OPF: SimBench MV grid, gridopt vs PyPSA"
NOTES_SIMBENCH = """
Notes: the same LP family as above, on a radial MV feeder over one day of 15-min
periods: the grid connection (PyPSA: a generator at the slack bus with `p_min_pu = -1` and the
time-varying price as `marginal_cost`) imports and exports at one price, so the objective is
the day's net purchase cost (negative: the feeder exports its wind and PV surplus). The
SimBench timing starts from the pandapower net and the profiles already loaded (reading the
SimBench CSVs, ~7 s, is left out on both sides). The HV/MV transformers' 150 degree shift is
left out by both (two parallel units with the same shift: no flow changes). At this size PyPSA
spends most of its time on fixed costs: building the network and linopy's model.
"""


# ---------------------------------------------------------------------------------------------
# the problem


def pegase_problem(n_periods: int) -> tuple[Any, Any, Any]:
    """pandapower net (placeholder ratings lifted), gridopt assets and forecast of the case."""
    import pandapower.networks as pn
    import pandas as pd
    import xarray as xr

    from gridopt.network.assets import Assets, Generator, GridConnection, Storage
    from gridopt.network.matpower import read_matpower

    net = pn.case1354pegase()
    placeholder = np.isclose(net.trafo.sn_mva.astype(float), PLACEHOLDER_SN_MVA)
    net.trafo["max_loading_percent"] = np.where(placeholder, np.inf, 100.0)
    # costs: PGLib's c1 (its c2 are all 0) of the same unit, matched by bus position (both
    # cases keep MATPOWER's bus order) and order at the bus, checked on pmax
    case = read_matpower(PGLIB_CASE)
    by_bus: dict[int, list[int]] = {}
    for k, b in enumerate(case.gen_bus):
        by_bus.setdefault(int(b), []).append(k)
    units: list[tuple[str, int, float, float]] = [
        ("ext_grid", int(net.ext_grid.bus.iloc[0]), float(net.ext_grid.min_p_mw.iloc[0]),
         float(net.ext_grid.max_p_mw.iloc[0])),
    ] + [
        (f"gen {i}", int(r.bus), float(r.min_p_mw), float(r.max_p_mw))
        for i, r in net.gen.iterrows() if bool(r.in_service)
    ]
    gens = []
    for name, bus, pmin, pmax in units:
        k = by_bus[int(net.bus.index.get_loc(bus))].pop(0)
        if not np.isclose(case.pmax_mw[k], pmax, rtol=1e-6):
            raise RuntimeError(f"{name}: PGLib unit {k} has pmax {case.pmax_mw[k]}, net {pmax}")
        if pmax <= 0:
            continue
        gens.append(Generator(name, bus, pmin, pmax, cost_per_mwh=float(case.cost_c1[k])))
    loads = net.load[net.load.in_service.astype(bool)]
    p_bus = loads.groupby("bus").p_mw.sum()
    biggest = p_bus.sort_values(ascending=False).index[:N_STORAGE]
    storage = tuple(
        Storage(f"bess {b}", int(b), 200.0, 200.0, 800.0, soc_initial_percent=50.0,
                soc_final_percent=0.0)
        for b in biggest
    )
    assets = Assets(storage=storage, generator=tuple(gens),
                    grid=GridConnection(p_import_max_mw=0.0, p_export_max_mw=0.0))
    days = int(np.ceil(n_periods / 24))
    shape = np.concatenate([DAILY_SHAPE * DAY_FACTORS[d % 4] for d in range(days)])[:n_periods]
    buses = net.bus.index.to_numpy()
    p = p_bus.reindex(buses, fill_value=0.0).to_numpy()
    forecast = xr.Dataset(
        {"p_mw": (("time", "bus"), shape[:, None] * p[None, :]),
         "q_mvar": (("time", "bus"), np.zeros((n_periods, len(buses))))},
        coords={"time": pd.date_range("2024-01-15", periods=n_periods, freq="h"), "bus": buses},
    )
    return net, assets, forecast


def simbench_problem(
    code: str = SIMBENCH_CODE, n_periods: int = SIMBENCH_PERIODS
) -> tuple[Any, Any, Any]:
    """pandapower net (bus-bus switches fused), assets and one day of the grid's own profiles."""
    import pandapower.toolbox as tb
    import pandas as pd
    import simbench as sb
    import xarray as xr

    from gridopt.network.assets import Assets, GridConnection, Storage

    net = sb.get_simbench_net(code)
    profiles = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    # closed bus-bus switches join two buses into one node: fuse them (gridopt refuses them)
    while True:
        bb = net.switch[(net.switch.et == "b") & net.switch.closed.astype(bool)]
        if not len(bb):
            break
        idx, row = next(bb.iterrows())
        if int(row.element) != int(row.bus):
            tb.fuse_buses(net, int(row.bus), [int(row.element)])
        net.switch = net.switch.drop(index=idx, errors="ignore")
    buses = net.bus.index[net.bus.in_service.astype(bool)].to_numpy()

    def per_bus(table: str, column: str) -> np.ndarray:
        elements = net[table][net[table].in_service.astype(bool)]
        values = profiles[(table, column)].iloc[:n_periods][elements.index]
        frame = pd.DataFrame(values.to_numpy(), columns=elements.bus.to_numpy())
        return frame.T.groupby(level=0).sum().T.reindex(columns=buses, fill_value=0.0).to_numpy()

    load_p, load_q, sgen_p = (per_bus("load", "p_mw"), per_bus("load", "q_mvar"),
                              per_bus("sgen", "p_mw"))
    hourly = SIMBENCH_PRICE_PER_MWH * np.tile(DAILY_SHAPE, int(np.ceil(n_periods / 96)))
    price = np.repeat(hourly, 4)[:n_periods]
    biggest = buses[np.argsort(-load_p.sum(axis=0), kind="stable")[:2]]
    storage = tuple(
        Storage(f"bess {b}", int(b), 2.0, 2.0, 8.0, soc_initial_percent=50.0,
                soc_final_percent=0.0)
        for b in biggest
    )
    trafo_mva = float((net.trafo.sn_mva * net.trafo.parallel)[net.trafo.in_service].sum())
    assets = Assets(storage=storage,
                    grid=GridConnection(p_import_max_mw=trafo_mva, p_export_max_mw=trafo_mva))
    forecast = xr.Dataset(
        {"p_mw": (("time", "bus"), load_p - sgen_p),
         "q_mvar": (("time", "bus"), load_q),
         "price_per_mwh": (("time",), price)},
        coords={"time": pd.date_range("2016-01-01", periods=n_periods, freq="15min"),
                "bus": buses},
    )
    return net, assets, forecast


def benchmark_options() -> Any:
    """Objective = generation cost only (PyPSA's): no loss, cycling or curtailment terms."""
    from gridopt.opf.dispatch.options import DispatchOptions, GridModel

    return DispatchOptions(grid_model=GridModel.DC_LOSSES, loss_weight_per_mwh=0.0,
                           cycling_penalty_per_mwh=0.0, curtailment_penalty_per_mwh=0.0,
                           thermal_slack_penalty_per_mvah=1e5, threads=1)


def solve_gridopt(net: Any, assets: Any, forecast: Any, name: str) -> dict[str, Any]:
    """gridopt end to end: grid and inputs from the net and forecast, build, solve, read."""
    from gridopt.opf.dispatch.grid import grid_from_pandapower
    from gridopt.opf.dispatch.inputs import inputs_from_forecast
    from gridopt.opf.dispatch.matrix import solve_dc_dispatch_matrices
    from gridopt.opf.dispatch.model import asset_positions

    t0 = time.perf_counter()
    grid = grid_from_pandapower(net, name)
    inputs = inputs_from_forecast(forecast, grid, assets)
    positions = asset_positions(grid, assets)
    t1 = time.perf_counter()
    solved = solve_dc_dispatch_matrices(grid, assets, positions, inputs, benchmark_options())
    out = solved.outcome
    assert out.x is not None, out.report.message
    mats = solved.matrices
    flows = mats.values(out.x, "p_flow")
    s_over = float(mats.values(out.x, "s_over").max(initial=0.0))
    t3 = time.perf_counter()
    return {
        "status": out.report.status.value,
        "objective": out.objective,
        "prepare_seconds": t1 - t0,
        "build_seconds": solved.build_seconds,
        "load_seconds": out.load_seconds,
        "solve_seconds": out.report.solve_seconds,
        "total_seconds": t3 - t0,
        "max_thermal_slack_mva": s_over,
        "n_variables": len(mats.problem.cost),
        "n_constraints": int(mats.problem.a_matrix.shape[0]),
        "grid": grid,
        "inputs": inputs,
        "positions": positions,
        "flows": flows,
        "x": out.x,
        "matrices": mats,
    }


def export_problem(res: dict[str, Any], assets: Any, path: Path) -> None:
    """Write the problem (and gridopt's first-period injections) as plain arrays for PyPSA."""
    grid, inputs, pos, mats, x = (res[k] for k in ("grid", "inputs", "positions", "matrices",
                                                   "x"))
    nb = grid.n_bus
    load = inputs.p_demand_mw
    load_bus = np.flatnonzero(np.any(load != 0, axis=0))
    gens, st = assets.generator, assets.storage
    p_gen = mats.values(x, "p_gen")[0]
    p_sto = mats.values(x, "p_discharge")[0] - mats.values(x, "p_charge")[0]
    inject = -load[0].copy()
    np.add.at(inject, pos["generator"], p_gen)
    np.add.at(inject, pos["storage"], p_sto)
    inject[grid.slack_bus] += mats.values(x, "p_grid")[0, 0]
    np.savez(
        path,
        n_periods=inputs.n_periods, period_hours=inputs.period_hours, n_bus=nb,
        slack_bus=grid.slack_bus,
        branch_from=grid.branch_from, branch_to=grid.branch_to,
        x_eff_ohm=grid.x_pu * grid.tap_ratio / grid.base_mva, rate_mva=grid.rate_mva,
        gen_bus=np.array(pos["generator"]), gen_pmin_mw=np.array([g.p_min_mw for g in gens]),
        gen_pmax_mw=np.array([g.p_max_mw for g in gens]),
        gen_cost_per_mwh=np.array([g.cost_per_mwh for g in gens]),
        load_bus=load_bus, load_p_mw=load[:, load_bus],
        storage_bus=np.array(pos["storage"]),
        storage_p_mw=np.array([s.p_charge_max_mw for s in st]),
        storage_e_mwh=np.array([s.energy_capacity_mwh for s in st]),
        storage_eta_c=np.array([s.efficiency_charge for s in st]),
        storage_eta_d=np.array([s.efficiency_discharge for s in st]),
        storage_e0_mwh=np.array([s.energy_initial_mwh for s in st]),
        grid_import_max_mw=assets.grid.p_import_max_mw,
        grid_export_max_mw=assets.grid.p_export_max_mw,
        grid_price_per_mwh=inputs.price_per_mwh,
        check_injection_mw=inject,
    )


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
    if npz is not None:
        export_problem(res, assets, npz)
    keep = {k: v for k, v in res.items()
            if k not in ("grid", "inputs", "positions", "flows", "x", "matrices")}
    keep["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    keep["check_flows_mw"] = res["flows"][0].tolist()
    keep["imports_rss_mb"] = imports_rss_mb
    keep["n_bus"] = res["grid"].n_bus
    keep["n_branch"] = res["grid"].n_branch
    out.write_text(json.dumps(keep))


def ensure_pypsa_venv() -> Path:
    """Create ``.bench-venvs/pypsa`` with PyPSA and highspy unless it exists."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "pypsa", "highspy"],
                       check=True)
    return python


def run_pegase(periods: list[int], repeats: int, with_pypsa: bool,
               case: str = "pegase") -> list[dict[str, Any]]:
    rows = []
    python = ensure_pypsa_venv() if with_pypsa else None
    with tempfile.TemporaryDirectory() as tmp:
        for n_t in periods:
            g_runs, p_runs = [], []
            extra: list[str] = []
            if case == "simbench":
                # in a process of its own: a child's peak RSS (ru_maxrss) starts from its
                # parent's resident size at the fork, so this process must stay small
                pkl = Path(tmp) / f"simbench_{n_t}.pkl"
                subprocess.run([sys.executable, __file__, "--prepare", str(n_t), "--problem",
                                str(pkl)], check=True, cwd=REPO)
                extra = ["--problem", str(pkl)]
            npz = Path(tmp) / f"{case}_{n_t}.npz"
            for r in range(repeats):
                out = Path(tmp) / f"g_{n_t}_{r}.json"
                cmd = [sys.executable, __file__, "--worker", str(n_t), "--case", case,
                       "--out", str(out), *extra]
                if r == 0:
                    cmd += ["--export", str(npz)]
                subprocess.run(cmd, check=True, cwd=REPO)
                g_runs.append(json.loads(out.read_text()))
                logging.info("gridopt %s %d periods run %d: %.1f s", case, n_t, r,
                             g_runs[-1]["total_seconds"])
            if python is not None:
                for r in range(repeats):
                    out = Path(tmp) / f"p_{n_t}_{r}.json"
                    subprocess.run([str(python), str(REPO / "benchmarks" / "_pypsa_side.py"),
                                    str(npz), str(out)], check=True, cwd=REPO)
                    p_runs.append(json.loads(out.read_text()))
                    logging.info("PyPSA %s %d periods run %d: %.1f s", case, n_t, r,
                                 p_runs[-1]["total_seconds"])
            rows.append({"periods": n_t, "gridopt": g_runs, "pypsa": p_runs})
    return rows


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
# report


def _med(values: list[float]) -> float:
    return float(statistics.median(values))


def comparison_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Table of build/solve/total times, memory, sizes, objectives, then agreement and ratios."""
    lines = [
        "| periods | tool | build model (s) | solve (s) | total (s) | build share | peak "
        "memory (MB) | variables | constraints | objective |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        g = row["gridopt"]
        g_build = _med([r["prepare_seconds"] + r["build_seconds"] + r["load_seconds"]
                        for r in g])
        g_solve = _med([r["solve_seconds"] for r in g])
        g_total = _med([r["total_seconds"] for r in g])
        lines.append(
            f"| {row['periods']} | gridopt | {g_build:.2f} | {g_solve:.2f} | {g_total:.2f} | "
            f"{100 * g_build / g_total:.0f} % | {_med([r['peak_rss_mb'] for r in g]):.0f} | "
            f"{g[0]['n_variables']} | {g[0]['n_constraints']} | {g[0]['objective']:.2f} |"
        )
        p = row["pypsa"]
        if p:
            p_build = _med([r["network_seconds"] + r["model_seconds"] for r in p])
            p_total = _med([r["total_seconds"] for r in p])
            lines.append(
                f"| {row['periods']} | PyPSA | {p_build:.2f} | "
                f"{_med([r['solve_seconds'] for r in p]):.2f} | {p_total:.2f} | "
                f"{100 * p_build / p_total:.0f} % | "
                f"{_med([r['peak_rss_mb'] for r in p]):.0f} | "
                f"{p[0]['n_variables']} | {p[0]['n_constraints']} | {p[0]['objective']:.2f} |"
            )
    lines += ["", "Agreement and ratios:", ""]
    for row in rows:
        g, p = row["gridopt"], row["pypsa"]
        if not p:
            continue
        rel = abs(g[0]["objective"] - p[0]["objective"]) / abs(p[0]["objective"])
        flow_diff = float(np.max(np.abs(np.array(g[0]["check_flows_mw"])
                                        - np.array(p[0]["check_flows_mw"]))))
        ratio = _med([r["total_seconds"] for r in p]) / _med([r["total_seconds"] for r in g])
        mem = _med([r["peak_rss_mb"] for r in p]) / _med([r["peak_rss_mb"] for r in g])
        mem_text = (f"{mem:.1f}x less peak memory" if mem >= 1
                    else f"{1 / mem:.1f}x more peak memory")
        lines.append(
            f"* {row['periods']} periods: objectives differ by {rel:.1e} (relative); "
            f"PyPSA's `lpf` and gridopt's DC flows for the same injections differ by at most "
            f"{flow_diff:.1e} MW; gridopt end to end {ratio:.1f}x faster, {mem_text}; "
            f"thermal slack used by gridopt "
            f"{g[0]['max_thermal_slack_mva']:.1e} MVA."
        )
    return lines


def simbench_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The SimBench section: problem, comparison table, agreement and notes."""
    g = rows[0]["gridopt"][0]
    versions = next((r["pypsa"][0]["versions"] for r in rows if r["pypsa"]), None)
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
        "at the buses with most load. Same set-up as above: one HiGHS thread each, fresh "
        f"processes, medians of {len(rows[0]['gridopt'])} runs"
        + (f", PyPSA {versions['pypsa']}" if versions else "")
        + f"; load average at the start {os.getloadavg()[0]:.1f}.",
        "",
        *comparison_lines(rows),
        "",
        *NOTES_SIMBENCH.strip().splitlines(),
        f"gridopt's peak memory is mostly its imports (pandapower, xarray, SciPy, highspy): "
        f"{_med([r['imports_rss_mb'] for r in rows[0]['gridopt']]):.0f} MB before it reads "
        "the problem.",
    ]


def merge_section(section: list[str]) -> str:
    """Put the SimBench section into the existing report, keeping every other section."""
    out = REPO / "docs" / "benchmarks" / "dispatch.md"
    text = out.read_text() if out.exists() else "## Dispatch (`benchmarks/bench_dispatch.py`)\n"
    text = text.replace("SimBench MV grids with their own profiles are not benchmarked yet.",
                        "SimBench MV grid with its own profiles: next section.")
    body = "\n".join(section) + "\n"
    pattern = re.compile(re.escape(SIMBENCH_HEADING) + r".*?(?=^### |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    elif "\n### Re-solve" in text:
        text = text.replace("\n### Re-solve", "\n" + body + "\n### Re-solve", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    return text


def write_text_atomic(text: str) -> None:
    out = REPO / "docs" / "benchmarks" / "dispatch.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)


def write_report(pegase: list[dict[str, Any]], resolve: dict[str, Any] | None,
                 simbench: list[dict[str, Any]] | None = None) -> str:
    import highspy  # noqa: F401
    import pandapower
    import pyomo

    from gridopt.solvers.highs import highs_version

    load = os.getloadavg()
    lines = [
        "## Dispatch (`benchmarks/bench_dispatch.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), load average at the "
        f"start {load[0]:.1f}; Python {platform.python_version()}, {highs_version()}, "
        f"pyomo {pyomo.__version__}, pandapower {pandapower.__version__}.",
        "",
    ]
    if pegase:
        versions = next((r["pypsa"][0]["versions"] for r in pegase if r["pypsa"]), None)
        lines += [
            "### Multi-period lossless DC OPF: case1354pegase, gridopt vs PyPSA",
            "",
            "Same LP on both sides (problem and pitfalls in the script's docstring and in "
            "`docs/dispatch.md`); one HiGHS thread each; each side in a fresh process; medians "
            f"of {len(pegase[0]['gridopt'])} runs. gridopt: sparse-matrix path "
            "(`gridopt.opf.dispatch.matrix`), timed from the pandapower net and forecast to the "
            "solution. PyPSA"
            + (f" {versions['pypsa']} (linopy {versions['linopy']}, pandas {versions['pandas']}, "
               f"highspy {versions['highspy']})" if versions else "")
            + ": timed from the exported arrays to the solution.",
            "",
            *comparison_lines(pegase),
        ]
        lines += ["", *NOTES_PEGASE.strip().splitlines()]
    if simbench:
        lines += ["", *simbench_lines(simbench)]
    if resolve:
        runs = resolve["runs"]
        first = _med([r["first"] for r in runs])
        revised = _med([r["revised"] for r in runs])
        other = _med([r["other"] for r in runs])
        st = runs[len(runs) // 2]
        lines += [
            "",
            "### Re-solve with a new forecast: case33bw, 48 x 30 min (Pyomo + persistent HiGHS)",
            "",
            "Dispatcher with successive loss linearisation and `pandapower.runpp` checks of "
            f"the baseline and the result in every period; medians of {len(runs)} runs.",
            "",
            "| solve | seconds | rounds | build + load | LP solves | tangents | AC checks | "
            "other |",
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
                f"| {label} | {secs:.2f} | {st['iterations'][idx]} | {s['build']:.2f} | "
                f"{s['solve']:.2f} | {s['cuts']:.2f} | {ac:.2f} | {rest:.2f} |"
            )
        lines += [
            "",
            f"Re-solve speed-up: {first / revised:.1f}x (revised forecast), "
            f"{first / other:.1f}x (another day). Build + load is "
            f"{100 * st['first_stages']['build'] / st['first_stages']['total']:.0f} % of the "
            "first solve.",
        ]
    text = "\n".join(lines) + "\n"
    write_text_atomic(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--periods", type=int, nargs="+", default=[24, 96])
    parser.add_argument("--skip-pypsa", action="store_true")
    parser.add_argument("--skip-pegase", action="store_true")
    parser.add_argument("--skip-resolve", action="store_true")
    parser.add_argument("--simbench", action="store_true",
                        help="also run the SimBench MV part")
    parser.add_argument("--only-simbench", action="store_true",
                        help="run only the SimBench MV part and merge it into the existing report")
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
    with_pypsa = not args.skip_pypsa
    simbench = None
    if args.simbench or args.only_simbench:
        simbench = run_pegase([SIMBENCH_PERIODS], args.repeats, with_pypsa, case="simbench")
    if args.only_simbench:
        assert simbench is not None
        text = merge_section(simbench_lines(simbench))
        write_text_atomic(text)
        sys.stdout.write(text)
        return
    pegase = [] if args.skip_pegase else run_pegase(args.periods, args.repeats, with_pypsa)
    resolve = None if args.skip_resolve else run_resolve(args.repeats)
    sys.stdout.write(write_report(pegase, resolve, simbench))


if __name__ == "__main__":
    main()
