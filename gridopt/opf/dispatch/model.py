"""Build the dispatch LP once from its row blocks, change its inputs, assemble it.

The model is built for a network, a set of assets and a horizon length. Its constraints are
the row blocks of :mod:`gridopt.opf.dispatch.constraints` over one
:class:`~gridopt.opf.dispatch.layout.ColumnLayout`; :func:`to_problem` stacks them into one
:class:`~gridopt.solvers.highs_matrix.MatrixProblem`. Every quantity that changes with the
forecast or with the linearisation point (demand, PV availability, price, loss scaling,
voltage-drop corrections) is held in the :class:`DispatchModel` and enters only bounds, costs
and the ``-rho`` coefficients of ``loss_definition``: :func:`input_changes` and
:func:`linearisation_changes` give exactly those numbers, so a persistent HiGHS instance
re-solves after :func:`set_inputs` without rebuilding. Loss tangents are row blocks added round
by round (never removed: they stay valid).

Losses: successive outer linearisation
--------------------------------------
Each branch's series loss ``f(P, Q) = r (P^2 + Q^2) / (S_base |V_from|^2)`` is convex. The LP
bounds the loss variable from below by tangents of ``f`` (see
:func:`~gridopt.opf.dispatch.constraints.loss_cut_rows`):

1. *seed*: tangents at and around (:func:`seed_tangents`) the AC operating point of
   the baseline (no flexibility), a piecewise-linear start that already prices the curvature;
2. *refresh*: after each LP solve the dispatch is run through an AC power flow of every period
   and a new tangent is placed at the AC point, anchored at the AC branch loss (loss factors
   ``df/dP = 2 r P / (S_base V^2)``, ``df/dQ = 2 r Q / (S_base V^2)``).

Why not plain loss factors (one tangent replaced each round): minimising a linear loss model
drives storage to its limits in the cheapest period (bang-bang) and the next round's factors
push it elsewhere, so the iteration oscillates. Keeping every tangent makes the model the
maximum of tangents (Kelley's cutting-plane method), which stays convex, prices the growing
marginal loss, and converges; at the settled point the last tangent touches ``f`` at the AC
flows, so the model's losses agree with the AC losses. A fixed piecewise-linear grid of
segments instead would need many segments per branch and period for the same accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.dispatch import constraints as C
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.layout import ColumnLayout, Form, RowBlock, make_layout
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.solvers.highs_matrix import MatrixProblem


@dataclass(frozen=True, eq=False)
class OperatingPoint:
    """AC branch state around which the losses are linearised, ``(time, branch)`` arrays.

    ``p_from_mw`` / ``q_from_mvar`` enter the branch at its from end, ``v_from_pu`` is the
    from-bus voltage magnitude, ``loss_mw`` the branch's active loss (pandapower ``pl_mw``).
    """

    p_from_mw: FloatArray
    q_from_mvar: FloatArray
    v_from_pu: FloatArray
    loss_mw: FloatArray


@dataclass(frozen=True, eq=False)
class Parameters:
    """The numbers that change between solves, ``(time, element)`` arrays.

    Forecast: ``p_demand_mw``, ``q_demand_mvar`` (bus), ``pv_available_mw`` (PV),
    ``price_per_mwh`` (time). Linearisation point: ``loss_rho`` (1/pu), ``loss_kappa_mw``,
    ``v_corr_pu2``, ``q_loss_fixed_mvar`` (branch).
    """

    p_demand_mw: FloatArray
    q_demand_mvar: FloatArray
    pv_available_mw: FloatArray
    price_per_mwh: FloatArray
    loss_rho: FloatArray
    loss_kappa_mw: FloatArray
    v_corr_pu2: FloatArray
    q_loss_fixed_mvar: FloatArray


@dataclass(eq=False)
class DispatchModel:
    """A dispatch LP (its layout, current parameters and tangents) and what it was built for.

    ``rows`` holds the row slice of every family once :func:`to_problem` has stacked them;
    ``tangents`` the loss tangent blocks added so far (rows after the static families).
    """

    layout: ColumnLayout
    grid: DispatchGrid
    assets: Assets
    grid_model: GridModel
    n_periods: int
    period_hours: float
    options: DispatchOptions
    positions: dict[str, list[int]]
    params: Parameters
    #: the model has branch loss variables (built ``with_losses``); else it is lossless
    with_losses: bool = True
    rows: dict[str, slice] = field(default_factory=dict)
    tangents: list[RowBlock] = field(default_factory=list)

    @property
    def with_q(self) -> bool:
        """True when the model has reactive power and voltages (LinDistFlow)."""
        return self.grid_model is GridModel.LINDISTFLOW

    @property
    def n_rows(self) -> int:
        """Rows of the static families and the tangents."""
        static = max((s.stop for s in self.rows.values()), default=0)
        return static + sum(b.n_rows for b in self.tangents)


@dataclass(frozen=True, eq=False)
class Changes:
    """New bounds of some rows or columns (indices into the stacked problem)."""

    indices: IntArray
    lower: FloatArray
    upper: FloatArray


def choose_grid_model(grid: DispatchGrid, requested: GridModel) -> GridModel:
    """Resolve :attr:`GridModel.AUTO`: LinDistFlow for a radial network, DC with losses else."""
    if requested is not GridModel.AUTO:
        return requested
    return GridModel.LINDISTFLOW if grid.is_radial else GridModel.DC_LOSSES


def asset_positions(grid: DispatchGrid, assets: Assets) -> dict[str, list[int]]:
    """Bus position of every asset, by kind.

    Raises
    ------
    InputError
        For an asset at a bus the grid does not have.
    """
    known = grid.position_of_bus_id()  # once: building it costs O(buses)

    def position(bus: int, where: str) -> int:
        found = known.get(int(bus))
        return found if found is not None else grid.bus_position(bus, where)  # raises

    return {
        kind: [position(a.bus, f"{kind} {a.name!r}") for a in group]
        for kind, group in (
            ("storage", assets.storage),
            ("pv", assets.pv),
            ("flexible_load", assets.flexible_load),
            ("generator", assets.generator),
        )
    }


def build_dispatch_model(
    grid: DispatchGrid,
    assets: Assets,
    n_periods: int,
    period_hours: float,
    options: DispatchOptions,
    with_losses: bool = True,
    form: Form = Form.EXPLICIT,
) -> DispatchModel:
    """The multi-period dispatch LP (all inputs zero until :func:`set_inputs`).

    Parameters
    ----------
    grid
        Network.
    assets
        Controllable assets (validated against the grid's buses).
    n_periods, period_hours
        Horizon length and period length.
    options
        Weights and the grid model (``AUTO`` resolved with :func:`choose_grid_model`).
    with_losses
        ``False`` gives the lossless LP (no loss variables or tangents).
    form
        Explicit flows, or the compact lossless DC form of the direct path
        (:class:`~gridopt.opf.dispatch.layout.Form`).
    """
    grid_model = choose_grid_model(grid, options.grid_model)
    with_q = grid_model is GridModel.LINDISTFLOW
    layout = make_layout(grid, assets, n_periods, with_q, with_losses, form)
    nb, nl, n_t = grid.n_bus, grid.n_branch, n_periods
    params = Parameters(
        p_demand_mw=np.zeros((n_t, nb)), q_demand_mvar=np.zeros((n_t, nb)),
        pv_available_mw=np.zeros((n_t, len(assets.pv))), price_per_mwh=np.zeros(n_t),
        loss_rho=np.ones((n_t, nl)), loss_kappa_mw=np.zeros((n_t, nl)),
        v_corr_pu2=np.zeros((n_t, nl)), q_loss_fixed_mvar=np.zeros((n_t, nl)),
    )
    return DispatchModel(
        layout=layout, grid=grid, assets=assets, grid_model=grid_model, n_periods=n_periods,
        period_hours=period_hours, options=options, positions=asset_positions(grid, assets),
        params=params, with_losses=with_losses,
    )


def static_blocks(dm: DispatchModel) -> list[RowBlock]:
    """Every constraint family but the tangents, at the model's current parameters.

    In declaration order: network (``voltage_drop``, ``slack_voltage`` | ``dc_flow``), losses
    (``loss_definition``), assets (``storage_balance``, ``storage_final``, ``shift_energy``,
    ``inverter_capability``), balances (``p_balance``, ``q_balance``), limits (``v_min``,
    ``v_max``, thermal families).
    """
    lay, grid, assets, par = dm.layout, dm.grid, dm.assets, dm.params
    blocks: list[RowBlock] = []
    if dm.with_q:
        blocks += [C.voltage_drop_rows(lay, grid, par.v_corr_pu2),
                   C.slack_voltage_rows(lay, grid)]
    elif lay.form is Form.EXPLICIT:
        blocks.append(C.dc_flow_rows(lay))
    if dm.with_losses:
        blocks.append(C.loss_definition_rows(lay, par.loss_rho, par.loss_kappa_mw))
    if assets.storage:
        blocks += [C.storage_balance_rows(lay, assets.storage, dm.period_hours),
                   C.storage_final_rows(lay, assets.storage)]
    if assets.flexible_load:
        blocks.append(C.shift_energy_rows(lay, assets.flexible_load, dm.period_hours))
    if dm.with_q:
        blocks.append(C.inverter_capability_rows(lay, assets.storage, assets.pv,
                                                 par.pv_available_mw))
    blocks.append(C.p_balance_rows(lay, grid, dm.positions, par.p_demand_mw,
                                   par.pv_available_mw))
    if dm.with_q:
        blocks.append(C.q_balance_rows(lay, grid, dm.positions, par.q_demand_mvar,
                                       par.q_loss_fixed_mvar))
        blocks += C.voltage_limit_rows(lay, grid)
    blocks += C.thermal_rows(lay, grid)
    return [b for b in blocks if b.n_rows]


def column_bounds(dm: DispatchModel) -> tuple[FloatArray, FloatArray]:
    r"""Bounds of every column (units of :func:`~gridopt.opf.dispatch.layout.make_layout`).

    .. math::

        0 \le p^c \le \bar P^c,\ 0 \le p^d \le \bar P^d,\
        \underline{SOC}\,E \le e \le \overline{SOC}\,E,\
        0 \le p^\text{curt}_{i,t} \le \text{avail}_{i,t},\
        0 \le up \le U [t \in W],\ 0 \le down \le D [t \in W],

        P^\text{min}_g \le p^\text{gen}_g \le P^\text{max}_g,\
        -\text{export} \le p^\text{grid} \le \text{import},\
        w \ge 0,\ p^\text{loss}, u, s^-, s^+, s^\text{over} \ge 0

    Fixed at 0: the slack bus angle and voltage slacks, the reactive power of storage and PV
    without an inverter rating. Flows, angles and rated reactive powers are free.
    """
    lay, grid, assets = dm.layout, dm.grid, dm.assets
    n_t = dm.n_periods
    lower = np.full(lay.n_columns, -np.inf)
    upper = np.full(lay.n_columns, np.inf)

    def bound(family: str, lo: FloatArray | float, hi: FloatArray | float) -> None:
        if lay.has(family):
            lower[lay.columns[family]] = lo
            upper[lay.columns[family]] = hi

    def per(values: list[float] | FloatArray) -> FloatArray:
        return np.repeat(np.asarray(values, dtype=float), n_t)

    st, pv, fl, gens = assets.storage, assets.pv, assets.flexible_load, assets.generator
    at_slack = np.zeros((grid.n_bus, n_t))
    at_slack[grid.slack_bus] = 1.0
    free_but_slack = np.where(at_slack.ravel() > 0, 0.0, np.inf)
    bound("theta", -free_but_slack, free_but_slack)
    bound("w", 0.0, np.inf)
    for family in ("p_loss", "flow_sq", "s_over", "s_over_up", "s_over_down"):
        bound(family, 0.0, np.inf)
    bound("v_low", 0.0, free_but_slack)
    bound("v_high", 0.0, free_but_slack)
    bound("p_charge", 0.0, per([s.p_charge_max_mw for s in st]))
    bound("p_discharge", 0.0, per([s.p_discharge_max_mw for s in st]))
    cap = np.array([s.energy_capacity_mwh for s in st])
    bound("energy", per(cap * [s.soc_min_percent / 100 for s in st]),
          per(cap * [s.soc_max_percent / 100 for s in st]))
    q_free = per([np.inf if s.s_max_mva is not None else 0.0 for s in st])
    bound("q_storage", -q_free, q_free)
    q_free = per([np.inf if u.s_max_mva is not None else 0.0 for u in pv])
    bound("q_pv", -q_free, q_free)
    bound("p_curtail", 0.0, C.flat(dm.params.pv_available_mw))
    window = C.shift_window(fl, n_t)
    bound("p_shift_up", 0.0, (window * per_unit(fl, "p_increase_max_mw")).ravel())
    bound("p_shift_down", 0.0, (window * per_unit(fl, "p_decrease_max_mw")).ravel())
    bound("p_gen", per([g.p_min_mw for g in gens]), per([g.p_max_mw for g in gens]))
    bound("q_gen", per([g.q_min_mvar for g in gens]), per([g.q_max_mvar for g in gens]))
    bound("p_grid", -assets.grid.p_export_max_mw, assets.grid.p_import_max_mw)
    bound("q_grid", -assets.grid.q_abs_max_mvar, assets.grid.q_abs_max_mvar)
    return lower, upper


def per_unit(units: tuple[object, ...], attribute: str) -> FloatArray:
    """``(unit, 1)`` column of one attribute of each unit."""
    return np.array([float(getattr(u, attribute)) for u in units]).reshape(-1, 1)


def objective_costs(dm: DispatchModel) -> FloatArray:
    r"""Objective: weighted energy losses, penalties, energy cost and limit-slack penalties.

    .. math::

        \Delta t \sum_t \Big[ w_\ell \big(\sum_l p^\text{loss}_{l,t}
            + \sum_s ((1-\eta^c_s) p^c_{s,t} + (1/\eta^d_s - 1) p^d_{s,t})\big)
            + c_\text{curt} \sum_i p^\text{curt}_{i,t}
            + c_\text{cyc} \sum_s (p^c_{s,t} + p^d_{s,t})
            + \pi_t p^\text{grid}_t + \sum_g c_g p^\text{gen}_{g,t}
            + \rho_V \sum_n (s^-_{n,t} + s^+_{n,t}) + \rho_S \sum_l s^\text{over}_{l,t} \Big]

    Storage conversion losses count as losses, so the battery only cycles when the network
    saves more than the conversion costs. The price ``pi`` is a parameter (zero by default).
    """
    lay, opts, dt, n_t = dm.layout, dm.options, dm.period_hours, dm.n_periods
    st, gens = dm.assets.storage, dm.assets.generator
    cost = np.zeros(lay.n_columns)

    def put(family: str, value: FloatArray | float) -> None:
        if lay.has(family):
            cost[lay.columns[family]] = value

    w = opts.loss_weight_per_mwh
    eta_c = np.array([s.efficiency_charge for s in st])
    eta_d = np.array([s.efficiency_discharge for s in st])
    put("p_loss", dt * w)
    put("p_charge", dt * np.repeat(w * (1 - eta_c) + opts.cycling_penalty_per_mwh, n_t))
    put("p_discharge", dt * np.repeat(w * (1 / eta_d - 1) + opts.cycling_penalty_per_mwh, n_t))
    put("p_curtail", dt * opts.curtailment_penalty_per_mwh)
    put("p_grid", dt * dm.params.price_per_mwh)
    put("p_gen", dt * np.repeat([g.cost_per_mwh for g in gens], n_t))
    for family in ("s_over", "s_over_up", "s_over_down"):
        put(family, dt * opts.thermal_slack_penalty_per_mvah)
    for family in ("v_low", "v_high"):
        put(family, dt * opts.voltage_slack_penalty)
    return cost


def stack(blocks: list[RowBlock], n_columns: int) -> tuple[sp.csr_matrix, FloatArray, FloatArray]:
    """Stack row blocks into one matrix and its row bounds."""
    if not blocks:
        return sp.csr_matrix((0, n_columns)), np.zeros(0), np.zeros(0)
    return (sp.csr_matrix(sp.vstack([b.matrix for b in blocks], format="csr")),
            np.concatenate([b.lower for b in blocks]),
            np.concatenate([b.upper for b in blocks]))


def to_problem(dm: DispatchModel) -> MatrixProblem:
    """The whole LP at the model's current parameters, tangents included; records ``dm.rows``."""
    blocks = static_blocks(dm)
    rows: dict[str, slice] = {}
    start = 0
    for b in blocks:
        rows[b.name] = slice(start, start + b.n_rows)
        start += b.n_rows
    dm.rows = rows
    matrix, row_lower, row_upper = stack(blocks + dm.tangents, dm.layout.n_columns)
    col_lower, col_upper = column_bounds(dm)
    return MatrixProblem(cost=objective_costs(dm), a_matrix=matrix, row_lower=row_lower,
                         row_upper=row_upper, col_lower=col_lower, col_upper=col_upper)


def set_inputs(dm: DispatchModel, inputs: DispatchInputs) -> None:
    """Hold a forecast as the model's parameters (no rebuild; :func:`input_changes`).

    Raises
    ------
    ValueError
        If the horizon differs from what the model was built for.
    """
    if inputs.n_periods != dm.n_periods or not math.isclose(inputs.period_hours, dm.period_hours):
        raise ValueError(
            f"the model was built for {dm.n_periods} periods of {dm.period_hours} h, the forecast "
            f"has {inputs.n_periods} of {inputs.period_hours} h; rebuild the model"
        )
    p = dm.params
    dm.params = Parameters(
        p_demand_mw=np.asarray(inputs.p_demand_mw, dtype=float),
        q_demand_mvar=np.asarray(inputs.q_demand_mvar, dtype=float),
        pv_available_mw=np.asarray(inputs.pv_available_mw, dtype=float),
        price_per_mwh=np.asarray(inputs.price_per_mwh, dtype=float),
        loss_rho=p.loss_rho, loss_kappa_mw=p.loss_kappa_mw, v_corr_pu2=p.v_corr_pu2,
        q_loss_fixed_mvar=p.q_loss_fixed_mvar,
    )


def _rows_of(dm: DispatchModel, family: str) -> IntArray:
    s = dm.rows[family]
    return np.arange(s.start, s.stop, dtype=np.int64)


def _changes(parts: list[tuple[IntArray, FloatArray, FloatArray]]) -> Changes:
    if not parts:
        empty = np.zeros(0)
        return Changes(empty.astype(np.int64), empty, empty)
    return Changes(*(np.concatenate([p[k] for p in parts]) for k in range(3)))


def input_changes(dm: DispatchModel) -> tuple[Changes, Changes, tuple[IntArray, FloatArray]]:
    """What the forecast parameters set: row bounds, column bounds and costs.

    Row bounds of ``p_balance``, ``q_balance`` and ``inverter_capability``; the curtailment
    columns' upper bounds (PV availability); the grid columns' costs (price).
    """
    par, grid, lay = dm.params, dm.grid, dm.layout
    rhs = C.p_balance_bounds(grid, dm.positions, par.p_demand_mw, par.pv_available_mw)
    rows = [(_rows_of(dm, "p_balance"), rhs, rhs)]
    if "q_balance" in dm.rows:
        rhs = C.q_balance_bounds(grid, par.q_demand_mvar, par.q_loss_fixed_mvar)
        rows.append((_rows_of(dm, "q_balance"), rhs, rhs))
    if "inverter_capability" in dm.rows:
        upper = C.inverter_bounds(dm.assets.storage, dm.assets.pv, dm.n_periods,
                                  par.pv_available_mw)
        rows.append((_rows_of(dm, "inverter_capability"), np.full(len(upper), -np.inf), upper))
    cols = []
    if lay.has("p_curtail"):
        avail = C.flat(par.pv_available_mw)
        cols.append((lay.indices("p_curtail"), np.zeros(len(avail)), avail))
    price = (lay.indices("p_grid"), dm.period_hours * par.price_per_mwh)
    return _changes(rows), _changes(cols), price


def linearisation_changes(
    dm: DispatchModel,
) -> tuple[Changes, tuple[IntArray, IntArray, FloatArray]]:
    """What the linearisation point sets: row bounds and ``(row, column, value)`` coefficients.

    Bounds of ``loss_definition`` (``kappa``), ``voltage_drop`` (``delta``) and ``q_balance``
    (fixed reactive losses); the ``-rho`` coefficients of ``loss_definition``.
    """
    par, grid = dm.params, dm.grid
    rows = []
    coefficients = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if "loss_definition" in dm.rows:
        kappa = C.flat(par.loss_kappa_mw)
        rows.append((_rows_of(dm, "loss_definition"), kappa, kappa))
        cols, values = C.loss_coefficients(dm.layout, par.loss_rho)
        coefficients = (_rows_of(dm, "loss_definition"), cols, values)
    if "voltage_drop" in dm.rows:
        rhs = C.voltage_drop_bounds(par.v_corr_pu2)
        rows.append((_rows_of(dm, "voltage_drop"), rhs, rhs))
    if "q_balance" in dm.rows:
        rhs = C.q_balance_bounds(grid, par.q_demand_mvar, par.q_loss_fixed_mvar)
        rows.append((_rows_of(dm, "q_balance"), rhs, rhs))
    return _changes(rows), coefficients


def tangent_coefficients(
    base_mva: float, p_mw: FloatArray, q_mvar: FloatArray | None
) -> tuple[FloatArray, FloatArray | None, FloatArray]:
    r"""Tangent ``a P + b Q + c`` of ``g = (P^2 + Q^2) / S_base`` at ``(P_0, Q_0)``.

    ``a = 2 P_0 / S_base``, ``b = 2 Q_0 / S_base``, ``c = -(P_0^2 + Q_0^2) / S_base``; without
    ``q_mvar`` the tangent of ``P^2 / S_base``.

    Examples
    --------
    >>> import numpy as np
    >>> a, b, c = tangent_coefficients(10.0, np.array([2.0]), None)
    >>> float(a[0]), float(c[0]), float(a[0] * 2.0 + c[0])  # touches g(2) = 4 / 10
    (0.4, -0.4, 0.4)
    """
    a = 2.0 * p_mw / base_mva
    if q_mvar is None:
        return a, None, -(p_mw**2) / base_mva
    return a, 2.0 * q_mvar / base_mva, -(p_mw**2 + q_mvar**2) / base_mva


def add_tangents(dm: DispatchModel, point: OperatingPoint) -> RowBlock:
    """Add tangents of ``g`` at the operating point's flows; return the new rows."""
    return _add_tangents_at(dm, [(point.p_from_mw, point.q_from_mvar if dm.with_q else None)])


def seed_tangents(dm: DispatchModel, point: OperatingPoint) -> RowBlock:
    """Add the starting piecewise-linear approximation of ``g`` around ``point``.

    Tangents at multiples ``DispatchOptions.seed_scales`` of the point's flows and, per
    branch, on circles of radius
    ``fraction * max_t |S_0|`` (``DispatchOptions.seed_radii``) in ``seed_directions``
    directions of the ``(P, Q)`` plane (``+-`` radius in P for the DC model), so that the
    first LP already sees the loss grow in every direction and cannot move flows "sideways"
    of a single tangent for free.
    """
    opts = dm.options
    at: list[tuple[FloatArray, FloatArray | None]] = [
        (scale * point.p_from_mw, scale * point.q_from_mvar if dm.with_q else None)
        for scale in opts.seed_scales
    ]
    if dm.with_q:
        s_max = np.max(np.hypot(point.p_from_mw, point.q_from_mvar), axis=0)
        angles = [2 * np.pi * k / opts.seed_directions for k in range(opts.seed_directions)]
    else:
        s_max = np.max(np.abs(point.p_from_mw), axis=0)
        angles = [0.0, np.pi]
    ones = np.ones((dm.n_periods, 1))
    for fraction in opts.seed_radii:
        radius = ones * (fraction * s_max)[None, :]
        for phi in angles:
            at.append((radius * np.cos(phi), radius * np.sin(phi) if dm.with_q else None))
    return _add_tangents_at(dm, at)


def _add_tangents_at(
    dm: DispatchModel, points: list[tuple[FloatArray, FloatArray | None]]
) -> RowBlock:
    """One block of tangent rows, a round of ``(branch, t)`` rows per point, kept in ``dm``."""
    blocks = []
    for p, q in points:
        a, b, c = tangent_coefficients(dm.grid.base_mva, p, q)
        a = np.where(np.abs(a) < 1e-9, 0.0, a)
        if b is not None:
            b = np.where(np.abs(b) < 1e-9, 0.0, b)
        blocks.append(C.loss_cut_rows(dm.layout, a, b, c))
    matrix, lower, upper = stack(blocks, dm.layout.n_columns)
    block = RowBlock("loss_tangents", matrix, lower, upper)
    dm.tangents.append(block)
    return block


def set_linearisation_point(dm: DispatchModel, point: OperatingPoint) -> None:
    r"""Refresh the loss scaling, the voltage-drop correction and fixed Q losses at ``point``.

    ``rho = loss_AC / g(P_0, Q_0)`` calibrates the loss model to the AC loss at the point
    (``r / |V_from|^2`` for a pure series branch; branches with almost no flow use that
    formula). In the DC model ``kappa = rho Q_0^2 / S_base`` carries the reactive part.
    LinDistFlow also gets ``delta = (r^2 + x^2) |I|^2`` and ``x |I|^2`` for branches with
    ``r = 0``. The new numbers reach a persistent solver through :func:`linearisation_changes`.
    """
    grid = dm.grid
    base = grid.base_mva
    p0, q0, v0 = point.p_from_mw, point.q_from_mvar, point.v_from_pu
    s2 = (p0**2 + q0**2) / base
    formula = grid.r_pu[None, :] / np.maximum(v0, 0.5) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        calibrated = point.loss_mw / s2
    small = s2 < 1e-9 * max(float(s2.max()), 1e-12)
    rho = np.where(small | ~np.isfinite(calibrated) | (calibrated < 0), formula, calibrated)
    par = dm.params
    kappa, v_corr, q_fixed = par.loss_kappa_mw, par.v_corr_pu2, par.q_loss_fixed_mvar
    if not dm.with_q:
        kappa = rho * q0**2 / base
    else:
        i2 = s2 / (base * np.maximum(v0, 0.5) ** 2)
        v_corr = (grid.r_pu**2 + grid.x_pu**2)[None, :] * i2
        q_fixed = grid.x_pu[None, :] * i2 * base
    dm.params = Parameters(
        p_demand_mw=par.p_demand_mw, q_demand_mvar=par.q_demand_mvar,
        pv_available_mw=par.pv_available_mw, price_per_mwh=par.price_per_mwh,
        loss_rho=np.asarray(rho, dtype=float), loss_kappa_mw=np.asarray(kappa, dtype=float),
        v_corr_pu2=np.asarray(v_corr, dtype=float),
        q_loss_fixed_mvar=np.asarray(q_fixed, dtype=float),
    )
