r"""DC optimal power flow (PowerModels' ``DCPPowerModel``) in Pyomo, solved with HiGHS.

The model is the one PGLib-OPF's DC objectives come from (PowerModels.jl, ``DCPPowerModel``
with ``build_opf``; Coffrin, Bent et al., "PowerModels.jl", PSCC 2018):

.. math::

    \min_{\theta, p^g} \; & \sum_g c_{2,g} (p^g_g)^2 + c_{1,g} p^g_g + c_{0,g} \\
    \text{s.t.} \; & \sum_{g \in G_i} p^g_g - \sum_j B_{ij} \theta_j = p^d_i + g^s_i
        && \forall i \quad \text{(nodal balance, dual } \lambda_i) \\
    & |b_l (\theta_{f(l)} - \theta_{t(l)})| \le \bar s_l && \forall l: \bar s_l < \infty \\
    & \underline\delta_l \le \theta_{f(l)} - \theta_{t(l)} \le \bar\delta_l && \forall l \\
    & \underline p_g \le p^g_g \le \bar p_g, \quad \theta_{\text{ref}} = 0

with the branch susceptance :math:`b_l = x_l / (r_l^2 + x_l^2)` (the imaginary part of the
series admittance, so resistance is kept in it), transformer taps and phase shifts ignored, bus
shunt conductance :math:`g^s_i` consumed at 1 pu voltage, and
:math:`B = A^\top \operatorname{diag}(b) A` with the branch-bus incidence ``A`` (+1 at the "from"
bus, -1 at the "to" bus). The branch flow is :math:`p_l = b_l (\theta_f - \theta_t)` at the
"from" end and :math:`-p_l` at the "to" end (lossless).

Unlike PowerModels, branch flows are not variables: they are eliminated through
:math:`p = \operatorname{diag}(b) A \theta`, which gives the same optimum with fewer rows and
columns for Pyomo to pass to HiGHS. Angle-difference rows that the thermal limit already implies
(:math:`\bar s_l / |b_l| \le \min(-\underline\delta_l, \bar\delta_l)`) are not written: they
cannot bind.

The locational marginal price of bus ``i`` is :math:`\lambda_i / S_{\text{base}}` in $/MWh
(:math:`\lambda_i` is the balance multiplier in $/h per unit of power).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from gridopt.errors import InputError
from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.solvers.highs import HighsOptions, HighsSolver
from gridopt.solvers.highs_matrix import MatrixProblem, solve_matrix_problem
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)

Row = tuple[float | None, LinearExpression, float | None]


class DCBackend(enum.Enum):
    """How the DC model reaches HiGHS.

    ``MATRIX`` assembles the rows with SciPy and passes them to ``highspy`` directly (fast:
    the default). ``PYOMO`` builds a Pyomo model from the same rows and solves it through the
    persistent Pyomo interface (for extending the model; building costs several times the
    solve on large networks, see ``docs/dc_opf.md``). Both give the same optimum and duals.
    """

    MATRIX = "matrix"
    PYOMO = "pyomo"


@dataclass(frozen=True)
class DCOptions:
    """Options of :func:`solve_dc_opf`.

    Attributes
    ----------
    highs
        Settings of the HiGHS solve.
    compute_lmp
        Return locational marginal prices (duals of the nodal balance) in $/MWh.
    backend
        :class:`DCBackend` used to pass the model to HiGHS.
    """

    highs: HighsOptions = field(default_factory=HighsOptions)
    compute_lmp: bool = True
    backend: DCBackend = DCBackend.MATRIX


@dataclass(frozen=True, eq=False)
class LinearRows:
    """One family of linear rows ``lower <= matrix @ [pg, va] <= upper``.

    Attributes
    ----------
    name
        Family name (also the Pyomo constraint name).
    index
        Element position of each row (bus position for the balance, branch position for the
        branch limits).
    matrix
        CSR matrix over the columns ``[pg (n_gen), va (n_bus)]``.
    lower, upper
        Row bounds (``-inf``/``inf`` for none).
    """

    name: str
    index: IntArray
    matrix: sp.csr_matrix
    lower: FloatArray
    upper: FloatArray


@dataclass(frozen=True, eq=False)
class DCModel:
    """A built DC-OPF Pyomo model and the row families it was made from.

    Attributes
    ----------
    model
        The Pyomo model: variables ``va`` (rad, per bus) and ``pg`` (pu, per generator);
        constraints ``balance`` (per bus), ``thermal_limit`` and ``angle_difference``
        (indexed by branch position); objective ``cost``.
    susceptance_pu
        :math:`b_l = x_l / (r_l^2 + x_l^2)` per branch.
    rows
        The row families (balance, thermal limits, angle differences).
    """

    model: pyo.ConcreteModel
    susceptance_pu: FloatArray
    rows: tuple[LinearRows, ...]


def dc_susceptance(network: Network) -> FloatArray:
    r"""Branch susceptance of PowerModels' DC model, :math:`b = x / (r^2 + x^2)` (per unit).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> dc_susceptance(SimpleNamespace(r_pu=np.array([0.0, 0.1]), x_pu=np.array([0.5, 0.1])))
    array([2., 5.])
    """
    r, x = network.r_pu, network.x_pu
    return np.asarray(x / (r**2 + x**2), dtype=np.float64)


def branch_incidence(network: Network) -> sp.csr_matrix:
    """Sparse ``(n_branch, n_bus)`` incidence: +1 at the "from" bus, -1 at the "to" bus."""
    nl = network.n_branch
    rows = np.concatenate([np.arange(nl), np.arange(nl)])
    cols = np.concatenate([network.branch_from, network.branch_to])
    vals = np.concatenate([np.ones(nl), -np.ones(nl)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(nl, network.n_bus))


def _over_angles(network: Network, matrix: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """Prefix zero ``pg`` columns to a matrix over ``va`` (columns become ``[pg, va]``)."""
    zeros = sp.csr_matrix((matrix.shape[0], network.n_gen))
    return sp.hstack([zeros, matrix], format="csr")


def power_balance_rows(network: Network, susceptance_pu: FloatArray) -> LinearRows:
    r"""Nodal active-power balance, one row per bus (family ``balance``).

    .. math::

        \sum_{g \in G_i} p^g_g - \sum_j B_{ij} \theta_j = p^d_i + g^s_i \cdot 1^2,
        \qquad B = A^\top \operatorname{diag}(b) A

    The left side is the net injection; :math:`(B\theta)_i` is the sum of the flows leaving bus
    ``i``. The shunt conductance is consumed at 1 pu voltage as in PowerModels' DC model. The
    multiplier of this row is :math:`\partial \text{cost} / \partial p^d_i` ($/h per pu).
    """
    incidence = branch_incidence(network)
    b_bus = incidence.T @ sp.diags(susceptance_pu) @ incidence
    matrix = sp.hstack([network.gen_incidence(), -b_bus], format="csr")
    rhs = np.asarray(network.pd_pu + network.gs_pu, dtype=np.float64)
    return LinearRows("balance", np.arange(network.n_bus), matrix, rhs, rhs)


def thermal_limit_rows(network: Network, susceptance_pu: FloatArray) -> LinearRows:
    r"""Branch flow limits for branches with a finite rating (family ``thermal_limit``).

    .. math::

        -\bar s_l \le b_l (\theta_{f(l)} - \theta_{t(l)}) \le \bar s_l

    With ``|p_from| = |p_to|`` in the lossless model this is PowerModels' rate-A limit at both
    ends.
    """
    limited = np.flatnonzero(np.isfinite(network.rate_a_pu))
    flows = (sp.diags(susceptance_pu) @ branch_incidence(network)).tocsr()[limited]
    rate = network.rate_a_pu[limited]
    return LinearRows("thermal_limit", limited, _over_angles(network, flows), -rate, rate)


def angle_difference_rows(network: Network, susceptance_pu: FloatArray) -> LinearRows:
    r"""Branch angle-difference limits that can bind (family ``angle_difference``).

    .. math::

        \underline\delta_l \le \theta_{f(l)} - \theta_{t(l)} \le \bar\delta_l

    A row is written only when one of its limits is tighter than what the thermal limit
    already implies, :math:`|\theta_f - \theta_t| \le \bar s_l / |b_l|`; the others cannot bind.
    """
    with np.errstate(divide="ignore"):
        implied = network.rate_a_pu / np.abs(susceptance_pu)
    chosen = np.flatnonzero((network.angmin_rad > -implied) | (network.angmax_rad < implied))
    diffs = branch_incidence(network)[chosen]
    return LinearRows(
        "angle_difference",
        chosen,
        _over_angles(network, diffs),
        np.asarray(network.angmin_rad[chosen], dtype=np.float64),
        np.asarray(network.angmax_rad[chosen], dtype=np.float64),
    )


def dc_rows(network: Network, susceptance_pu: FloatArray) -> tuple[LinearRows, ...]:
    """All row families of the DC model, in order: balance, thermal limits, angle limits."""
    return (
        power_balance_rows(network, susceptance_pu),
        thermal_limit_rows(network, susceptance_pu),
        angle_difference_rows(network, susceptance_pu),
    )


def sparse_rows(
    matrix: sp.spmatrix | sp.sparray,
    columns: Sequence[VarData],
    lower: FloatArray,
    upper: FloatArray,
) -> list[Row]:
    """Turn ``lower <= matrix @ columns <= upper`` into Pyomo ``(lb, body, ub)`` rows.

    The bodies are built directly as ``LinearExpression`` objects from the CSR arrays (no
    operator overloading), which is several times faster than ``sum(...)`` rules. Infinite
    bounds become ``None``. Explicit zeros are dropped.

    Examples
    --------
    >>> import numpy as np, pyomo.environ as pyo, scipy.sparse as sp
    >>> m = pyo.ConcreteModel(); m.x = pyo.Var(range(2))
    >>> rows = sparse_rows(sp.csr_matrix([[1.0, -2.0]]), list(m.x.values()),
    ...                    np.array([-np.inf]), np.array([3.0]))
    >>> rows[0][0] is None, str(rows[0][1]), rows[0][2]
    (True, 'x[0] - 2.0*x[1]', 3.0)
    """
    csr = sp.csr_matrix(matrix)
    csr.eliminate_zeros()
    csr.sort_indices()
    indptr, indices, data = csr.indptr, csr.indices.tolist(), csr.data.tolist()
    lo = [None if not np.isfinite(v) else float(v) for v in lower]
    hi = [None if not np.isfinite(v) else float(v) for v in upper]
    rows: list[Row] = []
    for i in range(csr.shape[0]):
        start, stop = int(indptr[i]), int(indptr[i + 1])
        terms = [
            columns[j] if c == 1.0 else MonomialTermExpression((c, columns[j]))
            for c, j in zip(data[start:stop], indices[start:stop], strict=True)
        ]
        rows.append((lo[i], LinearExpression(terms), hi[i]))
    return rows


def declare_variables(model: pyo.ConcreteModel, network: Network) -> None:
    r"""Declare bus voltage angles ``va`` (rad) and generator outputs ``pg`` (pu).

    .. math::

        \theta_{\text{ref}} = 0, \qquad \underline p_g \le p^g_g \le \bar p_g

    The reference angle is pinned with equal bounds (not ``fix``) so that HiGHS keeps the
    column and the variable indices stay one-to-one with bus positions.
    """
    lower, upper = _column_bounds(network)
    ng = network.n_gen
    lo = [None if not np.isfinite(v) else float(v) for v in lower]
    hi = [None if not np.isfinite(v) else float(v) for v in upper]
    model.pg = pyo.Var(range(ng), bounds=lambda _m, g: (lo[g], hi[g]))
    model.va = pyo.Var(range(network.n_bus), bounds=lambda _m, i: (lo[ng + i], hi[ng + i]))


def declare_rows(model: pyo.ConcreteModel, rows: LinearRows) -> None:
    """Declare one row family as the indexed Pyomo constraint ``model.<rows.name>``.

    The maths of each family is in the docstring of the function that made it
    (:func:`power_balance_rows`, :func:`thermal_limit_rows`, :func:`angle_difference_rows`).
    """
    columns = [*model.pg.values(), *model.va.values()]
    built = sparse_rows(rows.matrix, columns, rows.lower, rows.upper)
    by_index = dict(zip(rows.index.tolist(), built, strict=True))
    model.add_component(
        rows.name, pyo.Constraint(rows.index.tolist(), rule=lambda _m, k: by_index[k])
    )


def declare_cost_objective(model: pyo.ConcreteModel, network: Network) -> None:
    r"""Declare the generation-cost objective ``cost`` ($/h), a convex quadratic.

    .. math::

        \min \sum_g c_{2,g} (p^g_g)^2 + c_{1,g} p^g_g + c_{0,g}

    with the coefficients for ``p`` in per unit (``Network`` converts them from MW).
    """
    pg = list(model.pg.values())
    c2, c1 = network.cost_c2.tolist(), network.cost_c1.tolist()
    linear = LinearExpression(
        [MonomialTermExpression((c, v)) for c, v in zip(c1, pg, strict=True) if c != 0.0]
    )
    quadratic = pyo.quicksum(c * v**2 for c, v in zip(c2, pg, strict=True) if c != 0.0)
    model.cost = pyo.Objective(
        expr=quadratic + linear + float(np.sum(network.cost_c0)), sense=pyo.minimize
    )


def _column_bounds(network: Network) -> tuple[FloatArray, FloatArray]:
    """Bounds of the columns ``[pg, va]``: generator limits, free angles, reference at 0."""
    ng, nb = network.n_gen, network.n_bus
    lower = np.concatenate([network.pmin_pu, np.full(nb, -np.inf)])
    upper = np.concatenate([network.pmax_pu, np.full(nb, np.inf)])
    lower[ng + network.ref_bus] = upper[ng + network.ref_bus] = 0.0
    return lower, upper


def dc_matrix_problem(network: Network, rows: Sequence[LinearRows]) -> MatrixProblem:
    r"""Stack the row families and the cost into one :class:`MatrixProblem` over ``[pg, va]``.

    HiGHS minimises :math:`c^\top x + \frac12 x^\top Q x`, so :math:`Q = \operatorname{diag}(2
    c_2)` on the ``pg`` columns.
    """
    nb = network.n_bus
    lower, upper = _column_bounds(network)
    cost = np.concatenate([network.cost_c1, np.zeros(nb)])
    hessian = sp.diags(np.concatenate([2.0 * network.cost_c2, np.zeros(nb)]), format="csc")
    return MatrixProblem(
        cost=cost,
        a_matrix=sp.vstack([r.matrix for r in rows], format="csc"),
        row_lower=np.concatenate([r.lower for r in rows]),
        row_upper=np.concatenate([r.upper for r in rows]),
        col_lower=lower,
        col_upper=upper,
        hessian=hessian if np.any(network.cost_c2 != 0) else None,
        offset=float(np.sum(network.cost_c0)),
    )


def _check_network(network: Network) -> None:
    """Reject inputs the DC model cannot represent, naming the element."""
    bad_cost = np.flatnonzero(network.cost_c2 < 0)
    if len(bad_cost):
        g = int(bad_cost[0])
        raise InputError(
            f"case {network.name!r}: {network.gen_label[g]} has a negative quadratic cost "
            f"coefficient ({network.cost_c2[g] / network.base_mva**2:g} $/MW^2h); the DC-OPF "
            "needs convex costs: make c2 >= 0"
        )
    b = dc_susceptance(network)
    bad_b = np.flatnonzero(~np.isfinite(b) | (b == 0))
    if len(bad_b):
        lab = network.branch_label[int(bad_b[0])]
        raise InputError(
            f"case {network.name!r}: {lab} has zero reactance (x = 0), so it carries no power in "
            "the DC model; give it a reactance or merge its two buses"
        )


def build_dc_model(network: Network) -> DCModel:
    """Build the DC-OPF Pyomo model of ``network`` (cost objective); see the module docstring.

    Raises
    ------
    InputError
        For negative quadratic costs or branches with zero reactance.
    """
    _check_network(network)
    b = dc_susceptance(network)
    rows = dc_rows(network, b)
    model = pyo.ConcreteModel(name=f"dc_opf[{network.name}]")
    declare_variables(model, network)
    for family in rows:
        declare_rows(model, family)
    declare_cost_objective(model, network)
    return DCModel(model=model, susceptance_pu=b, rows=rows)


@dataclass(frozen=True)
class _Solved:
    """Backend-independent outcome: report, primal values and balance duals."""

    report: SolverReport
    objective: float | None
    va_rad: FloatArray | None
    pg_pu: FloatArray | None
    balance_duals: FloatArray | None
    build_seconds: float
    load_seconds: float


def _solve_matrix(network: Network, options: DCOptions) -> tuple[_Solved, tuple[LinearRows, ...]]:
    tick = time.perf_counter()
    _check_network(network)
    rows = dc_rows(network, dc_susceptance(network))
    problem = dc_matrix_problem(network, rows)
    build_seconds = time.perf_counter() - tick
    out = solve_matrix_problem(problem, options.highs)
    ng, nb = network.n_gen, network.n_bus
    x = out.x
    duals = out.row_duals[:nb] if out.row_duals is not None and options.compute_lmp else None
    solved = _Solved(
        report=out.report,
        objective=out.objective,
        va_rad=None if x is None else x[ng:],
        pg_pu=None if x is None else x[:ng],
        balance_duals=duals,
        build_seconds=build_seconds,
        load_seconds=out.load_seconds,
    )
    return solved, rows


def _solve_pyomo(network: Network, options: DCOptions) -> tuple[_Solved, tuple[LinearRows, ...]]:
    tick = time.perf_counter()
    dc = build_dc_model(network)
    build_seconds = time.perf_counter() - tick
    model = dc.model
    solver = HighsSolver(options.highs)
    load_seconds = solver.load(model)
    balance = list(model.balance.values())
    out = solver.solve(model, load_duals=options.compute_lmp, duals_of=balance)
    have_point = out.objective is not None
    solved = _Solved(
        report=out.report,
        objective=out.objective,
        va_rad=np.array([pyo.value(v) for v in model.va.values()]) if have_point else None,
        pg_pu=np.array([pyo.value(v) for v in model.pg.values()]) if have_point else None,
        balance_duals=(
            np.array([out.duals[c] for c in balance]) if out.duals is not None else None
        ),
        build_seconds=build_seconds,
        load_seconds=load_seconds + out.load_seconds,
    )
    return solved, dc.rows


def solve_dc_opf(
    network: Network,
    objective: Objective = Objective.COST,
    options: DCOptions | None = None,
) -> OPFSolution:
    """Solve the DC optimal power flow of ``network`` with HiGHS.

    Parameters
    ----------
    network
        The in-service network (per unit).
    objective
        Only :attr:`Objective.COST`: the DC model is lossless.
    options
        Solver settings, LMPs on/off, backend (default: matrices passed to ``highspy``).

    Returns
    -------
    OPFSolution
        ``vm_pu = 1``, ``q = 0``, ``p_to = -p_from``; ``lmp_usd_per_mwh`` from the balance
        duals when optimal and requested. Infeasible or failed solves are returned (not
        raised) with the status and HiGHS's message in ``report`` and NaN values.
        ``build_seconds`` covers building the model and passing it to HiGHS; ``extra`` splits
        it (``model_build_seconds``, ``highs_load_seconds``) and counts the limit rows.

    Raises
    ------
    InputError
        For ``Objective.LOSSES`` (meaningless in a lossless model) and inputs the model cannot
        represent (negative quadratic costs, zero-reactance branches).

    Examples
    --------
    >>> from gridopt.network.arrays import build_network
    >>> from gridopt.network.matpower import read_matpower
    >>> from gridopt.network.samples import sample_case_path
    >>> net = build_network(read_matpower(sample_case_path("pglib_opf_case5_pjm")))
    >>> sol = solve_dc_opf(net)
    >>> sol.status.value, round(sol.objective, 1)
    ('optimal', 17479.9)
    """
    if objective is not Objective.COST:
        raise InputError(
            f"case {network.name!r}: objective {objective.value!r} is not available with the DC "
            "formulation: the DC model is lossless, so its losses are always zero; use the AC "
            "formulation (--formulation ac) to minimise losses"
        )
    options = options if options is not None else DCOptions()
    if options.backend is DCBackend.PYOMO:
        solved, rows = _solve_pyomo(network, options)
    else:
        solved, rows = _solve_matrix(network, options)
    report = solved.report
    logger.info(
        "DC-OPF %s (%s): %s, solve %.3f s, build %.3f s, load %.3f s: %s",
        network.name, options.backend.value, report.status.value, report.solve_seconds,
        solved.build_seconds, solved.load_seconds, report.message,
    )

    nb, ng, nl = network.n_bus, network.n_gen, network.n_branch
    va = solved.va_rad if solved.va_rad is not None else np.full(nb, np.nan)
    pg = solved.pg_pu if solved.pg_pu is not None else np.full(ng, np.nan)
    p_from = dc_susceptance(network) * (va[network.branch_from] - va[network.branch_to])
    lmp = None
    if solved.balance_duals is not None and report.status is SolveStatus.OPTIMAL:
        lmp = solved.balance_duals / network.base_mva

    return OPFSolution(
        network=network,
        formulation=Formulation.DC,
        objective_kind=objective,
        report=report,
        objective=float(solved.objective) if solved.objective is not None else float("nan"),
        vm_pu=np.ones(nb),
        va_rad=va,
        pg_pu=pg,
        qg_pu=np.zeros(ng),
        p_from_pu=p_from,
        q_from_pu=np.zeros(nl),
        p_to_pu=-p_from,
        q_to_pu=np.zeros(nl),
        lmp_usd_per_mwh=lmp,
        build_seconds=solved.build_seconds + solved.load_seconds,
        extra={
            "model_build_seconds": solved.build_seconds,
            "highs_load_seconds": solved.load_seconds,
            "thermal_limit_rows": float(len(rows[1].index)),
            "angle_difference_rows": float(len(rows[2].index)),
        },
    )
