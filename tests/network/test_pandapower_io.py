"""case_from_pandapower: pandapower's equations, element maps, limits, costs and errors."""

from __future__ import annotations

import contextlib

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridopt.errors import GridoptWarning, InputError
from gridopt.network.arrays import build_network
from gridopt.network.case import REF
from gridopt.network.pandapower_io import case_from_pandapower
from tests.network.conftest import pandapower_ybus
from tests.network.nets import switch_net, tap_shift_net

NETS = {
    "case118": pn.case118,
    "case33bw": pn.case33bw,
    "case1354pegase": pn.case1354pegase,
    "tap_shift": tap_shift_net,
    "switches": switch_net,
    "mv_oberrhein": pn.mv_oberrhein,
}


@pytest.mark.parametrize("name", list(NETS))
def test_ybus_equals_pandapower(name: str) -> None:
    net = NETS[name]()
    no_limits = "min_vm_pu" not in net.bus or bool(net.bus.min_vm_pu.isna().any())
    with (pytest.warns(GridoptWarning, match="no voltage limits") if no_limits  # mv_oberrhein
          else contextlib.nullcontext()):
        case, emap = case_from_pandapower(net, name)
    network = build_network(case)
    y_pp = pandapower_ybus(net, case, emap, network.bus_case_index)
    diff = abs(network.ybus() - y_pp).max()
    assert diff < 1e-9, f"{name}: |Y_gridopt - Y_pandapower| = {diff}"


def test_caller_net_is_not_mutated() -> None:
    net = tap_shift_net()
    before = pp.to_json(net)
    case_from_pandapower(net, "tap_shift")
    assert pp.to_json(net) == before
    assert "_ppc" not in net or net["_ppc"] is None


def test_slack_voltage_is_free_within_bus_limits() -> None:
    net = tap_shift_net()
    case, _ = case_from_pandapower(net, "tap_shift")
    ref = int(np.flatnonzero(case.bus_type == REF)[0])
    # ext_grid vm_pu = 1.02 would pin the bus; the bus table allows 0.95..1.05.
    assert case.vmin_pu[ref] == pytest.approx(0.95)
    assert case.vmax_pu[ref] == pytest.approx(1.05)


def test_costs_demand_and_magnetising_branch() -> None:
    net = tap_shift_net()
    case, emap = case_from_pandapower(net, "tap_shift")
    costs = {emap.gen[g]: (case.cost_c2[g], case.cost_c1[g]) for g in range(case.n_gen)}
    assert costs == {("ext_grid", 0): (0.0, 50.0), ("gen", 0): (0.5, 20.0), ("sgen", 0): (0.0, 5.0)}
    pos = emap.bus_position()
    # The fixed sgen at bus 1 (1 MW) is negative demand; the controllable one is a generator.
    assert case.pd_mw[pos[1]] == pytest.approx(6.0 - 1.0)
    assert case.pd_mw[pos[3]] == pytest.approx(5.0)
    trafos = [b for b, (t, _) in enumerate(emap.branch) if t == "trafo"]
    # Transformers 0 and 1 have iron losses (pfe_kw > 0): a magnetising conductance.
    assert np.all(case.g_pu[trafos[:2]] > 0)
    assert case.g_pu[trafos[2]] == 0
    assert case.shift_degree[trafos[2]] == pytest.approx(150.0 + 2 * 0.25)  # ideal phase shifter
    assert case.gen_label == tuple(f"{t} {i}" for t, i in emap.gen)


def test_element_map_of_fused_and_auxiliary_buses() -> None:
    net = switch_net()
    case, emap = case_from_pandapower(net, "switches")
    # Closed bus-bus switches fuse pandapower buses: one case bus, several members.
    fused = [m for m in emap.bus if len(m) > 1]
    assert fused and all(t == "bus" for m in fused for t, _ in m)
    covered = sorted(i for m in emap.bus for t, i in m if t == "bus")
    assert covered == sorted(int(i) for i in net.bus.index)
    tables = {m[0][0] for m in emap.bus}
    assert {"bus", "trafo3w", "xward", "line"} <= tables
    assert any(label.endswith("star point") for label in case.bus_label)
    sides = [s for (t, _), s in zip(emap.branch, emap.branch_side, strict=True) if t == "trafo3w"]
    assert sorted(sides) == ["hv", "lv", "mv"]
    for label, ref in zip(case.branch_label, emap.branch, strict=True):
        assert label.startswith(f"{ref[0]} {ref[1]}")
    # Every in-service line is a branch, once.
    lines = sorted(i for t, i in emap.branch if t == "line")
    assert lines == sorted(int(i) for i in net.line.index[net.line.in_service])


def test_no_reference_bus_is_an_input_error() -> None:
    net = tap_shift_net()
    net.ext_grid.loc[:, "in_service"] = False
    with pytest.raises(InputError, match="no reference bus"):
        case_from_pandapower(net, "no_ref")


def test_asymmetric_impedance_is_an_input_error() -> None:
    net = tap_shift_net()
    pp.create_impedance(net, 1, 2, rft_pu=0.01, xft_pu=0.05, rtf_pu=0.02, xtf_pu=0.05,
                        sn_mva=10.0)
    with pytest.raises(InputError, match="asymmetric"):
        case_from_pandapower(net, "asym")


def test_piecewise_linear_cost_is_an_input_error() -> None:
    net = tap_shift_net()
    net.poly_cost = net.poly_cost.iloc[:0]
    pp.create_pwl_cost(net, 0, "gen", [[0, 4, 10.0], [4, 8, 20.0]])
    with pytest.raises(InputError, match="piecewise-linear"):
        case_from_pandapower(net, "pwl")


def test_controllable_gen_without_limits_is_an_input_error() -> None:
    net = tap_shift_net()
    net.gen = net.gen.drop(columns=["min_p_mw", "max_p_mw"])
    with pytest.raises(InputError, match=r"gen 0 is controllable.*min_p_mw"):
        case_from_pandapower(net, "no_limits")


def test_dc_line_is_an_input_error() -> None:
    net = tap_shift_net()
    pp.create_dcline(net, 1, 3, p_mw=1.0, loss_percent=1.0, loss_mw=0.1, vm_from_pu=1.0,
                     vm_to_pu=1.0)
    with pytest.raises(InputError, match="dcline 0"):
        case_from_pandapower(net, "dcline")
