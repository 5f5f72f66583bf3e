"""Independent AC power-flow check of an OPF dispatch with pandapower.

:func:`check_ac` writes the dispatch of an :class:`~gridopt.opf.result.OPFSolution` into a
*copy* of the network's pandapower net, runs ``pandapower.runpp`` and compares:

* the nodal power mismatch of the OPF point in pandapower's own equations,
  ``max_i |V_i conj((Y V)_i) - S_sched,i|`` with pandapower's ``Ybus``, the OPF voltages and
  the OPF injections (generators) minus pandapower's scheduled demand, in MVA;
* the active losses (pandapower's branch results) against the OPF's;
* the voltages of pandapower's power-flow solution against the OPF voltages;
* the slack (ext_grid) active and reactive power against the OPF dispatch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandapower as pp
from pandapower.auxiliary import pandapowerNet
from pandapower.pypower.makeYbus import makeYbus

from gridopt.errors import InputError
from gridopt.network.load import LoadedNetwork
from gridopt.network.pandapower_io import ElementMap
from gridopt.opf.result import OPFSolution

logger = logging.getLogger(__name__)

# pandapower ppc columns (pandapower.pypower.idx_bus / idx_brch).
_PD, _QD, _VM, _VA = 2, 3, 7, 8
_F_BUS, _T_BUS, _PF, _PT = 0, 1, 13, 15

#: Power-flow tolerance (MVA) used for the check.
TOLERANCE_MVA = 1e-9
#: Tables whose results carry ``pl_mw``.
_LOSS_TABLES = ("line", "trafo", "trafo3w", "impedance")


@dataclass(frozen=True)
class ACCheck:
    """Outcome of the AC power-flow check of one OPF solution.

    Attributes
    ----------
    converged
        Whether ``pandapower.runpp`` converged with the dispatch written in.
    max_mismatch_mva
        Largest nodal complex-power mismatch ``|V conj(Y V) - S_sched|`` of the OPF point in
        pandapower's equations, in MVA.
    max_mismatch_bus
        Label of the bus where it occurs.
    losses_mw
        pandapower's active losses (sum of branch ``pl_mw``) at its power-flow solution; NaN when
        the power flow did not converge.
    opf_losses_mw
        The OPF solution's losses.
    losses_diff_mw
        ``losses_mw - opf_losses_mw``.
    max_vm_diff_pu, max_va_diff_degree
        Largest voltage magnitude and angle difference between pandapower's power flow and the OPF.
    slack_p_diff_mw, slack_q_diff_mvar
        Generation at a slack (ext_grid) bus in the power flow minus the OPF's, for the slack
        bus with the largest active-power difference (bus totals: pandapower shares the
        reactive power of several machines at one bus its own way); 0 without an ext_grid.
    iterations
        Newton-Raphson iterations pandapower used (0 if unknown).
    message
        Empty, or why the power flow failed.
    """

    converged: bool
    max_mismatch_mva: float
    max_mismatch_bus: str
    losses_mw: float
    opf_losses_mw: float
    losses_diff_mw: float
    max_vm_diff_pu: float
    max_va_diff_degree: float
    slack_p_diff_mw: float
    slack_q_diff_mvar: float
    iterations: int
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (NaN becomes ``None``)."""
        out: dict[str, object] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
            else:
                out[key] = value
        return out


def _write_dispatch(
    net: pandapowerNet, emap: ElementMap, solution: OPFSolution, case_vm: np.ndarray,
    case_va_deg: np.ndarray,
) -> None:
    """Write the OPF set-points into ``net`` (a copy) in place."""
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
            df.at[index, "vm_pu"] = float(case_vm[bus])
            df.at[index, "va_degree"] = float(case_va_deg[bus])
        elif table == "gen":
            df.at[index, "p_mw"] = p_mw
            df.at[index, "vm_pu"] = float(case_vm[bus])
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
            df.at[index, "vm_pu"] = float(case_vm[bus])
        else:
            raise InputError(f"{case.gen_label[case_g]}: cannot write a dispatch into a {table}")


