"""Meter-to-bus mapping: meter energy ``(time, meter)`` -> bus power ``(time, bus)``."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest.power import interval_hours

log = logging.getLogger(__name__)

#: Power factor used when the mapping has no ``power_factor`` column (or an empty cell).
DEFAULT_POWER_FACTOR = 1.0


@dataclass(frozen=True)
class MappingReport:
    """Meters of the data that map to no bus, and mapped meters that are not in the data."""

    unmapped_meters: tuple[str, ...]
    mapped_without_data: tuple[str, ...]


def read_mapping(mapping: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Read and check a mapping table ``meter_id,bus[,power_factor][,scale]``.

    ``bus`` is the integer bus index of the network; ``power_factor`` in (0, 1] (lagging, for
    consumption); ``scale`` (default 1) multiplies the meter's energy: a meter can stand for
    several similar customers, and with a ``scale`` column one meter may appear on several buses
    (each row is a separate group of customers). Without ``scale`` a meter on two buses is
    refused, since its energy would be counted twice.
    """
    source = "mapping"
    if isinstance(mapping, str | Path):
        source = str(mapping)
        try:
            frame = pd.read_csv(mapping, dtype={"meter_id": str})
        except FileNotFoundError as exc:
            raise InputError(f"{mapping}: mapping file not found") from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{mapping}: cannot read the mapping CSV ({exc})") from exc
    else:
        frame = mapping.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("meter_id", "bus") if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}; expected "
                         f"meter_id,bus[,power_factor][,scale]")
    frame["meter_id"] = frame["meter_id"].astype(str).str.strip()
    bus = pd.to_numeric(frame["bus"], errors="coerce")
    bad = bus.isna() | (bus != bus.round()) | (bus < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{source}: row {row + 1}: bus {frame['bus'].iloc[row]!r} is not a "
                         f"non-negative integer bus index")
    frame["bus"] = bus.astype(np.int64)
    if "power_factor" in frame.columns:
        pf = pd.to_numeric(frame["power_factor"], errors="coerce").fillna(DEFAULT_POWER_FACTOR)
    else:
        pf = pd.Series(DEFAULT_POWER_FACTOR, index=frame.index)
    if ((pf <= 0) | (pf > 1)).any():
        row = int(np.flatnonzero(((pf <= 0) | (pf > 1)).to_numpy())[0])
        raise InputError(f"{source}: row {row + 1}: power_factor {pf.iloc[row]} must be in (0, 1]")
    frame["power_factor"] = pf.astype(float)
    has_scale = "scale" in frame.columns
    scale = (pd.to_numeric(frame["scale"], errors="coerce") if has_scale
             else pd.Series(1.0, index=frame.index))
    if scale.isna().any() or (scale < 0).any():
        row = int(np.flatnonzero((scale.isna() | (scale < 0)).to_numpy())[0])
        raise InputError(f"{source}: row {row + 1}: scale must be a non-negative number")
    frame["scale"] = scale.astype(float)
    pairs = frame.duplicated(["meter_id", "bus"])
    if pairs.any():
        row = int(np.flatnonzero(pairs.to_numpy())[0])
        raise InputError(f"{source}: row {row + 1}: meter {frame['meter_id'].iloc[row]} is "
                         f"mapped to bus {frame['bus'].iloc[row]} twice")
    repeated = frame["meter_id"].duplicated()
    if repeated.any() and not has_scale:
        meter = frame["meter_id"][repeated].iloc[0]
        buses = frame.loc[frame["meter_id"] == meter, "bus"].tolist()
        raise InputError(f"{source}: meter {meter} is mapped to buses {buses}; its energy would "
                         f"be counted on each. Add a 'scale' column to say how many customers "
                         f"each row stands for")
    return frame[["meter_id", "bus", "power_factor", "scale"]].reset_index(drop=True)


def mapping_report(data: xr.Dataset, mapping: pd.DataFrame | str | Path) -> MappingReport:
    """Which meters of ``data`` map to no bus, and which mapped meters have no data."""
    table = read_mapping(mapping)
    meters = [str(m) for m in data["meter"].values]
    mapped = set(table["meter_id"])
    present = set(meters)
    return MappingReport(
        unmapped_meters=tuple(m for m in meters if m not in mapped),
        mapped_without_data=tuple(sorted(mapped - present)),
    )


