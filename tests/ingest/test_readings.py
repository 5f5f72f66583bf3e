"""Ingestion on small hand-made inputs: each quarantine reason, layouts, registers, gaps, buses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest import (
    FillPolicy,
    Quality,
    QuarantineBudget,
    ValidationOptions,
    aggregate_to_buses,
    read_readings,
    resample,
    to_power,
    write_netcdf,
)

HEADER = "meter_id,timestamp,consumption_kwh,production_kwh"
#: These small files exist to show each reason; the budget is tested in test_budget.py.
LENIENT = QuarantineBudget(max_file_fraction=1.0, max_meter_fraction=1.0)


def csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_every_reason_lands_in_quarantine(tmp_path: Path) -> None:
    rows = [
        "A,2024-01-01T00:00:00Z,1.0,0.0",
        "A,2024-01-01T00:30:00Z,1.5,",
        "A,2024-01-01T00:30:00Z,1.5,",  # exact duplicate: collapsed
        "A,2024-01-01T01:00:00Z,abc,0",  # non_numeric
        "A,2024-01-01T01:30:00Z,,0",  # missing_value
        "B,2024-01-01T00:00:00Z,2.0,0.5",
        "B,2024-01-01T00:30:00Z,2.0,0.5",  # conflicting with the next row
        "B,2024-01-01T00:30:00Z,2.1,0.5",
        "B,2024-01-01T01:00:00Z,-1,0.5",  # negative
        "B,2024-01-01T01:30:00Z,1,-0.5",  # negative production
        "B,2024-01-01T01:07:00Z,1,0.5",  # off_grid_timestamp
        ",2024-01-01T01:00:00Z,1,0.5",  # missing_meter_id
        "C,garbage,1,0.5",  # unparseable_timestamp
        "C,2024-01-01T01:30:00,1,0.5",  # naive without --tz
        "C,2024-01-01T01:30:00Z,1,0.5",
    ]
    result = read_readings(csv(tmp_path / "r.csv", rows), budget=LENIENT)
    rep = result.report
    assert rep.rows_in == 15
    assert rep.duplicates_collapsed == 1
    assert rep.quarantined_by_reason == {
        "conflicting_duplicate": 2, "missing_meter_id": 1, "unparseable_timestamp": 1,
        "naive_timestamp": 1, "missing_value": 1, "non_numeric": 1, "negative": 2,
        "off_grid_timestamp": 1,
    }
    assert rep.rows_in == rep.rows_clean + rep.rows_quarantined + rep.duplicates_collapsed
    q = result.quarantine
    assert list(q["row"]) == [4, 5, 7, 8, 9, 10, 11, 12, 13, 14]
    assert q.loc[q["row"] == 4, "consumption_kwh"].item() == "abc"
    ds = result.data
    assert ds.attrs["freq"] == "30min"
    assert list(ds["meter"].values) == ["A", "B", "C"]
    # The conflicting cell of B is missing, not one of the two values.
    b = ds.sel(meter="B")
    assert math.isnan(b["consumption_kwh"].sel(time="2024-01-01T00:30").item())
    assert b["quality"].sel(time="2024-01-01T00:30").item() == Quality.MISSING
    assert ds["consumption_kwh"].sel(meter="A", time="2024-01-01T00:30").item() == 1.5
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(1.0 + 1.5 + 2.0 + 1.0)


def test_offsets_convert_to_utc(tmp_path: Path) -> None:
    rows = ["A,2024-01-01T10:00:00+10:00,1,", "A,2024-01-01T00:30:00Z,2,",
            "A,2024-01-01T01:00:00.000+00:00,3,"]
    ds = read_readings(csv(tmp_path / "r.csv", rows)).data
    assert list(ds["time"].values) == list(pd.date_range("2024-01-01", periods=3, freq="30min"))
    assert ds["consumption_kwh"].dtype == np.float64
    assert ds["quality"].dtype == np.int8
    assert ds["time"].dtype == np.dtype("datetime64[ns]")


def test_naive_file_without_tz_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--tz"):
        read_readings(csv(tmp_path / "r.csv",
                          ["A,2024-01-01T00:00:00,1,", "A,2024-01-01T00:30:00,1,"]))


def test_nonexistent_local_time_is_quarantined(tmp_path: Path) -> None:
    # Sydney, 6 Oct 2024: clocks jump from 02:00 to 03:00; 02:30 does not exist.
    rows = [f"A,2024-10-06T{h},1," for h in ("01:00:00", "01:30:00", "02:30:00", "03:00:00")]
    result = read_readings(csv(tmp_path / "r.csv", rows), tz="Australia/Sydney",
                           budget=LENIENT)
    assert result.report.quarantined_by_reason == {"nonexistent_local_time": 1}
    assert result.data.sizes["time"] == 3  # 01:00, 01:30 (+10:00) then 03:00 (+11:00): contiguous
    assert (result.data["quality"] == Quality.MEASURED).all()


def test_unknown_meter_and_fixed_meter_list(tmp_path: Path) -> None:
    rows = ["A,2024-01-01T00:00:00Z,1,", "X,2024-01-01T00:00:00Z,1,",
            "A,2024-01-01T00:30:00Z,1,"]
    result = read_readings(csv(tmp_path / "r.csv", rows), meters=["A", "B"])
    assert result.report.quarantined_by_reason == {"unknown_meter": 1}
    assert list(result.data["meter"].values) == ["A", "B"]
    assert (result.data["quality"].sel(meter="B") == Quality.MISSING).all()


def test_relative_outlier_is_quarantined(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=200, freq="30min", tz="UTC")
    rows = [f"A,{t.isoformat()},{0.5 + 0.01 * (i % 7)}," for i, t in enumerate(times)]
    rows[50] = f"A,{times[50].isoformat()},9999,"
    result = read_readings(csv(tmp_path / "r.csv", rows))
    assert result.report.quarantined_by_reason == {"outlier": 1}
    assert result.quarantine["row"].tolist() == [51]
    off = read_readings(tmp_path / "r.csv", validation=ValidationOptions(outlier_factor=None))
    assert off.report.rows_quarantined == 0


def test_absolute_power_ceiling(tmp_path: Path) -> None:
    rows = ["A,2024-01-01T00:00:00Z,1,", "A,2024-01-01T00:30:00Z,6,"]
    result = read_readings(csv(tmp_path / "r.csv", rows),
                           validation=ValidationOptions(max_power_kw=10.0), budget=LENIENT)
    # 6 kWh in 30 min is 12 kW mean power, above 10 kW.
    assert result.report.quarantined_by_reason == {"outlier": 1}


def test_wide_layout(tmp_path: Path) -> None:
    path = csv(tmp_path / "w.csv", ["2024-01-01T00:00:00Z,1,2", "2024-01-01T01:00:00Z,,x",
                                    "2024-01-01T02:00:00Z,3,4"], header="timestamp,m1,m2")
    result = read_readings(path, layout="wide", budget=LENIENT)
    assert result.report.rows_in == 5  # empty cell is no reading
    assert result.report.quarantined_by_reason == {"non_numeric": 1}
    ds = result.data
    assert list(ds["meter"].values) == ["m1", "m2"]
    np.testing.assert_array_equal(ds["consumption_kwh"].values,
                                  [[1, 2], [np.nan, np.nan], [3, 4]])
    assert ds.attrs["freq"] == "h"


def test_cumulative_registers_with_rollover_and_reset(tmp_path: Path) -> None:
    regs = [99990.0, 99995.0, 3.0, 10.0, 2.0, 6.0]  # rollover at 1e5, then a reset to 2
    times = pd.date_range("2024-01-01", periods=len(regs), freq="h", tz="UTC")
    rows = [f"A,{t.isoformat()},{r}," for t, r in zip(times, regs, strict=True)]
    result = read_readings(csv(tmp_path / "c.csv", rows), cumulative=True)
    ds = result.data
    assert ds.sizes["time"] == len(regs) - 1
    np.testing.assert_allclose(ds["consumption_kwh"].sel(meter="A").values,
                               [5.0, 8.0, 7.0, np.nan, 4.0])
    assert ds["quality"].sel(meter="A").values.tolist() == [0, 0, 0, 3, 0]
    assert (result.report.rollovers, result.report.resets) == (1, 1)
    ev = result.register_events
    assert ev[ev["variable"] == "consumption_kwh"]["event"].tolist() == ["rollover", "reset"]


def test_linear_fill_is_flagged_and_bounded(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=12, freq="h", tz="UTC")
    keep = [0, 1, 3, 4, 9, 10, 11]  # gap of 1 (filled) and of 4 (longer than 2: kept missing)
    rows = [f"A,{times[i].isoformat()},{float(i)},0" for i in keep]
    result = read_readings(csv(tmp_path / "g.csv", rows), fill=FillPolicy.LINEAR,
                           max_fill_steps=2)
    a = result.data.sel(meter="A")
    assert a["consumption_kwh"].values[2] == pytest.approx(2.0)
    assert a["quality"].values.tolist() == [0, 0, 1, 0, 0, 2, 2, 2, 2, 0, 0, 0]
    assert result.gaps[["intervals"]].values.ravel().tolist() == [4]
    assert result.report.cells_filled == 1


def test_to_power_and_resample_conserve_energy(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01T00:30", periods=7, freq="30min", tz="UTC")
    rows = [f"A,{t.isoformat()},{i + 1},0.5" for i, t in enumerate(times)]
    ds = read_readings(csv(tmp_path / "p.csv", rows)).data
    power = to_power(ds)
    np.testing.assert_allclose(power["consumption_kw"].values.ravel(), 2.0 * np.arange(1, 8))
    assert power["consumption_kw"].attrs["units"] == "kW"
    hourly = resample(ds, "h")
    # 00:30 is alone in the 00:00 hour (partial -> NaN); 01:00 = 2 + 3, 02:00 = 4 + 5, ...
    np.testing.assert_allclose(hourly["consumption_kwh"].values.ravel(), [np.nan, 5, 9, 13],
                               equal_nan=True)
    assert hourly["quality"].values.ravel().tolist() == [2, 0, 0, 0]
    assert hourly.attrs["freq"] == "h"
    with pytest.raises(InputError, match="multiple"):
        resample(ds, "45min")


def test_bus_aggregation(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=2, freq="30min", tz="UTC")
    rows = [f"A,{times[0].isoformat()},1.0,0.2", f"A,{times[1].isoformat()},2.0,0.0",
            f"B,{times[0].isoformat()},0.5,", f"C,{times[0].isoformat()},4.0,0"]
    ds = read_readings(csv(tmp_path / "b.csv", rows)).data
    mapping = pd.DataFrame({"meter_id": ["A", "B", "Z"], "bus": [3, 3, 7],
                            "power_factor": [0.8, 1.0, 0.9]})
    buses = aggregate_to_buses(ds, mapping)
    assert buses.sizes == {"time": 2, "bus": 2}
    # t0: A 1.0 kWh/0.5 h = 2 kW, production 0.4 kW; B 1 kW -> p = 2.6 kW = 0.0026 MW
    assert buses["p_mw"].sel(bus=3).values[0] == pytest.approx(0.0026)
    assert buses["q_mvar"].sel(bus=3).values[0] == pytest.approx(0.002 * 0.75)
    # t1: B has no reading -> bus 3 is NaN, not a partial sum
    assert math.isnan(buses["p_mw"].sel(bus=3).values[1])
    assert buses["meters_missing"].sel(bus=3).values.tolist() == [0, 1]
    assert buses.attrs["unmapped_meters"] == "C"
    assert buses.attrs["mapped_without_data"] == "Z"
    with pytest.raises(InputError, match="scale"):
        aggregate_to_buses(ds, pd.DataFrame({"meter_id": ["A", "A"], "bus": [1, 2]}))
    scaled = aggregate_to_buses(ds, pd.DataFrame({"meter_id": ["A", "A"], "bus": [1, 2],
                                                  "scale": [2, 3]}))
    assert scaled["consumption_mw"].sel(bus=2).values[0] == pytest.approx(0.006)


def test_netcdf_round_trip_and_atomic_failure(tmp_path: Path) -> None:
    rows = ["A,2024-01-01T00:00:00Z,1,0", "A,2024-01-01T00:30:00Z,2,0"]
    ds = read_readings(csv(tmp_path / "r.csv", rows)).data
    out = tmp_path / "out.nc"
    write_netcdf(ds, out)
    back = xr.load_dataset(out)
    xr.testing.assert_identical(back.drop_attrs(deep=False), ds.drop_attrs(deep=False))
    before = out.read_bytes()
    bad = ds.assign_attrs(broken={"not": "serialisable"})
    with pytest.raises(TypeError):
        write_netcdf(bad, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "r.csv"]


def test_csv_gzip_and_parquet_give_the_same_dataset(tmp_path: Path) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    times = pd.date_range("2024-01-01", periods=6, freq="15min", tz="UTC")
    rows = [f"{m},{t.isoformat()},{i * 0.25 + k},{0.1 * i}" for k, m in enumerate("AB")
            for i, t in enumerate(times)]
    plain = csv(tmp_path / "r.csv", rows)
    zipped = tmp_path / "r.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    typed = tmp_path / "typed.parquet"
    frame = pd.read_csv(plain, float_precision="round_trip")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), typed)
    text = tmp_path / "text.parquet"
    pq.write_table(pa.Table.from_pandas(pd.read_csv(plain, dtype=str), preserve_index=False),
                   text)
    reference = read_readings(plain).data
    assert reference.attrs["freq"] == "15min"
    for other in (zipped, typed, text):
        ds = read_readings(other).data
        xr.testing.assert_identical(ds.drop_attrs(deep=False),
                                    reference.drop_attrs(deep=False))
