"""Build the dispatch LP once, change its inputs, read its solution.

The model is built for a network, a set of assets and a horizon length; every quantity that
changes with the forecast or with the linearisation point is a *mutable* Pyomo ``Param``
(demand, PV availability, price, loss tangents, voltage-drop corrections), so a persistent
HiGHS instance re-solves after :func:`set_inputs` without rebuilding; loss tangents are rows
added to the persistent solver round by round (never removed: they stay valid).

Losses: successive outer linearisation
--------------------------------------
Each branch's series loss ``f(P, Q) = r (P^2 + Q^2) / (S_base |V_from|^2)`` is convex. The LP
bounds the loss variable from below by tangents of ``f`` (see
:func:`~gridopt.opf.dispatch.constraints.add_loss_cuts`):

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
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch import constraints as C
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.options import DispatchOptions, GridModel


@dataclass(frozen=True, eq=False)
class DispatchModel:
    """A built dispatch LP and what it was built for."""

    model: pyo.ConcreteModel
    grid: DispatchGrid
    assets: Assets
    grid_model: GridModel
    n_periods: int
    period_hours: float
    options: DispatchOptions
    positions: dict[str, list[int]]
    #: the model has branch loss variables (built ``with_losses``); else it is lossless
    with_losses: bool = True
    tangent_names: list[str] = field(default_factory=list)

    @property
    def with_q(self) -> bool:
        """True when the model has reactive power and voltages (LinDistFlow)."""
        return self.grid_model is GridModel.LINDISTFLOW


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


def choose_grid_model(grid: DispatchGrid, requested: GridModel) -> GridModel:
    """Resolve :attr:`GridModel.AUTO`: LinDistFlow for a radial network, DC with losses else."""
    if requested is not GridModel.AUTO:
        return requested
    return GridModel.LINDISTFLOW if grid.is_radial else GridModel.DC_LOSSES


def asset_positions(grid: DispatchGrid, assets: Assets) -> dict[str, list[int]]:
    """Bus position of every asset, by kind."""
    return {
        kind: [grid.bus_position(a.bus, f"{kind} {a.name!r}") for a in group]
        for kind, group in (
            ("storage", assets.storage),
            ("pv", assets.pv),
            ("flexible_load", assets.flexible_load),
            ("generator", assets.generator),
        )
    }


def declare_objective(
    m: pyo.ConcreteModel,
    assets: Assets,
    options: DispatchOptions,
    period_hours: float,
    with_voltage: bool,
    with_losses: bool = True,
) -> None:
    r"""Objective: weighted energy losses, penalties, energy cost and limit-slack penalties.

    .. math::

        \Delta t \sum_t \Big[ w_\ell \big(\sum_l p^\text{loss}_{l,t}
            + \sum_s ((1-\eta^c_s) p^c_{s,t} + (1/\eta^d_s - 1) p^d_{s,t})\big)
            + c_\text{curt} \sum_i p^\text{curt}_{i,t}
            + c_\text{cyc} \sum_s (p^c_{s,t} + p^d_{s,t})
            + \pi_t p^\text{grid}_t + \sum_g c_g p^\text{gen}_{g,t}
            + \rho_V \sum_n (s^-_{n,t} + s^+_{n,t}) + \rho_S \sum_l s^\text{over}_{l,t} \Big]

    Storage conversion losses count as losses, so the battery only cycles when the network
    saves more than the conversion costs. ``price`` is a mutable parameter (zero by default).
    """
    m.price = pyo.Param(m.T, mutable=True, initialize=0.0)
    dt = period_hours
    st = assets.storage
    gens = assets.generator

    def per_period(t: int) -> pyo.Expression:
        loss = sum(m.p_loss[line, t] for line in m.L) if with_losses else 0.0
        loss += sum(
            (1.0 - st[s].efficiency_charge) * m.p_charge[s, t]
            + (1.0 / st[s].efficiency_discharge - 1.0) * m.p_discharge[s, t]
            for s in m.S
        )
        out = options.loss_weight_per_mwh * loss
        out += options.curtailment_penalty_per_mwh * sum(m.p_curtail[i, t] for i in m.PV)
        out += options.cycling_penalty_per_mwh * sum(
            m.p_charge[s, t] + m.p_discharge[s, t] for s in m.S
        )
        out += m.price[t] * m.p_grid[t]
        out += sum(gens[g].cost_per_mwh * m.p_gen[g, t] for g in m.G if gens[g].cost_per_mwh)
        out += options.thermal_slack_penalty_per_mvah * sum(m.s_over[line, t] for line in m.RATED)
        if with_voltage:
            out += options.voltage_slack_penalty * sum(m.v_low[n, t] + m.v_high[n, t] for n in m.N)
        return dt * out

    m.objective = pyo.Objective(expr=sum(per_period(t) for t in m.T), sense=pyo.minimize)


def build_dispatch_model(
    grid: DispatchGrid,
    assets: Assets,
    n_periods: int,
    period_hours: float,
    options: DispatchOptions,
    with_losses: bool = True,
) -> DispatchModel:
    """Build the multi-period dispatch LP (all inputs zero until :func:`set_inputs`).

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
        ``False`` gives the lossless LP (no loss variables or tangents), used for the
        benchmark against PyPSA.
    """
    grid_model = choose_grid_model(grid, options.grid_model)
    with_q = grid_model is GridModel.LINDISTFLOW
    positions = asset_positions(grid, assets)
    m = pyo.ConcreteModel(name=f"dispatch {grid.name}")
    m.T = pyo.RangeSet(0, n_periods - 1)
    m.N = pyo.RangeSet(0, grid.n_bus - 1)
    m.L = pyo.RangeSet(0, grid.n_branch - 1)
    if with_q:
        C.declare_lindistflow(m, grid)
    else:
        C.declare_dc_flow(m, grid)
    if with_losses:
        C.declare_loss_variables(m)
    else:
        m.p_loss = pyo.Param(m.L, m.T, initialize=0.0)
    C.declare_storage(m, assets.storage, period_hours)
    C.declare_pv(m, assets.pv)
    C.declare_flexible_load(m, assets.flexible_load, n_periods, period_hours)
    C.declare_generators(m, assets.generator, with_q)
    C.declare_grid_connection(m, assets.grid)
    if with_q:
        C.declare_inverter_capability(m, assets.storage, assets.pv)
    else:
        for var in (m.q_storage, m.q_pv, m.q_grid):
            for index in var:
                var[index].fix(0.0)
    C.declare_power_balance(m, grid, positions, with_q)
    if with_q:
        C.declare_voltage_limits(m, grid)
    C.declare_thermal_limits(m, grid, with_q)
    declare_objective(
        m, assets, options, period_hours, with_voltage=with_q, with_losses=with_losses
    )
    return DispatchModel(
        model=m,
        grid=grid,
        assets=assets,
        grid_model=grid_model,
        n_periods=n_periods,
        period_hours=period_hours,
        options=options,
        positions=positions,
        with_losses=with_losses,
    )


def _set_param(param: pyo.Param, values: np.ndarray) -> None:
    """Assign a 2-D array to a parameter indexed ``(i, t)`` (values given as ``(t, i)``)."""
    n_t, n_i = values.shape
    for i in range(n_i):
        for t in range(n_t):
            param[i, t] = float(values[t, i])


def set_inputs(dm: DispatchModel, inputs: DispatchInputs) -> None:
    """Write a forecast into the model's mutable parameters (no rebuild).

    Raises
    ------
    ValueError
        If the horizon or the bus count differ from what the model was built for.
    """
    m = dm.model
    if inputs.n_periods != dm.n_periods or not math.isclose(inputs.period_hours, dm.period_hours):
        raise ValueError(
            f"the model was built for {dm.n_periods} periods of {dm.period_hours} h, the forecast "
            f"has {inputs.n_periods} of {inputs.period_hours} h; rebuild the model"
        )
    _set_param(m.p_demand, inputs.p_demand_mw)
    if dm.with_q:
        _set_param(m.q_demand, inputs.q_demand_mvar)
    _set_param(m.pv_available, inputs.pv_available_mw)
    for t in range(dm.n_periods):
        m.price[t] = float(inputs.price_per_mwh[t])


def input_rows(dm: DispatchModel) -> list[ConstraintData]:
    """Rows whose bounds contain forecast parameters (:func:`set_inputs`).

    Demand, PV availability: the nodal balances, the curtailment limits and the inverter
    capability rows (PV output ``available - curtailed``). The price sits in the objective.
    """
    m = dm.model
    families = [m.p_balance, m.curtail_limit]
    if dm.with_q:
        families += [m.q_balance, m.inverter_capability]
    return [row for family in families for row in family.values()]


def linearisation_rows(dm: DispatchModel) -> list[ConstraintData]:
    """Rows whose bounds or coefficients contain :func:`set_linearisation_point` parameters.

    ``loss_rho`` and ``loss_kappa`` (loss definition), ``v_corr`` (voltage drop) and
    ``q_loss_fixed`` (reactive balance).
    """
    m = dm.model
    families = [m.loss_definition] if dm.with_losses else []
    if dm.with_q:
        families += [m.voltage_drop, m.q_balance]
    return [row for family in families for row in family.values()]


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


def add_tangents(dm: DispatchModel, point: OperatingPoint) -> list[ConstraintData]:
    """Add tangents of ``g`` at the operating point's flows; return the new rows."""
    return _add_tangents_at(dm, point.p_from_mw, point.q_from_mvar if dm.with_q else None)


