"""AC evaluation of configurations with ``pandapower.runpp`` and branch-exchange local search.

:class:`ACEvaluator` owns one private deep copy of the net (the caller's is never touched), applies
a configuration (edge states of a :class:`~gridopt.opf.switching.topology.SwitchingGraph`) and
the demand of each period, runs pandapower's Newton-Raphson power flow and returns energy losses,
the lowest voltage and the limit violations. Results are cached per configuration.

:func:`branch_exchange` is the classic local search (Civanlar et al., IEEE TPWRD 3(3), 1988):
close one open switchable edge, which closes exactly one loop, and open another switchable edge
on that loop; keep the best exchange and repeat until none improves. Configurations compare
lexicographically on (limit violation, energy losses), so a configuration inside the limits always
beats one outside them. Started from the MILP's answer it makes the result AC-optimal among its
neighbours; started from the present configuration it is the heuristic users run today.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from gridopt.network.case import BoolArray
from gridopt.opf.switching.demand import BusDemand
from gridopt.opf.switching.topology import EdgeKind, SwitchingGraph

logger = logging.getLogger(__name__)

#: Use pandapower's numba kernels when numba is importable (no warning otherwise).
NUMBA = importlib.util.find_spec("numba") is not None

#: Violations below this (pu + loading fraction, summed) count as none.
VIOLATION_TOL = 1e-6


@dataclass(frozen=True)
class ACEvaluation:
    """AC power-flow figures of one configuration over all periods.

    Attributes
    ----------
    converged
        Every period's power flow converged.
    losses_mwh
        Energy losses (sum over periods of losses in MW times period hours).
    losses_mw
        Active losses per period.
    vmin_pu, vmax_pu
        Lowest and highest bus voltage over periods and energised buses.
    max_loading_percent
        Highest line/transformer loading over periods.
    violation
        Sum over periods and buses of voltage excursions beyond the bus limits (pu) plus loading
        excesses over ``max_loading_percent`` (as fractions).
    """

    converged: bool
    losses_mwh: float
    losses_mw: tuple[float, ...]
    vmin_pu: float
    vmax_pu: float
    max_loading_percent: float
    violation: float

    def key(self) -> tuple[float, float]:
        """Sort key: (violation, losses); non-converged configurations sort last."""
        if not self.converged:
            return (math.inf, math.inf)
        viol = self.violation if self.violation > VIOLATION_TOL else 0.0
        return (round(viol, 9), self.losses_mwh)


def apply_configuration(net: pp.pandapowerNet, graph: SwitchingGraph, closed: BoolArray) -> None:
    """Set switch states / line ``in_service`` of ``net`` in place to match ``closed``.

    Only switchable edges whose state differs from the net's present one are touched: closing
    closes every switchable switch of the element (and puts a switchable line in service);
    opening opens its first switchable switch, or takes the line out of service.
    """
    for e in np.flatnonzero(np.asarray(graph.switchable)):
        want = bool(closed[e])
        kind = graph.edge_kind[e]
        element = int(graph.edge_element[e])
        switches = graph.edge_switches[e]
        if kind is EdgeKind.BUS_SWITCH:
            net.switch.at[element, "closed"] = want
            continue
        table = net.line if kind is EdgeKind.LINE else net.trafo
        if switches:
            states = net.switch.loc[list(switches), "closed"].astype(bool)
            now = bool(states.all()) and bool(table.at[element, "in_service"])
            if now == want:
                continue
            if want:
                net.switch.loc[list(switches), "closed"] = True
                table.at[element, "in_service"] = True
            else:
                net.switch.at[switches[0], "closed"] = False
        else:
            table.at[element, "in_service"] = want


def open_elements(net: pp.pandapowerNet) -> tuple[list[int], list[int]]:
    """pandapower indices of lines that are open (out of service or an open line switch) and
    of open switches."""
    sw = net.switch
    open_sw = [int(i) for i in sw.index[~sw["closed"].astype(bool)]]
    line_sw_open = set(int(e) for e in sw.loc[(sw["et"] == "l") & ~sw["closed"].astype(bool),
                                               "element"])
    lines = [int(i) for i in net.line.index
             if not bool(net.line.at[i, "in_service"]) or int(i) in line_sw_open]
    return sorted(lines), open_sw


class ACEvaluator:
    """Evaluate configurations of ``net`` with AC power flows over the periods of ``demand``.

    Parameters
    ----------
    net
        pandapower network; deep-copied, never modified.
    graph
        Its switching graph.
    demand
        Net consumption per bus and period (:func:`~gridopt.opf.switching.demand.bus_demand`).
    """

    def __init__(self, net: pp.pandapowerNet, graph: SwitchingGraph, demand: BusDemand) -> None:
        self.graph = graph
        self.demand = demand
        self.net = copy.deepcopy(net)
        self.runs = 0
        self.seconds = 0.0
        self._cache: dict[tuple[bool, ...], ACEvaluation] = {}
        self._profile_loads: list[int] = []
        if demand.profile_buses:
            self._install_profile_loads()

    def _install_profile_loads(self) -> None:
        net = self.net
        buses = set(self.demand.profile_buses)
        for element in ("load", "sgen", "storage"):  # replaced by the profile
            table = net.get(element)
            if table is not None and len(table):
                table.loc[table["bus"].isin(buses), "in_service"] = False
        self._profile_loads = [
            int(pp.create_load(net, bus=b, p_mw=0.0, q_mvar=0.0, name=f"gridopt profile bus {b}"))
            for b in self.demand.profile_buses
        ]

    def _set_period(self, t: int) -> None:
        if not self._profile_loads:
            return
        assert self.demand.profile_p_mw is not None and self.demand.profile_q_mvar is not None
        self.net.load.loc[self._profile_loads, "p_mw"] = self.demand.profile_p_mw[t]
        self.net.load.loc[self._profile_loads, "q_mvar"] = self.demand.profile_q_mvar[t]

    def evaluate(self, closed: BoolArray) -> ACEvaluation:
        """AC figures of configuration ``closed`` (cached)."""
        key = tuple(bool(c) for c in closed)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        net = self.net
        saved_sw = net.switch["closed"].copy()
        saved_line = net.line["in_service"].copy()
        saved_trafo = net.trafo["in_service"].copy()
        apply_configuration(net, self.graph, np.asarray(closed, dtype=bool))
        result = self._run_periods()
        net.switch["closed"] = saved_sw
        net.line["in_service"] = saved_line
        net.trafo["in_service"] = saved_trafo
        self.seconds += time.perf_counter() - t0
        self._cache[key] = result
        return result

    def evaluate_net_as_is(self) -> ACEvaluation:
        """AC figures of the net's present configuration."""
        return self._run_periods()

    def _run_periods(self) -> ACEvaluation:
        net = self.net
        losses: list[float] = []
        vmin, vmax, loading, violation = math.inf, -math.inf, 0.0, 0.0
        init = "auto"
        for t in range(self.demand.n_period):
            self._set_period(t)
            try:
                pp.runpp(net, init=init, numba=NUMBA)
                self.runs += 1
            except (pp.LoadflowNotConverged, pp.powerflow.LoadflowNotConverged):
                return ACEvaluation(False, math.inf, (), math.nan, math.nan, math.nan, math.inf)
            init = "results"
            loss = float(net.res_line["pl_mw"].sum())
            if len(net.trafo):
                loss += float(net.res_trafo["pl_mw"].sum())
            losses.append(loss)
            vm = net.res_bus["vm_pu"]
            energised = vm.notna()
            vm = vm[energised]
            vmin = min(vmin, float(vm.min()))
            vmax = max(vmax, float(vm.max()))
            lo = net.bus.loc[vm.index, "min_vm_pu"] if "min_vm_pu" in net.bus else None
            hi = net.bus.loc[vm.index, "max_vm_pu"] if "max_vm_pu" in net.bus else None
            if lo is not None:
                violation += float(np.nansum(np.clip(lo.to_numpy(float) - vm.to_numpy(), 0, None)))
            if hi is not None:
                violation += float(np.nansum(np.clip(vm.to_numpy() - hi.to_numpy(float), 0, None)))
            for table, res in ((net.line, net.res_line), (net.trafo, net.res_trafo)):
                if not len(table):
                    continue
                ld = res["loading_percent"].to_numpy(float)
                limit = (table["max_loading_percent"].to_numpy(float)
                         if "max_loading_percent" in table else np.full(len(table), np.nan))
                if np.any(np.isfinite(ld)):
                    loading = max(loading, float(np.nanmax(ld)))
                excess = np.where(np.isfinite(limit) & np.isfinite(ld), ld - limit, 0.0)
                violation += float(np.clip(excess, 0, None).sum()) / 100.0
        hours = self.demand.period_hours
        return ACEvaluation(
            converged=True,
            losses_mwh=float(np.dot(losses, hours)),
            losses_mw=tuple(losses),
            vmin_pu=vmin,
            vmax_pu=vmax,
            max_loading_percent=loading,
            violation=violation,
        )


