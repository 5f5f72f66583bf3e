"""MATPOWER case -> :class:`~gridopt.network.model.NetworkModel` (no switches; buses, branches and
generators one to one, bus demand and shunts as fixed injections, the reference bus the supply).
"""

from __future__ import annotations

import numpy as np

from gridopt.network.assets import Assets
from gridopt.network.case import ISOLATED, REF, CaseData
from gridopt.network.model import (
    Branches,
    BranchKind,
    Buses,
    InjectionKind,
    Injections,
    NetworkModel,
    Supplies,
    Switches,
    rating_or_inf,
)


def model_from_case(case: CaseData) -> NetworkModel:
    """Build the model of a MATPOWER case."""
    n_bus, n_branch = case.n_bus, case.n_branch
    bus_ref = tuple(("bus", int(b)) for b in case.bus_id)
    on_bus = case.bus_type != ISOLATED
    buses = Buses(ref=bus_ref, name=case.bus_label, vn_kv=case.base_kv, vmin_pu=case.vmin_pu,
                  vmax_pu=case.vmax_pu, in_service=on_bus, x=np.full(n_bus, np.nan),
                  y=np.full(n_bus, np.nan))
    tap = np.where(case.tap_ratio == 0, 1.0, case.tap_ratio)
    branches = Branches(
        ref=tuple(("branch", k) for k in range(n_branch)), side=("",) * n_branch,
        kind=(BranchKind.MATPOWER,) * n_branch, from_bus=case.branch_from,
        to_bus=case.branch_to, r_pu=case.r_pu, x_pu=case.x_pu, g_pu=case.g_pu, b_pu=case.b_pu,
        tap_ratio=tap, shift_rad=np.deg2rad(case.shift_degree),
        rate_mva=rating_or_inf(case.rate_a_mva), in_service=case.branch_in_service)
    empty = np.zeros(0, dtype=np.int64)
    switches = Switches(ref=(), kind=(), bus=empty, branch=empty, other_bus=empty,
                        closed=np.zeros(0, dtype=bool), operable=np.zeros(0, dtype=bool),
                        r_pu=np.zeros(0))
    ref_bus = np.flatnonzero(case.bus_type == REF)
    on_gen = case.gen_in_service & on_bus[case.gen_bus]
    slack_gen = [g for g in np.flatnonzero(on_gen) if case.gen_bus[g] in set(ref_bus)]
    supplies = Supplies(ref=tuple(("gen", int(g)) for g in slack_gen[:1]),
                        bus=np.array([case.gen_bus[g] for g in slack_gen[:1]], dtype=np.int64),
                        vm_pu=np.array([case.vg_pu[g] for g in slack_gen[:1]], dtype=float))
    other_gen = [g for g in np.flatnonzero(on_gen) if g not in slack_gen[:1]]
    loads = np.flatnonzero(on_bus & ((case.pd_mw != 0) | (case.qd_mvar != 0)))
    shunts = np.flatnonzero(on_bus & ((case.gs_mw != 0) | (case.bs_mvar != 0)))
    injections = Injections(
        ref=tuple([("bus", int(case.bus_id[b])) for b in loads]
                  + [("bus", int(case.bus_id[b])) for b in shunts]
                  + [("gen", int(g)) for g in other_gen]),
        kind=tuple([InjectionKind.LOAD] * len(loads) + [InjectionKind.SHUNT] * len(shunts)
                   + [InjectionKind.GEN] * len(other_gen)),
        bus=np.r_[loads, shunts, case.gen_bus[other_gen]].astype(np.int64),
        p_mw=np.r_[case.pd_mw[loads], case.gs_mw[shunts], -case.pg_mw[other_gen]],
        q_mvar=np.r_[case.qd_mvar[loads], -case.bs_mvar[shunts], -case.qg_mvar[other_gen]],
    )
    return NetworkModel(name=case.name, base_mva=case.base_mva, buses=buses, branches=branches,
                        switches=switches, injections=injections, supplies=supplies,
                        assets=Assets())
