"""A part of a pandapower net that no supply reaches is named, never dropped silently."""

from __future__ import annotations

import pandapower as pp
import pytest

from gridopt.errors import GridoptWarning
from gridopt.network.load import load_network


def _net(isolated_load_mw: float) -> pp.pandapowerNet:
    net = pp.create_empty_network()
    buses = [pp.create_bus(net, 20.0, min_vm_pu=0.9, max_vm_pu=1.1) for _ in range(4)]
    pp.create_ext_grid(net, buses[0])
    pp.create_line(net, buses[0], buses[1], 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_line(net, buses[2], buses[3], 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")  # no supply
    pp.create_load(net, buses[1], 1.0)
    pp.create_load(net, buses[3], isolated_load_mw)
    pp.create_poly_cost(net, 0, "ext_grid", cp1_eur_per_mw=1.0)
    return net


def test_load_on_an_unsupplied_part_is_a_warning_naming_it() -> None:
    with pytest.warns(GridoptWarning, match=r"1 bus\(es\).*0\.5 MW of load.*buses 3"):
        loaded = load_network(_net(0.5))
    assert loaded.network.case.n_bus == 2  # the part is left out, and said so


def test_an_empty_unsupplied_part_is_not_worth_a_warning() -> None:
    loaded = load_network(_net(0.0))  # GridoptWarning is an error in the suite
    assert loaded.network.case.n_bus == 2
