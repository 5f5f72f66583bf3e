"""Net demand per graph node and period: the static net or bus profiles ``(time, bus)``.

Demand is computed from the one network model's fixed injections (loads, static generators,
storage, non-slack generators, shunts at 1 pu; :class:`gridopt.network.model.Injections`).
Profiles are an :class:`xarray.Dataset` with dims ``(time, bus)`` (``bus`` = pandapower bus
indices), variable ``p_mw`` and optionally ``q_mvar``: the **net consumption** at each listed bus
(consumption minus production, MW / Mvar; a ``pv_p_mw`` variable, as in the dispatch forecast
contract, is subtracted from ``p_mw``). At a listed bus they replace every ``load``, ``sgen``
and ``storage`` of the net; buses not listed keep their static elements. Without ``q_mvar`` the
reactive demand follows the power factor of the bus's static loads (0 where it has none).
Non-slack ``gen`` entries inject their ``p_mw`` (their reactive output is unknown to the MILP and
taken as 0; the AC check uses pandapower's PV model). Shunts are included at 1 pu voltage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import xarray as xr

from gridopt.errors import InputError
from gridopt.network.case import FloatArray
from gridopt.network.model import InjectionKind, NetworkModel

logger = logging.getLogger(__name__)

#: Elements replaced at a bus listed in a profile.
PROFILE_KINDS = (InjectionKind.LOAD, InjectionKind.SGEN, InjectionKind.STORAGE)


@dataclass(frozen=True, eq=False)
class BusDemand:
    """Net consumption per pandapower bus and period.

    Attributes
    ----------
    bus
        Bus rows of the model (columns of the arrays).
    p_mw, q_mvar
        Net consumption, shape ``(n_period, n_bus)``.
    period_hours
        Duration of each period in hours (weights of the energy losses).
    profile_buses
        Source bus indices whose static elements are replaced by the profile (empty for a
        snapshot).
    profile_p_mw, profile_q_mvar
        The profile itself, shape ``(n_period, n_profile_bus)`` (``None`` for a snapshot).
    """

    bus: tuple[int, ...]
    p_mw: FloatArray
    q_mvar: FloatArray
    period_hours: FloatArray
    profile_buses: tuple[int, ...]
    profile_p_mw: FloatArray | None = None
    profile_q_mvar: FloatArray | None = None

    @property
    def n_period(self) -> int:
        """Number of periods."""
        return int(self.p_mw.shape[0])


def _static_by_bus(model: NetworkModel, excluded_rows: set[int]) -> tuple[FloatArray, FloatArray]:
    """Fixed injections per bus row; at ``excluded_rows`` loads, sgens and storage are left out
    (a profile replaces them)."""
    inj = model.injections
    keep = np.array([not (int(b) in excluded_rows and k in PROFILE_KINDS)
                     for b, k in zip(inj.bus, inj.kind, strict=True)], dtype=bool)
    n = len(model.buses)
    p = np.bincount(inj.bus[keep], weights=inj.p_mw[keep], minlength=n).astype(float)
    q = np.bincount(inj.bus[keep], weights=inj.q_mvar[keep], minlength=n).astype(float)
    return p, q


def _period_hours(time: xr.DataArray) -> FloatArray:
    n = time.size
    if n == 1 or not np.issubdtype(time.dtype, np.datetime64):
        if n > 1:
            logger.info("profile time coordinate is not datetime; periods weigh 1 h each")
        return np.ones(n)
    step_h = np.diff(time.values).astype("timedelta64[s]").astype(float) / 3600.0
    if np.any(step_h <= 0):
        raise InputError("profiles: the time coordinate must be strictly increasing; sort it "
                         "and remove duplicate timestamps")
    return np.append(step_h, step_h[-1])


def bus_demand(model: NetworkModel, profiles: xr.Dataset | None = None) -> BusDemand:
    """Net consumption of every bus row, for one snapshot or for each profile period.

    Parameters
    ----------
    model
        The network model.
    profiles
        Optional Dataset with ``p_mw`` (and optionally ``q_mvar``) over dims ``(time, bus)``
        (``bus``: source bus indices).

    Returns
    -------
    BusDemand

    Raises
    ------
    InputError
        Missing ``p_mw``, wrong dims, unknown buses, or non-finite values.
    """
    rows = tuple(range(len(model.buses)))
    if profiles is None:
        p, q = _static_by_bus(model, set())
        return BusDemand(rows, p[None, :], q[None, :], np.ones(1), ())
    if "p_mw" not in profiles:
        raise InputError(f"profiles: variable 'p_mw' missing (found {list(profiles.data_vars)}); "
                         "provide net consumption p_mw over dims (time, bus)")
    p_da = profiles["p_mw"]
    if set(p_da.dims) != {"time", "bus"}:
        raise InputError(f"profiles: p_mw has dims {p_da.dims}; expected ('time', 'bus')")
    prof_buses = [int(b) for b in profiles["bus"].values]
    position = model.buses.position()
    unknown = sorted(b for b in prof_buses if ("bus", b) not in position)
    if unknown:
        known = [i for t, i in model.buses.ref if t == "bus"]
        raise InputError(f"profiles: buses {unknown[:10]} are not in the network "
                         f"{model.name} (bus indices {known[:10]}...); the 'bus' coordinate must "
                         "hold pandapower bus indices")
    cols = [position[("bus", b)] for b in prof_buses]
    p_prof = p_da.transpose("time", "bus").values.astype(float)
    if "pv_p_mw" in profiles:
        # the dispatch forecast contract: PV production listed apart, all of it used here
        p_prof = p_prof - profiles["pv_p_mw"].transpose("time", "bus").values.astype(float)
        logger.info("profiles: pv_p_mw subtracted from p_mw (no curtailment when reconfiguring)")
    if "q_mvar" in profiles:
        q_prof = profiles["q_mvar"].transpose("time", "bus").values.astype(float)
    else:
        tan_phi = _load_tan_phi(model, cols)
        q_prof = p_prof * tan_phi[None, :]
        logger.info("profiles carry no q_mvar: reactive demand follows the static loads' power "
                    "factor at each bus")
    for label, arr in (("p_mw", p_prof), ("q_mvar", q_prof)):
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            t, b = bad[0]
            raise InputError(f"profiles: {label} is not finite at time index {t}, bus "
                             f"{prof_buses[b]} ({len(bad)} values); fill or drop those periods")
    p_static, q_static = _static_by_bus(model, set(cols))
    n_t = p_prof.shape[0]
    p = np.tile(p_static, (n_t, 1))
    q = np.tile(q_static, (n_t, 1))
    p[:, cols] += p_prof
    q[:, cols] += q_prof
    hours = _period_hours(profiles["time"])
    if n_t == 1 and "period_hours" in profiles.attrs:
        hours = np.array([float(profiles.attrs["period_hours"])])
    return BusDemand(rows, p, q, hours, tuple(prof_buses), p_prof, q_prof)


def _load_tan_phi(model: NetworkModel, rows: list[int]) -> FloatArray:
    inj = model.injections
    loads = np.array([k is InjectionKind.LOAD for k in inj.kind], dtype=bool)
    n = len(model.buses)
    p = np.bincount(inj.bus[loads], weights=inj.p_mw[loads], minlength=n)[rows]
    q = np.bincount(inj.bus[loads], weights=inj.q_mvar[loads], minlength=n)[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(p) > 0, q / p, 0.0)


def node_demand(bus_demand_: BusDemand, node_buses: tuple[tuple[int, ...], ...]
                ) -> tuple[FloatArray, FloatArray]:
    """Sum bus demand onto graph nodes: returns ``(p_mw, q_mvar)`` of shape ``(T, n_node)``."""
    pos = {b: i for i, b in enumerate(bus_demand_.bus)}
    n_t = bus_demand_.n_period
    p = np.zeros((n_t, len(node_buses)))
    q = np.zeros((n_t, len(node_buses)))
    for n, buses in enumerate(node_buses):
        cols = [pos[b] for b in buses]
        p[:, n] = bus_demand_.p_mw[:, cols].sum(axis=1)
        q[:, n] = bus_demand_.q_mvar[:, cols].sum(axis=1)
    return p, q
