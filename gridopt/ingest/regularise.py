"""Validation and regularisation: raw long table -> clean ``(time, meter)`` Dataset + quarantine.

Every input row ends in exactly one of: the clean data, the quarantine (with a reason), or the
count of collapsed exact duplicates. The steps, in order of precedence of the reasons:

1. meter id present (``missing_meter_id``) and known when a meter list is given
   (``unknown_meter``);
2. timestamp parses (``unparseable_timestamp``), is not naive without a zone
   (``naive_timestamp``) and exists locally (``nonexistent_local_time``);
3. consumption present (``missing_value``), numeric (``non_numeric``), not negative
   (``negative``); the same for production when the cell is not empty;
4. mean power below ``max_power_kw`` (``outlier``);
5. on the grid of the interval (``off_grid_timestamp``);
6. placed on the grid by the Cython kernel: repeated cells with identical values collapse,
   differing values make every reading of the cell ``conflicting_duplicate``;
7. above ``outlier_factor`` times the meter's typical high value (``outlier``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import xarray as xr
from numpy.typing import NDArray

from gridopt._ext import _ingest
from gridopt.errors import InputError
from gridopt.ingest.model import (
    FillPolicy,
    IngestReport,
    IngestResult,
    Quality,
    Reason,
    ValidationOptions,
)
from gridopt.ingest.parse import (
    CODE_REASONS,
    NAT,
    REASON_CODES,
    ROW_CLEAN,
    ROW_DUPLICATE,
    check_tz,
    parse_meters,
    parse_times,
    parse_values,
)
from gridopt.ingest.readers import CONSUMPTION, METER_ID, PRODUCTION, TIMESTAMP

log = logging.getLogger(__name__)

#: Largest dense grid accepted (cells = intervals x meters), about 16 GB of float64 variables.
MAX_CELLS = 1_000_000_000

QUARANTINE_COLUMNS = ["row", METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION, "reason"]


def parse_freq(freq: str) -> pd.Timedelta:
    """Fixed interval length of a pandas offset string (``"30min"``, ``"h"``, ``"15min"``)."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
        step = pd.Timedelta(offset)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"--freq {freq!r} is not a fixed interval; use a pandas offset such as '30min', "
            f"'15min' or 'h'"
        ) from exc
    if step <= pd.Timedelta(0):
        raise InputError(f"--freq {freq!r} must be a positive interval")
    return step


def freq_string(step: pd.Timedelta) -> str:
    """Canonical pandas offset string of an interval length (``"30min"``, ``"h"``)."""
    return str(pd.tseries.frequencies.to_offset(step).freqstr)


