"""MATPOWER/PGLib cases -> pandapower nets with exactly the case's equations.

:func:`pandapower_from_case` builds a pandapower net with exactly the MATPOWER equations of a
case read from a ``.m`` file, avoiding the traps of ``pandapower.converter.from_mpc``
(transformer tap on the wrong side, slack voltage fixed, current instead of |S| limits). It
returns an :class:`ElementMap` naming, for every bus, generator and branch of the case, the
pandapower element it became.
"""

from __future__ import annotations

import logging

import numpy as np
import pandapower as pp
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import InputError
from gridopt.network.case import ISOLATED, REF, CaseData
from gridopt.network.model import ElementMap, ElementRef

logger = logging.getLogger(__name__)


#: Nominal frequency of nets built from MATPOWER cases (it only converts charging to nF).
_F_HZ = 50.0
#: Stand-in rating for branches without one (rate_a = 0); pandapower needs a finite value.
_NO_RATING_KA = 1.0e6


def _reference_gen(case: CaseData) -> int:
    """Case position of the generator that becomes pandapower's ext_grid.

    The in-service generator with the largest ``pmax`` at the reference bus; when the reference
    bus has none (PGLib case500_goc), the one :func:`gridopt.network.arrays.build_network`
    moves the reference to (largest in-service generator anywhere).
    """
    on = case.gen_in_service & (case.bus_type[case.gen_bus] != ISOLATED)
    ref_buses = np.flatnonzero(case.bus_type == REF)
    if len(ref_buses) == 0:
        raise InputError(
            f"case {case.name!r} has no reference bus (bus type 3); mark the bus of the slack "
            "generator as the reference"
        )
    if not on.any():
        raise InputError(f"case {case.name!r} has no in-service generator")
    at_ref = np.flatnonzero(on & (case.gen_bus == ref_buses[0]))
    candidates = at_ref if len(at_ref) else np.flatnonzero(on)
    return int(candidates[np.argmax(case.pmax_mw[candidates])])


