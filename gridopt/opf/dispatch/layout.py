r"""Column layout of the dispatch LP and the sparse row blocks its constraint families return.

Every constraint family of the dispatch (:mod:`gridopt.opf.dispatch.constraints`) is one
function returning a :class:`RowBlock` ``lower <= matrix @ x <= upper`` over the columns of one
:class:`ColumnLayout`, as :class:`gridopt.opf.dc.LinearRows` does for the DC-OPF. Both solve
paths consume these blocks: the persistent re-solve path
(:class:`~gridopt.opf.dispatch.linearisation.LinearisedDispatch`, rows passed once to a
:class:`~gridopt.solvers.highs_persistent.PersistentHighs`, then only changed bounds,
coefficients and costs) and the direct-matrix path (:mod:`gridopt.opf.dispatch.matrix`, one
:class:`~gridopt.solvers.highs_matrix.MatrixProblem`).

Columns are families of ``(element, period)`` blocks, element-major, so a family's values
reshape to ``(element, T)``; units are in the family names' docstrings of
:func:`make_layout`. Two forms (:class:`Form`):

``EXPLICIT``
    branch flow columns ``p_flow`` (and ``q_flow``), linked to angles by ``dc_flow`` rows in
    the DC model; one thermal slack ``s_over`` per rated branch and two rows per direction.
``COMPACT`` (lossless DC only)
    flows substituted, ``P = diag(b) A theta`` with ``b = S_base / (x tau)``; the soft thermal
    limit ``|P| <= R + s`` as one ranged row ``-R <= P - s_up + s_down <= R`` with two
    penalised slacks (at an optimum at most one is positive, so ``s_over = s_up + s_down``).
    The same optimum with fewer rows and columns: on case1354pegase over 24 periods HiGHS
    needs half the time of the explicit form.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.dispatch.grid import DispatchGrid


class Form(enum.Enum):
    """How branch flows and soft thermal limits are written (see the module docstring)."""

    EXPLICIT = "explicit"
    COMPACT = "compact"


@dataclass(frozen=True, eq=False)
class RowBlock:
    """One constraint family ``lower <= matrix @ x <= upper`` over a layout's columns.

    Attributes
    ----------
    name
        Family name (``p_balance``, ``loss_tangents``, ...).
    matrix
        CSR matrix, shape ``(n_rows, layout.n_columns)``; rows element-major like columns.
    lower, upper
        Row bounds (``-inf`` / ``inf`` for none, equal for an equality).
    """

    name: str
    matrix: sp.csr_matrix
    lower: FloatArray
    upper: FloatArray

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.matrix.shape[0])


@dataclass(frozen=True, eq=False)
class ColumnLayout:
    """Where each variable family sits among the LP's columns.

    Attributes
    ----------
    n_periods
        Horizon length ``T``.
    columns
        Column slice of each family (``n_elements * T`` columns, element-major).
    form
        Explicit or compact (:class:`Form`).
    flow_matrix
        ``diag(b) A``, shape ``(n_branch, n_bus)``: DC branch flows (MW) of angles (rad).
    rated
        Positions of the branches with a finite rating (the thermal-slack elements).
    n_columns
        Total number of columns.
    """

    n_periods: int
    columns: dict[str, slice]
    form: Form
    flow_matrix: sp.csr_matrix
    rated: IntArray
    n_columns: int

    def has(self, family: str) -> bool:
        """True when the family has at least one column."""
        c = self.columns.get(family)
        return c is not None and c.stop > c.start

    def size(self, family: str) -> int:
        """Number of elements of a family (0 when absent)."""
        c = self.columns.get(family)
        return 0 if c is None else (c.stop - c.start) // self.n_periods

    def indices(self, family: str) -> IntArray:
        """Column indices of a family, element-major."""
        c = self.columns[family]
        return np.arange(c.start, c.stop, dtype=np.int64)

    def place(self, family: str, local: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
        """Widen a matrix over one family's columns to all columns of the layout."""
        m = sp.csr_matrix(local)
        start = self.columns[family].start
        return sp.csr_matrix(
            (m.data, m.indices + start, m.indptr), shape=(m.shape[0], self.n_columns)
        )

    def per_period(self, family: str, matrix: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
        """``kron(matrix, I_T)`` over one family: the same element matrix in every period."""
        eye_t = sp.identity(self.n_periods, format="csr")
        return self.place(family, sp.kron(matrix, eye_t, format="csr"))

    def select(self, family: str) -> sp.csr_matrix:
        """The family's values as a linear map of the columns (identity on its block)."""
        n = self.size(family) * self.n_periods
        return self.place(family, sp.identity(n, format="csr"))

    def p_flow(self) -> sp.csr_matrix:
        """Branch active flows ``P`` (MW, ``(branch, t)`` rows) as a linear map of the columns."""
        return self.branch_sum(sp.identity(self.flow_matrix.shape[0], format="csr"))

    def branch_sum(self, matrix: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
        """Rows ``sum_l matrix[i, l] P_{l,t}``, ``(i, t)``: the same combination of branch
        flows in every period (``matrix @ diag(b) A theta`` in the compact form)."""
        if self.form is Form.EXPLICIT:
            return self.per_period("p_flow", matrix)
        return self.per_period("theta", sp.csr_matrix(matrix) @ self.flow_matrix)

    def values(self, x: FloatArray, family: str) -> FloatArray:
        """Values of one family as a ``(time, element)`` array (zero columns when absent).

        Also the derived ``p_flow`` in the compact form (``diag(b) A theta``) and ``s_over``
        (``s_over_up + s_over_down`` in the compact form).
        """
        if family == "p_flow" and self.form is Form.COMPACT:
            return np.asarray((self.flow_matrix @ self.values(x, "theta").T).T)
        if family == "s_over" and self.form is Form.COMPACT:
            return self.values(x, "s_over_up") + self.values(x, "s_over_down")
        c = self.columns.get(family)
        if c is None:
            return np.zeros((self.n_periods, 0))
        return np.asarray(x[c]).reshape(-1, self.n_periods).T.copy()


def combine(*terms: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """Sum of matrices of one shape, built once from their entries (no pairwise additions)."""
    coo = [sp.coo_matrix(t) for t in terms]
    return sp.csr_matrix(
        (np.concatenate([c.data for c in coo]),
         (np.concatenate([c.row for c in coo]), np.concatenate([c.col for c in coo]))),
        shape=coo[0].shape,
    )


def make_layout(
    grid: DispatchGrid,
    assets: Assets,
    n_periods: int,
    with_q: bool,
    with_losses: bool,
    form: Form,
) -> ColumnLayout:
    """Columns of the dispatch LP, in the order the families are declared.

    ====================  ===============  ====================================================
    family                elements         meaning (unit)
    ====================  ===============  ====================================================
    ``p_flow``            branches         active flow entering at the from end (MW), explicit
    ``q_flow``            branches         reactive flow (Mvar), LinDistFlow
    ``w``                 buses            squared voltage magnitude (pu²), LinDistFlow
    ``theta``             buses            voltage angle (rad), DC
    ``p_loss``            branches         active loss (MW), with losses
    ``flow_sq``           branches         ``(P² + Q²) / S_base`` bounded by tangents (MW)
    ``p_charge``          storage          charging power (MW)
    ``p_discharge``       storage          discharging power (MW)
    ``q_storage``         storage          reactive power (Mvar), LinDistFlow
    ``energy``            storage          stored energy at the period's end (MWh)
    ``p_curtail``         curtailable PV   curtailed power (MW)
    ``q_pv``              curtailable PV   reactive power (Mvar), LinDistFlow
    ``p_shift_up``        flexible loads   added demand (MW)
    ``p_shift_down``      flexible loads   removed demand (MW)
    ``p_gen``             generators       active output (MW)
    ``q_gen``             generators       reactive output (Mvar), LinDistFlow
    ``p_grid``            one              import at the connection (MW)
    ``q_grid``            one              reactive import (Mvar), LinDistFlow
    ``v_low``             buses            undervoltage slack (pu²), LinDistFlow
    ``v_high``            buses            overvoltage slack (pu²), LinDistFlow
    ``s_over``            rated branches   thermal slack (MVA), explicit
    ``s_over_up``         rated branches   slack of ``P <= R`` (MVA), compact
    ``s_over_down``       rated branches   slack of ``P >= -R`` (MVA), compact
    ====================  ===============  ====================================================

    Raises
    ------
    ValueError
        For the compact form with reactive power or losses (it is a lossless DC form).
    """
    if form is Form.COMPACT and (with_q or with_losses):
        raise ValueError("the compact form is the lossless DC dispatch (no Q, no losses)")
    nb, nl = grid.n_bus, grid.n_branch
    ns, npv = len(assets.storage), len(assets.pv)
    nf, ng = len(assets.flexible_load), len(assets.generator)
    rated = np.flatnonzero(np.isfinite(grid.rate_mva)).astype(np.int64)
    sizes: dict[str, int] = {}
    if form is Form.EXPLICIT:
        sizes["p_flow"] = nl
    if with_q:
        sizes.update(q_flow=nl, w=nb)
    else:
        sizes["theta"] = nb
    if with_losses:
        sizes.update(p_loss=nl, flow_sq=nl)
    sizes.update(p_charge=ns, p_discharge=ns)
    if with_q:
        sizes["q_storage"] = ns
    sizes.update(energy=ns, p_curtail=npv)
    if with_q:
        sizes["q_pv"] = npv
    sizes.update(p_shift_up=nf, p_shift_down=nf, p_gen=ng)
    if with_q:
        sizes["q_gen"] = ng
    sizes["p_grid"] = 1
    if with_q:
        sizes.update(q_grid=1, v_low=nb, v_high=nb)
    if form is Form.EXPLICIT:
        sizes["s_over"] = len(rated)
    else:
        sizes.update(s_over_up=len(rated), s_over_down=len(rated))
    columns: dict[str, slice] = {}
    start = 0
    for name, n in sizes.items():
        columns[name] = slice(start, start + n * n_periods)
        start += n * n_periods
    b = grid.base_mva / (grid.x_pu * grid.tap_ratio)
    flow_matrix = sp.csr_matrix(sp.diags(b) @ grid.incidence())
    return ColumnLayout(n_periods, columns, form, flow_matrix, rated, start)
