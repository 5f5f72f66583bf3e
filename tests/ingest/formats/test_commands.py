"""The exports go through the same path as CSV for the other commands (forecast input) and
survive the NetCDF written by ``gridopt ingest``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

from gridopt.forecast.io import read_data
from gridopt.ingest import Quality
from tests.ingest.formats.test_bad_files import run_cli

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"


def test_forecast_input_reads_an_export() -> None:
    ds = read_data(DATA / "Example_NEM12_multiple_quality.csv")
    assert ds.sizes["time"] == 48
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(896.99)


def test_ingest_writes_the_export_with_its_quality_and_mapping(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gb.nc"
    assert run_cli([str(DATA / "test_usage_data.xml"), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "ok" and payload["rows_in"] == 1340
    with xr.open_dataset(out) as ds:
        assert int((ds["quality"] == Quality.ESTIMATED).sum()) == 2 == payload["cells_estimated"]
        assert payload["cells_measured"] == 1338
        assert ds.attrs["source_format"] == "green_button"
        mapping = json.loads(ds.attrs["source_mapping"])
        assert mapping["channels"][0]["direction"] == "consumption"
        assert 6 in ds["quality"].attrs["flag_values"].tolist()
