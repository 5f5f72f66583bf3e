"""Turn a readings Dataset into the target series that a forecaster learns from.

Input contract (from :mod:`gridopt.ingest`): an :class:`xarray.Dataset` with dims ``(time, meter)``
and variables ``consumption_kwh`` / ``production_kwh`` (energy per interval, NaN where missing),
or bus-level data with dims ``(time, bus)`` and ``p_mw``. ``time`` holds the interval starts in
UTC (``datetime64[ns]``, no time zone); the attribute ``tz`` names the local zone.

The output of :func:`target_series` is a :class:`xarray.DataArray` with dims ``(time, series)``:
energy per interval in kWh of the chosen target, one column per forecast series.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.forecast.options import Aggregate, Target

logger = logging.getLogger(__name__)

#: Name of the series coordinate when the whole data set is summed into one series.
TOTAL_SERIES = "total"


def interval_seconds(time: xr.DataArray | pd.DatetimeIndex | np.ndarray) -> int:
    """Return the regular interval length of a time coordinate in seconds.

    Raises
    ------
    InputError
        If there are fewer than two timestamps, they are not increasing, or the spacing is
        irregular (the message names the first irregular position).
    """
    values = np.asarray(time, dtype="datetime64[ns]")
    if values.size < 2:
        raise InputError(
            f"the time coordinate has {values.size} timestamp(s); a forecast needs a regular "
            "series of at least two intervals"
        )
    steps = np.diff(values).astype("int64")
    first = int(steps[0])
    bad = np.flatnonzero(steps != first)
    if first <= 0 or bad.size:
        pos = int(bad[0]) + 1 if bad.size else 1
        raise InputError(
            f"the time coordinate is not regular: interval {pos} starts at {values[pos]} after "
            f"{values[pos - 1]} (expected a step of {first / 1e9:g} s); regularise the readings "
            "first (gridopt ingest --freq)"
        )
    seconds = first // 1_000_000_000
    if seconds * 1_000_000_000 != first or 86_400 % seconds:
        raise InputError(
            f"the interval of {first / 1e9:g} s does not divide a day; use an interval such as "
            "15 min, 30 min or 1 h"
        )
    return int(seconds)


def data_timezone(data: xr.Dataset, tz: str | None) -> str:
    """Return the local zone: the explicit ``tz``, else the Dataset's ``tz`` attribute, else UTC."""
    if tz:
        return tz
    for holder in (data.attrs, data["time"].attrs):
        value = holder.get("tz")
        if value:
            return str(value)
    return "UTC"


def _series_dim(data: xr.Dataset) -> str:
    for dim in ("meter", "bus", "series"):
        if dim in data.dims:
            return dim
    raise InputError(
        f"the data has dims {tuple(data.dims)}; expected (time, meter) readings or (time, bus) "
        "bus-level data"
    )


#: Bus-level variables (mean power, MW) that stand for each energy variable.
_BUS_POWER = {"consumption_kwh": ("consumption_mw", "p_mw"), "production_kwh": ("production_mw",)}


def _variable_kwh(data: xr.Dataset, name: str, interval_h: float) -> xr.DataArray:
    if name in data:
        return data[name].astype("float64")
    for power in _BUS_POWER[name]:
        if power in data:  # bus-level mean power -> energy per interval
            return (data[power].astype("float64") * 1000.0 * interval_h).rename(name)
    raise InputError(
        f"the data has no variable {name!r} (found {sorted(map(str, data.data_vars))}); "
        "the target needs it"
    )


