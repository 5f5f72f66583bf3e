"""Limit screening helpers of the AC-OPF: which branch limits bind, and which to blame.

:func:`gridopt.opf.ac.solve_ac_opf` imposes branch |S| and angle-difference limits lazily
(``docs/acopf.md``, "Limit screening"); these functions find the limits at or beyond a share of
their value at a solution and name the ratings that make a problem infeasible.
"""

from __future__ import annotations

import numpy as np

from gridopt.network.arrays import Network
from gridopt.network.case import IntArray
from gridopt.opf.result import OPFSolution


def limit_violations(
    network: Network, solution: OPFSolution, threshold: float = 1.0
) -> tuple[IntArray, IntArray]:
    """Branches whose |S| or angle difference is at or beyond ``threshold`` times its limit.

    Returns the flow-limited and angle-limited branch indices (a relative tolerance of 1e-6 is
    applied when ``threshold`` is 1, matching Ipopt's constraint tolerance).
    """
    slack = 1e-6 if threshold >= 1.0 else 0.0
    s_max = np.maximum(
        np.hypot(solution.p_from_pu, solution.q_from_pu),
        np.hypot(solution.p_to_pu, solution.q_to_pu),
    )
    rated = np.isfinite(network.rate_a_pu)
    flow = rated & (s_max >= network.rate_a_pu * (threshold + slack))
    diff = solution.va_rad[network.branch_from] - solution.va_rad[network.branch_to]
    with np.errstate(invalid="ignore"):
        upper = np.isfinite(network.angmax_rad) & (
            diff >= network.angmax_rad * threshold + slack * np.abs(network.angmax_rad)
        )
        lower = np.isfinite(network.angmin_rad) & (
            diff <= network.angmin_rad * threshold - slack * np.abs(network.angmin_rad)
        )
    return np.flatnonzero(flow).astype(np.int64), np.flatnonzero(upper | lower).astype(np.int64)


def limit_diagnosis(network: Network, relaxed: OPFSolution, top: int = 5) -> str:
    """Name the branch limits that a relaxation without them overloads most.

    Used when the problem solved without (some) branch limits but fails with them: the
    limits are then the likely cause, and a planner needs to know which ratings to check.
    """
    s_max = np.maximum(
        np.hypot(relaxed.p_from_pu, relaxed.q_from_pu), np.hypot(relaxed.p_to_pu, relaxed.q_to_pu)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        loading = np.where(np.isfinite(network.rate_a_pu), s_max / network.rate_a_pu, 0.0)
    over = np.flatnonzero(loading > 1.0 + 1e-6)
    if len(over) == 0:
        return ""
    worst = over[np.argsort(-loading[over])][:top]
    labels = network.branch_label
    items = ", ".join(
        f"{labels[k]} (rating {network.rate_a_pu[k] * network.base_mva:.6g} MVA, "
        f"{loading[k] * 100:.0f}%)"
        for k in worst
    )
    return (
        f"The problem solves without branch limits but not with them: {len(over)} branch "
        f"rating(s) are exceeded at the optimum without limits, most: {items}. Check these "
        "ratings (placeholder values such as 99.999 MVA are common in converted cases)."
    )
