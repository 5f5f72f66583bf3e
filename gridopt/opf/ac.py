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
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridopt._ext._acopf import ACKernel, lower_pairs
from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.ac_layout import (
    ACLayout,
    angle_limited_branches,
    branch_ends,
    rated_branches,
    unique_positions,
)
from gridopt.opf.ac_screening import limit_diagnosis, limit_violations
from gridopt.opf.ac_start import SEED_THRESHOLD, ACStart, start_point
from gridopt.opf.ac_timing import IpoptTiming, parse_timing_statistics, timing_options
from gridopt.opf.result import Formulation, Objective, OPFSolution
from gridopt.solvers.ipopt import (
    IPOPT_INF,
    CallbackTimes,
    IpoptOptions,
    NLPBounds,
    NLPResult,
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
        :class:`~gridopt.opf.ac_start.ACStart` of the first Ipopt solve (later screening
        rounds start from the previous round's point). A string naming a member (``"flat"``)
        is converted; any other value raises ``ValueError``.
    limit_screening
        Impose branch |S| and angle-difference limits lazily: solve with the limits found
        binding so far, add every limit at or above ``screening_threshold`` of its value at the
        solution, and re-solve (warm-started) until no limit is violated. The result is a
        solution of the full problem (all limits hold, inactive ones have zero multipliers);
        the KKT systems are much smaller because few limits bind in practice. If the loop does
        not settle in ``max_screening_rounds`` the full problem is solved.
    ipopt_timing
        Have Ipopt time itself (``print_timing_statistics``, written to a temporary file) and
        report ``ipopt_total_seconds`` and ``ipopt_function_eval_seconds`` in the solution's
        ``extra`` (summed over screening rounds). Off by default: it costs a file per solve.
    seed_threshold
        With limit screening and a DC or previous-solution start: limits loaded to this share
        or more at that point are imposed from the first round (see ``SEED_THRESHOLD``).
    """

    ipopt: IpoptOptions = field(default_factory=IpoptOptions)
    start: ACStart = ACStart.AUTO
    limit_screening: bool = True
    screening_threshold: float = 0.95
    max_screening_rounds: int = 8
    first_round_tol: float | None = 1e-4
    warm_start: bool = True
    ipopt_timing: bool = False
    seed_threshold: float = SEED_THRESHOLD

    def __post_init__(self) -> None:
        if not isinstance(self.start, ACStart):
            object.__setattr__(self, "start", ACStart(self.start))


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
        """Lay out the variables and constraints and precompute every sparsity pattern.

        Long because it sets up, in the order Ipopt sees them, the bounds, the constraint rows
        and the Jacobian and Hessian patterns that the Cython kernels fill at every call.
        """
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
        j_rows, j_cols, j_pos = unique_positions(
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
        h_r, h_c, h_pos = unique_positions(h_rows, h_cols, n_var)
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
        self.start_seconds = 0.0

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
    def bounds(
        self, start: ACStart = ACStart.FLAT, initial: OPFSolution | None = None
    ) -> NLPBounds:
        """Variable and constraint bounds and the start point (``initial`` overrides
        ``start``; see :func:`gridopt.opf.ac_start.start_point`)."""
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
        point = start_point(net, start, initial, self.objective_kind)
        x0[lay.va], x0[lay.vm] = point.va_rad, point.vm_pu
        x0[lay.pg], x0[lay.qg] = point.pg_pu, point.qg_pu
        self.start_seconds = point.seconds
        x0 = np.clip(x0, xl, xu)
        return NLPBounds(x_lower=xl, x_upper=xu, g_lower=gl, g_upper=gu, x0=x0)

    def branch_flows(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``p_from, q_from, p_to, q_to`` (per unit) of every in-service branch at ``x``."""
        n_end = 2 * self.layout.n_branch
        p, q = np.empty(n_end), np.empty(n_end)
        self.kernel.flows(np.ascontiguousarray(x), p, q)
        nl = self.layout.n_branch
        return p[:nl], q[:nl], p[nl:], q[nl:]


@dataclass
class _Totals:
    """Iterations, seconds and callback times summed over the Ipopt solves of one OPF."""

    iterations: int = 0
    solve_seconds: float = 0.0
    build_seconds: float = 0.0
    start_seconds: float = 0.0
    times: CallbackTimes = field(default_factory=CallbackTimes)
    timing: IpoptTiming | None = None

    def add(self, solved: OPFSolution, times: CallbackTimes, timing: IpoptTiming | None) -> None:
        self.iterations += solved.report.iterations
        self.solve_seconds += solved.report.solve_seconds
        self.build_seconds += solved.build_seconds
        for name, value in times.seconds.items():
            self.times.seconds[name] = self.times.seconds.get(name, 0.0) + value
        if timing is not None:
            self.timing = timing if self.timing is None else self.timing + timing


def _solve_nlp_timed(
    problem: ACOPFProblem, bounds: NLPBounds, options: ACOptions
) -> tuple[NLPResult, IpoptTiming | None]:
    """:func:`solve_nlp`, with Ipopt's timing statistics when ``options.ipopt_timing``."""
    if not options.ipopt_timing:
        return solve_nlp(problem, bounds, options.ipopt), None
    with tempfile.TemporaryDirectory(prefix="gridopt-ipopt-") as tmp:
        path = Path(tmp) / "ipopt.out"
        ipopt = dataclasses.replace(
            options.ipopt, extra=options.ipopt.extra + timing_options(path)
        )
        result = solve_nlp(problem, bounds, ipopt)
        text = path.read_text(errors="replace") if path.exists() else ""
    return result, parse_timing_statistics(text)


def _solve_once(
    network: Network,
    objective: Objective,
    options: ACOptions,
    flow_limited: IntArray | None,
    angle_limited: IntArray | None,
    x_start: FloatArray,
) -> tuple[OPFSolution, CallbackTimes, FloatArray, IpoptTiming | None]:
    """One Ipopt solve with the given limit sets, started from ``x_start`` (clipped).

    Only the primal point is carried over: warm-starting the multipliers too
    (``warm_start_init_point``) was measured to triple the iterations on case1354.
    """
    t0 = time.perf_counter()
    problem = ACOPFProblem(network, objective, flow_limited, angle_limited)
    bounds = problem.bounds(ACStart.FLAT)
    bounds = dataclasses.replace(bounds, x0=np.clip(x_start, bounds.x_lower, bounds.x_upper))
    build_seconds = time.perf_counter() - t0
    result, timing = _solve_nlp_timed(problem, bounds, options)
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
    return solution, result.callback_times, x, timing


def solve_ac_opf(
    network: Network,
    objective: Objective = Objective.COST,
    options: ACOptions | None = None,
    initial: OPFSolution | None = None,
) -> OPFSolution:
    """Solve the polar AC-OPF of ``network`` with Ipopt.

    Parameters
    ----------
    network
        Network from :func:`gridopt.network.arrays.build_network`.
    objective
        Generation cost ($/h) or total branch losses (MW).
    options
        Ipopt options, start strategy, limit screening.
    initial
        A previous solution of this network (e.g. the hour before) to start from; overrides
        ``options.start``. With limit screening, the limits at or above
        ``options.seed_threshold`` at that solution are imposed from the first round, which is
        solved at full accuracy (as with the DC start, see :class:`ACStart`).

    Returns
    -------
    OPFSolution
        Always returned, also when Ipopt fails: ``solution.status`` is ``INFEASIBLE``,
        ``NOT_CONVERGED`` or ``ERROR`` and ``solution.report.message`` carries Ipopt's reason.
        ``extra`` holds ``callback_seconds`` (time in our derivative callbacks, timed in
        Python), ``start_seconds`` (building the start point, e.g. the DC-OPF; part of
        ``build_seconds``) and, with ``options.ipopt_timing``, Ipopt's own
        ``ipopt_total_seconds`` and ``ipopt_function_eval_seconds``.

    Notes
    -----
    Long because it runs the screening loop (solve, find violated limits, re-solve) with the
    start, the timing and the status of every round in one place.

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
    point = start_point(network, options.start, initial, objective, options.seed_threshold)
    totals = _Totals(build_seconds=point.seconds, start_seconds=point.seconds)
    x0 = point.x
    if not options.limit_screening:
        full, times, _, timing = _solve_once(network, objective, options, None, None, x0)
        totals.add(full, times, timing)
        return _with_details(full, full.report, totals, rounds=1,
                             n_flow=len(rated_branches(network)),
                             n_angle=len(angle_limited_branches(network)))

    flow_set = np.zeros(0, dtype=np.int64)
    angle_set = np.zeros(0, dtype=np.int64)
    seeded = point.seed_flow is not None and point.seed_angle is not None
    if point.seed_flow is not None and point.seed_angle is not None:
        # A previous solution or the DC-OPF says which limits bind: impose them from the
        # first round, and solve that round at full accuracy.
        flow_set, angle_set = point.seed_flow, point.seed_angle
    x_start = x0
    solution: OPFSolution | None = None
    last_optimal: OPFSolution | None = None
    diagnosis = ""
    for round_no in range(1, options.max_screening_rounds + 1):
        round_options = options
        if round_no == 1 and options.first_round_tol is not None and not seeded:
            # The first round only finds which limits bind: a loose tolerance is enough.
            round_options = dataclasses.replace(
                options, ipopt=dataclasses.replace(options.ipopt, tol=options.first_round_tol)
            )
        solved, round_times, x_solved, timing = _solve_once(
            network, objective, round_options, flow_set, angle_set, x_start
        )
        totals.add(solved, round_times, timing)
        if not solved.status.ok:
            # A relaxation that is infeasible proves the full problem infeasible; any other
            # failure is retried on the full problem below.
            if solved.status is SolveStatus.INFEASIBLE:
                solution = solved
            if last_optimal is not None:
                diagnosis = limit_diagnosis(network, last_optimal)
            break
        last_optimal = solved
        violated_flow, violated_angle = limit_violations(network, solved, 1.0)
        final_accuracy = round_no > 1 or options.first_round_tol is None or seeded
        if len(violated_flow) == 0 and len(violated_angle) == 0 and final_accuracy:
            solution = solved
            break
        near_flow, near_angle = limit_violations(network, solved, options.screening_threshold)
        flow_set = np.union1d(flow_set, near_flow)
        angle_set = np.union1d(angle_set, near_angle)
        x_start = x_solved if options.warm_start else x0
        logger.debug(
            "AC-OPF screening round %d (%d iterations): %d flow and %d angle limits violated; "
            "imposing %d and %d", round_no, solved.report.iterations, len(violated_flow),
            len(violated_angle), len(flow_set), len(angle_set),
        )
    if solution is None:
        logger.info("limit screening did not settle; solving with every limit imposed")
        full, full_times, _, timing = _solve_once(network, objective, options, None, None, x0)
        totals.add(full, full_times, timing)
        solution = full
        flow_set, angle_set = rated_branches(network), angle_limited_branches(network)
    message = solution.report.message
    if diagnosis and not solution.status.ok:
        message = f"{message} {diagnosis}"
    report = SolverReport(
        solver=solution.report.solver,
        status=solution.report.status,
        message=message,
        iterations=totals.iterations,
        solve_seconds=totals.solve_seconds,
    )
    return _with_details(
        solution, report, totals, rounds=round_no, n_flow=len(flow_set), n_angle=len(angle_set)
    )


def _with_details(
    solution: OPFSolution,
    report: SolverReport,
    totals: _Totals,
    rounds: int,
    n_flow: int,
    n_angle: int,
) -> OPFSolution:
    extra = {
        "callback_seconds": totals.times.total_seconds,
        "hessian_seconds": totals.times.seconds.get("hessian", 0.0),
        "jacobian_seconds": totals.times.seconds.get("jacobian", 0.0),
        "start_seconds": totals.start_seconds,
        "screening_rounds": float(rounds),
        "flow_limits_imposed": float(n_flow),
        "angle_limits_imposed": float(n_angle),
    }
    if totals.timing is not None:
        extra["ipopt_total_seconds"] = totals.timing.total_seconds
        extra["ipopt_function_eval_seconds"] = totals.timing.function_eval_seconds
    return dataclasses.replace(
        solution, report=report, build_seconds=totals.build_seconds, extra=extra
    )
