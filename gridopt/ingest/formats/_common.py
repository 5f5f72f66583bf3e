"""Shared pieces of the meter-export readers: channels, the long table they build, errors.

Every reader turns its file into :class:`Channel` objects (one meter, one direction, interval
start instants in UTC and energy in kWh, a per-reading "estimated" flag and the file line of
each reading) and :func:`build_table` merges them into the long raw table of
:func:`gridopt.ingest.readers.read_raw` (``meter_id``, ``timestamp``, ``consumption_kwh``,
``production_kwh``), so validation, the quarantine and regularisation are the same as for CSV.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from gridopt.errors import InputError
from gridopt.ingest.readers import CONSUMPTION, LONG_COLUMNS, METER_ID, PRODUCTION, TIMESTAMP


class Format(enum.StrEnum):
    """Meter-export formats recognised from the content of a file."""

    GREEN_BUTTON = "green_button"
    NEM12 = "nem12"
    NEM13 = "nem13"
    MSCONS = "mscons"


class Direction(enum.StrEnum):
    """Energy direction of a channel: into the premises (consumption) or out (production)."""

    CONSUMPTION = "consumption"
    PRODUCTION = "production"


def format_error(path: str | Path, where: str, rule: str, fix: str) -> InputError:
    """The InputError of a file that breaks its format: file, place, rule and the fix."""
    return InputError(f"{path}: {where}: {rule}; fix: {fix}")


@dataclass
class Channel:
    """One meter's readings in one direction, as read from the file.

    Attributes
    ----------
    meter
        Meter id in the dataset (NMI, UsagePoint id, metering point id).
    direction
        :class:`Direction` of the energy.
    name
        The channel's name in the file (``E1``, ``1-1:1.29.0``, a ReadingType href).
    start_ns
        Interval starts, UTC nanoseconds.
    kwh
        Energy per interval in kWh; NaN where the file's value is not a number (quarantined
        ``non_numeric`` by validation).
    estimated
        The source marked the reading estimated or substituted.
    line
        File line of each reading (or number in ``line_unit``), for messages.
    line_unit
        What ``line`` counts: ``"line"``, or e.g. ``"IntervalReading"`` (the n-th in the file).
    """

    meter: str
    direction: Direction
    name: str
    start_ns: NDArray[np.int64]
    kwh: NDArray[np.float64]
    estimated: NDArray[np.bool_]
    line: NDArray[np.int64]
    line_unit: str = "line"


@dataclass(frozen=True)
class FormatTable:
    """A meter export read into the long raw table, with what the file said about it.

    Attributes
    ----------
    format
        The detected :class:`Format`.
    table
        The long raw table (columns :data:`gridopt.ingest.readers.LONG_COLUMNS`).
    estimated
        Per row of ``table``: the source marked the reading estimated or substituted.
    summary
        What was read and how it was mapped (channels, units, skipped channels, time zone
        notes), JSON-friendly; recorded in the dataset's attributes.
    """

    format: Format
    table: pa.Table
    estimated: NDArray[np.bool_]
    summary: dict[str, Any] = field(default_factory=dict)


def _merge_direction(channels: list[Channel], path: str | Path) -> pd.DataFrame:
    """Sum the channels of one meter and direction per interval (e.g. NEM12 E1 + E2)."""
    frames = []
    for ch in channels:
        frame = pd.DataFrame({"t": ch.start_ns, "kwh": ch.kwh, "est": ch.estimated,
                              "line": ch.line})
        dup = frame["t"].duplicated(keep=False).to_numpy()
        if dup.any():
            first = frame["t"][dup].iloc[0]
            rows = frame[frame["t"] == first].head(2)
            when = pd.Timestamp(int(rows["t"].iloc[0]), tz="UTC").isoformat()
            raise format_error(
                path, f"{ch.line_unit} {int(rows['line'].iloc[1])}",
                f"channel {ch.name} of meter {ch.meter} has two readings for the interval "
                f"starting {when} (also {ch.line_unit} {int(rows['line'].iloc[0])}), and the "
                f"meter has several channels that gridopt adds up per interval",
                "keep one reading per channel and interval (drop the superseded record)")
        frames.append(frame)
    both = pd.concat(frames, ignore_index=True)
    both["bad"] = both["kwh"].isna()
    out = both.groupby("t", sort=True).agg(kwh=("kwh", "sum"), bad=("bad", "any"),
                                           est=("est", "any"))
    # A value that is not a number keeps the interval's sum NaN, so validation quarantines it.
    out.loc[out["bad"], "kwh"] = np.nan
    return out[["kwh", "est"]]


def _side(frame: pd.DataFrame | None, index: pd.Index, absent_value: float,
          ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Energy, estimated flags and "not reported" mask of one direction on the joined index.

    Without any channel of the direction every interval gets ``absent_value`` (0 consumption
    for an export-only meter, no production otherwise); an interval that the direction's
    channels did not report is null (``missing_value`` for consumption).
    """
    n = len(index)
    if frame is None:
        value = np.full(n, absent_value)
        return value, np.zeros(n, dtype=bool), np.isnan(value)
    present = index.isin(frame.index)
    aligned = frame.reindex(index)
    return (aligned["kwh"].to_numpy(dtype=np.float64),
            aligned["est"].fillna(False).to_numpy(dtype=bool), ~present)


