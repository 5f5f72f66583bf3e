"""Switchable graph, bus-bus switches, bad input (InputError, exit code 2)."""

from __future__ import annotations

import pandapower as pp
import pytest

from gridopt.errors import InputError
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.opf.switching import (
    ReconfigureOptions,
    SwitchableSpec,
    build_switching_graph,
)
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import assert_radial_and_connected, random_meshed_net


def bus_switch_net() -> pp.pandapowerNet:
    """Two feeders from one substation busbar split by a bus coupler, with line switches and a
    bus-bus tie between feeder ends; all switches closed: meshed as given."""
    net = pp.create_empty_network(name="busswitch", sn_mva=10.0)
    b = [pp.create_bus(net, vn_kv=12.66, min_vm_pu=0.9, max_vm_pu=1.1) for _ in range(9)]
    pp.create_ext_grid(net, b[0])
    # coupler 0-1 (switchable), feeder A 0-2-3-4, feeder B 1-5-6-7, tie bus 8
    pp.create_switch(net, b[0], b[1], et="b", closed=True)
    spec = [(0, 2, 1.0), (2, 3, 0.8), (3, 4, 1.2), (1, 5, 0.6), (5, 6, 1.1), (6, 7, 0.9),
            (4, 8, 0.5)]
    for a, c, length in spec:
        line = pp.create_line_from_parameters(net, b[a], b[c], length, 0.4, 0.3, 0.0, 0.4)
        pp.create_switch(net, b[a], line, et="l", closed=True)
    pp.create_switch(net, b[8], b[7], et="b", closed=True)  # tie between feeder ends
    for bus, p in ((2, 0.3), (3, 0.5), (4, 0.4), (5, 0.2), (6, 0.6), (7, 0.5), (8, 0.1)):
        pp.create_load(net, b[bus], p_mw=p, q_mvar=p / 2)
    return net


def test_bus_bus_switches_give_radial_result() -> None:
    net = bus_switch_net()
    graph = build_switching_graph(model_from_pandapower(net, 'busswitch'))
    assert sum(k.value == "switch" for k in graph.edge_kind) == 2
    res = reconfigure(net)
    assert res.radial
    assert res.open_switches, "the meshed start must be opened somewhere"
    assert_radial_and_connected(res.net)
    assert res.losses_kw_after > 0


def test_island_without_supply_is_input_error() -> None:
    net = random_meshed_net(3)
    island = pp.create_bus(net, vn_kv=12.66)
    pp.create_load(net, island, p_mw=0.1)
    with pytest.raises(InputError, match="island without supply"):
        reconfigure(net)


def test_fixed_loop_cannot_be_made_radial() -> None:
    net = random_meshed_net(3)
    net.line["in_service"] = True  # ties closed, and no line may switch
    options = ReconfigureOptions(switchable=SwitchableSpec(lines=()))
    with pytest.raises(InputError, match="cannot be made radial"):
        reconfigure(net, options=options)


def test_unknown_switchable_index() -> None:
    with pytest.raises(InputError, match=r"not in net\.line"):
        build_switching_graph(model_from_pandapower(random_meshed_net(3), 'mesh'),
                              SwitchableSpec(lines=(999,)))


def test_only_named_lines_switch() -> None:
    net = random_meshed_net(3)
    ties = tuple(int(i) for i in net.line.index[~net.line.in_service])
    graph = build_switching_graph(model_from_pandapower(net, 'mesh'), SwitchableSpec(lines=ties))
    assert sorted(int(e) for e in graph.edge_element[graph.switchable]) == sorted(ties)
    # with only the ties switchable, closing one would close a fixed loop: they stay open
    res = reconfigure(net, options=ReconfigureOptions(switchable=SwitchableSpec(lines=ties)))
    assert res.radial
    assert res.open_lines == tuple(sorted(ties))
