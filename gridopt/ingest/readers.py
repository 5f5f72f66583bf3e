"""Readers: CSV or Parquet files -> a long Arrow table of raw readings (no validation yet).

The long table always has the columns ``meter_id``, ``timestamp``, ``consumption_kwh`` and
``production_kwh`` (all null when the file has none). CSV columns are read as text so that a bad
cell reaches validation (and the quarantine) instead of failing the whole file.
"""

from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from gridopt.errors import InputError
from gridopt.ingest.model import Layout

METER_ID = "meter_id"
TIMESTAMP = "timestamp"
CONSUMPTION = "consumption_kwh"
PRODUCTION = "production_kwh"
LONG_COLUMNS = (METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION)
_DICT = pa.dictionary(pa.int32(), pa.string())

#: Unit suffixes that are recognised and refused, with the fix to suggest.
_UNIT_HINTS = {
    "wh": "energy in Wh: divide by 1000 and name the column {var}_kwh",
    "mwh": "energy in MWh: multiply by 1000 and name the column {var}_kwh",
    "w": "power in W, not energy per interval: convert to kWh per interval ({var}_kwh)",
    "kw": "power in kW, not energy per interval: multiply by the interval length in hours "
    "and name the column {var}_kwh",
    "mw": "power in MW, not energy per interval: convert to kWh per interval ({var}_kwh)",
    "kvarh": "reactive energy: gridopt reads active energy in kWh ({var}_kwh)",
    "j": "energy in J: divide by 3.6e6 and name the column {var}_kwh",
}
_UNIT_RE = re.compile(
    r"^(consumption|production)(?:[_ ]*[\[(]?\s*([a-z]+)\s*[\])]?)?$", re.IGNORECASE
)


def _check_value_columns(columns: list[str], source: str, required: bool = True) -> None:
    """Refuse value columns in other units than kWh, with the conversion to apply."""
    names = {c.strip().lower() for c in columns}
    for col in columns:
        match = _UNIT_RE.match(col.strip())
        if match is None:
            continue
        var, unit = match.group(1).lower(), (match.group(2) or "").lower()
        if unit == "kwh":
            continue
        if f"{var}_kwh" in names:
            continue
        if unit == "":
            raise InputError(
                f"{source}: column {col!r} has no unit; gridopt expects energy per interval in "
                f"kWh in a column named {var}_kwh (rename it after checking the unit)"
            )
        hint = _UNIT_HINTS.get(unit, "unknown unit: convert to kWh per interval ({var}_kwh)")
        raise InputError(f"{source}: column {col!r} is {hint.format(var=var)}")
    if required and CONSUMPTION not in names:
        raise InputError(
            f"{source}: missing required column {CONSUMPTION!r} (found: {', '.join(columns)}); "
            f"the long layout needs {METER_ID}, {TIMESTAMP}, {CONSUMPTION} "
            f"[, {PRODUCTION}]"
        )


def _csv_header(path: Path) -> list[str]:
    """Column names of a CSV file (first line), raising InputError for empty/unreadable files."""
    try:
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rt", newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text CSV file ({exc.reason})") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if not header or all(not h.strip() for h in header):
        raise InputError(f"{path}: the file is empty (no header line); expected a CSV with "
                         f"columns {METER_ID},{TIMESTAMP},{CONSUMPTION}[,{PRODUCTION}]")
    return [h.strip() for h in header]


def _read_csv_text(path: Path, columns: list[str]) -> pa.Table:
    """All columns as text; empty cells become null."""
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                # Meter ids and timestamps repeat a lot: read them dictionary-encoded.
                column_types={c: _DICT if c.strip().lower() in (METER_ID, TIMESTAMP)
                              else pa.string() for c in columns},
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot parse as CSV: {exc}") from exc
    return table.unify_dictionaries()


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: cannot read as Parquet: {exc}") from exc