def build_table(channels: list[Channel], path: str | Path) -> tuple[pa.Table, NDArray[np.bool_]]:
    """Merge channels into the long raw table and the per-row estimated flags.

    A meter with one consumption channel and no production channel (the usual case) keeps its
    readings exactly as in the file, duplicates included, so validation judges them as it does
    for CSV rows. Otherwise the channels of each direction are summed per interval and the two
    directions joined on the interval start; a meter without any consumption channel (an
    export-only NMI) gets consumption 0, because the dataset needs a consumption value.
    """
    by_meter: dict[str, list[Channel]] = {}
    for ch in channels:
        by_meter.setdefault(ch.meter, []).append(ch)
    meters: list[NDArray[np.int32]] = []
    times: list[NDArray[np.int64]] = []
    cons: list[NDArray[np.float64]] = []
    prod: list[NDArray[np.float64]] = []
    est: list[NDArray[np.bool_]] = []
    nulls_c: list[NDArray[np.bool_]] = []
    nulls_p: list[NDArray[np.bool_]] = []
    names = sorted(by_meter)
    for m, name in enumerate(names):
        group = by_meter[name]
        c_ch = [c for c in group if c.direction is Direction.CONSUMPTION]
        p_ch = [c for c in group if c.direction is Direction.PRODUCTION]
        if len(c_ch) == 1 and not p_ch:
            ch = c_ch[0]
            t, c = ch.start_ns, ch.kwh
            p = np.full(t.size, np.nan)
            c_null = np.zeros(t.size, dtype=bool)
            p_null = np.ones(t.size, dtype=bool)
            e = ch.estimated
        else:
            frame_c = _merge_direction(c_ch, path) if c_ch else None
            frame_p = _merge_direction(p_ch, path) if p_ch else None
            if frame_c is not None and frame_p is not None:
                index = frame_c.index.union(frame_p.index)
            else:
                index = (frame_c if frame_c is not None else frame_p).index  # type: ignore[union-attr]
            t = np.asarray(index, dtype=np.int64)
            c, e_c, c_null = _side(frame_c, index, absent_value=0.0)
            p, e_p, p_null = _side(frame_p, index, absent_value=np.nan)
            e = e_c | e_p
        meters.append(np.full(t.size, m, dtype=np.int32))
        times.append(np.asarray(t, dtype=np.int64))
        cons.append(np.asarray(c, dtype=np.float64))
        prod.append(np.asarray(p, dtype=np.float64))
        est.append(np.asarray(e, dtype=bool))
        nulls_c.append(c_null)
        nulls_p.append(p_null)
    if not meters or sum(a.size for a in meters) == 0:
        raise InputError(f"{path}: the file has no interval readings of active energy")
    meter_codes = np.concatenate(meters)
    t_all = np.concatenate(times)
    c_all = np.concatenate(cons)
    p_all = np.concatenate(prod)
    c_null = np.concatenate(nulls_c)
    p_null = np.concatenate(nulls_p)
    table = pa.table(
        [
            pa.DictionaryArray.from_arrays(pa.array(meter_codes), pa.array(names)),
            pa.array(t_all, type=pa.timestamp("ns", "UTC")),
            pa.array(c_all, mask=c_null),
            pa.array(p_all, mask=p_null),
        ],
        names=list(LONG_COLUMNS),
    )
    assert table.column_names == [METER_ID, TIMESTAMP, CONSUMPTION, PRODUCTION]
    return table, np.concatenate(est)
