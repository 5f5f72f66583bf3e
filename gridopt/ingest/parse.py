"""Column parsing: meter ids, timestamps and values of the raw table, row by row, never failing
on a bad cell (a bad cell gives the row a quarantine reason instead).

Timestamps and meter ids are dictionary-encoded first, so each distinct string is parsed once
(10 million readings of 2,000 meters have only a few thousand distinct timestamps).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from gridopt._ext import _ingest
from gridopt.errors import InputError
from gridopt.ingest.model import Reason

#: Sentinel for "no time" in int64 nanosecond arrays (same as numpy's NaT).
NAT = np.iinfo(np.int64).min

#: Row status codes. 0-3 are written by the Cython kernels; validation reasons start at 10.
ROW_CLEAN = 0
ROW_DUPLICATE = 1
ROW_CONFLICT = 2
ROW_OUTLIER = 3
REASON_CODES: dict[Reason, int] = {
    Reason.CONFLICTING_DUPLICATE: ROW_CONFLICT,
    Reason.OUTLIER: ROW_OUTLIER,
    Reason.MISSING_METER_ID: 10,
    Reason.UNKNOWN_METER: 11,
    Reason.UNPARSEABLE_TIMESTAMP: 12,
    Reason.NAIVE_TIMESTAMP: 13,
    Reason.NONEXISTENT_LOCAL_TIME: 14,
    Reason.MISSING_VALUE: 15,
    Reason.NON_NUMERIC: 16,
    Reason.NEGATIVE: 17,
    Reason.OFF_GRID_TIMESTAMP: 18,
    Reason.AMBIGUOUS_LOCAL_TIME: 19,
    Reason.INCOMPATIBLE_INTERVAL: 20,
}
CODE_REASONS: dict[int, Reason] = {v: k for k, v in REASON_CODES.items()}

_OFFSET_RE = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
_NUMBER_RE = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"


def check_tz(tz: str | None) -> None:
    """Raise InputError unless ``tz`` is ``None`` or an IANA zone name."""
    if tz is None:
        return
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Australia/Sydney' or 'UTC'"
        ) from exc


@dataclass(frozen=True)
class Meters:
    """Meter index per row (-1: empty id) and the distinct ids, sorted."""

    codes: NDArray[np.int32]
    names: NDArray[np.str_]


def parse_meters(column: pa.ChunkedArray) -> Meters:
    """Dictionary-encode the meter ids; surrounding blanks are stripped, blank ids get -1.

    The ids are sorted (code-point order), so the meter axis does not depend on the order of
    the rows or columns of the file.
    """
    arr = column.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    no_nulls = arr.null_count == 0
    indices = pc.fill_null(arr.indices, 0).to_numpy(zero_copy_only=False)
    valid = (np.ones(len(arr), dtype=bool) if no_nulls
             else arr.is_valid().to_numpy(zero_copy_only=False))
    raw_names = np.asarray(arr.dictionary.to_pylist(), dtype=object)
    stripped = np.array([("" if n is None else str(n)).strip() for n in raw_names], dtype=object)
    # Merge ids that differ only by blanks; blank ids become -1. The dictionary of a freshly
    # encoded column lists the ids in order of first appearance, which the meters keep.
    used = np.bincount(indices if no_nulls else indices[valid], minlength=len(stripped)) > 0
    order = np.arange(len(stripped))
    names: list[str] = []
    position: dict[str, int] = {}
    remap = np.full(len(stripped) + 1, -1, dtype=np.int32)
    for k in order:
        name = stripped[k]
        if not used[k] or name == "":
            continue
        if name not in position:
            position[name] = len(names)
            names.append(name)
        remap[k] = position[name]
    codes = remap[indices] if no_nulls else remap[np.where(valid, indices, len(stripped))]
    order = np.argsort(np.asarray(names, dtype=object), kind="stable")
    rank = np.empty(len(names) + 1, dtype=np.int32)
    rank[order] = np.arange(len(names), dtype=np.int32)
    rank[-1] = -1
    codes = rank[codes]  # -1 indexes the sentinel
    return Meters(codes=codes.astype(np.int32, copy=False),
                  names=np.asarray([names[k] for k in order], dtype=str))


@dataclass(frozen=True)
class Times:
    """Per row: code into ``utc_ns`` (-1 when there is no usable time) and row reason codes."""

    codes: NDArray[np.int32]
    utc_ns: NDArray[np.int64]
    reason: NDArray[np.int8]
    all_naive: bool


def _localise(naive: pd.DatetimeIndex, tz: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """UTC nanoseconds of naive local times, first (DST) and second (standard) reading of
    ambiguous times; NaT where the local time does not exist."""
    n = len(naive)
    first = naive.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT")
    second = naive.tz_localize(tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT")
    return (
        first.tz_convert("UTC").as_unit("ns").asi8.copy(),
        second.tz_convert("UTC").as_unit("ns").asi8.copy(),
    )


def parse_times(column: pa.ChunkedArray, tz: str | None, meter_codes: NDArray[np.int32]) -> Times:
    """Parse timestamps to UTC.

    Strings with a UTC offset (``Z``, ``+10:00``) are converted exactly. Naive strings (no
    offset) are local times in ``tz``; without ``tz`` they are quarantined as
    ``naive_timestamp``. Local times that do not exist (clocks jump forward) are
    ``nonexistent_local_time``. A local time that occurs twice (clocks go back) is resolved by
    order of appearance per meter: its first row is the earlier (daylight-saving) instant, later
    rows the standard-time instant. Row order is the only information a naive local time
    carries there, so it is trusted only when it is consistent: if a meter's rows, with that
    resolution, are not in chronological order in the file (a shuffled or descending file),
    its rows at ambiguous local times are quarantined as ``ambiguous_local_time`` instead.
    """
    arr = column.combine_chunks()
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        arr = arr.cast(pa.timestamp("ns", "UTC"))
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    indices = pc.fill_null(enc.indices, 0).to_numpy(zero_copy_only=False)
    valid = (np.ones(len(enc), dtype=bool) if enc.null_count == 0
             else enc.is_valid().to_numpy(zero_copy_only=False))
    dictionary = enc.dictionary
    k = len(dictionary)
    first_ns = np.full(k, NAT, dtype=np.int64)
    second_ns = np.full(k, NAT, dtype=np.int64)
    reason_u = np.full(k, REASON_CODES[Reason.UNPARSEABLE_TIMESTAMP], dtype=np.int8)
    naive_u = np.zeros(k, dtype=bool)

    if pa.types.is_timestamp(dictionary.type):
        values = dictionary.cast(pa.timestamp("ns", dictionary.type.tz)).to_numpy(
            zero_copy_only=False)
        ns = values.astype("datetime64[ns]").view(np.int64)
        if dictionary.type.tz is not None:
            first_ns[:] = ns
            reason_u[ns != NAT] = 0
        else:
            naive_u[:] = ns != NAT
            naive_index = pd.DatetimeIndex(values.astype("datetime64[ns]"))
            _resolve_naive(naive_index, np.arange(k), tz, first_ns, second_ns, reason_u)
    elif pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type):
        text = pd.Series(dictionary.to_pylist(), dtype=object).str.strip()
        aware = text.str.contains(_OFFSET_RE, regex=True, na=False).to_numpy()
        if aware.any():
            parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            ns = pd.DatetimeIndex(parsed).as_unit("ns").asi8
            first_ns[aware] = ns
            reason_u[np.flatnonzero(aware)[ns != NAT]] = 0
        rest = np.flatnonzero(~aware)
        if rest.size:
            parsed = pd.to_datetime(text.iloc[rest], format="ISO8601", errors="coerce")
            naive_index = pd.DatetimeIndex(parsed).as_unit("ns")
            ok = naive_index.asi8 != NAT
            naive_u[rest[ok]] = True
            _resolve_naive(naive_index[ok], rest[ok], tz, first_ns, second_ns, reason_u)
    else:
        raise InputError(
            f"timestamp column has type {arr.type}; expected ISO 8601 text or a timestamp type"
        )

    if valid.all():
        codes = indices.astype(np.int32, copy=True)
        reason = reason_u[indices]
    else:
        codes = np.where(valid, indices, -1).astype(np.int32)
        reason = np.where(valid, reason_u[indices], np.int8(
            REASON_CODES[Reason.UNPARSEABLE_TIMESTAMP])).astype(np.int8)
    utc_ns = first_ns
    ambiguous_u = second_ns != NAT
    if ambiguous_u.any():
        rows = np.flatnonzero(valid & ambiguous_u[indices])
        frame = pd.DataFrame({"m": meter_codes[rows], "c": codes[rows]})
        later = rows[frame.groupby(["m", "c"], sort=False).cumcount().to_numpy() >= 1]
        # Second and later appearances point to the standard-time instants, appended after k.
        codes = codes.copy()
        codes[later] += k
        utc_ns = np.concatenate([first_ns, second_ns])
        reason = _refuse_unordered_ambiguity(rows, meter_codes, codes, utc_ns, valid, reason)
    all_naive = bool(valid.any()) and bool(naive_u[indices[valid]].all())
    return Times(codes=codes, utc_ns=utc_ns, reason=reason, all_naive=all_naive)


def _refuse_unordered_ambiguity(
    ambiguous_rows: NDArray[np.int64],
    meter_codes: NDArray[np.int32],
    codes: NDArray[np.int32],
    utc_ns: NDArray[np.int64],
    valid: NDArray[np.bool_],
    reason: NDArray[np.int8],
) -> NDArray[np.int8]:
    """Quarantine the ambiguous rows of meters whose rows are not in chronological order."""
    meters = np.unique(meter_codes[ambiguous_rows])
    meters = meters[meters >= 0]
    usable = valid & (reason == 0) & np.isin(meter_codes, meters)
    rows = np.flatnonzero(usable)
    rows = rows[np.argsort(meter_codes[rows], kind="stable")]  # file order within a meter
    ns = utc_ns[codes[rows]]
    m = meter_codes[rows]
    backwards = (m[1:] == m[:-1]) & (ns[1:] < ns[:-1])
    unordered = np.unique(m[1:][backwards])
    if unordered.size == 0:
        return reason
    reason = reason.copy()
    hit = ambiguous_rows[np.isin(meter_codes[ambiguous_rows], unordered)]
    reason[hit] = REASON_CODES[Reason.AMBIGUOUS_LOCAL_TIME]
    return reason


def _resolve_naive(
    naive: pd.DatetimeIndex,
    where: NDArray[np.int64],
    tz: str | None,
    first_ns: NDArray[np.int64],
    second_ns: NDArray[np.int64],
    reason_u: NDArray[np.int8],
) -> None:
    """Fill the UTC instants of naive local times (in place)."""
    if tz is None:
        reason_u[where] = REASON_CODES[Reason.NAIVE_TIMESTAMP]
        return
    first, second = _localise(naive, tz)
    exists = first != NAT
    first_ns[where] = first
    reason_u[where] = np.where(exists, 0, REASON_CODES[Reason.NONEXISTENT_LOCAL_TIME])
    ambiguous = exists & (second != first)
    second_ns[where[ambiguous]] = second[ambiguous]


@dataclass(frozen=True)
class Values:
    """Numbers per row (NaN where not a number) and the row reason codes (0 ok)."""

    kwh: NDArray[np.float64]
    reason: NDArray[np.int8]


def _parse_text(arr: pa.Array, null: NDArray[np.bool_]
                ) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Numbers of a string array through the Cython kernel, straight from its buffers."""
    _validity, offsets_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[arr.offset:arr.offset + len(arr) + 1]
    data = (np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None
            else np.zeros(0, dtype=np.uint8))
    return _ingest.parse_decimals(data, offsets.astype(np.int64), null.view(np.uint8))