def _tree_path(graph: SwitchingGraph, closed: BoolArray, a: int, b: int) -> list[int]:
    """Edges on the path between nodes ``a`` and ``b`` in the forest ``closed`` (via the
    virtual super-root joining the supplies); -1 entries stand for supply links."""
    n = graph.n_node
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
    for r in graph.root_nodes:
        adj[n].append((int(r), -1))
        adj[int(r)].append((n, -1))
    for edge in np.flatnonzero(closed).tolist():
        u, v = int(graph.edge_from[edge]), int(graph.edge_to[edge])
        adj[u].append((v, edge))
        adj[v].append((u, edge))
    prev: dict[int, tuple[int, int]] = {a: (a, -2)}
    stack = [a]
    while stack:
        u = stack.pop()
        if u == b:
            break
        for v, via in adj[u]:
            if v not in prev:
                prev[v] = (u, via)
                stack.append(v)
    path: list[int] = []
    node = b
    while node != a:
        parent, via = prev[node]
        path.append(via)
        node = parent
    return path


def neighbours(graph: SwitchingGraph, closed: BoolArray) -> list[tuple[int, int]]:
    """Branch exchanges ``(edge to close, edge to open)`` that keep ``closed`` radial."""
    closed = np.asarray(closed, dtype=bool)
    moves: list[tuple[int, int]] = []
    for e_in in np.flatnonzero(~closed & np.asarray(graph.switchable)):
        a, b = int(graph.edge_from[e_in]), int(graph.edge_to[e_in])
        if a == b:
            continue
        for e_out in _tree_path(graph, closed, a, b):
            if e_out >= 0 and graph.switchable[e_out]:
                moves.append((int(e_in), int(e_out)))
    return moves


