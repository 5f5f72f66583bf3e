"""MIP starts for a model loaded in a :class:`~gridopt.solvers.highs.HighsSolver`.

HiGHS takes a (partial) starting point through ``Highs.setSolution(num_entries, index,
value)``; for a MILP it fixes the given integer values, completes the point with an LP and, if
that is feasible, starts the tree search with it as the incumbent. Any change pushed to HiGHS
afterwards (bounds, rows) discards the start, so it is only useful with
``HighsSolver(manual_updates=True)``, whose :meth:`~gridopt.solvers.highs.HighsSolver.solve`
sends nothing before running::

    solver = HighsSolver(options, manual_updates=True)
    solver.load(model)
    set_mip_start(solver, list(model.y.values()), [1.0, 0.0, ...])
    solver.solve(model)
"""

from __future__ import annotations

from collections.abc import Sequence

import highspy
import numpy as np
from pyomo.core.base.var import VarData

from gridopt.errors import SolverError
from gridopt.solvers import _pyomo_highs as internals
from gridopt.solvers.highs import HighsSolver


def set_mip_start(solver: HighsSolver, variables: Sequence[VarData],
                  values: Sequence[float]) -> bool:
    """Hand HiGHS the values of ``variables`` as the start of the next solve.

    Parameters
    ----------
    solver
        A solver with the model loaded and ``manual_updates=True``.
    variables, values
        Variables of the loaded model and their start values (variables HiGHS does not hold,
        e.g. fixed ones, are skipped).

    Returns
    -------
    bool
        HiGHS accepted the start.

    Raises
    ------
    SolverError
        No model is loaded, or the solver pushes updates on its own at solve time.
    """
    if not solver.manual_updates:
        raise SolverError("set_mip_start: the HighsSolver must use manual_updates=True (an "
                          "automatic update at solve time would discard the start)")
    columns = solver.column_indices(variables, missing=-1)
    keep = columns >= 0
    highs = internals.highs_model(solver._solver)
    status = highs.setSolution(int(keep.sum()), columns[keep].astype(np.int32),
                               np.asarray(values, dtype=np.float64)[keep])
    return bool(status == highspy.HighsStatus.kOk)
