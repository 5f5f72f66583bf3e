"""Locations of the sample data shipped in the repository's ``data/`` folder."""

from __future__ import annotations

import os
from pathlib import Path

from gridopt.errors import InputError


def data_dir() -> Path:
    """Return the sample-data folder (``$GRIDOPT_DATA`` or the repository's ``data/``)."""
    env = os.environ.get("GRIDOPT_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "data"
    if not root.is_dir():
        raise InputError(
            f"sample data folder {root} not found; set GRIDOPT_DATA to the gridopt 'data' folder"
        )
    return root


def sample_case_path(name: str) -> Path:
    """Return the path of a PGLib case shipped in ``data/pglib`` (``name`` without ``.m``)."""
    stem = name[:-2] if name.endswith(".m") else name
    path = data_dir() / "pglib" / f"{stem}.m"
    if not path.is_file():
        available = sorted(p.stem for p in (data_dir() / "pglib").glob("*.m"))
        raise InputError(f"no sample case {name!r}; available: {', '.join(available)}")
    return path
