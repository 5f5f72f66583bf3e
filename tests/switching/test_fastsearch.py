"""Fast power flow (agrees with pandapower) and the fast heuristics; larger random feeders
against an exhaustive enumeration (slow)."""

from __future__ import annotations

import copy

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridopt.opf.switching.exchange import neighbours
from gridopt.opf.switching.fastsearch import loop_exchange, loop_opening, perturbed_exchange
from gridopt.opf.switching.sweep import RadialSweep
from gridopt.opf.switching.topology import is_radial
from gridopt.workflows.reconfigure import ReconfigureOptions, prepare, reconfigure
from tests.switching.conftest import assert_radial_and_connected, random_meshed_net


def _pandapower_losses_mw(net: pp.pandapowerNet, open_lines: set[int]) -> float:
    trial = copy.deepcopy(net)
    trial.line["in_service"] = ~trial.line.index.isin(sorted(open_lines))
    pp.runpp(trial, numba=False)
    return float(trial.res_line["pl_mw"].sum())


@pytest.mark.parametrize("name", ["case33bw", "random"])
def test_fast_flow_agrees_with_pandapower(name: str) -> None:
    net = pn.case33bw() if name == "case33bw" else random_meshed_net(4, n_bus=10, n_extra=3)
    model, evaluator = prepare(net, None, ReconfigureOptions())
    graph = evaluator.graph
    sweep = RadialSweep(model, graph, evaluator.demand)
    closed0 = np.asarray(graph.closed0, dtype=bool)
    for e_in, e_out in neighbours(graph, closed0)[:12]:
        cand = closed0.copy()
        cand[e_in], cand[e_out] = True, False
        fast = sweep.evaluate(cand)
        ac = evaluator.evaluate(cand)
        assert fast.converged and ac.converged
        assert fast.losses_mwh == pytest.approx(ac.losses_mwh, rel=1e-6)
        assert fast.vmin_pu == pytest.approx(ac.vmin_pu, abs=1e-7)


def test_heuristics_give_radial_local_optima() -> None:
    net = pn.case33bw()
    model, evaluator = prepare(net, None, ReconfigureOptions())
    graph = evaluator.graph
    sweep = RadialSweep(model, graph, evaluator.demand)
    opening = loop_opening(sweep)
    assert opening is not None and is_radial(graph, opening.closed)
    found = loop_exchange(sweep, opening.closed)
    assert is_radial(graph, found.closed)
    # no single exchange improves the fast-flow losses
    for e_in, e_out in neighbours(graph, found.closed):
        cand = found.closed.copy()
        cand[e_in], cand[e_out] = True, False
        assert sweep.evaluate(cand).losses_mwh >= found.key[1] * (1 - 1e-9)
    better = perturbed_exchange(sweep, found.closed, kicks=5)
    assert is_radial(graph, better.closed) and better.key <= found.key
    # case33bw: the published optimum, lines 7, 9, 14, 32, 37 (1-based)
    opened = sorted(int(graph.edge_element[e]) for e in np.flatnonzero(~better.closed))
    assert opened == [6, 8, 13, 31, 36]


def _enumerated_optimum(net: pp.pandapowerNet, top: int = 3) -> tuple[float, set[int]]:
    """Every spanning tree of the lines (networkx), ranked by the fast flow; the best ``top``
    are re-run in pandapower (the fast flow's agreement is tested above) and the lowest kept."""
    model, evaluator = prepare(net, None, ReconfigureOptions())
    graph = evaluator.graph
    sweep = RadialSweep(model, graph, evaluator.demand)
    g = nx.MultiGraph()
    g.add_nodes_from(range(graph.n_node))
    for e in range(graph.n_edge):
        g.add_edge(int(graph.edge_from[e]), int(graph.edge_to[e]), key=e)
    ranked = []
    for tree in nx.SpanningTreeIterator(g):
        closed = np.zeros(graph.n_edge, dtype=bool)
        closed[[k for _, _, k in tree.edges(keys=True)]] = True
        ranked.append((sweep.evaluate(closed).losses_mwh, closed))
    ranked.sort(key=lambda r: r[0])
    best = (np.inf, set())
    for _, closed in ranked[:top]:
        opened = {int(graph.edge_element[e]) for e in np.flatnonzero(~closed)}
        loss = _pandapower_losses_mw(net, opened)
        if loss < best[0]:
            best = (loss, opened)
    return best


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "n_bus", "loops"),
                         [(21, 12, 5), (22, 14, 6), (23, 16, 8), (25, 12, 10)])
def test_larger_feeders_equal_enumeration(seed: int, n_bus: int, loops: int) -> None:
    net = random_meshed_net(seed, n_bus=n_bus, n_extra=loops)
    best_mw, best_open = _enumerated_optimum(net)
    res = reconfigure(net)
    assert res.radial
    assert_radial_and_connected(res.net)
    assert res.losses_kw_after == pytest.approx(best_mw * 1e3, rel=1e-7)
    assert set(res.open_lines) == best_open


def test_milp_keeps_its_start_when_out_of_time() -> None:
    """The MIP start (set_mip_start) is HiGHS's incumbent: with almost no time the MILP
    still returns a radial configuration, the start, and reports the time budget."""
    from gridopt.opf.switching.demand import node_demand
    from gridopt.opf.switching.milp import MilpOptions, solve_reconfiguration

    net = pn.case33bw()
    _, evaluator = prepare(net, None, ReconfigureOptions())
    graph = evaluator.graph
    start = np.ones(graph.n_edge, dtype=bool)
    start[[int(np.flatnonzero(graph.edge_element == i)[0]) for i in (6, 8, 13, 31, 36)]] = False
    p, q = node_demand(evaluator.demand, graph.node_buses)
    res = solve_reconfiguration(graph, p, q, evaluator.demand.period_hours,
                                MilpOptions(time_limit_s=0.05), start=start)
    assert is_radial(graph, res.closed)
    assert np.array_equal(res.closed, start)
    assert res.time_limit_s == pytest.approx(0.05)
    assert res.mip_gap is not None and res.mip_gap > 1e-4  # not proven in 0.05 s
