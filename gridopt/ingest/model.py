"""Types of the ingestion layer: options, quality flags, quarantine reasons, report and result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError


class Quality(enum.IntEnum):
    """Quality flag of one ``(time, meter)`` cell (variable ``quality``, int8).

    ``MEASURED`` (0): a clean reading. ``FILLED`` (1): filled by the explicit gap policy
    (:class:`FillPolicy`). ``MISSING`` (2): no usable reading (value NaN). ``RESET`` (3):
    cumulative input only; the register decreased without a plausible rollover (meter replaced
    or cleared), so the interval's energy is unknown (value NaN). ``AGGREGATED`` (4): the sum
    of a finer meter's complete readings in the interval (exact energy; only with ``freq``
    coarser than the meter's own interval). ``SPLIT`` (5): an even share of a coarser meter's
    reading (its energy is exact over the coarse interval, the profile inside it is not; only
    with ``freq`` finer than the meter's own interval). ``ESTIMATED`` (6): the meter export
    itself marked the reading estimated or substituted (NEM12 quality E/F/S, MSCONS ``QTY+67``,
    a Green Button ``ReadingQuality`` that is not a measured one; see ``docs/formats.md``).
    """

    MEASURED = 0
    FILLED = 1
    MISSING = 2
    RESET = 3
    AGGREGATED = 4
    SPLIT = 5
    ESTIMATED = 6


class Reason(enum.StrEnum):
    """Why an input row is not in the clean data (column ``reason`` of the quarantine)."""

    MISSING_METER_ID = "missing_meter_id"
    UNKNOWN_METER = "unknown_meter"
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    NAIVE_TIMESTAMP = "naive_timestamp"
    NONEXISTENT_LOCAL_TIME = "nonexistent_local_time"
    MISSING_VALUE = "missing_value"
    NON_NUMERIC = "non_numeric"
    NEGATIVE = "negative"
    OFF_GRID_TIMESTAMP = "off_grid_timestamp"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    OUTLIER = "outlier"
    AMBIGUOUS_LOCAL_TIME = "ambiguous_local_time"
    INCOMPATIBLE_INTERVAL = "incompatible_interval"


class IngestStatus(enum.StrEnum):
    """Outcome of ingestion as reported in ``IngestReport.status`` and the CLI's JSON.

    ``OK``: no row quarantined. ``DEGRADED``: rows quarantined, within the
    :class:`QuarantineBudget`. ``OVER_BUDGET``: more rows quarantined than the budget allows;
    no dataset is produced (:class:`gridopt.errors.QuarantineBudgetError`).
    """

    OK = "ok"
    DEGRADED = "degraded"
    OVER_BUDGET = "over_budget"


@dataclass(frozen=True)
class QuarantineBudget:
    """How much of the input may be quarantined before ingestion refuses to produce data.

    Attributes
    ----------
    max_file_fraction
        Largest share of the rows of the file (rows of requested meters when a meter list is
        given) that may be quarantined; default 5 %.
    max_meter_fraction
        Largest share of any one meter's rows that may be quarantined; default 25 %.

    Rows of meters outside a requested meter list (``unknown_meter``) are out of scope, not
    bad readings: they are listed in the quarantine but counted by neither share.
    """

    max_file_fraction: float = 0.05
    max_meter_fraction: float = 0.25

    def __post_init__(self) -> None:
        for name in ("max_file_fraction", "max_meter_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(
                    f"quarantine budget {name} = {value!r} must be a fraction between 0 and 1 "
                    f"(e.g. 0.05 for 5 %)"
                )


class Layout(enum.StrEnum):
    """Input layout: ``long`` (a row per meter and interval) or ``wide`` (a column per meter)."""

    LONG = "long"
    WIDE = "wide"


class FillPolicy(enum.StrEnum):
    """How gaps are filled. ``NONE`` leaves them NaN (quality ``MISSING``); ``LINEAR``
    interpolates interior gaps of at most ``max_fill_steps`` intervals between the neighbouring
    readings (for cumulative input the register is interpolated, which spreads the energy
    recorded across the gap evenly); filled cells get quality ``FILLED``."""

    NONE = "none"
    LINEAR = "linear"


@dataclass(frozen=True)
class ValidationOptions:
    """Thresholds of row validation.

    Attributes
    ----------
    outlier_factor
        A reading is an ``outlier`` when it exceeds ``outlier_factor`` times the meter's
        ``outlier_quantile`` quantile of its positive readings (per variable). ``None`` turns the
        relative test off.
    outlier_quantile
        Quantile of the positive readings used as the meter's typical high value.
    outlier_min_readings
        Meters with fewer positive readings are not tested (too little data for a scale).
    max_power_kw
        Absolute ceiling on the mean power of one reading (energy / interval length), per
        variable; ``None`` for no ceiling.
    rollover_fraction
        Cumulative input: a register decrease is a rollover when the wrapped step is at most this
        fraction of the register modulus; otherwise it is a reset.
    register_modulus_kwh
        Cumulative input: the value at which registers wrap (e.g. ``100000``); ``None`` infers
        the power of ten just above the reading before the decrease.
    """

    outlier_factor: float | None = 10.0
    outlier_quantile: float = 0.95
    outlier_min_readings: int = 48
    max_power_kw: float | None = None
    rollover_fraction: float = 0.1
    register_modulus_kwh: float | None = None


@dataclass(frozen=True)
class ReasonSummary:
    """One quarantine reason: how many rows, and the first few of them (1-based data rows)."""

    reason: str
    rows: int
    example_rows: tuple[int, ...]
    meters: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"reason": self.reason, "rows": self.rows,
                "example_rows": list(self.example_rows), "meters": self.meters}


@dataclass(frozen=True)
class IngestReport:
    """What ingestion found. Invariant: ``rows_in == rows_clean + rows_quarantined +
    duplicates_collapsed``.

    For the wide layout a row is one non-empty ``(timestamp, meter)`` cell. For cumulative input
    rows are register readings and the intervals are their differences.
    """

    source: str
    rows_in: int
    rows_clean: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    duplicates_collapsed: int
    meters: int
    intervals: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    freq: str
    tz: str
    cells_measured: int
    cells_filled: int
    cells_missing: int
    gaps: int
    rollovers: int = 0
    resets: int = 0
    quarantine_file: str | None = None
    status: IngestStatus = IngestStatus.OK
    quarantined_fraction: float = 0.0
    worst_meter: str | None = None
    worst_meter_fraction: float = 0.0
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)
    top_reasons: tuple[ReasonSummary, ...] = ()
    meter_intervals: dict[str, int] = field(default_factory=dict)
    aggregated_meters: tuple[str, ...] = ()
    split_meters: tuple[str, ...] = ()
    cells_aggregated: int = 0
    cells_split: int = 0
    cells_partial: int = 0
    cells_estimated: int = 0

    @property
    def over_budget(self) -> bool:
        """Whether more was quarantined than :attr:`budget` allows."""
        return self.status is IngestStatus.OVER_BUDGET

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (timestamps as ISO 8601 strings in UTC)."""
        return {
            "status": self.status.value,
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_clean": self.rows_clean,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "duplicates_collapsed": self.duplicates_collapsed,
            "meters": self.meters,
            "intervals": self.intervals,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "freq": self.freq,
            "tz": self.tz,
            "cells_measured": self.cells_measured,
            "cells_filled": self.cells_filled,
            "cells_missing": self.cells_missing,
            "gaps": self.gaps,
            "rollovers": self.rollovers,
            "resets": self.resets,
            "quarantine_file": self.quarantine_file,
            "quarantined_fraction": self.quarantined_fraction,
            "worst_meter": self.worst_meter,
            "worst_meter_fraction": self.worst_meter_fraction,
            "budget": {"max_file_fraction": self.budget.max_file_fraction,
                       "max_meter_fraction": self.budget.max_meter_fraction},
            "top_reasons": [r.to_dict() for r in self.top_reasons],
            "meter_intervals": dict(self.meter_intervals),
            "aggregated_meters": list(self.aggregated_meters),
            "split_meters": list(self.split_meters),
            "cells_aggregated": self.cells_aggregated,
            "cells_split": self.cells_split,
            "cells_partial": self.cells_partial,
            "cells_estimated": self.cells_estimated,
        }


@dataclass(frozen=True)
class IngestResult:
    """Outcome of :func:`gridopt.ingest.read_readings`.

    Attributes
    ----------
    data
        Dataset with dims ``(time, meter)``: ``consumption_kwh``, ``production_kwh`` (float64,
        NaN where missing) and ``quality`` (int8, :class:`Quality`).
    report
        Counts (:class:`IngestReport`).
    quarantine
        One row per quarantined input row: ``row`` (1-based data row; the file line is
        ``row + 1`` for CSV with a header), ``meter_id``, ``timestamp``, ``consumption_kwh``,
        ``production_kwh`` (raw text as read) and ``reason`` (:class:`Reason` value).
    gaps
        One row per run of missing intervals: ``meter``, ``start``, ``end`` (last missing
        interval start, UTC) and ``intervals``.
    register_events
        Cumulative input only: ``meter``, ``variable``, ``time`` (interval start), ``event``
        (``rollover`` or ``reset``), ``before_kwh``, ``after_kwh``.
    """

    data: xr.Dataset
    report: IngestReport
    quarantine: pd.DataFrame
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    register_events: pd.DataFrame = field(default_factory=pd.DataFrame)


def readings_dataset(consumption_kwh: Any, production_kwh: Any, quality: Any, times: Any,
                     meters: Any, attrs: dict[str, Any]) -> xr.Dataset:
    """The validated readings Dataset every source produces (ingest, the store, PostgreSQL).

    Parameters
    ----------
    consumption_kwh, production_kwh, quality
        ``(time, meter)`` arrays (NumPy or Dask): energy in each interval and its
        :class:`Quality` code.
    times
        Interval starts (UTC, ``datetime64[ns]``).
    meters
        Meter ids.
    attrs
        ``freq``, ``tz``, ``source``, ``cumulative_input``, ``fill_policy``.
    """
    return xr.Dataset(
        {
            "consumption_kwh": (("time", "meter"), consumption_kwh, {
                "units": "kWh", "long_name": "energy consumed in the interval"}),
            "production_kwh": (("time", "meter"), production_kwh, {
                "units": "kWh", "long_name": "energy produced in the interval"}),
            "quality": (("time", "meter"), quality, {
                "long_name": "quality flag",
                "flag_values": np.array([q.value for q in Quality], dtype=np.int8),
                "flag_meanings": " ".join(q.name.lower() for q in Quality),
            }),
        },
        coords={
            "time": ("time", times, {"long_name": "interval start (UTC)"}),
            "meter": ("meter", meters, {"long_name": "meter id"}),
        },
        attrs=attrs,
    )
