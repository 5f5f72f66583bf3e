"""The embedded store's format, measured: gridopt's partitioned Parquet store against Zarr (3.x,
through xarray, as its documentation writes a Dataset) on the same validated readings.

Both sides run the same ingest (``read_readings`` of each file); the Parquet side is
:func:`gridopt.ingest.store.append` (digest, conflict check, commit included), the Zarr side
``Dataset.to_zarr`` with chunks of one month by one meter block, appending each file along
``meter`` (every file is a block of meters over the same hours). Timed: the append of every
file, a lazy open + read of one meter block x one week, a lazy open + read of everything, and
the bytes on disk.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from gridopt.ingest import read_readings
from gridopt.ingest.store import append, open_store

MONTH_STEPS = 24 * 31


def du(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def parquet_append(files: list[Path], store: Path, block: int) -> None:
    """gridopt's store: one append of every file."""
    append(store, files, meter_block=block)


def zarr_append(files: list[Path], store: Path, block: int) -> None:
    """Zarr through xarray: the validated Dataset of each file, appended along ``meter``."""
    for i, f in enumerate(files):
        ds = read_readings(f).data
        ds.attrs = {k: v for k, v in ds.attrs.items() if k != "source"}
        if i == 0:
            encoding = {v: {"chunks": (MONTH_STEPS, block)} for v in ds.data_vars}
            ds.to_zarr(store, mode="w", encoding=encoding, consolidated=True)
        else:
            ds.to_zarr(store, append_dim="meter", consolidated=True)


def parquet_window(store: Path, meters: list[str], start: str, end: str) -> xr.Dataset:
    """Lazy open, then one block of meters over one week."""
    return open_store(store, start=start, end=end, meters=meters).load()


def zarr_window(store: Path, meters: list[str], start: str, end: str) -> xr.Dataset:
    """Lazy open, then one block of meters over one week."""
    ds = xr.open_zarr(store, consolidated=True)
    return ds.sel(meter=meters, time=slice(np.datetime64(start[:19]),
                                           np.datetime64(end[:19]))).load()


def parquet_all(store: Path) -> xr.Dataset:
    return open_store(store).load()


def zarr_all(store: Path) -> xr.Dataset:
    return xr.open_zarr(store, consolidated=True).load()


def split_days(files: list[Path], out: Path, days: int) -> list[Path]:
    """The first ``days`` days of every meter, one file a day (the daily export of a utility)."""
    import pandas as pd

    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    stamp = pd.to_datetime(frame["timestamp"], utc=True)
    first = stamp.min().floor("D")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in range(days):
        lo, hi = first + pd.Timedelta(days=d), first + pd.Timedelta(days=d + 1)
        path = out / f"day-{d:03d}.parquet"
        frame[(stamp >= lo) & (stamp < hi)].to_parquet(path, index=False)
        paths.append(path)
    return paths


def zarr_append_days(files: list[Path], store: Path, block: int) -> None:
    """Zarr through xarray: each day appended along ``time`` (no check that the day is new:
    appending it twice would duplicate it)."""
    for i, f in enumerate(files):
        ds = read_readings(f).data
        ds.attrs = {k: v for k, v in ds.attrs.items() if k != "source"}
        if i == 0:
            encoding = {v: {"chunks": (MONTH_STEPS, block)} for v in ds.data_vars}
            ds.to_zarr(store, mode="w", encoding=encoding, consolidated=True)
        else:
            ds.to_zarr(store, append_dim="time", consolidated=True)


def parquet_append_days(files: list[Path], store: Path, block: int) -> None:
    """gridopt's store: one append (one generation) per day."""
    for f in files:
        append(store, [f], meter_block=block)


def run_daily(files: list[Path], work: Path, block: int, repeats: int,
              days: int) -> dict[str, Any]:
    """Daily appends: ``days`` files of one day of every meter, appended one by one."""
    daily = split_days(files, work / "daily", days)
    runs = []
    for rep in range(repeats + 1):
        for name, func in (("parquet", parquet_append_days), ("zarr", zarr_append_days)):
            store = work / f"{name}-daily.store"
            shutil.rmtree(store, ignore_errors=True)
            t, _ = _timed(lambda func=func, store=store: func(daily, store, block))
            runs.append({"format": name, "repeat": rep, "warmup": rep == 0,
                         "seconds_per_day": t / days, "bytes": du(store)})
    return {"days": days, "runs": runs}


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def run_formats(files: list[Path], work: Path, block: int, repeats: int,
                window: tuple[str, str]) -> dict[str, Any]:
    """Interleaved repeats (plus one warm-up each) of both formats; every repeat recorded."""
    impls = {
        "parquet": (parquet_append, parquet_window, parquet_all),
        "zarr": (zarr_append, zarr_window, zarr_all),
    }
    runs: list[dict[str, Any]] = []
    first_meters = sorted(read_readings(files[0]).data["meter"].values.tolist())[:block]
    check: dict[str, xr.Dataset] = {}
    for rep in range(repeats + 1):
        for name, (app, win, full) in impls.items():
            store = work / f"{name}.store"
            shutil.rmtree(store, ignore_errors=True)
            t_append, _ = _timed(lambda app=app, store=store: app(files, store, block))
            t_window, w = _timed(lambda win=win, store=store: win(store, first_meters, *window))
            t_all, everything = _timed(lambda full=full, store=store: full(store))
            check[name] = everything
            runs.append({"format": name, "repeat": rep, "warmup": rep == 0,
                         "append_s": t_append, "window_s": t_window, "read_all_s": t_all,
                         "bytes": du(store), "window_cells": int(w["quality"].size),
                         "cells": int(everything["quality"].size)})
    a, b = check["parquet"], check["zarr"].sel(meter=check["parquet"]["meter"])
    identical = all(np.array_equal(a[v].values, b[v].values, equal_nan=True)
                    for v in ("consumption_kwh", "production_kwh", "quality"))
    return {"runs": runs, "identical": identical, "block": block, "files": len(files),
            "window": list(window)}
