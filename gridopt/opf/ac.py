r"""Polar AC optimal power flow with exact derivatives, solved by Ipopt.

Formulation (as PowerModels' ``ACPPowerModel`` and PGLib-OPF's reference results)::

    min   sum_g c2_g pg_g^2 + c1_g pg_g + c0_g                    (Objective.COST, $/h)
      or  base_mva * (sum_g pg_g - sum_i gs_i vm_i^2) - sum_i pd_i (Objective.LOSSES, MW)
    s.t.  sum_{g at i} pg_g - pd_i - gs_i vm_i^2 - sum_{e at i} p_e(va, vm) = 0      (P balance)
          sum_{g at i} qg_g - qd_i + bs_i vm_i^2 - sum_{e at i} q_e(va, vm) = 0      (Q balance)
          p_e^2 + q_e^2 <= rate_a^2            at both ends e of every rated branch
          angmin_k <= va_f - va_t <= angmax_k  for branches with angle-difference limits
          vmin <= vm <= vmax,  pmin <= pg <= pmax,  qmin <= qg <= qmax,  va_ref = 0

with the branch-end flows ``p_e, q_e`` of the pi model (taps, phase shifts, line charging and
transformer magnetising admittance) defined in :mod:`gridopt.network.arrays`. The losses objective
equals the total active losses of all branches at any feasible point (by the P balance).

Values and derivatives come from the Cython kernel :class:`gridopt._ext._acopf.ACKernel`; this
module builds the fixed sparsity patterns and position maps once per network.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from gridopt._ext._acopf import ACKernel, lower_pairs
from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.solvers.ipopt import (
    IPOPT_INF,
    CallbackTimes,
    IpoptOptions,
    NLPBounds,
    solve_nlp,
)
from gridopt.solvers.status import SolverReport, SolveStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ACOptions:
    """Options of the AC-OPF (picklable).

    Attributes
    ----------
    ipopt
        Ipopt options.
    start
        ``"flat"`` (va = 0, vm = 1 clipped to limits, generators at mid-range), ``"case"``
        (voltages and dispatch stored in the case) or ``"auto"``: flat, except that angles start
        from the case when a transformer shifts the phase by 30 degrees or more (vector groups
        such as Dyn5 in pandapower nets, where a zero-angle start is far from any solution).
    limit_screening
        Impose branch |S| and angle-difference limits lazily: solve with the limits found
        binding so far, add every limit at or above ``screening_threshold`` of its value at the
        solution, and re-solve (warm-started) until no limit is violated. The result is a
        solution of the full problem (all limits hold, inactive ones have zero multipliers);
        the KKT systems are much smaller because few limits bind in practice. If the loop does
        not settle in ``max_screening_rounds`` the full problem is solved.
    """

    ipopt: IpoptOptions = field(default_factory=IpoptOptions)
    start: str = "auto"
    limit_screening: bool = True
    screening_threshold: float = 0.95
    max_screening_rounds: int = 8
    first_round_tol: float | None = 1e-4
    warm_start: bool = True


@dataclass(frozen=True, eq=False)
class ACLayout:
    """Index layout of the AC-OPF variables and constraints of one network."""

    n_bus: int
    n_gen: int
    n_branch: int
    lim_end: IntArray
    ang_branch: IntArray

    @property
    def va(self) -> slice:
        """Voltage angles (rad)."""
        return slice(0, self.n_bus)

    @property
    def vm(self) -> slice:
        """Voltage magnitudes (pu)."""
        return slice(self.n_bus, 2 * self.n_bus)

    @property
    def pg(self) -> slice:
        """Generator active power (pu)."""
        return slice(2 * self.n_bus, 2 * self.n_bus + self.n_gen)

    @property
    def qg(self) -> slice:
        """Generator reactive power (pu)."""
        return slice(2 * self.n_bus + self.n_gen, 2 * self.n_bus + 2 * self.n_gen)

    @property
    def n_var(self) -> int:
        """Number of variables."""
        return 2 * self.n_bus + 2 * self.n_gen

    @property
    def n_con(self) -> int:
        """Number of constraints."""
        return 2 * self.n_bus + len(self.lim_end) + len(self.ang_branch)


def branch_ends(network: Network) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Own bus, other bus, self and mutual admittance of every branch end.

    End ``k`` is the from end of branch ``k`` and end ``n_branch + k`` its to end.
    """
    f, t = network.branch_from, network.branch_to
    end_a = np.concatenate([f, t])
    end_b = np.concatenate([t, f])
    y_self = np.concatenate([network.y_ff, network.y_tt])
    y_mutual = np.concatenate([network.y_ft, network.y_tf])
    return end_a, end_b, y_self, y_mutual


