"""Loop-edge reduction (bridges fixed closed, one open edge per series chain): the sets are
right by brute force, and the optimum is the same with and without it."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandapower as pp
import pytest

from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.opf.switching import MilpOptions, ReconfigureOptions, build_switching_graph
from gridopt.opf.switching.reduction import bridge_edges, series_chains
from gridopt.opf.switching.topology import SwitchingGraph
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import exhaustive_optimum, random_meshed_net

SEEDS = (1, 2, 3, 5, 8)


def _graph(net: pp.pandapowerNet) -> SwitchingGraph:
    return build_switching_graph(model_from_pandapower(net, str(net.name)))


def _supergraph(g: SwitchingGraph, skip: int | None = None) -> nx.MultiGraph:
    out = nx.MultiGraph()
    out.add_nodes_from(range(g.n_node + 1))
    out.add_edges_from((g.n_node, int(r)) for r in g.root_nodes)
    out.add_edges_from((int(a), int(b)) for e, (a, b) in enumerate(zip(g.edge_from, g.edge_to,
                                                                       strict=True)) if e != skip)
    return out


def _spanning_trees(g: SwitchingGraph) -> list[np.ndarray]:
    """Every radial configuration, by enumeration of edge subsets (independent of gridopt)."""
    trees = []
    for subset in itertools.combinations(range(g.n_edge), g.n_tree_edges()):
        closed = np.zeros(g.n_edge, dtype=bool)
        closed[list(subset)] = True
        sub = nx.MultiGraph()
        sub.add_nodes_from(range(g.n_node + 1))
        sub.add_edges_from((g.n_node, int(r)) for r in g.root_nodes)
        sub.add_edges_from((int(g.edge_from[e]), int(g.edge_to[e])) for e in subset)
        if nx.is_tree(nx.Graph(sub)) and sub.number_of_edges() == g.n_node:
            trees.append(closed)
    return trees


@pytest.mark.parametrize("seed", SEEDS)
def test_bridges_by_brute_force(seed: int) -> None:
    """An edge is a bridge iff removing it disconnects some node from the supply."""
    g = _graph(random_meshed_net(seed, n_bus=8, n_extra=2))
    expected = np.array([not nx.is_connected(_supergraph(g, skip=e)) for e in range(g.n_edge)])
    got = bridge_edges(g.n_node, g.edge_from, g.edge_to, g.root_nodes)
    assert np.array_equal(got, expected)
    assert np.array_equal(g.must_close, expected)
    assert expected.any() and not expected.all(), "seed must give bridges and loop edges"


def test_parallel_edges_and_two_supplies_are_no_bridges() -> None:
    # 0 and 3 are supplies; 0-1 doubled, 1-2, 2-3: every edge is on a cycle through the supplies
    got = bridge_edges(4, np.array([0, 0, 1, 2]), np.array([1, 1, 2, 3]), np.array([0, 3]))
    assert not got.any()
    got = bridge_edges(4, np.array([0, 0, 1, 2]), np.array([1, 1, 2, 3]), np.array([0]))
    assert got.tolist() == [False, False, True, True]


@pytest.mark.parametrize("seed", SEEDS)
def test_chains_open_at_most_once_in_every_radial_configuration(seed: int) -> None:
    g = _graph(random_meshed_net(seed, n_bus=7, n_extra=3))
    chains = series_chains(g.n_node, g.edge_from, g.edge_to, g.root_nodes, g.must_close)
    used = [e for c in chains for e in c]
    assert len(used) == len(set(used)), "chains are disjoint"
    assert not g.must_close[used].any()
    trees = _spanning_trees(g)
    assert trees
    for closed in trees:
        assert closed[g.must_close].all()
        for chain in chains:
            assert int((~closed[list(chain)]).sum()) <= 1
    # maximal: an edge outside every chain has no interior (degree-2, non-supply) end
    # shared with another non-bridge edge
    degree = np.bincount(np.concatenate([g.edge_from, g.edge_to]), minlength=g.n_node)
    roots = set(int(r) for r in g.root_nodes)
    for e in set(range(g.n_edge)) - set(used) - set(np.flatnonzero(g.must_close).tolist()):
        for n in (int(g.edge_from[e]), int(g.edge_to[e])):
            if degree[n] == 2 and n not in roots:
                other = [f for f in range(g.n_edge) if f != e and n in (g.edge_from[f],
                                                                        g.edge_to[f])]
                assert all(g.must_close[f] for f in other)


def test_chains_found_on_a_ring() -> None:
    # supply 0; ring 0-1-2-3-4-0 with a tie 2-4: chains 0-1-2 and 2-3-4 (4-0 alone)
    chains = series_chains(5, np.array([0, 1, 2, 3, 4, 2]), np.array([1, 2, 3, 4, 0, 4]),
                           np.array([0]), np.zeros(6, dtype=bool))
    assert sorted(sorted(c) for c in chains) == [[0, 1], [2, 3]]


@pytest.mark.parametrize("seed", [1, 13])
def test_same_optimum_with_and_without_reduction(seed: int) -> None:
    """Feeders with bridges and series chains: the exhaustive AC optimum either way, and the
    same MILP optimum (both proven within the MIP gap)."""
    net = random_meshed_net(seed, n_bus=7, n_extra=2)
    graph = _graph(net)
    chains = series_chains(graph.n_node, graph.edge_from, graph.edge_to, graph.root_nodes,
                           graph.must_close)
    assert graph.must_close.any() and any(len(c) >= 3 for c in chains), "seed must reduce"
    best_mw, best_open = exhaustive_optimum(net)
    milps = []
    for reduce in (True, False):
        options = MilpOptions(fix_bridges=reduce, chain_cuts=reduce)
        res = reconfigure(net, options=ReconfigureOptions(milp=options))
        assert set(res.open_lines) == best_open
        assert res.after.losses_mwh == pytest.approx(best_mw, rel=1e-7)
        assert res.milp is not None and res.milp.mip_gap is not None
        assert res.milp.mip_gap <= options.mip_rel_gap
        milps.append(res.milp)
    assert milps[0].losses_mwh == pytest.approx(milps[1].losses_mwh, rel=2e-4)
