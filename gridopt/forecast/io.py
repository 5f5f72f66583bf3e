"""Readers at the edge of the forecasting layer: readings and weather covariates.

- :func:`read_data`: a NetCDF written by ``gridopt ingest`` (dims ``time, meter`` or
  ``time, bus``), or a readings CSV/Parquet passed through :func:`gridopt.ingest.read_readings`.
- :func:`read_weather_csv`: ``timestamp`` (interval start, ISO 8601 with UTC offset; naive
  values need ``tz``) plus numeric covariate columns (e.g. ``temperature_c``, ``ghi_w_m2``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest.model import QuarantineBudget

logger = logging.getLogger(__name__)


def read_data(path: str | Path, *, tz: str | None = None,
              budget: QuarantineBudget | None = None,
              meter_chunk: int | None = None) -> xr.Dataset:
    """Load readings for forecasting.

    Parameters
    ----------
    path
        ``.nc`` from ``gridopt ingest``, a readings file (``.csv``, ``.csv.gz``, ``.parquet``)
        or a meter store directory (``gridopt store append``; loaded, or left lazy with
        ``meter_chunk``, chunked by the store's meter blocks).
    tz
        Zone of naive timestamps in a readings file (passed to the ingestion).
    budget
        Quarantine budget of a readings file (default :class:`QuarantineBudget`).
    meter_chunk
        Open a NetCDF lazily, Dask-backed in blocks of this many meters (whole time axis),
        instead of loading it.

    Returns
    -------
    xarray.Dataset
        Loaded into memory (the file is closed), or lazy with ``meter_chunk``.
    """
    path = Path(path)
    from gridopt.ingest.store import is_store, open_store

    if path.is_dir() and is_store(path):
        store = open_store(path)
        return store if meter_chunk is not None else store.load()
    if not path.is_file():
        raise InputError(
            f"{path}: no such file; give a NetCDF from 'gridopt ingest' or a readings CSV"
        )
    if path.suffix in (".nc", ".nc4", ".netcdf"):
        try:
            if meter_chunk is not None:
                data = xr.open_dataset(path, chunks={"meter": meter_chunk, "time": -1})
            else:
                with xr.open_dataset(path) as handle:
                    data = handle.load()
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read as NetCDF ({exc})") from exc
        if "time" not in data.dims:
            raise InputError(
                f"{path}: no 'time' dimension (dims {tuple(data.dims)}); not gridopt data"
            )
        return data
    from gridopt.ingest import read_readings

    result = read_readings(path, tz=tz, budget=budget)
    report = result.report
    logger.info("read %s: %s", path, report)
    return result.data


def read_weather_csv(path: str | Path, *, tz: str | None = None) -> xr.Dataset:
    """Read weather covariates from CSV into a Dataset over UTC ``time``.

    Parameters
    ----------
    path
        CSV with a ``timestamp`` column and one numeric column per covariate.
    tz
        Zone of naive timestamps; without it naive timestamps are refused.

    Raises
    ------
    InputError
        Unreadable or empty file, no ``timestamp`` column, unparseable or duplicate timestamps,
        non-numeric values (the message names the row and column).
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: weather file not found") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the weather CSV ({exc})") from exc
    if "timestamp" not in frame.columns:
        raise InputError(
            f"{path}: no 'timestamp' column (found {list(frame.columns)[:8]}); the weather CSV "
            "needs timestamp + numeric columns"
        )
    if frame.empty:
        raise InputError(f"{path}: the weather file has no rows")
    raw = frame.pop("timestamp").astype(str)
    stamps = pd.to_datetime(raw, errors="coerce", utc=False, format="ISO8601")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise InputError(f"{path}: row {row + 2}: cannot read timestamp {raw.iloc[row]!r}")
    index = pd.DatetimeIndex(stamps)
    if index.tz is None:
        if not tz:
            raise InputError(
                f"{path}: timestamps have no UTC offset; give --tz ZONE or write them with "
                "an offset"
            )
        index = index.tz_localize(tz, ambiguous="infer", nonexistent="shift_forward")
    index = index.tz_convert("UTC").tz_localize(None)
    if index.has_duplicates:
        row = int(np.flatnonzero(index.duplicated())[0])
        raise InputError(f"{path}: row {row + 2}: timestamp {raw.iloc[row]!r} appears twice")
    variables = {}
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{path}: row {row + 2}, column {column!r}: {frame[column].iloc[row]!r} is not "
                "a number"
            )
        variables[str(column)] = ("time", values.to_numpy(dtype="float64"))
    if not variables:
        raise InputError(f"{path}: no covariate column besides 'timestamp'")
    order = np.argsort(index.values, kind="stable")
    weather = xr.Dataset(variables, coords={"time": index.values.astype("datetime64[ns]")})
    return weather.isel(time=order)
