"""The only place gridopt touches private parts of Pyomo's HiGHS interface.

:class:`gridopt.solvers.highs.HighsSolver` re-solves large persistent models many times; Pyomo's
public ``update`` scans every row, variable and parameter, which costs more than the solve. So
the adapter reads Pyomo's maps from model components to HiGHS rows and columns, and pushes
changed row bounds to HiGHS in one batched call. Those maps and helpers are private to
``pyomo.contrib.solver.solvers.highs``: this module names each of them once, checks that the
installed Pyomo still has them (:func:`check_internals`, run when the adapter is created), and is
covered by ``tests/solvers/test_pyomo_highs.py`` against Pyomo's public results, so a Pyomo
release that renames them fails loudly in the tests and with a clear message at run time.

Tested with the Pyomo versions that pyproject.toml allows (its lower bound in ``make
test-lowest``, the newest release in ``make test``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import highspy
import numpy as np
import pyomo
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.core.base.constraint import ConstraintData

from gridopt.errors import SolverError

#: Private attributes of ``pyomo.contrib.solver.solvers.highs.Highs`` this module reads.
INTERNALS = (
    "_solver_model",
    "_pyomo_var_to_solver_var_map",
    "_pyomo_con_to_solver_con_map",
    "_mutable_helpers",
    "_mutable_objective",
)


def _mutable_bounds_class() -> type:
    from pyomo.contrib.solver.solvers import highs as pyomo_highs

    cls = getattr(pyomo_highs, "_MutableConstraintBounds", None)
    if cls is None:
        raise SolverError(_message("_MutableConstraintBounds"))
    return cls


def _message(name: str) -> str:
    return (f"Pyomo {pyomo.version.version} has no '{name}' in its HiGHS interface, which "
            "gridopt's persistent re-solves rely on; install a Pyomo version within the range "
            "in gridopt's requirements (pip install 'pyomo>=6.9.3,<7')")


def check_internals(solver: Highs) -> None:
    """Raise :class:`SolverError` unless ``solver`` (with a model loaded) has every internal used.

    Raises
    ------
    SolverError
        Naming the missing attribute and the Pyomo version.
    """
    for name in INTERNALS:
        if not hasattr(solver, name):
            raise SolverError(_message(name))
    _mutable_bounds_class()


def highs_model(solver: Highs) -> Any:
    """The ``highspy.Highs`` instance that holds the loaded model."""
    model: highspy.Highs = solver._solver_model
    return model


def column_map(solver: Highs) -> Mapping[int, int]:
    """``{id(variable data): HiGHS column}`` of the loaded model."""
    return solver._pyomo_var_to_solver_var_map


def row_map(solver: Highs) -> Mapping[ConstraintData, int]:
    """``{constraint data: HiGHS row}`` of the loaded model."""
    return solver._pyomo_con_to_solver_con_map


def push_mutable(solver: Highs, constraints: Iterable[ConstraintData] | None,
                 objective: bool) -> None:
    """Send the current values of mutable parameters in ``constraints`` (default: all) to HiGHS.

    Row bounds go in one ``changeRowsBounds`` call; coefficients through Pyomo's own helper
    (one ``changeCoeff`` each); the objective's mutable terms when ``objective``. Pyomo's cached
    solution is dropped, since it no longer belongs to the problem HiGHS holds.
    """
    bounds_cls: Any = _mutable_bounds_class()
    helpers = solver._mutable_helpers
    rows_of = row_map(solver)
    rows: list[int] = []
    lower: list[float] = []
    upper: list[float] = []
    for con in constraints if constraints is not None else list(helpers):
        helper: Any
        for helper in helpers.get(con, ()):
            if isinstance(helper, bounds_cls):
                rows.append(rows_of[con])
                lower.append(pyo.value(helper.lower_expr))
                upper.append(pyo.value(helper.upper_expr))
            else:
                helper.update()
    if rows:
        highs_model(solver).changeRowsBounds(
            len(rows),
            np.asarray(rows, dtype=np.int32),
            np.asarray(lower, dtype=np.float64),
            np.asarray(upper, dtype=np.float64),
        )
    if objective:
        solver._mutable_objective.update()
    solver._sol = None
