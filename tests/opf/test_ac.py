"""AC-OPF: objectives against PGLib, exact derivatives, losses objective, failures."""

from __future__ import annotations

import numpy as np
import pytest

from gridopt.network.arrays import build_network
from gridopt.network.matpower import read_matpower
from gridopt.opf.ac import ACOPFProblem, solve_ac_opf
from gridopt.opf.result import Objective
from gridopt.solvers.status import SolveStatus
from tests.conftest import BASELINE, LARGE_CASES, SMALL_CASES, pglib_path


def _network(case: str):
    return build_network(read_matpower(pglib_path(case)))


@pytest.mark.parametrize("case", SMALL_CASES)
def test_ac_objective_matches_pglib_baseline(case: str) -> None:
    sol = solve_ac_opf(_network(case))
    assert sol.status is SolveStatus.OPTIMAL, sol.report.message
    ref = BASELINE[case].ac_objective
    # BASELINE.md has 5 significant digits: allow their rounding on top of 1e-4.
    assert abs(sol.objective - ref) / ref < 1e-4 + 5e-5


@pytest.mark.slow
@pytest.mark.parametrize("case", LARGE_CASES)
def test_ac_objective_matches_pglib_baseline_large(case: str) -> None:
    sol = solve_ac_opf(_network(case))
    assert sol.status is SolveStatus.OPTIMAL, sol.report.message
    ref = BASELINE[case].ac_objective
    assert abs(sol.objective - ref) / ref < 1e-4 + 5e-5


def _random_point(problem: ACOPFProblem, rng: np.random.Generator) -> np.ndarray:
    lay = problem.layout
    x = np.zeros(lay.n_var)
    x[lay.va] = rng.uniform(-0.3, 0.3, lay.n_bus)
    x[lay.vm] = rng.uniform(0.9, 1.1, lay.n_bus)
    x[lay.pg] = rng.uniform(0, 2, lay.n_gen)
    x[lay.qg] = rng.uniform(-1, 1, lay.n_gen)
    return x


def _dense(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, (rows, cols), vals)
    return out


@pytest.mark.parametrize("case", ["pglib_opf_case14_ieee", "pglib_opf_case118_ieee"])
@pytest.mark.parametrize("objective", [Objective.COST, Objective.LOSSES])
def test_derivatives_match_finite_differences(case: str, objective: Objective) -> None:
    network = _network(case)
    problem = ACOPFProblem(network, objective)
    lay = problem.layout
    rng = np.random.default_rng(7)
    h = 1e-6
    for _ in range(2):
        x = _random_point(problem, rng)
        lam = rng.normal(size=lay.n_con)
        sigma = 0.7
        shape = (lay.n_con, lay.n_var)
        jac = _dense(*problem.jacobianstructure(), problem.jacobian(x).copy(), shape)
        hrows, hcols = problem.hessianstructure()
        assert np.all(hrows >= hcols), "Hessian pattern must be lower triangular"
        hl = _dense(hrows, hcols, problem.hessian(x, lam, sigma).copy(), (lay.n_var, lay.n_var))
        hess = hl + np.tril(hl, -1).T
        jac_fd = np.empty_like(jac)
        grad_l_fd = np.empty((lay.n_var, lay.n_var))

        def grad_lagrangian(
            z: np.ndarray, lam: np.ndarray = lam, sigma: float = sigma, shape=shape
        ) -> np.ndarray:
            j = _dense(*problem.jacobianstructure(), problem.jacobian(z).copy(), shape)
            return sigma * problem.gradient(z) + j.T @ lam

        for k in range(lay.n_var):
            e = np.zeros(lay.n_var)
            e[k] = h
            jac_fd[:, k] = (problem.constraints(x + e) - problem.constraints(x - e)) / (2 * h)
            grad_l_fd[:, k] = (grad_lagrangian(x + e) - grad_lagrangian(x - e)) / (2 * h)
            grad_fd = (problem.objective(x + e) - problem.objective(x - e)) / (2 * h)
            assert problem.gradient(x)[k] == pytest.approx(grad_fd, rel=1e-6, abs=1e-5)
        scale_j = max(1.0, np.abs(jac).max())
        scale_h = max(1.0, np.abs(hess).max())
        assert np.abs(jac - jac_fd).max() / scale_j < 1e-6
        assert np.abs(hess - grad_l_fd).max() / scale_h < 1e-6


def test_losses_objective_gives_no_more_losses_than_cost() -> None:
    network = _network("pglib_opf_case30_ieee")
    cost = solve_ac_opf(network, Objective.COST)
    losses = solve_ac_opf(network, Objective.LOSSES)
    assert losses.status is SolveStatus.OPTIMAL
    assert losses.losses_mw <= cost.losses_mw + 1e-6
    # The losses objective equals the total branch losses at the solution.
    assert losses.objective == pytest.approx(losses.losses_mw, abs=1e-5)


