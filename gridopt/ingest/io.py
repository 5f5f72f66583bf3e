"""Atomic writers: the NetCDF result and the quarantine CSV beside it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd
import xarray as xr

from gridopt.errors import InputError


def _temp_beside(path: Path) -> Path:
    """A fresh temporary file name in the target's directory (same file system for replace)."""
    if not path.parent.exists():
        raise InputError(f"{path}: the directory {path.parent} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF atomically (temporary file in the same directory + ``os.replace``).

    A reader never sees a half-written file; on failure the temporary file is removed and an
    existing file at ``path`` is left untouched.
    """
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame to CSV atomically (no index column)."""
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def quarantine_path(out: str | Path) -> Path:
    """Where the quarantine CSV of an output goes: ``<out stem>.quarantine.csv`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.quarantine.csv")
