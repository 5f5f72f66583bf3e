"""Read the solved dispatch LP into plain ``(time, element)`` arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.model import DispatchModel


@dataclass(frozen=True, eq=False)
class Setpoints:
    """Decisions and model state of one dispatch, arrays shaped ``(time, element)``.

    Bus-level totals (``p_inject_mw``, ``q_inject_mvar``: storage, PV and generator injections;
    ``p_shift_mw``: flexible-load shift added to demand) are what the AC check applies.
    """

    p_grid_mw: FloatArray
    q_grid_mvar: FloatArray
    p_charge_mw: FloatArray
    p_discharge_mw: FloatArray
    q_storage_mvar: FloatArray
    energy_mwh: FloatArray
    p_curtail_mw: FloatArray
    p_pv_mw: FloatArray
    q_pv_mvar: FloatArray
    p_shift_mw: FloatArray
    p_gen_mw: FloatArray
    q_gen_mvar: FloatArray
    p_flow_mw: FloatArray
    q_flow_mvar: FloatArray
    p_loss_mw: FloatArray
    vm_pu: FloatArray
    v_low_pu2: FloatArray
    v_high_pu2: FloatArray
    s_over_mva: FloatArray
    p_inject_mw: FloatArray
    q_inject_mvar: FloatArray
    p_shift_bus_mw: FloatArray

    @property
    def storage_p_mw(self) -> FloatArray:
        """Net storage output (discharge minus charge)."""
        return self.p_discharge_mw - self.p_charge_mw


#: Reads the solved values of a variable component, flat in ``component.values()`` order.
PrimalReader = Callable[[pyo.Var], FloatArray]


def var_array(
    component: pyo.Var | pyo.Param,
    n_elements: int,
    n_periods: int,
    primal: PrimalReader | None = None,
) -> FloatArray:
    """Values of a component indexed ``(element, time)`` as a ``(time, element)`` array.

    ``primal`` reads a variable's values straight from the solver (see
    :meth:`gridopt.solvers.highs.HighsSolver.primal_values`); without it, or for parameters,
    the values stored in the Pyomo model are used.
    """
    if n_elements == 0:
        return np.zeros((n_periods, 0))
    if primal is not None and isinstance(component, pyo.Var):
        values = np.asarray(primal(component), dtype=float)
    else:
        values = np.fromiter(
            (pyo.value(v, exception=False) or 0.0 for v in component.values()),
            dtype=float,
            count=n_elements * n_periods,
        )
    return values.reshape(n_elements, n_periods).T.copy()


def _on_buses(values: FloatArray, positions: list[int], n_bus: int) -> FloatArray:
    out = np.zeros((values.shape[0], n_bus))
    for k, b in enumerate(positions):
        out[:, b] += values[:, k]
    return out


def read_setpoints(
    dm: DispatchModel, inputs: DispatchInputs, primal: PrimalReader | None = None
) -> Setpoints:
    """Read the variable values of a solved model (from the solver when ``primal`` is given)."""
    m = dm.model

    def var_array(component: pyo.Var | pyo.Param, n_elements: int, n_periods: int) -> FloatArray:
        return _var_array(component, n_elements, n_periods, primal)

    n_t = dm.n_periods
    grid, assets = dm.grid, dm.assets
    ns, npv, nf, ng = (len(assets.storage), len(assets.pv), len(assets.flexible_load),
                       len(assets.generator))
    nb, nl = grid.n_bus, grid.n_branch
    p_ch = var_array(m.p_charge, ns, n_t)
    p_dis = var_array(m.p_discharge, ns, n_t)
    q_sto = var_array(m.q_storage, ns, n_t)
    p_curt = var_array(m.p_curtail, npv, n_t)
    p_pv = inputs.pv_available_mw - p_curt
    q_pv = var_array(m.q_pv, npv, n_t)
    shift = var_array(m.p_shift_up, nf, n_t) - var_array(m.p_shift_down, nf, n_t)
    p_gen = var_array(m.p_gen, ng, n_t)
    q_gen = var_array(m.q_gen, ng, n_t)
    p_flow = var_array(m.p_flow, nl, n_t)
    if dm.with_q:
        q_flow = var_array(m.q_flow, nl, n_t)
        vm = np.sqrt(np.maximum(var_array(m.w, nb, n_t), 0.0))
        v_low = var_array(m.v_low, nb, n_t)
        v_high = var_array(m.v_high, nb, n_t)
    else:
        q_flow = np.full((n_t, nl), np.nan)
        vm = np.full((n_t, nb), np.nan)
        v_low = np.zeros((n_t, nb))
        v_high = np.zeros((n_t, nb))
    s_over = np.zeros((n_t, nl))
    rated = list(m.RATED)
    if rated:
        s_over[:, rated] = var_array(m.s_over, len(rated), n_t)
    pos = dm.positions
    p_inj = (
        _on_buses(p_dis - p_ch, pos["storage"], nb)
        + _on_buses(p_pv, pos["pv"], nb)
        + _on_buses(p_gen, pos["generator"], nb)
    )
    q_inj = (
        _on_buses(q_sto, pos["storage"], nb)
        + _on_buses(q_pv, pos["pv"], nb)
        + _on_buses(q_gen, pos["generator"], nb)
    )
    return Setpoints(
        p_grid_mw=var_array(m.p_grid, 1, n_t)[:, 0],
        q_grid_mvar=var_array(m.q_grid, 1, n_t)[:, 0],
        p_charge_mw=p_ch,
        p_discharge_mw=p_dis,
        q_storage_mvar=q_sto,
        energy_mwh=var_array(m.energy, ns, n_t),
        p_curtail_mw=p_curt,
        p_pv_mw=p_pv,
        q_pv_mvar=q_pv,
        p_shift_mw=shift,
        p_gen_mw=p_gen,
        q_gen_mvar=q_gen,
        p_flow_mw=p_flow,
        q_flow_mvar=q_flow,
        p_loss_mw=var_array(m.p_loss, nl, n_t),
        vm_pu=vm,
        v_low_pu2=v_low,
        v_high_pu2=v_high,
        s_over_mva=s_over,
        p_inject_mw=p_inj,
        q_inject_mvar=q_inj,
        p_shift_bus_mw=_on_buses(shift, pos["flexible_load"], nb),
    )


def baseline_setpoints(dm: DispatchModel, inputs: DispatchInputs) -> Setpoints:
    """Set-points with no flexibility used: storage idle, no curtailment, no shift, Q = 0.

    Generators (not flexibility) run at the midpoint of their limits. Flows, losses and
    voltages are unknown (NaN) until the AC check.
    """
    grid, assets = dm.grid, dm.assets
    n_t = dm.n_periods
    ns, npv, nf, ng = (len(assets.storage), len(assets.pv), len(assets.flexible_load),
                       len(assets.generator))
    nb, nl = grid.n_bus, grid.n_branch
    zeros = np.zeros
    p_gen = np.tile([(g.p_min_mw + g.p_max_mw) / 2 for g in assets.generator], (n_t, 1)).reshape(
        n_t, ng
    )
    energy = np.tile([s.energy_initial_mwh for s in assets.storage], (n_t, 1)).reshape(n_t, ns)
    p_inj = _on_buses(inputs.pv_available_mw, dm.positions["pv"], nb) + _on_buses(
        p_gen, dm.positions["generator"], nb
    )
    nan_l = np.full((n_t, nl), np.nan)
    return Setpoints(
        p_grid_mw=np.full(n_t, np.nan),
        q_grid_mvar=np.full(n_t, np.nan),
        p_charge_mw=zeros((n_t, ns)),
        p_discharge_mw=zeros((n_t, ns)),
        q_storage_mvar=zeros((n_t, ns)),
        energy_mwh=energy,
        p_curtail_mw=zeros((n_t, npv)),
        p_pv_mw=inputs.pv_available_mw.copy(),
        q_pv_mvar=zeros((n_t, npv)),
        p_shift_mw=zeros((n_t, nf)),
        p_gen_mw=p_gen,
        q_gen_mvar=zeros((n_t, ng)),
        p_flow_mw=nan_l,
        q_flow_mvar=nan_l.copy(),
        p_loss_mw=nan_l.copy(),
        vm_pu=np.full((n_t, nb), np.nan),
        v_low_pu2=zeros((n_t, nb)),
        v_high_pu2=zeros((n_t, nb)),
        s_over_mva=zeros((n_t, nl)),
        p_inject_mw=p_inj,
        q_inject_mvar=zeros((n_t, nb)),
        p_shift_bus_mw=zeros((n_t, nb)),
    )


_var_array = var_array


def carry_over_setpoints(
    dm: DispatchModel, previous: Setpoints, inputs: DispatchInputs
) -> Setpoints:
    """The decisions of ``previous`` applied to new ``inputs`` (a warm-start guess).

    Storage, generator, reactive and flexible-load set-points are kept; curtailment is kept
    but limited to the new PV availability. Flows, losses and voltages are unknown (NaN).
    """
    nb, n_t = dm.grid.n_bus, dm.n_periods
    curtail = np.clip(previous.p_curtail_mw, 0.0, inputs.pv_available_mw)
    p_pv = inputs.pv_available_mw - curtail
    pos = dm.positions
    p_inj = (
        _on_buses(previous.p_discharge_mw - previous.p_charge_mw, pos["storage"], nb)
        + _on_buses(p_pv, pos["pv"], nb)
        + _on_buses(previous.p_gen_mw, pos["generator"], nb)
    )
    nan_l = np.full_like(previous.p_flow_mw, np.nan)
    return Setpoints(
        p_grid_mw=np.full(n_t, np.nan),
        q_grid_mvar=np.full(n_t, np.nan),
        p_charge_mw=previous.p_charge_mw,
        p_discharge_mw=previous.p_discharge_mw,
        q_storage_mvar=previous.q_storage_mvar,
        energy_mwh=previous.energy_mwh,
        p_curtail_mw=curtail,
        p_pv_mw=p_pv,
        q_pv_mvar=previous.q_pv_mvar,
        p_shift_mw=previous.p_shift_mw,
        p_gen_mw=previous.p_gen_mw,
        q_gen_mvar=previous.q_gen_mvar,
        p_flow_mw=nan_l,
        q_flow_mvar=nan_l.copy(),
        p_loss_mw=nan_l.copy(),
        vm_pu=np.full((n_t, nb), np.nan),
        v_low_pu2=np.zeros((n_t, nb)),
        v_high_pu2=np.zeros((n_t, nb)),
        s_over_mva=np.zeros_like(previous.s_over_mva),
        p_inject_mw=p_inj,
        q_inject_mvar=previous.q_inject_mvar,
        p_shift_bus_mw=previous.p_shift_bus_mw,
    )
