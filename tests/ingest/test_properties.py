"""Hypothesis properties of ingestion: row and energy conservation, DST, register differencing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridopt._ext import _ingest
from gridopt.errors import QuarantineBudgetError
from gridopt.ingest import Quality, QuarantineBudget, ValidationOptions, read_readings

HEADER = "meter_id,timestamp,consumption_kwh,production_kwh"
START = pd.Timestamp("2024-03-01", tz="UTC")
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NO_OUTLIERS = ValidationOptions(outlier_factor=None)
#: The properties hold whatever share is quarantined; the budget has tests of its own.
LENIENT = QuarantineBudget(max_file_fraction=1.0, max_meter_fraction=1.0)


def write(lines: list[str]) -> Path:
    handle = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8")
    with handle:
        handle.write(HEADER + "\n" + "".join(line + "\n" for line in lines))
    return Path(handle.name)


energy = st.integers(min_value=0, max_value=50_000).map(lambda x: x / 1000.0)


@st.composite
def messy_readings(draw: st.DrawFn) -> tuple[list[str], dict[tuple[str, int], list[float]],
                                             dict[str, int]]:
    """Valid readings on a 30-min grid plus injected bad rows; returns the lines, the valid
    readings per (meter, interval) and the number of injected rows per kind."""
    n_meter = draw(st.integers(1, 4))
    n_time = draw(st.integers(2, 30))
    lines: list[tuple[int, str]] = []
    valid: dict[tuple[str, int], list[float]] = {}
    injected = {"unparseable_timestamp": 0, "non_numeric": 0, "negative": 0,
                "missing_meter_id": 0}
    for m in range(n_meter):
        meter = f"M{m}"
        present = draw(st.lists(st.booleans(), min_size=n_time, max_size=n_time))
        present[0] = True
        for t in range(n_time):
            if not present[t]:
                continue
            stamp = (START + pd.Timedelta(minutes=30 * t)).isoformat()
            value = draw(energy)
            copies = draw(st.integers(1, 3))  # exact duplicates
            for _ in range(copies):
                lines.append((draw(st.integers(0, 10**6)), f"{meter},{stamp},{value},0"))
            valid.setdefault((meter, t), []).extend([value] * copies)
            if draw(st.integers(0, 9)) == 0:  # conflicting duplicate
                other = value + 1.0
                lines.append((draw(st.integers(0, 10**6)), f"{meter},{stamp},{other},0"))
                valid[(meter, t)].append(other)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(sorted(injected)))
        injected[kind] += 1
        stamp = START.isoformat()
        line = {
            "unparseable_timestamp": "M0,not-a-time,1.0,0",
            "non_numeric": f"M0,{stamp},1.0kWh,0",
            "negative": f"M0,{stamp},-2.5,0",
            "missing_meter_id": f",{stamp},1.0,0",
        }[kind]
        lines.append((draw(st.integers(0, 10**6)), line))
    lines.sort(key=lambda item: item[0])  # arbitrary order: offsets make order irrelevant
    return [text for _, text in lines], valid, injected


@SETTINGS
@given(messy_readings())
def test_rows_and_energy_are_conserved(case: tuple) -> None:
    lines, valid, injected = case
    kept = {key: vals[0] for key, vals in valid.items() if len(set(vals)) == 1}
    if not kept:  # every reading conflicts: nothing is usable, and ingestion says so
        with pytest.raises(QuarantineBudgetError, match="none of the"):
            read_readings(write(lines), freq="30min", validation=NO_OUTLIERS, budget=LENIENT)
        return
    result = read_readings(write(lines), freq="30min", validation=NO_OUTLIERS, budget=LENIENT)
    rep = result.report
    assert rep.rows_in == len(lines)
    assert rep.rows_in == rep.rows_clean + rep.rows_quarantined + rep.duplicates_collapsed
    assert len(result.quarantine) == rep.rows_quarantined
    for kind, count in injected.items():
        assert rep.quarantined_by_reason.get(kind, 0) == count
    # Independent model: a cell is kept iff all its valid readings agree.
    conflicting = sum(len(vals) for vals in valid.values() if len(set(vals)) > 1)
    assert rep.quarantined_by_reason.get("conflicting_duplicate", 0) == conflicting
    assert rep.rows_clean == len(kept)
    assert rep.duplicates_collapsed == sum(
        len(vals) - 1 for vals in valid.values() if len(set(vals)) == 1)
    ds = result.data
    total = float(np.nansum(ds["consumption_kwh"].values))
    assert total == sum(kept.values()) or abs(total - sum(kept.values())) < 1e-9 * max(1, total)
    for (meter, t), value in kept.items():
        cell = ds.sel(meter=meter, time=(START + pd.Timedelta(minutes=30 * t)).tz_localize(None))
        assert float(cell["consumption_kwh"]) == value
        assert int(cell["quality"]) == Quality.MEASURED
    assert int((ds["quality"] == Quality.MEASURED).sum()) == len(kept)


TRANSITIONS = {
    # zone: (clocks forward, clocks back), local dates
    "Australia/Sydney": ("2024-10-06", "2024-04-07"),
    "Europe/London": ("2024-03-31", "2024-10-27"),
    "America/New_York": ("2024-03-10", "2024-11-03"),
}


@SETTINGS
@given(
    zone=st.sampled_from(sorted(TRANSITIONS)),
    direction=st.sampled_from([0, 1]),
    minutes=st.sampled_from([15, 30, 60]),
    lead_steps=st.integers(0, 20),
    n_steps=st.integers(8, 60),
    n_meter=st.integers(1, 3),
    meter_major=st.booleans(),
)
def test_dst_keeps_every_interval(zone: str, direction: int, minutes: int, lead_steps: int,
                                  n_steps: int, n_meter: int, meter_major: bool) -> None:
    """Naive local timestamps around a transition, read with tz, give back the UTC grid."""
    day = pd.Timestamp(TRANSITIONS[zone][direction]).tz_localize(zone)  # local midnight
    step = pd.Timedelta(minutes=minutes)
    start = day.tz_convert("UTC") + pd.Timedelta(hours=1) - lead_steps * step
    utc = pd.date_range(start, periods=n_steps + 2 * lead_steps + 4 * 60 // minutes, freq=step)
    local = utc.tz_convert(zone).strftime("%Y-%m-%dT%H:%M:%S")
    pairs = ([(m, i) for m in range(n_meter) for i in range(len(utc))] if meter_major
             else [(m, i) for i in range(len(utc)) for m in range(n_meter)])
    lines = [f"M{m},{local[i]},{(i + 1) / 1000 + m},0" for m, i in pairs]
    result = read_readings(write(lines), tz=zone)
    ds = result.data
    assert result.report.rows_quarantined == 0
    assert result.report.duplicates_collapsed == 0
    np.testing.assert_array_equal(ds["time"].values, utc.tz_localize(None).values)
    assert (ds["quality"] == Quality.MEASURED).all()
    for m in range(n_meter):
        np.testing.assert_allclose(ds["consumption_kwh"].sel(meter=f"M{m}").values,
                                   (np.arange(len(utc)) + 1) / 1000 + m)


@SETTINGS
@given(
    energies=st.lists(st.integers(0, 5_000).map(lambda x: x / 100.0), min_size=1, max_size=80),
    start=st.integers(0, 99_999).map(float),
    modulus=st.sampled_from([np.nan, 100_000.0]),
)
def test_register_differencing_inverts_cumulative_sums(energies: list[float], start: float,
                                                       modulus: float) -> None:
    e = np.array(energies)
    raw = start + np.concatenate([[0.0], np.cumsum(e)])
    registers = np.mod(raw, 100_000.0)  # a 5-digit counter wraps at 100000
    energy, quality, event = _ingest.diff_registers(registers[None, :].copy(), modulus, 0.1)
    np.testing.assert_allclose(energy[0], e, atol=1e-6)
    assert (quality[0] == Quality.MEASURED).all()
    wraps = np.floor(raw[1:] / 100_000.0) > np.floor(raw[:-1] / 100_000.0)
    np.testing.assert_array_equal(event[0] == 1, wraps)


@SETTINGS
@given(
    before=st.lists(st.integers(0, 500).map(lambda x: x / 10.0), min_size=1, max_size=30),
    after=st.lists(st.integers(0, 500).map(lambda x: x / 10.0), min_size=1, max_size=30),
    base=st.integers(1_000, 7_000).map(float),
    restart=st.integers(0, 9).map(float),
)
def test_register_resets_are_detected(before: list[float], after: list[float], base: float,
                                      restart: float) -> None:
    """A counter that restarts near zero is a reset (interval unknown), everything else exact.

    The register stays below 90 % of its inferred modulus (10 000) before the restart: above
    that, a drop to near zero is indistinguishable from a rollover and is read as one.
    """
    r1 = base + np.concatenate([[0.0], np.cumsum(before)])
    r2 = restart + np.concatenate([[0.0], np.cumsum(after)])
    registers = np.concatenate([r1, r2])[None, :].copy()
    energy, quality, event = _ingest.diff_registers(registers, np.nan, 0.1)
    k = len(r1) - 1  # the interval that spans the reset
    assert event[0, k] == 2 and quality[0, k] == Quality.RESET and np.isnan(energy[0, k])
    assert (np.delete(event[0], k) == 0).all()
    np.testing.assert_allclose(np.delete(energy[0], k), np.concatenate([before, after]),
                               atol=1e-6)


@SETTINGS
@given(values=st.lists(energy, min_size=2, max_size=40), gap_start=st.integers(1, 30),
       gap_len=st.integers(1, 6))
def test_cumulative_file_round_trip(values: list[float], gap_start: int, gap_len: int) -> None:
    """Energies -> register readings in a file -> read with cumulative=True gives them back,
    with the intervals touching a missing register reading missing (no fill policy)."""
    e = np.array(values)
    reg = 1234.5 + np.concatenate([[0.0], np.cumsum(e)])
    times = pd.date_range(START, periods=len(reg), freq="h")
    drop = set(range(gap_start, min(gap_start + gap_len, len(reg) - 1)))
    lines = [f"A,{times[i].isoformat()},{float(reg[i])!r},"
             for i in range(len(reg)) if i not in drop]
    ds = read_readings(write(lines), freq="h", cumulative=True).data
    got = ds["consumption_kwh"].sel(meter="A").values
    expect = e.copy()
    for i in drop:
        expect[i - 1] = np.nan
        expect[i] = np.nan
    np.testing.assert_allclose(got, expect, atol=1e-6)


number_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f"{x:.6f}"),
    st.integers(-10**20, 10**20).map(str),
    st.from_regex(r"\s{0,2}[+-]?(\d{0,4}\.?\d{0,4})([eE][+-]?\d{1,3})?\s{0,2}", fullmatch=True),
    st.text(alphabet="0123456789.eE+- abcnfiNA,", max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), number_text), max_size=40))
def test_value_parser_agrees_with_the_documented_rule(cells: list[str | None]) -> None:
    """The Cython parser against Python: a number matches the regex and float() is finite."""
    import math
    import re

    import pyarrow as pa

    from gridopt.ingest.parse import _NUMBER_RE, parse_values

    got = parse_values(pa.chunked_array([pa.array(cells, pa.string())]), required=True)
    pattern = re.compile(_NUMBER_RE, re.ASCII)  # blanks are ASCII whitespace
    for text, value, reason in zip(cells, got.kwh, got.reason, strict=True):
        if text is None:
            assert math.isnan(value) and reason == 15
            continue
        number = float(text) if pattern.match(text) else math.nan
        if not math.isfinite(number):
            assert math.isnan(value) and reason == 16, text
        else:
            assert value == number, text
            assert reason == (17 if number < 0 else 0), text