def switching_operations(graph: SwitchingGraph, closed: BoolArray) -> int:
    """Number of switchable edges whose state differs from the net's present one."""
    sw = np.asarray(graph.switchable)
    return int(np.sum(np.asarray(closed, dtype=bool)[sw] != np.asarray(graph.closed0)[sw]))


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Outcome of :func:`branch_exchange`."""

    closed: BoolArray
    evaluation: ACEvaluation
    sweeps: int
    exchanges: int


def branch_exchange(
    evaluator: ACEvaluator,
    closed_start: BoolArray,
    max_switching: int | None = None,
    max_sweeps: int = 100,
    time_limit_s: float = math.inf,
) -> SearchResult:
    """Best-improvement branch exchange from a radial configuration, by AC power flows.

    Parameters
    ----------
    evaluator
        AC evaluator of the network and periods.
    closed_start
        Radial starting configuration.
    max_switching
        Largest number of switching operations relative to the net's present configuration.
    max_sweeps
        Largest number of improving exchanges.
    time_limit_s
        Stop after the sweep in progress once this much time has passed.

    Returns
    -------
    SearchResult
        A configuration no single exchange improves (unless a limit stopped the search).
    """
    graph = evaluator.graph
    t0 = time.perf_counter()
    best = np.asarray(closed_start, dtype=bool).copy()
    best_eval = evaluator.evaluate(best)
    sweeps = exchanges = 0
    while sweeps < max_sweeps and time.perf_counter() - t0 < time_limit_s:
        sweeps += 1
        improved: tuple[BoolArray, ACEvaluation] | None = None
        for e_in, e_out in neighbours(graph, best):
            cand = best.copy()
            cand[e_in] = True
            cand[e_out] = False
            if max_switching is not None and switching_operations(graph, cand) > max_switching:
                continue
            ev = evaluator.evaluate(cand)
            target = improved[1] if improved else best_eval
            if ev.key() < target.key() and (
                ev.key()[0] < target.key()[0] or ev.losses_mwh < target.losses_mwh * (1 - 1e-9)
            ):
                improved = (cand, ev)
        if improved is None:
            break
        best, best_eval = improved
        exchanges += 1
        logger.info("branch exchange %d: losses %.6g MWh, violation %.3g", exchanges,
                    best_eval.losses_mwh, best_eval.violation)
    return SearchResult(closed=best, evaluation=best_eval, sweeps=sweeps, exchanges=exchanges)