def _pf_bus_positions(net: pandapowerNet, emap: ElementMap, case_from: np.ndarray,
                      case_to: np.ndarray, n_case_bus: int) -> np.ndarray:
    """Position in pandapower's power-flow ppci of every case bus (-1 if absent)."""
    lookup = np.asarray(net._pd2ppc_lookups["bus"])
    out = np.full(n_case_bus, -1, dtype=np.int64)
    for i, members in enumerate(emap.bus):
        table, index = members[0]
        if table == "bus":
            out[i] = int(lookup[index])
    missing = out < 0
    if missing.any():
        # Auxiliary buses: follow the branches that touch them.
        ppci_branch = np.asarray(net._ppc["branch"])
        pos = _pf_branch_positions(net, emap)
        for b, p in enumerate(pos):
            if p < 0:
                continue
            for case_bus, col in ((case_from[b], _F_BUS), (case_to[b], _T_BUS)):
                if out[case_bus] < 0:
                    out[case_bus] = int(np.real(ppci_branch[p, col]))
    return out


def _pf_branch_positions(net: pandapowerNet, emap: ElementMap) -> np.ndarray:
    """Position in pandapower's power-flow ppci of every case branch (-1 if absent)."""
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


def _pandapower_losses_mw(net: pandapowerNet, emap: ElementMap) -> float:
    tables = {t for t, _ in emap.branch}
    total = 0.0
    for table in _LOSS_TABLES:
        if table in tables and len(net[f"res_{table}"]):
            total += float(np.nansum(net[f"res_{table}"].pl_mw.to_numpy()))
    other = [b for b, (t, _) in enumerate(emap.branch) if t not in _LOSS_TABLES]
    if other:
        pos = _pf_branch_positions(net, emap)[other]
        branch = np.asarray(net._ppc["branch"])
        pos = pos[pos >= 0]
        total += float(np.sum(np.real(branch[pos, _PF] + branch[pos, _PT])))
    return total


