r"""Loss-minimising radial reconfiguration as a mixed-integer linear programme (Pyomo + HiGHS).

One binary :math:`\alpha_e` per switchable edge is shared by all periods :math:`t`; fixed edges
have :math:`\alpha_e = 1`. Quantities are per unit on a model base :math:`S_b` (the peak total
apparent demand) so that flows are of order one.

Radiality: single-commodity flow spanning tree (:func:`declare_radiality`)
    .. math::
        \sum_e \alpha_e = N - N_{root}, \qquad
        \sum_{e \in \delta^-(n)} k_e - \sum_{e \in \delta^+(n)} k_e = 1 \;\; (n \notin roots),
        \qquad |k_e| \le N \alpha_e .

    A fictitious commodity leaves the supply nodes and every other node consumes one unit, so the
    closed edges connect every node to a supply; with exactly :math:`N - N_{root}` closed edges
    they form a spanning forest with one supply per tree (a spanning tree once a virtual
    super-root joins the supplies). We use it rather than the parent-child ("one parent per
    bus") constraints alone because those admit directed cycles detached from the supply at
    zero-injection buses and, with distributed generation, cannot rely on the power flow to
    enforce connectivity; the single-commodity flow is exact with only :math:`|E|` extra
    continuous variables (Lavorato et al., IEEE TPWRS 27(1), 2012; Jabr et al., IEEE TPWRS
    27(2), 2012).

Power flow: LinDistFlow with losses in the balances (:func:`declare_power_flow`)
    For edge :math:`e = (i, j)` with sending-end flows :math:`P_e, Q_e` and squared current
    proxy :math:`\ell_e \approx P_e^2 + Q_e^2` (at :math:`v \approx 1`):

    .. math::
        \sum_{e: i \to} P_e + \sum_{e: \to i} (r_e \ell_e - P_e) + p_i = g_i, \qquad
        v_j = v_i / \tau_e^2 - 2 (r_e P_e + x_e Q_e) + (r_e^2 + x_e^2) \ell_e

    with :math:`\tau_e` the edge's off-nominal tap ratio at :math:`i` (1 for lines, as in the
    dispatch's LinDistFlow), :math:`g_i` free at supply nodes (:math:`v` fixed to the set-point
    squared) and zero elsewhere. The voltage equation holds exactly on fixed edges and through
    big-M terms :math:`\pm M_e (1 - \alpha_e)` only on switchable ones;
    :math:`|P_e|, |Q_e| \le F \alpha_e`.

Losses: piecewise-linear outer approximation refined by successive linearisation
    (:func:`declare_loss_cuts`). :math:`\ell_e = \ell^P_e + \ell^Q_e` with tangent cuts
    :math:`\ell^P_e \ge 2 a P_e - a^2` at a geometric grid of points :math:`a` (and likewise
    for :math:`Q`); the objective pushes :math:`\ell` onto the convex envelope, so no binaries
    are needed. After each solve, tangents at the solution's own flows are added where the
    approximation is off by more than the tolerance, and the MILP is solved again until it is
    not (Kelley's cutting planes). Objective: :math:`\sum_t h_t \sum_e r_e \ell_{e,t}`.

Limits: :math:`v_{min}^2 \le v \le v_{max}^2` and the thermal rating as a 12-sided polygon on
:math:`(P, Q)`, both softened by slack variables penalised far above any loss (a day that cannot
meet them still yields a configuration and reports the violation). Optional limit on switching
operations relative to the present state :math:`\alpha^0`:
:math:`\sum_{\alpha^0_e = 1} (1 - \alpha_e) + \sum_{\alpha^0_e = 0} \alpha_e \le K`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData

from gridopt.errors import InfeasibleError, SolverError
from gridopt.network.case import BoolArray, FloatArray
from gridopt.opf.switching.reduction import series_chains
from gridopt.opf.switching.topology import SwitchingGraph
from gridopt.solvers.highs import HighsOptions, HighsSolver
from gridopt.solvers.highs_start import set_mip_start
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)

#: Physical bounds of the squared voltage variable (0.5 .. 1.5 pu).
V2_MIN, V2_MAX = 0.25, 2.25
#: Directions of the thermal-limit polygon.
N_POLYGON = 12
#: Factor on the objective. Losses in model per unit are ~1e-3 per hour; HiGHS's absolute
#: tolerances (1e-6: MIP gap, node pruning) would then let a solve end "optimal" with a relative
#: gap of 1e-3 on a small feeder. Scaled, ``mip_rel_gap`` is the gap HiGHS proves.
OBJECTIVE_SCALE = 1e3


@dataclass(frozen=True)
class MilpOptions:
    """Options of the reconfiguration MILP.

    Attributes
    ----------
    max_switching
        Largest number of switchable edges whose state may change (``None``: no limit).
    tangent_levels
        Tangent points per flow variable on each side of zero: ``F * 2**-k``, ``k < levels``.
    cut_tolerance
        Relative error of the loss approximation above which a new tangent is added.
    objective_tolerance
        The successive linearisation stops once the model's total losses are within this
        relative error of the exact quadratic losses at its solution.
    max_rounds
        Largest number of MILP solves of the successive linearisation.
    violation_penalty
        Objective weight of one unit of voltage (pu squared) or thermal (pu) slack per hour,
        relative to losses in model per unit.
    mip_rel_gap
        Relative MIP gap handed to HiGHS.
    time_limit_s
        Wall-time limit of all HiGHS calls together (the rounds share it; a round that finds
        nothing better keeps the previous answer). ``None``: :func:`auto_time_limit`.
    fix_bridges
        Fix the binaries of bridge edges to closed (:func:`~gridopt.opf.switching.reduction.
        bridge_edges`); off only to measure or test the reduction.
    chain_cuts
        Add "at most one open edge per series chain" cuts (:func:`declare_chain_cuts`). Off by
        default: valid, but measured on case118zh they slowed HiGHS's tree search (MIP gap
        after each 60 s round 15, 8.6, 3.4, 14 % with them; 5.5, 7.0, 4.5, 3.2 % without) and
        left case33bw unchanged.
    """

    max_switching: int | None = None
    tangent_levels: int = 6
    cut_tolerance: float = 1e-3
    objective_tolerance: float = 5e-3
    max_rounds: int = 8
    violation_penalty: float = 100.0
    mip_rel_gap: float = 1e-4
    time_limit_s: float | None = None
    fix_bridges: bool = True
    chain_cuts: bool = False


@dataclass(frozen=True, eq=False)
class MilpResult:
    """Configuration chosen by the MILP.

    Attributes
    ----------
    closed
        State of each graph edge.
    losses_mwh
        Energy losses of the model at the solution (sum over periods of MW x hours).
    violation
        Sum of the limit slacks at the solution (0 when every limit holds in the model).
    rounds
        MILP solves of the successive linearisation.
    report
        Solver report of the last solve (time is the total over rounds).
    build_seconds
        Time spent building the Pyomo model.
    mip_gap
        Relative MIP gap HiGHS proved in the last round (``|objective - bound| / |objective|``;
        at most ``mip_rel_gap`` when that round ended optimal, larger when its time limit
        stopped it; ``None`` when HiGHS reported no bound).
    loss_model_gap
        Relative error of the loss model at the solution: ``(exact - proxy) / exact`` with
        ``proxy`` the tangent-cut losses and ``exact`` ``sum r (P^2 + Q^2)`` of the last round
        (0 when the successive linearisation converged).
    time_limit_s
        The time budget the rounds shared.
    """

    closed: BoolArray
    losses_mwh: float
    violation: float
    rounds: int
    report: SolverReport
    build_seconds: float
    mip_gap: float | None = None
    loss_model_gap: float = 0.0
    time_limit_s: float | None = None


def _model_base(p_mw: FloatArray, q_mvar: FloatArray) -> float:
    return float(max(np.max(np.abs(p_mw).sum(axis=1) + np.abs(q_mvar).sum(axis=1)), 1e-3))


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


def _tangent(m: pyo.ConcreteModel, graph: SwitchingGraph, var: FlowComponent, e: int, t: int,
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
                m.cuts.add(_tangent(m, graph, FlowComponent.ACTIVE, e, t, a))
                m.cuts.add(_tangent(m, graph, FlowComponent.REACTIVE, e, t, a))


def declare_switching_limit(m: pyo.ConcreteModel, graph: SwitchingGraph,
                            max_switching: int, reference: BoolArray | None = None,
                            name: str = "switching") -> None:
    """At most ``max_switching`` switchable edges change state relative to ``reference``
    (default ``graph.closed0``)."""
    ref = graph.closed0 if reference is None else reference
    sw = [e for e in range(graph.n_edge) if graph.switchable[e]]
    m.add_component(name, pyo.Constraint(
        expr=sum((1 - m.alpha[e]) if ref[e] else m.alpha[e] for e in sw) <= max_switching))


def build_model(
    graph: SwitchingGraph,
    p_mw: FloatArray,
    q_mvar: FloatArray,
    period_hours: FloatArray,
    options: MilpOptions,
) -> tuple[pyo.ConcreteModel, float, float]:
    """Build the MILP; returns the model, the model base (MVA) and the flow bound (pu)."""
    s_base = _model_base(p_mw, q_mvar)
    p_pu = p_mw / s_base
    q_pu = q_mvar / s_base
    ratio = s_base / graph.base_mva
    r = np.asarray(graph.r_pu) * ratio
    x = np.asarray(graph.x_pu) * ratio
    smax = np.asarray(graph.smax_mva) / s_base
    flow_max = 1.2
    n_t = p_pu.shape[0]
    m = pyo.ConcreteModel(name=f"reconfigure {graph.name}")
    declare_radiality(m, graph, options.fix_bridges)
    if options.chain_cuts:
        declare_chain_cuts(m, graph)
    declare_parent_child(m, graph)
    declare_power_flow(m, graph, p_pu, q_pu, r, x, flow_max)
    if bool(np.all(p_pu >= 0.0)):
        declare_flow_direction(m, graph, n_t, flow_max)
    declare_limits(m, graph, smax, n_t)
    declare_loss_cuts(m, graph, n_t, flow_max, options.tangent_levels)
    if options.max_switching is not None:
        declare_switching_limit(m, graph, options.max_switching)
    pen = options.violation_penalty
    m.obj = pyo.Objective(
        expr=OBJECTIVE_SCALE * sum(
            float(period_hours[t]) * (
                sum(float(r[e]) * (m.lp[e, t] + m.lq[e, t]) for e in range(graph.n_edge))
                + pen * sum(m.sv_lo[i, t] + m.sv_hi[i, t] for i in range(graph.n_node))
            )
            for t in range(n_t)
        )
        + OBJECTIVE_SCALE * pen * sum(float(period_hours[t]) * m.s_slack[e, t]
                                      for (e, t) in m.s_slack),
        sense=pyo.minimize,
    )
    m._r = r
    return m, s_base, flow_max


def solve_reconfiguration(
    graph: SwitchingGraph,
    p_mw: FloatArray,
    q_mvar: FloatArray,
    period_hours: FloatArray,
    options: MilpOptions | None = None,
    start: BoolArray | None = None,
    start_flows: tuple[FloatArray, FloatArray] | None = None,
    local_branching: int | None = None,
) -> MilpResult:
    """Choose the loss-minimising radial configuration for node demand ``(T, n_node)``.

    Parameters
    ----------
    graph
        Switching graph (:func:`~gridopt.opf.switching.topology.build_switching_graph`).
    p_mw, q_mvar
        Net consumption per period and node, shape ``(T, n_node)``.
    period_hours
        Duration of each period (energy weights), shape ``(T,)``.
    options
        MILP options.
    start
        A radial configuration handed to HiGHS as the first incumbent of every round
        (:func:`~gridopt.solvers.highs_start.set_mip_start`), e.g. a branch-exchange answer.
    start_flows
        Its AC flows ``(p_mw, q_mvar)`` per edge and period (``(n_edge, T)``, from the ``from``
        end): loss tangents at them are added before the first round, so that the loss model
        is already exact near the start (fewer successive-linearisation rounds).
    local_branching
        Search only configurations that differ from ``start`` in at most this many switchable
        edges (a local-branching neighbourhood, Fischetti and Lodi, Math. Program. 98, 2003):
        a heuristic, whose gap is relative to that neighbourhood only.

    Returns
    -------
    MilpResult

    Raises
    ------
    InfeasibleError
        No radial configuration within the switching limit.
    SolverError
        HiGHS failed.
    """
    options = options or MilpOptions()
    t0 = time.perf_counter()
    m, s_base, _ = build_model(graph, p_mw, q_mvar, period_hours, options)
    if start_flows is not None:
        _start_cuts(m, graph, start_flows, s_base)
    if local_branching is not None and start is not None:
        declare_switching_limit(m, graph, local_branching, start, name="local_branching")
    build_s = time.perf_counter() - t0
    # HiGHS's sub-MIP heuristics (RINS/RENS) and restarts cost most of the time on these models
    # while the tree search finds the incumbent quickly: switch them off. Cuts are added to the
    # model between rounds, so the adapter scans for new rows (no structure_fixed).
    budget_s = options.time_limit_s if options.time_limit_s is not None else auto_time_limit(
        graph)
    highs_options = HighsOptions(
        threads=1,
        time_limit_seconds=budget_s,
        mip_rel_gap=options.mip_rel_gap,
        extra=(("mip_heuristic_run_rins", False), ("mip_heuristic_run_rens", False),
               ("mip_heuristic_run_root_reduced_cost", False), ("mip_allow_restart", False)),
    )
    solver = HighsSolver(highs_options, manual_updates=True)
    solver.load(m)
    start_values = _start_values(m, graph, start) if start is not None else None
    total_s = 0.0
    n_t = p_mw.shape[0]
    rounds = 0
    previous: tuple[int, ...] | None = None
    status, message = SolveStatus.ERROR, ""
    incumbent = False
    mip_gap: float | None = None
    loss_model_gap = 0.0
    for rounds in range(1, options.max_rounds + 1):
        t_round = time.perf_counter()
        left_s = budget_s - total_s
        if rounds > 1 and left_s <= 0.05 * budget_s:
            logger.info("reconfiguration MILP: time budget %.3g s used after %d rounds",
                        budget_s, rounds - 1)
            status, message = SolveStatus.NOT_CONVERGED, "time budget used"
            rounds -= 1
            break
        solver.options = replace(highs_options, time_limit_seconds=left_s)
        if start_values is not None:
            set_mip_start(solver, *start_values)
        outcome = solver.solve(m)
        total_s += time.perf_counter() - t_round
        if outcome.objective is None and incumbent:
            # a later round (with more tangents) found nothing in its time: the variables still
            # hold the previous round's radial configuration (a failed solve loads nothing);
            # keep it, reported as not proven optimal
            logger.warning("reconfiguration MILP round %d found no configuration (%s); keeping "
                           "round %d's", rounds, outcome.report.message, rounds - 1)
            status, message = SolveStatus.NOT_CONVERGED, outcome.report.message
            rounds -= 1
            break
        status, message = outcome.report.status, outcome.report.message
        incumbent = outcome.objective is not None
        mip_gap = outcome.mip_gap
        if not incumbent:  # infeasible, failed, or no radial configuration within the time
            break
        if status is SolveStatus.NOT_CONVERGED:
            # the time limit stopped the tree search with an incumbent: a radial configuration
            # that is used (the AC evaluation still ranks it) but whose report keeps the status
            logger.warning("reconfiguration MILP stopped before proving optimality (%s); "
                           "using its incumbent", message)
        config = tuple(round(pyo.value(m.alpha[e])) for e in m.alpha)
        proxy, exact = _loss_proxy_and_exact(m, graph, n_t)
        converged = exact - proxy <= options.objective_tolerance * max(exact, 1e-12)
        loss_model_gap = max(exact - proxy, 0.0) / exact if exact > 0 else 0.0
        new_cuts = [] if converged else _refine_cuts(m, graph, n_t, options.cut_tolerance)
        if new_cuts:
            solver.add_constraints(new_cuts)
        added = len(new_cuts)
        logger.info("reconfiguration MILP round %d: objective %.6g, gap %s, %d new cuts, %.2f s",
                    rounds, pyo.value(m.obj), mip_gap, added, time.perf_counter() - t_round)
        if added == 0 or config == previous:
            break
        previous = config
    report = SolverReport(solver=solver.version, status=status, message=message,
                          iterations=rounds, solve_seconds=total_s)
    if status is SolveStatus.INFEASIBLE:
        limit = ("" if options.max_switching is None
                 else f" within {options.max_switching} switching operations")
        raise InfeasibleError(
            f"network {graph.name}: no radial configuration{limit} exists; allow more switching "
            "operations or mark more elements switchable"
        )
    if not incumbent:
        raise SolverError(f"network {graph.name}: HiGHS found no configuration in the "
                          f"reconfiguration MILP ({status.value}: {message}); raise the time "
                          "limit or rerun with -vv for the solver log")
    closed = np.array([
        bool(round(pyo.value(m.alpha[e]))) if graph.switchable[e] else True
        for e in range(graph.n_edge)
    ])
    r = m._r
    losses = sum(float(period_hours[t]) * float(r[e]) * (pyo.value(m.lp[e, t]) + pyo.value(
        m.lq[e, t])) for e in range(graph.n_edge) for t in range(n_t)) * s_base
    violation = float(sum(pyo.value(v) for v in m.sv_lo.values())
                      + sum(pyo.value(v) for v in m.sv_hi.values())
                      + sum(pyo.value(v) for v in m.s_slack.values()))
    return MilpResult(closed=closed, losses_mwh=float(losses), violation=violation,
                      rounds=rounds, report=report, build_seconds=build_s, mip_gap=mip_gap,
                      loss_model_gap=loss_model_gap, time_limit_s=budget_s)


def _loss_proxy_and_exact(m: pyo.ConcreteModel, graph: SwitchingGraph, n_t: int
                          ) -> tuple[float, float]:
    """Model losses ``sum r l`` and their exact value ``sum r (P^2 + Q^2)`` at the solution."""
    r = m._r
    proxy = exact = 0.0
    for e in range(graph.n_edge):
        for t in range(n_t):
            p, q = float(pyo.value(m.P[e, t])), float(pyo.value(m.Q[e, t]))
            proxy += float(r[e]) * (pyo.value(m.lp[e, t]) + pyo.value(m.lq[e, t]))
            exact += float(r[e]) * (p * p + q * q)
    return proxy, exact


def _refine_cuts(m: pyo.ConcreteModel, graph: SwitchingGraph, n_t: int, tol: float
                 ) -> list[ConstraintData]:
    """Add tangents at the solution's flows where the loss proxy is too low; return them."""
    added: list[ConstraintData] = []
    for e in range(graph.n_edge):
        for t in range(n_t):
            p = float(pyo.value(m.P[e, t]))
            q = float(pyo.value(m.Q[e, t]))
            if pyo.value(m.lp[e, t]) < p * p * (1 - tol) - 1e-9:
                added.append(m.cuts.add(_tangent(m, graph, FlowComponent.ACTIVE, e, t, p)))
            if pyo.value(m.lq[e, t]) < q * q * (1 - tol) - 1e-9:
                added.append(m.cuts.add(_tangent(m, graph, FlowComponent.REACTIVE, e, t, q)))
    return added


