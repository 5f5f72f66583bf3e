"""A persistent HiGHS instance driven through ``highspy`` directly: :class:`PersistentHighs`.

Built for LPs that are solved many times with small changes (the dispatch's successive loss
linearisation): the problem is passed once as a :class:`~gridopt.solvers.highs_matrix.
MatrixProblem`, then only what changed is sent, each change one batched ``highspy`` call, and
HiGHS re-solves from its last basis::

    solver = PersistentHighs(HighsOptions(threads=1))
    solver.load(problem)                                   # passModel
    solver.change_row_bounds(rows, lower, upper)           # changeRowsBounds
    solver.change_column_bounds(cols, lower, upper)        # changeColsBounds
    solver.change_costs(cols, costs)                       # changeColsCost
    solver.change_coefficients(rows, cols, values)         # changeCoeff, one per entry
    first_new_row = solver.add_rows(matrix, lower, upper)  # addRows
    outcome = solver.solve()                               # run, status by HiGHS's model status

No Pyomo is involved, so nothing private of Pyomo is used. Options and the status table are
those of :mod:`gridopt.solvers.highs` (see :func:`~gridopt.solvers.highs_matrix.run_highs`).
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from gridopt.errors import SolverError
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_matrix import (
    MatrixOutcome,
    MatrixProblem,
    clip_infinite,
    highs_model,
    new_highs,
    run_highs,
)


def _checked(status: highspy.HighsStatus, what: str) -> None:
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS rejected {what}; check the indices and that bounds are ordered")


class PersistentHighs:
    """One ``highspy.Highs`` holding one LP that changes between solves.

    Parameters
    ----------
    options
        HiGHS settings; defaults to :class:`~gridopt.solvers.highs.HighsOptions()`.
    """

    def __init__(self, options: HighsOptions | None = None) -> None:
        self.options = options if options is not None else HighsOptions()
        self._highs = new_highs(self.options)
        self._loaded = False
        self._seconds = 0.0

    @property
    def n_rows(self) -> int:
        """Rows of the problem HiGHS holds."""
        return int(self._highs.getNumRow())

    @property
    def n_columns(self) -> int:
        """Columns of the problem HiGHS holds."""
        return int(self._highs.getNumCol())

    @property
    def update_seconds(self) -> float:
        """Seconds spent sending changes since the last :meth:`solve` (or the load)."""
        return self._seconds

    def load(self, problem: MatrixProblem) -> float:
        """Pass ``problem`` to HiGHS (replacing any earlier one); return the seconds it took.

        Raises
        ------
        SolverError
            If HiGHS rejects the problem.
        """
        tick = time.perf_counter()
        _checked(self._highs.passModel(highs_model(problem)), "the problem (passModel)")
        self._loaded = True
        return time.perf_counter() - tick

    def _need_model(self, what: str) -> None:
        if not self._loaded:
            raise SolverError(f"{what}: no problem is loaded in this PersistentHighs; load() first")

    def change_row_bounds(
        self, rows: NDArray[np.int64], lower: NDArray[np.float64], upper: NDArray[np.float64]
    ) -> None:
        """Set the bounds of these rows (``inf`` for none)."""
        self._need_model("change_row_bounds")
        if len(rows):
            tick = time.perf_counter()
            _checked(self._highs.changeRowsBounds(  # type: ignore[attr-defined]
                len(rows), np.asarray(rows, dtype=np.int32), clip_infinite(lower),
                clip_infinite(upper)), "new row bounds")
            self._seconds += time.perf_counter() - tick

    def change_column_bounds(
        self, cols: NDArray[np.int64], lower: NDArray[np.float64], upper: NDArray[np.float64]
    ) -> None:
        """Set the bounds of these columns (``inf`` for none)."""
        self._need_model("change_column_bounds")
        if len(cols):
            tick = time.perf_counter()
            _checked(self._highs.changeColsBounds(
                len(cols), np.asarray(cols, dtype=np.int32), clip_infinite(lower),
                clip_infinite(upper)), "new column bounds")
            self._seconds += time.perf_counter() - tick

    def change_costs(self, cols: NDArray[np.int64], costs: NDArray[np.float64]) -> None:
        """Set the linear objective coefficients of these columns."""
        self._need_model("change_costs")
        if len(cols):
            tick = time.perf_counter()
            _checked(self._highs.changeColsCost(
                len(cols), np.asarray(cols, dtype=np.int32),
                np.asarray(costs, dtype=np.float64)), "new costs")
            self._seconds += time.perf_counter() - tick

    def change_coefficients(
        self, rows: NDArray[np.int64], cols: NDArray[np.int64], values: NDArray[np.float64]
    ) -> None:
        """Set matrix entries ``A[rows[k], cols[k]] = values[k]`` (one ``changeCoeff`` each).

        HiGHS ignores a value below its ``small_matrix_value`` (1e-9) where the matrix has no
        entry, with a warning; an existing entry takes any value.
        """
        self._need_model("change_coefficients")
        tick = time.perf_counter()
        change = self._highs.changeCoeff
        for r, c, v in zip(np.asarray(rows).tolist(), np.asarray(cols).tolist(),
                           np.asarray(values, dtype=np.float64).tolist(), strict=True):
            _checked(change(r, c, v), f"coefficient ({r}, {c})")
        self._seconds += time.perf_counter() - tick

    def add_rows(
        self,
        matrix: sp.spmatrix | sp.sparray,
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
    ) -> int:
        """Append rows ``lower <= matrix @ x <= upper``; return the index of the first new one."""
        self._need_model("add_rows")
        tick = time.perf_counter()
        first = self.n_rows
        m = sp.csr_matrix(matrix)
        m.sort_indices()
        if m.shape[0]:
            _checked(self._highs.addRows(
                m.shape[0], clip_infinite(lower), clip_infinite(upper), m.nnz,
                m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32),
                m.data.astype(np.float64)), "new rows (addRows)")
        self._seconds += time.perf_counter() - tick
        return first

    def solve(self) -> MatrixOutcome:
        """Solve the problem as it stands (from the last basis); never raises for bad outcomes.

        The outcome's ``load_seconds`` is the time spent sending changes since the last solve.
        """
        self._need_model("solve")
        outcome = run_highs(self._highs, self._seconds)
        self._seconds = 0.0
        return outcome
