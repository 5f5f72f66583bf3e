"""Constraint families of the multi-period dispatch, one family per function.

Every function adds its variables, mutable parameters and constraints to a Pyomo
``ConcreteModel`` ``m`` that already has the period set ``m.T`` (and for network families the
bus set ``m.N`` and branch set ``m.L``). Powers are in MW / Mvar, energies in MWh, squared
voltages in pu², angles in radians. Sign convention: branch flows ``p_flow[l, t]`` and
``q_flow[l, t]`` are measured where they *enter* the branch at its ``from`` end; injections
are positive into the bus.

References
----------
.. [BW89] M. E. Baran, F. F. Wu, "Network reconfiguration in distribution systems for loss
   reduction and load balancing", IEEE Trans. Power Delivery 4(2), 1989 (DistFlow / LinDistFlow).
.. [SO02] B. Stott, J. Jardim, O. Alsac, "DC power flow revisited", IEEE Trans. Power Systems
   24(3), 2009 (DC power flow with losses as extra bus demand).
.. [KE60] J. E. Kelley, "The cutting-plane method for solving convex programs", J. SIAM 8(4),
   1960 (outer linearisation of a convex function by tangents).
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from gridopt.network.assets import CurtailablePV, FlexibleLoad, Generator, GridConnection, Storage
from gridopt.opf.dispatch.grid import DispatchGrid

#: Inner regular polygons for circles: a bound of ``r cos(pi / n)`` on ``n`` directions keeps
#: every polygon vertex on the circle of radius ``r`` (conservative by at most 1 - cos(pi/n)).
OCTAGON_DIRECTIONS_RAD = tuple(k * math.pi / 4 for k in range(8))
OCTAGON_INNER = math.cos(math.pi / 8)


def _bound(value: float) -> float | None:
    return None if not math.isfinite(value) else value


def declare_lindistflow(m: pyo.ConcreteModel, grid: DispatchGrid) -> None:
    r"""Branch flows and squared voltages of LinDistFlow [BW89] for a radial network.

    .. math::

        w_{to(l),t} = \frac{w_{from(l),t}}{\tau_l^2}
            - \frac{2 (r_l P_{l,t} + x_l Q_{l,t})}{S_\text{base}} + \delta_{l,t},
        \qquad w_{s,t} = V_s^2

    with ``w = |V|^2`` and ``delta`` the mutable correction ``(r^2 + x^2) |I|^2`` taken from the
    latest AC operating point (zero until one is known), which makes the voltage drop exact at
    that point.
    """
    base = grid.base_mva
    m.p_flow = pyo.Var(m.L, m.T, initialize=0.0)
    m.q_flow = pyo.Var(m.L, m.T, initialize=0.0)
    m.w = pyo.Var(m.N, m.T, bounds=(0.0, None), initialize=1.0)
    m.v_corr = pyo.Param(m.L, m.T, mutable=True, initialize=0.0)
    f, t_, r, x, tap = grid.branch_from, grid.branch_to, grid.r_pu, grid.x_pu, grid.tap_ratio

    def drop(m: pyo.ConcreteModel, line: int, t: int) -> pyo.Expression:
        return m.w[int(t_[line]), t] == m.w[int(f[line]), t] / float(tap[line]) ** 2 - (
            2.0 * (float(r[line]) * m.p_flow[line, t] + float(x[line]) * m.q_flow[line, t]) / base
        ) + m.v_corr[line, t]

    m.voltage_drop = pyo.Constraint(m.L, m.T, rule=drop)
    m.slack_voltage = pyo.Constraint(
        m.T, rule=lambda m, t: m.w[grid.slack_bus, t] == grid.v_slack_pu**2
    )


def declare_dc_flow(m: pyo.ConcreteModel, grid: DispatchGrid) -> None:
    r"""DC branch flows from voltage angles [SO02] for meshed networks.

    .. math:: P_{l,t} = S_\text{base} \frac{\theta_{from(l),t} - \theta_{to(l),t}}{x_l \tau_l},
              \qquad \theta_{s,t} = 0
    """
    base = grid.base_mva
    m.p_flow = pyo.Var(m.L, m.T, initialize=0.0)
    m.theta = pyo.Var(m.N, m.T, initialize=0.0)
    f, t_ = grid.branch_from, grid.branch_to
    b = base / (grid.x_pu * grid.tap_ratio)

    def flow(m: pyo.ConcreteModel, line: int, t: int) -> pyo.Expression:
        return m.p_flow[line, t] == float(b[line]) * (
            m.theta[int(f[line]), t] - m.theta[int(t_[line]), t]
        )

    m.dc_flow = pyo.Constraint(m.L, m.T, rule=flow)
    for t in m.T:
        m.theta[grid.slack_bus, t].fix(0.0)


def declare_loss_variables(m: pyo.ConcreteModel) -> None:
    r"""Branch losses ``p_loss = rho * u + kappa`` with ``u`` bounded below by tangent cuts.

    .. math::

        p^\text{loss}_{l,t} = \rho_{l,t}\, u_{l,t} + \kappa_{l,t},
        \qquad u_{l,t} \ge 0

    ``u`` stands for the normalised squared flow ``g = (P^2 + Q^2) / S_base`` (``P^2 / S_base``
    in the DC model); ``rho`` (about ``r / |V_from|^2``) and ``kappa`` (the part of the loss
    due to the reactive flow held fixed in the DC model) are mutable parameters refreshed
    from each AC operating point. Because ``g`` does not depend on the operating point, every
    tangent of it stays valid for any forecast: tangents are only ever added.
    """
    m.p_loss = pyo.Var(m.L, m.T, bounds=(0.0, None), initialize=0.0)
    m.flow_sq = pyo.Var(m.L, m.T, bounds=(0.0, None), initialize=0.0)
    m.loss_rho = pyo.Param(m.L, m.T, mutable=True, initialize=1.0)
    m.loss_kappa = pyo.Param(m.L, m.T, mutable=True, initialize=0.0)
    m.loss_definition = pyo.Constraint(
        m.L, m.T,
        rule=lambda m, line, t: m.p_loss[line, t] - m.loss_rho[line, t] * m.flow_sq[line, t]
        == m.loss_kappa[line, t],
    )


def add_loss_cuts(
    m: pyo.ConcreteModel,
    name: str,
    a: np.ndarray,
    b: np.ndarray | None,
    c: np.ndarray,
) -> pyo.Constraint:
    r"""Add one tangent of ``g`` per branch and period (outer linearisation [KE60]).

    .. math::

        u_{l,t} \ge a_{t,l} P_{l,t} + b_{t,l} Q_{l,t} + c_{t,l}

    ``g(P, Q) = (P^2 + Q^2) / S_base`` is convex, so every tangent is a valid lower bound and,
    with the loss minimised, ``u`` sits on the highest one. ``a``, ``b``, ``c`` are
    ``(time, branch)`` arrays (``b = None`` without reactive flows). The coefficients are plain
    numbers: a round of tangents adds rows to the persistent solver.
    """
    a_list, c_list = a.tolist(), c.tolist()
    b_list = b.tolist() if b is not None else None

    def cut(m: pyo.ConcreteModel, line: int, t: int) -> tuple[float, LinearExpression, None]:
        # body built as a LinearExpression (no operator overloading): ~10x faster to construct
        terms: list[object] = [m.flow_sq[line, t]]
        if a_list[t][line] != 0.0:
            terms.append(MonomialTermExpression((-a_list[t][line], m.p_flow[line, t])))
        if b_list is not None and b_list[t][line] != 0.0:
            terms.append(MonomialTermExpression((-b_list[t][line], m.q_flow[line, t])))
        return (c_list[t][line], LinearExpression(terms), None)

    component = pyo.Constraint(m.L, m.T, rule=cut)
    m.add_component(name, component)
    return component


def declare_storage(
    m: pyo.ConcreteModel, storage: tuple[Storage, ...], period_hours: float
) -> None:
    r"""Storage power, energy balance and state-of-charge limits.

    .. math::

        e_{s,t} = e_{s,t-1} + \Delta t \left(\eta^c_s p^c_{s,t} - p^d_{s,t} / \eta^d_s\right),
        \quad e_{s,-1} = E^0_s, \quad e_{s,T-1} \ge E^\text{end}_s,

        0 \le p^c \le \bar P^c,\ 0 \le p^d \le \bar P^d,\
        \underline{SOC}\,E \le e \le \overline{SOC}\,E

    Reactive power ``q_sto`` is free within the inverter rating (or fixed at 0 without one).
    """
    m.S = pyo.RangeSet(0, len(storage) - 1) if storage else pyo.Set(initialize=[])
    m.p_charge = pyo.Var(m.S, m.T, bounds=lambda m, s, t: (0.0, storage[s].p_charge_max_mw))
    m.p_discharge = pyo.Var(m.S, m.T, bounds=lambda m, s, t: (0.0, storage[s].p_discharge_max_mw))
    m.q_storage = pyo.Var(m.S, m.T, initialize=0.0)
    m.energy = pyo.Var(
        m.S,
        m.T,
        bounds=lambda m, s, t: (
            storage[s].energy_capacity_mwh * storage[s].soc_min_percent / 100.0,
            storage[s].energy_capacity_mwh * storage[s].soc_max_percent / 100.0,
        ),
    )
    dt = period_hours

    def balance(m: pyo.ConcreteModel, s: int, t: int) -> pyo.Expression:
        st = storage[s]
        previous = st.energy_initial_mwh if t == 0 else m.energy[s, t - 1]
        return m.energy[s, t] == previous + dt * (
            st.efficiency_charge * m.p_charge[s, t] - m.p_discharge[s, t] / st.efficiency_discharge
        )

    m.storage_balance = pyo.Constraint(m.S, m.T, rule=balance)
    last = max(m.T)
    m.storage_final = pyo.Constraint(
        m.S, rule=lambda m, s: m.energy[s, last] >= storage[s].energy_final_min_mwh
    )
    for s, st in enumerate(storage):
        if st.s_max_mva is None:
            for t in m.T:
                m.q_storage[s, t].fix(0.0)


def declare_pv(m: pyo.ConcreteModel, pv: tuple[CurtailablePV, ...]) -> None:
    r"""Curtailable PV: ``0 <= p_curt <= available`` (mutable ``pv_available``), free Q.

    Output is ``available_{i,t} - p_curt_{i,t}``; ``q_pv`` is fixed at 0 without an inverter rating.
    """
    m.PV = pyo.RangeSet(0, len(pv) - 1) if pv else pyo.Set(initialize=[])
    m.pv_available = pyo.Param(m.PV, m.T, mutable=True, initialize=0.0)
    m.p_curtail = pyo.Var(m.PV, m.T, bounds=(0.0, None), initialize=0.0)
    m.q_pv = pyo.Var(m.PV, m.T, initialize=0.0)
    m.curtail_limit = pyo.Constraint(
        m.PV, m.T, rule=lambda m, i, t: m.p_curtail[i, t] <= m.pv_available[i, t]
    )
    for i, unit in enumerate(pv):
        if unit.s_max_mva is None:
            for t in m.T:
                m.q_pv[i, t].fix(0.0)


def declare_inverter_capability(
    m: pyo.ConcreteModel, storage: tuple[Storage, ...], pv: tuple[CurtailablePV, ...]
) -> None:
    r"""Apparent-power limit of inverters, ``p^2 + q^2 <= S^2``, as an inscribed octagon.

    .. math:: p \cos\phi_k + q \sin\phi_k \le S \cos(\pi/8), \quad \phi_k = k\pi/4,\ k=0..7
    """
    rows = []
    for s, st in enumerate(storage):
        if st.s_max_mva is not None:
            rows.append(("storage", s, st.s_max_mva))
    for i, unit in enumerate(pv):
        if unit.s_max_mva is not None:
            rows.append(("pv", i, unit.s_max_mva))
    m.INV = pyo.RangeSet(0, len(rows) - 1) if rows else pyo.Set(initialize=[])
    m.DIR = pyo.RangeSet(0, len(OCTAGON_DIRECTIONS_RAD) - 1)

    def cap(m: pyo.ConcreteModel, j: int, t: int, k: int) -> pyo.Expression:
        kind, idx, s_max = rows[j]
        if kind == "storage":
            p = m.p_discharge[idx, t] - m.p_charge[idx, t]
            q = m.q_storage[idx, t]
        else:
            p = m.pv_available[idx, t] - m.p_curtail[idx, t]
            q = m.q_pv[idx, t]
        phi = OCTAGON_DIRECTIONS_RAD[k]
        cos_phi, sin_phi = math.cos(phi), math.sin(phi)
        terms = 0.0
        if abs(cos_phi) > 1e-12:
            terms = terms + cos_phi * p
        if abs(sin_phi) > 1e-12:
            terms = terms + sin_phi * q
        return terms <= s_max * OCTAGON_INNER

    m.inverter_capability = pyo.Constraint(m.INV, m.T, m.DIR, rule=cap)


def declare_flexible_load(
    m: pyo.ConcreteModel, flexible: tuple[FlexibleLoad, ...], n_periods: int, period_hours: float
) -> None:
    r"""Load shifting: ``0 <= up <= U``, ``0 <= down <= D`` inside the window, zero outside, and

    .. math:: \sum_{t \in W_f} (up_{f,t} - down_{f,t})\,\Delta t = 0
    """
    m.F = pyo.RangeSet(0, len(flexible) - 1) if flexible else pyo.Set(initialize=[])

    def window(f: int) -> range:
        fl = flexible[f]
        end = n_periods if fl.window_end is None else min(fl.window_end, n_periods)
        return range(max(fl.window_start, 0), end)

    def up_bounds(m: pyo.ConcreteModel, f: int, t: int) -> tuple[float, float]:
        return (0.0, flexible[f].p_increase_max_mw if t in window(f) else 0.0)

    def down_bounds(m: pyo.ConcreteModel, f: int, t: int) -> tuple[float, float]:
        return (0.0, flexible[f].p_decrease_max_mw if t in window(f) else 0.0)

    m.p_shift_up = pyo.Var(m.F, m.T, bounds=up_bounds, initialize=0.0)
    m.p_shift_down = pyo.Var(m.F, m.T, bounds=down_bounds, initialize=0.0)
    m.shift_energy = pyo.Constraint(
        m.F,
        rule=lambda m, f: sum(
            (m.p_shift_up[f, t] - m.p_shift_down[f, t]) * period_hours for t in window(f)
        ) == 0.0,
    )


def declare_generators(
    m: pyo.ConcreteModel, generators: tuple[Generator, ...], with_q: bool
) -> None:
    """Dispatchable generators: ``p_min <= p_gen <= p_max`` and ``q_min <= q_gen <= q_max``."""
    m.G = pyo.RangeSet(0, len(generators) - 1) if generators else pyo.Set(initialize=[])
    m.p_gen = pyo.Var(
        m.G, m.T, bounds=lambda m, g, t: (generators[g].p_min_mw, generators[g].p_max_mw)
    )
    m.q_gen = pyo.Var(
        m.G,
        m.T,
        bounds=lambda m, g, t: (
            (generators[g].q_min_mvar, generators[g].q_max_mvar) if with_q else (0.0, 0.0)
        ),
    )


def declare_grid_connection(m: pyo.ConcreteModel, connection: GridConnection) -> None:
    """Exchange with the upstream grid at the slack bus, within the connection limits."""
    m.p_grid = pyo.Var(
        m.T, bounds=(_bound(-connection.p_export_max_mw), _bound(connection.p_import_max_mw))
    )
    m.q_grid = pyo.Var(
        m.T, bounds=(_bound(-connection.q_abs_max_mvar), _bound(connection.q_abs_max_mvar))
    )


def _assets_at(buses: list[int], n_bus: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(n_bus)]
    for i, b in enumerate(buses):
        out[b].append(i)
    return out


def declare_power_balance(
    m: pyo.ConcreteModel,
    grid: DispatchGrid,
    positions: dict[str, list[int]],
    with_q: bool,
) -> None:
    r"""Nodal active (and reactive) power balance with losses.

    .. math::

        g_{n,t} - d_{n,t} = \sum_{l: from(l)=n} P_{l,t}
            + \sum_{l: to(l)=n} \left(p^\text{loss}_{l,t} - P_{l,t}\right)

    where ``g`` collects grid exchange (slack bus), generators, PV output, storage
    ``p_dis - p_ch``, and ``d`` the mutable demand ``p_demand`` plus flexible-load shift. The
    reactive balance is the same with ``Q`` and reactive losses ``(x / r) p_loss``
    (``|I|^2 x``), or the mutable ``q_loss_fixed`` from the AC point for branches with ``r = 0``.
    ``positions`` maps ``storage``, ``pv``, ``flexible_load``, ``generator`` to bus positions.
    """
    n_bus = grid.n_bus
    m.p_demand = pyo.Param(m.N, m.T, mutable=True, initialize=0.0)
    out_of = _assets_at(list(grid.branch_from), n_bus)
    into = _assets_at(list(grid.branch_to), n_bus)
    sto = _assets_at(positions["storage"], n_bus)
    pvs = _assets_at(positions["pv"], n_bus)
    flex = _assets_at(positions["flexible_load"], n_bus)
    gens = _assets_at(positions["generator"], n_bus)
    slack = grid.slack_bus

    def p_balance(m: pyo.ConcreteModel, n: int, t: int) -> pyo.Expression:
        inject = sum(m.p_discharge[s, t] - m.p_charge[s, t] for s in sto[n])
        inject += sum(m.pv_available[i, t] - m.p_curtail[i, t] for i in pvs[n])
        inject += sum(m.p_gen[g, t] for g in gens[n])
        inject -= sum(m.p_shift_up[f, t] - m.p_shift_down[f, t] for f in flex[n])
        if n == slack:
            inject += m.p_grid[t]
        flows = sum(m.p_flow[line, t] for line in out_of[n]) + sum(
            m.p_loss[line, t] - m.p_flow[line, t] for line in into[n]
        )
        return inject - m.p_demand[n, t] - flows == 0.0

    m.p_balance = pyo.Constraint(m.N, m.T, rule=p_balance)
    if not with_q:
        return
    m.q_demand = pyo.Param(m.N, m.T, mutable=True, initialize=0.0)
    m.q_loss_fixed = pyo.Param(m.L, m.T, mutable=True, initialize=0.0)
    ratio = np.where(grid.r_pu > 0, grid.x_pu / np.where(grid.r_pu > 0, grid.r_pu, 1.0), 0.0)

    def q_loss(line: int, t: int) -> pyo.Expression:
        if ratio[line] > 0:
            return float(ratio[line]) * m.p_loss[line, t]
        return m.q_loss_fixed[line, t]

    def q_balance(m: pyo.ConcreteModel, n: int, t: int) -> pyo.Expression:
        inject = sum(m.q_storage[s, t] for s in sto[n]) + sum(m.q_pv[i, t] for i in pvs[n])
        inject += sum(m.q_gen[g, t] for g in gens[n])
        if n == slack:
            inject += m.q_grid[t]
        flows = sum(m.q_flow[line, t] for line in out_of[n]) + sum(
            q_loss(line, t) - m.q_flow[line, t] for line in into[n]
        )
        return inject - m.q_demand[n, t] - flows == 0.0

    m.q_balance = pyo.Constraint(m.N, m.T, rule=q_balance)


def declare_voltage_limits(m: pyo.ConcreteModel, grid: DispatchGrid) -> None:
    r"""Soft voltage band on squared voltages with penalised slack ``v_low, v_high >= 0``.

    .. math:: \underline V_n^2 - s^-_{n,t} \le w_{n,t} \le \overline V_n^2 + s^+_{n,t}
    """
    m.v_low = pyo.Var(m.N, m.T, bounds=(0.0, None), initialize=0.0)
    m.v_high = pyo.Var(m.N, m.T, bounds=(0.0, None), initialize=0.0)
    vmin2, vmax2 = grid.vmin_pu**2, grid.vmax_pu**2
    m.v_min = pyo.Constraint(
        m.N, m.T, rule=lambda m, n, t: m.w[n, t] + m.v_low[n, t] >= float(vmin2[n])
    )
    m.v_max = pyo.Constraint(
        m.N, m.T, rule=lambda m, n, t: m.w[n, t] - m.v_high[n, t] <= float(vmax2[n])
    )
    for t in m.T:
        m.v_low[grid.slack_bus, t].fix(0.0)
        m.v_high[grid.slack_bus, t].fix(0.0)


def declare_thermal_limits(m: pyo.ConcreteModel, grid: DispatchGrid, with_q: bool) -> None:
    r"""Soft thermal limits of rated branches with penalised slack ``s_over >= 0`` (MVA).

    With Q (LinDistFlow), the circle ``P^2 + Q^2 <= R^2`` as an inscribed octagon:

    .. math:: |P \cos\phi_k + Q \sin\phi_k| \le R \cos(\pi/8) + s, \quad \phi_k = k\pi/4,\ k=0..3

    Without Q (DC), ``|P| <= R + s``.
    """
    rated = [int(i) for i in np.flatnonzero(np.isfinite(grid.rate_mva))]
    m.RATED = pyo.Set(initialize=rated, ordered=True)
    m.s_over = pyo.Var(m.RATED, m.T, bounds=(0.0, None), initialize=0.0)
    rate = grid.rate_mva
    if with_q:
        m.DIR4 = pyo.RangeSet(0, 3)

        def expr(m: pyo.ConcreteModel, line: int, t: int, k: int) -> pyo.Expression:
            phi = OCTAGON_DIRECTIONS_RAD[k]
            out = 0.0
            if abs(math.cos(phi)) > 1e-12:
                out = out + math.cos(phi) * m.p_flow[line, t]
            if abs(math.sin(phi)) > 1e-12:
                out = out + math.sin(phi) * m.q_flow[line, t]
            return out

        m.thermal_upper = pyo.Constraint(
            m.RATED, m.T, m.DIR4,
            rule=lambda m, line, t, k: expr(m, line, t, k) - m.s_over[line, t]
            <= float(rate[line]) * OCTAGON_INNER,
        )
        m.thermal_lower = pyo.Constraint(
            m.RATED, m.T, m.DIR4,
            rule=lambda m, line, t, k: expr(m, line, t, k) + m.s_over[line, t]
            >= -float(rate[line]) * OCTAGON_INNER,
        )
    else:
        m.thermal_upper = pyo.Constraint(
            m.RATED, m.T,
            rule=lambda m, line, t: m.p_flow[line, t] - m.s_over[line, t] <= float(rate[line]),
        )
        m.thermal_lower = pyo.Constraint(
            m.RATED, m.T,
            rule=lambda m, line, t: m.p_flow[line, t] + m.s_over[line, t] >= -float(rate[line]),
        )
