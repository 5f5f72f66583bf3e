"""Derive the sample files of data/meters/ from the reference copies (run once, by hand).

    .venv/bin/python data/meters/make_samples.py /work/shared/data/meters

Not used at run time; kept so the derivation in SOURCE.md can be repeated and checked.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
WEEKS = 12
#: Calendar year chosen for the CityLearn rows: the first row is month 7, hour 24, day_type 7
#: (Sunday, CityLearn: 1 = Monday ... 7 = Sunday); 1 Aug is then a Monday and the following
#: February has 28 days, which fits Aug 2022 - Jul 2023 (and 2016-17). No DST (status always 0),
#: so the local clock is Pacific standard time, UTC-08:00, all year.
YEAR = 2022
OFFSET = "-08:00"


def citylearn(src: Path) -> None:
    schema = json.loads((src / "schema.json").read_text())
    n_rows = WEEKS * 7 * 24
    start = pd.Timestamp(f"{YEAR}-08-01 00:00")
    local = pd.date_range(start, periods=n_rows, freq="h")
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%S") + OFFSET for t in local]
    frames = []
    for k in range(1, 18):
        name = f"Building_{k}"
        raw = pd.read_csv(src / f"{name}.csv")
        # Row 0 is 31 Jul hour 24; rows 1.. are 1 Aug hour 1 (interval 00:00-01:00), ...
        rows = raw.iloc[1 : 1 + n_rows]
        assert rows["month"].iloc[0] == 8 and rows["hour"].iloc[0] == 1
        assert rows["day_type"].iloc[0] == 1  # Monday 1 Aug 2022
        kwp = schema["buildings"][name]["pv"]["attributes"]["nominal_power"]
        frames.append(pd.DataFrame({
            "meter_id": name,
            "timestamp": stamps,
            "consumption_kwh": rows["non_shiftable_load"].round(6).to_numpy(),
            "production_kwh": (rows["solar_generation"] * kwp / 1000.0).round(6).to_numpy(),
        }))
    readings = pd.concat(frames, ignore_index=True)
    readings.to_csv(HERE / "citylearn_homes_12w.csv", index=False)

    weather = pd.read_csv(src / "weather.csv").iloc[1 : 1 + n_rows].reset_index(drop=True)
    weather.insert(0, "timestamp", stamps)
    weather.to_csv(HERE / "citylearn_weather_12w.csv", index=False)

    # case33bw: bus k (1..32) gets Building_((k - 1) % 17 + 1), scaled so that the home's
    # 95th-percentile hourly consumption in the sample equals the bus's nominal load p_mw;
    # power factor from the bus's nominal p_mw, q_mvar.
    import pandapower.networks as pn

    net = pn.case33bw()
    p95 = readings.groupby("meter_id")["consumption_kwh"].quantile(0.95)
    rows_map = []
    for load in net.load.itertuples():
        meter = f"Building_{(int(load.bus) - 1) % 17 + 1}"
        pf = load.p_mw / math.hypot(load.p_mw, load.q_mvar)
        scale = round(load.p_mw * 1000.0 / p95[meter])
        rows_map.append({"meter_id": meter, "bus": int(load.bus), "power_factor": round(pf, 4),
                         "scale": scale})
    pd.DataFrame(rows_map).to_csv(HERE / "case33bw_mapping.csv", index=False)


def vic(src: Path) -> None:
    """Two fortnights around the 2013 DST changes in Melbourne, naive local time, long layout."""
    raw = pd.read_csv(src / "vic_electricity.csv")
    utc = pd.to_datetime(raw["Time"], utc=True)
    parts = []
    for lo, hi in (("2013-03-31", "2013-04-14"), ("2013-09-29", "2013-10-13")):
        local = utc.dt.tz_convert("Australia/Melbourne")
        sel = (local >= pd.Timestamp(lo, tz="Australia/Melbourne")) & (
            local < pd.Timestamp(hi, tz="Australia/Melbourne"))
        parts.append(pd.DataFrame({
            "meter_id": "VIC",
            "timestamp": local[sel].dt.strftime("%Y-%m-%dT%H:%M:%S"),
            # Demand is mean MW over the half hour -> kWh in the interval.
            "consumption_kwh": np.round(raw.loc[sel, "Demand"].to_numpy() * 0.5 * 1000.0, 3),
        }))
    pd.concat(parts, ignore_index=True).to_csv(HERE / "vic_dst_local_2013.csv", index=False)


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/meters")
    citylearn(root / "citylearn2022")
    vic(root / "vic_electricity")
