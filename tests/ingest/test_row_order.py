"""Row order carries no information: any permutation of a file gives the sorted file's output.

The output compared is the NetCDF file itself (bytes), the report's counts and the quarantine's
set of rows, for files sorted by meter, by time, interleaved and shuffled, with duplicates,
conflicting duplicates, bad rows, DST transitions, mixed intervals and single-reading meters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest import (
    IngestResult,
    Quality,
    QuarantineBudget,
    ingest_table,
    write_netcdf,
)
from gridopt.ingest.readers import LONG_COLUMNS

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
LENIENT = QuarantineBudget(max_file_fraction=1.0, max_meter_fraction=1.0)
START = pd.Timestamp("2024-03-01", tz="UTC")


def table(rows: list[tuple[str, str, str, str]]) -> pa.Table:
    """A raw long table as the CSV reader makes it (all text, empty cells null)."""
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.table([pa.array([v if v != "" else None for v in col], pa.string())
                     for col in columns], names=list(LONG_COLUMNS))


def digest(result: IngestResult, tmp: Path) -> str:
    path = tmp / "out.nc"
    write_netcdf(result.data, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outcome(rows: list[tuple[str, str, str, str]], tmp: Path, **kw: object) -> tuple:
    """Everything that must not depend on row order (row numbers map back to row content)."""
    try:
        result = ingest_table(table(rows), source="readings.csv", budget=LENIENT, **kw)
    except InputError as exc:
        return ("error", type(exc).__name__, str(exc).split(" (")[0])
    rep = result.report.to_dict()
    for key in ("top_reasons",):  # example rows are row numbers: order-dependent by design
        rep.pop(key)
    quarantined = sorted((rows[r - 1], reason) for r, reason in
                         zip(result.quarantine["row"], result.quarantine["reason"], strict=True))
    return digest(result, tmp), rep, quarantined


@st.composite
def meter_files(draw: st.DrawFn) -> list[tuple[str, str, str, str]]:
    """Several meters (each 15, 30 or 60 min, or a single reading), gaps, duplicates,
    conflicts, bad rows; rows in time order per meter (the "sorted" file)."""
    rows: list[tuple[str, str, str, str]] = []
    minutes = draw(st.sampled_from([15, 30, 60]))
    for m in range(draw(st.integers(1, 4))):
        meter = f"M{m:02d}"
        n = draw(st.integers(1, 40))
        for i in range(n):
            if i > 2 and draw(st.integers(0, 5)) == 0:
                continue  # gap
            stamp = (START + pd.Timedelta(minutes=minutes * i)).isoformat()
            value = f"{draw(st.integers(0, 9999)) / 1000}"
            rows.append((meter, stamp, value, "0"))
            extra = draw(st.integers(0, 12))
            if extra == 0:
                rows.append((meter, stamp, value, "0"))  # exact duplicate
            elif extra == 1:
                rows.append((meter, stamp, value + "1", "0"))  # conflicting duplicate
            elif extra == 2:
                rows.append((meter, stamp, "n/a", "0"))  # non-numeric
    if draw(st.booleans()):
        rows.append(("", START.isoformat(), "1", "0"))  # missing meter id
    return rows


@SETTINGS
@given(rows=meter_files(), seed=st.integers(0, 2**32 - 1))
def test_any_permutation_gives_the_sorted_files_output(rows: list, seed: int,
                                                       tmp_path: Path) -> None:
    reference = outcome(rows, tmp_path)
    rng = np.random.default_rng(seed)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    time_major = sorted(rows, key=lambda r: (r[1], r[0]))
    assert outcome(shuffled, tmp_path) == reference
    assert outcome(time_major, tmp_path) == reference
    assert outcome(list(reversed(rows)), tmp_path) == reference


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), minutes=st.sampled_from([15, 30]),
       n_meter=st.integers(1, 3))
def test_shuffled_offsets_across_both_dst_transitions(seed: int, minutes: int, n_meter: int,
                                                      tmp_path: Path) -> None:
    """Readings written with their UTC offsets around both Sydney transitions, shuffled."""
    rows = []
    for day in ("2024-04-07", "2024-10-06"):
        local_midnight = pd.Timestamp(day).tz_localize("Australia/Sydney")
        utc = pd.date_range(local_midnight.tz_convert("UTC"), periods=6 * 60 // minutes,
                            freq=f"{minutes}min")
        for m in range(n_meter):
            for i, t in enumerate(utc):
                rows.append((f"M{m}", t.tz_convert("Australia/Sydney").isoformat(),
                             f"{i / 100 + m}", ""))
    reference = ingest_table(table(rows), tz="Australia/Sydney", freq=f"{minutes}min")
    rng = np.random.default_rng(seed)
    shuffled = ingest_table(table([rows[i] for i in rng.permutation(len(rows))]),
                            tz="Australia/Sydney", freq=f"{minutes}min")
    assert digest(shuffled, tmp_path) == digest(reference, tmp_path)
    assert reference.report.rows_quarantined == 0
    # Each transition day keeps all its intervals (23 h / 25 h local days are 6 h of UTC here).
    assert int((reference.data["quality"] == Quality.MEASURED).sum()) == len(rows)


def _naive_fall_back(meter: str) -> list[tuple[str, str, str, str]]:
    """A meter's naive local half-hours through Sydney's 7 April 2024 change, in time order:
    02:00 and 02:30 occur twice (daylight time, then standard time)."""
    utc = pd.date_range("2024-04-06T14:00Z", "2024-04-06T18:30Z", freq="30min")
    local = utc.tz_convert("Australia/Sydney").strftime("%Y-%m-%dT%H:%M:%S")
    return [(meter, t, f"{i + 1}", "") for i, t in enumerate(local)]


def test_naive_ambiguous_times_resolve_only_in_chronological_files(tmp_path: Path) -> None:
    rows = _naive_fall_back("A")
    sorted_result = ingest_table(table(rows), tz="Australia/Sydney")
    assert sorted_result.report.rows_quarantined == 0
    np.testing.assert_array_equal(sorted_result.data["consumption_kwh"].values[:, 0],
                                  np.arange(1, len(rows) + 1))
    # Shuffled, the order of the two 02:00 readings says nothing: they are not assigned by luck.
    rng = np.random.default_rng(3)
    order = rng.permutation(len(rows))
    shuffled = ingest_table(table([rows[i] for i in order]), tz="Australia/Sydney",
                            budget=LENIENT)
    assert shuffled.report.quarantined_by_reason == {"ambiguous_local_time": 4}
    kept = shuffled.data["consumption_kwh"].values[:, 0]
    expected = np.arange(1, len(rows) + 1, dtype=float)
    ambiguous = np.isnan(kept)
    assert ambiguous.sum() == 4  # the four instants of 02:00/02:30 +11:00 and +10:00
    np.testing.assert_array_equal(kept[~ambiguous], expected[~ambiguous])


def test_interleaved_meters_and_meter_order(tmp_path: Path) -> None:
    """Three half-hourly meters interleaved time-major and meter-major: same dataset,
    meters sorted, interval 30 min (the failure reported was '468h')."""
    rows = [(f"MTR{m}", (START + pd.Timedelta(minutes=30 * i)).isoformat(), f"{i}.{m}", "")
            for i in range(200) for m in (3, 1, 2)]
    a = ingest_table(table(rows))
    b = ingest_table(table(sorted(rows)))
    assert a.report.freq == "30min" and a.report.rows_clean == 600
    assert list(a.data["meter"].values) == ["MTR1", "MTR2", "MTR3"]
    assert digest(a, tmp_path) == digest(b, tmp_path)


def test_shuffled_half_hourly_export_keeps_its_interval() -> None:
    """The reported case: one meter, 2,835 half-hourly rows in no particular order."""
    times = pd.date_range("2024-01-01", periods=2835, freq="30min", tz="UTC")
    rows = [("NMI123", t.isoformat(), f"{(i % 48) / 10}", "") for i, t in enumerate(times)]
    rng = np.random.default_rng(11)
    result = ingest_table(table([rows[i] for i in rng.permutation(len(rows))]))
    assert result.report.freq == "30min"
    assert result.report.rows_clean == 2835 and result.report.rows_quarantined == 0
    assert result.report.status == "ok"


def test_meter_with_one_reading_follows_the_file() -> None:
    rows = [("A", (START + pd.Timedelta(minutes=30 * i)).isoformat(), "1", "") for i in range(10)]
    rows.append(("B", (START + pd.Timedelta(minutes=90)).isoformat(), "2", ""))
    result = ingest_table(table(rows[::-1]))
    assert result.report.freq == "30min" and result.report.rows_clean == 11
    assert float(result.data["consumption_kwh"].sel(meter="B").sum()) == 2.0
    # Alone, one reading has no interval: gridopt asks for one instead of guessing.
    with pytest.raises(InputError, match="pass --freq"):
        ingest_table(table(rows[-1:]))
    alone = ingest_table(table(rows[-1:]), freq="15min")
    assert alone.data.sizes["time"] == 1


def test_a_file_that_is_all_bad_is_refused_in_any_order() -> None:
    rows = [("A", "2024-01-01T00:00:00Z", "x", ""), ("B", "yesterday", "1", ""),
            ("", "2024-01-01T00:30:00Z", "1", "")]
    for order in (rows, rows[::-1]):
        with pytest.raises(QuarantineBudgetError, match="none of the 3 rows") as info:
            ingest_table(table(order), budget=LENIENT)
        assert len(info.value.quarantine) == 3  # type: ignore[arg-type]
