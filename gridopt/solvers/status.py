"""Solver-independent status of an optimisation."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SolveStatus(enum.Enum):
    """Outcome of a solve; the value is the string used in JSON output and result attributes."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    NOT_CONVERGED = "not_converged"
    ERROR = "error"

    @property
    def ok(self) -> bool:
        """True for an optimal solution."""
        return self is SolveStatus.OPTIMAL


@dataclass(frozen=True)
class SolverReport:
    """What a solver adapter reports besides the primal and dual values.

    Attributes
    ----------
    solver
        Solver name and version, e.g. ``"ipopt 3.14.11 (mumps)"``.
    status
        Normalised status.
    message
        The solver's own reason, verbatim, for logs and error messages.
    iterations
        Iterations (Ipopt) or simplex/IPM iterations (HiGHS).
    solve_seconds
        Wall time inside the solver call.
    """

    solver: str
    status: SolveStatus
    message: str
    iterations: int
    solve_seconds: float
