"""AC-OPF start points (ACStart, previous solution) and Ipopt's own timing statistics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gridopt.network.arrays import build_network
from gridopt.network.matpower import read_matpower
from gridopt.opf.ac import ACOPFProblem, ACOptions, solve_ac_opf
from gridopt.opf.ac_start import ACStart
from gridopt.opf.ac_timing import parse_timing_statistics, timing_options
from gridopt.solvers.ipopt import IpoptOptions, solve_nlp
from gridopt.solvers.status import SolveStatus
from tests.conftest import BASELINE, pglib_path


def _network(case: str):
    return build_network(read_matpower(pglib_path(case)))


def test_parser_reads_a_real_ipopt_timing_table(tmp_path) -> None:
    """Solve case30 with Ipopt writing its statistics to a file, then parse that file."""
    problem = ACOPFProblem(_network("pglib_opf_case30_ieee"))
    out = tmp_path / "ipopt.out"
    result = solve_nlp(problem, problem.bounds(), IpoptOptions(extra=timing_options(out)))
    assert result.report.status is SolveStatus.OPTIMAL
    text = out.read_text()
    timing = parse_timing_statistics(text)
    assert "LinearSystemFactorization" in timing.wall_seconds
    assert "Lagrangian Hessian" in timing.wall_seconds
    assert 0.0 < timing.total_seconds <= result.report.solve_seconds + 0.01
    assert 0.0 < timing.function_eval_seconds < timing.total_seconds
    # The table's parts: its own callback timers add up to "Function Evaluations" (1 ms rounding).
    parts = ("Objective function", "Objective function gradient", "Equality constraints",
             "Inequality constraints", "Equality constraint Jacobian",
             "Inequality constraint Jacobian", "Lagrangian Hessian")
    assert sum(timing.wall_seconds[p] for p in parts) == pytest.approx(
        timing.function_eval_seconds, abs=0.008)
    assert parse_timing_statistics("EXIT: Optimal Solution Found.").wall_seconds == {}


def test_ipopt_timing_only_when_asked() -> None:
    net = _network("pglib_opf_case14_ieee")
    plain = solve_ac_opf(net)
    assert "ipopt_total_seconds" not in plain.extra
    timed = solve_ac_opf(net, options=ACOptions(ipopt_timing=True))
    assert timed.objective == pytest.approx(plain.objective, rel=1e-9)
    total = timed.extra["ipopt_total_seconds"]
    assert 0.0 < timed.extra["ipopt_function_eval_seconds"] < total
    # Summed over screening rounds: never more than the measured solve time (1 ms rounding).
    assert total <= timed.report.solve_seconds + 0.002 * timed.extra["screening_rounds"]


def test_start_option_is_an_enum_and_strings_are_converted() -> None:
    assert ACOptions(start="dc").start is ACStart.DC  # type: ignore[arg-type]
    assert ACOptions().start is ACStart.AUTO
    with pytest.raises(ValueError):
        ACOptions(start="warm")  # type: ignore[arg-type]


@pytest.mark.parametrize("start", list(ACStart))
@pytest.mark.parametrize("case", ["pglib_opf_case24_ieee_rts", "pglib_opf_case118_ieee"])
def test_every_start_reaches_the_baseline_objective(case: str, start: ACStart) -> None:
    sol = solve_ac_opf(_network(case), options=ACOptions(start=start))
    assert sol.status is SolveStatus.OPTIMAL, sol.report.message
    ref = BASELINE[case].ac_objective
    assert abs(sol.objective - ref) / ref < 1e-4 + 5e-5
    if start is ACStart.DC:
        assert sol.extra["start_seconds"] > 0.0


def test_dc_start_begins_at_the_dc_dispatch() -> None:
    from gridopt.opf.dc import solve_dc_opf

    net = _network("pglib_opf_case30_ieee")
    problem = ACOPFProblem(net)
    x0 = problem.bounds(ACStart.DC).x0
    dc = solve_dc_opf(net)
    np.testing.assert_allclose(x0[problem.layout.pg], np.clip(dc.pg_pu, net.pmin_pu, net.pmax_pu))
    np.testing.assert_allclose(x0[problem.layout.va], dc.va_rad - dc.va_rad[net.ref_bus])
    flat_pg = problem.bounds(ACStart.FLAT).x0[problem.layout.pg]
    assert not np.allclose(x0[problem.layout.pg], flat_pg)


def test_previous_solution_start_after_a_load_change() -> None:
    """Start the next hour (loads +2 %) from this hour's solution: same optimum as flat."""
    net = _network("pglib_opf_case118_ieee")
    base = solve_ac_opf(net)
    later = dataclasses.replace(net, pd_pu=net.pd_pu * 1.02, qd_pu=net.qd_pu * 1.02)
    flat = solve_ac_opf(later, options=ACOptions(start=ACStart.FLAT))
    warm = solve_ac_opf(later, initial=base)
    assert warm.status is SolveStatus.OPTIMAL and flat.status is SolveStatus.OPTIMAL
    assert warm.objective == pytest.approx(flat.objective, rel=1e-6)
    assert warm.objective > base.objective
    with pytest.raises(ValueError):
        solve_ac_opf(_network("pglib_opf_case14_ieee"), initial=base)


def test_dc_start_seeds_the_screening_with_the_limits_it_loads() -> None:
    """The DC flows name the limits to impose from round 1; the result is still exact."""
    from gridopt.opf.ac_screening import limit_violations
    from gridopt.opf.ac_start import SEED_THRESHOLD, start_point

    case = "pglib_opf_case300_ieee"
    net = _network(case)
    point = start_point(net, ACStart.DC)
    assert point.used is ACStart.DC and point.seed_flow is not None and len(point.seed_flow) > 0
    sol = solve_ac_opf(net, options=ACOptions(start=ACStart.DC))
    flat = solve_ac_opf(net, options=ACOptions(start=ACStart.FLAT))
    assert sol.objective == pytest.approx(flat.objective, rel=1e-6)
    # Every limit binding at the optimum was imposed (seeded or added by a later round).
    binding, _ = limit_violations(net, sol, 0.999)
    assert len(binding) > 0
    assert sol.extra["flow_limits_imposed"] >= max(len(point.seed_flow), len(binding))
    assert sol.extra["screening_rounds"] <= flat.extra["screening_rounds"]
    assert 0.0 < SEED_THRESHOLD < 1.0


def test_auto_start_is_dc_for_cost_and_flat_for_losses() -> None:
    from gridopt.opf.ac_start import start_point
    from gridopt.opf.result import Objective

    net = _network("pglib_opf_case30_ieee")
    assert start_point(net, ACStart.AUTO).used is ACStart.DC
    assert start_point(net, ACStart.AUTO, objective=Objective.LOSSES).used is ACStart.FLAT


def test_previous_solution_seeds_the_screening() -> None:
    from gridopt.opf.ac_screening import limit_violations

    net = _network("pglib_opf_case118_ieee")
    base = solve_ac_opf(net)
    later = dataclasses.replace(net, pd_pu=net.pd_pu * 1.02, qd_pu=net.qd_pu * 1.02)
    warm = solve_ac_opf(later, initial=base)
    assert warm.status is SolveStatus.OPTIMAL
    seeded, _ = limit_violations(net, base, ACOptions().seed_threshold)
    assert len(seeded) > 0
    assert warm.extra["flow_limits_imposed"] >= len(seeded)
    # The seeded first round is solved at full accuracy and needs no second one here.
    assert warm.extra["screening_rounds"] == 1
