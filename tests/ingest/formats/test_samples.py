"""The real meter-export samples ingest, with energies checked against plain-text sums.

The expected sums are computed from the files' text with regular expressions and ``str.split``
(not the readers); timestamps are spot-checked against readings picked by hand from the files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridopt.ingest import Quality, read_readings
from gridopt.ingest.formats import Format, detect_format, read_format

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"


def _cell(ds: xr.Dataset, meter: str, when: str, var: str = "consumption_kwh") -> float:
    t = pd.Timestamp(when).tz_convert("UTC").tz_localize(None)
    return float(ds[var].sel(meter=meter, time=t))


def _quality(ds: xr.Dataset, meter: str, when: str) -> int:
    t = pd.Timestamp(when).tz_convert("UTC").tz_localize(None)
    return int(ds["quality"].sel(meter=meter, time=t))


# ---------------------------------------------------------------- Green Button


def _gb_text_sum_kwh(path: Path) -> tuple[float, int, int]:
    """Sum of IntervalReading values (Wh, powerOfTenMultiplier 0 in the samples), the number of
    readings, and readings with a ReadingQuality other than 0/14/17/18/19."""
    text = path.read_text(encoding="utf-8")
    readings = re.findall(r"<IntervalReading>(.*?)</IntervalReading>", text, flags=re.DOTALL)
    values = [int(re.findall(r"<value>(-?\d+)</value>", r)[0]) for r in readings]
    qualities = [re.search(r"<quality>(\d+)</quality>", r) for r in readings]
    flagged = sum(1 for q in qualities if q and int(q.group(1)) not in (0, 14, 17, 18, 19))
    assert re.search(r"<powerOfTenMultiplier>0<", text) and re.search(r"<uom>72<", text)
    return sum(values) / 1000.0, len(values), flagged


@pytest.mark.parametrize("name", ["test_usage_data.xml", "electric_containerized.xml"])
def test_green_button_energy_and_quality(name: str) -> None:
    path = DATA / name
    assert detect_format(path) is Format.GREEN_BUTTON
    expected_kwh, n_readings, n_flagged = _gb_text_sum_kwh(path)
    result = read_readings(path)
    ds = result.data
    assert result.report.rows_in == n_readings and len(result.quarantine) == 0
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(expected_kwh, abs=1e-9)
    assert int(np.isnan(ds["production_kwh"]).sum()) == ds["production_kwh"].size
    assert int((ds["quality"] == Quality.ESTIMATED).sum()) == n_flagged
    assert ds.attrs["source_format"] == "green_button"


def test_green_button_timestamps_by_hand() -> None:
    ds = read_readings(DATA / "test_usage_data.xml").data
    meter = "5446AF3F"
    # <start>1330578000</start> (3/1/2012 5:00 AM UTC), <value>282</value>, quality 8
    assert _cell(ds, meter, "2012-03-01T05:00:00Z") == pytest.approx(0.282)
    assert _quality(ds, meter, "2012-03-01T05:00:00Z") == Quality.ESTIMATED
    # <start>1330578900</start>, <value>323</value>, quality 7 (manually edited)
    assert _cell(ds, meter, "2012-03-01T05:15:00Z") == pytest.approx(0.323)
    assert _quality(ds, meter, "2012-03-01T05:15:00Z") == Quality.ESTIMATED
    # the third reading (value 294) has no ReadingQuality: measured
    assert _cell(ds, meter, "2012-03-01T05:30:00Z") == pytest.approx(0.294)
    assert _quality(ds, meter, "2012-03-01T05:30:00Z") == Quality.MEASURED
    assert str(ds["time"].values[-1])[:16] == "2012-03-15T03:45"
    assert ds.attrs["freq"] == "15min"


def test_green_button_containerized_gap_and_local_time() -> None:
    path = DATA / "electric_containerized.xml"
    formatted = read_format(path, Format.GREEN_BUTTON)
    assert formatted.summary["local_time_parameters"]["tzOffset"] == "-28800"
    ds = read_readings(path).data
    # 1293868800 = 2011-01-01T08:00Z = local midnight PST; value 450 Wh
    assert _cell(ds, "1", "2011-01-01T08:00:00Z") == pytest.approx(0.450)
    # the second block starts 9 h after the last reading of the first: missing cells between
    assert int((ds["quality"] == Quality.MISSING).sum()) == 8


# ---------------------------------------------------------------- NEM12


def _nem_text_sums(path: Path) -> dict[tuple[str, str], float]:
    """kWh per (NMI, suffix) from the 300 records, by splitting the lines."""
    sums: dict[tuple[str, str], float] = {}
    factor = {"WH": 1e-3, "KWH": 1.0, "MWH": 1e3}
    key, n, unit = ("", ""), 0, 1.0
    for line in path.read_text().splitlines():
        fields = line.split(",")
        if fields[0] == "200":
            key, n = (fields[1], fields[4]), 1440 // int(fields[8])
            unit = factor.get(fields[7].upper(), 0.0)
        elif fields[0] == "300":
            sums[key] = sums.get(key, 0.0) + sum(float(v) for v in fields[2:2 + n]) * unit
    return sums


@pytest.mark.parametrize("name", ["Example_NEM12_actual_interval.csv",
                                  "Example_NEM12_multiple_meters.csv",
                                  "Example_NEM12_multiple_quality.csv",
                                  "Example_NEM12_substituted_interval.csv"])
def test_nem12_energy_per_channel(name: str) -> None:
    path = DATA / name
    assert detect_format(path) is Format.NEM12
    sums = _nem_text_sums(path)
    ds = read_readings(path).data
    for nmi in ds["meter"].values:
        cons = sum(v for (m, s), v in sums.items() if m == nmi and s.startswith("E"))
        prod = sum(v for (m, s), v in sums.items() if m == nmi and s.startswith("B"))
        assert float(ds["consumption_kwh"].sel(meter=nmi).sum()) == pytest.approx(cons)
        assert float(ds["production_kwh"].sel(meter=nmi).sum()) == pytest.approx(prod)


def test_nem12_multiple_meters_channels() -> None:
    ds = read_readings(DATA / "Example_NEM12_multiple_meters.csv").data
    assert list(ds["meter"].values) == ["NCDE001111", "NDDD001888"]
    # E1 10 Wh + E2 100 Wh per 15 min; B1 10 Wh; 2003-12-04 00:00 NEM time = 12-03 14:00 UTC
    assert _cell(ds, "NCDE001111", "2003-12-03T14:00:00Z") == pytest.approx(0.110)
    assert _cell(ds, "NCDE001111", "2003-12-03T14:00:00Z", "production_kwh") == pytest.approx(
        0.010)
    # NDDD001888 has only an export channel (B1 20 Wh): consumption 0 by construction
    assert _cell(ds, "NDDD001888", "2003-12-03T14:00:00Z") == 0.0
    assert _cell(ds, "NDDD001888", "2003-12-03T14:00:00Z", "production_kwh") == pytest.approx(
        0.020)
    assert ds.attrs["freq"] == "15min"
    summary = read_format(DATA / "Example_NEM12_multiple_meters.csv", Format.NEM12).summary
    assert sorted(summary["skipped"]) == ["NCDE001111 Q1 (reactive energy)",
                                          "NDDD001888 K2 (reactive energy)"]


def test_nem12_time_is_utc_plus_10_without_dst() -> None:
    ds = read_readings(DATA / "Example_NEM12_actual_interval.csv").data
    # 300,20040201,1.111,... interval 1 of 2004-02-01 (AEST, no DST even in February)
    assert str(ds["time"].values[0])[:16] == "2004-01-31T14:00"
    assert _cell(ds, "VABD000163", "2004-02-01T00:00:00+10:00") == pytest.approx(1.111)
    assert ds.sizes["time"] == 48


def test_nem12_400_records_split_the_day() -> None:
    path = DATA / "Example_NEM12_multiple_quality.csv"
    fields = path.read_text().splitlines()[2].split(",")
    ds = read_readings(path).data
    q = ds["quality"].sel(meter="CCCC123456").values
    # 400,1,20,F14 / 400,21,24,A / 400,25,48,S14
    assert (q[:20] == Quality.ESTIMATED).all()
    assert (q[20:24] == Quality.MEASURED).all()
    assert (q[24:] == Quality.ESTIMATED).all()
    # interval 21 starts 2004-04-17 10:00 NEM time = 00:00 UTC; its value is field 2 + 20
    assert _cell(ds, "CCCC123456", "2004-04-17T00:00:00Z") == pytest.approx(float(fields[22]))


def test_nem12_substituted_day_is_flagged() -> None:
    ds = read_readings(DATA / "Example_NEM12_substituted_interval.csv").data
    assert bool((ds["quality"] == Quality.ESTIMATED).all())


def test_nem13_is_read_but_not_a_regular_dataset() -> None:
    path = DATA / "Example_NEM13_consumption_data.csv"
    assert detect_format(path) is Format.NEM13
    formatted = read_format(path, Format.NEM13, for_dataset=False)
    table = formatted.table.to_pandas()
    # 250 record: Quantity 1312.1 kWh from the read at 20031005093055 (NEM time)
    assert table["consumption_kwh"].tolist() == [pytest.approx(7654.9 - 6342.8)]
    assert str(table["timestamp"].iloc[0]) == "2003-10-04 23:30:55+00:00"
    assert not formatted.estimated.any()  # both reads are A (actual)
    with pytest.raises(Exception, match="NEM12 interval data"):
        read_readings(path)


# ---------------------------------------------------------------- MSCONS


def test_mscons_energy_quarantine_and_times() -> None:
    path = DATA / "MSCONS_TL_SAMPLE01.txt"
    assert detect_format(path) is Format.MSCONS
    text = path.read_text(encoding="latin-1")
    values = [float(v.replace(",", ".")) for v in re.findall(r"QTY\+220:([0-9,]+)'", text)]
    assert len(values) == 2976 and sum(values) == pytest.approx(680.282)
    result = read_readings(path)
    ds = result.data
    meter = "US0001062600000001000000022345671"
    assert list(ds["meter"].values) == [meter]
    # The edited clock times of the sample (20:16 starts, duplicated starts) are quarantined
    # row by row; what is kept plus what is quarantined is the file's sum.
    quarantined = pd.to_numeric(result.quarantine["consumption_kwh"]).sum()
    kept = float(ds["consumption_kwh"].sum())
    report = result.report
    assert report.quarantined_by_reason == {"conflicting_duplicate": 8,
                                            "off_grid_timestamp": 34}
    assert kept + quarantined == pytest.approx(sum(values), abs=1e-9)
    assert quarantined > 0  # the quarantined rows carry energy: the check above can fail
    # DTM+163:201512010000?+01:303 is the first start: 2015-11-30T23:00Z
    assert str(ds["time"].values[0])[:16] == "2015-11-30T23:00"
    # QTY+220:1,023 with DTM+163:201512011315?+01:303 -> 12:15 UTC, 1.023 kWh
    assert _cell(ds, meter, "2015-12-01T12:15:00Z") == pytest.approx(1.023)
    assert ds.attrs["source_format"] == "mscons"


def test_green_button_coastal_january_abridged() -> None:
    path = DATA / "Coastal_Multi_Family_January_2011_abridged.xml"
    expected_kwh, n_readings, n_flagged = _gb_text_sum_kwh(path)
    assert n_readings == 744 and n_flagged == 0
    ds = read_readings(path).data
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(expected_kwh, abs=1e-9)
    assert ds.attrs["freq"] == "h" and ds.sizes["time"] == 744
    # 2011-01-01 00:00 PST is the first reading: 08:00 UTC
    assert str(ds["time"].values[0])[:16] == "2011-01-01T08:00"
    assert int((ds["quality"] == Quality.MEASURED).sum()) == 744
