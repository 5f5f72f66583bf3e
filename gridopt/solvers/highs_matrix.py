"""HiGHS on a problem already in matrix form (no Pyomo): :func:`solve_matrix_problem`.

Formulations built with vectorised NumPy/SciPy code (the DC-OPF, the direct dispatch path)
assemble sparse matrices and hand them straight to ``highspy``, skipping Pyomo's per-constraint
processing. Options and the status table are those of :mod:`gridopt.solvers.highs`; the status
comes from HiGHS's own model status.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from pyomo.common.tee import capture_output

from gridopt.errors import SolverError
from gridopt.solvers._highs_threads import highs_threads
from gridopt.solvers.highs import HighsOptions, OptionValue, highs_version
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MatrixProblem:
    r"""A linear or convex quadratic problem in matrix form.

    .. math::

        \min_x \; c^\top x + \tfrac12 x^\top Q x + c_0 \quad \text{s.t.} \quad
        \ell_r \le A x \le u_r, \quad \ell_x \le x \le u_x

    Infinite bounds (``np.inf``) mean "no bound"; equal bounds make an equality.

    Attributes
    ----------
    cost
        Linear cost ``c``, shape ``(n,)``.
    a_matrix
        Constraint matrix ``A``, shape ``(m, n)`` (any SciPy sparse format).
    row_lower, row_upper
        Row bounds, shape ``(m,)``.
    col_lower, col_upper
        Variable bounds, shape ``(n,)``.
    hessian
        Symmetric positive semi-definite ``Q``, shape ``(n, n)``, or ``None`` for an LP.
    offset
        Constant ``c_0`` added to the objective.
    """

    cost: NDArray[np.float64]
    a_matrix: sp.spmatrix | sp.sparray
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]
    col_lower: NDArray[np.float64]
    col_upper: NDArray[np.float64]
    hessian: sp.spmatrix | sp.sparray | None = None
    offset: float = 0.0


@dataclass(frozen=True, eq=False)
class MatrixOutcome:
    """Result of :func:`solve_matrix_problem`.

    Attributes
    ----------
    report
        Normalised status, HiGHS's model status text, iterations, solve time.
    objective
        Objective value including ``offset`` (``None`` without a feasible point).
    x
        Primal values, shape ``(n,)`` (``None`` without a feasible point).
    row_duals
        ``d objective / d row bound`` per row (same convention as :class:`HighsOutcome`);
        ``None`` unless optimal.
    load_seconds
        Time to pass the matrices to HiGHS.
    """

    report: SolverReport
    objective: float | None
    x: NDArray[np.float64] | None
    row_duals: NDArray[np.float64] | None
    load_seconds: float


_HIGHS_STATUS: dict[str, SolveStatus] = {
    "kOptimal": SolveStatus.OPTIMAL,
    "kInfeasible": SolveStatus.INFEASIBLE,
    "kUnboundedOrInfeasible": SolveStatus.INFEASIBLE,
    "kTimeLimit": SolveStatus.NOT_CONVERGED,
    "kIterationLimit": SolveStatus.NOT_CONVERGED,
    "kObjectiveBound": SolveStatus.NOT_CONVERGED,
    "kObjectiveTarget": SolveStatus.NOT_CONVERGED,
    "kSolutionLimit": SolveStatus.NOT_CONVERGED,
    "kInterrupt": SolveStatus.NOT_CONVERGED,
    "kHighsInterrupt": SolveStatus.NOT_CONVERGED,
}


def new_highs(options: HighsOptions) -> highspy.Highs:
    """A silent ``highspy.Highs`` with ``options`` applied (the one-time banner is swallowed)."""
    with capture_output(capture_fd=True) as banner:
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
    if banner.getvalue():
        logger.debug("%s", banner.getvalue().strip())
    values: dict[str, OptionValue] = dict(options.highs_option_values())
    values["threads"] = highs_threads(options.threads)
    if options.time_limit_seconds is not None:
        values["time_limit"] = float(options.time_limit_seconds)
    for name, value in values.items():
        if highs.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise SolverError(
                f"HiGHS rejected option {name} = {value!r}; check the name and type against the "
                "HiGHS options list (https://ergo-code.github.io/HiGHS/stable/options/definitions/)"
            )
    return highs


def solve_matrix_problem(
    problem: MatrixProblem, options: HighsOptions | None = None
) -> MatrixOutcome:
    """Solve a :class:`MatrixProblem` with ``highspy`` directly; never raises for bad outcomes.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> prob = MatrixProblem(cost=np.array([3.0]), a_matrix=sp.csr_matrix([[1.0]]),
    ...                      row_lower=np.array([2.0]), row_upper=np.array([np.inf]),
    ...                      col_lower=np.array([0.0]), col_upper=np.array([10.0]),
    ...                      hessian=sp.csr_matrix([[2.0]]))
    >>> out = solve_matrix_problem(prob)
    >>> out.report.status.value, round(out.objective, 6), float(round(out.row_duals[0], 6))
    ('optimal', 10.0, 7.0)
    """
    options = options if options is not None else HighsOptions()
    tick = time.perf_counter()
    highs = new_highs(options)
    passed = highs.passModel(highs_model(problem))
    load_seconds = time.perf_counter() - tick
    if passed == highspy.HighsStatus.kError:
        report = SolverReport(
            highs_version(), SolveStatus.ERROR,
            "HiGHS rejected the model (passModel returned an error): check that bounds are "
            "ordered, the Hessian is symmetric and the shapes agree", 0, 0.0,
        )
        return MatrixOutcome(report, None, None, None, load_seconds)
    return run_highs(highs, load_seconds)


def clip_infinite(values: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """Bounds as HiGHS takes them (``inf`` becomes ``kHighsInf``)."""
    inf = highspy.kHighsInf
    return np.clip(np.asarray(values, dtype=np.float64), -inf, inf)


def highs_model(problem: MatrixProblem) -> highspy.HighsModel:
    """The ``highspy.HighsModel`` of a :class:`MatrixProblem` (column-wise matrix)."""
    n = len(problem.cost)
    a = sp.csc_matrix(problem.a_matrix)
    a.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_ = np.asarray(problem.cost, dtype=np.float64)
    lp.col_lower_ = clip_infinite(problem.col_lower)
    lp.col_upper_ = clip_infinite(problem.col_upper)
    lp.row_lower_ = clip_infinite(problem.row_lower)
    lp.row_upper_ = clip_infinite(problem.row_upper)
    lp.offset_ = float(problem.offset)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    model = highspy.HighsModel()
    model.lp_ = lp
    if problem.hessian is not None:
        lower = sp.csc_matrix(sp.tril(problem.hessian, format="csc"))
        lower.eliminate_zeros()
        lower.sort_indices()
        hess = highspy.HighsHessian()
        hess.dim_ = n
        hess.format_ = highspy.HessianFormat.kTriangular
        hess.start_ = lower.indptr.astype(np.int32)
        hess.index_ = lower.indices.astype(np.int32)
        hess.value_ = lower.data.astype(np.float64)
        model.hessian_ = hess
    return model


def run_highs(highs: highspy.Highs, load_seconds: float) -> MatrixOutcome:
    """Run HiGHS on the model it holds and read the outcome (status by HiGHS's model status)."""
    tick = time.perf_counter()
    highs.run()
    solve_seconds = time.perf_counter() - tick
    model_status = highs.getModelStatus()
    status = _HIGHS_STATUS.get(model_status.name, SolveStatus.ERROR)
    info = highs.getInfo()
    iterations = sum(
        max(int(getattr(info, name, 0)), 0)
        for name in (
            "simplex_iteration_count",
            "ipm_iteration_count",
            "qp_iteration_count",
            "pdlp_iteration_count",
        )
    )
    report = SolverReport(
        solver=highs_version(),
        status=status,
        message=f"Model status: {highs.modelStatusToString(model_status)}",
        iterations=iterations,
        solve_seconds=solve_seconds,
    )
    has_point = int(info.primal_solution_status) == 2  # 2: feasible point available
    solution = highs.getSolution()
    x = np.asarray(solution.col_value, dtype=np.float64) if has_point else None
    duals = None
    if status is SolveStatus.OPTIMAL and solution.dual_valid:
        duals = np.asarray(solution.row_dual, dtype=np.float64)
    objective = float(info.objective_function_value) if has_point else None
    return MatrixOutcome(report, objective, x, duals, load_seconds)