def _normalise_long(table: pa.Table, source: str) -> pa.Table:
    """Select and order the long columns; production becomes all-null when absent."""
    names = {c.strip().lower(): c for c in table.column_names}
    _check_value_columns(list(table.column_names), source)
    missing = [c for c in (METER_ID, TIMESTAMP, CONSUMPTION) if c not in names]
    if missing:
        raise InputError(
            f"{source}: missing required column(s) {', '.join(missing)} (found: "
            f"{', '.join(table.column_names)}); the long layout needs {METER_ID}, {TIMESTAMP}, "
            f"{CONSUMPTION} [, {PRODUCTION}] (use --layout wide for one column per meter)"
        )
    cols = [table.column(names[c]) for c in (METER_ID, TIMESTAMP, CONSUMPTION)]
    if PRODUCTION in names:
        cols.append(table.column(names[PRODUCTION]))
    else:
        cols.append(pa.nulls(table.num_rows, pa.string()))
    meter = cols[0]
    if not pa.types.is_string(meter.type) and not pa.types.is_dictionary(meter.type):
        meter = meter.cast(pa.string())
    cols[0] = meter
    return pa.table(cols, names=list(LONG_COLUMNS))


def _wide_to_long(table: pa.Table, source: str) -> pa.Table:
    """Melt ``timestamp`` + one consumption column per meter into the long table.

    Empty cells are not readings (the interval is missing for that meter); every non-empty cell
    is one row.
    """
    names = table.column_names
    if TIMESTAMP not in [n.strip().lower() for n in names]:
        raise InputError(f"{source}: the wide layout needs a {TIMESTAMP!r} column followed by one "
                         f"column of consumption in kWh per meter (found: {', '.join(names)})")
    ts_name = next(n for n in names if n.strip().lower() == TIMESTAMP)
    meters = [n for n in names if n != ts_name]
    if not meters:
        raise InputError(f"{source}: the wide layout has no meter columns besides {ts_name!r}")
    ts = table.column(ts_name).combine_chunks()
    meter_parts, ts_parts, value_parts = [], [], []
    for j, name in enumerate(meters):
        col = table.column(name).combine_chunks()
        if not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        present = col.is_valid()
        idx = np.flatnonzero(present.to_numpy(zero_copy_only=False))
        meter_parts.append(np.full(idx.size, j, dtype=np.int32))
        ts_parts.append(ts.take(pa.array(idx)))
        value_parts.append(col.take(pa.array(idx)))
    indices = pa.array(np.concatenate(meter_parts) if meter_parts else np.empty(0, np.int32))
    meter = pa.DictionaryArray.from_arrays(indices, pa.array([m.strip() for m in meters]))
    ts_all = pa.concat_arrays(ts_parts)
    values = pa.concat_arrays(value_parts)
    return pa.table(
        [meter, ts_all, values, pa.nulls(len(values), pa.string())], names=list(LONG_COLUMNS)
    )


def read_raw(path: str | Path, layout: Layout = Layout.LONG) -> pa.Table:
    """Read a readings file into the long raw table (columns :data:`LONG_COLUMNS`).

    Parameters
    ----------
    path
        ``.csv`` (optionally ``.csv.gz``) or ``.parquet``/``.pq`` file, or a meter export
        recognised from its content (:mod:`gridopt.ingest.formats`: Green Button, NEM12/NEM13,
        MSCONS; ``layout`` does not apply to those).
    layout
        :class:`Layout` of the file.

    Raises
    ------
    InputError
        Unreadable or empty file, missing required column, value columns in other units.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a CSV or Parquet file of readings")
    from gridopt.ingest import formats  # the format readers build on this module

    fmt = formats.detect_format(path)
    if fmt is not None:
        return formats.read_format(path, fmt).table
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        header = _csv_header(path)
        if layout is Layout.LONG:
            _check_value_columns(header, source)
        table = _read_csv_text(path, header)
    if table.num_rows == 0:
        raise InputError(f"{path}: the file has a header but no readings")
    if layout is Layout.WIDE:
        return _wide_to_long(table, source)
    return _normalise_long(table, source)
