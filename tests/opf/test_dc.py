"""DC-OPF against PGLib's published DC objectives and against its own optimality conditions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gridopt.errors import InputError
from gridopt.network.arrays import Network, build_network
from gridopt.network.matpower import read_matpower
from gridopt.opf.dc import DCBackend, DCOptions, solve_dc_opf
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.solvers.status import SolveStatus
from tests.conftest import BASELINE, PGLIB_DIR


def _case_files() -> list[Path]:
    """Every PGLib case shipped in data/pglib (the DC test runs on all of them)."""
    return sorted(PGLIB_DIR.glob("*.m"), key=lambda p: int(re.search(r"case(\d+)", p.stem)[1]))


def _network(stem: str) -> Network:
    return build_network(read_matpower(PGLIB_DIR / f"{stem}.m"))


def test_baseline_table_covers_every_case() -> None:
    stems = {p.stem for p in _case_files()}
    assert stems, f"no PGLib cases in {PGLIB_DIR}"
    assert stems <= set(BASELINE), f"cases without a BASELINE.md row: {stems - set(BASELINE)}"


@pytest.mark.parametrize("path", _case_files(), ids=lambda p: p.stem)
def test_dc_objective_matches_pglib_baseline(path: Path) -> None:
    sol = solve_dc_opf(build_network(read_matpower(path)))
    assert sol.status is SolveStatus.OPTIMAL, sol.report.message
    reference = BASELINE[path.stem].dc_objective
    # BASELINE.md gives five significant digits: its own rounding is up to 5e-5 relative
    assert sol.objective == pytest.approx(reference, rel=1e-4)
    assert sol.generation_cost == pytest.approx(sol.objective, rel=1e-9)


def _check_feasible(sol: OPFSolution, tol: float = 1e-6) -> None:
    net = sol.network
    # power balance: generation - flows out = demand + shunt conductance (per unit)
    injection = net.gen_incidence() @ sol.pg_pu
    out_flow = np.zeros(net.n_bus)
    np.add.at(out_flow, net.branch_from, sol.p_from_pu)
    np.add.at(out_flow, net.branch_to, sol.p_to_pu)
    np.testing.assert_allclose(injection - out_flow, net.pd_pu + net.gs_pu, atol=tol)
    # thermal limits, angle-difference limits, generator limits, reference angle
    assert np.all(np.abs(sol.p_from_pu) <= net.rate_a_pu + tol)
    dtheta = sol.va_rad[net.branch_from] - sol.va_rad[net.branch_to]
    assert np.all(dtheta >= net.angmin_rad - tol)
    assert np.all(dtheta <= net.angmax_rad + tol)
    assert np.all(sol.pg_pu >= net.pmin_pu - tol)
    assert np.all(sol.pg_pu <= net.pmax_pu + tol)
    assert sol.va_rad[net.ref_bus] == 0.0
    # DC conventions: lossless, flat voltage, no reactive power
    np.testing.assert_array_equal(sol.p_to_pu, -sol.p_from_pu)
    np.testing.assert_array_equal(sol.vm_pu, 1.0)
    np.testing.assert_array_equal(sol.qg_pu, 0.0)
    assert sol.losses_mw == 0.0


@pytest.mark.parametrize(
    "stem", ["pglib_opf_case5_pjm", "pglib_opf_case118_ieee", "pglib_opf_case1354_pegase"]
)
def test_solution_is_feasible(stem: str) -> None:
    sol = solve_dc_opf(_network(stem))
    assert sol.status is SolveStatus.OPTIMAL
    assert sol.formulation is Formulation.DC and sol.objective_kind is Objective.COST
    _check_feasible(sol)


def _marginal_cost_usd_per_mwh(net: Network, pg_pu: np.ndarray) -> np.ndarray:
    return (2.0 * net.cost_c2 * pg_pu + net.cost_c1) / net.base_mva


def test_uncongested_lmp_equals_marginal_cost_of_the_marginal_generator() -> None:
    case = read_matpower(PGLIB_DIR / "pglib_opf_case14_ieee.m")
    unlimited = case.replace(
        rate_a_mva=np.zeros(case.n_branch),
        angmin_degree=np.full(case.n_branch, -360.0),
        angmax_degree=np.full(case.n_branch, 360.0),
    )
    net = build_network(unlimited)
    sol = solve_dc_opf(net)
    assert sol.status is SolveStatus.OPTIMAL and sol.lmp_usd_per_mwh is not None
    inside = (sol.pg_pu > net.pmin_pu + 1e-6) & (sol.pg_pu < net.pmax_pu - 1e-6)
    assert inside.any(), "the test needs a generator strictly between its limits"
    marginal = _marginal_cost_usd_per_mwh(net, sol.pg_pu)[inside]
    # one price everywhere in an uncongested lossless network, equal to the marginal cost
    np.testing.assert_allclose(sol.lmp_usd_per_mwh, marginal[0], rtol=1e-6)
    np.testing.assert_allclose(marginal, marginal[0], rtol=1e-6)


def test_congested_lmps_equal_marginal_cost_at_each_unconstrained_generator() -> None:
    net = _network("pglib_opf_case118_ieee")
    sol = solve_dc_opf(net)
    assert sol.lmp_usd_per_mwh is not None
    lmp = sol.lmp_usd_per_mwh
    assert np.ptp(lmp) > 1.0, "case118 is congested: prices must differ between buses"
    inside = (sol.pg_pu > net.pmin_pu + 1e-5) & (sol.pg_pu < net.pmax_pu - 1e-5)
    assert inside.sum() >= 2
    marginal = _marginal_cost_usd_per_mwh(net, sol.pg_pu)
    np.testing.assert_allclose(lmp[net.gen_bus[inside]], marginal[inside], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("stem", ["pglib_opf_case24_ieee_rts", "pglib_opf_case300_ieee"])
def test_pyomo_backend_agrees_with_matrix_backend(stem: str) -> None:
    net = _network(stem)
    fast = solve_dc_opf(net)
    pyomo = solve_dc_opf(net, options=DCOptions(backend=DCBackend.PYOMO))
    assert pyomo.status is SolveStatus.OPTIMAL
    assert pyomo.objective == pytest.approx(fast.objective, rel=1e-7)
    assert fast.lmp_usd_per_mwh is not None and pyomo.lmp_usd_per_mwh is not None
    np.testing.assert_allclose(pyomo.lmp_usd_per_mwh, fast.lmp_usd_per_mwh, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(pyomo.pg_pu, fast.pg_pu, atol=1e-5)
    _check_feasible(pyomo)


@pytest.mark.parametrize("backend", list(DCBackend), ids=lambda b: b.value)
def test_overloaded_case_is_infeasible_with_reason(backend: DCBackend) -> None:
    case = read_matpower(PGLIB_DIR / "pglib_opf_case14_ieee.m")
    net = build_network(case.replace(pd_mw=case.pd_mw * 10))
    sol = solve_dc_opf(net, options=DCOptions(backend=backend))
    assert sol.status is SolveStatus.INFEASIBLE
    assert "infeasible" in sol.report.message.lower()
    assert np.isnan(sol.objective)
    assert sol.lmp_usd_per_mwh is None
    ds = sol.to_dataset()
    assert ds.attrs["status"] == "infeasible"


def test_losses_objective_is_refused_with_advice() -> None:
    with pytest.raises(InputError, match="AC formulation"):
        solve_dc_opf(_network("pglib_opf_case5_pjm"), Objective.LOSSES)


def test_negative_quadratic_cost_is_refused() -> None:
    case = read_matpower(PGLIB_DIR / "pglib_opf_case5_pjm.m")
    c2 = case.cost_c2.copy()
    c2[1] = -0.5
    with pytest.raises(InputError, match=r"gen 1.*convex"):
        solve_dc_opf(build_network(case.replace(cost_c2=c2)))


def test_result_dataset_carries_prices_and_flows() -> None:
    sol = solve_dc_opf(_network("pglib_opf_case30_ieee"))
    ds = sol.to_dataset()
    assert ds.attrs["formulation"] == "dc" and ds.attrs["status"] == "optimal"
    assert "lmp_usd_per_mwh" in ds
    np.testing.assert_allclose(ds["p_from_mw"].values, -ds["p_to_mw"].values)
    assert float(ds["loading_percent"].max()) <= 100.0 + 1e-6
    assert sol.build_seconds > 0 and sol.report.solve_seconds > 0