def auto_time_limit(graph: SwitchingGraph) -> float:
    """MILP time budget scaled to the network: 0.02 s per free binary, within 1 .. 30 s.

    About what HiGHS needs to prove case33bw (35 free binaries) optimal, and the part of a
    5 s budget left to a 100-200-bus group after the branch exchange and the AC check; the
    remaining gap is reported when it does not close.
    """
    free = int(np.sum(np.asarray(graph.switchable) & ~np.asarray(graph.must_close)))
    return float(min(max(0.02 * free, 1.0), 30.0))


def _start_values(m: pyo.ConcreteModel, graph: SwitchingGraph, closed: BoolArray
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


def _start_cuts(m: pyo.ConcreteModel, graph: SwitchingGraph,
                flows: tuple[FloatArray, FloatArray], s_base: float) -> None:
    """Loss tangents at the start configuration's flows (MW, Mvar) on the model base."""
    p_mw, q_mvar = flows
    for e, t in zip(*np.nonzero(np.abs(p_mw) + np.abs(q_mvar)), strict=True):
        m.cuts.add(_tangent(m, graph, FlowComponent.ACTIVE, int(e), int(t),
                            float(p_mw[e, t]) / s_base))
        m.cuts.add(_tangent(m, graph, FlowComponent.REACTIVE, int(e), int(t),
                            float(q_mvar[e, t]) / s_base))
