"""Energy per interval -> mean power, and aggregation to coarser intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest.interval import freq_string, parse_freq
from gridopt.ingest.model import Quality


def interval_hours(data: xr.Dataset) -> float:
    """Length of one interval in hours, from the ``freq`` attribute."""
    if "freq" not in data.attrs:
        raise InputError("dataset has no 'freq' attribute; it must come from read_readings")
    return float(parse_freq(str(data.attrs["freq"])) / pd.Timedelta(hours=1))


def to_power(data: xr.Dataset) -> xr.Dataset:
    r"""Mean power over each interval from the energy in it.

    .. math:: P_{t,m}\,[\mathrm{kW}] = E_{t,m}\,[\mathrm{kWh}] \,/\, \Delta t\,[\mathrm{h}]

    Every ``<name>_kwh`` variable becomes ``<name>_kw``; ``quality`` and the attributes are
    kept. NaN stays NaN.
    """
    hours = interval_hours(data)
    out = xr.Dataset(coords=data.coords, attrs=dict(data.attrs))
    for name, var in data.data_vars.items():
        key = str(name)
        if key.endswith("_kwh"):
            power = var / hours
            power.attrs = {**var.attrs, "units": "kW",
                           "long_name": f"mean power over the interval ({key[:-4]})"}
            out[key[:-4] + "_kw"] = power
        else:
            out[key] = var
    return out


def resample(data: xr.Dataset, freq: str) -> xr.Dataset:
    """Aggregate energy to a coarser interval (a whole multiple of the dataset's interval).

    Coarse intervals are aligned on multiples of ``freq`` since 1970-01-01 UTC (daily intervals
    are UTC days). The energy of a coarse interval is the sum of its fine intervals; if any of
    them is missing (NaN), or the coarse interval is only partly covered at the ends of the
    data, its value is NaN. ``quality`` is the worst fine flag (``MISSING`` for partly covered
    coarse intervals).
    """
    if not data.attrs.get("freq"):
        raise InputError("dataset has no 'freq' attribute; it must come from read_readings")
    fine = parse_freq(str(data.attrs["freq"]))
    coarse = parse_freq(freq)
    ratio = coarse / fine
    if coarse < fine or ratio != int(ratio):
        raise InputError(
            f"cannot resample {data.attrs['freq']} data to {freq}: the new interval must be a "
            f"whole multiple of the old one"
        )
    k = int(ratio)
    step_ns, coarse_ns = int(fine.value), int(coarse.value)
    times = data["time"].values.astype("datetime64[ns]").view(np.int64)
    n_time = times.size
    if n_time == 0:
        return data
    first_bin = (times[0] // coarse_ns) * coarse_ns
    pad_before = int((times[0] - first_bin) // step_ns)
    n_bins = -(-(pad_before + n_time) // k)
    pad_after = n_bins * k - pad_before - n_time
    out = xr.Dataset(attrs={**data.attrs, "freq": freq_string(coarse)})
    new_time = (first_bin + coarse_ns * np.arange(n_bins, dtype=np.int64)).astype(
        "datetime64[ns]")
    for name, var in data.data_vars.items():
        arr = var.transpose("time", ...).values
        rest = arr.shape[1:]
        if str(name) == "quality":
            padded = np.concatenate([
                np.full((pad_before, *rest), Quality.MISSING, dtype=np.int8), arr,
                np.full((pad_after, *rest), Quality.MISSING, dtype=np.int8)])
            blocks = padded.reshape(n_bins, k, *rest)
            agg = blocks.max(axis=1).astype(np.int8)
            # ESTIMATED (6) is "worse" than MISSING (2) / RESET (3) only while there is a value.
            gone = np.isin(blocks, (Quality.MISSING, Quality.RESET))
            agg = np.where(gone.any(axis=1), blocks.max(axis=1, initial=-1, where=gone),
                           agg).astype(np.int8)
        else:
            padded = np.concatenate([np.full((pad_before, *rest), np.nan), arr,
                                     np.full((pad_after, *rest), np.nan)])
            agg = padded.reshape(n_bins, k, *rest).sum(axis=1)
        dims = var.transpose("time", ...).dims
        out[name] = (dims, agg, dict(var.attrs))
    out = out.assign_coords(time=("time", new_time, dict(data["time"].attrs)))
    for cname, coord in data.coords.items():
        if cname != "time" and "time" not in coord.dims:
            out = out.assign_coords({cname: coord})
    return out
