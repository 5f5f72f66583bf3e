"""Loss-minimising radial reconfiguration: MILP, AC check, local search.

The algorithm works on the switching graph of the one network model and judges configurations
through a :class:`~gridopt.opf.switching.evaluation.ConfigurationEvaluator` (pandapower's power
flow, :mod:`gridopt.validate.switching`); :mod:`gridopt.workflows.reconfigure` wires the two for
a pandapower net. Pipeline of :func:`reconfigure`:

1. :func:`~gridopt.opf.switching.topology.build_switching_graph`: switchable graph, input checks
   (island without supply, fixed loops -> :class:`~gridopt.errors.InputError`).
2. Fast heuristics on the fast power flow (:class:`~gridopt.opf.switching.sweep.RadialSweep`,
   :mod:`~gridopt.opf.switching.fastsearch`): branch exchange from the present configuration,
   sequential opening from the meshed network, an iterated exchange from the better one.
3. :func:`~gridopt.opf.switching.milp.solve_reconfiguration`: one radial configuration
   minimising the LinDistFlow energy losses over all periods (HiGHS), started from step 2's
   answer, within a time budget; its gap is reported.
4. AC: the MILP's answer (after a fast exchange) and step 2's are run in AC; from the better one
   :func:`~gridopt.opf.switching.exchange.screened_exchange` makes AC branch exchanges among the
   neighbours the fast flow does not rule out: the answer is AC-optimal among them.

:func:`branch_exchange_heuristic` is the AC branch exchange alone from the present
configuration, every neighbour in AC (the way users solve the problem today); the benchmark
compares both.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from gridopt.errors import InputError
from gridopt.network.case import BoolArray
from gridopt.network.model import NetworkModel
from gridopt.network.topology import Configuration
from gridopt.opf.switching.demand import node_demand
from gridopt.opf.switching.evaluation import (
    ACEvaluation,
    ConfigurationEvaluator,
    configuration_of,
    open_elements,
)
from gridopt.opf.switching.exchange import (
    branch_exchange,
    screened_exchange,
    switching_operations,
)
from gridopt.opf.switching.fastsearch import loop_exchange, loop_opening, perturbed_exchange
from gridopt.opf.switching.milp import MilpOptions, MilpResult, solve_reconfiguration
from gridopt.opf.switching.sweep import RadialSweep
from gridopt.opf.switching.topology import SwitchableSpec, SwitchingGraph, is_radial

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconfigureOptions:
    """Options of :func:`reconfigure`.

    Attributes
    ----------
    switchable
        Which lines/switches may change (defaults in :mod:`~gridopt.opf.switching.topology`).
    max_switching
        Largest number of elements whose state may change (``None``: no limit).
    local_search
        Run the AC branch-exchange local search after the MILP.
    local_search_time_limit_s
        Time after which the local search stops at the end of its sweep.
    milp
        MILP options (its ``max_switching`` is overridden by the field above).
    screen_margin
        AC local search: neighbours whose fast-power-flow losses exceed the present
        configuration's by more than this fraction are not run in AC
        (:func:`~gridopt.opf.switching.exchange.screened_exchange`; ``inf``: all are).
    warm_start
        Run the fast heuristics first (branch exchange from the present configuration,
        sequential opening from the meshed network, :mod:`~gridopt.opf.switching.fastsearch`)
        and hand the best answer to the MILP as its first incumbent.
    kicks
        Perturbations of the iterated branch exchange that refines the best fast answer
        (:func:`~gridopt.opf.switching.fastsearch.perturbed_exchange`); ``None``: one per
        open edge of the configuration (one per independent loop).
    """

    switchable: SwitchableSpec = field(default_factory=SwitchableSpec)
    max_switching: int | None = None
    local_search: bool = True
    local_search_time_limit_s: float = 600.0
    milp: MilpOptions = field(default_factory=MilpOptions)
    screen_margin: float = 2e-3
    warm_start: bool = True
    kicks: int | None = None


@dataclass(frozen=True, eq=False)
class ReconfigurationResult:
    """Outcome of a reconfiguration.

    Attributes
    ----------
    configuration
        The chosen switch states and branch statuses of the network model.
    graph
        Switching graph the optimisation worked on.
    closed
        State of each graph edge.
    open_lines, open_switches
        pandapower indices of the lines that are open (out of service or behind an open switch)
        and of the open switches, in the result.
    radial
        The result is a spanning forest of the supplied buses with one supply per tree.
    before, after
        AC power-flow figures of the given and of the chosen configuration.
    switching_operations
        Elements whose state changed.
    period_hours
        Duration of each period.
    milp
        MILP outcome (``None`` for the pure heuristic).
    seconds, milp_seconds, ac_seconds
        Wall time in total, in the MILP (build and solve) and in AC power flows.
    power_flows
        Number of AC power flows run.
    exchanges
        Improving branch exchanges made by the AC local search.
    sweep_moves
        Improving exchanges of the fast-power-flow branch exchange (from the present
        configuration and from the MILP's answer).
    sweep_flows
        Fast power flows run.
    start
        Which start the AC local search began from: ``"milp"`` (the MILP's answer after a fast
        branch exchange) or ``"search"`` (the fast heuristics' answer, the MILP's start).
    """

    configuration: Configuration
    graph: SwitchingGraph
    closed: BoolArray
    open_lines: tuple[int, ...]
    open_switches: tuple[int, ...]
    radial: bool
    before: ACEvaluation
    after: ACEvaluation
    switching_operations: int
    period_hours: np.ndarray
    milp: MilpResult | None
    seconds: float
    milp_seconds: float
    ac_seconds: float
    power_flows: int
    exchanges: int
    sweep_moves: int = 0
    sweep_flows: int = 0
    start: str = "milp"

    @property
    def hours(self) -> float:
        """Length of the horizon in hours."""
        return float(np.sum(self.period_hours))

    @property
    def losses_kw_before(self) -> float:
        """Mean active losses of the given configuration over the horizon (kW)."""
        return self.before.losses_mwh / self.hours * 1e3

    @property
    def losses_kw_after(self) -> float:
        """Mean active losses of the chosen configuration over the horizon (kW)."""
        return self.after.losses_mwh / self.hours * 1e3

    def summary(self) -> dict[str, object]:
        """JSON-ready summary (the fields of ``gridopt reconfigure --json``)."""
        return {
            "network": self.graph.name,
            "periods": len(self.period_hours),
            "open_lines": list(self.open_lines),
            "open_switches": list(self.open_switches),
            "losses_kw_before": self.losses_kw_before,
            "losses_kw_after": self.losses_kw_after,
            "losses_kwh_before": self.before.losses_mwh * 1e3,
            "losses_kwh_after": self.after.losses_mwh * 1e3,
            "loss_reduction_percent": (
                100.0 * (1 - self.after.losses_mwh / self.before.losses_mwh)
                if self.before.losses_mwh > 0 and math.isfinite(self.before.losses_mwh)
                else None
            ),
            "vmin_pu_before": self.before.vmin_pu,
            "vmin_pu_after": self.after.vmin_pu,
            "max_loading_percent_after": self.after.max_loading_percent,
            "limit_violation_after": self.after.violation,
            "radial": self.radial,
            "switching_operations": self.switching_operations,
            "milp_rounds": self.milp.rounds if self.milp else 0,
            "milp_status": self.milp.report.status.value if self.milp else None,
            "milp_gap": self.milp.mip_gap if self.milp else None,
            "milp_loss_model_gap": self.milp.loss_model_gap if self.milp else None,
            "milp_time_limit_s": self.milp.time_limit_s if self.milp else None,
            "local_search_exchanges": self.exchanges,
            "branch_exchange_moves": self.sweep_moves,
            "fast_power_flows": self.sweep_flows,
            "local_search_start": self.start,
            "power_flows": self.power_flows,
            "milp_seconds": self.milp_seconds,
            "ac_seconds": self.ac_seconds,
            "seconds": self.seconds,
        }


def _finish(
    model: NetworkModel,
    evaluator: ConfigurationEvaluator,
    closed: BoolArray,
    before: ACEvaluation,
    after: ACEvaluation,
    milp: MilpResult | None,
    t0: float,
    milp_seconds: float,
    exchanges: int,
    extra: dict[str, object] | None = None,
) -> ReconfigurationResult:
    graph = evaluator.graph
    radial = is_radial(graph, closed)
    if not radial:  # pragma: no cover - guarded by the formulation and the exchange moves
        raise InputError(f"network {graph.name}: the configuration found is not radial; please "
                         "report this with the network file")
    configuration = configuration_of(model, graph, closed)
    lines, switches = open_elements(model, configuration)
    return ReconfigurationResult(
        configuration=configuration,
        graph=graph,
        closed=np.asarray(closed, dtype=bool),
        open_lines=lines,
        open_switches=switches,
        radial=radial,
        before=before,
        after=after,
        switching_operations=switching_operations(graph, closed),
        period_hours=np.asarray(evaluator.demand.period_hours),
        milp=milp,
        seconds=time.perf_counter() - t0,
        milp_seconds=milp_seconds,
        ac_seconds=evaluator.seconds,
        power_flows=evaluator.runs,
        exchanges=exchanges,
        **(extra or {}),  # type: ignore[arg-type]
    )


def reconfigure(
    model: NetworkModel,
    evaluator: ConfigurationEvaluator,
    options: ReconfigureOptions | None = None,
) -> ReconfigurationResult:
    """Find the radial configuration with the lowest (energy) losses.

    Parameters
    ----------
    model
        The network model.
    evaluator
        AC evaluator of its switching graph (``evaluator.graph``, built with
        ``options.switchable``) over the periods of ``evaluator.demand``.
    options
        Options.

    Returns
    -------
    ReconfigurationResult

    Raises
    ------
    InfeasibleError
        No radial configuration within ``max_switching`` operations.
    SolverError
        HiGHS failed.

    Examples
    --------
    :func:`gridopt.workflows.reconfigure.reconfigure` runs it on a pandapower net:

    >>> import pandapower.networks as pn
    >>> from gridopt.workflows.reconfigure import reconfigure as reconfigure_net
    >>> res = reconfigure_net(pn.case33bw())  # Baran & Wu: the published 139.55 kW optimum
    >>> res.open_lines, round(res.losses_kw_after, 2)
    ((6, 8, 13, 31, 36), 139.55)
    """
    options = options or ReconfigureOptions()
    t0 = time.perf_counter()
    graph = evaluator.graph
    before = evaluator.evaluate_net_as_is()
    sweep = RadialSweep(model, graph, evaluator.demand)
    closed0 = np.asarray(graph.closed0, dtype=bool)
    starts: dict[str, BoolArray] = {}
    moves = 0
    if options.warm_start and is_radial(graph, closed0):
        found = loop_exchange(sweep, closed0, options.max_switching)
        starts["exchange" if found.moves else "present"] = found.closed
        moves += found.moves
    opening = loop_opening(sweep) if options.warm_start and options.max_switching is None else None
    if opening is not None:
        found = loop_exchange(sweep, opening.closed)
        starts["opening"] = found.closed
        moves += found.moves
    if starts:  # the best start, perturbed: the MILP's start
        name, closed = min(starts.items(), key=lambda kv: sweep.evaluate(kv[1]).key())
        kicks = options.kicks if options.kicks is not None else int(np.sum(~closed))
        found = perturbed_exchange(sweep, closed, options.max_switching, kicks=kicks)
        moves += found.moves
        starts = {"search": found.closed}  # no worse than the other starts
    p_mw, q_mvar = node_demand(evaluator.demand, graph.node_buses)
    milp_options = MilpOptions(**{**options.milp.__dict__, "max_switching": options.max_switching})
    t_milp = time.perf_counter()
    start = starts.get("search")
    milp = solve_reconfiguration(graph, p_mw, q_mvar, evaluator.demand.period_hours, milp_options,
                                 start=start,
                                 start_flows=None if start is None else sweep.flows(start))
    milp_seconds = time.perf_counter() - t_milp
    logger.info("MILP: %d rounds, %.2f s, model losses %.6g MWh, gap %s", milp.rounds,
                milp_seconds, milp.losses_mwh, milp.mip_gap)
    found = loop_exchange(sweep, milp.closed, options.max_switching)
    moves += found.moves
    starts = {"milp": found.closed, **starts}
    # the candidates in AC (one power flow each); the AC search starts from the best
    name, closed = min(starts.items(), key=lambda kv: evaluator.evaluate(kv[1]).key())
    exchanges = 0
    if options.local_search:
        search = screened_exchange(evaluator, sweep, closed, options.max_switching,
                                   screen_margin=options.screen_margin,
                                   time_limit_s=options.local_search_time_limit_s)
        closed, after, exchanges = search.closed, search.evaluation, search.exchanges
    else:
        after = evaluator.evaluate(closed)
    extra = {"sweep_moves": moves, "sweep_flows": sweep.evaluations, "start": name}
    return _finish(model, evaluator, closed, before, after, milp, t0, milp_seconds, exchanges,
                   extra)


def branch_exchange_heuristic(
    model: NetworkModel,
    evaluator: ConfigurationEvaluator,
    options: ReconfigureOptions | None = None,
) -> ReconfigurationResult:
    """Branch-exchange local search from the present configuration, by AC power flows.

    The present configuration must be radial (the usual normally-open-tie state).

    Raises
    ------
    InputError
        When the present configuration is not radial.
    """
    options = options or ReconfigureOptions()
    t0 = time.perf_counter()
    graph = evaluator.graph
    closed0 = np.asarray(graph.closed0, dtype=bool)
    if not is_radial(graph, closed0):
        raise InputError(f"network {graph.name}: the present configuration is not radial; the "
                         "branch-exchange heuristic needs a radial start (use reconfigure)")
    before = evaluator.evaluate_net_as_is()
    search = branch_exchange(evaluator, closed0, options.max_switching,
                             time_limit_s=options.local_search_time_limit_s)
    return _finish(model, evaluator, search.closed, before, search.evaluation, None, t0, 0.0,
                   search.exchanges)
