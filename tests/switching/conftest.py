"""Fixtures and independent references for the reconfiguration tests."""

from __future__ import annotations

import copy
import itertools

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pytest


def random_meshed_net(seed: int, n_bus: int = 6, n_extra: int = 2) -> pp.pandapowerNet:
    """A random 12.66 kV network: a random spanning tree plus ``n_extra`` tie lines (open)."""
    rng = np.random.default_rng(seed)
    net = pp.create_empty_network(name=f"random{seed}", sn_mva=10.0)
    for _ in range(n_bus):
        pp.create_bus(net, vn_kv=12.66, min_vm_pu=0.9, max_vm_pu=1.1)
    pp.create_ext_grid(net, 0, vm_pu=1.0)
    edges: set[tuple[int, int]] = set()
    for b in range(1, n_bus):
        a = int(rng.integers(0, b))
        edges.add((a, b))
    ties: list[tuple[int, int]] = []
    while len(ties) < n_extra:
        a, b = sorted(int(v) for v in rng.choice(n_bus, 2, replace=False))
        if (a, b) not in edges and (b, a) not in edges:
            edges.add((a, b))
            ties.append((a, b))
    for a, b in sorted(edges):
        pp.create_line_from_parameters(
            net, a, b, length_km=float(rng.uniform(0.5, 2.0)),
            r_ohm_per_km=float(rng.uniform(0.2, 1.0)), x_ohm_per_km=float(rng.uniform(0.1, 0.6)),
            c_nf_per_km=0.0, max_i_ka=99999.0, in_service=(a, b) not in ties,
        )
    for b in range(1, n_bus):
        pp.create_load(net, b, p_mw=float(rng.uniform(0.05, 0.4)),
                       q_mvar=float(rng.uniform(0.02, 0.2)))
    return net


def exhaustive_optimum(net: pp.pandapowerNet) -> tuple[float, frozenset[int]]:
    """Lowest AC losses (MW) over every spanning tree of the lines, by ``pandapower.runpp``.

    Independent of gridopt: enumerates line subsets of size ``n_bus - 1``, keeps those that
    are spanning trees (networkx) and runs pandapower's power flow on each.
    """
    lines = list(net.line.index)
    n_bus = len(net.bus)
    best = (np.inf, frozenset())
    for subset in itertools.combinations(lines, n_bus - 1):
        g = nx.Graph()
        g.add_nodes_from(net.bus.index)
        g.add_edges_from((int(net.line.at[i, "from_bus"]), int(net.line.at[i, "to_bus"]))
                         for i in subset)
        if g.number_of_edges() != n_bus - 1 or not nx.is_tree(g):
            continue
        trial = copy.deepcopy(net)
        trial.line["in_service"] = trial.line.index.isin(subset)
        pp.runpp(trial, numba=False)
        loss = float(trial.res_line["pl_mw"].sum())
        if loss < best[0]:
            best = (loss, frozenset(int(i) for i in set(lines) - set(subset)))
    return best


def assert_radial_and_connected(net: pp.pandapowerNet) -> None:
    """Independent check with pandapower's topology graph: every in-service bus with an element
    is connected to an ext_grid, and each connected component is a tree with one supply."""
    g = top.create_nxgraph(net, respect_switches=True, include_out_of_service=False,
                           multi=True, calc_branch_impedances=False)
    supplies = set(int(b) for b in net.ext_grid.loc[net.ext_grid.in_service, "bus"])
    loaded = set(int(b) for b in net.load.loc[net.load.in_service, "bus"])
    for comp in nx.connected_components(g):
        sub = g.subgraph(comp)
        has_supply = bool(comp & supplies)
        if comp & loaded:
            assert has_supply, f"buses {sorted(comp)[:10]} carry load but have no supply"
        if has_supply:
            simple = nx.Graph(sub)
            assert sub.number_of_edges() == simple.number_of_edges(), "parallel closed branches"
            assert nx.is_tree(simple), f"component of bus {min(comp)} has a loop"
            assert len(comp & supplies) == 1


@pytest.fixture
def small_net() -> pp.pandapowerNet:
    return random_meshed_net(3)
