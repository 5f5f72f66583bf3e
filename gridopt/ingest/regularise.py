"""Validation and regularisation: raw long table -> clean ``(time, meter)`` Dataset + quarantine.

Every input row ends in exactly one of: the clean data, the quarantine (with a reason), or the
count of collapsed exact duplicates. The steps, in order of precedence of the reasons:

1. meter id present (``missing_meter_id``) and known when a meter list is given
   (``unknown_meter``);
2. timestamp parses (``unparseable_timestamp``), is not naive without a zone
   (``naive_timestamp``), exists locally (``nonexistent_local_time``) and, if it occurs twice
   locally, can be resolved from a chronological file (``ambiguous_local_time``);
3. consumption present (``missing_value``), numeric (``non_numeric``), not negative
   (``negative``); the same for production when the cell is not empty;
4. the meter's own interval, inferred from its sorted instants, can be brought to the
   dataset's interval (``incompatible_interval``; :mod:`gridopt.ingest.interval`);
5. mean power below ``max_power_kw`` (``outlier``);
6. on the meter's grid (``off_grid_timestamp``);
7. placed on the grid by the Cython kernel: repeated cells with identical values collapse,
   differing values make every reading of the cell ``conflicting_duplicate``;
8. above ``outlier_factor`` times the meter's typical high value (``outlier``).

Nothing here depends on the order of the rows (except, unavoidably, which instant a repeated
naive local time means; see :func:`gridopt.ingest.parse.parse_times`). Finally the quarantine
is measured against the :class:`~gridopt.ingest.model.QuarantineBudget`: over budget, no
dataset is returned (:class:`~gridopt.errors.QuarantineBudgetError`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from gridopt._ext import _ingest
from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest.interval import (
    Conversion,
    freq_string,
    interval_counts,
    meter_intervals_ranked,
    parse_freq,
    plan_intervals,
)
from gridopt.ingest.model import (
    FillPolicy,
    IngestReport,
    IngestResult,
    IngestStatus,
    Quality,
    QuarantineBudget,
    Reason,
    ValidationOptions,
    readings_dataset,
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
from gridopt.ingest.placement import Grid, Rows, grid_extent, instant_use, meter_phases, place
from gridopt.ingest.quarantine import (
    assess_budget,
    budget_message,
    is_quarantined,
    quarantine_frame,
    reason_counts,
    top_reasons,
)
from gridopt.ingest.readers import CONSUMPTION, METER_ID, PRODUCTION, TIMESTAMP

log = logging.getLogger(__name__)

__all__ = ["freq_string", "ingest_table", "parse_freq"]


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
    budget: QuarantineBudget | None = None,
) -> IngestResult:
    """Validate and regularise a raw long table (see :func:`gridopt.ingest.read_readings`).

    Parameters
    ----------
    table
        Columns ``meter_id``, ``timestamp``, ``consumption_kwh``, ``production_kwh`` (as made by
        :func:`gridopt.ingest.readers.read_raw`).
    source
        Name of the input used in messages and the report.
    tz, freq, cumulative, meters, fill, max_fill_steps, validation, budget
        See :func:`gridopt.ingest.read_readings`.

    Raises
    ------
    QuarantineBudgetError
        More rows quarantined than ``budget`` allows (or none usable); carries the report and
        the quarantine.

    Notes
    -----
    Long because it is the ingestion pipeline in order (codes, intervals, placement, duplicates,
    budget, grid); each step is a call, and their order is the contract.
    """
    opts = validation or ValidationOptions()
    budget = budget or QuarantineBudget()
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
        meter_codes = np.where(mapped >= 0, mapped, -1).astype(np.int32)
        names = np.asarray(wanted, dtype=str)
    row_meter = meter_codes  # -1: no (known) meter
    mark_codes(times.reason)
    mark_codes(cons.reason)
    mark_codes(prod.reason)
    meter_codes = np.where(meter_codes >= 0, meter_codes, 0).astype(np.int32)
    n_meter = len(names)

    # The interval of each meter from its own sorted instants; every row with a known meter and
    # a parsed time counts (a row quarantined for its value still shows where the grid is).
    timed = (row_meter >= 0) & (times.reason == 0) & (times.codes >= 0)
    if not timed.any() or not (status == 0).any():
        _refuse_all(table, source, status, row_meter, names, budget)
    instant_ns = np.full(n, NAT, dtype=np.int64)
    instant_ns[timed] = times.utc_ns[times.codes[timed]]
    # Ranks of the instants from the dictionary of distinct timestamps (a few thousand), not
    # from the rows (millions).
    distinct_ns = np.unique(times.utc_ns[times.utc_ns != NAT])
    code_rank = np.searchsorted(distinct_ns, times.utc_ns).astype(np.int32)
    row_rank = np.where(timed, code_rank[np.where(timed, times.codes, 0)], -1).astype(np.int32)
    stats = meter_intervals_ranked(np.where(timed, row_meter, -1).astype(np.int32), row_rank,
                                   distinct_ns, n_meter)
    freq_ns = None if freq is None else int(parse_freq(freq).value)
    plan = plan_intervals(stats, names, freq_ns, source, cumulative)
    step_ns = plan.step_ns
    native_row = plan.native_ns[meter_codes]
    mark(timed & (plan.conversion[meter_codes] == Conversion.INCOMPATIBLE),
         Reason.INCOMPATIBLE_INTERVAL)

    use, keys = instant_use(plan, times.codes, meter_codes, timed, len(times.utc_ns))
    phase_ns, meter_phase = meter_phases(plan, times.utc_ns, use, keys)
    if opts.max_power_kw is not None and not cumulative:
        limit_kwh = opts.max_power_kw * native_row / 3.6e12
        mark((cons.kwh > limit_kwh) | (prod.kwh > limit_kwh), Reason.OUTLIER)
    on_grid = np.mod(instant_ns, np.maximum(native_row, 1)) == meter_phase[meter_codes]
    mark(timed & ~on_grid, Reason.OFF_GRID_TIMESTAMP)
    clean = status == 0
    if not clean.any():
        _refuse_all(table, source, status, row_meter, names, budget)
    rows = Rows(meter_codes, instant_ns, cons.kwh, prod.kwh, status)
    grid = grid_extent(rows, clean, native_row, step_ns, phase_ns, n_meter, source)
    placed = place(rows, plan, grid, n_meter, opts, test_outliers=not cumulative)
    if not (status == ROW_CLEAN).any():  # every reading conflicted or was an outlier
        _refuse_all(table, source, status, row_meter, names, budget)
    cons_grid, prod_grid = placed.cons, placed.prod

    events = pd.DataFrame(columns=["meter", "variable", "time", "event", "before_kwh",
                                   "after_kwh"])
    if cumulative:
        cons_grid, prod_grid, quality, events = _difference(
            cons_grid, prod_grid, grid, names, fill, max_fill_steps, opts)
        times_ns = grid.start_ns + step_ns * np.arange(grid.n_time - 1, dtype=np.int64)
    else:
        quality = np.where(np.isnan(cons_grid), Quality.MISSING, Quality.MEASURED).astype(np.int8)
        converted = (placed.converted != 0) & (quality == Quality.MEASURED)
        quality[converted] = placed.converted[converted]
        if fill is FillPolicy.LINEAR:
            filled = _ingest.fill_linear(cons_grid, quality, max_fill_steps).astype(bool)
            filled_p = _ingest.fill_linear(prod_grid, quality, max_fill_steps).astype(bool)
            prod_grid[filled_p & ~filled] = np.nan
            quality[filled] = Quality.FILLED
        times_ns = grid.start_ns + step_ns * np.arange(grid.n_time, dtype=np.int64)

    present = np.bincount(row_meter[timed], minlength=n_meter) > 0
    conversion = _ConversionSummary(
        meter_intervals=interval_counts(plan, present),
        aggregated=tuple(str(names[m]) for m in plan.meters_with(Conversion.AGGREGATE)
                         if present[m]),
        split=tuple(str(names[m]) for m in plan.meters_with(Conversion.SPLIT) if present[m]),
        cells_partial=placed.cells_partial,
    )
    return _assemble(table, source, tz, step_ns, names, times_ns, cons_grid, prod_grid, quality,
                     status, row_meter, events, cumulative, fill, budget, conversion)


@dataclass(frozen=True)
class _ConversionSummary:
    meter_intervals: dict[str, int]
    aggregated: tuple[str, ...]
    split: tuple[str, ...]
    cells_partial: int


def _refuse_all(table: pa.Table, source: str, status: NDArray[np.int8],
                row_meter: NDArray[np.int32], names: NDArray[np.str_],
                budget: QuarantineBudget) -> None:
    """No row is usable: raise the budget error with every row in the quarantine."""
    n = len(status)
    summaries = top_reasons(status, row_meter)
    rows = np.flatnonzero(is_quarantined(status))
    quarantine = quarantine_frame(table, rows, status)
    detail = ", ".join(f"{k}: {v}" for k, v in reason_counts(status).items())
    report = IngestReport(
        source=source, rows_in=n, rows_clean=0, rows_quarantined=int(rows.size),
        quarantined_by_reason=reason_counts(status), duplicates_collapsed=0,
        meters=len(names), intervals=0, start=None, end=None, freq="", tz="",
        cells_measured=0, cells_filled=0, cells_missing=0, gaps=0,
        status=IngestStatus.OVER_BUDGET, quarantined_fraction=1.0, budget=budget,
        top_reasons=summaries,
    )
    examples = " | ".join(f"{s.reason}: rows {', '.join(map(str, s.example_rows))}"
                          for s in summaries)
    raise QuarantineBudgetError(
        f"{source}: none of the {n} rows is usable ({detail}; e.g. {examples}); fix the rows "
        f"or the options (--tz for naive timestamps, --freq for the interval). No dataset was "
        f"written; the quarantine lists every row",
        report, quarantine)


def _difference(
    cons_reg: NDArray[np.float64],
    prod_reg: NDArray[np.float64],
    grid: Grid,
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
    row_meter: NDArray[np.int32],
    events: pd.DataFrame,
    cumulative: bool,
    fill: FillPolicy,
    budget: QuarantineBudget,
    conversion: _ConversionSummary,
) -> IngestResult:
    """The Dataset, quarantine and report of the regularised readings (and the budget check).

    Long because it fills every output variable, quality code and report count in one pass
    over the cells.
    """
    freq = freq_string(step_ns)
    time_index = times_ns.astype("datetime64[ns]")
    ds = readings_dataset(
        cons_grid.T, prod_grid.T, quality.T,
        time_index,
        names.astype(str),
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
    by_reason = reason_counts(status)
    q_idx = np.flatnonzero(is_quarantined(status))
    quarantine = quarantine_frame(table, q_idx, status)
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
    assessment = assess_budget(status, row_meter, len(names), budget)
    in_scope = int(q_idx.size) - by_reason.get(str(Reason.UNKNOWN_METER), 0)
    state = (IngestStatus.OVER_BUDGET if assessment.over
             else IngestStatus.DEGRADED if in_scope > 0 else IngestStatus.OK)
    summaries = top_reasons(status, row_meter)
    report = IngestReport(
        source=source,
        rows_in=n_rows,
        rows_clean=int(counts[ROW_CLEAN]),
        rows_quarantined=int(q_idx.size),
        quarantined_by_reason=by_reason,
        duplicates_collapsed=int(counts[ROW_DUPLICATE]),
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
        status=state,
        quarantined_fraction=assessment.file_fraction,
        worst_meter=str(names[assessment.worst_meter]) if assessment.worst_meter >= 0 else None,
        worst_meter_fraction=assessment.worst_meter_fraction,
        budget=budget,
        top_reasons=summaries,
        meter_intervals=conversion.meter_intervals,
        aggregated_meters=conversion.aggregated,
        split_meters=conversion.split,
        cells_aggregated=int(q_counts[Quality.AGGREGATED]),
        cells_split=int(q_counts[Quality.SPLIT]),
        cells_partial=conversion.cells_partial,
    )
    if state is IngestStatus.OVER_BUDGET:
        message = budget_message(source, assessment, budget, names, summaries, quarantine,
                                 n_rows)
        raise QuarantineBudgetError(message, report, quarantine)
    if report.rows_quarantined:
        log.warning("%s: %d of %d rows quarantined (%s)", source, report.rows_quarantined,
                    n_rows, ", ".join(f"{k}: {v}" for k, v in by_reason.items()))
    return IngestResult(data=ds, report=report, quarantine=quarantine, gaps=gaps,
                        register_events=events)
