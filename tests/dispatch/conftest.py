"""Fixtures for the dispatch tests: case33bw with rooftop PV, one battery and daily profiles.

The profiles are synthetic but shaped like a residential feeder in spring: a night trough at
about half of the peak, a morning shoulder, the evening peak at 19:00, and PV following a
clear-sky half-sine between 06:00 and 20:00 that peaks at 13:00.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest
import xarray as xr

PV_BUSES_MW = {17: 1.0, 32: 0.8, 24: 0.6}


def load_shape(hours: np.ndarray) -> np.ndarray:
    """Per-unit residential demand (peak 1.0 at 19:00)."""
    morning = 0.25 * np.exp(-0.5 * ((hours - 8.0) / 1.5) ** 2)
    evening = 0.5 * np.exp(-0.5 * ((hours - 19.0) / 2.0) ** 2)
    return 0.5 + morning + evening


def pv_shape(hours: np.ndarray) -> np.ndarray:
    """Per-unit clear-sky PV output (1.0 at 13:00)."""
    return np.clip(np.sin(np.pi * (hours - 6.0) / 14.0), 0.0, None) ** 1.3


def feeder_net(with_storage: bool = True) -> pp.pandapowerNet:
    """case33bw with three curtailable PV systems and one 0.5 MW / 2 MWh battery at bus 17."""
    net = pn.case33bw()
    for bus, p_mw in PV_BUSES_MW.items():
        q_max = 0.45 * p_mw  # sqrt(1.1**2 - 1) of the rating
        pp.create_sgen(net, bus, p_mw=p_mw, q_mvar=0.0, sn_mva=1.1 * p_mw, name=f"pv-{bus}",
                       controllable=True, min_p_mw=0.0, max_p_mw=p_mw, min_q_mvar=-q_max,
                       max_q_mvar=q_max)
    if with_storage:
        pp.create_storage(net, 17, p_mw=0.0, max_e_mwh=2.0, sn_mva=0.6, soc_percent=50.0,
                          min_e_mwh=0.2, max_p_mw=0.5, min_p_mw=-0.5, min_q_mvar=-0.3,
                          max_q_mvar=0.3, name="bess-17", controllable=True)
    return net


def day_forecast(
    net: pp.pandapowerNet, periods: int = 48, load_scale: float = 1.0, pv_scale: float = 1.0,
    start: str = "2024-04-15 00:00",
) -> xr.Dataset:
    """A one-day ``(time, bus)`` forecast from the net's peak loads and PV ratings."""
    hours_per_period = 24.0 / periods
    time = pd.date_range(start, periods=periods, freq=pd.Timedelta(hours=hours_per_period))
    hours = np.arange(periods) * hours_per_period + hours_per_period / 2
    buses = net.bus.index.to_numpy()
    p_peak = net.load.groupby("bus").p_mw.sum().reindex(buses, fill_value=0.0).to_numpy()
    q_peak = net.load.groupby("bus").q_mvar.sum().reindex(buses, fill_value=0.0).to_numpy()
    shape = load_shape(hours)[:, None] * load_scale
    pv = np.zeros((periods, len(buses)))
    sgen = net.sgen[net.sgen.controllable.astype(bool)] if len(net.sgen) else net.sgen
    for _, row in sgen.iterrows():
        pv[:, int(row.bus)] += pv_shape(hours) * float(row.p_mw) * pv_scale
    return xr.Dataset(
        {
            "p_mw": (("time", "bus"), shape * p_peak[None, :]),
            "q_mvar": (("time", "bus"), shape * q_peak[None, :]),
            "pv_p_mw": (("time", "bus"), pv),
        },
        coords={"time": time, "bus": buses},
    )


@pytest.fixture(scope="session")
def net() -> pp.pandapowerNet:
    return feeder_net()
