"""Independent AC power-flow check of an OPF dispatch with pandapower.

:func:`check_ac` writes the dispatch of an :class:`~gridopt.opf.result.OPFSolution` into a
*copy* of the network's pandapower net, runs ``pandapower.runpp`` from the OPF point and
compares:

* the nodal power mismatch of the OPF point in pandapower's own equations,
  ``max_i |V_i conj((Y V)_i) - S_sched,i|`` with pandapower's ``Ybus``, the OPF voltages and
  the OPF injections (generators) minus pandapower's scheduled demand, in MVA;
* the active losses (pandapower's branch results) against the OPF's;
* the voltages of pandapower's power-flow solution against the OPF voltages;
* the slack (ext_grid) active and reactive power against the OPF dispatch.

The outcome is an :class:`ACCheckStatus`. The check never raises for a network or a solution
pandapower cannot handle: whatever makes ``runpp`` fail is caught and reported as the status
``not_converged`` or ``error`` with the element and the cause named, so a solved OPF is never
lost to its check.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandapower as pp
from pandapower.pypower.makeYbus import makeYbus

from gridopt.errors import InputError
from gridopt.network import ppc_index as ix
from gridopt.network.load import LoadedNetwork
from gridopt.opf.result import OPFSolution
from gridopt.validate._acpf_net import (
    CaseVoltages,
    add_island_slacks,
    pandapower_losses_mw,
    pf_bus_positions,
    start_voltages,
    suspects,
    write_dispatch,
)

logger = logging.getLogger(__name__)


#: Power-flow tolerance (MVA) used for the check.
TOLERANCE_MVA = 1e-9
#: Newton-Raphson iterations allowed.
MAX_ITERATIONS = 50


class ACCheckStatus(enum.Enum):
    """Outcome of the AC power-flow check.

    ``passed``: ``runpp`` converged and the OPF point agrees with pandapower within
    :class:`CheckTolerances`. ``failed``: ``runpp`` converged, but the OPF point does not satisfy
    pandapower's equations within tolerance, or part of the network carrying power is outside
    pandapower's power flow. ``not_converged``: ``runpp`` did not converge. ``error``: the power
    flow could not be run at all (``runpp`` or the set-up raised).
    """

    PASSED = "passed"
    FAILED = "failed"
    NOT_CONVERGED = "not_converged"
    ERROR = "error"


@dataclass(frozen=True)
class CheckTolerances:
    """What :func:`check_ac` accepts as agreement between the OPF and pandapower.

    Attributes
    ----------
    mismatch_mva
        Largest nodal complex-power mismatch of the OPF point in pandapower's equations (MVA).
    vm_pu
        Largest voltage-magnitude difference between pandapower's solution and the OPF (pu).
    va_degree
        Largest voltage-angle difference between pandapower's solution and the OPF (degrees).
    """

    mismatch_mva: float = 1e-3
    vm_pu: float = 1e-4
    va_degree: float = 1e-2


@dataclass(frozen=True)
class ACCheck:
    """Outcome of the AC power-flow check of one OPF solution.

    Attributes
    ----------
    status
        The outcome (:class:`ACCheckStatus`); :attr:`passed` is ``status is PASSED``.
    converged
        Whether ``pandapower.runpp`` converged with the dispatch written in.
    max_mismatch_mva
        Largest nodal complex-power mismatch ``|V conj(Y V) - S_sched|`` of the OPF point in
        pandapower's equations, in MVA, over the buses in pandapower's power flow; NaN when
        pandapower produced no power-flow data.
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
        Generation at a slack bus (ext_grid, or a generator made an island's slack) in the power
        flow minus the OPF's, for the slack bus with the largest active-power difference (bus
        totals: pandapower shares the reactive power of several machines at one bus its own way);
        0 without a slack.
    iterations
        Newton-Raphson iterations pandapower used (0 if unknown).
    message
        Empty when passed; otherwise the reason, naming the element and the cause.
    element
        Label of the element the reason is about (a bus, branch or generator), or empty.
    notes
        What the check changed in its copy of the net to run (e.g. an island's slack).
    """

    status: ACCheckStatus
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
    element: str = ""
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the status is :attr:`ACCheckStatus.PASSED`."""
        return self.status is ACCheckStatus.PASSED

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict (NaN becomes ``None``, the status its value)."""
        out: dict[str, object] = {}
        for key, value in asdict(self).items():
            if isinstance(value, ACCheckStatus):
                out[key] = value.value
            elif isinstance(value, tuple):
                out[key] = list(value)
            elif isinstance(value, float) and not math.isfinite(value):
                out[key] = None
            else:
                out[key] = value
        return out


def _not_run(solution: OPFSolution, message: str, element: str,
             notes: tuple[str, ...] = ()) -> ACCheck:
    """An :attr:`ACCheckStatus.ERROR` outcome without power-flow figures."""
    nan = float("nan")
    return ACCheck(
        status=ACCheckStatus.ERROR, converged=False, max_mismatch_mva=nan, max_mismatch_bus="",
        losses_mw=nan, opf_losses_mw=float(solution.losses_mw), losses_diff_mw=nan,
        max_vm_diff_pu=nan, max_va_diff_degree=nan, slack_p_diff_mw=nan, slack_q_diff_mvar=nan,
        iterations=0, message=message, element=element, notes=notes,
    )


def check_ac(
    loaded: LoadedNetwork, solution: OPFSolution, tolerances: CheckTolerances | None = None
) -> ACCheck:
    """Check an OPF solution with an independent pandapower AC power flow.

    The dispatch (generator P and voltage, ext_grid voltage magnitude and angle, P and Q of
    controllable static generators, loads and storage) is written into a copy of the network's
    pandapower net; ``pandapower.runpp`` then runs with voltage angles, without reactive-power
    limits, with a ``1e-9`` MVA tolerance, starting from the OPF voltages (``init_vm_pu`` and
    ``init_va_degree``). Starting there rather than from a DC power flow keeps the check
    working on branches of zero reactance (the DC start divides by ``x``) and lands on the
    power-flow solution nearest the OPF point. An island of the OPF network without an
    ext_grid gets its largest generator as slack in the copy (stated in ``notes``).

    The mismatch is evaluated at the OPF point itself (not at runpp's solution):
    ``S_mis,i = V_i conj(sum_k Y_ik V_k) - (sum_{g at i} S_g - S_d,i)`` with pandapower's
    ``Ybus`` (``makeYbus`` on its power-flow data, shunts included), the OPF voltages ``V`` and
    generator outputs ``S_g``, and pandapower's scheduled demand ``S_d`` (loads, static
    generators, wards). For an AC-OPF optimum it is at solver tolerance; for a DC solution it is
    large (reactive power and losses are ignored by the DC model) and the status is ``failed``.

    Parameters
    ----------
    loaded
        The network the solution belongs to (its pandapower net is not modified).
    solution
        An OPF solution on ``loaded.network`` (AC or DC).
    tolerances
        Agreement required for ``passed`` (default :class:`CheckTolerances`).

    Returns
    -------
    ACCheck
        Its ``status`` says whether the check passed; every other outcome carries the reason
        in ``message`` and the element concerned in ``element``.

    Raises
    ------
    InputError
        Only if ``solution`` was solved on another network than ``loaded`` (a caller's mistake,
        not a property of the network).
    """
    case = solution.network.case
    if case is not loaded.case:
        raise InputError(
            f"the solution belongs to case {case.name!r}, not to the loaded network "
            f"{loaded.case.name!r}; check the solution against the network it was solved on"
        )
    try:
        return _check(loaded, solution, tolerances or CheckTolerances())
    except Exception as exc:  # the check must never lose a solved OPF
        logger.debug("%s: AC check failed", case.name, exc_info=True)
        message = f"the AC check itself failed: {type(exc).__name__}: {exc}"
        logger.warning("%s: %s", case.name, message)
        return _not_run(solution, message, "")


def _non_finite(solution: OPFSolution) -> ACCheck | None:
    """A not-run check when the OPF solution has a NaN or infinite value (nothing to check)."""
    network = solution.network
    for name in ("vm_pu", "va_rad", "pg_pu", "qg_pu"):
        values = getattr(solution, name)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            labels = network.bus_label if name.startswith("v") else network.gen_label
            element = labels[bad[0]]
            return _not_run(
                solution, f"the OPF solution has a non-finite {name} at {element} "
                f"({len(bad)} value(s) in all); there is no point to check", element,
            )
    return None


@dataclass(frozen=True)
class _PowerFlowRun:
    """How ``pandapower.runpp`` ended from the OPF point (``error``: it raised, no results)."""

    status: ACCheckStatus
    message: str
    element: str
    iterations: int
    error: bool = False


def _run_power_flow(net: pp.pandapowerNet, loaded: LoadedNetwork, init_vm: list[float],
                    init_va: list[float], name: str) -> _PowerFlowRun:
    """Newton-Raphson from the OPF voltages; never raises (a failure is named, with a suspect)."""
    try:
        pp.runpp(
            net, algorithm="nr", calculate_voltage_angles=True, enforce_q_lims=False,
            tolerance_mva=TOLERANCE_MVA, max_iteration=MAX_ITERATIONS, init="auto",
            init_vm_pu=init_vm, init_va_degree=init_va,
            voltage_depend_loads=False, trafo_model="t", check_connectivity=True,
            # One power flow per check: numba's JIT compilation (seconds) would cost far more
            # than it saves.
            numba=False,
        )
    except pp.LoadflowNotConverged as exc:
        return _PowerFlowRun(
            ACCheckStatus.NOT_CONVERGED,
            f"pandapower runpp did not converge in {MAX_ITERATIONS} iterations from the OPF "
            f"point: {exc}", "", MAX_ITERATIONS)
    except Exception as exc:  # whatever else pandapower raises: name it, keep the OPF
        element, cause = suspects(net, loaded)
        message = f"pandapower runpp raised {type(exc).__name__}: {exc}"
        if element:
            message += f"; likely cause: {element} has {cause}"
        logger.debug("%s: runpp raised", name, exc_info=True)
        logger.warning("%s: AC check error: %s", name, message)
        return _PowerFlowRun(ACCheckStatus.ERROR, message, element, 0, error=True)
    ppc = net._ppc
    return _PowerFlowRun(ACCheckStatus.PASSED, "", "",
                         int(ppc.get("iterations", 0) or 0) if ppc is not None else 0)


@dataclass(frozen=True, eq=False)
class _Balance:
    """The OPF point in pandapower's equations: per-bus mismatch and what was checked."""

    bus: np.ndarray  # pandapower's ppc bus table after the power flow
    ybus: Any
    pf_pos: np.ndarray  # ppc bus row of every case bus (-1: none)
    mapped: np.ndarray  # ppc bus row of every OPF bus
    s_gen: np.ndarray  # OPF generation per ppc bus (pu)
    s_demand: np.ndarray  # pandapower's scheduled demand per ppc bus (pu)
    left_out: np.ndarray  # OPF buses pandapower's connectivity check dropped
    carried_mva: np.ndarray  # |generation - demand| per ppc bus
    max_mismatch: float
    worst_label: str


def _balance(net: pp.pandapowerNet, loaded: LoadedNetwork, solution: OPFSolution,
             notes: tuple[str, ...]) -> _Balance | ACCheck:
    """Evaluate pandapower's power balance at the OPF voltages (or a not-run check)."""
    network = solution.network
    case = network.case
    emap = loaded.element_map
    base = network.base_mva
    ppc = net._ppc
    bus = np.real(np.asarray(ppc["bus"]))
    pf_pos = pf_bus_positions(net, emap, case.branch_from, case.branch_to, case.n_bus)
    mapped = pf_pos[network.bus_case_index]
    n_pf = len(bus)
    absent = np.flatnonzero((mapped < 0) | (mapped >= n_pf))
    if len(absent):
        label = network.bus_label[absent[0]]
        return _not_run(
            solution,
            f"{label} (and {len(absent) - 1} more bus(es)) of the OPF has no counterpart in "
            "pandapower's power flow data",
            label, notes,
        )
    # The mismatch uses the branches the OPF has: pandapower's full ppc also lists, in
    # service, branches to buses the OPF leaves out (a line to an isolated bus ends at an
    # auxiliary bus of pandapower's; buses its connectivity check drops keep their branches).
    branch = np.array(ppc["branch"], copy=True)
    in_opf = np.zeros(n_pf, dtype=bool)
    in_opf[mapped] = True
    in_opf &= bus[:, ix.BUS_TYPE] != ix.PPC_BUS_NONE
    ends = np.real(branch[:, [ix.F_BUS, ix.T_BUS]]).astype(np.int64)
    branch[~in_opf[ends].all(axis=1), ix.BR_STATUS] = 0
    ybus, _, _ = makeYbus(ppc["baseMVA"], bus, branch)

    v_pf = np.zeros(n_pf, dtype=complex)
    v_pf[mapped] = solution.vm_pu * np.exp(1j * solution.va_rad)
    s_gen = np.zeros(n_pf, dtype=complex)
    for g, case_g in enumerate(network.gen_case_index):
        table, _ = emap.gen[int(case_g)]
        if table in ("sgen", "load", "storage"):
            continue  # written into pandapower's scheduled demand
        s_gen[pf_pos[case.gen_bus[case_g]]] += solution.pg_pu[g] + 1j * solution.qg_pu[g]
    s_demand = (bus[:, ix.PD] + 1j * bus[:, ix.QD]) / base
    s_calc = v_pf * np.conj(ybus @ v_pf)
    mismatch = np.abs(s_calc - (s_gen - s_demand)) * base
    label_of_pf = {int(p): case.bus_label[i] for i, p in enumerate(pf_pos) if p >= 0}
    # Buses pandapower's connectivity check left out (no slack reaches them): their balance is
    # not checked.
    left_out = bus[mapped, ix.BUS_TYPE] == ix.PPC_BUS_NONE
    checked = np.zeros(n_pf, dtype=bool)
    checked[mapped[~left_out]] = True
    mis_checked = np.where(checked, mismatch, np.nan)
    worst = int(np.nanargmax(mis_checked)) if np.any(np.isfinite(mis_checked)) else 0
    max_mismatch = float(mis_checked[worst]) if np.isfinite(mis_checked[worst]) else float("nan")
    return _Balance(bus=bus, ybus=ybus, pf_pos=pf_pos, mapped=mapped, s_gen=s_gen,
                    s_demand=s_demand, left_out=left_out,
                    carried_mva=np.abs(s_gen - s_demand) * base, max_mismatch=max_mismatch,
                    worst_label=label_of_pf.get(worst, f"pandapower bus row {worst}"))


def _check(loaded: LoadedNetwork, solution: OPFSolution, tol: CheckTolerances) -> ACCheck:
    """Write the OPF point into pandapower, run its power flow there and judge the result.

    Long because the verdict names the first of four failed tests (not converged, unchecked
    bus, mismatch, voltage difference) with its element; the computations are in the helpers
    above.
    """
    network = solution.network
    case = network.case
    volts = CaseVoltages.of(solution)
    early = _non_finite(solution)
    if early is not None:
        return early
    net = loaded.pandapower_net()
    try:
        write_dispatch(net, loaded.element_map, solution, volts)
    except InputError as exc:
        return _not_run(solution, f"cannot write the OPF dispatch into pandapower: {exc}", "")
    notes = tuple(add_island_slacks(net, loaded, solution))
    init_vm, init_va = start_voltages(net, loaded.element_map, volts)
    run = _run_power_flow(net, loaded, init_vm, init_va, case.name)
    if run.error:
        return _not_run(solution, run.message, run.element, notes)
    status, message, element, iterations = run.status, run.message, run.element, run.iterations
    ppc = net._ppc
    if ppc is None or "bus" not in ppc or "branch" not in ppc:
        element, cause = suspects(net, loaded)
        message = (message + "; " if message else "") + "pandapower produced no power-flow data"
        if element:
            message += f"; likely cause: {element} has {cause}"
        return _not_run(solution, message, element, notes)
    bal = _balance(net, loaded, solution, notes)
    if isinstance(bal, ACCheck):
        return bal
    mapped, left_out = bal.mapped, bal.left_out
    # Left-out buses are harmless when they carry no power in the OPF; a failure otherwise.
    unchecked = np.flatnonzero(left_out & (bal.carried_mva[mapped] > tol.mismatch_mva))
    quiet = np.flatnonzero(left_out & (bal.carried_mva[mapped] <= tol.mismatch_mva))
    if len(quiet):
        notes += (
            f"{len(quiet)} bus(es) without a connection to a slack and carrying no power "
            f"(first: {network.bus_label[quiet[0]]}) are left out of the check",
        )
    max_mismatch, worst_label = bal.max_mismatch, bal.worst_label
    opf_losses = solution.losses_mw
    converged = status is ACCheckStatus.PASSED
    if converged:
        bus = bal.bus
        losses = pandapower_losses_mw(net, loaded.element_map)
        on = ~left_out
        pos_on = mapped[on]
        v_sol = bus[pos_on, ix.VM] * np.exp(1j * np.deg2rad(bus[pos_on, ix.VA]))
        vm_diff = float(np.max(np.abs(np.abs(v_sol) - solution.vm_pu[on]), initial=0.0))
        va_diff = float(np.max(np.abs(np.rad2deg(
            np.angle(v_sol * np.exp(-1j * solution.va_rad[on])))), initial=0.0))
        v_all = bus[:, ix.VM] * np.exp(1j * np.deg2rad(bus[:, ix.VA]))
        s_gen_pf = v_all * np.conj(bal.ybus @ v_all) + bal.s_demand
        slack_p, slack_q = _slack_diff(loaded, solution, bal.pf_pos, s_gen_pf, bal.s_gen, net)
    else:
        losses = vm_diff = va_diff = slack_p = slack_q = float("nan")

    if status is ACCheckStatus.NOT_CONVERGED:
        message += f"; the OPF point's largest mismatch is {max_mismatch:.3g} MVA at {worst_label}"
        element = worst_label
    elif len(unchecked):
        status = ACCheckStatus.FAILED
        k = unchecked[0]
        element = network.bus_label[k]
        message = (
            f"{element} (and {len(unchecked) - 1} more bus(es)) carries "
            f"{bal.carried_mva[mapped[k]]:.4g} MVA in the OPF but no ext_grid or generator "
            "connects it to a slack, so pandapower's power flow leaves it out: its balance is "
            "unchecked"
        )
    elif not max_mismatch <= tol.mismatch_mva:
        status, element = ACCheckStatus.FAILED, worst_label
        message = (
            f"the OPF point's largest power mismatch in pandapower's equations is "
            f"{max_mismatch:.3g} MVA at {worst_label} (tolerance {tol.mismatch_mva:g} MVA)"
        )
    elif not (vm_diff <= tol.vm_pu and va_diff <= tol.va_degree):
        status = ACCheckStatus.FAILED
        message = (
            f"pandapower's power flow differs from the OPF voltages by {vm_diff:.3g} pu and "
            f"{va_diff:.3g} degrees (tolerances {tol.vm_pu:g} pu, {tol.va_degree:g} degrees)"
        )
    if status is not ACCheckStatus.PASSED:
        logger.warning("%s: AC check %s: %s", case.name, status.value, message)
    return ACCheck(
        status=status,
        converged=converged,
        max_mismatch_mva=max_mismatch,
        max_mismatch_bus=worst_label,
        losses_mw=float(losses),
        opf_losses_mw=float(opf_losses),
        losses_diff_mw=float(losses - opf_losses),
        max_vm_diff_pu=float(vm_diff),
        max_va_diff_degree=float(va_diff),
        slack_p_diff_mw=float(slack_p),
        slack_q_diff_mvar=float(slack_q),
        iterations=iterations,
        message=message,
        element=element,
        notes=notes,
    )


def _slack_diff(
    loaded: LoadedNetwork, solution: OPFSolution, pf_pos: np.ndarray, s_gen_pf: np.ndarray,
    s_gen: np.ndarray, net: pp.pandapowerNet,
) -> tuple[float, float]:
    """Slack-bus generation of the power flow minus the OPF's (MW, Mvar), largest |P| first."""
    network = solution.network
    case = network.case
    slack_gens = set()
    if "slack" in net.gen.columns:
        slack_gens = {int(i) for i in net.gen.index[net.gen.slack.fillna(False).astype(bool)]}
    slack_p, slack_q = 0.0, 0.0
    for case_g in network.gen_case_index:
        table, index = loaded.element_map.gen[int(case_g)]
        if table != "ext_grid" and not (table == "gen" and index in slack_gens):
            continue
        k = pf_pos[case.gen_bus[case_g]]
        diff = (s_gen_pf[k] - s_gen[k]) * network.base_mva
        if abs(diff.real) >= abs(slack_p):
            slack_p, slack_q = float(diff.real), float(diff.imag)
    return slack_p, slack_q
