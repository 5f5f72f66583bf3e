"""Atomic writers: the NetCDF result and the quarantine CSV beside it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
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


def _atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place.

    A reader never sees a half-written file; on failure the temporary file is removed and an
    existing file at ``path`` is left untouched.
    """
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF atomically (temporary file in the same directory + ``os.replace``)."""
    return _atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame to CSV atomically (no index column)."""
    return _atomic(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 text (e.g. a JSON report) atomically."""
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def quarantine_path(out: str | Path) -> Path:
    """Where the quarantine CSV of an output goes: ``<out stem>.quarantine.csv`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.quarantine.csv")
