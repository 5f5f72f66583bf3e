"""check_ac on networks built to break it: the OPF result is kept and the outcome is named.

Real Ipopt and real pandapower throughout; each network is a small edit of PGLib case14 (or a
pandapower net) that once made the check raise, silently compare wrong quantities, or both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from gridopt.errors import InputError
from gridopt.network.load import load_network
from gridopt.opf.ac import solve_ac_opf
from gridopt.opf.result import Objective
from gridopt.solvers.status import SolveStatus
from gridopt.validate._acpf_net import suspects
from gridopt.validate.acpf import ACCheckStatus, check_ac
from gridopt.workflows.opf import run_opf
from tests.validate.broken_cases import (
    MATPOWER_VARIANTS,
    write_variant,
)

MISMATCH_MVA = 1e-3


@pytest.mark.parametrize("name", sorted(MATPOWER_VARIANTS))
def test_solved_opf_is_checked_and_passes(name: str, tmp_path: Path) -> None:
    run = run_opf(write_variant(name, tmp_path))
    assert run.solution.status is SolveStatus.OPTIMAL
    assert np.isfinite(run.solution.objective)
    check = run.check
    assert check is not None
    assert check.status is ACCheckStatus.PASSED, check.message
    assert check.passed and check.converged and check.message == ""
    assert check.max_mismatch_mva < MISMATCH_MVA
    assert abs(check.losses_diff_mw) < 1e-6
    assert check.max_vm_diff_pu < 1e-6
    summary = run.summary()
    assert summary["ac_check_status"] == "passed"
    assert summary["ac_check"]["status"] == "passed"


def test_zero_reactance_line_is_solved_and_checked(tmp_path: Path) -> None:
    loaded = load_network(write_variant("zero_reactance_line", tmp_path))
    assert loaded.case.x_pu[6] == 0.0 and loaded.case.r_pu[6] > 0.0
    solution = solve_ac_opf(loaded.network, Objective.COST)
    check = check_ac(loaded, solution)
    assert check.passed
    # The branch carries power in both models (it is not dropped to make the check run).
    k = int(np.flatnonzero(loaded.network.branch_case_index == 6)[0])
    assert abs(solution.p_from_pu[k]) * loaded.network.base_mva > 1.0


def test_island_gets_a_slack_in_the_copy_only(tmp_path: Path) -> None:
    loaded = load_network(write_variant("island_with_generator", tmp_path))
    check = check_ac(loaded, solve_ac_opf(loaded.network, Objective.COST))
    assert check.passed
    assert any("gen 5 (bus 16) is its slack" in note for note in check.notes)
    assert not loaded.pandapower_net().gen.slack.any()  # the loaded net is untouched


def test_bus_without_branches_is_named_in_the_notes(tmp_path: Path) -> None:
    loaded = load_network(write_variant("bus_without_branches", tmp_path))
    check = check_ac(loaded, solve_ac_opf(loaded.network, Objective.COST))
    assert check.passed
    assert any("bus 15" in note and "left out" in note for note in check.notes)


def test_out_of_service_reference_generator_moves_the_reference(tmp_path: Path) -> None:
    loaded = load_network(write_variant("out_of_service_reference_generator", tmp_path))
    assert any("reference bus 1 has no in-service generator" in n for n in loaded.network.notes)
    check = check_ac(loaded, solve_ac_opf(loaded.network, Objective.COST))
    assert check.passed
    assert abs(check.slack_p_diff_mw) < MISMATCH_MVA


def test_equal_generator_limits_hold_in_both_models(tmp_path: Path) -> None:
    loaded = load_network(write_variant("equal_generator_limits", tmp_path))
    solution = solve_ac_opf(loaded.network, Objective.COST)
    g = int(np.flatnonzero(loaded.network.gen_case_index == 1)[0])
    assert solution.pg_pu[g] * loaded.network.base_mva == pytest.approx(40.0, abs=1e-5)
    assert check_ac(loaded, solution).passed


def test_zero_impedance_branch_is_bad_input_before_any_solve(tmp_path: Path) -> None:
    loaded = load_network(write_variant("zero_impedance_line", tmp_path))
    with pytest.raises(InputError, match=r"branch 6 \(4-5\) has zero impedance"):
        _ = loaded.network


def _case14_solution():  # type: ignore[no-untyped-def]
    loaded = load_network("pglib_opf_case14_ieee")
    return loaded, solve_ac_opf(loaded.network, Objective.COST)


def test_power_flow_that_cannot_converge_is_reported() -> None:
    loaded, solution = _case14_solution()
    pg = solution.pg_pu.copy()
    pg[1] = 100.0  # 10 GW at bus 2: no power flow exists
    check = check_ac(loaded, dataclasses.replace(solution, pg_pu=pg))
    assert check.status is ACCheckStatus.NOT_CONVERGED
    assert not check.converged and not check.passed
    assert "did not converge" in check.message
    assert check.element == "bus 2"
    assert check.max_mismatch_mva > 1e3
    assert np.isnan(check.losses_mw)
    assert check.to_dict()["losses_mw"] is None


def test_non_finite_solution_is_an_error_not_an_exception() -> None:
    loaded, solution = _case14_solution()
    vm = solution.vm_pu.copy()
    vm[3] = np.nan
    check = check_ac(loaded, dataclasses.replace(solution, vm_pu=vm))
    assert check.status is ACCheckStatus.ERROR
    assert check.element == "bus 4"
    assert "non-finite vm_pu" in check.message
    assert check.to_dict()["status"] == "error"


def test_wrong_dispatch_fails_with_the_bus_named() -> None:
    loaded, solution = _case14_solution()
    pg = solution.pg_pu.copy()
    pg[1] += 0.05
    check = check_ac(loaded, dataclasses.replace(solution, pg_pu=pg))
    assert check.status is ACCheckStatus.FAILED
    assert check.converged
    assert check.element == "bus 2"
    assert "5 MVA at bus 2" in check.message


def test_suspects_name_the_element_that_breaks_runpp() -> None:
    loaded = load_network("pglib_opf_case14_ieee")
    net = loaded.pandapower_net()
    assert suspects(net, loaded) == ("", "")
    net.gen.at[2, "vm_pu"] = np.nan
    element, cause = suspects(net, loaded)
    assert element == "gen 2 (gen 3 (bus 6))" and "non-finite vm_pu" in cause
    net = loaded.pandapower_net()
    net.ext_grid["in_service"] = False
    assert suspects(net, loaded) == ("ext_grid", "no in-service ext_grid (slack) in the net")
