"""Preparing the pandapower copy for :func:`gridopt.validate.acpf.check_ac`, and reading it back.

Everything here works on the check's private copy of the net (never on the loaded network's own
net): writing the OPF set-points, giving islands without an ``ext_grid`` a slack generator,
building the start voltages from the OPF point, locating case buses and branches in
pandapower's power-flow data, and naming the elements that most likely made ``runpp`` fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandapower.auxiliary import pandapowerNet
from scipy.sparse.csgraph import connected_components

from gridopt.errors import InputError
from gridopt.network import ppc_index as ix
from gridopt.network.load import LoadedNetwork
from gridopt.network.pandapower_io import ElementMap
from gridopt.opf.result import OPFSolution

#: Tables whose results carry ``pl_mw``.
LOSS_TABLES = ("line", "trafo", "trafo3w", "impedance")
#: Set-point columns that must be finite for pandapower to solve.
_SETPOINT_COLUMNS = {
    "ext_grid": ("vm_pu", "va_degree"),
    "gen": ("p_mw", "vm_pu"),
    "sgen": ("p_mw", "q_mvar"),
    "load": ("p_mw", "q_mvar"),
    "storage": ("p_mw", "q_mvar"),
}


@dataclass(frozen=True)
class CaseVoltages:
    """The OPF voltages on case bus positions (NaN where the OPF has no such bus)."""

    vm_pu: np.ndarray
    va_degree: np.ndarray

    @classmethod
    def of(cls, solution: OPFSolution) -> CaseVoltages:
        """Spread the solution's voltages onto the case's bus positions."""
        network = solution.network
        vm = np.full(network.case.n_bus, np.nan)
        va = np.full(network.case.n_bus, np.nan)
        vm[network.bus_case_index] = solution.vm_pu
        va[network.bus_case_index] = np.rad2deg(solution.va_rad)
        return cls(vm, va)


def write_dispatch(
    net: pandapowerNet, emap: ElementMap, solution: OPFSolution, volts: CaseVoltages
) -> None:
    """Write the OPF set-points into ``net`` (the check's copy) in place.

    Raises
    ------
    InputError
        For a generator held by a table a dispatch cannot be written into.
    """
    network = solution.network
    base = network.base_mva
    case = network.case
    for g, case_g in enumerate(network.gen_case_index):
        table, index = emap.gen[int(case_g)]
        bus = int(case.gen_bus[case_g])
        p_mw = float(solution.pg_pu[g] * base)
        q_mvar = float(solution.qg_pu[g] * base)
        df = net[table]
        if table == "ext_grid":
            df.at[index, "vm_pu"] = float(volts.vm_pu[bus])
            df.at[index, "va_degree"] = float(volts.va_degree[bus])
        elif table == "gen":
            df.at[index, "p_mw"] = p_mw
            df.at[index, "vm_pu"] = float(volts.vm_pu[bus])
            df.at[index, "scaling"] = 1.0
        elif table == "sgen":
            df.at[index, "p_mw"] = p_mw
            df.at[index, "q_mvar"] = q_mvar
            df.at[index, "scaling"] = 1.0
        elif table in ("load", "storage"):
            df.at[index, "p_mw"] = -p_mw
            df.at[index, "q_mvar"] = -q_mvar
            df.at[index, "scaling"] = 1.0
        elif table == "xward":
            df.at[index, "vm_pu"] = float(volts.vm_pu[bus])
        else:
            raise InputError(f"{case.gen_label[case_g]}: cannot write a dispatch into a {table}")


def start_voltages(
    net: pandapowerNet, emap: ElementMap, volts: CaseVoltages
) -> tuple[list[float], list[float]]:
    """Start voltages for ``runpp`` (``init_vm_pu``, ``init_va_degree``): the OPF point.

    Every pandapower bus a case bus stands for starts at that bus's OPF voltage; buses the OPF
    does not have (out of service, isolated) start flat (1 pu, 0 degrees). Lists in the order
    of ``net.bus``: pandapower 3.5 compares a ``Series`` start with ``"results"`` when the net
    has extended wards, which raises.
    """
    vm = pd.Series(1.0, index=net.bus.index, dtype=float)
    va = pd.Series(0.0, index=net.bus.index, dtype=float)
    for i, members in enumerate(emap.bus):
        if not np.isfinite(volts.vm_pu[i]):
            continue
        for table, index in members:
            if table == "bus" and index in vm.index:
                vm.at[index] = float(volts.vm_pu[i])
                va.at[index] = float(volts.va_degree[i])
    return vm.tolist(), va.tolist()


def add_island_slacks(
    net: pandapowerNet, loaded: LoadedNetwork, solution: OPFSolution
) -> list[str]:
    """Make one generator the slack of every island of the OPF network that has none.

    pandapower's connectivity check drops every bus that no ``ext_grid`` or slack generator
    supplies, so an island of the OPF network with its own generators (its angles float in the
    OPF) would go unchecked. For each such island the in-service ``gen`` with the largest
    ``pmax`` becomes a slack (``slack=True``) in the check's copy; its angle starts at the OPF
    angle. Islands without a ``gen`` are left as they are (reported after the power flow).

    Returns
    -------
    list[str]
        One note per substitution, naming the island and the generator.
    """
    network = solution.network
    case = loaded.case
    emap = loaded.element_map
    n = network.n_bus
    graph = sp.csr_matrix(
        (np.ones(network.n_branch), (network.branch_from, network.branch_to)), shape=(n, n)
    )
    n_islands, island = connected_components(graph, directed=False)
    if n_islands == 1:
        return []
    has_slack = np.zeros(n_islands, dtype=bool)
    best: dict[int, tuple[float, int, int]] = {}  # island -> (pmax, gen table index, case gen)
    slack_gens = set()
    if "slack" in net.gen.columns:
        slack_gens = {int(i) for i in net.gen.index[net.gen.slack.fillna(False).astype(bool)]}
    for g, case_g in enumerate(network.gen_case_index):
        table, index = emap.gen[int(case_g)]
        k = int(island[network.gen_bus[g]])
        if table == "ext_grid" or (table == "gen" and index in slack_gens):
            has_slack[k] = True
        elif table == "gen":
            pmax = float(network.pmax_pu[g])
            if k not in best or pmax > best[k][0]:
                best[k] = (pmax, index, int(case_g))
    notes = []
    for k in range(n_islands):
        if has_slack[k] or k not in best:
            continue
        _, index, case_g = best[k]
        net.gen.at[index, "slack"] = True
        members = np.flatnonzero(island == k)
        notes.append(
            f"island of {len(members)} bus(es) around {network.bus_label[members[0]]} has no "
            f"ext_grid: {case.gen_label[case_g]} is its slack in the check's copy"
        )
    return notes


def pf_branch_positions(net: pandapowerNet, emap: ElementMap) -> np.ndarray:
    """Position in pandapower's power-flow ppc of every case branch (-1 if absent)."""
    branch_is = np.asarray(net._ppc["internal"]["branch_is"], dtype=bool)
    to_ppci = np.where(branch_is, np.cumsum(branch_is) - 1, -1)
    ranges = net._pd2ppc_lookups["branch"]
    offsets: dict[str, dict[int, int]] = {}
    for element, (start, end) in ranges.items():
        if element == "switch":
            index = net.switch.index[np.asarray(net._impedance_bb_switches, dtype=bool)]
        else:
            index = net[element].index
        n = len(index)
        offsets[element] = {}
        for k in range(int(end) - int(start)):
            key = int(index[k % n]) * 3 + (k // n if element == "trafo3w" else 0)
            offsets[element][key] = int(to_ppci[int(start) + k])
    out = np.full(len(emap.branch), -1, dtype=np.int64)
    sides = {"": 0, "hv": 0, "mv": 1, "lv": 2}
    for b, ((table, index), side) in enumerate(zip(emap.branch, emap.branch_side, strict=True)):
        out[b] = offsets.get(table, {}).get(index * 3 + sides[side], -1)
    return out


def pf_bus_positions(net: pandapowerNet, emap: ElementMap, case_from: np.ndarray,
                     case_to: np.ndarray, n_case_bus: int) -> np.ndarray:
    """Position in pandapower's power-flow ppc of every case bus (-1 if absent)."""
    lookup = np.asarray(net._pd2ppc_lookups["bus"])
    out = np.full(n_case_bus, -1, dtype=np.int64)
    for i, members in enumerate(emap.bus):
        table, index = members[0]
        if table == "bus" and 0 <= index < len(lookup):
            out[i] = int(lookup[index])
    missing = out < 0
    if missing.any():
        # Auxiliary buses: follow the branches that touch them.
        ppci_branch = np.asarray(net._ppc["branch"])
        pos = pf_branch_positions(net, emap)
        for b, p in enumerate(pos):
            if p < 0:
                continue
            for case_bus, col in ((case_from[b], ix.F_BUS), (case_to[b], ix.T_BUS)):
                if out[case_bus] < 0:
                    out[case_bus] = int(np.real(ppci_branch[p, col]))
    return out


def pandapower_losses_mw(net: pandapowerNet, emap: ElementMap) -> float:
    """pandapower's active losses (MW) over the branches of the case."""
    tables = {t for t, _ in emap.branch}
    total = 0.0
    for table in LOSS_TABLES:
        if table in tables and len(net[f"res_{table}"]):
            total += float(np.nansum(net[f"res_{table}"].pl_mw.to_numpy()))
    other = [b for b, (t, _) in enumerate(emap.branch) if t not in LOSS_TABLES]
    if other:
        pos = pf_branch_positions(net, emap)[other]
        branch = np.asarray(net._ppc["branch"])
        pos = pos[pos >= 0]
        total += float(np.sum(np.real(branch[pos, ix.PF] + branch[pos, ix.PT])))
    return total


def suspects(net: pandapowerNet, loaded: LoadedNetwork) -> tuple[str, str]:
    """Name the element most likely to make ``runpp`` raise, and why (``("", "")`` if none).

    Looks, in this order, for in-service branches of the case with zero series impedance,
    non-finite set-points written into the copy, and a net without an in-service ext_grid.
    """
    case = loaded.case
    on = case.branch_in_service
    zero = np.flatnonzero(on & (case.r_pu == 0) & (case.x_pu == 0))
    if len(zero):
        return case.branch_label[zero[0]], "zero series impedance (r = x = 0)"
    for table, columns in _SETPOINT_COLUMNS.items():
        df = net[table]
        if not len(df):
            continue
        live = df[df.in_service.astype(bool)]
        for column in columns:
            if column not in live.columns:
                continue
            values = pd.to_numeric(live[column], errors="coerce").to_numpy(dtype=float)
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                index = int(live.index[bad[0]])
                name = live.at[index, "name"] if "name" in live.columns else None
                label = f"{table} {index}" + (f" ({name})" if name else "")
                return label, f"non-finite {column} written from the OPF solution"
    if not len(net.ext_grid) or not net.ext_grid.in_service.astype(bool).any():
        return "ext_grid", "no in-service ext_grid (slack) in the net"
    return "", ""
