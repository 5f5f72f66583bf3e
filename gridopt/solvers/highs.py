"""HiGHS through Pyomo's persistent interface (``pyomo.contrib.solver.solvers.highs.Highs``).

One adapter for every Pyomo model that gridopt hands to HiGHS: LPs, convex QPs (quadratic
objective, linear constraints) and MILPs. It uses the *new* Pyomo solver interface
(``pyomo.contrib.solver``, registered as ``highs``) rather than APPSI because only the new one
passes a quadratic objective to HiGHS (APPSI's HiGHS interface is linear only); both are
persistent and both track mutable :class:`pyomo.environ.Param` values.

Usage
-----
One-shot::

    outcome = solve_with_highs(model, HighsOptions(time_limit_seconds=60), load_duals=True)
    if outcome.report.status.ok:
        lmp = outcome.duals[model.balance[3]]

Persistent (build once, change mutable ``Param`` values, re-solve without rebuilding)::

    solver = HighsSolver(HighsOptions(), structure_fixed=True)
    solver.solve(model)
    model.demand_pu[3] = 1.2          # a mutable Param in a constraint bound or coefficient
    solver.solve(model)               # only the changed numbers are pushed to HiGHS

With ``structure_fixed=True`` Pyomo does not look for added or removed constraints, variables
or objectives between solves (that walk costs about as much as building the model); variable
bounds, fixed values and mutable parameters are still updated. Use the default
(``structure_fixed=False``) when constraints are added or deactivated between solves.

Many re-solves of one large LP with small changes (the dispatch) are better built in matrix form
and changed in place with :class:`gridopt.solvers.highs_persistent.PersistentHighs` (highspy
directly). Manual updates (the switching MILP, whose cuts are Pyomo constraints): the caller
tells the adapter what changed, and each change reaches HiGHS as one batched call instead of
Pyomo's per-row scan::

    solver = HighsSolver(HighsOptions(), manual_updates=True)
    solver.load(model)
    model.demand_pu[3] = 1.2
    solver.push_parameters(model.balance.values())   # only these rows' bounds / coefficients
    model.cut = pyo.Constraint(expr=...)
    solver.add_constraints([model.cut])              # rows added after the load
    solver.solve(model, load_solution=False)
    x = solver.primal_values(solver.column_indices(model.p.values()))

Matrix form (no Pyomo; :mod:`gridopt.solvers.highs_matrix`)::

    outcome = solve_matrix_problem(MatrixProblem(cost, a_matrix, row_lower, row_upper, ...))

:func:`~gridopt.solvers.highs_matrix.solve_matrix_problem` passes a problem already assembled
as sparse matrices straight to ``highspy``; formulations built with vectorised NumPy/SciPy code
use it to skip Pyomo's per-constraint processing, which costs several times the HiGHS solve on
networks of a few thousand buses (see ``docs/dc_opf.md``). Its status mapping follows the same
table through HiGHS's own model status.

Status mapping (``pyomo`` termination condition -> :class:`SolveStatus`):

==========================================================  =================
``convergenceCriteriaSatisfied``                            ``OPTIMAL``
``provenInfeasible``, ``locallyInfeasible``,
``infeasibleOrUnbounded``                                   ``INFEASIBLE``
``maxTimeLimit``, ``iterationLimit``, ``objectiveLimit``,
``minStepLength``, ``interrupted``                          ``NOT_CONVERGED``
``unbounded``, ``error``, ``emptyModel``, ``unknown``, ...  ``ERROR``
==========================================================  =================

``infeasibleOrUnbounded`` is reported as infeasible because HiGHS's presolve returns it for
infeasible problems whose variables are all bounded; the message keeps HiGHS's own words.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray
from pyomo.contrib.solver.common.results import Results, TerminationCondition
from pyomo.contrib.solver.common.util import NoDualsError
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData

from gridopt.errors import SolverError
from gridopt.solvers import _pyomo_highs as internals
from gridopt.solvers._highs_threads import highs_threads
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)

OptionValue = bool | int | float | str


@dataclass(frozen=True)
class HighsOptions:
    """Options passed to HiGHS on every solve.

    Attributes
    ----------
    threads
        Number of threads HiGHS may use (``None``: HiGHS decides). HiGHS fixes its thread pool at
        the first solve in a process, so later changes may be ignored.
    time_limit_seconds
        Wall-clock limit of one solve (``None``: no limit). Hitting it gives ``NOT_CONVERGED``.
    primal_feasibility_tolerance, dual_feasibility_tolerance
        HiGHS's absolute feasibility tolerances (its defaults are 1e-7).
    presolve
        Run HiGHS's presolve (on by default; turning it off can help diagnose infeasibility).
    mip_rel_gap
        Relative optimality gap at which a MILP solve stops (HiGHS's default 1e-4).
    extra
        Further HiGHS options by their HiGHS name, e.g. ``(("solver", "ipm"),)``; applied last.
    """

    threads: int | None = None
    time_limit_seconds: float | None = None
    primal_feasibility_tolerance: float = 1e-7
    dual_feasibility_tolerance: float = 1e-7
    presolve: bool = True
    mip_rel_gap: float = 1e-4
    extra: tuple[tuple[str, OptionValue], ...] = ()

    def highs_option_values(self) -> dict[str, OptionValue]:
        """Return the HiGHS options (by HiGHS name) these settings stand for."""
        values: dict[str, OptionValue] = {
            "primal_feasibility_tolerance": self.primal_feasibility_tolerance,
            "dual_feasibility_tolerance": self.dual_feasibility_tolerance,
            "presolve": "on" if self.presolve else "off",
            "mip_rel_gap": self.mip_rel_gap,
        }
        values.update(dict(self.extra))
        return values


@dataclass(frozen=True)
class SolverCapabilities:
    """What a solver adapter can do; formulations check these before choosing a solver.

    Attributes
    ----------
    supports_duals
        Constraint duals (and reduced costs) are available for continuous problems.
    supports_quadratic
        A convex quadratic objective is accepted (constraints stay linear).
    supports_integer
        Integer and binary variables are accepted (then duals are not available and the
        objective must be linear: HiGHS has no MIQP).
    persistent
        A model can be re-solved after changing mutable parameters without rebuilding it.
    """

    supports_duals: bool
    supports_quadratic: bool
    supports_integer: bool
    persistent: bool


#: Capabilities of :class:`HighsSolver`.
HIGHS_CAPABILITIES = SolverCapabilities(
    supports_duals=True, supports_quadratic=True, supports_integer=True, persistent=True
)


@dataclass(frozen=True, eq=False)
class HighsOutcome:
    """Result of one HiGHS solve of a Pyomo model.

    Attributes
    ----------
    report
        Normalised status, HiGHS's message, iterations and solve time.
    objective
        Objective value at the returned point (``None`` when HiGHS has no feasible point).
    duals
        Constraint multipliers ``d objective / d right-hand side`` as HiGHS returns them (for a
        minimisation a binding ``<=`` row has a non-positive dual, a binding ``>=`` row a
        non-negative one), keyed by constraint data; ``None`` unless requested and available.
    load_seconds
        Time spent passing the model (or its changes) to HiGHS, excluding the solve.
    solver_log
        HiGHS's log of this solve (also logged at DEBUG level).
    objective_bound
        Best proven bound on the objective (HiGHS's MIP dual bound; the objective itself for a
        continuous problem solved to optimality; ``None`` when HiGHS has none).
    """

    report: SolverReport
    objective: float | None
    duals: Mapping[ConstraintData, float] | None
    load_seconds: float
    solver_log: str = field(default="", repr=False)
    objective_bound: float | None = None

    @property
    def mip_gap(self) -> float | None:
        """Relative gap ``|objective - bound| / |objective|`` as HiGHS defines ``mip_gap``.

        0 when both are 0, ``inf`` when only the objective is 0, ``None`` without an objective
        or a bound (no feasible point, or a failed solve).
        """
        if self.objective is None or self.objective_bound is None:
            return None
        diff = abs(self.objective - self.objective_bound)
        if self.objective == 0.0:
            return 0.0 if diff == 0.0 else math.inf
        return diff / abs(self.objective)


_STATUS_MAP: dict[TerminationCondition, SolveStatus] = {
    TerminationCondition.convergenceCriteriaSatisfied: SolveStatus.OPTIMAL,
    TerminationCondition.provenInfeasible: SolveStatus.INFEASIBLE,
    TerminationCondition.locallyInfeasible: SolveStatus.INFEASIBLE,
    TerminationCondition.infeasibleOrUnbounded: SolveStatus.INFEASIBLE,
    TerminationCondition.maxTimeLimit: SolveStatus.NOT_CONVERGED,
    TerminationCondition.iterationLimit: SolveStatus.NOT_CONVERGED,
    TerminationCondition.objectiveLimit: SolveStatus.NOT_CONVERGED,
    TerminationCondition.minStepLength: SolveStatus.NOT_CONVERGED,
    TerminationCondition.interrupted: SolveStatus.NOT_CONVERGED,
}


def map_termination(condition: TerminationCondition) -> SolveStatus:
    """Map a Pyomo termination condition onto :class:`SolveStatus` (table in the module doc)."""
    return _STATUS_MAP.get(condition, SolveStatus.ERROR)


def highs_version() -> str:
    """Return the HiGHS version string, e.g. ``"highs 1.16.0"``."""
    return "highs " + ".".join(str(v) for v in Highs().version())


def _highs_message(results: Results) -> str:
    """HiGHS's own account of the outcome, taken from its log ("Model status : ...")."""
    log = str(results.solver_log or "")
    lines = [ln.strip() for ln in log.splitlines()]
    status = [ln for ln in lines if ln.startswith("Model status")]
    problems = [ln for ln in lines if ln.startswith(("ERROR", "WARNING")) or "nfeasib" in ln]
    parts = [" ".join(status[-1].split()) if status else ""]
    parts += [p for p in problems[-3:] if p not in parts]
    message = "; ".join(p for p in parts if p)
    condition = results.termination_condition.name
    if not message:
        return f"pyomo termination: {condition}"
    return f"{message} (pyomo termination: {condition})"


def _is_miqp(model: pyo.Block) -> bool:
    """True when the active objective is quadratic and the model has integer variables.

    Only asked after a failed solve (to name the cause whatever Pyomo's version reports), so
    normal solves do not pay for the walk over the model.
    """
    from pyomo.repn import generate_standard_repn

    integer = any(v.is_integer() or v.is_binary()
                  for v in model.component_data_objects(pyo.Var, active=True))
    if not integer:
        return False
    for obj in model.component_data_objects(pyo.Objective, active=True):
        repn = generate_standard_repn(obj.expr, quadratic=True, compute_values=False)
        if repn.quadratic_vars:
            return True
    return False


def _iterations(results: Results) -> int:
    """Total simplex + IPM + QP + PDLP iterations HiGHS reported (0 when unknown)."""
    info = results.extra_info
    total = 0
    for name in (
        "simplex_iteration_count",
        "ipm_iteration_count",
        "qp_iteration_count",
        "pdlp_iteration_count",
    ):
        value = getattr(info, name, None)
        if isinstance(value, int) and value > 0:
            total += value
    return total


class HighsSolver:
    """A persistent HiGHS instance bound to one Pyomo model at a time.

    The first :meth:`solve` (or :meth:`load`) of a model passes it to HiGHS; later solves of
    the same model object only push changes (mutable parameters, variable bounds and, unless
    ``structure_fixed``, added or removed constraints). Solving another model object reloads.

    Parameters
    ----------
    options
        HiGHS settings; defaults to :class:`HighsOptions()`.
    structure_fixed
        Promise that no constraint, variable or objective is added or removed between solves of
        the same model; skips Pyomo's structural scan on re-solves (see the module docstring).
    manual_updates
        Promise that every change to a loaded model is passed on explicitly with
        :meth:`add_constraints` and :meth:`push_parameters` (variable bounds and fixed values
        included: fix them before loading); :meth:`solve` then sends nothing on its own, which
        removes Pyomo's scan of every mutable parameter, variable and constraint (tens of
        microseconds each) from every re-solve. Implies ``structure_fixed``.
    """

    capabilities = HIGHS_CAPABILITIES

    def __init__(
        self,
        options: HighsOptions | None = None,
        *,
        structure_fixed: bool = False,
        manual_updates: bool = False,
    ):
        self.options = options if options is not None else HighsOptions()
        self.structure_fixed = structure_fixed or manual_updates
        self.manual_updates = manual_updates
        structure_fixed = self.structure_fixed
        self._solver = Highs()
        if not self._solver.available():
            raise SolverError(
                "HiGHS is not available to Pyomo (the highspy package is missing); install it "
                "with 'pip install highspy'"
            )
        if structure_fixed:
            updates = self._solver.config.auto_updates
            updates.check_for_new_or_removed_constraints = False
            updates.check_for_new_or_removed_vars = False
            updates.check_for_new_or_removed_params = False
            updates.check_for_new_objective = False
            updates.update_constraints = False
            updates.update_named_expressions = False
        self._model: pyo.Block | None = None
        self._fresh = False  # loaded by load() and not solved since: skip Pyomo's update scan
        self._last: Results | None = None
        self.version = highs_version()

    def load(self, model: pyo.Block) -> float:
        """Pass ``model`` to HiGHS now (without solving) and return the seconds it took.

        Optional: :meth:`solve` loads a model it has not seen. Loading explicitly separates the
        load time from the first solve. Unlike :meth:`solve`, this raises Pyomo's error if the
        model has constraints HiGHS cannot take (nonlinear expressions).
        """
        tick = time.perf_counter()
        self._solver.set_instance(model)
        if self.manual_updates:
            internals.check_internals(self._solver)
        self._model = model
        self._fresh = True
        return time.perf_counter() - tick

    def solve(
        self,
        model: pyo.Block,
        *,
        load_duals: bool = False,
        duals_of: Sequence[ConstraintData] | None = None,
        load_solution: bool = True,
    ) -> HighsOutcome:
        """Solve ``model`` with HiGHS; never raises for infeasible or failed solves.

        Parameters
        ----------
        model
            A Pyomo model with one active objective, linear constraints and a linear or convex
            quadratic objective.
        load_duals
            Return constraint duals (continuous problems with an optimal solution only; for a
            MILP ``duals`` stays ``None``).
        duals_of
            Restrict the returned duals to these constraints (default: all).
        load_solution
            Write the primal values into the model's variables (``False``: read them as arrays
            with :meth:`primal_values`, much faster for large models).

        Returns
        -------
        HighsOutcome
            The report and, when a feasible point exists, the variable values are loaded into
            the model (``pyo.value(var)``). Failed solves leave variable values untouched.

        Notes
        -----
        Long because one solve has several paths (manual, fresh and ordinary updates,
        failure, duals), each short.
        """
        config: dict[str, object] = {
            "load_solutions": False,
            "raise_exception_on_nonoptimal_result": False,
            "threads": highs_threads(self.options.threads),
            "time_limit": self.options.time_limit_seconds,
            "solver_options": self.options.highs_option_values(),
        }
        same = model is self._model
        if same and self.manual_updates:
            config["auto_updates"] = {name: False for name in self._solver.config.auto_updates}
        elif same and self._fresh:
            # just loaded: the structure is what HiGHS holds, but parameter values and variable
            # bounds may have changed since load(); push those (cheap) and skip the scans
            config["auto_updates"] = {
                name: name in ("update_parameters", "update_vars")
                for name in self._solver.config.auto_updates
            }
        run_before = internals.highs_model(self._solver).getRunTime() if same else 0.0
        self._fresh = False
        self._model = model
        tick = time.perf_counter()
        try:
            results = self._solver.solve(model, **config)
        except Exception as exc:  # HiGHS or Pyomo refused the model: report, don't crash
            seconds = time.perf_counter() - tick
            logger.debug("HiGHS failed on %s", model.name, exc_info=True)
            report = SolverReport(
                solver=self.version,
                status=SolveStatus.ERROR,
                message=f"{type(exc).__name__}: {exc}",
                iterations=0,
                solve_seconds=seconds,
            )
            self._model = None  # the instance may be half-updated: reload next time
            return HighsOutcome(report, None, None, seconds)
        timer_seconds = time.perf_counter() - tick
        highs_seconds = getattr(results.timing_info, "highs_time", None)  # HiGHS's run clock,
        # which counts every run of this instance: subtract what it showed before this solve
        solve_seconds = (
            float(highs_seconds) - run_before if highs_seconds is not None else timer_seconds
        )
        load_seconds = max(timer_seconds - solve_seconds, 0.0)
        log = str(results.solver_log or "")
        logger.debug("HiGHS log for %s:\n%s", model.name, log)

        status = map_termination(results.termination_condition)
        message = _highs_message(results)
        if status is SolveStatus.ERROR and _is_miqp(model):
            message = ("HiGHS cannot solve a quadratic objective with integer variables (MIQP); "
                       "linearise the objective or relax the integers (" + message + ")")
        report = SolverReport(
            solver=self.version,
            status=status,
            message=message,
            iterations=_iterations(results),
            solve_seconds=solve_seconds,
        )
        self._last = results
        objective = results.incumbent_objective
        has_point = objective is not None
        if has_point and load_solution:
            results.solution_loader.load_vars()
        duals: Mapping[ConstraintData, float] | None = None
        if load_duals and status is SolveStatus.OPTIMAL:
            try:
                duals = results.solution_loader.get_duals(
                    list(duals_of) if duals_of is not None else None
                )
            except NoDualsError:  # a MILP: HiGHS returns no dual solution
                logger.debug("HiGHS returned no duals for %s (integer variables?)", model.name)
        return HighsOutcome(
            report=report,
            objective=float(objective) if has_point else None,
            duals=duals,
            load_seconds=load_seconds,
            solver_log=log,
            objective_bound=(float(results.objective_bound)
                             if has_point and results.objective_bound is not None else None),
        )

    def _loaded(self, what: str) -> None:
        if self._model is None:
            raise SolverError(f"{what}: no model is loaded in this HighsSolver; call load() first")

    def add_constraints(self, constraints: Sequence[ConstraintData]) -> float:
        """Pass rows added to the loaded Pyomo model after :meth:`load` to HiGHS.

        HiGHS keeps its basis, so the next solve starts from the previous optimum (the new rows
        enter as basic slacks). Returns the seconds it took.
        """
        self._loaded("add_constraints")
        tick = time.perf_counter()
        self._solver.add_constraints(list(constraints))
        return time.perf_counter() - tick

    def push_parameters(
        self, constraints: Iterable[ConstraintData] | None = None, objective: bool = True
    ) -> float:
        """Send the current values of mutable parameters to HiGHS, in batches.

        Parameters
        ----------
        constraints
            Rows whose bounds or coefficients contain the changed parameters (default: every
            row that contains any). Row bounds go to HiGHS in one ``changeRowsBounds`` call;
            coefficients one ``changeCoeff`` each.
        objective
            Also refresh the objective's mutable coefficients and constant.

        Returns
        -------
        float
            Seconds taken.
        """
        self._loaded("push_parameters")
        tick = time.perf_counter()
        internals.push_mutable(self._solver, constraints, objective)
        return time.perf_counter() - tick

    def column_indices(self, variables: Iterable[VarData], missing: int | None = None
                       ) -> NDArray[np.int64]:
        """HiGHS column of each variable of the loaded model (for :meth:`primal_values`).

        A variable HiGHS does not hold (fixed, or in no active row or objective) raises
        ``KeyError``, or gets ``missing`` when given (e.g. ``-1``).
        """
        self._loaded("column_indices")
        var_map = internals.column_map(self._solver)
        if missing is None:
            return np.fromiter((var_map[id(v)] for v in variables), dtype=np.int64)
        return np.fromiter((var_map.get(id(v), missing) for v in variables), dtype=np.int64)

    def n_columns(self) -> int:
        """Number of columns of the problem HiGHS holds."""
        self._loaded("n_columns")
        return int(internals.highs_model(self._solver).getNumCol())

    def row_indices(self, constraints: Iterable[ConstraintData]) -> NDArray[np.int64]:
        """HiGHS row of each constraint of the loaded model (for :meth:`row_duals`)."""
        self._loaded("row_indices")
        con_map = internals.row_map(self._solver)
        return np.fromiter((con_map[c] for c in constraints), dtype=np.int64)

    def primal_values(self, columns: NDArray[np.int64]) -> NDArray[np.float64]:
        """Values of these columns in HiGHS's last solution (see :meth:`column_indices`).

        Raises
        ------
        SolverError
            If HiGHS holds no primal solution.
        """
        self._loaded("primal_values")
        solution = internals.highs_model(self._solver).getSolution()
        if not solution.value_valid:
            raise SolverError("HiGHS holds no primal solution; check the last solve's status")
        return np.asarray(solution.col_value, dtype=np.float64)[columns]

    def row_duals(self, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """Duals of these rows in HiGHS's last solution (same convention as ``duals``).

        Raises
        ------
        SolverError
            If HiGHS holds no dual solution.
        """
        self._loaded("row_duals")
        solution = internals.highs_model(self._solver).getSolution()
        if not solution.dual_valid:
            raise SolverError("HiGHS holds no dual solution; check the last solve's status")
        return np.asarray(solution.row_dual, dtype=np.float64)[rows]

    def reduced_costs(self, variables: Sequence[VarData] | None = None) -> Mapping[VarData, float]:
        """Reduced costs of the last optimal continuous solve (HiGHS's sign convention).

        Raises
        ------
        SolverError
            If there was no solve yet or the last one has no dual solution.
        """
        if self._last is None or map_termination(self._last.termination_condition) is not (
            SolveStatus.OPTIMAL
        ):
            raise SolverError(
                "no reduced costs: the last HiGHS solve did not end optimal; check its report"
            )
        wanted = list(variables) if variables is not None else None
        return self._last.solution_loader.get_reduced_costs(wanted)


def solve_with_highs(
    model: pyo.Block,
    options: HighsOptions | None = None,
    *,
    load_duals: bool = False,
    duals_of: Sequence[ConstraintData] | None = None,
) -> HighsOutcome:
    """Solve a Pyomo model once with HiGHS (see :meth:`HighsSolver.solve`).

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(bounds=(0, 10))
    >>> m.need = pyo.Constraint(expr=m.x >= 2)
    >>> m.cost = pyo.Objective(expr=3 * m.x + m.x**2)
    >>> out = solve_with_highs(m, load_duals=True)
    >>> out.report.status.value, round(out.objective, 6), round(out.duals[m.need], 6)
    ('optimal', 10.0, 7.0)
    """
    return HighsSolver(options).solve(model, load_duals=load_duals, duals_of=duals_of)
