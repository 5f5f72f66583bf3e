r"""Constraint families of the multi-period dispatch, one function per family.

Each function returns a :class:`~gridopt.opf.dispatch.layout.RowBlock` (sparse rows and their
bounds) over the columns of a :class:`~gridopt.opf.dispatch.layout.ColumnLayout`; both solve
paths (persistent re-solves and the direct matrix) are assembled from these blocks. Quantities
that change with the forecast or the linearisation point enter as arguments, and the families
whose bounds depend on them have a ``*_bounds`` function that the persistent path calls alone.
Powers are in MW / Mvar, energies in MWh, squared voltages in pu², angles in radians. Sign
convention: branch flows ``P``, ``Q`` are measured where they *enter* the branch at its
``from`` end; injections are positive into the bus. Rows are element-major, ``(element, t)``.

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
import scipy.sparse as sp

from gridopt.network.assets import CurtailablePV, FlexibleLoad, Storage
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.layout import ColumnLayout, Form, RowBlock, combine

#: Inner regular polygons for circles: a bound of ``r cos(pi / n)`` on ``n`` directions keeps
#: every polygon vertex on the circle of radius ``r`` (conservative by at most 1 - cos(pi/n)).
OCTAGON_DIRECTIONS_RAD = tuple(k * math.pi / 4 for k in range(8))
OCTAGON_INNER = math.cos(math.pi / 8)


def flat(values_t_by_element: FloatArray) -> FloatArray:
    """A ``(time, element)`` array in row order ``(element, t)``."""
    return np.ascontiguousarray(np.asarray(values_t_by_element, dtype=float).T).ravel()


def _on_bus(positions: list[int] | np.ndarray, n_bus: int) -> sp.csr_matrix:
    """``(n_bus, n_element)`` 0/1 matrix placing each element at its bus."""
    n = len(positions)
    return sp.csr_matrix(
        (np.ones(n), (np.asarray(positions, dtype=np.int64), np.arange(n))), shape=(n_bus, n)
    )


def _trig(phi: float) -> tuple[float, float]:
    """``cos``, ``sin`` of ``phi`` with rounding residue (``cos(pi/2) ~ 6e-17``) set to zero."""
    c, s = math.cos(phi), math.sin(phi)
    return (c if abs(c) > 1e-12 else 0.0), (s if abs(s) > 1e-12 else 0.0)


def voltage_drop_rows(
    layout: ColumnLayout, grid: DispatchGrid, v_corr_pu2: FloatArray
) -> RowBlock:
    r"""LinDistFlow voltage drop along each branch [BW89], rows ``(branch, t)``.

    .. math::

        w_{to(l),t} - \frac{w_{from(l),t}}{\tau_l^2}
            + \frac{2 (r_l P_{l,t} + x_l Q_{l,t})}{S_\text{base}} = \delta_{l,t}

    with ``w = |V|^2`` and ``delta`` (``v_corr_pu2``, ``(time, branch)``) the correction
    ``(r^2 + x^2) |I|^2`` at the latest AC operating point (zero until one is known), which
    makes the drop exact at that point.
    """
    nl, nb = grid.n_branch, grid.n_bus
    lines = np.arange(nl)
    drop = sp.csr_matrix(
        (np.concatenate([np.ones(nl), -1.0 / grid.tap_ratio**2]),
         (np.concatenate([lines, lines]), np.concatenate([grid.branch_to, grid.branch_from]))),
        shape=(nl, nb),
    )
    base = grid.base_mva
    matrix = combine(layout.per_period("w", drop),
                     layout.per_period("p_flow", sp.diags(2.0 * grid.r_pu / base)),
                     layout.per_period("q_flow", sp.diags(2.0 * grid.x_pu / base)))
    rhs = voltage_drop_bounds(v_corr_pu2)
    return RowBlock("voltage_drop", sp.csr_matrix(matrix), rhs, rhs.copy())


def voltage_drop_bounds(v_corr_pu2: FloatArray) -> FloatArray:
    """Right-hand side of :func:`voltage_drop_rows` (``delta`` in row order)."""
    return flat(v_corr_pu2)


def slack_voltage_rows(layout: ColumnLayout, grid: DispatchGrid) -> RowBlock:
    r"""Squared voltage at the slack bus, rows ``(t)``: :math:`w_{s,t} = V_s^2`."""
    pick = sp.csr_matrix(([1.0], ([0], [grid.slack_bus])), shape=(1, grid.n_bus))
    rhs = np.full(layout.n_periods, grid.v_slack_pu**2)
    return RowBlock("slack_voltage", layout.per_period("w", pick), rhs, rhs.copy())


def dc_flow_rows(layout: ColumnLayout) -> RowBlock:
    r"""DC branch flows from voltage angles [SO02], rows ``(branch, t)`` (explicit form).

    .. math:: P_{l,t} - S_\text{base} \frac{\theta_{from(l),t} - \theta_{to(l),t}}{x_l \tau_l} = 0

    The slack angle is fixed at 0 by its column bounds. The compact form substitutes ``P``.
    """
    matrix = combine(layout.select("p_flow"), -layout.per_period("theta", layout.flow_matrix))
    zero = np.zeros(matrix.shape[0])
    return RowBlock("dc_flow", sp.csr_matrix(matrix), zero, zero.copy())


def loss_definition_rows(
    layout: ColumnLayout, rho: FloatArray, kappa_mw: FloatArray
) -> RowBlock:
    r"""Branch losses ``p_loss = rho u + kappa``, rows ``(branch, t)``.

    .. math::

        p^\text{loss}_{l,t} - \rho_{l,t}\, u_{l,t} = \kappa_{l,t}, \qquad u_{l,t} \ge 0

    ``u`` (``flow_sq``) stands for the normalised squared flow ``g = (P^2 + Q^2) / S_base``
    (``P^2 / S_base`` in the DC model), bounded below by tangents (:func:`loss_cut_rows`);
    ``rho`` (about ``r / |V_from|^2``, 1/pu) and ``kappa`` (MW, the loss of the reactive flow
    held fixed in the DC model), both ``(time, branch)``, are refreshed from each AC operating
    point: the persistent path changes the coefficients (:func:`loss_coefficients`) and the
    bounds. Because ``g`` does not depend on the operating point, every tangent stays valid.
    """
    matrix = combine(layout.select("p_loss"), -layout.place("flow_sq", sp.diags(flat(rho))))
    rhs = flat(kappa_mw)
    return RowBlock("loss_definition", sp.csr_matrix(matrix), rhs, rhs.copy())


def loss_coefficients(layout: ColumnLayout, rho: FloatArray) -> tuple[np.ndarray, FloatArray]:
    """Columns and values of the ``-rho`` coefficients of :func:`loss_definition_rows`.

    Row ``k`` of the family holds its coefficient in column ``columns[k]``.
    """
    return layout.indices("flow_sq"), -flat(rho)


def loss_cut_rows(
    layout: ColumnLayout, a: FloatArray, b: FloatArray | None, c: FloatArray
) -> RowBlock:
    r"""One tangent of ``g`` per branch and period (outer linearisation [KE60]).

    .. math::

        u_{l,t} - a_{t,l} P_{l,t} - b_{t,l} Q_{l,t} \ge c_{t,l}

    ``g(P, Q) = (P^2 + Q^2) / S_base`` is convex, so every tangent is a valid lower bound and,
    with the loss minimised, ``u`` sits on the highest one. ``a``, ``b`` (MW of ``u`` per MW or
    Mvar of flow) and ``c`` (MW) are ``(time, branch)`` arrays (``b = None`` without reactive
    flows).
    """
    terms = [layout.select("flow_sq"), -sp.diags(flat(a)) @ layout.p_flow()]
    if b is not None:
        terms.append(-sp.diags(flat(b)) @ layout.select("q_flow"))
    matrix = combine(*terms)
    matrix.eliminate_zeros()
    lower = flat(c)
    return RowBlock("loss_tangents", matrix, lower, np.full(len(lower), np.inf))


def storage_balance_rows(
    layout: ColumnLayout, storage: tuple[Storage, ...], period_hours: float
) -> RowBlock:
    r"""Storage energy balance, rows ``(storage, t)``.

    .. math::

        e_{s,t} - e_{s,t-1} - \Delta t \left(\eta^c_s p^c_{s,t} - p^d_{s,t} / \eta^d_s\right)
            = E^0_s [t = 0], \qquad e_{s,-1} = E^0_s

    Power limits ``0 <= p^c <= P^c``, ``0 <= p^d <= P^d`` and the state of charge
    ``SOC_min E <= e <= SOC_max E`` are column bounds (:func:`gridopt.opf.dispatch.model.
    column_bounds`).
    """
    n_t, dt = layout.n_periods, period_hours
    eta_c = np.array([s.efficiency_charge for s in storage])
    eta_d = np.array([s.efficiency_discharge for s in storage])
    shift = sp.identity(n_t, format="csr") - sp.eye(n_t, k=-1, format="csr")
    matrix = combine(
        layout.place("energy", sp.kron(sp.identity(len(storage)), shift, format="csr")),
        layout.per_period("p_charge", sp.diags(-dt * eta_c)),
        layout.per_period("p_discharge", sp.diags(dt / eta_d)),
    )
    rhs = np.zeros((len(storage), n_t))
    rhs[:, 0] = [s.energy_initial_mwh for s in storage]
    return RowBlock("storage_balance", sp.csr_matrix(matrix), rhs.ravel(), rhs.ravel().copy())


def storage_final_rows(layout: ColumnLayout, storage: tuple[Storage, ...]) -> RowBlock:
    r"""End-of-horizon energy target, rows ``(storage)``: :math:`e_{s,T-1} \ge E^\text{end}_s`."""
    n, n_t = len(storage), layout.n_periods
    last = sp.csr_matrix((np.ones(n), (np.arange(n), np.arange(n) * n_t + n_t - 1)),
                         shape=(n, n * n_t))
    return RowBlock("storage_final", layout.place("energy", last),
                    np.array([s.energy_final_min_mwh for s in storage]), np.full(n, np.inf))


def shift_window(flexible: tuple[FlexibleLoad, ...], n_periods: int) -> np.ndarray:
    """``(load, t)`` mask of the periods in each flexible load's window."""
    window = np.zeros((len(flexible), n_periods), dtype=bool)
    for f, unit in enumerate(flexible):
        end = n_periods if unit.window_end is None else min(unit.window_end, n_periods)
        window[f, max(unit.window_start, 0):end] = True
    return window


