"""The one network model against pandapower's own power flow, and its views against each other.

Every active branch of the model, evaluated with the MATPOWER pi model at pandapower's power-flow
voltages, must carry the power pandapower reports for that element (lines, transformers with
taps and phase shifts, parallel lines, three-winding transformers, impedances), on nets with
open and closed line and bus-bus switches and out-of-service elements.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
import simbench as sb

from gridopt.errors import InputError
from gridopt.network.load import load_network
from gridopt.network.model import BranchKind, NetworkModel, SwitchKind
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.network.topology import Configuration, resolve
from gridopt.opf.dispatch.grid import grid_from_model
from gridopt.opf.switching.topology import SwitchableSpec, build_switching_graph


def shifter_net() -> pp.pandapowerNet:
    """Parallel lines, a phase-shifting transformer with an off-nominal tap, an out-of-service
    line, a closed and an open bus-bus switch, an open line switch."""
    net = pp.create_empty_network(sn_mva=50.0)
    hv = pp.create_bus(net, 110.0)
    mv = [pp.create_bus(net, 20.0) for _ in range(5)]
    pp.create_ext_grid(net, hv, vm_pu=1.02)
    pp.create_transformer_from_parameters(
        net, hv, mv[0], sn_mva=40.0, vn_hv_kv=110.0, vn_lv_kv=20.0, vkr_percent=0.4,
        vk_percent=12.0, pfe_kw=30.0, i0_percent=0.08, shift_degree=30.0, tap_side="hv",
        tap_neutral=0, tap_min=-9, tap_max=9, tap_step_percent=1.5, tap_pos=3)
    pp.create_line_from_parameters(net, mv[0], mv[1], 4.0, 0.12, 0.35, 260.0, 0.4, parallel=2)
    pp.create_line_from_parameters(net, mv[1], mv[2], 3.0, 0.2, 0.39, 250.0, 0.3)
    pp.create_line_from_parameters(net, mv[0], mv[2], 5.0, 0.2, 0.39, 250.0, 0.3,
                                   in_service=False)
    switched = pp.create_line_from_parameters(net, mv[2], mv[4], 2.0, 0.2, 0.39, 250.0, 0.3)
    pp.create_switch(net, mv[4], switched, et="l", closed=False)
    pp.create_switch(net, mv[2], mv[3], et="b", closed=True)
    pp.create_switch(net, mv[1], mv[4], et="b", closed=False)
    for bus, p in ((mv[1], 3.0), (mv[2], 4.0), (mv[3], 2.0), (mv[4], 1.0)):
        pp.create_load(net, bus, p_mw=p, q_mvar=p / 3)
    pp.create_sgen(net, mv[3], p_mw=1.5, q_mvar=0.2)
    return net


NETS = {
    "shifter": shifter_net,
    "case33bw": pn.case33bw,
    "case30": pn.case30,
    "mv_oberrhein": pn.mv_oberrhein,
    "example_multivoltage": pn.example_multivoltage,
    "simbench_mv": lambda: sb.get_simbench_net("1-MV-rural--0-sw"),
    "simbench_lv": lambda: sb.get_simbench_net("1-LV-semiurb4--0-sw"),
}


def _branch_powers(model: NetworkModel, v: np.ndarray, k: int) -> tuple[complex, complex]:
    """Complex power (MVA) into branch ``k`` at its from and to ends for bus voltages ``v``."""
    br = model.branches
    ys = 1.0 / complex(br.r_pu[k], br.x_pu[k])
    yc = complex(br.g_pu[k], br.b_pu[k]) / 2.0
    tap = br.tap_ratio[k] * np.exp(1j * br.shift_rad[k])
    vf, vt = v[br.from_bus[k]], v[br.to_bus[k]]
    i_f = (ys + yc) / abs(tap) ** 2 * vf - ys / np.conj(tap) * vt
    i_t = -ys / tap * vf + (ys + yc) * vt
    return vf * np.conj(i_f) * model.base_mva, vt * np.conj(i_t) * model.base_mva


def _solved_voltages(net: pp.pandapowerNet, model: NetworkModel) -> np.ndarray:
    v = np.full(len(model.buses), np.nan, dtype=complex)
    res = net.res_bus
    for row, (table, index) in enumerate(model.buses.ref):
        if table == "bus":
            vm, va = res.at[index, "vm_pu"], res.at[index, "va_degree"]
        elif table == "trafo3w":
            vm = net.res_trafo3w.at[index, "vm_internal_pu"]
            va = net.res_trafo3w.at[index, "va_internal_degree"]
        else:
            continue
        v[row] = vm * np.exp(1j * np.deg2rad(va))
    return v


def _reported(net: pp.pandapowerNet, model: NetworkModel, k: int) -> tuple[complex, complex]:
    table, index = model.branches.ref[k]
    side = model.branches.side[k]
    if table in ("line", "impedance"):
        r = net[f"res_{table}"].loc[index]
        return complex(r.p_from_mw, r.q_from_mvar), complex(r.p_to_mw, r.q_to_mvar)
    if table == "trafo":
        r = net.res_trafo.loc[index]
        return complex(r.p_hv_mw, r.q_hv_mvar), complex(r.p_lv_mw, r.q_lv_mvar)
    r = net.res_trafo3w.loc[index]
    terminal = complex(r[f"p_{side}_mw"], r[f"q_{side}_mvar"])
    return (terminal, complex(np.nan, np.nan)) if side == "hv" else (
        complex(np.nan, np.nan), terminal)


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_active_branch_carries_what_pandapower_reports(name: str) -> None:
    net = NETS[name]()
    model = model_from_pandapower(net, name)
    work = copy.deepcopy(net)
    pp.runpp(work, calculate_voltage_angles=True, tolerance_mva=1e-10, trafo_model="t",
             numba=False)
    v = _solved_voltages(work, model)
    topo = resolve(model)
    checked = 0
    for k in np.flatnonzero(topo.active_branch):
        if model.branches.kind[k] is BranchKind.XWARD:
            continue
        ours = _branch_powers(model, v, int(k))
        theirs = _reported(work, model, int(k))
        for a, b in zip(ours, theirs, strict=True):
            if np.isnan(b.real):
                continue
            assert abs(a - b) < 1e-6 * max(1.0, abs(b)), (model.branches.label(int(k)), a, b)
            checked += 1
    assert checked >= len(net.line[net.line.in_service]) // 2


def test_switches_are_resolved_once_for_every_view() -> None:
    model = model_from_pandapower(shifter_net(), "shifter")
    topo = resolve(model)
    sw = model.switches
    closed_bus = [k for k in range(len(sw)) if sw.kind[k] is SwitchKind.BUS and sw.closed[k]]
    for k in closed_bus:  # fused
        assert topo.node_of_bus[sw.bus[k]] == topo.node_of_bus[sw.other_bus[k]]
    line_switch = next(k for k in range(len(sw)) if sw.kind[k] is SwitchKind.LINE)
    assert not topo.active_branch[sw.branch[line_switch]]  # held open by its switch
    oos = next(k for k in range(len(model.branches)) if not model.branches.in_service[k])
    assert not topo.active_branch[oos]
    # The bus behind the open line switch and the open coupler is cut off with its load: the
    # dispatch refuses instead of planning without it; closing the coupler reconnects it.
    with pytest.raises(InputError, match="islands"):
        grid_from_model(model)
    coupler = next(k for k in range(len(sw)) if sw.kind[k] is SwitchKind.BUS and not sw.closed[k])
    closed = np.array(sw.closed, dtype=bool)
    closed[coupler] = True
    grid = grid_from_model(model, Configuration(closed, np.array(model.branches.in_service)))
    assert grid.n_bus == topo.n_node - 1  # the coupler fuses the cut-off bus with another
    assert len(grid.bus_members[grid.bus_position(4, "test")]) == 2


def test_dispatch_and_switching_views_agree_on_a_radial_configuration() -> None:
    """On a net whose ties are open switches, the switching graph's closed edges are exactly
    the dispatch grid's branches, with the same impedances, taps and ratings."""
    for spec in ("simbench:1-MV-rural--0-sw", "case33bw"):
        model = load_network(spec).model
        grid = grid_from_model(model)
        graph = build_switching_graph(model, SwitchableSpec())
        closed = np.flatnonzero(graph.closed0)
        ours = sorted(zip((graph.edge_ref[e] for e in closed), graph.r_pu[closed],
                          graph.x_pu[closed], graph.tap_ratio[closed], graph.smax_mva[closed],
                          strict=True))
        theirs = sorted(zip(grid.branch_ref, grid.r_pu, grid.x_pu, grid.tap_ratio,
                            grid.rate_mva, strict=True))
        switch_edges = [o for o in ours if o[0][0] == "switch"]
        assert [o for o in ours if o[0][0] != "switch"] == theirs
        assert all(o[1] == 0.0 for o in switch_edges)
        assert graph.n_node == grid.n_bus + sum(1 for _ in switch_edges)


def test_configuration_changes_only_what_it_says() -> None:
    model = load_network("case33bw").model
    base = Configuration.of(model)
    tie = int(np.flatnonzero(~model.branches.in_service)[0])
    changed = Configuration(base.switch_closed,
                            np.where(np.arange(len(model.branches)) == tie, True,
                                     base.branch_in_service))
    switches, branches = changed.differences(base)
    assert switches.size == 0 and branches.tolist() == [tie]
    assert resolve(model, changed).active_branch.sum() == resolve(model).active_branch.sum() + 1
