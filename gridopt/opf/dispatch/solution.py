"""Read the solved dispatch LP into plain ``(time, element)`` arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def _on_buses(values: FloatArray, positions: list[int], n_bus: int) -> FloatArray:
    out = np.zeros((values.shape[0], n_bus))
    for k, b in enumerate(positions):
        out[:, b] += values[:, k]
    return out


def read_setpoints(dm: DispatchModel, inputs: DispatchInputs, x: FloatArray) -> Setpoints:
    """The set-points and model state in a solution ``x`` of the model's LP (column values)."""
    lay = dm.layout

    def values(family: str) -> FloatArray:
        return lay.values(x, family)

    n_t = dm.n_periods
    grid, assets = dm.grid, dm.assets
    nb, nl = grid.n_bus, grid.n_branch

    def or_zeros(family: str, n: int) -> FloatArray:
        return values(family) if lay.columns.get(family) is not None else np.zeros((n_t, n))

    p_ch = values("p_charge")
    p_dis = values("p_discharge")
    q_sto = or_zeros("q_storage", len(assets.storage))
    p_curt = values("p_curtail")
    p_pv = inputs.pv_available_mw - p_curt
    q_pv = or_zeros("q_pv", len(assets.pv))
    shift = values("p_shift_up") - values("p_shift_down")
    p_gen = values("p_gen")
    q_gen = or_zeros("q_gen", len(assets.generator))
    p_flow = values("p_flow")
    if dm.with_q:
        q_flow = values("q_flow")
        vm = np.sqrt(np.maximum(values("w"), 0.0))
        v_low = values("v_low")
        v_high = values("v_high")
    else:
        q_flow = np.full((n_t, nl), np.nan)
        vm = np.full((n_t, nb), np.nan)
        v_low = np.zeros((n_t, nb))
        v_high = np.zeros((n_t, nb))
    s_over = np.zeros((n_t, nl))
    if len(lay.rated):
        s_over[:, lay.rated] = values("s_over")
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
        p_grid_mw=values("p_grid")[:, 0],
        q_grid_mvar=or_zeros("q_grid", 1)[:, 0],
        p_charge_mw=p_ch,
        p_discharge_mw=p_dis,
        q_storage_mvar=q_sto,
        energy_mwh=values("energy"),
        p_curtail_mw=p_curt,
        p_pv_mw=p_pv,
        q_pv_mvar=q_pv,
        p_shift_mw=shift,
        p_gen_mw=p_gen,
        q_gen_mvar=q_gen,
        p_flow_mw=p_flow,
        q_flow_mvar=q_flow,
        p_loss_mw=or_zeros("p_loss", nl),
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