def _infer_step(
    row_ns: NDArray[np.int64],
    row_meter: NDArray[np.int32],
    distinct_ns: NDArray[np.int64],
    source: str,
) -> int:
    """Infer the interval: the most common positive step between consecutive rows of the same
    meter (files sorted by meter), else between consecutive distinct timestamps (files sorted
    by time). Ties go to the smallest step."""
    # A deterministic prefix of at most 2 million rows is plenty to find the mode.
    row_ns, row_meter = row_ns[:2_000_000], row_meter[:2_000_000]
    same = (row_meter[1:] == row_meter[:-1]) & (row_ns[1:] != NAT) & (row_ns[:-1] != NAT)
    diffs = (row_ns[1:] - row_ns[:-1])[same]
    diffs = diffs[diffs > 0]
    if diffs.size < max(2, row_ns.size // 10):
        distinct = np.unique(distinct_ns)
        diffs = np.diff(distinct)
    if diffs.size == 0:
        raise InputError(
            f"{source}: cannot infer the interval from fewer than two distinct timestamps; "
            f"pass --freq (e.g. --freq 30min)"
        )
    counts = pd.Series(diffs).value_counts(sort=False)
    best = counts[counts == counts.max()].index.min()
    return int(best)


@dataclass(frozen=True)
class _Grid:
    start_ns: int
    step_ns: int
    n_time: int


def ingest_table(
    table: pa.Table,
    *,
    source: str = "<table>",
    tz: str | None = None,
    freq: str | None = None,
    cumulative: bool = False,
    meters: Sequence[str] | None = None,
    fill: FillPolicy = FillPolicy.NONE,
    max_fill_steps: int = 4,
    validation: ValidationOptions | None = None,
) -> IngestResult:
    """Validate and regularise a raw long table (see :func:`gridopt.ingest.read_readings`).

    Parameters
    ----------
    table
        Columns ``meter_id``, ``timestamp``, ``consumption_kwh``, ``production_kwh`` (as made by
        :func:`gridopt.ingest.readers.read_raw`).
    source
        Name of the input used in messages and the report.
    tz, freq, cumulative, meters, fill, max_fill_steps, validation
        See :func:`gridopt.ingest.read_readings`.
    """
    opts = validation or ValidationOptions()
    check_tz(tz)
    n = table.num_rows
    if n == 0:
        raise InputError(f"{source}: no readings (the table is empty)")

    meters_parsed = parse_meters(table.column(METER_ID))
    meter_codes = meters_parsed.codes
    names = meters_parsed.names
    times = parse_times(table.column(TIMESTAMP), tz, meter_codes)
    if times.all_naive and tz is None:
        raise InputError(
            f"{source}: timestamps have no UTC offset; give the time zone they are in "
            f"(--tz, e.g. --tz Australia/Sydney) or write them with an offset "
            f"(2024-04-07T02:30:00+10:00)"
        )
    cons = parse_values(table.column(CONSUMPTION), required=True)
    prod = parse_values(table.column(PRODUCTION), required=False)

    # Row status: 0 clean; the first failing check (in the order of the module docstring) wins.
    status = np.zeros(n, dtype=np.int8)

    def mark(mask: NDArray[np.bool_], reason: Reason) -> None:
        status[(status == 0) & mask] = REASON_CODES[reason]

    def mark_codes(codes: NDArray[np.int8]) -> None:
        hit = (status == 0) & (codes != 0)
        status[hit] = codes[hit]

    mark(meter_codes < 0, Reason.MISSING_METER_ID)
    if meters is not None:
        wanted = [str(m).strip() for m in meters]
        position = {name: i for i, name in enumerate(wanted)}
        remap = np.array([position.get(str(name), -1) for name in names] + [-1], dtype=np.int32)
        mapped = remap[np.where(meter_codes >= 0, meter_codes, len(names))]
        mark((meter_codes >= 0) & (mapped < 0), Reason.UNKNOWN_METER)
        meter_codes = np.where(mapped >= 0, mapped, 0).astype(np.int32)
        names = np.asarray(wanted, dtype=str)
    mark_codes(times.reason)
    mark_codes(cons.reason)
    mark_codes(prod.reason)
    meter_codes = np.where(meter_codes >= 0, meter_codes, 0).astype(np.int32)

    # Interval length and grid phase from every parsed timestamp (a row quarantined for its
    # value still shows where the grid is); the grid's extent from the clean rows only.
    clean = status == 0
    timed = (times.reason == 0) & (times.codes >= 0)
    row_codes = times.codes
    used = np.bincount(row_codes[timed], minlength=len(times.utc_ns))
    u_present = (used > 0) & (times.utc_ns != NAT)
    if not u_present.any():
        _raise_nothing_usable(source, status, n)
    if freq is not None:
        step_ns = int(parse_freq(freq).value)
    else:
        timed_rows = np.flatnonzero(timed)
        row_ns = times.utc_ns[row_codes[timed_rows]]
        step_ns = _infer_step(row_ns, meter_codes[timed_rows], times.utc_ns[u_present], source)
    residue = np.mod(times.utc_ns, step_ns)
    res_values, res_inverse = np.unique(residue[u_present], return_inverse=True)
    phase = int(res_values[np.argmax(np.bincount(res_inverse, weights=used[u_present]))])
    u_on_grid = u_present & (residue == phase)
    if opts.max_power_kw is not None and not cumulative:
        limit_kwh = opts.max_power_kw * step_ns / 3.6e12
        mark((cons.kwh > limit_kwh) | (prod.kwh > limit_kwh), Reason.OUTLIER)
    mark(~u_on_grid[row_codes] & (status == 0), Reason.OFF_GRID_TIMESTAMP)
    clean = status == 0
    if not clean.any():
        _raise_nothing_usable(source, status, n)
    on_grid_ns = times.utc_ns[u_on_grid & (np.bincount(row_codes[clean],
                                                       minlength=len(times.utc_ns)) > 0)]
    start_ns, end_ns = int(on_grid_ns.min()), int(on_grid_ns.max())
    grid = _Grid(start_ns, step_ns, (end_ns - start_ns) // step_ns + 1)
    n_meter = len(names)
    if grid.n_time * max(n_meter, 1) > MAX_CELLS:
        raise InputError(
            f"{source}: the regular grid would have {grid.n_time} intervals x {n_meter} meters "
            f"(> {MAX_CELLS} cells); split the file by period or meter, or check --freq"
        )
    u_tidx = np.where(u_on_grid, (times.utc_ns - start_ns) // step_ns, 0).astype(np.int64)
    tidx = u_tidx[row_codes]

    cons_grid = np.full((n_meter, grid.n_time), np.nan)
    prod_grid = np.full((n_meter, grid.n_time), np.nan)
    _ingest.place_readings(meter_codes, tidx, cons.kwh, prod.kwh, status, cons_grid, prod_grid)

    if not cumulative and opts.outlier_factor is not None:
        limits = [
            opts.outlier_factor * _ingest.positive_quantile(
                g, opts.outlier_quantile, opts.outlier_min_readings)
            for g in (cons_grid, prod_grid)
        ]
        _ingest.mark_outliers(meter_codes, tidx, cons.kwh, prod.kwh, status, limits[0],
                              limits[1], cons_grid, prod_grid)

    events = pd.DataFrame(columns=["meter", "variable", "time", "event", "before_kwh",
                                   "after_kwh"])
    if cumulative:
        cons_grid, prod_grid, quality, events = _difference(
            cons_grid, prod_grid, grid, names, fill, max_fill_steps, opts)
        times_ns = start_ns + step_ns * np.arange(grid.n_time - 1, dtype=np.int64)
    else:
        quality = np.where(np.isnan(cons_grid), Quality.MISSING, Quality.MEASURED).astype(np.int8)
        if fill is FillPolicy.LINEAR:
            filled = _ingest.fill_linear(cons_grid, quality, max_fill_steps).astype(bool)
            filled_p = _ingest.fill_linear(prod_grid, quality, max_fill_steps).astype(bool)
            prod_grid[filled_p & ~filled] = np.nan
            quality[filled] = Quality.FILLED
        times_ns = start_ns + step_ns * np.arange(grid.n_time, dtype=np.int64)

    return _assemble(table, source, tz, step_ns, names, times_ns, cons_grid, prod_grid, quality,
                     status, events, cumulative, fill)


def _raise_nothing_usable(source: str, status: NDArray[np.int8], n: int) -> None:
    counts = _reason_counts(status)
    detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
    raise InputError(
        f"{source}: none of the {n} rows is usable ({detail}); fix the rows or the options "
        f"(--tz for naive timestamps, --freq for the interval)"
    )


def _reason_counts(status: NDArray[np.int8]) -> dict[str, int]:
    counts = np.bincount(status.astype(np.int64), minlength=max(CODE_REASONS) + 1)
    return {
        str(CODE_REASONS[int(code)]): int(counts[code])
        for code in sorted(CODE_REASONS)
        if counts[code] > 0
    }


def _difference(
    cons_reg: NDArray[np.float64],
    prod_reg: NDArray[np.float64],
    grid: _Grid,
    names: NDArray[np.str_],
    fill: FillPolicy,
    max_fill_steps: int,
    opts: ValidationOptions,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8], pd.DataFrame]:
    """Registers at the grid instants -> interval energy, quality and rollover/reset events."""
    modulus = np.nan if opts.register_modulus_kwh is None else float(opts.register_modulus_kwh)
    results = []
    frames = []
    for variable, reg in (("consumption_kwh", cons_reg), ("production_kwh", prod_reg)):
        reg = reg.copy()
        reg_quality = np.where(np.isnan(reg), Quality.MISSING, Quality.MEASURED).astype(np.int8)
        filled_reg = np.zeros(reg.shape, dtype=bool)
        if fill is FillPolicy.LINEAR:
            # A gap of g interval values has g - 1 missing register readings.
            filled_reg = _ingest.fill_linear(reg, reg_quality, max(max_fill_steps - 1, 0)) == 1
        energy, quality, event = _ingest.diff_registers(reg, modulus, opts.rollover_fraction)
        touched = filled_reg[:, :-1] | filled_reg[:, 1:]
        quality[(quality == Quality.MEASURED) & touched] = Quality.FILLED
        results.append((energy, quality))
        m_idx, t_idx = np.nonzero(event)
        if m_idx.size:
            frames.append(pd.DataFrame({
                "meter": names[m_idx],
                "variable": variable,
                "time": pd.to_datetime(grid.start_ns + grid.step_ns * t_idx, unit="ns"),
                "event": np.where(event[m_idx, t_idx] == 1, "rollover", "reset"),
                "before_kwh": reg[m_idx, t_idx],
                "after_kwh": reg[m_idx, t_idx + 1],
            }))
    (cons_e, cons_q), (prod_e, _prod_q) = results
    cols = ["meter", "variable", "time", "event", "before_kwh", "after_kwh"]
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return cons_e, prod_e, cons_q, events


def _assemble(
    table: pa.Table,
    source: str,
    tz: str | None,
    step_ns: int,
    names: NDArray[np.str_],
    times_ns: NDArray[np.int64],
    cons_grid: NDArray[np.float64],
    prod_grid: NDArray[np.float64],
    quality: NDArray[np.int8],
    status: NDArray[np.int8],
    events: pd.DataFrame,
    cumulative: bool,
    fill: FillPolicy,
) -> IngestResult:
    freq = freq_string(pd.Timedelta(step_ns, unit="ns"))
    time_index = times_ns.astype("datetime64[ns]")
    ds = xr.Dataset(
        {
            "consumption_kwh": (("time", "meter"), cons_grid.T, {
                "units": "kWh", "long_name": "energy consumed in the interval"}),
            "production_kwh": (("time", "meter"), prod_grid.T, {
                "units": "kWh", "long_name": "energy produced in the interval"}),
            "quality": (("time", "meter"), quality.T, {
                "long_name": "quality flag",
                "flag_values": np.array([q.value for q in Quality], dtype=np.int8),
                "flag_meanings": " ".join(q.name.lower() for q in Quality),
            }),
        },
        coords={
            "time": ("time", time_index, {"long_name": "interval start (UTC)"}),
            "meter": ("meter", names.astype(str), {"long_name": "meter id"}),
        },
        attrs={
            "freq": freq,
            "tz": tz or "UTC",
            "source": source,
            "cumulative_input": int(cumulative),
            "fill_policy": fill.value,
        },
    )
    n_rows = len(status)
    counts = np.bincount(status.astype(np.int64), minlength=max(CODE_REASONS) + 1)
    rows_clean = int(counts[ROW_CLEAN])
    dups = int(counts[ROW_DUPLICATE])
    by_reason = _reason_counts(status)
    q_idx = np.flatnonzero((status != ROW_CLEAN) & (status != ROW_DUPLICATE))
    quarantine = _quarantine_frame(table, q_idx, status)
    runs_m, runs_s, runs_l = _ingest.missing_runs(np.ascontiguousarray(quality),
                                                  int(Quality.MISSING))
    gaps = pd.DataFrame({
        "meter": names[runs_m].astype(str),
        "start": time_index[runs_s] if len(time_index) else np.array([], "datetime64[ns]"),
        "end": time_index[runs_s + runs_l - 1] if len(time_index) else np.array(
            [], "datetime64[ns]"),
        "intervals": runs_l,
    })
    q_counts = np.bincount(quality.ravel().astype(np.int64), minlength=len(Quality))
    report = IngestReport(
        source=source,
        rows_in=n_rows,
        rows_clean=rows_clean,
        rows_quarantined=int(q_idx.size),
        quarantined_by_reason=by_reason,
        duplicates_collapsed=dups,
        meters=len(names),
        intervals=len(time_index),
        start=pd.Timestamp(time_index[0], tz="UTC") if len(time_index) else None,
        end=pd.Timestamp(time_index[-1], tz="UTC") if len(time_index) else None,
        freq=freq,
        tz=tz or "UTC",
        cells_measured=int(q_counts[Quality.MEASURED]),
        cells_filled=int(q_counts[Quality.FILLED]),
        cells_missing=int(q_counts[Quality.MISSING] + q_counts[Quality.RESET]),
        gaps=len(gaps),
        rollovers=int((events["event"] == "rollover").sum()) if len(events) else 0,
        resets=int((events["event"] == "reset").sum()) if len(events) else 0,
    )
    if report.rows_quarantined:
        log.warning("%s: %d of %d rows quarantined (%s)", source, report.rows_quarantined,
                    n_rows, ", ".join(f"{k}: {v}" for k, v in by_reason.items()))
    return IngestResult(data=ds, report=report, quarantine=quarantine, gaps=gaps,
                        register_events=events)


def _quarantine_frame(table: pa.Table, rows: NDArray[np.int64],
                      status: NDArray[np.int8]) -> pd.DataFrame:
    """Raw text of the quarantined rows with their 1-based row number and reason."""
    if rows.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c != "row" else np.int64)
                             for c in QUARANTINE_COLUMNS})
    taken = table.take(pa.array(rows))
    out: dict[str, object] = {"row": rows + 1}
    for name in (METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION):
        col = taken.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_timestamp(col.type):
            values = pd.Series(col.to_pandas()).astype(str).to_numpy(dtype=object)
        else:
            values = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
        out[name] = values
    out["reason"] = [str(CODE_REASONS[int(c)]) for c in status[rows]]
    return pd.DataFrame(out, columns=QUARANTINE_COLUMNS)
