"""check_ac: the pandapower power-flow check of OPF dispatches."""

from __future__ import annotations

import json

import numpy as np
import pandapower as pp
import pytest

from gridopt.network.load import LoadedNetwork, load_network
from gridopt.opf.ac import ACOptions, ACStart, solve_ac_opf
from gridopt.opf.dc import solve_dc_opf
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.solvers.status import SolverReport, SolveStatus
from gridopt.validate.acpf import ACCheckStatus, check_ac
from tests.network.nets import switch_net, tap_shift_net

MISMATCH_MVA = 1e-3
LOSSES_MW = 1e-6


def solution_from_runpp(loaded: LoadedNetwork) -> OPFSolution:
    """A feasible AC operating point: pandapower's own power flow mapped onto the network.

    Branch flows are computed with gridopt's branch admittances, so the comparison of losses
    checks that both sides evaluate the same equations at the same point.
    """
    net = loaded.pandapower_net()
    pp.runpp(net, calculate_voltage_angles=True, voltage_depend_loads=False, init="dc",
             tolerance_mva=1e-10)
    network = loaded.network
    case, emap = loaded.case, loaded.element_map
    vm = np.empty(network.n_bus)
    va = np.empty(network.n_bus)
    for i, case_bus in enumerate(network.bus_case_index):
        table, index = emap.bus[case_bus][0]
        assert table == "bus"
        vm[i] = net.res_bus.vm_pu.at[index]
        va[i] = np.deg2rad(net.res_bus.va_degree.at[index])
    pg = np.empty(network.n_gen)
    qg = np.empty(network.n_gen)
    for g, case_g in enumerate(network.gen_case_index):
        table, index = emap.gen[case_g]
        sign = -1.0 if table in ("load", "storage") else 1.0
        pg[g] = sign * net[f"res_{table}"].p_mw.at[index] / network.base_mva
        qg[g] = sign * net[f"res_{table}"].q_mvar.at[index] / network.base_mva
    v = vm * np.exp(1j * va)
    vf, vt = v[network.branch_from], v[network.branch_to]
    s_from = vf * np.conj(network.y_ff * vf + network.y_ft * vt)
    s_to = vt * np.conj(network.y_tf * vf + network.y_tt * vt)
    report = SolverReport("pandapower runpp", SolveStatus.OPTIMAL, "power flow", 0, 0.0)
    assert case is network.case
    return OPFSolution(
        network=network, formulation=Formulation.AC, objective_kind=Objective.COST,
        report=report, objective=0.0, vm_pu=vm, va_rad=va, pg_pu=pg, qg_pu=qg,
        p_from_pu=s_from.real, q_from_pu=s_from.imag, p_to_pu=s_to.real, q_to_pu=s_to.imag,
    )


@pytest.mark.parametrize("spec", ["pglib_opf_case30_ieee", "case33bw"])
def test_power_flow_point_passes(spec: str) -> None:
    loaded = load_network(spec)
    check = check_ac(loaded, solution_from_runpp(loaded))
    assert check.passed and check.converged
    assert check.max_mismatch_mva < 1e-6
    assert abs(check.losses_diff_mw) < 1e-6
    assert check.max_vm_diff_pu < 1e-8


def test_perturbed_point_fails_where_it_was_perturbed() -> None:
    loaded = load_network("pglib_opf_case30_ieee")
    sol = solution_from_runpp(loaded)
    pg = sol.pg_pu.copy()
    pg[2] += 0.05  # 5 MW more than the power flow allows at that bus
    bad = OPFSolution(**{**{f: getattr(sol, f) for f in sol.__dataclass_fields__}, "pg_pu": pg})
    check = check_ac(loaded, bad)
    assert check.max_mismatch_mva == pytest.approx(5.0, rel=1e-6)
    bus = loaded.case.gen_bus[loaded.network.gen_case_index[2]]
    assert check.max_mismatch_bus == loaded.case.bus_label[bus]


AC_CASES = [
    ("pglib_opf_case14_ieee", ACOptions()),
    ("pglib_opf_case30_ieee", ACOptions()),
    ("pglib_opf_case118_ieee", ACOptions()),
    ("case118", ACOptions()),
    ("case33bw", ACOptions()),
]


@pytest.mark.parametrize(("spec", "options"), AC_CASES, ids=[c for c, _ in AC_CASES])
@pytest.mark.parametrize("objective", [Objective.COST, Objective.LOSSES])
def test_ac_opf_results_pass(spec: str, options: ACOptions, objective: Objective) -> None:
    loaded = load_network(spec)
    solution = solve_ac_opf(loaded.network, objective, options)
    assert solution.status is SolveStatus.OPTIMAL
    check = check_ac(loaded, solution)
    assert check.status is ACCheckStatus.PASSED, check.message
    assert check.max_mismatch_mva < MISMATCH_MVA
    assert abs(check.losses_diff_mw) < LOSSES_MW
    assert abs(check.slack_p_diff_mw) < MISMATCH_MVA


@pytest.mark.parametrize("make", [tap_shift_net, switch_net])
def test_ac_opf_on_nets_with_taps_shifts_switches_and_aux_buses(make: object) -> None:
    loaded = load_network(make())  # type: ignore[operator]
    # Vector-group shifts of 150 degrees need the case's shift-aware start angles.
    solution = solve_ac_opf(loaded.network, Objective.LOSSES, ACOptions(start=ACStart.CASE))
    assert solution.status is SolveStatus.OPTIMAL
    check = check_ac(loaded, solution)
    assert check.converged
    assert check.max_mismatch_mva < MISMATCH_MVA
    assert abs(check.losses_diff_mw) < LOSSES_MW
    assert check.max_va_diff_degree < 1e-6


def test_controllable_sgen_dispatch_is_written() -> None:
    loaded = load_network(tap_shift_net())
    solution = solve_ac_opf(loaded.network, Objective.COST, ACOptions(start=ACStart.CASE))
    g = [loaded.element_map.gen[i] for i in loaded.network.gen_case_index].index(("sgen", 0))
    assert solution.pg_pu[g] * loaded.network.base_mva > 2.5  # moved away from the 2 MW set-point
    check = check_ac(loaded, solution)
    assert check.max_mismatch_mva < MISMATCH_MVA


def test_dc_solution_is_reported_not_rejected() -> None:
    loaded = load_network("pglib_opf_case14_ieee")
    before = loaded.pandapower_net().gen.p_mw.to_numpy().copy()
    check = check_ac(loaded, solve_dc_opf(loaded.network))
    assert check.converged
    assert check.max_mismatch_mva > 1.0  # the DC model ignores losses and reactive power
    assert check.status is ACCheckStatus.FAILED and "mismatch" in check.message
    assert check.losses_mw > 1.0 and check.opf_losses_mw == 0.0
    payload = json.loads(json.dumps(check.to_dict()))
    assert payload["max_mismatch_mva"] == pytest.approx(check.max_mismatch_mva)
    # The loaded network's pandapower net is untouched.
    np.testing.assert_array_equal(loaded.pandapower_net().gen.p_mw.to_numpy(), before)