def shift_energy_rows(
    layout: ColumnLayout, flexible: tuple[FlexibleLoad, ...], period_hours: float
) -> RowBlock:
    r"""Load shifting keeps the energy of each flexible load, rows ``(load)``.

    .. math:: \sum_{t \in W_f} (up_{f,t} - down_{f,t})\,\Delta t = 0

    ``0 <= up <= U``, ``0 <= down <= D`` inside the window and zero outside are column bounds.
    """
    n = len(flexible)
    window = shift_window(flexible, layout.n_periods)
    rows = np.repeat(np.arange(n), layout.n_periods)
    per_load = sp.csr_matrix((window.ravel() * period_hours, (rows, np.arange(rows.size))),
                             shape=(n, rows.size))
    per_load.eliminate_zeros()
    matrix = combine(layout.place("p_shift_up", per_load),
                     -layout.place("p_shift_down", per_load))
    zero = np.zeros(n)
    return RowBlock("shift_energy", sp.csr_matrix(matrix), zero, zero.copy())


def _inverters(
    storage: tuple[Storage, ...], pv: tuple[CurtailablePV, ...]
) -> list[tuple[str, int, float]]:
    """``(kind, position, S_max)`` of every rated inverter, storage first."""
    out = [("storage", s, st.s_max_mva) for s, st in enumerate(storage)]
    out += [("pv", i, u.s_max_mva) for i, u in enumerate(pv)]
    return [(kind, i, float(s)) for kind, i, s in out if s is not None]


