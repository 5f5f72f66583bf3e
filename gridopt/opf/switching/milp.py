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
import time
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData

from gridopt.errors import InfeasibleError, SolverError
from gridopt.network.case import BoolArray, FloatArray
from gridopt.opf.switching.formulation import (
    FlowComponent,
    declare_chain_cuts,
    declare_flow_direction,
    declare_limits,
    declare_loss_cuts,
    declare_parent_child,
    declare_power_flow,
    declare_radiality,
    declare_switching_limit,
    start_cuts,
    start_values,
    tangent,
)
from gridopt.opf.switching.topology import SwitchingGraph
from gridopt.solvers.highs import HighsOptions, HighsSolver
from gridopt.solvers.highs_start import set_mip_start
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)

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
        start_cuts(m, graph, start_flows, s_base)
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
    mip_start = start_values(m, graph, start) if start is not None else None
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
        if mip_start is not None:
            set_mip_start(solver, *mip_start)
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
                added.append(m.cuts.add(tangent(m, graph, FlowComponent.ACTIVE, e, t, p)))
            if pyo.value(m.lq[e, t]) < q * q * (1 - tol) - 1e-9:
                added.append(m.cuts.add(tangent(m, graph, FlowComponent.REACTIVE, e, t, q)))
    return added


def auto_time_limit(graph: SwitchingGraph) -> float:
    """MILP time budget scaled to the network: 0.02 s per free binary, within 1 .. 30 s.

    About what HiGHS needs to prove case33bw (35 free binaries) optimal, and the part of a
    5 s budget left to a 100-200-bus group after the branch exchange and the AC check; the
    remaining gap is reported when it does not close.
    """
    free = int(np.sum(np.asarray(graph.switchable) & ~np.asarray(graph.must_close)))
    return float(min(max(0.02 * free, 1.0), 30.0))