def seed_tangents(dm: DispatchModel, point: OperatingPoint) -> list[ConstraintData]:
    """Add the starting piecewise-linear approximation of ``g`` around ``point``.

    Tangents at multiples ``DispatchOptions.seed_scales`` of the point's flows and, per
    branch, on circles of radius
    ``fraction * max_t |S_0|`` (``DispatchOptions.seed_radii``) in ``seed_directions``
    directions of the ``(P, Q)`` plane (``+-`` radius in P for the DC model), so that the
    first LP already sees the loss grow in every direction and cannot move flows "sideways"
    of a single tangent for free.
    """
    opts = dm.options
    rows: list[ConstraintData] = []
    for scale in opts.seed_scales:
        rows += _add_tangents_at(
            dm, scale * point.p_from_mw, scale * point.q_from_mvar if dm.with_q else None
        )
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
            q = radius * np.sin(phi) if dm.with_q else None
            rows += _add_tangents_at(dm, radius * np.cos(phi), q)
    return rows


def _add_tangents_at(
    dm: DispatchModel, p: FloatArray, q: FloatArray | None
) -> list[ConstraintData]:
    a, b, c = tangent_coefficients(dm.grid.base_mva, p, q)
    a = np.where(np.abs(a) < 1e-9, 0.0, a)
    if b is not None:
        b = np.where(np.abs(b) < 1e-9, 0.0, b)
    name = f"loss_tangents_{len(dm.tangent_names)}"
    component = C.add_loss_cuts(dm.model, name, a, b, c)
    dm.tangent_names.append(name)
    return list(component.values())