def pandapower_from_case(case: CaseData) -> tuple[pandapowerNet, ElementMap]:
    """Build a pandapower net with exactly the MATPOWER equations of a case.

    Construction (per-unit on ``base_mva``, buses at ``base_kv``):

    * bus ``i`` is pandapower bus ``i`` with the case's voltage limits; isolated buses (type 4)
      are out of service; demand becomes one load per bus, ``gs``/``bs`` one shunt per bus;
    * a branch with tap 0 or 1 and no phase shift is a 1 km ``line`` whose ohmic values use the
      "from" bus voltage (pandapower's per-unit base for lines), with the same ``r``, ``x`` and
      total charging ``b`` (and ``g``);
    * every other branch is a two-winding ``trafo`` whose ``hv_bus`` is the MATPOWER "from" bus,
      *whatever its voltage*, so the off-nominal tap and the phase shift sit on the "from" side as
      in MATPOWER (``from_mpc`` puts them on the higher-voltage side: pandapower issue 2409, the
      133 MVA mismatches of case24). Its rated voltages equal the bus voltages and ``sn_mva`` is
      ``base_mva``, so ``vk``/``vkr`` carry ``|z|`` and ``r`` directly. MATPOWER's transformer
      charging ``(g + jb)/2`` at each end (inside the tap on the "from" side) is written as two
      bus shunts, ``(g + jb) / (2 tau^2)`` at the "from" bus and ``(g + jb)/2`` at the "to" bus,
      which gives the same admittance matrix (``Y_ff = (y_s + y_c)/tau^2``);
    * the generator chosen by :func:`_reference_gen` is the ``ext_grid`` (controllable, so its
      voltage is free within the bus limits); all other generators are ``gen`` elements (out of
      service ones kept with ``in_service=False``), all with their limits and ``poly_cost``.

    Branch ratings are written as ``max_i_ka = rate / (sqrt(3) * vn_from)`` on lines and
    ``max_loading_percent = 100 rate / sn`` on transformers; pandapower's OPF therefore limits
    the from-side current, not MATPOWER's |S| at both ends (keep the limits in the case, not in
    this net). Angle-difference limits stay in the case only.

    Parameters
    ----------
    case
        A case (typically read with :func:`gridopt.network.matpower.read_matpower`).

    Returns
    -------
    tuple[pandapowerNet, ElementMap]
        The net and the map from case positions to its elements (``("bus", i)``,
        ``("ext_grid", 0)``, ``("gen", k)``, ``("line", k)``, ``("trafo", k)``).

    Notes
    -----
    Long because it creates the pandapower elements table by table, in the order the element map
    records them.
    """
    base = case.base_mva
    net = pp.create_empty_network(name=case.name, f_hz=_F_HZ, sn_mva=base)
    vn_kv = np.where(case.base_kv > 0, case.base_kv, 1.0).astype(float)
    pp.create_buses(
        net, case.n_bus, vn_kv=vn_kv, index=np.arange(case.n_bus), name=list(case.bus_label),
        in_service=case.bus_type != ISOLATED,
        min_vm_pu=case.vmin_pu.astype(float), max_vm_pu=case.vmax_pu.astype(float),
    )
    demand = np.flatnonzero((case.pd_mw != 0) | (case.qd_mvar != 0))
    if len(demand):
        pp.create_loads(net, demand, p_mw=case.pd_mw[demand].astype(float),
                        q_mvar=case.qd_mvar[demand].astype(float),
                        name=[f"demand at {case.bus_label[i]}" for i in demand])

    tap = np.where(case.tap_ratio == 0, 1.0, case.tap_ratio).astype(float)
    is_line = (tap == 1.0) & (case.shift_degree == 0)
    rate = case.rate_a_mva.astype(float)
    f_bus, t_bus = case.branch_from, case.branch_to
    labels = np.asarray(case.branch_label, dtype=object)
    branch_refs: list[ElementRef] = [("", -1)] * case.n_branch

    lines = np.flatnonzero(is_line)
    if len(lines):
        vf = vn_kv[f_bus[lines]]
        z_base = vf**2 / base
        idx = pp.create_lines_from_parameters(
            net, from_buses=f_bus[lines], to_buses=t_bus[lines], length_km=1.0,
            r_ohm_per_km=case.r_pu[lines] * z_base, x_ohm_per_km=case.x_pu[lines] * z_base,
            c_nf_per_km=case.b_pu[lines] / z_base / (2 * np.pi * _F_HZ) * 1e9,
            g_us_per_km=case.g_pu[lines] / z_base * 1e6,
            max_i_ka=np.where(rate[lines] > 0, rate[lines] / (np.sqrt(3) * vf), _NO_RATING_KA),
            name=list(labels[lines]), in_service=case.branch_in_service[lines],
        )
        for k, i in zip(lines, idx, strict=True):
            branch_refs[k] = ("line", int(i))

    trafos = np.flatnonzero(~is_line)
    shunt_g = case.gs_mw.astype(float).copy()
    shunt_b = case.bs_mvar.astype(float).copy()
    if len(trafos):
        idx = pp.create_transformers_from_parameters(
            net, hv_buses=f_bus[trafos], lv_buses=t_bus[trafos], sn_mva=base,
            vn_hv_kv=vn_kv[f_bus[trafos]], vn_lv_kv=vn_kv[t_bus[trafos]],
            vkr_percent=case.r_pu[trafos] * 100,
            vk_percent=np.hypot(case.r_pu[trafos], case.x_pu[trafos]) * 100,
            pfe_kw=0.0, i0_percent=0.0, shift_degree=case.shift_degree[trafos].astype(float),
            tap_side="hv", tap_neutral=0, tap_min=-1, tap_max=1, tap_pos=1,
            tap_step_percent=(tap[trafos] - 1.0) * 100, tap_step_degree=0.0,
            tap_changer_type="Ratio",
            max_loading_percent=np.where(rate[trafos] > 0, rate[trafos] / base * 100, 1e9),
            name=list(labels[trafos]), in_service=case.branch_in_service[trafos],
        )
        for k, i in zip(trafos, idx, strict=True):
            branch_refs[k] = ("trafo", int(i))
        charged = trafos[case.branch_in_service[trafos]]
        half_g, half_b = case.g_pu[charged] / 2 * base, case.b_pu[charged] / 2 * base
        np.add.at(shunt_g, f_bus[charged], half_g / tap[charged] ** 2)
        np.add.at(shunt_b, f_bus[charged], half_b / tap[charged] ** 2)
        np.add.at(shunt_g, t_bus[charged], half_g)
        np.add.at(shunt_b, t_bus[charged], half_b)
    shunts = np.flatnonzero((shunt_g != 0) | (shunt_b != 0))
    if len(shunts):
        # pandapower's shunt consumes p_mw and q_mvar at 1 pu; MATPOWER's bs injects.
        pp.create_shunts(net, shunts, q_mvar=-shunt_b[shunts], p_mw=shunt_g[shunts],
                         vn_kv=vn_kv[shunts],
                         name=[f"shunt at {case.bus_label[i]}" for i in shunts])

    ref = _reference_gen(case)
    gen_refs: list[ElementRef] = [("", -1)] * case.n_gen
    bus = case.gen_bus
    eg = pp.create_ext_grid(
        net, bus=int(bus[ref]), vm_pu=float(case.vg_pu[ref]),
        va_degree=float(case.va_degree[bus[ref]]), name=case.gen_label[ref], controllable=True,
        min_p_mw=float(case.pmin_mw[ref]), max_p_mw=float(case.pmax_mw[ref]),
        min_q_mvar=float(case.qmin_mvar[ref]), max_q_mvar=float(case.qmax_mvar[ref]),
    )
    gen_refs[ref] = ("ext_grid", int(eg))
    others = np.array([g for g in range(case.n_gen) if g != ref], dtype=np.int64)
    if len(others):
        idx = pp.create_gens(
            net, bus[others], p_mw=case.pg_mw[others].astype(float),
            vm_pu=case.vg_pu[others].astype(float),
            name=[case.gen_label[g] for g in others],
            in_service=case.gen_in_service[others] & (case.bus_type[bus[others]] != ISOLATED),
            controllable=True,
            min_p_mw=case.pmin_mw[others].astype(float),
            max_p_mw=case.pmax_mw[others].astype(float),
            min_q_mvar=case.qmin_mvar[others].astype(float),
            max_q_mvar=case.qmax_mvar[others].astype(float),
        )
        for g, i in zip(others, idx, strict=True):
            gen_refs[g] = ("gen", int(i))
    order = np.arange(case.n_gen)
    pp.create_poly_costs(
        net, [gen_refs[g][1] for g in order], [gen_refs[g][0] for g in order],
        cp1_eur_per_mw=case.cost_c1.astype(float), cp2_eur_per_mw2=case.cost_c2.astype(float),
        cp0_eur=case.cost_c0.astype(float),
    )
    emap = ElementMap(
        bus=tuple((("bus", i),) for i in range(case.n_bus)),
        gen=tuple(gen_refs),
        branch=tuple(branch_refs),
        branch_side=("",) * case.n_branch,
    )
    return net, emap
