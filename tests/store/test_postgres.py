"""The PostgreSQL round trip against a real server: write readings, read a window back into
the ingest Dataset (every reader), write forecasts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest import read_readings
from gridopt.ingest.postgres import (
    Reader,
    _connect,
    read_window,
    write_forecasts,
    write_readings,
)
from gridopt.ingest.store import append, open_store
from tests.store._compare import HOMES, same_bytes


def _reset(uri: str) -> None:
    with _connect(uri) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS readings, forecasts, gridopt_meta CASCADE")
        conn.commit()


@pytest.mark.parametrize("reader", list(Reader))
def test_round_trip(pg_uri: str, reader: Reader, tmp_path: Path) -> None:
    _reset(pg_uri)
    ds = read_readings(HOMES).data
    assert write_readings(pg_uri, ds)["rows_added"] > 0
    assert write_readings(pg_uri, ds)["rows_added"] == 0     # idempotent
    same_bytes(read_window(pg_uri, reader=reader), ds)
    # The same window as the embedded store gives.
    append(tmp_path / "s", [HOMES])
    window = read_window(pg_uri, "2022-09-03T10:30Z", "2022-09-10T00:00Z",
                         meters=["Building_7", "Building_1"], reader=reader)
    assert window.sizes == {"time": 158, "meter": 2}
    same_bytes(window, open_store(tmp_path / "s", start="2022-09-03T10:30Z",
                                   end="2022-09-10T00:00Z",
                                   meters=["Building_7", "Building_1"]).load())
    # Forecasts back to a table; rewriting a run replaces it.
    p50 = ds["consumption_kwh"].isel(time=slice(0, 24)).values
    fc = xr.Dataset({"consumption_kwh": (("time", "meter", "quantile"),
                                         np.stack([p50 * 0.8, p50, p50 * 1.2], axis=-1))},
                    coords={"time": ds["time"].values[:24], "meter": ds["meter"].values,
                            "quantile": [0.1, 0.5, 0.9]},
                    attrs={"origin": "2022-08-01T08:00:00+00:00", "model": "demo@v1"})
    assert write_forecasts(pg_uri, fc) == 24 * 17 * 3
    assert write_forecasts(pg_uri, fc) == 24 * 17 * 3
    with _connect(pg_uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), sum(value_kwh) FROM forecasts WHERE quantile = 0.5")
        count, total = cur.fetchone()
    assert count == 24 * 17
    assert total == pytest.approx(float(np.nansum(p50)), rel=1e-12)


def test_conflict_is_refused(pg_uri: str) -> None:
    _reset(pg_uri)
    ds = read_readings(HOMES).data
    write_readings(pg_uri, ds.isel(time=slice(0, 100)))
    changed = ds.copy(deep=True)
    changed["consumption_kwh"][5, 3] = 42.0
    with pytest.raises(InputError, match="differ from readings already in the database"):
        write_readings(pg_uri, changed)
    # Nothing of the refused write went in; the rest can still be appended.
    assert read_window(pg_uri).sizes["time"] == 100
    write_readings(pg_uri, ds)
    same_bytes(read_window(pg_uri), ds)
