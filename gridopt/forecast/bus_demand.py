"""Forecasts -> bus-level mean power ``(time, bus)``: the demand the dispatch consumes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.forecast.series import interval_seconds


def to_bus_demand(
    forecast: xr.Dataset,
    *,
    quantile: float = 0.5,
    power_factor: float | Mapping[int, float] = 1.0,
    mapping: pd.DataFrame | str | Path | None = None,
) -> xr.Dataset:
    r"""Convert a forecast into bus-level mean power ``(time, bus)`` for the dispatch.

    .. math::

        p_{t,b} = \sum_{r \in b} s_r \frac{E_{t,m_r}}{1000\,\Delta t_\mathrm{h}},\qquad
        q_{t,b} = \sum_{r \in b} s_r \frac{E_{t,m_r}}{1000\,\Delta t_\mathrm{h}}
                  \tan(\arccos \mathrm{pf}_r)

    in MW and Mvar, for the mapping rows :math:`r = (m_r, b, \mathrm{pf}_r, s_r)` (a bus-level
    forecast is its own mapping with :math:`s_r = 1`). The forecast quantity is used as it is:
    for a ``net`` forecast ``p_mw`` is net demand and ``q_mvar`` applies the power factor to it.

    Parameters
    ----------
    forecast
        Output of :func:`predict` with a ``bus`` dim, or a ``meter`` dim plus ``mapping``.
    quantile
        Which quantile level to use (0.5 = P50).
    power_factor
        Lagging power factor in (0, 1] of a bus-level forecast, one value or one per bus
        (ignored with a ``mapping``, which carries its own).
    mapping
        Mapping table or CSV ``meter_id,bus[,power_factor][,scale]`` for a per-meter forecast.

    Returns
    -------
    xarray.Dataset
        ``p_mw`` and ``q_mvar`` with dims ``(time, bus)``.
    """
    names = [name for name in forecast.data_vars if str(name).endswith("_kwh")]
    if len(names) != 1:
        raise InputError(f"expected one *_kwh forecast variable, found {list(forecast.data_vars)}")
    energy = forecast[names[0]]
    if "quantile" in energy.dims:
        levels = energy["quantile"].values
        match = np.flatnonzero(np.isclose(levels, quantile))
        if match.size == 0:
            raise InputError(f"the forecast has quantiles {levels.tolist()}, not {quantile}")
        energy = energy.isel(quantile=int(match[0]), drop=True)
    interval_s = forecast.attrs.get("interval_s") or interval_seconds(forecast["time"].values)
    to_mw = 1.0 / (1000.0 * float(interval_s) / 3600.0)
    if "bus" in energy.dims:
        p_mw = energy.transpose("time", "bus") * to_mw
        buses = p_mw["bus"].values
        if isinstance(power_factor, Mapping):
            missing = [b for b in buses.tolist() if b not in power_factor]
            if missing:
                raise InputError(
                    f"no power factor for bus(es) {missing[:5]}; give one for every bus"
                )
            pf = np.array([float(power_factor[b]) for b in buses.tolist()])
        else:
            pf = np.full(len(buses), float(power_factor))
        if np.any((pf <= 0) | (pf > 1)):
            raise InputError("power factors must lie in (0, 1]; e.g. 0.95 lagging")
        q_mvar = p_mw * xr.DataArray(np.tan(np.arccos(pf)), dims="bus", coords={"bus": buses})
    elif "meter" in energy.dims and mapping is not None:
        from gridopt.ingest import read_mapping

        table = read_mapping(mapping)
        meters = [str(m) for m in energy["meter"].values]
        position = {m: i for i, m in enumerate(meters)}
        unknown = sorted(set(table["meter_id"]) - set(position))
        if unknown:
            raise InputError(
                f"the mapping names {len(unknown)} meter(s) the forecast lacks, e.g. "
                f"{unknown[:5]}; forecast every mapped meter"
            )
        buses = np.array(sorted(set(table["bus"].tolist())), dtype=np.int64)
        column = {int(b): j for j, b in enumerate(buses)}
        weight_p = np.zeros((len(meters), len(buses)))
        weight_q = np.zeros((len(meters), len(buses)))
        for meter_id, bus, pf_r, scale in table.itertuples(index=False):
            weight_p[position[meter_id], column[int(bus)]] += scale
            weight_q[position[meter_id], column[int(bus)]] += scale * np.tan(np.arccos(pf_r))
        mw = energy.transpose("time", "meter").values * to_mw
        dims = ("time", "bus")
        coords = {"time": energy["time"].values, "bus": buses}
        p_mw = xr.DataArray(mw @ weight_p, dims=dims, coords=coords)
        q_mvar = xr.DataArray(mw @ weight_q, dims=dims, coords=coords)
    else:
        raise InputError(
            "the forecast is not per bus; forecast with --aggregate bus or give a meter-to-bus "
            "mapping for a per-meter forecast"
        )
    return xr.Dataset(
        {
            "p_mw": p_mw.assign_attrs(units="MW", long_name="mean active power demand"),
            "q_mvar": q_mvar.assign_attrs(units="Mvar", long_name="mean reactive power demand"),
        },
        attrs={k: v for k, v in forecast.attrs.items() if k in ("origin", "tz", "target")}
        | {"quantile": quantile},
    )
