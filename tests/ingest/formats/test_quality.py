"""The ESTIMATED flag of the exports when intervals are resampled: missing still wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.ingest import Quality, resample


def test_resample_keeps_missing_over_estimated() -> None:
    t = pd.date_range("2024-01-01", periods=6, freq="30min")
    q = np.array([[Quality.MEASURED], [Quality.ESTIMATED], [Quality.MISSING],
                  [Quality.ESTIMATED], [Quality.MEASURED], [Quality.MEASURED]], dtype=np.int8)
    c = np.array([[1.0], [1.0], [np.nan], [1.0], [1.0], [1.0]])
    ds = xr.Dataset({"consumption_kwh": (("time", "meter"), c),
                     "quality": (("time", "meter"), q)},
                    coords={"time": t, "meter": ["a"]}, attrs={"freq": "30min"})
    out = resample(ds, "h")
    assert out["quality"].values.ravel().tolist() == [Quality.ESTIMATED, Quality.MISSING,
                                                      Quality.MEASURED]
    assert np.isnan(out["consumption_kwh"].values.ravel()[1])
