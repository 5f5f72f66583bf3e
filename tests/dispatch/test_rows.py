"""Both solve paths are built from the same row blocks and agree: the persistent re-solve path
(one HiGHS instance, changed bounds, coefficients, costs and added tangent rows) and the
direct-matrix path (the whole problem stacked afresh and passed to HiGHS in one piece)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gridopt.network.assets import Assets
from gridopt.network.pandapower_model import assets_from_net, model_from_pandapower
from gridopt.opf.dispatch import constraints as C
from gridopt.opf.dispatch.flows import series_power_flow
from gridopt.opf.dispatch.grid import DispatchGrid, grid_from_model
from gridopt.opf.dispatch.inputs import DispatchInputs, inputs_from_forecast
from gridopt.opf.dispatch.layout import Form
from gridopt.opf.dispatch.model import (
    DispatchModel,
    add_tangents,
    build_dispatch_model,
    input_changes,
    linearisation_changes,
    seed_tangents,
    set_inputs,
    set_linearisation_point,
    to_problem,
)
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.opf.dispatch.solution import baseline_setpoints, read_setpoints
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_matrix import MatrixOutcome, solve_matrix_problem
from gridopt.solvers.highs_persistent import PersistentHighs
from gridopt.solvers.status import SolveStatus

from .conftest import day_forecast, feeder_net
from .test_matrix import PERIODS as MESHED_PERIODS
from .test_matrix import _case as meshed_case

#: Tight tolerances, so that two HiGHS runs of the same LP from different starting bases agree
#: to about 1e-9 (with the default 1e-7 they agree to about 1e-8).
TIGHT = HighsOptions(threads=1, primal_feasibility_tolerance=1e-10,
                     dual_feasibility_tolerance=1e-10)


Case = Callable[[], tuple[DispatchGrid, Assets, list[DispatchInputs]]]


def _feeder() -> tuple[DispatchGrid, Assets, list[DispatchInputs]]:
    net = feeder_net()
    grid = grid_from_model(model_from_pandapower(net, "case33bw"))
    assets = assets_from_net(net)
    days = [day_forecast(net, 24), day_forecast(net, 24, load_scale=1.15, pv_scale=0.7)]
    return grid, assets, [inputs_from_forecast(f, grid, assets) for f in days]


def _meshed() -> tuple[DispatchGrid, Assets, list[DispatchInputs]]:
    net, assets, forecast = meshed_case()
    grid = grid_from_model(model_from_pandapower(net, "case30"))
    first = inputs_from_forecast(forecast, grid, assets)
    second = forecast.assign(p_mw=forecast.p_mw * 0.9, pv_p_mw=forecast.pv_p_mw * 1.2)
    return grid, assets, [first, inputs_from_forecast(second, grid, assets)]


def _net_injections(dm: DispatchModel, inputs: DispatchInputs, x: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    sp = baseline_setpoints(dm, inputs) if x is None else read_setpoints(dm, inputs, x)
    return (sp.p_inject_mw - inputs.p_demand_mw - sp.p_shift_bus_mw,
            sp.q_inject_mvar - inputs.q_demand_mvar)


def _push_inputs(solver: PersistentHighs, dm: DispatchModel) -> None:
    rows, cols, (price_cols, costs) = input_changes(dm)
    solver.change_row_bounds(rows.indices, rows.lower, rows.upper)
    solver.change_column_bounds(cols.indices, cols.lower, cols.upper)
    solver.change_costs(price_cols, costs)


def _push_point(solver: PersistentHighs, dm: DispatchModel) -> None:
    rows, (c_rows, c_cols, values) = linearisation_changes(dm)
    solver.change_row_bounds(rows.indices, rows.lower, rows.upper)
    solver.change_coefficients(c_rows, c_cols, values)


def _agree(persistent: MatrixOutcome, fresh: MatrixOutcome, dm: DispatchModel,
           inputs: DispatchInputs) -> None:
    assert persistent.report.status is SolveStatus.OPTIMAL
    assert fresh.report.status is SolveStatus.OPTIMAL
    assert persistent.x is not None and fresh.x is not None
    assert persistent.objective == pytest.approx(fresh.objective, rel=1e-9)
    # primal solutions: the decisions that the objective prices agree (reactive power and
    # angles of an LP with alternative optima may not)
    a, b = read_setpoints(dm, inputs, persistent.x), read_setpoints(dm, inputs, fresh.x)
    for name in ("p_grid_mw", "p_charge_mw", "p_discharge_mw", "energy_mwh", "p_curtail_mw",
                 "p_gen_mw", "p_shift_mw"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-6, err_msg=name)
    np.testing.assert_allclose(a.p_loss_mw.sum(axis=1), b.p_loss_mw.sum(axis=1), atol=1e-6)


@pytest.mark.parametrize(("case", "grid_model"), [(_feeder, GridModel.LINDISTFLOW),
                                                  (_meshed, GridModel.DC_LOSSES)])
def test_persistent_and_direct_paths_agree_round_by_round(
    case: Case, grid_model: GridModel
) -> None:
    grid, assets, days = case()
    assert assets.storage and assets.pv
    n_t, dt = days[0].n_periods, days[0].period_hours
    options = DispatchOptions(grid_model=grid_model)
    dm = build_dispatch_model(grid, assets, n_t, dt, options)
    assert dm.grid_model is grid_model
    solver = PersistentHighs(TIGHT)
    solver.load(to_problem(dm))  # built at zero inputs, then changed in place
    previous = None
    for inputs in days:
        set_inputs(dm, inputs)
        _push_inputs(solver, dm)
        for round_ in range(3):
            p_net, q_net = _net_injections(dm, inputs, previous if round_ else None)
            point = series_power_flow(grid, p_net, q_net)[0]
            set_linearisation_point(dm, point)
            _push_point(solver, dm)
            cuts = seed_tangents(dm, point) if not dm.tangents else add_tangents(dm, point)
            assert solver.add_rows(cuts.matrix, cuts.lower, cuts.upper) == dm.n_rows - cuts.n_rows
            persistent = solver.solve()
            fresh = solve_matrix_problem(to_problem(dm), TIGHT)
            _agree(persistent, fresh, dm, inputs)
            assert solver.n_rows == dm.n_rows and solver.n_columns == dm.layout.n_columns
            previous = persistent.x
    # the duals of the balance rows are the same prices in both paths
    assert persistent.row_duals is not None and fresh.row_duals is not None
    rows = dm.rows["p_balance"]
    np.testing.assert_allclose(persistent.row_duals[rows], fresh.row_duals[rows],
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", [_feeder, _meshed])
def test_compact_lossless_form_has_the_explicit_optimum(case: Case) -> None:
    grid, assets, days = case()
    inputs = days[0]
    options = DispatchOptions(grid_model=GridModel.DC_LOSSES)
    outcomes = {}
    for form in Form:
        dm = build_dispatch_model(grid, assets, inputs.n_periods, inputs.period_hours,
                                  options, with_losses=False, form=form)
        set_inputs(dm, inputs)
        problem = to_problem(dm)
        out = solve_matrix_problem(problem, TIGHT)
        assert out.report.status is SolveStatus.OPTIMAL and out.x is not None
        outcomes[form] = (out, read_setpoints(dm, inputs, out.x), problem.a_matrix.shape[0])
    (explicit, sp_e, rows_e), (compact, sp_c, rows_c) = (outcomes[Form.EXPLICIT],
                                                         outcomes[Form.COMPACT])
    assert explicit.objective == pytest.approx(compact.objective, rel=1e-9)
    np.testing.assert_allclose(sp_e.p_grid_mw, sp_c.p_grid_mw, atol=1e-6)
    np.testing.assert_allclose(sp_e.s_over_mva, sp_c.s_over_mva, atol=1e-6)
    assert rows_c < rows_e  # no flow-definition rows, one ranged thermal row


def test_meshed_case_is_the_one_of_test_matrix() -> None:
    assert _meshed()[2][0].n_periods == MESHED_PERIODS


def test_row_blocks_are_one_definition_per_family() -> None:
    grid, assets, days = _feeder()
    dm = build_dispatch_model(grid, assets, 24, 1.0, DispatchOptions())
    set_inputs(dm, days[0])
    problem = to_problem(dm)
    # the stacked problem is the families' blocks in order, nothing else
    total = sum(s.stop - s.start for s in dm.rows.values())
    assert problem.a_matrix.shape == (total, dm.layout.n_columns)
    block = C.p_balance_rows(dm.layout, grid, dm.positions, days[0].p_demand_mw,
                             days[0].pv_available_mw)
    rows = dm.rows["p_balance"]
    assert abs(problem.a_matrix[rows] - block.matrix).max() == 0.0
    np.testing.assert_array_equal(problem.row_lower[rows], block.lower)
    # the balance of bus 17 holds the battery (discharge +1, charge -1) in every period
    k = 17 * 24 + 5
    row = problem.a_matrix[rows][k].toarray().ravel()
    lay = dm.layout
    assert row[lay.columns["p_discharge"].start + 5] == 1.0
    assert row[lay.columns["p_charge"].start + 5] == -1.0
    with pytest.raises(ValueError, match="compact form"):
        build_dispatch_model(grid, assets, 24, 1.0, DispatchOptions(), form=Form.COMPACT)
