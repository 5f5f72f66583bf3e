"""The direct-matrix lossless DC dispatch has the optimum of the persistent path's LP (case30)."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest
import xarray as xr

from gridopt.network.assets import (
    Assets,
    CurtailablePV,
    FlexibleLoad,
    Generator,
    GridConnection,
    Storage,
)
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.opf.dispatch.grid import grid_from_model
from gridopt.opf.dispatch.inputs import inputs_from_forecast
from gridopt.opf.dispatch.matrix import solve_dc_dispatch_matrices
from gridopt.opf.dispatch.model import (
    asset_positions,
    build_dispatch_model,
    input_changes,
    set_inputs,
    to_problem,
)
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_persistent import PersistentHighs
from gridopt.solvers.status import SolveStatus

from .conftest import load_shape, pv_shape

PERIODS = 12


def _case() -> tuple[pp.pandapowerNet, Assets, xr.Dataset]:
    net = pn.case30()
    net.line["max_i_ka"] = 0.25  # some lines bind
    gens = tuple(
        Generator(f"g{i}", int(row.bus), 0.0, 40.0, cost_per_mwh=10.0 + 7.0 * i)
        for i, (_, row) in enumerate(net.gen.iterrows())
    )
    assets = Assets(
        storage=(Storage("b7", 7, 15.0, 15.0, 40.0, soc_initial_percent=30.0),
                 Storage("b21", 21, 10.0, 10.0, 20.0, efficiency_charge=0.9)),
        pv=(CurtailablePV("pv29", 29, 30.0),),
        flexible_load=(FlexibleLoad("f4", 4, 5.0, 5.0, window_start=2, window_end=10),),
        generator=gens,
        grid=GridConnection(p_import_max_mw=120.0, p_export_max_mw=20.0),
    )
    hours = np.arange(PERIODS) * 2.0 + 1.0
    buses = net.bus.index.to_numpy()
    p_peak = net.load.groupby("bus").p_mw.sum().reindex(buses, fill_value=0.0).to_numpy()
    pv = np.zeros((PERIODS, len(buses)))
    pv[:, 29] = 30.0 * pv_shape(hours)
    time = pd.date_range("2024-06-01", periods=PERIODS, freq="2h")
    forecast = xr.Dataset(
        {
            "p_mw": (("time", "bus"), 1.4 * load_shape(hours)[:, None] * p_peak[None, :]),
            "q_mvar": (("time", "bus"), np.zeros((PERIODS, len(buses)))),
            "pv_p_mw": (("time", "bus"), pv),
            "price_per_mwh": (("time",), 30.0 + 20.0 * np.sin(hours / 24 * 2 * np.pi)),
        },
        coords={"time": time, "bus": buses},
    )
    return net, assets, forecast


def test_matrix_lp_equals_persistent_lp_on_a_meshed_case() -> None:
    net, assets, forecast = _case()
    grid = grid_from_model(model_from_pandapower(net, "case30"))
    assert not grid.is_radial
    options = DispatchOptions(grid_model=GridModel.DC_LOSSES)
    inputs = inputs_from_forecast(forecast, grid, assets)
    positions = asset_positions(grid, assets)

    # the explicit lossless LP, loaded at zero inputs into a persistent instance, then changed
    dm = build_dispatch_model(grid, assets, PERIODS, 2.0, options, with_losses=False)
    solver = PersistentHighs(HighsOptions(threads=options.threads))
    solver.load(to_problem(dm))
    set_inputs(dm, inputs)
    rows, cols, (price_cols, costs) = input_changes(dm)
    solver.change_row_bounds(rows.indices, rows.lower, rows.upper)
    solver.change_column_bounds(cols.indices, cols.lower, cols.upper)
    solver.change_costs(price_cols, costs)
    persistent = solver.solve()
    assert persistent.report.status is SolveStatus.OPTIMAL

    solved = solve_dc_dispatch_matrices(grid, assets, positions, inputs, options)
    out = solved.outcome
    assert out.report.status is SolveStatus.OPTIMAL and out.x is not None
    assert out.objective == pytest.approx(persistent.objective, rel=1e-9)

    # the optimum is a real dispatch: thermal limits bind somewhere, storage is used,
    # and its flows are the DC power flow of its injections
    mats = solved.matrices
    flow = mats.values(out.x, "p_flow")
    theta = mats.values(out.x, "theta")
    b = grid.base_mva / (grid.x_pu * grid.tap_ratio)
    np.testing.assert_allclose(
        flow, b[None, :] * (theta[:, grid.branch_from] - theta[:, grid.branch_to]), atol=1e-6
    )
    rated = np.isfinite(grid.rate_mva)
    assert np.any(np.abs(flow[:, rated]) >= grid.rate_mva[rated][None, :] - 1e-6)
    assert mats.values(out.x, "s_over").max() < 1e-7
    assert mats.values(out.x, "p_discharge").sum() > 1.0
    energy = mats.values(out.x, "energy")
    assert energy.min() >= -1e-9 and np.all(energy <= [40.0 + 1e-9, 20.0 + 1e-9])
