"""PersistentHighs: every in-place change gives the optimum of the same problem solved afresh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from gridopt.errors import SolverError
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_matrix import MatrixProblem, solve_matrix_problem
from gridopt.solvers.highs_persistent import PersistentHighs
from gridopt.solvers.status import SolveStatus

OPTIONS = HighsOptions(threads=1)


def _problem() -> MatrixProblem:
    """Three plants meet a demand of 7; plants 0 and 1 share a line of 8; costs 1, 2, 3."""
    return MatrixProblem(
        cost=np.array([1.0, 2.0, 3.0]),
        a_matrix=sp.csr_matrix([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
        row_lower=np.array([7.0, -np.inf]),
        row_upper=np.array([7.0, 8.0]),
        col_lower=np.zeros(3),
        col_upper=np.full(3, 5.0),
    )


def _same(solver: PersistentHighs, problem: MatrixProblem) -> np.ndarray:
    """Solve in place and afresh; both optimal with the same objective, point and duals."""
    persistent = solver.solve()
    fresh = solve_matrix_problem(problem, OPTIONS)
    assert persistent.report.status is SolveStatus.OPTIMAL, persistent.report.message
    assert fresh.report.status is SolveStatus.OPTIMAL
    assert persistent.x is not None and fresh.x is not None
    assert persistent.row_duals is not None and fresh.row_duals is not None
    assert persistent.objective == pytest.approx(fresh.objective, rel=1e-12)
    np.testing.assert_allclose(persistent.x, fresh.x, atol=1e-9)
    np.testing.assert_allclose(persistent.row_duals, fresh.row_duals, atol=1e-9)
    return persistent.x


def test_each_change_matches_a_fresh_solve() -> None:
    problem = _problem()
    solver = PersistentHighs(OPTIONS)
    assert solver.load(problem) >= 0.0
    assert (solver.n_rows, solver.n_columns) == (2, 3)
    np.testing.assert_allclose(_same(solver, problem), [5.0, 2.0, 0.0])

    # demand 9 (row bounds)
    solver.change_row_bounds(np.array([0]), np.array([9.0]), np.array([9.0]))
    problem = dataclasses.replace(problem, row_lower=np.array([9.0, -np.inf]),
                                  row_upper=np.array([9.0, 8.0]))
    np.testing.assert_allclose(_same(solver, problem), [5.0, 3.0, 1.0])

    # plant 2 delivers half of its output (a coefficient), and gets cheaper (a cost)
    solver.change_coefficients(np.array([0]), np.array([2]), np.array([0.5]))
    solver.change_costs(np.array([2]), np.array([0.5]))
    problem = dataclasses.replace(problem, a_matrix=sp.csr_matrix([[1.0, 1.0, 0.5],
                                                                   [1.0, 1.0, 0.0]]),
                                  cost=np.array([1.0, 2.0, 0.5]))
    np.testing.assert_allclose(_same(solver, problem), [5.0, 1.5, 5.0])

    # plant 0 limited to 4 (column bounds)
    solver.change_column_bounds(np.array([0]), np.array([0.0]), np.array([4.0]))
    problem = dataclasses.replace(problem, col_upper=np.array([4.0, 5.0, 5.0]))
    np.testing.assert_allclose(_same(solver, problem), [4.0, 2.5, 5.0])

    # a new row: plants 1 and 2 share a line of 6 (rows are appended after the existing ones)
    new_row = sp.csr_matrix([[0.0, 1.0, 1.0]])
    assert solver.add_rows(new_row, np.array([-np.inf]), np.array([6.0])) == 2
    assert solver.n_rows == 3
    problem = dataclasses.replace(
        problem, a_matrix=sp.vstack([problem.a_matrix, new_row]),
        row_lower=np.append(problem.row_lower, -np.inf),
        row_upper=np.append(problem.row_upper, 6.0),
    )
    np.testing.assert_allclose(_same(solver, problem), [4.0, 4.0, 2.0])


def test_a_change_that_makes_the_problem_infeasible_is_reported() -> None:
    solver = PersistentHighs(OPTIONS)
    solver.load(_problem())
    assert solver.solve().report.status is SolveStatus.OPTIMAL
    solver.change_row_bounds(np.array([0]), np.array([16.0]), np.array([16.0]))  # > 15 of capacity
    out = solver.solve()
    assert out.report.status is SolveStatus.INFEASIBLE
    solver.change_row_bounds(np.array([0]), np.array([7.0]), np.array([7.0]))
    back = solver.solve()
    assert back.report.status is SolveStatus.OPTIMAL and back.objective == pytest.approx(9.0)


def test_changes_before_a_load_and_bad_indices_are_errors() -> None:
    solver = PersistentHighs(OPTIONS)
    with pytest.raises(SolverError, match="load"):
        solver.solve()
    with pytest.raises(SolverError, match="load"):
        solver.change_costs(np.array([0]), np.array([1.0]))
    solver.load(_problem())
    with pytest.raises(SolverError, match="row bounds"):
        solver.change_row_bounds(np.array([5]), np.array([0.0]), np.array([1.0]))
    with pytest.raises(SolverError, match="coefficient"):
        solver.change_coefficients(np.array([0]), np.array([9]), np.array([1.0]))
    # empty changes are no-ops
    solver.change_row_bounds(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    solver.change_coefficients(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    assert solver.solve().objective == pytest.approx(9.0)
