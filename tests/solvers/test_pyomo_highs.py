"""The private Pyomo internals of gridopt/solvers/_pyomo_highs.py, checked against Pyomo's public
results on real HiGHS solves: if a Pyomo release changes them, these tests fail first."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.solvers.highs import Highs

from gridopt.errors import SolverError
from gridopt.solvers import _pyomo_highs as internals
from gridopt.solvers.highs import HighsOptions, HighsSolver


def _model() -> pyo.ConcreteModel:
    """Three plants, a mutable demand in a row bound, a mutable coefficient and cost."""
    m = pyo.ConcreteModel()
    m.demand = pyo.Param(initialize=7.0, mutable=True)
    m.eff = pyo.Param(initialize=1.0, mutable=True)
    m.price = pyo.Param(initialize=2.0, mutable=True)
    m.p = pyo.Var([0, 1, 2], bounds=(0, 5))
    m.balance = pyo.Constraint(expr=m.p[0] + m.p[1] + m.eff * m.p[2] == m.demand)
    m.cap = pyo.Constraint(expr=m.p[0] + m.p[1] <= 8.0)
    m.cost = pyo.Objective(expr=1.0 * m.p[0] + m.price * m.p[1] + 3.0 * m.p[2])
    return m


def _loaded() -> tuple[pyo.ConcreteModel, Highs]:
    m = _model()
    solver = Highs()
    solver.set_instance(m)
    return m, solver


def test_internals_exist_in_the_installed_pyomo() -> None:
    _, solver = _loaded()
    internals.check_internals(solver)  # raises SolverError naming what is missing


def test_missing_internal_is_a_clear_error() -> None:
    class Bare:
        pass

    with pytest.raises(SolverError, match=r"_solver_model.*pip install .pyomo>="):
        internals.check_internals(Bare())  # type: ignore[arg-type]


def test_column_and_row_maps_match_the_public_solution() -> None:
    m, solver = _loaded()
    results = solver.solve(m)
    results.solution_loader.load_vars()
    highs = internals.highs_model(solver)
    x = np.asarray(highs.getSolution().col_value)
    cols = internals.column_map(solver)
    for v in m.p.values():
        assert x[cols[id(v)]] == pytest.approx(pyo.value(v))
    duals = results.solution_loader.get_duals()
    row_dual = np.asarray(highs.getSolution().row_dual)
    rows = internals.row_map(solver)
    for con in (m.balance, m.cap):
        assert row_dual[rows[con]] == pytest.approx(duals[con])
    assert sorted(rows.values()) == [0, 1]


def test_push_mutable_moves_row_bounds_coefficients_and_costs() -> None:
    m, solver = _loaded()
    m.demand = 9.0  # row bound
    m.eff = 0.5  # coefficient
    m.price = 0.5  # objective
    internals.push_mutable(solver, [m.balance], objective=True)
    highs = internals.highs_model(solver)
    lp = highs.getLp()
    row = internals.row_map(solver)[m.balance]
    assert lp.row_lower_[row] == pytest.approx(9.0) and lp.row_upper_[row] == pytest.approx(9.0)
    col2 = internals.column_map(solver)[id(m.p[2])]
    col1 = internals.column_map(solver)[id(m.p[1])]
    assert lp.col_cost_[col1] == pytest.approx(0.5)
    # Solving what HiGHS now holds gives the optimum of the changed model built from scratch.
    highs.run()
    fresh = _model()
    fresh.demand, fresh.eff, fresh.price = 9.0, 0.5, 0.5
    expected = pyo.SolverFactory("highs").solve(fresh)
    assert expected is not None
    assert highs.getInfo().objective_function_value == pytest.approx(pyo.value(fresh.cost))
    coeffs = highs.getLp().a_matrix_
    start, index, value = (np.asarray(a) for a in (coeffs.start_, coeffs.index_, coeffs.value_))
    entries = dict(zip(index[start[col2]:start[col2 + 1]], value[start[col2]:start[col2 + 1]],
                       strict=True))
    assert entries[row] == pytest.approx(0.5)


def test_adapter_batches_rows_through_the_internals() -> None:
    """HighsSolver's manual-update path gives the same optimum as a fresh solve."""
    m = _model()
    solver = HighsSolver(HighsOptions(), manual_updates=True)
    solver.load(m)
    first = solver.solve(m, load_solution=False)
    assert first.objective == pytest.approx(1 * 5 + 2 * 2)
    m.demand = 12.0
    solver.push_parameters([m.balance], objective=False)
    second = solver.solve(m, load_solution=False)
    assert second.objective == pytest.approx(1 * 5 + 2 * 3 + 3 * 4)
    cols = solver.column_indices(m.p.values())
    np.testing.assert_allclose(solver.primal_values(cols), [5.0, 3.0, 4.0])
    assert solver.n_columns() == 3
