"""Fixtures of the forecasting tests: the repository's CityLearn sample (12 weeks, 17 homes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from gridopt.forecast.io import read_weather_csv
from gridopt.ingest import read_readings

REPO = Path(__file__).resolve().parents[2]
METERS = REPO / "data" / "meters"
HOMES_CSV = METERS / "citylearn_homes_12w.csv"
WEATHER_CSV = METERS / "citylearn_weather_12w.csv"
MAPPING_CSV = METERS / "case33bw_mapping.csv"
#: vic_electricity (AEMO demand + Melbourne temperature; attribution in its SOURCE.md), kept in
#: tests/data because only tests read it (it is not shipped in the wheel).
VIC_CSV = REPO / "tests" / "data" / "vic_electricity" / "vic_electricity.csv"

#: Sierra Crest, Fontana, California (the CityLearn 2022 homes).
LATITUDE_DEG = 34.09
LONGITUDE_DEG = -117.43


@pytest.fixture(scope="session")
def homes() -> xr.Dataset:
    """Clean (time, meter) readings of the 17 homes, via the real ingestion."""
    return read_readings(HOMES_CSV).data


@pytest.fixture(scope="session")
def weather() -> xr.Dataset:
    """Observed weather of the sample period (temperature, humidity, irradiance, forecasts)."""
    data = read_weather_csv(WEATHER_CSV)
    keep = [
        "outdoor_dry_bulb_temperature",
        "outdoor_relative_humidity",
        "diffuse_solar_irradiance",
        "direct_solar_irradiance",
    ]
    return data[keep]
