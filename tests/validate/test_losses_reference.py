"""Independent reference for the losses objective: pandapower runopp with unit costs.

Minimising total generation with unit linear costs on every generator minimises the branch
losses when bus shunt conductances are zero (total generation = demand + branch losses +
sum g_sh V^2; PGLib case30 has no shunt conductance). The pandapower net is the NOTES.md-fixed
one of :func:`gridopt.network.case_to_pandapower.pandapower_from_case` (tap on the MATPOWER "from"
side, slack voltage free within its limits).

Two differences of pandapower's OPF are handled, not ignored:

* it limits branch *current* (``OPF_FLOW_LIM=2``) instead of PGLib's |S| at both ends, and
  ``OPF_FLOW_LIM=0`` (|S|) crashes in pandapower 3.5.6 with SciPy 1.17. The reference is only
  valid if no flow limit binds at either optimum, which the test checks (case30's loss-optimal
  point loads its branches to at most ~93 %); then both problems share the optimum;
* it ignores angle-difference limits; the test checks none binds at gridopt's optimum.

PIPS' default tolerances (1e-6 relative on cost, 5e-6 on constraint violation) leave an error
of ~5e-4 MW in the losses; the reference tightens all of them to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from gridopt.network.arrays import build_network
from gridopt.network.case_to_pandapower import pandapower_from_case
from gridopt.network.matpower import read_matpower
from gridopt.network.samples import sample_case_path
from gridopt.opf.ac import solve_ac_opf
from gridopt.opf.result import Objective
from gridopt.solvers.status import SolveStatus

PIPS_TOL = 1e-10


def runopp_min_losses_mw(case_name: str = "pglib_opf_case30_ieee") -> tuple[float, float]:
    """Losses (MW) of pandapower's runopp with unit linear costs on every generator.

    Returns
    -------
    tuple[float, float]
        The losses (sum of branch ``pl_mw``) and the largest branch loading (percent) at
        pandapower's optimum.
    """
    case = read_matpower(sample_case_path(case_name))
    assert np.all(case.gs_mw == 0), "unit costs minimise losses only without shunt conductance"
    net, _ = pandapower_from_case(case)
    net.poly_cost["cp0_eur"] = 0.0
    net.poly_cost["cp1_eur_per_mw"] = 1.0
    net.poly_cost["cp2_eur_per_mw2"] = 0.0
    pp.runopp(
        net, calculate_voltage_angles=True, init="flat", delta=1e-10,
        OPF_VIOLATION=PIPS_TOL, PDIPM_GRADTOL=PIPS_TOL, PDIPM_COMPTOL=PIPS_TOL,
        PDIPM_COSTTOL=PIPS_TOL, PDIPM_FEASTOL=PIPS_TOL,
    )
    assert net.OPF_converged
    losses = float(net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum())
    loading = float(max(net.res_line.loading_percent.max(), net.res_trafo.loading_percent.max()))
    return losses, loading


def test_losses_objective_matches_runopp_reference() -> None:
    reference_mw, pp_loading = runopp_min_losses_mw()
    network = build_network(read_matpower(sample_case_path("pglib_opf_case30_ieee")))
    solution = solve_ac_opf(network, Objective.LOSSES)
    assert solution.status is SolveStatus.OPTIMAL
    # The reference is valid only if no flow or angle limit binds at either optimum.
    s_max = np.maximum(np.hypot(solution.p_from_pu, solution.q_from_pu),
                       np.hypot(solution.p_to_pu, solution.q_to_pu))
    assert np.max(s_max / network.rate_a_pu) < 0.99
    assert pp_loading < 99.0
    dva = solution.va_rad[network.branch_from] - solution.va_rad[network.branch_to]
    assert np.all(dva > network.angmin_rad + 1e-3) and np.all(dva < network.angmax_rad - 1e-3)
    assert solution.objective == pytest.approx(reference_mw, abs=1e-5)
    assert solution.losses_mw == pytest.approx(reference_mw, abs=1e-5)
