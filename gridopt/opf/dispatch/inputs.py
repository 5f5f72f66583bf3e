"""Turn a bus-level forecast ``(time, bus)`` into the numeric inputs of a dispatch.

Forecast contract (an :class:`xarray.Dataset`):

==================  ===============  ==================================================
variable            dims             meaning
==================  ===============  ==================================================
``p_mw``            (time, bus)      active demand not under control (consumption minus
                                     uncontrolled production), MW, required
``q_mvar``          (time, bus)      reactive demand, Mvar, required
``pv_p_mw``         (time, bus)      available production of PV, MW, optional; the part
                                     at buses with curtailable PV assets is shared among
                                     them by rating, the rest is uncontrolled and is
                                     subtracted from ``p_mw``
``price_per_mwh``   (time)           energy price at the grid connection, optional
==================  ===============  ==================================================

``bus`` labels are pandapower bus indices (integers) or bus names; buses of the network that
the forecast does not name have no demand. ``time`` must be regular; a one-period forecast
needs the attribute ``period_hours``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import xarray as xr

from gridopt.errors import InputError
from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.grid import DispatchGrid

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DispatchInputs:
    """Forecast values placed on the dispatch's buses and assets.

    Attributes
    ----------
    time
        Period start times.
    period_hours
        Length of one period.
    p_demand_mw, q_demand_mvar
        ``(time, bus position)`` uncontrolled demand.
    pv_available_mw
        ``(time, pv asset)`` available production of the curtailable PV.
    price_per_mwh
        ``(time,)`` energy price at the grid connection (zeros when not given).
    """

    time: np.ndarray
    period_hours: float
    p_demand_mw: FloatArray
    q_demand_mvar: FloatArray
    pv_available_mw: FloatArray
    price_per_mwh: FloatArray

    @property
    def n_periods(self) -> int:
        """Number of periods of the horizon."""
        return len(self.time)


def _period_hours(forecast: xr.Dataset, where: str) -> float:
    times = forecast["time"].values
    if "period_hours" in forecast.attrs:
        return float(forecast.attrs["period_hours"])
    if len(times) < 2:
        raise InputError(
            f"{where}: a one-period forecast needs the attribute 'period_hours' (e.g. 0.5)"
        )
    if not np.issubdtype(times.dtype, np.datetime64):
        raise InputError(f"{where}: the 'time' coordinate must hold timestamps, got {times.dtype}")
    steps = np.diff(times).astype("timedelta64[s]").astype(np.int64)
    if np.any(steps != steps[0]) or steps[0] <= 0:
        bad = int(np.flatnonzero(steps != steps[0])[0]) + 1 if np.any(steps != steps[0]) else 1
        raise InputError(
            f"{where}: time steps must be regular and increasing; step before {times[bad]} "
            f"differs from the first ({steps[0]} s); resample the forecast"
        )
    return float(steps[0]) / 3600.0


def _bus_positions(labels: np.ndarray, grid: DispatchGrid, where: str) -> np.ndarray:
    by_id = {int(b): i for i, b in enumerate(grid.bus_id)}
    by_name = {n: i for i, n in enumerate(grid.bus_name)}
    out = np.empty(len(labels), dtype=np.int64)
    for k, label in enumerate(labels):
        if isinstance(label, (int, np.integer)) and int(label) in by_id:
            out[k] = by_id[int(label)]
        elif str(label) in by_name:
            out[k] = by_name[str(label)]
        elif isinstance(label, str) and label.lstrip("-").isdigit() and int(label) in by_id:
            out[k] = by_id[int(label)]
        else:
            raise InputError(
                f"{where}: bus {label!r} is not an in-service bus of network {grid.name!r}; "
                "label forecast buses with pandapower bus indices or bus names"
            )
    return out


def _on_buses(
    da: xr.DataArray, pos: np.ndarray, n_bus: int, name: str, where: str
) -> FloatArray:
    values = np.asarray(da.transpose("time", "bus").values, dtype=float)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        t, b = bad[0]
        raise InputError(
            f"{where}: {name} is missing or not finite at time {da['time'].values[t]}, bus "
            f"{da['bus'].values[b]!r} ({len(bad)} values in all); fill the gaps before dispatching"
        )
    out = np.zeros((values.shape[0], n_bus))
    for k, b in enumerate(pos):
        out[:, b] += values[:, k]
    return out


def inputs_from_forecast(
    forecast: xr.Dataset, grid: DispatchGrid, assets: Assets, where: str = "forecast"
) -> DispatchInputs:
    """Place a ``(time, bus)`` forecast on the grid's buses and assets (contract above).

    Raises
    ------
    InputError
        For missing variables, unknown buses, non-finite values, irregular time steps, or
        curtailable PV without a ``pv_p_mw`` forecast at its bus.
    """
    for var in ("p_mw", "q_mvar"):
        if var not in forecast:
            raise InputError(
                f"{where}: variable {var!r} (time, bus) is missing; the forecast needs p_mw and "
                "q_mvar per bus"
            )
        if set(forecast[var].dims) != {"time", "bus"}:
            raise InputError(
                f"{where}: {var} has dims {forecast[var].dims}; expected ('time', 'bus')"
            )
    hours = _period_hours(forecast, where)
    pos = _bus_positions(np.asarray(forecast["bus"].values), grid, where)
    p = _on_buses(forecast["p_mw"], pos, grid.n_bus, "p_mw", where)
    q = _on_buses(forecast["q_mvar"], pos, grid.n_bus, "q_mvar", where)
    n_t = p.shape[0]
    pv_avail = np.zeros((n_t, len(assets.pv)))
    if "pv_p_mw" in forecast:
        pv_bus = _on_buses(forecast["pv_p_mw"], pos, grid.n_bus, "pv_p_mw", where)
        if np.any(pv_bus < -1e-9):
            raise InputError(f"{where}: pv_p_mw has negative values; production must be >= 0")
        asset_pos = np.array(
            [grid.bus_position(a.bus, f"PV asset {a.name!r}") for a in assets.pv], dtype=np.int64
        )
        for b in np.unique(asset_pos):
            members = np.flatnonzero(asset_pos == b)
            rated = np.array([assets.pv[i].p_rated_mw for i in members], dtype=float)
            if rated.sum() > 0:
                share = rated / rated.sum()
            else:
                share = np.full(len(members), 1 / len(members))
            pv_avail[:, members] = pv_bus[:, [b]] * share[None, :]
            pv_bus[:, b] = 0.0
        uncontrolled = pv_bus.sum()
        if uncontrolled > 0:
            logger.info(
                "%s: %.3f MWh of pv_p_mw sits at buses without curtailable PV; treated as "
                "uncontrolled production (subtracted from p_mw)", where, uncontrolled * hours
            )
        p = p - pv_bus
    elif assets.pv:
        raise InputError(
            f"{where}: curtailable PV {[a.name for a in assets.pv]} declared but the forecast has "
            "no 'pv_p_mw' (time, bus); add the PV production forecast"
        )
    price = np.zeros(n_t)
    if "price_per_mwh" in forecast:
        price = np.asarray(forecast["price_per_mwh"].values, dtype=float).reshape(n_t)
        if not np.all(np.isfinite(price)):
            raise InputError(f"{where}: price_per_mwh has missing values; fill them or drop it")
    return DispatchInputs(
        time=np.asarray(forecast["time"].values),
        period_hours=hours,
        p_demand_mw=p,
        q_demand_mvar=q,
        pv_available_mw=pv_avail,
        price_per_mwh=price,
    )
