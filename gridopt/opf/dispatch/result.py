"""The outcome of a dispatch as one ``xarray.Dataset`` plus its violations (:func:`to_result`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from gridopt.opf.dispatch.linearisation import DispatchRun, LinearisedDispatch
from gridopt.opf.dispatch.violations import (
    Violation,
    ViolationKind,
    ViolationSource,
    ac_violations,
    loss_inflation,
    model_violations,
)
from gridopt.solvers.status import SolveStatus

_VOLTAGE = (ViolationKind.VOLTAGE_LOW, ViolationKind.VOLTAGE_HIGH)


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
            v.kind in _VOLTAGE for v in self.baseline_violations
        )
        out["voltage_violations_optimised"] = sum(
            v.kind in _VOLTAGE and v.source is ViolationSource.AC for v in self.violations
        )
        out["thermal_violations_optimised"] = sum(
            v.kind is ViolationKind.THERMAL and v.source is ViolationSource.AC
            for v in self.violations
        )
        out["violations"] = [v.as_dict() for v in self.violations]
        out["seconds_by_stage"] = dict(self.seconds_by_stage)
        return out


def to_result(d: LinearisedDispatch, run: DispatchRun) -> DispatchResult:
    """The Dataset of a run (optimised and baseline schedules, AC checks) and its violations.

    Long because it names every output variable with its unit and description in one place.
    """
    dm, grid, assets = d.model, d.grid, d.assets
    inputs, sp, ac = run.inputs, run.setpoints, run.flows
    base_ac = run.baseline_flows
    duals, iterations, settled, seconds = (run.balance_duals, run.iterations, run.settled,
                                           run.seconds_by_stage)
    dt = dm.period_hours
    times = inputs.time
    model_v = model_violations(dm, sp, times, d.options.slack_tolerance)
    model_v += loss_inflation(sp, ac, times, d.name)
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
