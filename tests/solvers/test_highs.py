"""The HiGHS adapter: status mapping, duals, persistence, matrix path (real HiGHS solves)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp

from gridopt.errors import SolverError
from gridopt.solvers.highs import (
    HIGHS_CAPABILITIES,
    HighsOptions,
    HighsSolver,
    SolverCapabilities,
    solve_with_highs,
)
from gridopt.solvers.highs_matrix import MatrixProblem, solve_matrix_problem
from gridopt.solvers.status import SolveStatus


def _transport_lp(supply: float = 10.0) -> pyo.ConcreteModel:
    """Two plants (costs 1 and 3, capacity 6 each) serving a mutable demand."""
    m = pyo.ConcreteModel()
    m.demand = pyo.Param(initialize=supply, mutable=True)
    m.p = pyo.Var([0, 1], bounds=(0, 6))
    m.balance = pyo.Constraint(expr=m.p[0] + m.p[1] == m.demand)
    m.cost = pyo.Objective(expr=1.0 * m.p[0] + 3.0 * m.p[1])
    return m


def test_lp_optimum_and_dual_is_marginal_cost() -> None:
    m = _transport_lp(10.0)
    out = solve_with_highs(m, load_duals=True)
    assert out.report.status is SolveStatus.OPTIMAL
    assert out.objective == pytest.approx(6 * 1 + 4 * 3)
    assert pyo.value(m.p[0]) == pytest.approx(6.0)
    # the marginal unit is plant 1 (cost 3): one more unit of demand costs 3
    assert out.duals is not None
    assert out.duals[m.balance] == pytest.approx(3.0)
    assert out.report.solver.startswith("highs ")


def test_quadratic_objective_reaches_highs() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-10, 10))
    m.cost = pyo.Objective(expr=(m.x - 2.5) ** 2)
    out = solve_with_highs(m)
    assert out.report.status is SolveStatus.OPTIMAL
    assert pyo.value(m.x) == pytest.approx(2.5, abs=1e-6)


def test_infeasible_model_reports_status_and_highs_reason() -> None:
    m = _transport_lp(20.0)  # capacity is only 12
    out = solve_with_highs(m, load_duals=True)
    assert out.report.status is SolveStatus.INFEASIBLE
    assert "nfeasible" in out.report.message
    assert out.objective is None and out.duals is None


def test_iteration_limit_is_not_converged() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(20), bounds=(0, 1))
    m.rows = pyo.Constraint(
        range(10), rule=lambda m, i: sum((i + j) % 7 * m.x[j] for j in range(20)) >= 1 + i % 3
    )
    m.cost = pyo.Objective(expr=sum((j % 5 + 1) * m.x[j] for j in range(20)))
    options = HighsOptions(presolve=False, extra=(("simplex_iteration_limit", 0),))
    out = solve_with_highs(m, options)
    assert out.report.status is SolveStatus.NOT_CONVERGED
    assert "limit" in out.report.message.lower()
    # and the same model solves without the limit
    assert solve_with_highs(m).report.status is SolveStatus.OPTIMAL


def test_persistent_resolve_sees_mutable_parameter() -> None:
    m = _transport_lp(4.0)
    solver = HighsSolver(structure_fixed=True)
    solver.load(m)
    first = solver.solve(m, load_duals=True)
    assert first.objective == pytest.approx(4.0)
    assert first.duals is not None and first.duals[m.balance] == pytest.approx(1.0)
    m.demand = 9.0
    second = solver.solve(m, load_duals=True)
    assert second.objective == pytest.approx(6 + 3 * 3)
    assert second.duals is not None and second.duals[m.balance] == pytest.approx(3.0)
    reduced = solver.reduced_costs([m.p[0]])
    assert reduced[m.p[0]] == pytest.approx(1.0 - 3.0)  # at its upper bound: c - dual


def _unit_commitment_milp(demand: float) -> pyo.ConcreteModel:
    """The transport LP with a start-up cost on the dear plant: its relaxation is fractional.

    At demand 8 the cheap plant (capacity 6) leaves 2 for the dear one, which needs ``on = 1``
    (cost 6 + 2 * 3 + 10 = 22); the LP relaxation would take ``on = 2 / 6`` (cost 15.33...).
    """
    m = _transport_lp(demand)
    m.on = pyo.Var(domain=pyo.Binary)
    m.link = pyo.Constraint(expr=m.p[1] <= 6 * m.on)
    m.cost.deactivate()
    m.cost2 = pyo.Objective(expr=1.0 * m.p[0] + 3.0 * m.p[1] + 10 * m.on)
    return m


def test_milp_keeps_integrality_and_reports_no_duals() -> None:
    m = _unit_commitment_milp(8.0)
    out = solve_with_highs(m, load_duals=True)
    assert out.report.status is SolveStatus.OPTIMAL
    assert pyo.value(m.on) == pytest.approx(1.0)
    assert out.objective == pytest.approx(22.0)
    assert out.duals is None  # a MILP has no duals; asking for them is not an error
    relaxed = _unit_commitment_milp(8.0)
    relaxed.on.domain = pyo.UnitInterval
    assert solve_with_highs(relaxed).objective == pytest.approx(12.0 + 10.0 / 3.0)
    cheap = _unit_commitment_milp(5.0)  # the cheap plant alone suffices: no start-up
    assert solve_with_highs(cheap).objective == pytest.approx(5.0)
    assert pyo.value(cheap.on) == pytest.approx(0.0)


def test_matrix_problem_matches_pyomo_path() -> None:
    # same transport LP in matrix form
    prob = MatrixProblem(
        cost=np.array([1.0, 3.0]),
        a_matrix=sp.csr_matrix([[1.0, 1.0]]),
        row_lower=np.array([10.0]),
        row_upper=np.array([10.0]),
        col_lower=np.zeros(2),
        col_upper=np.full(2, 6.0),
    )
    out = solve_matrix_problem(prob)
    assert out.report.status is SolveStatus.OPTIMAL
    assert out.x is not None and out.row_duals is not None
    np.testing.assert_allclose(out.x, [6.0, 4.0], atol=1e-9)
    assert out.row_duals[0] == pytest.approx(3.0)
    assert out.objective == pytest.approx(18.0)


def test_matrix_problem_infeasible_and_bad_option() -> None:
    prob = MatrixProblem(
        cost=np.array([1.0, 3.0]),
        a_matrix=sp.csr_matrix([[1.0, 1.0]]),
        row_lower=np.array([20.0]),
        row_upper=np.array([20.0]),
        col_lower=np.zeros(2),
        col_upper=np.full(2, 6.0),
        hessian=sp.identity(2, format="csr"),
    )
    out = solve_matrix_problem(prob)
    assert out.report.status is SolveStatus.INFEASIBLE
    assert "Infeasible" in out.report.message
    assert out.x is None and out.row_duals is None
    with pytest.raises(SolverError, match="no_such_option"):
        solve_matrix_problem(prob, HighsOptions(extra=(("no_such_option", 1),)))


def _attempt(capability: str) -> bool:
    """Use one capability through the adapter; True when HiGHS delivered it correctly."""
    if capability == "supports_duals":
        m = _transport_lp(10.0)
        out = solve_with_highs(m, load_duals=True)
        return out.duals is not None and out.duals[m.balance] == pytest.approx(3.0)
    if capability == "supports_quadratic":
        m = _transport_lp(10.0)
        m.cost.deactivate()  # quadratic costs equalise the marginal costs: 2 p0 = 3 + 2 p1
        m.qcost = pyo.Objective(expr=m.p[0] ** 2 + 3.0 * m.p[1] + m.p[1] ** 2)
        out = solve_with_highs(m)
        return out.report.status.ok and pyo.value(m.p[0]) == pytest.approx(5.75, abs=1e-6)
    if capability == "supports_integer":
        m = _unit_commitment_milp(8.0)
        out = solve_with_highs(m)
        return out.report.status.ok and pyo.value(m.on) == pytest.approx(1.0, abs=1e-9)
    if capability == "persistent":
        m = _transport_lp(4.0)
        solver = HighsSolver(structure_fixed=True)
        solver.load(m)
        first = solver.solve(m).objective
        m.demand = 9.0  # changed in place: the loaded instance must see it without a reload
        return first == pytest.approx(4.0) and solver.solve(m).objective == pytest.approx(15.0)
    raise AssertionError(f"no attempt written for capability {capability!r}")


@pytest.mark.parametrize("capability", [f.name for f in fields(SolverCapabilities)])
def test_capability_flag_matches_what_highs_does(capability: str) -> None:
    """Each advertised flag is checked by using the capability (a new flag needs an attempt)."""
    assert HighsSolver.capabilities is HIGHS_CAPABILITIES
    assert getattr(HIGHS_CAPABILITIES, capability) == _attempt(capability)


def test_quadratic_with_integers_is_the_documented_limit() -> None:
    """``supports_integer`` says the objective must then be linear: HiGHS has no MIQP."""
    m = _unit_commitment_milp(8.0)
    m.cost2.deactivate()
    m.qcost = pyo.Objective(expr=m.p[0] ** 2 + 3.0 * m.p[1] + 10 * m.on)
    out = solve_with_highs(m)
    assert out.report.status is SolveStatus.ERROR
    assert "MIQP" in out.report.message
    assert out.objective is None


def _knapsack_milp() -> pyo.ConcreteModel:
    """max 5a + 4b + 3c subject to 2a + 3b + c <= 4 (binary): optimum 8 at a = c = 1, b = 0."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=2 * m.x[0] + 3 * m.x[1] + m.x[2] <= 4)
    m.obj = pyo.Objective(expr=-(5 * m.x[0] + 4 * m.x[1] + 3 * m.x[2]))
    return m