def target_series(
    data: xr.Dataset,
    target: Target,
    aggregate: Aggregate,
    mapping: pd.DataFrame | str | Path | None = None,
) -> xr.DataArray:
    """Select and aggregate the target energy per interval.

    Parameters
    ----------
    data
        Readings with dims ``(time, meter)``, or bus-level data ``(time, bus)`` from
        :func:`gridopt.ingest.aggregate_to_buses` (``consumption_mw``, ``production_mw``, or
        ``p_mw`` taken as consumption).
    target
        ``consumption`` uses ``consumption_kwh``; ``production`` uses ``production_kwh``;
        ``net`` is consumption minus production (a missing production counts as missing).
    aggregate
        ``total`` sums all series into one; ``meter`` keeps each meter; ``bus`` aggregates the
        meters through ``mapping`` with :func:`gridopt.ingest.aggregate_to_buses` (or keeps the
        ``bus`` dim of bus-level data).
    mapping
        Mapping table or CSV ``meter_id,bus[,power_factor][,scale]``, for ``aggregate=bus``.

    Returns
    -------
    xarray.DataArray
        Dims ``(time, series)``, float64 kWh per interval. Attribute ``series_dim`` records the
        original dimension name (``meter``, ``bus`` or ``total``).

    Notes
    -----
    The total over meters of an interval in which some meters are missing is scaled up by the
    ratio of all meters to reporting meters (``mean * n``): a missing reading must not look like
    zero demand. An interval where no meter reports stays NaN.
    """
    if "time" not in data.dims:
        raise InputError(f"the data has dims {tuple(data.dims)}; a 'time' dimension is required")
    dim = _series_dim(data)
    if aggregate is Aggregate.BUS and dim != "bus":
        if mapping is None:
            raise InputError(
                "aggregate=bus on meter readings needs a meter-to-bus mapping (--mapping FILE "
                "with columns meter_id,bus[,power_factor][,scale])"
            )
        from gridopt.ingest import aggregate_to_buses

        data = aggregate_to_buses(data, mapping)
        dim = "bus"
    interval_h = interval_seconds(data["time"].values) / 3600.0
    if target is Target.CONSUMPTION:
        values = _variable_kwh(data, "consumption_kwh", interval_h)
    elif target is Target.PRODUCTION:
        values = _variable_kwh(data, "production_kwh", interval_h)
    else:
        values = _variable_kwh(data, "consumption_kwh", interval_h) - _variable_kwh(
            data, "production_kwh", interval_h
        )
    values = values.transpose("time", dim)
    if aggregate is Aggregate.TOTAL:
        out = _scaled_sum(values, dim).expand_dims(series=[TOTAL_SERIES], axis=1)
        series_dim = "total"
    else:
        out = values.rename({dim: "series"})
        series_dim = dim
    out = out.transpose("time", "series").drop_vars(
        [c for c in out.coords if c not in ("time", "series")]
    )
    out.attrs = {"units": "kWh", "target": target.value, "series_dim": series_dim}
    return out.rename(f"{target.value}_kwh")


def _scaled_sum(values: xr.DataArray, dim: str) -> xr.DataArray:
    count = values.count(dim)
    total = values.sum(dim, skipna=True) * values.sizes[dim] / count.where(count > 0)
    return total


def data_hash(series: xr.DataArray) -> str:
    """Return the SHA-256 of a target series (times, series names and values)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(series["time"].values.astype("datetime64[ns]")).tobytes())
    digest.update("\x1f".join(str(s) for s in series["series"].values).encode())
    digest.update(np.ascontiguousarray(series.values.astype("float64")).tobytes())
    return digest.hexdigest()


def align_weather(weather: xr.Dataset, time: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Align weather covariates to a time grid.

    Each weather value holds from its timestamp until the next one (a step function), so hourly
    weather serves half-hourly readings. Times outside the weather record are NaN.

    Parameters
    ----------
    weather
        Dataset with a ``time`` dim (UTC, ``datetime64[ns]``) and numeric variables.
    time
        Target grid (UTC ``datetime64[ns]``).

    Returns
    -------
    values, names
        Array ``(len(time), n_variables)`` and the variable names.
    """
    if "time" not in weather.dims:
        raise InputError(
            f"the weather data has dims {tuple(weather.dims)}; it needs a 'time' dimension"
        )
    names = tuple(
        str(name)
        for name, var in weather.data_vars.items()
        if var.dims == ("time",) and np.issubdtype(var.dtype, np.number)
    )
    if not names:
        raise InputError("the weather data has no numeric variable over time; nothing to use")
    index = pd.DatetimeIndex(weather["time"].values)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise InputError(
            "the weather timestamps are not strictly increasing; sort and de-duplicate them"
        )
    step = np.median(np.diff(index.asi8)) if len(index) > 1 else 3_600_000_000_000
    frame = pd.DataFrame(
        {name: weather[name].values.astype("float64") for name in names}, index=index
    )
    aligned = frame.reindex(
        pd.DatetimeIndex(time), method="ffill", tolerance=pd.Timedelta(int(step), "ns")
    )
    return aligned.to_numpy(dtype="float64"), names