def check_ac(loaded: LoadedNetwork, solution: OPFSolution) -> ACCheck:
    """Check an OPF solution with an independent pandapower AC power flow.

    The dispatch (generator P and voltage, ext_grid voltage magnitude and angle, P and Q of
    controllable static generators, loads and storage) is written into a copy of the network's
    pandapower net; ``pandapower.runpp`` then runs with voltage angles, without reactive-power
    limits and with a ``1e-9`` MVA tolerance.

    The mismatch is evaluated at the OPF point itself (not at runpp's solution):
    ``S_mis,i = V_i conj(sum_k Y_ik V_k) - (sum_{g at i} S_g - S_d,i)`` with pandapower's
    ``Ybus`` (``makeYbus`` on its power-flow data, shunts included), the OPF voltages ``V`` and
    generator outputs ``S_g``, and pandapower's scheduled demand ``S_d`` (loads, static
    generators, wards). For an AC-OPF optimum it is at solver tolerance; for a DC solution it is
    large (reactive power and losses are ignored by the DC model) and simply reported.

    Parameters
    ----------
    loaded
        The network the solution belongs to (its pandapower net is not modified).
    solution
        An OPF solution on ``loaded.network`` (AC or DC).

    Returns
    -------
    ACCheck
    """
    network = solution.network
    case = network.case
    if case is not loaded.case:
        raise InputError(
            f"the solution belongs to case {case.name!r}, not to the loaded network "
            f"{loaded.case.name!r}; check the solution against the network it was solved on"
        )
    emap = loaded.element_map
    base = network.base_mva
    case_vm = np.full(case.n_bus, np.nan)
    case_va_deg = np.full(case.n_bus, np.nan)
    case_vm[network.bus_case_index] = solution.vm_pu
    case_va_deg[network.bus_case_index] = np.rad2deg(solution.va_rad)

    net = loaded.pandapower_net()
    _write_dispatch(net, emap, solution, case_vm, case_va_deg)
    converged, message, iterations = True, "", 0
    try:
        pp.runpp(
            net, algorithm="nr", calculate_voltage_angles=True, enforce_q_lims=False,
            tolerance_mva=TOLERANCE_MVA, max_iteration=50, init="dc",
            voltage_depend_loads=False, trafo_model="t", check_connectivity=True,
            # One power flow per check: numba's JIT compilation (seconds) would cost far more
            # than it saves.
            numba=False,
        )
        iterations = int(net._ppc.get("iterations", 0) or 0)
    except pp.LoadflowNotConverged as exc:
        converged, message = False, f"pandapower runpp did not converge: {exc}"
        logger.warning("%s: %s", case.name, message)

    ppci = net._ppc
    if ppci is None or "bus" not in ppci:
        raise InputError(f"{case.name}: pandapower produced no power-flow data ({message})")
    bus = np.real(np.asarray(ppci["bus"]))
    branch = np.asarray(ppci["branch"])
    ybus, _, _ = makeYbus(ppci["baseMVA"], bus, branch)
    pf_pos = _pf_bus_positions(net, emap, case.branch_from, case.branch_to, case.n_bus)
    n_pf = len(bus)
    in_net = np.zeros(case.n_bus, dtype=bool)
    in_net[network.bus_case_index] = True
    mapped = pf_pos[network.bus_case_index]
    if np.any(mapped < 0) or np.any(mapped >= n_pf):
        raise InputError(f"{case.name}: some buses of the OPF are not in pandapower's power flow")

    v_pf = np.full(n_pf, np.nan, dtype=complex)
    v_pf[mapped] = solution.vm_pu * np.exp(1j * solution.va_rad)
    s_gen = np.zeros(n_pf, dtype=complex)
    for g, case_g in enumerate(network.gen_case_index):
        table, _ = emap.gen[int(case_g)]
        if table in ("sgen", "load", "storage"):
            continue  # written into pandapower's scheduled demand
        s_gen[pf_pos[case.gen_bus[case_g]]] += solution.pg_pu[g] + 1j * solution.qg_pu[g]
    s_demand = (bus[:, _PD] + 1j * bus[:, _QD]) / base
    s_calc = v_pf * np.conj(ybus @ v_pf)
    mismatch = np.abs(s_calc - (s_gen - s_demand)) * base
    worst = int(np.nanargmax(mismatch)) if np.any(np.isfinite(mismatch)) else 0
    label_of_pf = {int(p): case.bus_label[i] for i, p in enumerate(pf_pos) if p >= 0}

    opf_losses = solution.losses_mw
    if converged:
        losses = _pandapower_losses_mw(net, emap)
        v_sol = bus[mapped, _VM] * np.exp(1j * np.deg2rad(bus[mapped, _VA]))
        vm_diff = float(np.max(np.abs(np.abs(v_sol) - solution.vm_pu)))
        va_diff = float(np.max(np.abs(np.rad2deg(np.angle(v_sol * np.exp(-1j * solution.va_rad))))))
        v_all = bus[:, _VM] * np.exp(1j * np.deg2rad(bus[:, _VA]))
        s_gen_pf = v_all * np.conj(ybus @ v_all) + s_demand
        slack_p, slack_q = 0.0, 0.0
        for case_g in network.gen_case_index:
            if emap.gen[int(case_g)][0] != "ext_grid":
                continue
            k = pf_pos[case.gen_bus[case_g]]
            diff = (s_gen_pf[k] - s_gen[k]) * base
            if abs(diff.real) >= abs(slack_p):
                slack_p, slack_q = float(diff.real), float(diff.imag)
    else:
        losses = vm_diff = va_diff = slack_p = slack_q = float("nan")
    return ACCheck(
        converged=converged,
        max_mismatch_mva=float(mismatch[worst]),
        max_mismatch_bus=label_of_pf.get(worst, f"pandapower bus row {worst}"),
        losses_mw=float(losses),
        opf_losses_mw=float(opf_losses),
        losses_diff_mw=float(losses - opf_losses),
        max_vm_diff_pu=float(vm_diff),
        max_va_diff_degree=float(va_diff),
        slack_p_diff_mw=float(slack_p),
        slack_q_diff_mvar=float(slack_q),
        iterations=iterations,
        message=message,
    )
