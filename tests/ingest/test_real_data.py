"""Ingestion of the real samples in data/meters (CityLearn homes, vic_electricity DST)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridopt.cli import ingest as ingest_cli
from gridopt.ingest import Quality, aggregate_to_buses, read_mapping, read_readings, resample

#: The source of data/meters/vic_dst_local_2013.csv (attribution in its SOURCE.md).
VIC_CSV = Path(__file__).resolve().parents[1] / "data" / "vic_electricity" / "vic_electricity.csv"


def test_citylearn_sample_is_clean_and_complete(samples: Path) -> None:
    path = samples / "citylearn_homes_12w.csv"
    raw = pd.read_csv(path)
    result = read_readings(path)
    ds, rep = result.data, result.report
    assert rep.rows_in == len(raw) == 17 * 12 * 7 * 24
    assert rep.rows_quarantined == 0 and rep.duplicates_collapsed == 0 and rep.gaps == 0
    assert ds.sizes == {"time": 12 * 7 * 24, "meter": 17}
    assert ds.attrs["freq"] == "h"
    assert str(ds["time"].values[0]) == "2022-08-01T08:00:00.000000000"  # 00:00 at -08:00
    assert (ds["quality"] == Quality.MEASURED).all()
    for var in ("consumption_kwh", "production_kwh"):
        expected = raw.groupby("meter_id")[var].sum()
        got = ds[var].sum("time").to_series()
        np.testing.assert_allclose(got[expected.index].values, expected.values, rtol=1e-12)
    daily = resample(ds, "D")
    assert np.isnan(daily["consumption_kwh"].values[[0, -1]]).all()
    assert not np.isnan(daily["consumption_kwh"].values[1:-1]).any()
    assert daily.sizes["time"] == 85  # UTC days: first (16 h) and last (8 h) are partial
    np.testing.assert_allclose(daily["consumption_kwh"].sum().item(),
                               ds["consumption_kwh"].isel(time=slice(16, 16 + 83 * 24)).sum()
                               .item(), rtol=1e-12)


def test_citylearn_buses_case33bw(samples: Path) -> None:
    ds = read_readings(samples / "citylearn_homes_12w.csv").data
    mapping = read_mapping(samples / "case33bw_mapping.csv")
    buses = aggregate_to_buses(ds, samples / "case33bw_mapping.csv")
    assert list(buses["bus"].values) == list(range(1, 33))
    assert buses.attrs["unmapped_meters"] == "" and buses.attrs["mapped_without_data"] == ""
    # Independent check of one bus: scale x (consumption - production) [kWh in 1 h] / 1000.
    row = mapping.iloc[22]
    home = ds.sel(meter=row.meter_id)
    expected = row.scale * (home["consumption_kwh"] - home["production_kwh"]).values / 1000.0
    np.testing.assert_allclose(buses["p_mw"].sel(bus=row.bus).values, expected, rtol=1e-12)
    q = row.scale * home["consumption_kwh"].values / 1000 * np.tan(np.arccos(row.power_factor))
    np.testing.assert_allclose(buses["q_mvar"].sel(bus=row.bus).values, q, rtol=1e-12)
    peak = float(buses["consumption_mw"].sum("bus").max())
    assert 2.0 < peak < 6.0  # scaled to the order of case33bw's 3.7 MW nominal load


def test_vic_dst_sample_keeps_every_half_hour(samples: Path) -> None:
    result = read_readings(samples / "vic_dst_local_2013.csv", tz="Australia/Melbourne")
    ds = result.data
    assert result.report.rows_quarantined == 0 and result.report.duplicates_collapsed == 0
    measured = ds["time"].values[(ds["quality"].sel(meter="VIC") == Quality.MEASURED).values]
    assert measured.size == 1344
    # Each fortnight is one unbroken run of half hours in UTC: 14 days x 48 half hours, with one
    # 25-hour day (April) and one 23-hour day (October).
    steps = np.diff(measured).astype("timedelta64[m]").astype(int)
    breaks = np.flatnonzero(steps != 30)
    assert breaks.size == 1
    assert breaks[0] + 1 == 14 * 48 + 2  # April fortnight has two extra half hours
    assert len(result.gaps) == 1  # only the months between the two fortnights


def test_vic_dst_sample_matches_source_utc(samples: Path) -> None:
    ds = read_readings(samples / "vic_dst_local_2013.csv", tz="Australia/Melbourne").data
    assert VIC_CSV.is_file(), f"{VIC_CSV} is missing from the checkout"
    src = pd.read_csv(VIC_CSV)
    demand = pd.Series(src["Demand"].to_numpy() * 500.0,
                       index=pd.to_datetime(src["Time"], utc=True).dt.tz_localize(None))
    got = ds["consumption_kwh"].sel(meter="VIC").to_series().dropna()
    np.testing.assert_allclose(got.values, demand[got.index].values, rtol=1e-9)


def test_cli_on_citylearn_with_mapping(samples: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="gridopt")
    ingest_cli.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "homes.nc"
    args = parser.parse_args(["ingest", str(samples / "citylearn_homes_12w.csv"), "--out",
                              str(out), "--mapping", str(samples / "case33bw_mapping.csv"),
                              "--json"])
    assert args.func(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows_in"] == payload["rows_clean"] == 34272
    assert payload["meters"] == 17 and payload["freq"] == "h" and payload["buses"] == 32
    back = xr.load_dataset(out)
    assert back["consumption_kwh"].dims == ("time", "meter")
    buses = xr.load_dataset(payload["bus_file"])
    assert buses["p_mw"].dims == ("time", "bus")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "homes.buses.nc", "homes.nc", "homes.quarantine.csv", "homes.report.json"]
