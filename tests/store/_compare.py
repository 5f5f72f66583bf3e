"""What the store tests compare against: the sample homes, and byte equality of the readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
HOMES = REPO / "data" / "meters" / "citylearn_homes_12w.csv"
VARIABLES = ("consumption_kwh", "production_kwh", "quality")


def same_bytes(a: xr.Dataset, b: xr.Dataset) -> None:
    """Assert equal meters, times and byte-identical readings variables."""
    assert list(a["meter"].values) == list(b["meter"].values)
    assert np.array_equal(a["time"].values, b["time"].values)
    for v in VARIABLES:
        assert a[v].dtype == b[v].dtype
        assert np.ascontiguousarray(a[v].values).tobytes() == \
            np.ascontiguousarray(b[v].values).tobytes(), v
