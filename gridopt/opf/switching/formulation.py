"""Constraint blocks of the reconfiguration MILP (:mod:`~gridopt.opf.switching.milp`).

Each ``declare_*`` function adds one part of the formulation described in the docstring of
:mod:`gridopt.opf.switching.milp` to a Pyomo model; :func:`start_values` and
:func:`start_cuts` turn a known radial configuration into a MIP start and into loss tangents.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.var import VarData

from gridopt.network.case import BoolArray, FloatArray
from gridopt.opf.switching.reduction import series_chains
from gridopt.opf.switching.topology import SwitchingGraph

#: Physical bounds of the squared voltage variable (0.5 .. 1.5 pu).
V2_MIN, V2_MAX = 0.25, 2.25
#: Directions of the thermal-limit polygon.
N_POLYGON = 12


def declare_radiality(m: pyo.ConcreteModel, graph: SwitchingGraph,
                      fix_bridges: bool = True) -> None:
    """Single-commodity flow spanning-tree constraints (see module docstring); with
    ``fix_bridges`` the binaries of bridges (``graph.must_close``) are fixed to 1."""
    n = graph.n_node
    roots = set(int(r) for r in graph.root_nodes)
    sw = [e for e in range(graph.n_edge) if graph.switchable[e]]
    m.alpha = pyo.Var(sw, domain=pyo.Binary)
    for e in sw:
        if fix_bridges and graph.must_close[e]:  # bridges: closed in every spanning tree
            m.alpha[e].fix(1)
    m.k = pyo.Var(range(graph.n_edge), bounds=(-n, n))
    m.tree_count = pyo.Constraint(
        expr=sum(m.alpha[e] for e in sw) == graph.n_tree_edges() - int((~graph.switchable).sum())
    )
    m.k_up = pyo.Constraint(sw, rule=lambda m, e: m.k[e] <= n * m.alpha[e])
    m.k_lo = pyo.Constraint(sw, rule=lambda m, e: m.k[e] >= -n * m.alpha[e])
    inc: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for e in range(graph.n_edge):
        inc[int(graph.edge_from[e])].append((e, -1))
        inc[int(graph.edge_to[e])].append((e, 1))
    non_roots = [i for i in range(n) if i not in roots]
    m.k_balance = pyo.Constraint(
        non_roots, rule=lambda m, i: sum(s * m.k[e] for e, s in inc[i]) == 1
    )


def declare_chain_cuts(m: pyo.ConcreteModel, graph: SwitchingGraph) -> int:
    r"""At most one open switchable edge per series chain; returns the number of cuts.

    .. math:: \sum_{e \in chain,\, e \text{ switchable}} (1 - \alpha_e) \le 1

    for each chain of :func:`~gridopt.opf.switching.reduction.series_chains` with two or more
    switchable edges: two open edges of a chain would cut off the nodes between them.
    """
    chains = series_chains(graph.n_node, graph.edge_from, graph.edge_to, graph.root_nodes,
                           graph.must_close)
    rows = [[e for e in chain if graph.switchable[e]] for chain in chains]
    rows = [row for row in rows if len(row) >= 2]
    m.chain_cut = pyo.Constraint(
        range(len(rows)), rule=lambda m, c: sum(1 - m.alpha[e] for e in rows[c]) <= 1)
    return len(rows)


def declare_parent_child(m: pyo.ConcreteModel, graph: SwitchingGraph) -> None:
    r"""Orientation binaries: every non-supply node has exactly one parent.

    .. math::
        \beta^{f}_e + \beta^{t}_e = \alpha_e, \qquad
        \sum_{e: \to n} \beta^{f}_e + \sum_{e: n \to} \beta^{t}_e = 1 \;(n \notin roots),
        \; = 0 \;(n \in roots)

    (:math:`\beta^f_e = 1`: the from-node is the parent). Redundant with the single-commodity
    flow for integer points, these set-partitioning rows give HiGHS cliques to propagate and
    branch on, and, with :func:`declare_flow_direction`, a much tighter relaxation.
    """
    edges = range(graph.n_edge)
    roots = set(int(r) for r in graph.root_nodes)
    m.beta_f = pyo.Var(edges, domain=pyo.Binary)
    m.beta_t = pyo.Var(edges, domain=pyo.Binary)
    m.orient = pyo.Constraint(
        edges, rule=lambda m, e: m.beta_f[e] + m.beta_t[e] == _alpha(m, graph, e))
    parents: list[list[pyo.Var]] = [[] for _ in range(graph.n_node)]
    for e in edges:
        parents[int(graph.edge_to[e])].append(m.beta_f[e])
        parents[int(graph.edge_from[e])].append(m.beta_t[e])
    m.one_parent = pyo.Constraint(
        range(graph.n_node),
        rule=lambda m, n: sum(parents[n]) == (0 if n in roots else 1))


def declare_flow_direction(m: pyo.ConcreteModel, graph: SwitchingGraph, n_t: int,
                           flow_max: float) -> None:
    """Active power flows from parent to child: ``-F beta_t <= P_e <= F beta_f``.

    Valid only when no node has net generation in any period (every subtree then draws power
    from its parent); :func:`build_model` declares it only in that case.
    """
    edges = range(graph.n_edge)
    periods = range(n_t)
    m.dir_up = pyo.Constraint(edges, periods,
                              rule=lambda m, e, t: m.P[e, t] <= flow_max * m.beta_f[e])
    m.dir_lo = pyo.Constraint(edges, periods,
                              rule=lambda m, e, t: m.P[e, t] >= -flow_max * m.beta_t[e])


def _alpha(m: pyo.ConcreteModel, graph: SwitchingGraph, e: int) -> pyo.Expression | float:
    return m.alpha[e] if graph.switchable[e] else 1.0


def declare_power_flow(
    m: pyo.ConcreteModel,
    graph: SwitchingGraph,
    p_pu: FloatArray,
    q_pu: FloatArray,
    r: FloatArray,
    x: FloatArray,
    flow_max: float,
) -> None:
    """LinDistFlow balances and voltage drops with big-M on switchable edges only."""
    n_t, n = p_pu.shape
    edges = range(graph.n_edge)
    periods = range(n_t)
    roots = {int(rn): float(vm) for rn, vm in zip(graph.root_nodes, graph.root_vm_pu, strict=True)}
    m.P = pyo.Var(edges, periods, bounds=(-flow_max, flow_max))
    m.Q = pyo.Var(edges, periods, bounds=(-flow_max, flow_max))
    m.lp = pyo.Var(edges, periods, bounds=(0.0, flow_max**2))
    m.lq = pyo.Var(edges, periods, bounds=(0.0, flow_max**2))
    m.v = pyo.Var(range(n), periods, bounds=(V2_MIN, V2_MAX))
    m.g_p = pyo.Var(list(roots), periods)
    m.g_q = pyo.Var(list(roots), periods)
    for rn, vm in roots.items():
        for t in periods:
            m.v[rn, t].fix(vm**2)

    out_edges: list[list[int]] = [[] for _ in range(n)]
    in_edges: list[list[int]] = [[] for _ in range(n)]
    for e in edges:
        out_edges[int(graph.edge_from[e])].append(e)
        in_edges[int(graph.edge_to[e])].append(e)

    def p_bal(m: pyo.ConcreteModel, i: int, t: int) -> pyo.Expression:
        lhs = (sum(m.P[e, t] for e in out_edges[i])
               + sum(r[e] * (m.lp[e, t] + m.lq[e, t]) - m.P[e, t] for e in in_edges[i])
               + float(p_pu[t, i]))
        return lhs == (m.g_p[i, t] if i in roots else 0.0)

    def q_bal(m: pyo.ConcreteModel, i: int, t: int) -> pyo.Expression:
        lhs = (sum(m.Q[e, t] for e in out_edges[i])
               + sum(x[e] * (m.lp[e, t] + m.lq[e, t]) - m.Q[e, t] for e in in_edges[i])
               + float(q_pu[t, i]))
        return lhs == (m.g_q[i, t] if i in roots else 0.0)

    m.p_balance = pyo.Constraint(range(n), periods, rule=p_bal)
    m.q_balance = pyo.Constraint(range(n), periods, rule=q_bal)

    inv_tap2 = 1.0 / np.asarray(graph.tap_ratio, dtype=float) ** 2

    def drop(m: pyo.ConcreteModel, e: int, t: int) -> pyo.Expression:
        i, j = int(graph.edge_from[e]), int(graph.edge_to[e])
        return (m.v[j, t] - float(inv_tap2[e]) * m.v[i, t]
                + 2 * (r[e] * m.P[e, t] + x[e] * m.Q[e, t])
                - (r[e] ** 2 + x[e] ** 2) * (m.lp[e, t] + m.lq[e, t]))

    fixed = [e for e in edges if not graph.switchable[e]]
    sw = [e for e in edges if graph.switchable[e]]
    m.v_drop_fixed = pyo.Constraint(fixed, periods, rule=lambda m, e, t: drop(m, e, t) == 0)
    big_m = {e: max(V2_MAX - V2_MIN * inv_tap2[e], V2_MAX * inv_tap2[e] - V2_MIN)
             + 2 * (abs(r[e]) + abs(x[e])) * flow_max
             + (r[e] ** 2 + x[e] ** 2) * 2 * flow_max**2 for e in sw}
    m.v_drop_up = pyo.Constraint(
        sw, periods, rule=lambda m, e, t: drop(m, e, t) <= big_m[e] * (1 - m.alpha[e]))
    m.v_drop_lo = pyo.Constraint(
        sw, periods, rule=lambda m, e, t: drop(m, e, t) >= -big_m[e] * (1 - m.alpha[e]))
    m.p_up = pyo.Constraint(sw, periods, rule=lambda m, e, t: m.P[e, t] <= flow_max * m.alpha[e])
    m.p_lo = pyo.Constraint(sw, periods, rule=lambda m, e, t: m.P[e, t] >= -flow_max * m.alpha[e])
    m.q_up = pyo.Constraint(sw, periods, rule=lambda m, e, t: m.Q[e, t] <= flow_max * m.alpha[e])
    m.q_lo = pyo.Constraint(sw, periods, rule=lambda m, e, t: m.Q[e, t] >= -flow_max * m.alpha[e])


def declare_limits(
    m: pyo.ConcreteModel, graph: SwitchingGraph, smax: FloatArray, n_t: int
) -> None:
    """Soft voltage limits on every node and a soft 12-gon thermal limit on rated edges."""
    periods = range(n_t)
    nodes = range(graph.n_node)
    m.sv_lo = pyo.Var(nodes, periods, bounds=(0.0, None))
    m.sv_hi = pyo.Var(nodes, periods, bounds=(0.0, None))
    vmin2 = np.clip(np.asarray(graph.vmin_pu), 0.0, None) ** 2
    vmax2 = np.asarray(graph.vmax_pu) ** 2
    m.v_min = pyo.Constraint(nodes, periods,
                             rule=lambda m, i, t: m.v[i, t] + m.sv_lo[i, t] >= float(vmin2[i]))
    m.v_max = pyo.Constraint(nodes, periods,
                             rule=lambda m, i, t: m.v[i, t] - m.sv_hi[i, t] <= float(vmax2[i]))
    rated = [e for e in range(graph.n_edge) if math.isfinite(smax[e])]
    m.s_slack = pyo.Var(rated, periods, bounds=(0.0, None))
    angles = [2 * math.pi * k / N_POLYGON for k in range(N_POLYGON)]
    m.thermal = pyo.Constraint(
        rated, periods, range(N_POLYGON),
        rule=lambda m, e, t, k: math.cos(angles[k]) * m.P[e, t] + math.sin(angles[k]) * m.Q[e, t]
        <= float(smax[e]) + m.s_slack[e, t],
    )


class FlowComponent(Enum):
    """Which flow a loss tangent bounds: ``l_p >= P^2`` or ``l_q >= Q^2``."""

    ACTIVE = "P"
    REACTIVE = "Q"


def tangent(m: pyo.ConcreteModel, graph: SwitchingGraph, var: FlowComponent, e: int, t: int,
             a: float) -> pyo.Expression:
    """Perspective tangent of ``y^2`` at ``a``: ``l >= 2 a y - a^2 alpha`` (``alpha = 1`` if fixed).

    For a closed edge it is the ordinary tangent; for an open one (``y = 0``) it reduces to
    ``l >= 0``; for a fractional ``alpha`` in the LP relaxation it is the tangent of the
    perspective ``y^2 / alpha``, much tighter than ``2 a y - a^2`` (Frangioni and Gentile,
    Math. Program. 106, 2006).
    """
    active = var is FlowComponent.ACTIVE
    loss = m.lp[e, t] if active else m.lq[e, t]
    flow = m.P[e, t] if active else m.Q[e, t]
    return loss >= 2 * a * flow - a * a * _alpha(m, graph, e)


def declare_loss_cuts(m: pyo.ConcreteModel, graph: SwitchingGraph, n_t: int,
                      flow_max: float, levels: int) -> None:
    """Initial perspective tangent cuts of P^2 and Q^2 at ``+-F 2^-k`` (``k < levels``)."""
    m.cuts = pyo.ConstraintList()
    points = [s * flow_max * 2.0**-k for k in range(levels) for s in (1.0, -1.0)]
    for e in range(graph.n_edge):
        for t in range(n_t):
            for a in points:
                m.cuts.add(tangent(m, graph, FlowComponent.ACTIVE, e, t, a))
                m.cuts.add(tangent(m, graph, FlowComponent.REACTIVE, e, t, a))


def declare_switching_limit(m: pyo.ConcreteModel, graph: SwitchingGraph,
                            max_switching: int, reference: BoolArray | None = None,
                            name: str = "switching") -> None:
    """At most ``max_switching`` switchable edges change state relative to ``reference``
    (default ``graph.closed0``)."""
    ref = graph.closed0 if reference is None else reference
    sw = [e for e in range(graph.n_edge) if graph.switchable[e]]
    m.add_component(name, pyo.Constraint(
        expr=sum((1 - m.alpha[e]) if ref[e] else m.alpha[e] for e in sw) <= max_switching))


def start_values(m: pyo.ConcreteModel, graph: SwitchingGraph, closed: BoolArray
                  ) -> tuple[list[VarData], list[float]]:
    """Values of the switching and orientation binaries of radial configuration ``closed``."""
    closed = np.asarray(closed, dtype=bool)
    n = graph.n_node
    adj: list[list[int]] = [[] for _ in range(n)]
    for e in np.flatnonzero(closed).tolist():
        adj[int(graph.edge_from[e])].append(e)
        adj[int(graph.edge_to[e])].append(e)
    seen = np.zeros(n, dtype=bool)
    beta_f = np.zeros(graph.n_edge)
    beta_t = np.zeros(graph.n_edge)
    stack = [int(r) for r in graph.root_nodes]
    seen[stack] = True
    while stack:
        u = stack.pop()
        for e in adj[u]:
            a, b = int(graph.edge_from[e]), int(graph.edge_to[e])
            child = b if a == u else a
            if seen[child]:
                continue
            seen[child] = True
            (beta_f if a == u else beta_t)[e] = 1.0
            stack.append(child)
    variables: list[VarData] = []
    values: list[float] = []
    for e in m.alpha:
        variables.append(m.alpha[e])
        values.append(float(closed[e]))
    for e in range(graph.n_edge):
        variables += [m.beta_f[e], m.beta_t[e]]
        values += [float(beta_f[e]), float(beta_t[e])]
    return variables, values


def start_cuts(m: pyo.ConcreteModel, graph: SwitchingGraph,
                flows: tuple[FloatArray, FloatArray], s_base: float) -> None:
    """Loss tangents at the start configuration's flows (MW, Mvar) on the model base."""
    p_mw, q_mvar = flows
    for e, t in zip(*np.nonzero(np.abs(p_mw) + np.abs(q_mvar)), strict=True):
        m.cuts.add(tangent(m, graph, FlowComponent.ACTIVE, int(e), int(t),
                            float(p_mw[e, t]) / s_base))
        m.cuts.add(tangent(m, graph, FlowComponent.REACTIVE, int(e), int(t),
                            float(q_mvar[e, t]) / s_base))