def test_solution_satisfies_power_balance_and_limits() -> None:
    network = _network("pglib_opf_case118_ieee")
    sol = solve_ac_opf(network)
    v = sol.vm_pu * np.exp(1j * sol.va_rad)
    s_injection = v * np.conj(network.ybus() @ v)
    s_gen = network.gen_incidence() @ (sol.pg_pu + 1j * sol.qg_pu)
    mismatch = s_gen - (network.pd_pu + 1j * network.qd_pu) - s_injection
    assert np.abs(mismatch).max() * network.base_mva < 1e-4
    assert np.all(sol.vm_pu <= network.vmax_pu + 1e-7)
    assert np.all(sol.vm_pu >= network.vmin_pu - 1e-7)
    s_from = np.hypot(sol.p_from_pu, sol.q_from_pu)
    s_to = np.hypot(sol.p_to_pu, sol.q_to_pu)
    assert np.all(np.maximum(s_from, s_to) <= network.rate_a_pu * (1 + 1e-6))


def test_lmp_equals_marginal_cost_at_unconstrained_generator() -> None:
    network = _network("pglib_opf_case14_ieee")
    sol = solve_ac_opf(network)
    assert sol.lmp_usd_per_mwh is not None
    inside = np.flatnonzero(
        (sol.pg_pu > network.pmin_pu + 1e-3) & (sol.pg_pu < network.pmax_pu - 1e-3)
        & (network.cost_c1 > 0)
    )
    assert len(inside) > 0
    for g in inside:
        marginal = (2 * network.cost_c2[g] * sol.pg_pu[g] + network.cost_c1[g]) / network.base_mva
        assert sol.lmp_usd_per_mwh[network.gen_bus[g]] == pytest.approx(marginal, rel=1e-4)


def test_infeasible_case_reports_status_not_traceback() -> None:
    case = read_matpower(pglib_path("pglib_opf_case14_ieee"))
    heavy = case.replace(pd_mw=case.pd_mw * 10, qd_mvar=case.qd_mvar * 10)
    sol = solve_ac_opf(build_network(heavy))
    assert sol.status in (SolveStatus.INFEASIBLE, SolveStatus.NOT_CONVERGED)
    assert sol.report.message


def test_result_dataset_round_trips_netcdf(tmp_path) -> None:
    import xarray as xr

    sol = solve_ac_opf(_network("pglib_opf_case14_ieee"))
    ds = sol.to_dataset()
    path = tmp_path / "out.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    assert back.attrs["status"] == "optimal"
    np.testing.assert_allclose(back["p_mw"].values, sol.pg_pu * 100)
    assert set(back.dims) == {"bus", "gen", "branch"}


def test_vector_group_phase_shifts_solve_from_auto_start() -> None:
    """150-degree transformer shifts (Dyn5): a zero-angle start is far from any solution."""
    from gridopt.network.load import load_network
    from gridopt.opf.ac import ACOptions
    from gridopt.validate.acpf import check_ac
    from tests.network.nets import tap_shift_net

    loaded = load_network(tap_shift_net())
    sol = solve_ac_opf(loaded.network, Objective.LOSSES)
    assert sol.status is SolveStatus.OPTIMAL, sol.report.message
    assert check_ac(loaded, sol).max_mismatch_mva < 1e-3
    from_case = solve_ac_opf(loaded.network, Objective.LOSSES, ACOptions(start="case"))
    assert from_case.objective == pytest.approx(sol.objective, rel=1e-6)


def test_infeasible_rating_is_named_in_the_message() -> None:
    """A rating too small for the demand behind it makes the OPF infeasible: say which."""
    case = read_matpower(pglib_path("pglib_opf_case14_ieee"))
    # Branch 0 (bus 1-2) carries ~150 MW at the optimum; 1 MVA at both ends and the parallel
    # path's limits cannot hold together with bus 1's generator carrying most of the load.
    rate = case.rate_a_mva.copy()
    rate[[0, 1]] = 1.0
    pmax = case.pmax_mw.copy()
    pmax[1:] = 0.0  # only the generator at bus 1 may produce
    sol = solve_ac_opf(build_network(case.replace(rate_a_mva=rate, pmax_mw=pmax)))
    assert sol.status in (SolveStatus.INFEASIBLE, SolveStatus.NOT_CONVERGED)
    assert "branch 0 (1-2)" in sol.report.message
    assert "rating 1 MVA" in sol.report.message
