"""Loaders of the reference meter data sets for the forecast benchmark and tests.

They build the ingestion contract (Dataset ``(time, meter)``, UTC interval starts, energy per
interval in kWh) straight from the raw files in ``shared/data/meters`` beside the checkout
(vic_electricity from the copy in ``tests/data``). They are not part of the product:
``gridopt ingest`` reads real readings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
#: The project's shared folder sits beside the checkout (as on CI).
SHARED_METERS = REPO.parent / "shared" / "data" / "meters"
VIC_CSV = REPO / "tests" / "data" / "vic_electricity" / "vic_electricity.csv"

#: CityLearn 2022 homes: Sierra Crest, Fontana, California (AIcrowd challenge page).
CITYLEARN_LATITUDE_DEG = 34.09
CITYLEARN_LONGITUDE_DEG = -117.43
#: The files carry no DST flag (always 0) and PV peaks at hour 12 (interval 11:00-12:00):
#: local standard time, UTC-8 all year. Weekend = day_type 6, 7 (highest daytime load), so
#: day_type 1 = Monday; the first row (month 7, hour 24, day_type 7) is Sunday 31 July 23:00.
#: 2022-07-31 is a Sunday (as is 2016-07-31); 2022 as in data/meters/SOURCE.md.
CITYLEARN_TZ = "Etc/GMT+8"
CITYLEARN_FIRST_INTERVAL_LOCAL = pd.Timestamp("2022-07-31 23:00")


def load_vic(path: Path | None = None, hourly: bool = True) -> tuple[xr.Dataset, xr.Dataset]:
    """Victoria total demand as one 'meter' (consumption in kWh per interval) and temperature.

    ``Time`` is UTC; the local zone is Australia/Melbourne. Hourly values are the mean of the two
    half-hours starting at the hour (label = interval start).
    """
    path = path or VIC_CSV
    frame = pd.read_csv(path, usecols=["Time", "Demand", "Temperature"])
    index = pd.DatetimeIndex(pd.to_datetime(frame["Time"], utc=True)).tz_localize(None)
    frame = frame.set_index(index)[["Demand", "Temperature"]]
    if hourly:
        frame = frame.resample("1h", closed="left", label="left").mean()
    interval_h = 1.0 if hourly else 0.5
    time = frame.index.values.astype("datetime64[ns]")
    data = xr.Dataset(
        {
            "consumption_kwh": (
                ("time", "meter"),
                frame[["Demand"]].to_numpy() * 1000.0 * interval_h,
            ),
        },
        coords={"time": time, "meter": ["VIC"]},
        attrs={"tz": "Australia/Melbourne"},
    )
    weather = xr.Dataset(
        {"temperature_c": ("time", frame["Temperature"].to_numpy())}, coords={"time": time}
    )
    return data, weather


def load_citylearn(
    directory: Path | None = None, buildings: range | list[int] = range(1, 18)
) -> tuple[xr.Dataset, xr.Dataset]:
    """CityLearn 2022 homes: consumption and PV production (kWh per hour) plus observed weather."""
    directory = directory or SHARED_METERS / "citylearn2022"
    schema = json.loads((directory / "schema.json").read_text())
    consumption, production, names = [], [], []
    for number in buildings:
        name = f"Building_{number}"
        frame = pd.read_csv(directory / f"{name}.csv")
        nominal_kw = float(schema["buildings"][name]["pv"]["attributes"]["nominal_power"])
        consumption.append(frame["non_shiftable_load"].to_numpy(dtype="float64"))
        production.append(frame["solar_generation"].to_numpy(dtype="float64") * nominal_kw / 1000.0)
        names.append(name)
        hours = frame["hour"].to_numpy()
    n = len(hours)
    start_utc = (
        CITYLEARN_FIRST_INTERVAL_LOCAL.tz_localize(CITYLEARN_TZ).tz_convert("UTC").tz_localize(None)
    )
    time = pd.date_range(start_utc, periods=n, freq="1h").values.astype("datetime64[ns]")
    local_hours = pd.DatetimeIndex(time).tz_localize("UTC").tz_convert(CITYLEARN_TZ).hour + 1
    if not np.array_equal(np.asarray(local_hours), hours):
        raise ValueError("the synthetic CityLearn calendar does not match the files' hour column")
    data = xr.Dataset(
        {
            "consumption_kwh": (("time", "meter"), np.column_stack(consumption)),
            "production_kwh": (("time", "meter"), np.column_stack(production)),
        },
        coords={"time": time, "meter": names},
        attrs={"tz": CITYLEARN_TZ},
    )
    frame = pd.read_csv(directory / "weather.csv")
    weather = xr.Dataset(
        {
            "temperature_c": (
                "time",
                frame["outdoor_dry_bulb_temperature"].to_numpy(dtype="float64"),
            ),
            "humidity_pct": ("time", frame["outdoor_relative_humidity"].to_numpy(dtype="float64")),
            "diffuse_w_m2": ("time", frame["diffuse_solar_irradiance"].to_numpy(dtype="float64")),
            "direct_w_m2": ("time", frame["direct_solar_irradiance"].to_numpy(dtype="float64")),
        },
        coords={"time": time},
    )
    return data, weather
