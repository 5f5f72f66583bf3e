"""Branch-exchange local search over radial configurations (Civanlar et al., IEEE TPWRD 3(3),
1988).

:func:`branch_exchange` closes one open switchable edge, which closes exactly one loop, and opens
another switchable edge on that loop; it keeps the best exchange and repeats until none improves.
Configurations compare lexicographically on (limit violation, energy losses), so a configuration
inside the limits always beats one outside them. Started from the MILP's answer it makes the
result AC-optimal among its neighbours; started from the present configuration it is the
heuristic users run today. Configurations are judged by a
:class:`~gridopt.opf.switching.evaluation.ConfigurationEvaluator` (the AC power flow of
:mod:`gridopt.validate.switching`).

:func:`screened_exchange` is the same search with the neighbours ranked by the fast power flow
(:class:`~gridopt.opf.switching.sweep.RadialSweep`) and only those it does not rule out run in
AC; :func:`reconfigure <gridopt.opf.switching.core.reconfigure>` uses it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from gridopt.network.case import BoolArray
from gridopt.opf.switching.evaluation import ACEvaluation, ConfigurationEvaluator
from gridopt.opf.switching.sweep import RadialSweep
from gridopt.opf.switching.topology import SwitchingGraph

logger = logging.getLogger(__name__)


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
    evaluator: ConfigurationEvaluator,
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


def _moves(graph: SwitchingGraph, closed: BoolArray, max_switching: int | None
           ) -> list[BoolArray]:
    """Radial neighbours of ``closed`` within the switching limit."""
    out = []
    for e_in, e_out in neighbours(graph, closed):
        cand = closed.copy()
        cand[e_in] = True
        cand[e_out] = False
        if max_switching is None or switching_operations(graph, cand) <= max_switching:
            out.append(cand)
    return out


def _better(new: tuple[float, float], old: tuple[float, float]) -> bool:
    """Strictly better on (violation, losses), losses by more than a relative 1e-9."""
    return new < old and (new[0] < old[0] or new[1] < old[1] * (1 - 1e-9))


def screened_exchange(
    evaluator: ConfigurationEvaluator,
    sweep: RadialSweep,
    closed_start: BoolArray,
    max_switching: int | None = None,
    screen_margin: float = 2e-3,
    max_moves: int = 100,
    time_limit_s: float = math.inf,
) -> SearchResult:
    """Branch exchange by AC power flows, neighbours screened by the fast power flow.

    Every neighbour is scored by ``sweep``; those whose fast-flow losses are within
    ``screen_margin`` (relative) of the present configuration's, or lower, and whose
    voltage violation is not higher, are judged by ``evaluator`` in the order of their score.
    The first that improves the AC figures is taken and the search repeats; it stops when no
    screened neighbour improves them. With ``screen_margin = inf`` every neighbour is judged
    in AC (:func:`branch_exchange`'s neighbourhood); the fast flow agrees with pandapower's
    losses to ~1e-7 relative on networks without transformer iron losses, so the default
    margin only skips neighbours that are clearly worse.

    Returns
    -------
    SearchResult
        ``sweeps`` counts the neighbourhoods scored.
    """
    t0 = time.perf_counter()
    best = np.asarray(closed_start, dtype=bool).copy()
    best_eval = evaluator.evaluate(best)
    sweeps = exchanges = 0
    while exchanges < max_moves and time.perf_counter() - t0 < time_limit_s:
        sweeps += 1
        base = sweep.evaluate(best).key()
        scored = sorted(((sweep.evaluate(c).key(), i, c)
                         for i, c in enumerate(_moves(evaluator.graph, best, max_switching))),
                        key=lambda s: (s[0], s[1]))
        improved = None
        for key, _, cand in scored:
            if key[0] > base[0] or key[1] > base[1] * (1 + screen_margin) + 1e-12:
                continue
            ev = evaluator.evaluate(cand)
            if _better(ev.key(), best_eval.key()):
                improved = (cand, ev)
                break
        if improved is None:
            break
        best, best_eval = improved
        exchanges += 1
        logger.info("screened exchange %d: losses %.6g MWh, violation %.3g", exchanges,
                    best_eval.losses_mwh, best_eval.violation)
    return SearchResult(closed=best, evaluation=best_eval, sweeps=sweeps, exchanges=exchanges)
