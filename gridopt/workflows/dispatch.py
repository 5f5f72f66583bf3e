"""Multi-period loss-minimising dispatch, checked period by period with an AC power flow.

:class:`Dispatcher` builds the LP once for a network, its assets and a horizon, and keeps a
persistent HiGHS instance; :meth:`Dispatcher.solve` takes a ``(time, bus)`` forecast, runs the
successive loss linearisation (LP solve, ``pandapower.runpp`` of every period, new loss tangents)
until the losses settle, and returns a :class:`DispatchResult` holding the optimised and
baseline (no flexibility) schedules as one ``xarray.Dataset``. A second forecast for the same
network re-solves without rebuilding: only mutable parameters change.

:func:`dispatch` is the one-call form.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandapower as pp
import pyomo.environ as pyo
import xarray as xr

from gridopt.errors import InfeasibleError, InputError, SolverError
from gridopt.ingest.io import write_netcdf
from gridopt.network.assets import (
    Assets,
    assets_from_toml,
    merge_assets,
    validate_assets,
)
from gridopt.network.pandapower_model import assets_from_net, model_from_pandapower
from gridopt.opf.dispatch.grid import DispatchGrid, grid_from_model
from gridopt.opf.dispatch.inputs import DispatchInputs, inputs_from_forecast
from gridopt.opf.dispatch.model import (
    DispatchModel,
    OperatingPoint,
    add_tangents,
    build_dispatch_model,
    input_rows,
    linearisation_rows,
    seed_tangents,
    set_inputs,
    set_linearisation_point,
)
from gridopt.opf.dispatch.options import DispatchOptions, GridModel
from gridopt.opf.dispatch.solution import (
    Setpoints,
    baseline_setpoints,
    carry_over_setpoints,
    read_setpoints,
)
from gridopt.solvers.highs import HighsOptions, HighsSolver
from gridopt.solvers.status import SolveStatus
from gridopt.validate.dispatch import (
    ACCheck,
    ACChecker,
    Violation,
    ViolationKind,
    ViolationSource,
    ac_violations,
    series_power_flow,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DispatchResult:
    """Outcome of one dispatch.

    Attributes
    ----------
    dataset
        ``(time, bus | branch | storage | pv | flexible_load | generator)`` results of the
        optimised dispatch (AC-checked values without suffix, LP values with ``_model``) and of
        the baseline (``_baseline``); totals and status in ``attrs``.
    status
        ``OPTIMAL`` when every limit could be met, ``INFEASIBLE`` when the LP needed slack on
        voltage or thermal limits (the dispatch is still the least-violating one).
    violations
        Limits broken by the optimised dispatch: LP slack (``source = "model"``) and the AC
        check (``source = "ac"``).
    baseline_violations
        Limits the AC check finds broken by the baseline.
    iterations
        Linearisation rounds.
    settled
        True when the model and AC losses agreed within ``loss_tolerance`` before
        ``max_iterations``.
    seconds_by_stage
        Wall time of ``build``, ``baseline_ac``, ``solve`` (LP), ``ac_check`` and ``total``.
    """

    dataset: xr.Dataset
    status: SolveStatus
    violations: tuple[Violation, ...]
    baseline_violations: tuple[Violation, ...]
    iterations: int
    settled: bool
    seconds_by_stage: dict[str, float] = field(default_factory=dict)

    @property
    def losses_mwh(self) -> float:
        """AC-checked network energy losses of the optimised dispatch."""
        return float(self.dataset.attrs["losses_optimised_mwh"])

    @property
    def baseline_losses_mwh(self) -> float:
        """AC-checked network energy losses of the baseline."""
        return float(self.dataset.attrs["losses_baseline_mwh"])

    def summary(self) -> dict[str, Any]:
        """Totals for reports and ``--json`` output."""
        a = self.dataset.attrs
        keys = (
            "network", "grid_model", "periods", "period_hours", "losses_baseline_mwh",
            "losses_optimised_mwh", "losses_model_mwh", "loss_reduction_percent",
            "storage_losses_mwh", "curtailed_mwh", "shifted_mwh", "ac_checked", "settled",
            "iterations",
        )
        out: dict[str, Any] = {"status": self.status.value}
        out.update({k: a[k] for k in keys})
        out["ac_checked"] = bool(out["ac_checked"])
        out["settled"] = bool(out["settled"])
        out["voltage_violations_baseline"] = sum(
            v.kind.startswith("voltage") for v in self.baseline_violations
        )
        out["voltage_violations_optimised"] = sum(
            v.kind.startswith("voltage") and v.source == "ac" for v in self.violations
        )
        out["thermal_violations_optimised"] = sum(
            v.kind is ViolationKind.THERMAL and v.source is ViolationSource.AC
            for v in self.violations
        )
        out["violations"] = [v.as_dict() for v in self.violations]
        out["seconds_by_stage"] = dict(self.seconds_by_stage)
        return out


class Dispatcher:
    """A dispatch model built once for ``net`` and ``assets`` over ``n_periods`` periods.

    Parameters
    ----------
    net
        pandapower net (not modified).
    assets
        Controllable assets; default: those declared in the net (:func:`assets_from_net`).
    n_periods, period_hours
        Horizon the model is built for; forecasts must match it.
    options
        Dispatch options.
    name
        Network name for messages and outputs.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        n_periods: int,
        period_hours: float,
        assets: Assets | None = None,
        options: DispatchOptions | None = None,
        name: str = "network",
    ) -> None:
        tick = time.perf_counter()
        self.options = options or DispatchOptions()
        self.name = name
        self.grid: DispatchGrid = grid_from_model(model_from_pandapower(net, name))
        self.assets = assets if assets is not None else assets_from_net(net)
        validate_assets(self.assets, {int(b) for b in self.grid.bus_id}, f"network {name!r}")
        self.model: DispatchModel = build_dispatch_model(
            self.grid, self.assets, n_periods, period_hours, self.options
        )
        self.solver = HighsSolver(
            HighsOptions(threads=self.options.threads), manual_updates=True
        )
        self.checker = ACChecker(net, self.grid)
        self.build_seconds = time.perf_counter() - tick
        self.load_seconds = self.solver.load(self.model.model)
        tick = time.perf_counter()
        m = self.model.model
        self._input_rows = input_rows(self.model)
        self._linearisation_rows = linearisation_rows(self.model)
        self._balance_rows = self.solver.row_indices(m.p_balance.values())
        self._columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for var in m.component_objects(pyo.Var, descend_into=False):
            self._columns[var.name] = self._column_map(var)
        self.load_seconds += time.perf_counter() - tick
        self._solves = 0
        self._previous: Setpoints | None = None
        logger.info(
            "built %s dispatch of %s: %d periods, %d buses, %d branches (%.2f s + %.2f s load)",
            self.model.grid_model.value, name, n_periods, self.grid.n_bus, self.grid.n_branch,
            self.build_seconds, self.load_seconds,
        )

    def _column_map(self, var: pyo.Var) -> tuple[np.ndarray, np.ndarray]:
        """HiGHS columns of ``var``'s elements (-1 where HiGHS has none: fixed or unused)."""
        cols = self.solver.column_indices(var.values(), missing=-1)
        fallback = np.array([pyo.value(v, exception=False) or 0.0 for v in var.values()])
        return cols, fallback

    def _primal(self, x: np.ndarray) -> Any:
        def read(var: pyo.Var) -> np.ndarray:
            cols, fallback = self._columns[var.name]
            return np.where(cols >= 0, x[np.maximum(cols, 0)], fallback)

        return read

    def solve(self, forecast: xr.Dataset, where: str = "forecast") -> DispatchResult:
        """Dispatch against ``forecast`` (re-using the built model) and check it with AC flows.

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
        inputs = inputs_from_forecast(forecast, self.grid, self.assets, where)
        if inputs.n_periods != dm.n_periods or not np.isclose(
            inputs.period_hours, dm.period_hours
        ):
            raise InputError(
                f"{where}: {inputs.n_periods} periods of {inputs.period_hours:g} h, but the "
                f"dispatch was built for {dm.n_periods} periods of {dm.period_hours:g} h"
            )
        tick = time.perf_counter()
        set_inputs(dm, inputs)
        self.solver.push_parameters(self._input_rows, objective=True)
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
            rows = seed_tangents(dm, point)
        else:
            # warm start: the previous dispatch's decisions applied to this forecast are a
            # better guess of the new optimum than the baseline; linearise there. Tangents of
            # earlier forecasts stay valid (g does not depend on the forecast).
            point = self._operating_point(
                inputs, carry_over_setpoints(dm, self._previous, inputs), fast
            )[0]
            self._set_point(point)
            rows = add_tangents(dm, point)
        self.solver.add_constraints(rows)
        seconds["cuts"] = time.perf_counter() - tick

        solve_s = ac_s = 0.0
        settled = False
        prev_ac = float(np.nansum(point.loss_mw))
        sp: Setpoints | None = None
        duals: np.ndarray | None = None
        it = 0
        for it in range(1, opts.max_iterations + 1):
            tick = time.perf_counter()
            outcome = self.solver.solve(dm.model, load_solution=False)
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
            x = self.solver.primal_values(np.arange(self._n_columns()))
            sp = read_setpoints(dm, inputs, self._primal(x))
            duals = self.solver.row_duals(self._balance_rows)
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
                self.solver.add_constraints(add_tangents(dm, point))
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
        return _assemble(self, inputs, sp, ac, base_sp, base_ac, duals, it, settled, seconds)

    def _n_columns(self) -> int:
        return self.solver.n_columns()

    def _set_point(self, point: OperatingPoint) -> None:
        """Linearise around ``point`` and push the changed rows to HiGHS."""
        set_linearisation_point(self.model, point)
        self.solver.push_parameters(self._linearisation_rows, objective=False)

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

    def _check(self, inputs: DispatchInputs, sp: Setpoints) -> ACCheck:
        return self.checker.run(
            inputs.p_demand_mw + sp.p_shift_bus_mw,
            inputs.q_demand_mvar,
            sp.p_inject_mw,
            sp.q_inject_mvar,
        )


def _model_violations(
    dm: DispatchModel, sp: Setpoints, times: np.ndarray, tol: float
) -> list[Violation]:
    grid = dm.grid
    labels = [str(t) for t in times]
    out: list[Violation] = []
    vmin2, vmax2 = grid.vmin_pu**2, grid.vmax_pu**2
    for t, n in np.argwhere(sp.v_low_pu2 > tol):
        out.append(Violation(ViolationKind.VOLTAGE_LOW, ViolationSource.MODEL,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(np.sqrt(max(vmin2[n] - sp.v_low_pu2[t, n], 0.0))),
                             float(grid.vmin_pu[n])))
    for t, n in np.argwhere(sp.v_high_pu2 > tol):
        out.append(Violation(ViolationKind.VOLTAGE_HIGH, ViolationSource.MODEL,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(np.sqrt(vmax2[n] + sp.v_high_pu2[t, n])),
                             float(grid.vmax_pu[n])))
    for t, line in np.argwhere(sp.s_over_mva > tol):
        rate = float(grid.rate_mva[line])
        out.append(Violation(ViolationKind.THERMAL, ViolationSource.MODEL,
                             int(t), labels[t], grid.branch_label[line],
                             float(100.0 * (rate + sp.s_over_mva[t, line]) / rate), 100.0))
    return out


#: The LP's losses may exceed the AC losses by this factor (plus 1 kW) in a period before the
#: dispatch counts as dumping energy into its loss variables.
LOSS_INFLATION_FACTOR = 1.25


def _loss_inflation(
    sp: Setpoints, ac: ACCheck, times: np.ndarray, name: str
) -> list[Violation]:
    """Periods whose LP losses far exceed the AC losses of the same dispatch.

    The loss variables are bounded below by tangents of the convex losses, so at an optimum they
    sit on the tangents and under-estimate the AC losses slightly. When the LP cannot otherwise
    balance a period (surplus PV that the grid connection may not export and that costs more to
    curtail than to "lose"), it inflates them instead: the dispatch then looks balanced but is
    not. Such periods are reported as violations, which makes the status infeasible.
    """
    model = np.asarray(sp.p_loss_mw).sum(axis=1)
    actual = np.asarray(ac.losses_mw, dtype=float)
    bad = np.flatnonzero(model > LOSS_INFLATION_FACTOR * np.nan_to_num(actual) + 1e-3)
    if len(bad):
        logger.warning(
            "%s: in %d period(s) the LP balances power by inflating its losses (up to %.3f MW "
            "against %.3f MW in the AC check): the surplus has nowhere to go; allow export at "
            "the grid connection (ext_grid min_p_mw < 0 or a [grid] table in the asset file) or "
            "lower the curtailment penalty",
            name, len(bad), float(model[bad].max()), float(np.nan_to_num(actual)[bad].max()),
        )
    return [
        Violation(
            kind=ViolationKind.LOSS_INFLATION, source=ViolationSource.MODEL, period=int(t),
            time=str(times[t]),
            element="network losses (surplus with nowhere to go: check export limit)",
            value=float(model[t]), limit=float(actual[t]),
        )
        for t in bad
    ]


def _assemble(
    d: Dispatcher,
    inputs: DispatchInputs,
    sp: Setpoints,
    ac: ACCheck,
    base_sp: Setpoints,
    base_ac: ACCheck,
    duals: np.ndarray | None,
    iterations: int,
    settled: bool,
    seconds: dict[str, float],
) -> DispatchResult:
    dm, grid, assets = d.model, d.grid, d.assets
    dt = dm.period_hours
    times = inputs.time
    model_v = _model_violations(dm, sp, times, d.options.slack_tolerance)
    model_v += _loss_inflation(sp, ac, times, d.name)
    ac_v = ac_violations(ac, grid, times)
    base_v = ac_violations(base_ac, grid, times)
    status = SolveStatus.INFEASIBLE if model_v else SolveStatus.OPTIMAL
    n_t = dm.n_periods

    def tv(values: np.ndarray, dim: str, units: str, desc: str) -> xr.Variable:
        return xr.Variable(("time", dim), np.asarray(values, dtype=float),
                           attrs={"units": units, "long_name": desc})

    def t1(values: np.ndarray, units: str, desc: str) -> xr.Variable:
        return xr.Variable(("time",), np.asarray(values, dtype=float),
                           attrs={"units": units, "long_name": desc})

    cap = np.array([s.energy_capacity_mwh for s in assets.storage])
    data: dict[str, xr.Variable] = {
        "p_grid_mw": t1(ac.p_grid_mw, "MW", "import from the upstream grid (AC)"),
        "q_grid_mvar": t1(ac.q_grid_mvar, "Mvar", "reactive import from the upstream grid (AC)"),
        "p_grid_model_mw": t1(sp.p_grid_mw, "MW", "import from the upstream grid (LP)"),
        "losses_mw": t1(ac.losses_mw, "MW", "network losses of the dispatch (AC)"),
        "losses_model_mw": t1(sp.p_loss_mw.sum(axis=1), "MW", "network losses (LP)"),
        "losses_baseline_mw": t1(base_ac.losses_mw, "MW", "network losses, no flexibility (AC)"),
        "p_grid_baseline_mw": t1(base_ac.p_grid_mw, "MW", "grid import, no flexibility (AC)"),
        "price_per_mwh": t1(inputs.price_per_mwh, "1/MWh", "energy price"),
        "ac_converged": xr.Variable(("time",), ac.converged.astype(np.int8),
                                    attrs={"long_name": "AC power flow converged (1/0)"}),
        "vm_pu": tv(ac.vm_pu, "bus", "pu", "voltage magnitude (AC)"),
        "vm_model_pu": tv(sp.vm_pu, "bus", "pu", "voltage magnitude (LinDistFlow)"),
        "vm_baseline_pu": tv(base_ac.vm_pu, "bus", "pu", "voltage magnitude, no flexibility (AC)"),
        "p_demand_mw": tv(inputs.p_demand_mw + sp.p_shift_bus_mw, "bus", "MW",
                          "demand incl. flexible-load shift"),
        "q_demand_mvar": tv(inputs.q_demand_mvar, "bus", "Mvar", "reactive demand"),
        "p_branch_mw": tv(ac.p_from_mw, "branch", "MW", "active power into the from end (AC)"),
        "q_branch_mvar": tv(ac.q_from_mvar, "branch", "Mvar", "reactive power into from end (AC)"),
        "pl_mw": tv(ac.loss_mw, "branch", "MW", "branch losses (AC)"),
        "pl_model_mw": tv(sp.p_loss_mw, "branch", "MW", "branch losses (LP)"),
        "pl_baseline_mw": tv(base_ac.loss_mw, "branch", "MW", "branch losses, no flexibility"),
        "loading_percent": tv(ac.loading_percent, "branch", "%", "loading (AC)"),
        "loading_baseline_percent": tv(base_ac.loading_percent, "branch", "%",
                                       "loading, no flexibility (AC)"),
        "storage_p_mw": tv(sp.storage_p_mw, "storage", "MW", "discharge minus charge"),
        "storage_charge_mw": tv(sp.p_charge_mw, "storage", "MW", "charging power (AC side)"),
        "storage_discharge_mw": tv(sp.p_discharge_mw, "storage", "MW",
                                   "discharging power (AC side)"),
        "storage_q_mvar": tv(sp.q_storage_mvar, "storage", "Mvar", "reactive output"),
        "soc_mwh": tv(sp.energy_mwh, "storage", "MWh", "stored energy at the end of the period"),
        "soc_percent": tv(100.0 * sp.energy_mwh / np.where(cap > 0, cap, 1.0)[None, :],
                          "storage", "%", "state of charge at the end of the period"),
        "pv_available_mw": tv(inputs.pv_available_mw, "pv", "MW", "available PV production"),
        "pv_p_mw": tv(sp.p_pv_mw, "pv", "MW", "PV output after curtailment"),
        "pv_curtailed_mw": tv(sp.p_curtail_mw, "pv", "MW", "curtailed PV"),
        "pv_q_mvar": tv(sp.q_pv_mvar, "pv", "Mvar", "PV reactive output"),
        "flex_shift_mw": tv(sp.p_shift_mw, "flexible_load", "MW", "demand added by shifting"),
        "gen_p_mw": tv(sp.p_gen_mw, "generator", "MW", "generator output"),
        "gen_q_mvar": tv(sp.q_gen_mvar, "generator", "Mvar", "generator reactive output"),
    }
    if duals is not None:
        data["marginal_cost_per_mwh"] = tv(
            duals.reshape(grid.n_bus, n_t).T / dt, "bus", "1/MWh",
            "dual of the active power balance: d objective / d demand, per MWh (LP)",
        )
    storage_loss = float(np.sum(
        sp.p_charge_mw * np.array([1 - s.efficiency_charge for s in assets.storage])[None, :]
        + sp.p_discharge_mw
        * np.array([1 / s.efficiency_discharge - 1 for s in assets.storage])[None, :]
    ) * dt) if assets.storage else 0.0
    base_mwh = float(np.nansum(base_ac.losses_mw) * dt)
    opt_mwh = float(np.nansum(ac.losses_mw) * dt)
    attrs = {
        "network": d.name,
        "grid_model": dm.grid_model.value,
        "status": status.value,
        "periods": n_t,
        "period_hours": dt,
        "losses_baseline_mwh": base_mwh,
        "losses_optimised_mwh": opt_mwh,
        "losses_model_mwh": float(sp.p_loss_mw.sum() * dt),
        "loss_reduction_percent": 100.0 * (base_mwh - opt_mwh) / base_mwh if base_mwh > 0 else 0.0,
        "storage_losses_mwh": storage_loss,
        "curtailed_mwh": float(sp.p_curtail_mw.sum() * dt),
        "shifted_mwh": float(np.abs(sp.p_shift_mw).sum() * dt / 2.0),
        "ac_checked": int(ac.all_converged and not ac_v),
        "settled": int(settled),
        "iterations": iterations,
        "violations_optimised": len(model_v) + len(ac_v),
        "violations_baseline": len(base_v),
    }
    ds = xr.Dataset(
        data,
        coords={
            "time": times,
            "bus": np.asarray(grid.bus_id),
            "branch": list(grid.branch_label),
            "storage": [s.name for s in assets.storage],
            "pv": [p.name for p in assets.pv],
            "flexible_load": [f.name for f in assets.flexible_load],
            "generator": [g.name for g in assets.generator],
        },
        attrs=attrs,
    )
    return DispatchResult(
        dataset=ds,
        status=status,
        violations=tuple(model_v + ac_v),
        baseline_violations=tuple(base_v),
        iterations=iterations,
        settled=settled,
        seconds_by_stage=seconds,
    )


def dispatch(
    net: pp.pandapowerNet,
    forecast: xr.Dataset,
    assets: Assets | None = None,
    options: DispatchOptions | None = None,
    name: str = "network",
) -> DispatchResult:
    """Build and solve a dispatch for one forecast (see :class:`Dispatcher`)."""
    grid = grid_from_model(model_from_pandapower(net, name))
    inputs = inputs_from_forecast(
        forecast, grid, assets if assets is not None else assets_from_net(net)
    )
    dispatcher = Dispatcher(net, inputs.n_periods, inputs.period_hours, assets, options, name)
    return dispatcher.solve(forecast)


def read_forecast(path: Path) -> xr.Dataset:
    """Read a ``(time, bus)`` forecast from NetCDF (loaded into memory, file closed).

    Raises
    ------
    InputError
        If the file is missing or not a readable NetCDF file.
    """
    if not Path(path).is_file():
        raise InputError(f"forecast file {path} not found; check the --forecast path")
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise InputError(f"forecast file {path} is not a readable NetCDF file: {exc}") from exc


def dispatch_files(
    network: str | Path | pp.pandapowerNet,
    forecast_path: Path,
    assets_path: Path | None = None,
    options: DispatchOptions | None = None,
    out_path: Path | None = None,
) -> DispatchResult:
    """Dispatch a network (any :func:`gridopt.network.load.load_network` spec) for a forecast file.

    Assets are those declared in the net, overridden and extended by the TOML file when given.
    With ``out_path`` the result dataset is written there atomically.
    """
    from gridopt.network.load import load_network

    loaded = load_network(network)
    net = loaded.pandapower_net()
    forecast = read_forecast(Path(forecast_path))
    assets = assets_from_net(net)
    if assets_path is not None:
        names = {str(n): int(i) for i, n in net.bus.name.items() if n is not None}
        assets = merge_assets(assets, assets_from_toml(Path(assets_path), names))
    result = dispatch(net, forecast, assets, options, name=loaded.name)
    if out_path is not None:
        write_netcdf(result.dataset, Path(out_path))
    return result
