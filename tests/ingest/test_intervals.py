"""Each meter's interval from its own sorted readings; files mixing intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridopt._ext import _ingest
from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest import Quality, QuarantineBudget, ingest_table
from gridopt.ingest.readers import LONG_COLUMNS

START = pd.Timestamp("2024-05-01", tz="UTC")
LENIENT = QuarantineBudget(max_file_fraction=1.0, max_meter_fraction=1.0)


def table(rows: list[tuple[str, str, str, str]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.table([pa.array([v if v != "" else None for v in col], pa.string())
                     for col in columns], names=list(LONG_COLUMNS))


Row = tuple[str, str, str, str]


def meter_rows(meter: str, minutes: int, n: int, value: float = 1.0,
               skip: set[int] | None = None, offset_min: int = 0) -> list[Row]:
    skip = skip or set()
    return [(meter, (START + pd.Timedelta(minutes=offset_min + minutes * i)).isoformat(),
             f"{value * (1 + i % 5)}", "") for i in range(n) if i not in skip]


def test_kernel_finds_each_meters_interval_in_any_order() -> None:
    rng = np.random.default_rng(0)
    sparse = [0, 60, 120, 150, 240, 300, 330, 420, 480, 510]  # 30 min, many gaps: mode 60
    jitter = [*range(0, 3000, 30), 31]                           # 30 min, one jittered reading
    hourly = list(range(0, 6000, 60))
    instants = np.array(sparse + jitter + hourly, dtype=np.int64)
    meter = np.repeat(np.arange(3, dtype=np.int32), [len(sparse), len(jitter), len(hourly)])
    order = rng.permutation(instants.size)
    distinct, rank = np.unique(instants[order], return_inverse=True)
    n, interval, support, steps, mode = _ingest.meter_intervals(
        meter[order], rank.astype(np.int32), distinct, 3)
    np.testing.assert_array_equal(n, [10, 101, 100])
    np.testing.assert_array_equal(interval, [30, 30, 60])
    np.testing.assert_array_equal(mode, [60, 30, 60])
    np.testing.assert_array_equal(steps, [9, 100, 99])
    np.testing.assert_array_equal(support, [3, 98, 99])


def test_mixed_intervals_are_refused_naming_the_meters() -> None:
    rows = (meter_rows("Q1", 15, 96) + meter_rows("Q2", 15, 96) + meter_rows("H1", 30, 48))
    with pytest.raises(InputError) as info:
        ingest_table(table(rows))
    message = str(info.value)
    assert "different intervals" in message
    assert "15min (2 meters: Q1, Q2)" in message and "30min (1 meter: H1)" in message
    assert "--freq" in message


def test_finer_meters_are_summed_to_freq_with_energy_conserved() -> None:
    fine = meter_rows("Q", 15, 96, value=0.1, skip={10})  # one quarter-hour missing
    coarse = meter_rows("H", 30, 48, value=0.3)
    rng = np.random.default_rng(5)
    rows = fine + coarse
    result = ingest_table(table([rows[i] for i in rng.permutation(len(rows))]), freq="30min")
    ds, rep = result.data, result.report
    assert rep.freq == "30min" and rep.meter_intervals == {"15min": 1, "30min": 1}
    assert rep.aggregated_meters == ("Q",) and rep.split_meters == ()
    q = ds.sel(meter="Q")
    assert int((q["quality"] == Quality.AGGREGATED).sum()) == 47
    assert rep.cells_partial == 1  # the half-hour with one of its two quarter-hours
    missing = q["consumption_kwh"].isnull()
    assert int(missing.sum()) == 1 and int(q["quality"][missing.values].item()) == Quality.MISSING
    fine_values = np.array([float(r[2]) for r in fine])
    expected = fine_values.sum() - sum(float(r[2]) for r in fine if r[1] in (
        (START + pd.Timedelta(minutes=15 * 11)).isoformat(),))
    assert float(q["consumption_kwh"].sum()) == pytest.approx(expected, rel=1e-12)
    assert (ds.sel(meter="H")["quality"] == Quality.MEASURED).all()


def test_coarser_meters_are_split_evenly_to_freq() -> None:
    rows = meter_rows("Q", 15, 96) + meter_rows("H", 60, 24, value=2.0)
    result = ingest_table(table(rows), freq="15min")
    h = result.data.sel(meter="H")
    assert result.report.split_meters == ("H",)
    assert (h["quality"] == Quality.SPLIT).all()
    total = sum(float(r[2]) for r in rows if r[0] == "H")
    assert float(h["consumption_kwh"].sum()) == pytest.approx(total, rel=1e-12)
    values = h["consumption_kwh"].values.reshape(24, 4)
    np.testing.assert_allclose(values, values[:, :1].repeat(4, axis=1))


def test_meter_whose_interval_cannot_be_converted_is_quarantined() -> None:
    rows = meter_rows("A", 30, 48) + meter_rows("T", 20, 72)
    with pytest.raises(QuarantineBudgetError, match="T") as info:
        ingest_table(table(rows), freq="30min")
    report = info.value.report
    assert report.quarantined_by_reason == {"incompatible_interval": 72}  # type: ignore[attr-defined]
    lenient = ingest_table(table(rows), freq="30min", budget=LENIENT)
    assert lenient.report.status == "degraded"
    assert lenient.data.sel(meter="T")["consumption_kwh"].isnull().all()


def test_sparse_half_hourly_meter_is_not_mistaken_for_hourly() -> None:
    """Most steps an hour, enough of them half an hour: a half-hourly meter with gaps."""
    skip = {i for i in range(200) if i % 2 == 1 and i % 7 != 0}
    rows = meter_rows("S", 30, 200, skip=skip)
    result = ingest_table(table(rows))
    assert result.report.freq == "30min" and result.report.rows_quarantined == 0


def test_a_few_readings_an_hour_apart_follow_the_files_interval() -> None:
    """Three readings an hour apart in a half-hourly file: gaps, not an hourly meter."""
    rows = meter_rows("A", 30, 96) + meter_rows("B", 60, 3)
    result = ingest_table(table(rows))
    assert result.report.freq == "30min" and result.report.split_meters == ()
    assert result.report.meter_intervals == {"30min": 2}


def test_jittered_timestamps_do_not_change_the_interval() -> None:
    rows = meter_rows("A", 30, 400)
    rows[100] = ("A", (START + pd.Timedelta(minutes=30 * 100, seconds=1)).isoformat(), "1", "")
    result = ingest_table(table(rows))
    assert result.report.freq == "30min"
    assert result.report.quarantined_by_reason == {"off_grid_timestamp": 1}


def test_cumulative_meters_on_other_intervals_are_refused() -> None:
    rows = [(m, r[1], f"{100 + k}", "") for m, step in (("A", 15), ("B", 30))
            for k, r in enumerate(meter_rows(m, step, 20))]
    with pytest.raises(InputError, match="cumulative"):
        ingest_table(table(rows), freq="30min", cumulative=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fine=st.sampled_from([5, 15, 30]), factor=st.sampled_from([2, 3, 4]),
       n_fine=st.integers(8, 40), n_coarse=st.integers(8, 20), seed=st.integers(0, 10_000),
       gaps=st.sets(st.integers(0, 39), max_size=6))
def test_mixed_files_conserve_energy_in_any_order(fine: int, factor: int, n_fine: int,
                                                  n_coarse: int, seed: int,
                                                  gaps: set[int]) -> None:
    """Finer meters summed to the coarse interval: every complete coarse interval has exactly
    the energy of its readings, incomplete ones are missing and counted, order is irrelevant."""
    coarse = fine * factor
    f_rows = meter_rows("F", fine, n_fine * factor, value=0.01, skip=gaps)
    c_rows = meter_rows("C", coarse, n_coarse, value=0.5)
    rows = f_rows + c_rows
    rng = np.random.default_rng(seed)
    shuffled = [rows[i] for i in rng.permutation(len(rows))]
    a = ingest_table(table(rows), freq=f"{coarse}min")
    b = ingest_table(table(shuffled), freq=f"{coarse}min")
    assert a.data.identical(b.data)
    f = a.data.sel(meter="F")["consumption_kwh"].values
    start = pd.Timestamp(a.data["time"].values[0], tz="UTC")
    by_cell: dict[int, list[float]] = {}
    for _, stamp, value, _ in f_rows:
        cell = int((pd.Timestamp(stamp) - start) / pd.Timedelta(minutes=coarse))
        by_cell.setdefault(cell, []).append(float(value))
    for cell, values in by_cell.items():
        if len(values) == factor:
            assert f[cell] == pytest.approx(sum(values), rel=1e-12)
        else:
            assert np.isnan(f[cell])
    assert a.report.cells_partial == sum(1 for v in by_cell.values() if len(v) < factor)


def _reference_interval(instants: list[int]) -> tuple[int, int, int, int]:
    """The rule of the kernel written plainly: (instants, interval, support, mode)."""
    distinct = sorted(set(instants))
    steps = np.diff(distinct)
    if steps.size == 0:
        return len(distinct), 0, 0, 0
    values, counts = np.unique(steps, return_counts=True)
    mode = int(values[np.argmax(counts)])  # np.unique is ascending: ties go to the smaller
    need = max(2, steps.size // 10)
    divisors = [(int(v), int(c)) for v, c in zip(values, counts, strict=True)
                if v < mode and mode % v == 0 and c >= need]
    interval, support = divisors[0] if divisors else (mode, int(counts.max()))
    return len(distinct), interval, support, mode


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60).map(lambda k: 5 * k)),
                     max_size=300), seed=st.integers(0, 1000))
def test_kernel_matches_the_rule_written_plainly(data: list[tuple[int, int]], seed: int) -> None:
    meter = np.array([m for m, _ in data], dtype=np.int32)
    instants = np.array([t for _, t in data], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(data))
    distinct, rank = np.unique(instants, return_inverse=True)
    got = _ingest.meter_intervals(meter[order], rank.astype(np.int32)[order], distinct, 5)
    for m in range(5):
        n, interval, support, mode = _reference_interval([t for k, t in data if k == m])
        assert (got[0][m], got[1][m], got[2][m], got[4][m]) == (n, interval, support, mode)
