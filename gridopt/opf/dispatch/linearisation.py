"""The dispatch's successive loss linearisation: build once, solve for inputs, many times.

:class:`LinearisedDispatch` is the algorithm of :mod:`gridopt.opf.dispatch.model` (Kelley's
cutting planes on the convex branch losses) around a persistent HiGHS instance. It works on the
network model's dispatch view and reaches AC power flows only through a
:class:`~gridopt.opf.dispatch.flows.FlowEvaluator`, so it imports neither pandapower nor the
layers above; ``gridopt.workflows.dispatch.Dispatcher`` wires it to a pandapower net.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from gridopt.errors import InfeasibleError, InputError, SolverError
from gridopt.network.assets import Assets, validate_assets
from gridopt.opf.dispatch.flows import FlowEvaluator, PeriodFlows, series_power_flow
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.layout import RowBlock
from gridopt.opf.dispatch.model import (
    DispatchModel,
    OperatingPoint,
    add_tangents,
    build_dispatch_model,
    input_changes,
    linearisation_changes,
    seed_tangents,
    set_inputs,
    set_linearisation_point,
    to_problem,
)
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.opf.dispatch.solution import (
    Setpoints,
    baseline_setpoints,
    carry_over_setpoints,
    read_setpoints,
)
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_persistent import PersistentHighs
from gridopt.solvers.status import SolveStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DispatchRun:
    """What one :meth:`LinearisedDispatch.solve` produced (before it becomes a Dataset).

    Attributes
    ----------
    inputs
        The inputs solved for.
    setpoints, flows
        The optimised set-points and their AC flows (final check).
    baseline_setpoints, baseline_flows
        The baseline without flexibility and its AC flows.
    balance_duals
        Duals of the active power balance rows (bus-major, ``(bus, t)``), if HiGHS gave them.
    iterations
        Linearisation rounds.
    settled
        True when the model and AC losses agreed within ``loss_tolerance``.
    seconds_by_stage
        Wall time of ``build``, ``update``, ``baseline_ac``, ``cuts``, ``solve``, ``ac_check``
        and ``total``.
    """

    inputs: DispatchInputs
    setpoints: Setpoints
    flows: PeriodFlows
    baseline_setpoints: Setpoints
    baseline_flows: PeriodFlows
    balance_duals: np.ndarray | None
    iterations: int
    settled: bool
    seconds_by_stage: dict[str, float] = field(default_factory=dict)


class LinearisedDispatch:
    """The dispatch LP built once for a grid, its assets and a horizon; solved by successive
    loss linearisation against a :class:`~gridopt.opf.dispatch.flows.FlowEvaluator`.

    The three steps are explicit: the constructor **builds** the LP and loads it into a
    persistent HiGHS instance; :meth:`solve` **solves** it for one set of inputs (the loop:
    LP, AC flows of every period, new loss tangents, until the model's and the AC losses
    agree) and returns a :class:`DispatchRun`; :func:`gridopt.opf.dispatch.result.to_result`
    turns a run into the result **Dataset**. A second set of inputs re-solves without
    rebuilding: only bounds, costs and loss coefficients change, earlier tangents stay (valid).

    Parameters
    ----------
    grid
        Dispatch view of the network (:func:`~gridopt.opf.dispatch.grid.grid_from_model`).
    assets
        Controllable assets at the grid's buses.
    evaluator
        AC power flows of set-points (``validate.dispatch.ACChecker`` with pandapower).
    n_periods, period_hours
        Horizon the model is built for; inputs must match it.
    options
        Dispatch options.
    name
        Network name for messages and outputs.
    """

    def __init__(
        self,
        grid: DispatchGrid,
        assets: Assets,
        evaluator: FlowEvaluator,
        n_periods: int,
        period_hours: float,
        options: DispatchOptions | None = None,
        name: str = "network",
    ) -> None:
        tick = time.perf_counter()
        self.options = options or DispatchOptions()
        self.name = name
        self.grid = grid
        self.assets = assets
        validate_assets(self.assets, {int(b) for b in self.grid.bus_id}, f"network {name!r}")
        self.model: DispatchModel = build_dispatch_model(
            self.grid, self.assets, n_periods, period_hours, self.options
        )
        problem = to_problem(self.model)
        self.evaluator = evaluator
        self.build_seconds = time.perf_counter() - tick
        self.solver = PersistentHighs(HighsOptions(threads=self.options.threads))
        self.load_seconds = self.solver.load(problem)
        balance = self.model.rows["p_balance"]
        self._balance_rows = np.arange(balance.start, balance.stop)
        self._solves = 0
        self._previous: Setpoints | None = None
        logger.info(
            "built %s dispatch of %s: %d periods, %d buses, %d branches (%.2f s + %.2f s load)",
            self.model.grid_model.value, name, n_periods, self.grid.n_bus, self.grid.n_branch,
            self.build_seconds, self.load_seconds,
        )

    def solve(self, inputs: DispatchInputs, where: str = "forecast") -> DispatchRun:
        """Dispatch for ``inputs`` (re-using the built model), each round checked by AC flows.

        This is the successive linearisation of the module docstring of
        :mod:`gridopt.opf.dispatch.model`; the loop is long because each round's steps
        (solve, read, evaluate, stop test, new tangents) are timed separately.

        Raises
        ------
        InputError
            If the forecast does not fit the network or the horizon.
        InfeasibleError
            If even with penalised voltage and thermal slack no dispatch exists (grid
            connection limits or storage end-state targets that cannot be met).
        SolverError
            If HiGHS fails.
        """
        t0 = time.perf_counter()
        seconds = {"build": self.build_seconds + self.load_seconds if self._solves == 0 else 0.0}
        opts = self.options
        dm = self.model
        if inputs.n_periods != dm.n_periods or not np.isclose(
            inputs.period_hours, dm.period_hours
        ):
            raise InputError(
                f"{where}: {inputs.n_periods} periods of {inputs.period_hours:g} h, but the "
                f"dispatch was built for {dm.n_periods} periods of {dm.period_hours:g} h"
            )
        tick = time.perf_counter()
        set_inputs(dm, inputs)
        rows, cols, (price_cols, costs) = input_changes(dm)
        self.solver.change_row_bounds(rows.indices, rows.lower, rows.upper)
        self.solver.change_column_bounds(cols.indices, cols.lower, cols.upper)
        self.solver.change_costs(price_cols, costs)
        seconds["update"] = time.perf_counter() - tick

        tick = time.perf_counter()
        base_sp = baseline_setpoints(dm, inputs)
        base_ac = self._check(inputs, base_sp)
        seconds["baseline_ac"] = time.perf_counter() - tick

        fast = opts.fast_refresh and dm.grid_model is GridModel.LINDISTFLOW
        tick = time.perf_counter()
        if self._previous is None:
            point = base_ac.operating_point()
            self._set_point(point)
            cuts = seed_tangents(dm, point)
        else:
            # warm start: the previous dispatch's decisions applied to this forecast are a
            # better guess of the new optimum than the baseline; linearise there. Tangents of
            # earlier forecasts stay valid (g does not depend on the forecast).
            point = self._operating_point(
                inputs, carry_over_setpoints(dm, self._previous, inputs), fast
            )[0]
            self._set_point(point)
            cuts = add_tangents(dm, point)
        self._add_rows(cuts)
        seconds["cuts"] = time.perf_counter() - tick

        solve_s = ac_s = 0.0
        settled = False
        prev_ac = float(np.nansum(point.loss_mw))
        sp: Setpoints | None = None
        duals: np.ndarray | None = None
        it = 0
        for it in range(1, opts.max_iterations + 1):
            tick = time.perf_counter()
            outcome = self.solver.solve()
            solve_s += time.perf_counter() - tick
            status = outcome.report.status
            if status is SolveStatus.INFEASIBLE:
                raise InfeasibleError(
                    f"{where}: no dispatch of network {self.name!r} exists even with voltage and "
                    "thermal limits relaxed; check the grid connection limits and the storage "
                    f"end-of-day state of charge (HiGHS: {outcome.report.message})"
                )
            if not status.ok:
                raise SolverError(
                    f"{where}: HiGHS did not solve the dispatch of {self.name!r}: "
                    f"{outcome.report.message}"
                )
            if outcome.x is None:
                raise SolverError(f"{where}: HiGHS returned no primal solution for "
                                  f"{self.name!r}: {outcome.report.message}")
            sp = read_setpoints(dm, inputs, outcome.x)
            duals = (outcome.row_duals[self._balance_rows]
                     if outcome.row_duals is not None else None)
            tick = time.perf_counter()
            point, converged = self._operating_point(inputs, sp, fast)
            ac_s += time.perf_counter() - tick
            model_loss = float(sp.p_loss_mw.sum())
            ac_loss = float(point.loss_mw.sum())
            gap = abs(model_loss - ac_loss) / max(ac_loss, 1e-9)
            step = abs(ac_loss - prev_ac) / max(ac_loss, 1e-9)
            logger.info(
                "round %d: model losses %.4f MW·periods, AC %.4f (gap %.2f %%, change %.2f %%)",
                it, model_loss, ac_loss, 100 * gap, 100 * step,
            )
            # Kelley's stopping rule: the LP's own losses (a lower model of the convex losses)
            # agree with the AC losses at its solution, so no dispatch can do much better
            if converged and gap <= opts.loss_tolerance:
                settled = True
                break
            prev_ac = ac_loss
            if it < opts.max_iterations:
                tick = time.perf_counter()
                self._set_point(point)
                self._add_rows(add_tangents(dm, point))
                seconds["cuts"] += time.perf_counter() - tick
        if not settled:
            logger.warning(
                "%s: the loss linearisation did not settle within %d rounds; the last dispatch "
                "is reported", where, opts.max_iterations,
            )
        assert sp is not None
        tick = time.perf_counter()
        ac = self._check(inputs, sp)
        seconds["ac_check"] = ac_s + time.perf_counter() - tick
        seconds["solve"] = solve_s
        seconds["total"] = time.perf_counter() - t0 + seconds["build"]
        self._solves += 1
        self._previous = sp
        return DispatchRun(inputs=inputs, setpoints=sp, flows=ac, baseline_setpoints=base_sp,
                           baseline_flows=base_ac, balance_duals=duals, iterations=it,
                           settled=settled, seconds_by_stage=seconds)

    def _add_rows(self, block: RowBlock) -> None:
        """Append a block of tangent rows to the LP HiGHS holds."""
        self.solver.add_rows(block.matrix, block.lower, block.upper)

    def _set_point(self, point: OperatingPoint) -> None:
        """Linearise around ``point`` and send the changed bounds and coefficients to HiGHS."""
        set_linearisation_point(self.model, point)
        rows, (c_rows, c_cols, values) = linearisation_changes(self.model)
        self.solver.change_row_bounds(rows.indices, rows.lower, rows.upper)
        self.solver.change_coefficients(c_rows, c_cols, values)

    def _operating_point(
        self, inputs: DispatchInputs, sp: Setpoints, fast: bool
    ) -> tuple[OperatingPoint, bool]:
        """AC branch state of set-points ``sp`` (vectorised series power flow when ``fast``)."""
        if fast:
            point, _, ok = series_power_flow(
                self.grid,
                sp.p_inject_mw - inputs.p_demand_mw - sp.p_shift_bus_mw,
                sp.q_inject_mvar - inputs.q_demand_mvar,
            )
            return point, bool(np.all(ok))
        check = self._check(inputs, sp)
        return check.operating_point(), check.all_converged

    def _check(self, inputs: DispatchInputs, sp: Setpoints) -> PeriodFlows:
        return self.evaluator.run(
            inputs.p_demand_mw + sp.p_shift_bus_mw,
            inputs.q_demand_mvar,
            sp.p_inject_mw,
            sp.q_inject_mvar,
        )