def test_milp_reports_bound_and_closed_gap() -> None:
    out = solve_with_highs(_knapsack_milp())
    assert out.report.status is SolveStatus.OPTIMAL
    assert out.objective == pytest.approx(-8.0)
    assert out.objective_bound is not None
    assert out.objective_bound <= out.objective + 1e-9
    assert out.mip_gap is not None and out.mip_gap <= 1e-4


def test_mip_gap_definition() -> None:
    """HiGHS's definition: |objective - bound| / |objective|; 0/0 is 0, x/0 is inf."""
    from gridopt.solvers.highs import HighsOutcome
    from gridopt.solvers.status import SolverReport

    report = SolverReport("highs", SolveStatus.NOT_CONVERGED, "time limit", 0, 1.0)
    assert HighsOutcome(report, 10.0, None, 0.0, objective_bound=9.0).mip_gap == pytest.approx(0.1)
    assert HighsOutcome(report, -8.0, None, 0.0, objective_bound=-8.5).mip_gap == (
        pytest.approx(0.0625))
    assert HighsOutcome(report, 0.0, None, 0.0, objective_bound=0.0).mip_gap == 0.0
    assert HighsOutcome(report, 0.0, None, 0.0, objective_bound=-1.0).mip_gap == float("inf")
    assert HighsOutcome(report, None, None, 0.0, objective_bound=-1.0).mip_gap is None
    assert HighsOutcome(report, 1.0, None, 0.0).mip_gap is None


def test_lp_bound_equals_objective() -> None:
    out = solve_with_highs(_transport_lp(10.0))
    assert out.objective_bound == pytest.approx(out.objective)
    assert out.mip_gap == pytest.approx(0.0)