def rated_branches(network: Network) -> IntArray:
    """Branches with a finite apparent-power rating."""
    return np.flatnonzero(np.isfinite(network.rate_a_pu)).astype(np.int64)


def angle_limited_branches(network: Network) -> IntArray:
    """Branches with a finite angle-difference limit."""
    return np.flatnonzero(
        np.isfinite(network.angmin_rad) | np.isfinite(network.angmax_rad)
    ).astype(np.int64)


def _unique_positions(
    rows: IntArray, cols: IntArray, n_cols: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Merge duplicate (row, col) entries: unique rows/cols and each entry's position."""
    keys = rows.astype(np.int64) * n_cols + cols.astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique // n_cols, unique % n_cols, inverse.astype(np.int64)


class ACOPFProblem:
    """Ipopt callbacks of the polar AC-OPF of one network (see the module docstring).

    Parameters
    ----------
    network
        The network.
    objective
        :attr:`Objective.COST` or :attr:`Objective.LOSSES`.
    flow_limited, angle_limited
        Branches whose |S| limits and angle-difference limits are imposed (default: every branch
        with a finite limit). Subsets are used by the limit-screening loop of
        :func:`solve_ac_opf`.
    """

    def __init__(
        self,
        network: Network,
        objective: Objective = Objective.COST,
        flow_limited: IntArray | None = None,
        angle_limited: IntArray | None = None,
    ) -> None:
        self.network = network
        self.objective_kind = objective
        nb, ng, nl = network.n_bus, network.n_gen, network.n_branch
        if flow_limited is None:
            flow_limited = rated_branches(network)
        if angle_limited is None:
            angle_limited = angle_limited_branches(network)
        rated = np.asarray(flow_limited, dtype=np.int64)
        angle_limited = np.asarray(angle_limited, dtype=np.int64)
        lim_end = np.concatenate([rated, nl + rated]).astype(np.int64)
        self.layout = layout = ACLayout(nb, ng, nl, lim_end, angle_limited.astype(np.int64))
        end_a, end_b, y_self, y_mutual = branch_ends(network)
        n_end, n_lim, n_var = 2 * nl, len(lim_end), layout.n_var
        va0, vm0, pg0, qg0 = 0, nb, 2 * nb, 2 * nb + ng

        # Jacobian pattern, group by group (see ext/_acopf.pyx for the row layout).
        local_cols = np.stack([va0 + end_a, va0 + end_b, vm0 + end_a, vm0 + end_b], axis=1)
        bus = np.arange(nb)
        gen = np.arange(ng)
        f_ang = network.branch_from[angle_limited]
        t_ang = network.branch_to[angle_limited]
        groups_rows = [
            np.repeat(end_a, 4),  # P balance vs the end's 4 variables
            np.repeat(nb + end_a, 4),  # Q balance
            bus,  # shunt in P balance
            nb + bus,  # shunt in Q balance
            network.gen_bus,  # pg in P balance
            nb + network.gen_bus,  # qg in Q balance
            np.repeat(2 * nb + np.arange(n_lim), 4),  # |S|^2 limits
            2 * nb + n_lim + np.arange(len(angle_limited)),  # angle difference, from bus
            2 * nb + n_lim + np.arange(len(angle_limited)),  # angle difference, to bus
        ]
        groups_cols = [
            local_cols.ravel(),
            local_cols.ravel(),
            vm0 + bus,
            vm0 + bus,
            pg0 + gen,
            qg0 + gen,
            local_cols[lim_end].ravel(),
            va0 + f_ang,
            va0 + t_ang,
        ]
        constants = [
            np.zeros(4 * n_end),
            np.zeros(4 * n_end),
            np.zeros(nb),
            np.zeros(nb),
            np.ones(ng),
            np.ones(ng),
            np.zeros(4 * n_lim),
            np.ones(len(angle_limited)),
            -np.ones(len(angle_limited)),
        ]
        sizes = np.cumsum([0] + [len(r) for r in groups_rows])
        j_rows, j_cols, j_pos = _unique_positions(
            np.concatenate(groups_rows), np.concatenate(groups_cols), n_var
        )
        self._jac_rows, self._jac_cols = j_rows, j_cols
        jac_const = np.bincount(j_pos, weights=np.concatenate(constants), minlength=len(j_rows))

        def group(k: int) -> IntArray:
            return j_pos[sizes[k] : sizes[k + 1]]

        # Hessian pattern (lower triangle).
        pairs = lower_pairs()
        pi = np.array([p[0] for p in pairs])
        pj = np.array([p[1] for p in pairs])
        h_a = local_cols[:, pi]
        h_b = local_cols[:, pj]
        h_rows_end = np.maximum(h_a, h_b).ravel()
        h_cols_end = np.minimum(h_a, h_b).ravel()
        h_rows = np.concatenate([h_rows_end, vm0 + bus, pg0 + gen])
        h_cols = np.concatenate([h_cols_end, vm0 + bus, pg0 + gen])
        h_r, h_c, h_pos = _unique_positions(h_rows, h_cols, n_var)
        self._hess_rows, self._hess_cols = h_r, h_c
        n_he = 10 * n_end

        self.kernel = ACKernel(
            nb,
            ng,
            end_a,
            end_b,
            y_self.real,
            y_self.imag,
            y_mutual.real,
            y_mutual.imag,
            network.pd_pu,
            network.qd_pu,
            network.gs_pu,
            network.bs_pu,
            network.gen_bus,
            lim_end,
            f_ang,
            t_ang,
            group(0).reshape(n_end, 4),
            group(1).reshape(n_end, 4),
            group(2),
            group(3),
            group(6).reshape(n_lim, 4),
            jac_const,
            h_pos[:n_he].reshape(n_end, 10),
            h_pos[n_he : n_he + nb],
            h_pos[n_he + nb :],
            len(h_r),
        )

        base = network.base_mva
        if objective is Objective.COST:
            self._grad_pg_lin = network.cost_c1.copy()
            self._grad_pg_quad = 2.0 * network.cost_c2
            self._obj_vm_diag = np.zeros(nb)
            self._obj_pg_diag = 2.0 * network.cost_c2
        else:
            self._grad_pg_lin = np.full(ng, base)
            self._grad_pg_quad = np.zeros(ng)
            self._obj_vm_diag = -2.0 * base * network.gs_pu
            self._obj_pg_diag = np.zeros(ng)
        self._jac_buf = np.empty(len(j_rows))
        self._hess_buf = np.empty(len(h_r))

    # -- cyipopt protocol -------------------------------------------------------------------
    def objective(self, x: FloatArray) -> float:
        """Objective value ($/h or MW)."""
        net, lay = self.network, self.layout
        pg = x[lay.pg]
        if self.objective_kind is Objective.COST:
            return float(np.sum((net.cost_c2 * pg + net.cost_c1) * pg + net.cost_c0))
        vm = x[lay.vm]
        return float(
            net.base_mva * (np.sum(pg) - np.dot(net.gs_pu, vm * vm) - np.sum(net.pd_pu))
        )

    def gradient(self, x: FloatArray) -> FloatArray:
        """Gradient of the objective."""
        lay = self.layout
        grad = np.zeros(lay.n_var)
        grad[lay.pg] = self._grad_pg_quad * x[lay.pg] + self._grad_pg_lin
        if self.objective_kind is Objective.LOSSES:
            grad[lay.vm] = self._obj_vm_diag * x[lay.vm]
        return grad

    def constraints(self, x: FloatArray) -> FloatArray:
        """Constraint values."""
        out = np.empty(self.layout.n_con)
        self.kernel.constraints(np.ascontiguousarray(x), out)
        return out

    def jacobian(self, x: FloatArray) -> FloatArray:
        """Jacobian values in :meth:`jacobianstructure` order."""
        self.kernel.jacobian(np.ascontiguousarray(x), self._jac_buf)
        return self._jac_buf

    def jacobianstructure(self) -> tuple[IntArray, IntArray]:
        """Row and column of every Jacobian value."""
        return self._jac_rows, self._jac_cols

    def hessian(self, x: FloatArray, lagrange: FloatArray, obj_factor: float) -> FloatArray:
        """Lower-triangle values of the Hessian of the Lagrangian."""
        self.kernel.hessian(
            np.ascontiguousarray(x),
            np.ascontiguousarray(lagrange),
            float(obj_factor),
            self._obj_vm_diag,
            self._obj_pg_diag,
            self._hess_buf,
        )
        return self._hess_buf

    def hessianstructure(self) -> tuple[IntArray, IntArray]:
        """Row and column (row >= column) of every Hessian value."""
        return self._hess_rows, self._hess_cols

    # -- bounds, start point and results ----------------------------------------------------
    def bounds(self, start: str = "flat") -> NLPBounds:
        """Variable and constraint bounds and the start point."""
        net, lay = self.network, self.layout

        def finite(a: FloatArray, fill: float) -> FloatArray:
            return np.where(np.isfinite(a), a, fill)

        xl = np.full(lay.n_var, -IPOPT_INF)
        xu = np.full(lay.n_var, IPOPT_INF)
        xl[net.ref_bus] = xu[net.ref_bus] = 0.0
        xl[lay.vm], xu[lay.vm] = net.vmin_pu, net.vmax_pu
        xl[lay.pg], xu[lay.pg] = finite(net.pmin_pu, -IPOPT_INF), finite(net.pmax_pu, IPOPT_INF)
        xl[lay.qg], xu[lay.qg] = finite(net.qmin_pu, -IPOPT_INF), finite(net.qmax_pu, IPOPT_INF)
        nb, n_lim = net.n_bus, len(lay.lim_end)
        gl = np.zeros(lay.n_con)
        gu = np.zeros(lay.n_con)
        rate = net.rate_a_pu[lay.lim_end % lay.n_branch] if n_lim else np.zeros(0)
        gl[2 * nb : 2 * nb + n_lim] = -IPOPT_INF
        gu[2 * nb : 2 * nb + n_lim] = rate**2
        gl[2 * nb + n_lim :] = finite(net.angmin_rad[lay.ang_branch], -IPOPT_INF)
        gu[2 * nb + n_lim :] = finite(net.angmax_rad[lay.ang_branch], IPOPT_INF)

        x0 = np.zeros(lay.n_var)
        if start == "auto":
            large_shift = np.any(np.abs(net.shift_rad) >= np.deg2rad(30.0) - 1e-9)
            start = "flat"
            if large_shift:
                x0[lay.va] = net.va0_rad - net.va0_rad[net.ref_bus]
        if start == "case":
            x0[lay.va] = net.va0_rad - net.va0_rad[net.ref_bus]
            x0[lay.vm] = np.clip(net.vm0_pu, net.vmin_pu, net.vmax_pu)
            case = net.case
            x0[lay.pg] = case.pg_mw[net.gen_case_index] / net.base_mva
            x0[lay.qg] = case.qg_mvar[net.gen_case_index] / net.base_mva
        elif start == "flat":
            x0[lay.vm] = np.clip(1.0, net.vmin_pu, net.vmax_pu)
            x0[lay.pg] = _midpoint(net.pmin_pu, net.pmax_pu)
            x0[lay.qg] = _midpoint(net.qmin_pu, net.qmax_pu)
        else:
            raise ValueError(f"unknown start {start!r}; use 'auto', 'flat' or 'case'")
        x0 = np.clip(x0, xl, xu)
        return NLPBounds(x_lower=xl, x_upper=xu, g_lower=gl, g_upper=gu, x0=x0)

    def branch_flows(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``p_from, q_from, p_to, q_to`` (per unit) of every in-service branch at ``x``."""
        n_end = 2 * self.layout.n_branch
        p, q = np.empty(n_end), np.empty(n_end)
        self.kernel.flows(np.ascontiguousarray(x), p, q)
        nl = self.layout.n_branch
        return p[:nl], q[:nl], p[nl:], q[nl:]


def _midpoint(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Mid-range start values; a one-sided or free range starts at the finite bound or 0."""
    lo_f, hi_f = np.isfinite(lo), np.isfinite(hi)
    mid = np.where(lo_f & hi_f, (lo + hi) / 2.0, 0.0)
    mid = np.where(lo_f & ~hi_f, np.maximum(lo, 0.0), mid)
    return np.where(~lo_f & hi_f, np.minimum(hi, 0.0), mid)


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


def _solve_once(
    network: Network,
    objective: Objective,
    options: ACOptions,
    flow_limited: IntArray | None,
    angle_limited: IntArray | None,
    x_start: FloatArray | None,
) -> tuple[OPFSolution, CallbackTimes, FloatArray]:
    """One Ipopt solve with the given limit sets, started from ``x_start`` when given.

    Only the primal point is carried over: warm-starting the multipliers too
    (``warm_start_init_point``) was measured to triple the iterations on case1354.
    """
    t0 = time.perf_counter()
    problem = ACOPFProblem(network, objective, flow_limited, angle_limited)
    bounds = problem.bounds(options.start)
    if x_start is not None:
        bounds = dataclasses.replace(bounds, x0=np.clip(x_start, bounds.x_lower, bounds.x_upper))
    build_seconds = time.perf_counter() - t0
    result = solve_nlp(problem, bounds, options.ipopt)
    x = result.x
    lay = problem.layout
    p_f, q_f, p_t, q_t = problem.branch_flows(x)
    lmp = None
    if objective is Objective.COST:
        # Envelope theorem: d(cost)/d(pd_i) = -lambda_i ($/h per pu) -> $/MWh.
        lmp = -result.mult_g[: network.n_bus] / network.base_mva
    solution = OPFSolution(
        network=network,
        formulation=Formulation.AC,
        objective_kind=objective,
        report=result.report,
        objective=result.objective,
        vm_pu=x[lay.vm].copy(),
        va_rad=x[lay.va].copy(),
        pg_pu=x[lay.pg].copy(),
        qg_pu=x[lay.qg].copy(),
        p_from_pu=p_f,
        q_from_pu=q_f,
        p_to_pu=p_t,
        q_to_pu=q_t,
        lmp_usd_per_mwh=lmp,
        build_seconds=build_seconds,
    )
    return solution, result.callback_times, x


def solve_ac_opf(
    network: Network,
    objective: Objective = Objective.COST,
    options: ACOptions | None = None,
) -> OPFSolution:
    """Solve the polar AC-OPF of ``network`` with Ipopt.

    Parameters
    ----------
    network
        Network from :func:`gridopt.network.arrays.build_network`.
    objective
        Generation cost ($/h) or total branch losses (MW).
    options
        Ipopt options and start point.

    Returns
    -------
    OPFSolution
        Always returned, also when Ipopt fails: ``solution.status`` is ``INFEASIBLE``,
        ``NOT_CONVERGED`` or ``ERROR`` and ``solution.report.message`` carries Ipopt's reason.
        ``extra`` holds ``callback_seconds`` (time in our derivative callbacks).

    Examples
    --------
    >>> from gridopt.network.arrays import build_network
    >>> from gridopt.network.matpower import read_matpower
    >>> from gridopt.network.samples import sample_case_path
    >>> net = build_network(read_matpower(sample_case_path("pglib_opf_case14_ieee")))
    >>> sol = solve_ac_opf(net)
    >>> sol.status.value, round(sol.objective, 1)
    ('optimal', 2178.1)
    """
    options = options or ACOptions()
    if not options.limit_screening:
        full, times, _ = _solve_once(network, objective, options, None, None, None)
        return _with_details(full, full.report, times, rounds=1,
                             n_flow=len(rated_branches(network)),
                             n_angle=len(angle_limited_branches(network)))

    flow_set = np.zeros(0, dtype=np.int64)
    angle_set = np.zeros(0, dtype=np.int64)
    x_start: FloatArray | None = None
    solution: OPFSolution | None = None
    last_optimal: OPFSolution | None = None
    diagnosis = ""
    iterations, seconds, build = 0, 0.0, 0.0
    times = CallbackTimes()
    for round_no in range(1, options.max_screening_rounds + 1):
        round_options = options
        if round_no == 1 and options.first_round_tol is not None:
            # The first round only finds which limits bind: a loose tolerance is enough.
            round_options = dataclasses.replace(
                options, ipopt=dataclasses.replace(options.ipopt, tol=options.first_round_tol)
            )
        solved, round_times, x_solved = _solve_once(
            network, objective, round_options, flow_set, angle_set, x_start
        )
        iterations += solved.report.iterations
        seconds += solved.report.solve_seconds
        build += solved.build_seconds
        for name, value in round_times.seconds.items():
            times.seconds[name] = times.seconds.get(name, 0.0) + value
        if not solved.status.ok:
            # A relaxation that is infeasible proves the full problem infeasible; any other
            # failure is retried on the full problem below.
            if solved.status is SolveStatus.INFEASIBLE:
                solution = solved
            if last_optimal is not None:
                diagnosis = _limit_diagnosis(network, last_optimal)
            break
        last_optimal = solved
        violated_flow, violated_angle = limit_violations(network, solved, 1.0)
        final_accuracy = round_no > 1 or options.first_round_tol is None
        if len(violated_flow) == 0 and len(violated_angle) == 0 and final_accuracy:
            solution = solved
            break
        near_flow, near_angle = limit_violations(network, solved, options.screening_threshold)
        flow_set = np.union1d(flow_set, near_flow)
        angle_set = np.union1d(angle_set, near_angle)
        x_start = x_solved if options.warm_start else None
        logger.debug(
            "AC-OPF screening round %d: %d flow and %d angle limits violated; imposing %d and %d",
            round_no, len(violated_flow), len(violated_angle), len(flow_set), len(angle_set),
        )
    if solution is None:
        logger.info("limit screening did not settle; solving with every limit imposed")
        full, full_times, _ = _solve_once(network, objective, options, None, None, None)
        iterations += full.report.iterations
        seconds += full.report.solve_seconds
        build += full.build_seconds
        for name, value in full_times.seconds.items():
            times.seconds[name] = times.seconds.get(name, 0.0) + value
        solution = full
        flow_set, angle_set = rated_branches(network), angle_limited_branches(network)
    message = solution.report.message
    if diagnosis and not solution.status.ok:
        message = f"{message} {diagnosis}"
    report = SolverReport(
        solver=solution.report.solver,
        status=solution.report.status,
        message=message,
        iterations=iterations,
        solve_seconds=seconds,
    )
    return _with_details(
        solution, report, times, rounds=round_no, n_flow=len(flow_set), n_angle=len(angle_set),
        build_seconds=build,
    )


def _limit_diagnosis(network: Network, relaxed: OPFSolution, top: int = 5) -> str:
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


def _with_details(
    solution: OPFSolution,
    report: SolverReport,
    times: CallbackTimes,
    rounds: int,
    n_flow: int,
    n_angle: int,
    build_seconds: float | None = None,
) -> OPFSolution:
    return dataclasses.replace(
        solution,
        report=report,
        build_seconds=solution.build_seconds if build_seconds is None else build_seconds,
        extra={
            "callback_seconds": times.total_seconds,
            "hessian_seconds": times.seconds.get("hessian", 0.0),
            "jacobian_seconds": times.seconds.get("jacobian", 0.0),
            "screening_rounds": float(rounds),
            "flow_limits_imposed": float(n_flow),
            "angle_limits_imposed": float(n_angle),
        },
    )
