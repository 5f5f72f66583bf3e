r"""The lossless multi-period DC dispatch as one sparse matrix problem, passed to HiGHS directly.

The direct-matrix path: the same constraint families as the persistent re-solve path
(:mod:`gridopt.opf.dispatch.constraints`, stacked by :func:`gridopt.opf.dispatch.model.
to_problem`) in the compact form of :class:`~gridopt.opf.dispatch.layout.Form` (flows
substituted, one ranged thermal row per rated branch and period), with ``GridModel.DC_LOSSES``
and no losses, for one set of inputs. ``tests/dispatch/test_rows.py`` checks that it has the
optimum of the explicit form solved through the persistent path. It is used for large meshed
networks where the loss linearisation is not wanted (the benchmark against PyPSA,
``docs/benchmarks/dispatch.md``).

Rows: ``storage_balance`` (storage, t), ``storage_final`` (storage), ``shift_energy``
(flexible load), ``p_balance`` (bus, t), ``thermal`` (rated branch, t); columns in the table of
:func:`~gridopt.opf.dispatch.layout.make_layout`.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import scipy.sparse as sp

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.layout import ColumnLayout, Form
from gridopt.opf.dispatch.model import build_dispatch_model, set_inputs, to_problem
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_matrix import MatrixOutcome, MatrixProblem, solve_matrix_problem


@dataclass(frozen=True, eq=False)
class DispatchMatrices:
    """The assembled LP and where each family of columns and rows sits.

    Attributes
    ----------
    problem
        The LP in matrix form.
    columns
        Column slice of each variable family (element-major blocks of ``n_periods``).
    rows
        Row slice of each constraint family.
    n_periods
        Horizon length.
    flow_matrix
        ``diag(b) A``: branch flows (MW) of the angles (rad).
    layout
        The column layout.
    """

    problem: MatrixProblem
    columns: dict[str, slice]
    rows: dict[str, slice]
    n_periods: int
    flow_matrix: sp.csr_matrix
    layout: ColumnLayout

    def values(self, x: FloatArray, family: str) -> FloatArray:
        """Values of one column family as a ``(time, element)`` array.

        Also the derived ``p_flow`` (branch flows, ``diag(b) A theta``) and ``s_over``
        (thermal slack, ``s_over_up + s_over_down``).
        """
        return self.layout.values(x, family)


def build_dc_dispatch_matrices(
    grid: DispatchGrid,
    assets: Assets,
    positions: dict[str, list[int]],
    inputs: DispatchInputs,
    options: DispatchOptions,
) -> DispatchMatrices:
    r"""Assemble the lossless multi-period DC dispatch LP in the compact form.

    The objective is :func:`gridopt.opf.dispatch.model.objective_costs` without network losses
    or voltage slack:

    .. math::

        \Delta t \sum_t \Big[ w_\ell \sum_s ((1-\eta^c_s) p^c_{s,t} + (1/\eta^d_s - 1) p^d_{s,t})
            + c_\text{curt} \sum_i p^\text{curt}_{i,t} + c_\text{cyc} \sum_s (p^c + p^d)
            + \pi_t p^\text{grid}_t + \sum_g c_g p^\text{gen}_{g,t}
            + \rho_S \sum_l s^\text{over}_{l,t} \Big]

    Parameters
    ----------
    grid, assets
        Network and controllable assets.
    positions
        Bus position of every asset by kind
        (:func:`gridopt.opf.dispatch.model.asset_positions`); must be those of ``assets``.
    inputs
        Forecast on the grid's buses.
    options
        Objective weights (the grid model is DC whatever ``options.grid_model`` says).
    """
    dc = dataclasses.replace(options, grid_model=GridModel.DC_LOSSES)
    dm = build_dispatch_model(grid, assets, inputs.n_periods, inputs.period_hours, dc,
                              with_losses=False, form=Form.COMPACT)
    if dm.positions != positions:
        raise ValueError("positions are not those of the assets on this grid")
    set_inputs(dm, inputs)
    problem = to_problem(dm)
    return DispatchMatrices(problem=problem, columns=dict(dm.layout.columns), rows=dm.rows,
                            n_periods=inputs.n_periods, flow_matrix=dm.layout.flow_matrix,
                            layout=dm.layout)


@dataclass(frozen=True, eq=False)
class MatrixDispatch:
    """Outcome of :func:`solve_dc_dispatch_matrices`: the HiGHS outcome and the layout."""

    outcome: MatrixOutcome
    matrices: DispatchMatrices
    build_seconds: float


def solve_dc_dispatch_matrices(
    grid: DispatchGrid,
    assets: Assets,
    positions: dict[str, list[int]],
    inputs: DispatchInputs,
    options: DispatchOptions,
    highs: HighsOptions | None = None,
) -> MatrixDispatch:
    """Build (:func:`build_dc_dispatch_matrices`) and solve the lossless DC dispatch."""
    tick = time.perf_counter()
    matrices = build_dc_dispatch_matrices(grid, assets, positions, inputs, options)
    build_seconds = time.perf_counter() - tick
    outcome = solve_matrix_problem(
        matrices.problem, highs if highs is not None else HighsOptions(threads=options.threads)
    )
    return MatrixDispatch(outcome=outcome, matrices=matrices, build_seconds=build_seconds)
