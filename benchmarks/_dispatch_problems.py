"""The dispatch benchmark's problems and gridopt's side (see ``bench_dispatch.py``).

* :func:`pegase_problem`: pandapower's ``case1354pegase`` with PGLib's linear costs, a daily
  load shape and ten batteries;
* :func:`simbench_problem`: SimBench ``1-MV-rural--0-sw`` with one day of its own profiles,
  a priced grid connection and two batteries;
* :func:`solve_gridopt`: gridopt's sparse-matrix DC dispatch, timed by stage;
* :func:`export_problem`: the same problem as plain arrays for the PyPSA side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PGLIB_CASE = REPO / "data" / "pglib" / "pglib_opf_case1354_pegase.m"

#: Hourly load factors of a working day (peak 1.0 at 18:00), and day factors for 96 periods.
DAILY_SHAPE = np.array([
    0.72, 0.69, 0.67, 0.66, 0.67, 0.71, 0.80, 0.88, 0.93, 0.95, 0.96, 0.96,
    0.95, 0.94, 0.93, 0.93, 0.94, 0.97, 1.00, 0.99, 0.95, 0.89, 0.82, 0.76,
])
DAY_FACTORS = (1.0, 0.98, 1.02, 0.95)
N_STORAGE = 10
PLACEHOLDER_SN_MVA = 99.999
SIMBENCH_CODE = "1-MV-rural--0-sw"
SIMBENCH_PERIODS = 96
SIMBENCH_PRICE_PER_MWH = 60.0


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
    """gridopt end to end: grid and inputs from the net and forecast, build, solve, read back.

    Stages (seconds): ``prepare`` (network model and dispatch grid from the pandapower net,
    forecast placement), ``build`` (sparse matrices), ``load`` (a new ``highspy.Highs`` and
    ``passModel``), ``highs_run`` (the ``Highs.run()`` call: HiGHS's own run time, which its
    run clock matches to the millisecond), ``read`` (solution vector, then generator, storage,
    grid and branch-flow schedules out of it).
    """
    from gridopt.network.pandapower_model import model_from_pandapower
    from gridopt.opf.dispatch.grid import grid_from_model
    from gridopt.opf.dispatch.inputs import inputs_from_forecast
    from gridopt.opf.dispatch.matrix import solve_dc_dispatch_matrices
    from gridopt.opf.dispatch.model import asset_positions

    t0 = time.perf_counter()
    grid = grid_from_model(model_from_pandapower(net, name))
    inputs = inputs_from_forecast(forecast, grid, assets)
    positions = asset_positions(grid, assets)
    t1 = time.perf_counter()
    solved = solve_dc_dispatch_matrices(grid, assets, positions, inputs, benchmark_options())
    t2 = time.perf_counter()
    out = solved.outcome
    assert out.x is not None, out.report.message
    mats = solved.matrices
    schedules = {key: mats.values(out.x, key)
                 for key in ("p_gen", "p_charge", "p_discharge", "p_grid", "p_flow")}
    s_over = float(mats.values(out.x, "s_over").max(initial=0.0))
    t3 = time.perf_counter()
    highs_run = out.report.solve_seconds
    return {
        "status": out.report.status.value,
        "objective": out.objective,
        "iterations": out.report.iterations,
        "prepare_seconds": t1 - t0,
        "build_seconds": solved.build_seconds,
        "load_seconds": out.load_seconds,
        "highs_run_seconds": highs_run,
        "read_seconds": (t2 - t1 - solved.build_seconds - out.load_seconds - highs_run)
        + (t3 - t2),
        "total_seconds": t3 - t0,
        "max_thermal_slack_mva": s_over,
        "n_variables": len(mats.problem.cost),
        "n_constraints": int(mats.problem.a_matrix.shape[0]),
        "n_nonzeros": int(mats.problem.a_matrix.nnz),
        "grid": grid,
        "inputs": inputs,
        "positions": positions,
        "flows": schedules["p_flow"],
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
