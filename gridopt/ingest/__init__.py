"""Smart-meter ingestion: readings files -> validated, regular ``xarray.Dataset`` (time, meter).

Public API::

    result = read_readings("readings.csv", tz=None, freq=None)   # IngestResult
    result.data            # Dataset: consumption_kwh, production_kwh, quality (time, meter)
    result.report          # IngestReport: counts (rows in = clean + quarantined + collapsed)
    result.quarantine      # DataFrame: every rejected row with its reason
    buses = aggregate_to_buses(result.data, "mapping.csv")   # p_mw, q_mvar (time, bus)
    write_netcdf(result.data, "clean.nc")

See ``docs/ingest.md`` for formats, reasons, quality codes and the gap policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gridopt.errors import InputError
from gridopt.ingest import formats
from gridopt.ingest.buses import (
    DEFAULT_POWER_FACTOR,
    MappingReport,
    aggregate_to_buses,
    mapping_report,
    read_mapping,
)
from gridopt.ingest.io import quarantine_path, write_csv, write_netcdf
from gridopt.ingest.model import (
    FillPolicy,
    IngestReport,
    IngestResult,
    IngestStatus,
    Layout,
    Quality,
    QuarantineBudget,
    Reason,
    ValidationOptions,
)
from gridopt.ingest.power import interval_hours, resample, to_power
from gridopt.ingest.readers import read_raw
from gridopt.ingest.regularise import ingest_table


def read_readings(
    path: str | Path,
    *,
    tz: str | None = None,
    freq: str | None = None,
    layout: Layout | str = Layout.LONG,
    cumulative: bool = False,
    meters: Sequence[str] | None = None,
    fill: FillPolicy | str = FillPolicy.NONE,
    max_fill_steps: int = 4,
    validation: ValidationOptions | None = None,
    budget: QuarantineBudget | None = None,
) -> IngestResult:
    """Read, validate and regularise a file of meter readings.

    Parameters
    ----------
    path
        A meter export recognised from its content (Green Button XML, AEMO NEM12/NEM13,
        EDIFACT MSCONS; see ``docs/formats.md``), or a
        CSV (``.csv``, ``.csv.gz``) or Parquet file. Long layout columns: ``meter_id``,
        ``timestamp`` (interval start, ISO 8601 with UTC offset), ``consumption_kwh`` and
        optionally ``production_kwh``. Wide layout: ``timestamp`` and one consumption column
        (kWh) per meter.
    tz
        IANA zone of naive (offset-less) timestamps, e.g. ``"Australia/Sydney"``; also recorded
        in the ``tz`` attribute. Without it naive timestamps are refused.
    freq
        Interval of the dataset (pandas offset, e.g. ``"30min"``). ``None``: each meter's
        interval is inferred from its own sorted timestamps and they must agree. Given, meters
        on other intervals are converted to it (finer readings summed, coarser ones split
        evenly; flagged ``AGGREGATED`` / ``SPLIT`` in ``quality``).
    layout
        ``"long"`` or ``"wide"``.
    cumulative
        Values are register readings (monotone counters) at the timestamp instants; interval
        energy is the difference of consecutive readings, with rollovers and resets detected.
    meters
        Known meter ids; readings of other meters are quarantined as ``unknown_meter`` and the
        ``meter`` coordinate is exactly this list.
    fill
        Gap policy (:class:`FillPolicy`); default ``"none"`` leaves gaps NaN.
    max_fill_steps
        Longest gap (in intervals) that ``"linear"`` fills.
    validation
        Outlier and register thresholds (:class:`ValidationOptions`).
    budget
        How much may be quarantined (:class:`QuarantineBudget`; default 5 % of the file and
        25 % of any meter's rows). Over budget no data is returned.

    Returns
    -------
    IngestResult
        ``data`` (dims ``time, meter``), ``report``, ``quarantine``, ``gaps``,
        ``register_events``.

    Raises
    ------
    gridopt.errors.InputError
        Unreadable or empty file, missing column, value columns in other units than kWh, naive
        timestamps without ``tz``, meters on different intervals without ``freq``.
    gridopt.errors.QuarantineBudgetError
        More rows quarantined than ``budget`` allows, or no usable row at all; the exception
        carries the ``report`` and the ``quarantine``.
    """
    layout = Layout(layout)
    fmt = formats.detect_format(path)
    if fmt is not None and cumulative:
        raise InputError(f"{path}: a {fmt.value} export carries energy per interval, not register "
                         f"readings; drop --cumulative")
    formatted = None if fmt is None else formats.read_format(path, fmt)
    table = read_raw(path, layout) if formatted is None else formatted.table
    result = ingest_table(
        table,
        source=str(path),
        tz=tz,
        freq=freq,
        cumulative=cumulative,
        meters=meters,
        fill=FillPolicy(fill),
        max_fill_steps=max_fill_steps,
        validation=validation,
        budget=budget,
    )
    return result if formatted is None else formats.mark_estimated(result, formatted)


__all__ = [
    "DEFAULT_POWER_FACTOR",
    "FillPolicy",
    "IngestReport",
    "IngestResult",
    "IngestStatus",
    "Layout",
    "MappingReport",
    "Quality",
    "QuarantineBudget",
    "Reason",
    "ValidationOptions",
    "aggregate_to_buses",
    "ingest_table",
    "interval_hours",
    "mapping_report",
    "quarantine_path",
    "read_mapping",
    "read_readings",
    "resample",
    "to_power",
    "write_csv",
    "write_netcdf",
]