def inverter_capability_rows(
    layout: ColumnLayout,
    storage: tuple[Storage, ...],
    pv: tuple[CurtailablePV, ...],
    pv_available_mw: FloatArray,
) -> RowBlock:
    r"""Apparent-power limit of inverters, ``p^2 + q^2 <= S^2``, as an inscribed octagon.

    .. math:: p \cos\phi_k + q \sin\phi_k \le S \cos(\pi/8), \quad \phi_k = k\pi/4,\ k=0..7

    Rows ``(inverter, t, k)``; ``p = p^d - p^c`` for storage and ``available - p^curt`` for PV
    (the availability, ``(time, pv)`` MW, moves to the bounds: :func:`inverter_bounds`).
    """
    inverters = _inverters(storage, pv)
    n_t, n_k = layout.n_periods, len(OCTAGON_DIRECTIONS_RAD)
    rows, cols, vals = [], [], []
    base = 0
    for kind, idx, _ in inverters:
        p_terms = ([("p_discharge", 1.0), ("p_charge", -1.0)] if kind == "storage"
                   else [("p_curtail", -1.0)])
        q_family = "q_storage" if kind == "storage" else "q_pv"
        for t in range(n_t):
            for k, phi in enumerate(OCTAGON_DIRECTIONS_RAD):
                cos_phi, sin_phi = _trig(phi)
                row = base + t * n_k + k
                for family, sign in p_terms:
                    if cos_phi:
                        rows.append(row)
                        cols.append(layout.columns[family].start + idx * n_t + t)
                        vals.append(sign * cos_phi)
                if sin_phi:
                    rows.append(row)
                    cols.append(layout.columns[q_family].start + idx * n_t + t)
                    vals.append(sin_phi)
        base += n_t * n_k
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(base, layout.n_columns))
    upper = inverter_bounds(storage, pv, n_t, pv_available_mw)
    return RowBlock("inverter_capability", matrix, np.full(base, -np.inf), upper)


