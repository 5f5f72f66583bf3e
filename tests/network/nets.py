"""Small pandapower nets that exercise the converter: taps, phase shifts, switches, aux buses."""

from __future__ import annotations

import pandapower as pp
import pandapower.networks as pn
from pandapower.auxiliary import pandapowerNet


def tap_shift_net() -> pandapowerNet:
    """110/20 kV net with tapped, phase-shifting and lossy (magnetising) transformers.

    Holds an ext_grid, a PV generator, a controllable static generator, a fixed static
    generator, loads and a shunt; every OPF column is set.
    """
    net = pp.create_empty_network(sn_mva=10.0)
    hv = pp.create_bus(net, 110.0, min_vm_pu=0.95, max_vm_pu=1.05)
    mv1 = pp.create_bus(net, 20.0, min_vm_pu=0.9, max_vm_pu=1.1)
    mv2 = pp.create_bus(net, 20.0, min_vm_pu=0.9, max_vm_pu=1.1)
    mv3 = pp.create_bus(net, 20.0, min_vm_pu=0.9, max_vm_pu=1.1)
    pp.create_ext_grid(net, hv, vm_pu=1.02, va_degree=0.0, min_p_mw=-100, max_p_mw=100,
                       min_q_mvar=-100, max_q_mvar=100)
    pp.create_transformer_from_parameters(
        net, hv, mv1, sn_mva=25.0, vn_hv_kv=110.0, vn_lv_kv=20.0, vkr_percent=0.4,
        vk_percent=12.0, pfe_kw=14.0, i0_percent=0.07, shift_degree=150.0, tap_side="hv",
        tap_neutral=0, tap_min=-9, tap_max=9, tap_step_percent=1.5, tap_pos=3,
        tap_changer_type="Ratio", max_loading_percent=100.0,
    )
    pp.create_transformer_from_parameters(
        net, hv, mv2, sn_mva=16.0, vn_hv_kv=110.0, vn_lv_kv=20.5, vkr_percent=0.5,
        vk_percent=10.0, pfe_kw=20.0, i0_percent=0.1, shift_degree=150.0, tap_side="lv",
        tap_neutral=0, tap_min=-5, tap_max=5, tap_step_percent=2.0, tap_pos=-2,
        tap_changer_type="Ratio", max_loading_percent=100.0,
    )
    pp.create_transformer_from_parameters(
        net, hv, mv3, sn_mva=16.0, vn_hv_kv=110.0, vn_lv_kv=20.0, vkr_percent=0.5,
        vk_percent=10.0, pfe_kw=0.0, i0_percent=0.0, shift_degree=150.0, tap_side="hv",
        tap_neutral=0, tap_min=-5, tap_max=5, tap_step_percent=float("nan"), tap_step_degree=0.25,
        tap_pos=2, tap_changer_type="Ideal", max_loading_percent=100.0,
    )
    for a, b, km in ((mv1, mv2, 3.0), (mv2, mv3, 2.0), (mv1, mv3, 4.0)):
        pp.create_line_from_parameters(net, a, b, length_km=km, r_ohm_per_km=0.16,
                                       x_ohm_per_km=0.12, c_nf_per_km=280.0, max_i_ka=0.4,
                                       g_us_per_km=0.0, max_loading_percent=100.0)
    pp.create_load(net, mv1, p_mw=6.0, q_mvar=2.0)
    pp.create_load(net, mv2, p_mw=4.0, q_mvar=1.5)
    pp.create_load(net, mv3, p_mw=5.0, q_mvar=1.0)
    pp.create_shunt(net, mv3, q_mvar=-1.2, p_mw=0.01)
    pp.create_gen(net, mv2, p_mw=3.0, vm_pu=1.01, min_p_mw=0.0, max_p_mw=8.0,
                  min_q_mvar=-4.0, max_q_mvar=4.0, controllable=True)
    pp.create_sgen(net, mv3, p_mw=2.0, q_mvar=0.0, min_p_mw=0.0, max_p_mw=4.0,
                   min_q_mvar=-1.0, max_q_mvar=1.0, controllable=True)
    pp.create_sgen(net, mv1, p_mw=1.0, q_mvar=0.2)  # fixed output: part of the demand
    pp.create_poly_cost(net, 0, "ext_grid", cp1_eur_per_mw=50.0)
    pp.create_poly_cost(net, 0, "gen", cp1_eur_per_mw=20.0, cp2_eur_per_mw2=0.5)
    pp.create_poly_cost(net, 0, "sgen", cp1_eur_per_mw=5.0)
    return net


def switch_net() -> pandapowerNet:
    """pandapower's example_multivoltage with OPF limits.

    Closed bus-bus switches fuse buses, open line switches add auxiliary buses, and it has a
    three-winding transformer, an impedance and extended wards (auxiliary buses too).
    """
    net = pn.example_multivoltage()
    for table in ("gen", "sgen", "ext_grid"):
        net[table]["min_p_mw"] = -200.0
        net[table]["max_p_mw"] = 200.0
        net[table]["min_q_mvar"] = -200.0
        net[table]["max_q_mvar"] = 200.0
    net.bus["min_vm_pu"] = 0.9
    net.bus["max_vm_pu"] = 1.1
    return net