def parse_values(column: pa.ChunkedArray, required: bool) -> Values:
    """Parse a value column; empty cells are ``missing_value`` when ``required`` (else NaN),
    text that is not a finite number is ``non_numeric``, negative numbers are ``negative``.

    Text is a number when it matches ``_NUMBER_RE`` (blanks around it allowed) and is finite:

    >>> v = parse_values(pa.chunked_array([["1.5", " 2 ", "n/a", None, "-1", "1e400"]]), True)
    >>> v.kwh.tolist()[:3], v.reason.tolist()
    ([1.5, 2.0, nan], [0, 0, 16, 15, 17, 16])
    """
    arr = column.combine_chunks()
    n = len(arr)
    null = ~arr.is_valid().to_numpy(zero_copy_only=False)
    bad = np.zeros(n, dtype=bool)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        kwh, bad_u8 = _parse_text(arr, null)
        bad = bad_u8.view(bool)
        numbers = None
    elif pa.types.is_null(arr.type):
        numbers = pa.nulls(n, pa.float64())
    else:
        try:
            numbers = pc.cast(arr, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"value column has type {arr.type}; expected numbers") from exc
    if numbers is not None:
        kwh = numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        kwh = np.where(null | bad, np.nan, kwh)
    nonfinite = ~np.isfinite(kwh) & ~null & ~bad
    bad |= nonfinite
    kwh[nonfinite] = np.nan
    reason = np.zeros(n, dtype=np.int8)
    reason[kwh < 0] = REASON_CODES[Reason.NEGATIVE]
    reason[bad] = REASON_CODES[Reason.NON_NUMERIC]
    if required:
        reason[null] = REASON_CODES[Reason.MISSING_VALUE]
    return Values(kwh=kwh, reason=reason)