def inverter_bounds(
    storage: tuple[Storage, ...],
    pv: tuple[CurtailablePV, ...],
    n_periods: int,
    pv_available_mw: FloatArray,
) -> FloatArray:
    r"""Upper bounds of :func:`inverter_capability_rows`: ``S cos(pi/8) - cos(phi_k) avail``."""
    cos_k = np.array([_trig(phi)[0] for phi in OCTAGON_DIRECTIONS_RAD])
    parts = []
    for kind, idx, s_max in _inverters(storage, pv):
        upper = np.full((n_periods, len(cos_k)), s_max * OCTAGON_INNER)
        if kind == "pv":
            upper -= pv_available_mw[:, idx][:, None] * cos_k[None, :]
        parts.append(upper.ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def p_balance_rows(
    layout: ColumnLayout,
    grid: DispatchGrid,
    positions: dict[str, list[int]],
    p_demand_mw: FloatArray,
    pv_available_mw: FloatArray,
) -> RowBlock:
    r"""Nodal active power balance with losses, rows ``(bus, t)``.

    .. math::

        g_{n,t} - \sum_{l: from(l)=n} P_{l,t}
            - \sum_{l: to(l)=n} \left(p^\text{loss}_{l,t} - P_{l,t}\right)
            = d_{n,t} - \sum_{i \in PV_n} \text{avail}_{i,t}

    where ``g`` collects grid exchange (slack bus), generators, PV ``- p_curt``, storage
    ``p_dis - p_ch`` and the flexible-load shift ``down - up``; ``d`` is the demand
    (``(time, bus)`` MW). Its dual is ``d objective / d demand``.
    """
    nb = grid.n_bus
    slack = sp.csr_matrix(([1.0], ([grid.slack_bus], [0])), shape=(nb, 1))
    terms = [layout.per_period("p_grid", slack),
             layout.branch_sum(-grid.incidence().T)]
    if layout.has("p_loss"):
        terms.append(-layout.per_period("p_loss", _on_bus(grid.branch_to, nb)))
    for family, kind, sign in (("p_discharge", "storage", 1.0), ("p_charge", "storage", -1.0),
                               ("p_curtail", "pv", -1.0), ("p_gen", "generator", 1.0),
                               ("p_shift_up", "flexible_load", -1.0),
                               ("p_shift_down", "flexible_load", 1.0)):
        if layout.has(family):
            terms.append(layout.per_period(family, sign * _on_bus(positions[kind], nb)))
    rhs = p_balance_bounds(grid, positions, p_demand_mw, pv_available_mw)
    return RowBlock("p_balance", combine(*terms), rhs, rhs.copy())


def p_balance_bounds(
    grid: DispatchGrid,
    positions: dict[str, list[int]],
    p_demand_mw: FloatArray,
    pv_available_mw: FloatArray,
) -> FloatArray:
    """Right-hand side of :func:`p_balance_rows`: demand less available PV at each bus."""
    pv_at_bus = pv_available_mw @ _on_bus(positions["pv"], grid.n_bus).T.toarray()
    return flat(p_demand_mw - pv_at_bus)


def _x_over_r(grid: DispatchGrid) -> FloatArray:
    """``x / r`` of branches with resistance, 0 for those without."""
    has_r = grid.r_pu > 0
    return np.where(has_r, grid.x_pu / np.where(has_r, grid.r_pu, 1.0), 0.0)


def q_balance_rows(
    layout: ColumnLayout,
    grid: DispatchGrid,
    positions: dict[str, list[int]],
    q_demand_mvar: FloatArray,
    q_loss_fixed_mvar: FloatArray,
) -> RowBlock:
    r"""Nodal reactive power balance, rows ``(bus, t)`` (LinDistFlow).

    .. math::

        g^Q_{n,t} - \sum_{l: from(l)=n} Q_{l,t}
            - \sum_{l: to(l)=n} \left(\tfrac{x_l}{r_l} p^\text{loss}_{l,t} - Q_{l,t}\right)
            = d^Q_{n,t} + \sum_{l: to(l)=n,\ r_l = 0} q^\text{fix}_{l,t}

    Reactive branch losses are ``|I|^2 x = (x / r) p_loss``; for branches without resistance
    they are the fixed ``q_loss_fixed`` (``(time, branch)`` Mvar) of the AC point.
    """
    nb = grid.n_bus
    slack = sp.csr_matrix(([1.0], ([grid.slack_bus], [0])), shape=(nb, 1))
    terms = [layout.per_period("q_grid", slack),
             -layout.per_period("q_flow", grid.incidence().T)]
    if layout.has("p_loss"):
        into = _on_bus(grid.branch_to, nb) @ sp.diags(_x_over_r(grid))
        terms.append(-layout.per_period("p_loss", into))
    for family, kind in (("q_storage", "storage"), ("q_pv", "pv"), ("q_gen", "generator")):
        if layout.has(family):
            terms.append(layout.per_period(family, _on_bus(positions[kind], nb)))
    matrix = combine(*terms)
    matrix.eliminate_zeros()
    rhs = q_balance_bounds(grid, q_demand_mvar, q_loss_fixed_mvar)
    return RowBlock("q_balance", matrix, rhs, rhs.copy())


def q_balance_bounds(
    grid: DispatchGrid, q_demand_mvar: FloatArray, q_loss_fixed_mvar: FloatArray
) -> FloatArray:
    """Right-hand side of :func:`q_balance_rows`."""
    fixed = np.where(_x_over_r(grid) > 0, 0.0, 1.0)[None, :] * q_loss_fixed_mvar
    return flat(q_demand_mvar + fixed @ _on_bus(grid.branch_to, grid.n_bus).T.toarray())


def voltage_limit_rows(layout: ColumnLayout, grid: DispatchGrid) -> list[RowBlock]:
    r"""Soft voltage band on squared voltages with penalised slack, rows ``(bus, t)`` each.

    .. math:: w_{n,t} + s^-_{n,t} \ge \underline V_n^2, \qquad
              w_{n,t} - s^+_{n,t} \le \overline V_n^2

    Two families, ``v_min`` and ``v_max``; the slack bus's slacks are fixed at 0.
    """
    n = grid.n_bus * layout.n_periods
    vmin2 = np.repeat(grid.vmin_pu**2, layout.n_periods)
    vmax2 = np.repeat(grid.vmax_pu**2, layout.n_periods)
    inf = np.full(n, np.inf)
    return [
        RowBlock("v_min", combine(layout.select("w"), layout.select("v_low")), vmin2, inf),
        RowBlock("v_max", combine(layout.select("w"), -layout.select("v_high")), -inf, vmax2),
    ]


def thermal_rows(layout: ColumnLayout, grid: DispatchGrid) -> list[RowBlock]:
    r"""Soft thermal limits of rated branches with penalised slack (MVA).

    With Q (LinDistFlow), the circle ``P^2 + Q^2 <= R^2`` as an inscribed octagon, rows
    ``(branch, t, k)`` in families ``thermal_upper`` and ``thermal_lower``:

    .. math:: |P \cos\phi_k + Q \sin\phi_k| \le R \cos(\pi/8) + s, \quad \phi_k = k\pi/4,\ k=0..3

    Without Q (DC), ``|P| <= R + s``, rows ``(branch, t)``; in the compact form one ranged
    family ``thermal``, ``-R <= P - s_up + s_down <= R``.
    """
    rated, n_t = layout.rated, layout.n_periods
    if not len(rated):
        return []
    pick = sp.csr_matrix((np.ones(len(rated)), (np.arange(len(rated)), rated)),
                         shape=(len(rated), grid.n_branch))
    p_rated = layout.branch_sum(pick)
    if layout.form is Form.COMPACT:
        rate = np.repeat(grid.rate_mva[rated], n_t)
        matrix = combine(p_rated, -layout.select("s_over_up"), layout.select("s_over_down"))
        return [RowBlock("thermal", matrix, -rate, rate)]
    s_over = layout.select("s_over")
    if not layout.has("q_flow"):
        rate = np.repeat(grid.rate_mva[rated], n_t)
        inf = np.full(len(rate), np.inf)
        return [RowBlock("thermal_upper", combine(p_rated, -s_over), -inf, rate),
                RowBlock("thermal_lower", combine(p_rated, s_over), -rate, inf)]
    q_rated = sp.kron(pick, sp.identity(n_t), format="csr") @ layout.select("q_flow")
    n_k = 4
    # interleave directions: row (branch, t, k) = element-major (branch, t) row * 4 + k
    directions = []
    for k in range(n_k):
        cos_phi, sin_phi = _trig(OCTAGON_DIRECTIONS_RAD[k])
        directions.append(cos_phi * p_rated + sin_phi * q_rated)
    n = p_rated.shape[0]
    order = np.arange(n * n_k).reshape(n_k, n).T.ravel()
    stacked = sp.csr_matrix(sp.vstack(directions, format="csr")[order])
    slack = sp.csr_matrix(sp.kron(s_over, np.ones((n_k, 1)), format="csr"))
    rate = np.repeat(grid.rate_mva[rated] * OCTAGON_INNER, n_t * n_k)
    inf = np.full(len(rate), np.inf)
    upper, lower = combine(stacked, -slack), combine(stacked, slack)
    upper.eliminate_zeros()
    lower.eliminate_zeros()
    return [RowBlock("thermal_upper", upper, -inf, rate),
            RowBlock("thermal_lower", lower, -rate, inf)]