def aggregate_to_buses(data: xr.Dataset, mapping: pd.DataFrame | str | Path) -> xr.Dataset:
    r"""Bus-level mean active and reactive power from meter energy.

    For bus :math:`b` with mapping rows :math:`r = (m, b, \mathrm{pf}_r, s_r)`:

    .. math::

        P_{t,b} = \sum_r s_r \frac{E^{\mathrm{cons}}_{t,m} - E^{\mathrm{prod}}_{t,m}}
                  {1000\,\Delta t}, \qquad
        Q_{t,b} = \sum_r s_r \frac{E^{\mathrm{cons}}_{t,m}}{1000\,\Delta t}
                  \tan(\arccos \mathrm{pf}_r)

    in MW and Mvar (energy in kWh, :math:`\Delta t` in hours). Production is taken at unity
    power factor (inverters); an empty production value counts as no production. If the
    consumption of any meter of a bus is missing in an interval, the bus values are NaN there
    (``meters_missing`` counts such meters), never a silent partial sum.

    Returns
    -------
    xarray.Dataset
        Dims ``(time, bus)``: ``p_mw``, ``q_mvar``, ``consumption_mw``, ``production_mw``,
        ``meters_missing``; attributes ``unmapped_meters`` and ``mapped_without_data``
        (comma-separated ids), which are also logged as warnings.
    """
    table = read_mapping(mapping)
    report = mapping_report(data, table)
    meters = [str(m) for m in data["meter"].values]
    position = {m: i for i, m in enumerate(meters)}
    rows = table[table["meter_id"].isin(position)]
    buses = np.array(sorted(set(table["bus"])), dtype=np.int64)
    bus_pos = {int(b): j for j, b in enumerate(buses)}
    weight = np.zeros((len(meters), len(buses)))
    weight_q = np.zeros((len(meters), len(buses)))
    for meter_id, bus, pf, scale in rows.itertuples(index=False):
        i, j = position[meter_id], bus_pos[int(bus)]
        weight[i, j] += scale
        weight_q[i, j] += scale * math.tan(math.acos(pf))
    to_mw = 1.0 / (1000.0 * interval_hours(data))
    cons = data["consumption_kwh"].transpose("time", "meter").values * to_mw
    prod = data["production_kwh"].transpose("time", "meter").values * to_mw
    missing = np.isnan(cons)
    cons0 = np.where(missing, 0.0, cons)
    prod0 = np.nan_to_num(prod, nan=0.0)
    n_missing = missing.astype(np.float64) @ (weight > 0).astype(np.float64)
    bad = n_missing > 0
    cons_bus = np.where(bad, np.nan, cons0 @ weight)
    prod_bus = np.where(bad, np.nan, prod0 @ weight)
    q_bus = np.where(bad, np.nan, cons0 @ weight_q)
    if report.unmapped_meters:
        log.warning("%d meter(s) map to no bus and are left out: %s",
                    len(report.unmapped_meters), ", ".join(report.unmapped_meters))
    if report.mapped_without_data:
        log.warning("%d mapped meter(s) have no data: %s", len(report.mapped_without_data),
                    ", ".join(report.mapped_without_data))
    dims = ("time", "bus")
    return xr.Dataset(
        {
            "p_mw": (dims, cons_bus - prod_bus, {"units": "MW", "long_name":
                     "net active power drawn at the bus (consumption - production)"}),
            "q_mvar": (dims, q_bus, {"units": "Mvar", "long_name": "reactive power drawn"}),
            "consumption_mw": (dims, cons_bus, {"units": "MW"}),
            "production_mw": (dims, prod_bus, {"units": "MW"}),
            "meters_missing": (dims, n_missing.astype(np.int32), {
                "long_name": "mapped meters without consumption in the interval"}),
        },
        coords={"time": data["time"], "bus": ("bus", buses)},
        attrs={
            "freq": data.attrs.get("freq", ""),
            "tz": data.attrs.get("tz", "UTC"),
            "unmapped_meters": ",".join(report.unmapped_meters),
            "mapped_without_data": ",".join(report.mapped_without_data),
        },
    )