def set_linearisation_point(dm: DispatchModel, point: OperatingPoint) -> None:
    r"""Refresh the loss scaling, the voltage-drop correction and fixed Q losses at ``point``.

    ``rho = loss_AC / g(P_0, Q_0)`` calibrates the loss model to the AC loss at the point
    (``r / |V_from|^2`` for a pure series branch; branches with almost no flow use that
    formula). In the DC model ``kappa = rho Q_0^2 / S_base`` carries the reactive part.
    LinDistFlow also gets ``delta = (r^2 + x^2) |I|^2`` and ``x |I|^2`` for branches with ``r = 0``.
    """
    m = dm.model
    grid = dm.grid
    base = grid.base_mva
    p0, q0, v0 = point.p_from_mw, point.q_from_mvar, point.v_from_pu
    s2 = (p0**2 + q0**2) / base
    formula = grid.r_pu[None, :] / np.maximum(v0, 0.5) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        calibrated = point.loss_mw / s2
    small = s2 < 1e-9 * max(float(s2.max()), 1e-12)
    rho = np.where(small | ~np.isfinite(calibrated) | (calibrated < 0), formula, calibrated)
    if dm.with_losses:
        _set_param(m.loss_rho, rho)
        if not dm.with_q:
            _set_param(m.loss_kappa, rho * q0**2 / base)
    if not dm.with_q:
        return
    i2 = s2 / (base * np.maximum(v0, 0.5) ** 2)
    _set_param(m.v_corr, (grid.r_pu**2 + grid.x_pu**2)[None, :] * i2)
    _set_param(m.q_loss_fixed, grid.x_pu[None, :] * i2 * base)
