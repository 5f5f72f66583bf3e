"""Adapter for Ipopt through ``cyipopt`` (Ipopt 3.14 with MUMPS from ``cyipopt-wheels``).

The adapter knows nothing about power systems: it takes any object satisfying
:class:`NLPCallbacks` (values, gradient, sparse Jacobian and Hessian of the Lagrangian with fixed
sparsity patterns), runs Ipopt and maps its return code to :class:`SolveStatus`. It also times
the callbacks so that benchmarks can report the share of Ipopt's time spent in our code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from gridopt.errors import SolverError
from gridopt.network.case import FloatArray, IntArray
from gridopt.solvers.status import SolverReport, SolveStatus

#: Ipopt treats bounds beyond +-1e19 as infinite.
IPOPT_INF = 2.0e19

# Ipopt ApplicationReturnStatus codes (IpReturnCodes_inc.h) -> gridopt status.
_STATUS = {
    0: SolveStatus.OPTIMAL,  # Solve_Succeeded
    1: SolveStatus.OPTIMAL,  # Solved_To_Acceptable_Level (reported in the message)
    2: SolveStatus.INFEASIBLE,  # Infeasible_Problem_Detected
    3: SolveStatus.NOT_CONVERGED,  # Search_Direction_Becomes_Too_Small
    4: SolveStatus.NOT_CONVERGED,  # Diverging_Iterates
    5: SolveStatus.ERROR,  # User_Requested_Stop
    6: SolveStatus.OPTIMAL,  # Feasible_Point_Found (square problems)
    -1: SolveStatus.NOT_CONVERGED,  # Maximum_Iterations_Exceeded
    -2: SolveStatus.NOT_CONVERGED,  # Restoration_Failed
    -3: SolveStatus.NOT_CONVERGED,  # Error_In_Step_Computation
    -4: SolveStatus.NOT_CONVERGED,  # Maximum_CpuTime_Exceeded
    -5: SolveStatus.NOT_CONVERGED,  # Maximum_WallTime_Exceeded
}


class NLPCallbacks(Protocol):
    """What Ipopt needs from a problem (the cyipopt problem-object protocol)."""

    def objective(self, x: FloatArray) -> float: ...

    def gradient(self, x: FloatArray) -> FloatArray: ...

    def constraints(self, x: FloatArray) -> FloatArray: ...

    def jacobian(self, x: FloatArray) -> FloatArray: ...

    def jacobianstructure(self) -> tuple[IntArray, IntArray]: ...

    def hessian(self, x: FloatArray, lagrange: FloatArray, obj_factor: float) -> FloatArray: ...

    def hessianstructure(self) -> tuple[IntArray, IntArray]: ...


@dataclass(frozen=True)
class NLPBounds:
    """Variable and constraint bounds and the start point of an NLP."""

    x_lower: FloatArray
    x_upper: FloatArray
    g_lower: FloatArray
    g_upper: FloatArray
    x0: FloatArray
    mult_g0: FloatArray | None = None
    mult_x_lower0: FloatArray | None = None
    mult_x_upper0: FloatArray | None = None

    @property
    def warm(self) -> bool:
        """True when start multipliers are given (Ipopt's ``warm_start_init_point``)."""
        return self.mult_g0 is not None


@dataclass(frozen=True)
class IpoptOptions:
    """Ipopt options (picklable). ``extra`` passes any other option verbatim.

    Defaults follow the measurements in ``docs/acopf.md``: ``fast_step_computation`` roughly
    halves MUMPS back-solves; ``mumps_pivot_order`` 0 (AMD) is a robust fill-reducing ordering.
    """

    tol: float = 1e-8
    max_iter: int = 500
    print_level: int = 0
    linear_solver: str = "mumps"
    mumps_pivot_order: int | None = None
    fast_step_computation: bool = True
    mu_strategy: str = "monotone"
    max_wall_time_s: float | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Ipopt option names and values."""
        opts: dict[str, Any] = {
            "tol": self.tol,
            "max_iter": self.max_iter,
            "print_level": self.print_level,
            "sb": "yes",
            "linear_solver": self.linear_solver,
            "mu_strategy": self.mu_strategy,
            "fast_step_computation": "yes" if self.fast_step_computation else "no",
        }
        if self.mumps_pivot_order is not None:
            opts["mumps_pivot_order"] = self.mumps_pivot_order
        if self.max_wall_time_s is not None:
            opts["max_wall_time"] = float(self.max_wall_time_s)
        opts.update(dict(self.extra))
        return opts


@dataclass
class CallbackTimes:
    """Seconds spent in each callback and call counts (filled during a solve)."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Seconds spent in all callbacks together."""
        return float(sum(self.seconds.values()))


@dataclass(frozen=True)
class NLPResult:
    """Primal and dual solution returned by Ipopt."""

    x: FloatArray
    g: FloatArray
    objective: float
    mult_g: FloatArray
    mult_x_lower: FloatArray
    mult_x_upper: FloatArray
    report: SolverReport
    callback_times: CallbackTimes


class _TimedProblem:
    """Wraps a problem object, timing each callback and counting iterations."""

    _NAMES = ("objective", "gradient", "constraints", "jacobian", "hessian")

    def __init__(self, problem: NLPCallbacks) -> None:
        self._problem = problem
        self.times = CallbackTimes()
        self.iterations = 0
        for name in self._NAMES:
            self.times.seconds[name] = 0.0
            self.times.calls[name] = 0

    def _timed(self, name: str, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = getattr(self._problem, name)(*args)
        self.times.seconds[name] += time.perf_counter() - t0
        self.times.calls[name] += 1
        return out

    def objective(self, x: FloatArray) -> float:
        return float(self._timed("objective", x))

    def gradient(self, x: FloatArray) -> FloatArray:
        out: FloatArray = self._timed("gradient", x)
        return out

    def constraints(self, x: FloatArray) -> FloatArray:
        out: FloatArray = self._timed("constraints", x)
        return out

    def jacobian(self, x: FloatArray) -> FloatArray:
        out: FloatArray = self._timed("jacobian", x)
        return out

    def hessian(self, x: FloatArray, lagrange: FloatArray, obj_factor: float) -> FloatArray:
        out: FloatArray = self._timed("hessian", x, lagrange, obj_factor)
        return out

    def jacobianstructure(self) -> tuple[IntArray, IntArray]:
        return self._problem.jacobianstructure()

    def hessianstructure(self) -> tuple[IntArray, IntArray]:
        return self._problem.hessianstructure()

    def intermediate(self, alg_mod: int, iter_count: int, *args: Any) -> bool:
        self.iterations = int(iter_count)
        return True


def ipopt_version() -> str:
    """Version string of the Ipopt library behind cyipopt."""
    import cyipopt

    return f"ipopt {cyipopt.IPOPT_VERSION[0]}.{cyipopt.IPOPT_VERSION[1]}.{cyipopt.IPOPT_VERSION[2]}"


def solve_nlp(problem: NLPCallbacks, bounds: NLPBounds, options: IpoptOptions) -> NLPResult:
    """Solve an NLP with Ipopt and return its primal-dual solution and a status report.

    Parameters
    ----------
    problem
        Callbacks with fixed Jacobian and Hessian sparsity patterns.
    bounds
        Variable/constraint bounds (use ``+-IPOPT_INF`` for none) and the start point.
    options
        Ipopt options.

    Returns
    -------
    NLPResult
        The solution; ``report.status`` says whether it is optimal. Ipopt failures are reported
        through the status and the solver's message, not raised.

    Raises
    ------
    SolverError
        If Ipopt cannot even start (invalid option, invalid problem definition).
    """
    import cyipopt

    timed = _TimedProblem(problem)
    n, m = len(bounds.x_lower), len(bounds.g_lower)
    nlp = cyipopt.Problem(
        n=n,
        m=m,
        problem_obj=timed,
        lb=bounds.x_lower,
        ub=bounds.x_upper,
        cl=bounds.g_lower,
        cu=bounds.g_upper,
    )
    try:
        for key, value in options.as_dict().items():
            nlp.add_option(key, value)
    except TypeError as exc:
        raise SolverError(f"invalid Ipopt option: {exc}") from None
    t0 = time.perf_counter()
    if bounds.warm:
        x, info = nlp.solve(
            np.asarray(bounds.x0, dtype=np.float64),
            lagrange=np.asarray(bounds.mult_g0, dtype=np.float64),
            zl=np.asarray(bounds.mult_x_lower0, dtype=np.float64),
            zu=np.asarray(bounds.mult_x_upper0, dtype=np.float64),
        )
    else:
        x, info = nlp.solve(np.asarray(bounds.x0, dtype=np.float64))
    seconds = time.perf_counter() - t0
    code = int(info["status"])
    message = info["status_msg"]
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    status = _STATUS.get(code, SolveStatus.ERROR)
    if code in (-10, -11, -12):
        raise SolverError(f"Ipopt refused the problem: {message}")
    report = SolverReport(
        solver=f"{ipopt_version()} ({options.linear_solver})",
        status=status,
        message=str(message),
        iterations=timed.iterations,
        solve_seconds=seconds,
    )
    return NLPResult(
        x=np.asarray(x),
        g=np.asarray(info["g"]),
        objective=float(info["obj_val"]),
        mult_g=np.asarray(info["mult_g"]),
        mult_x_lower=np.asarray(info["mult_x_L"]),
        mult_x_upper=np.asarray(info["mult_x_U"]),
        report=report,
        callback_times=timed.times,
    )
