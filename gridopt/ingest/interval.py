"""The interval of each meter, inferred from its own sorted timestamps, and the dataset's interval.

A file's row order carries no information here: each meter's distinct instants are sorted and
the steps between them counted (:func:`gridopt._ext._ingest.meter_intervals`), so a shuffled,
time-major, meter-major or interleaved file gives the same intervals. When the meters of one
file have different intervals, gridopt does not pick one: without ``freq`` it refuses, naming
the meters and their intervals; with ``freq`` every meter is brought to that interval
(:class:`Conversion`), energy conserved and the converted cells flagged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridopt._ext import _ingest
from gridopt.errors import InputError

#: A meter's interval is known when at least this many of its steps equal it ...
MIN_SUPPORT = 2
#: ... and strong enough to set the file's interval, or to convert the meter to another one,
#: when at least this many do. A few readings that happen to be an hour apart in a file of
#: half-hourly meters are a half-hourly meter with gaps, not an hourly meter.
STRONG_SUPPORT = 8
#: Meters named in a message, per interval.
_NAMED = 5


class Conversion(enum.IntEnum):
    """How a meter's readings reach the dataset's interval ``F``.

    ``DIRECT``: the meter's interval is ``F``. ``AGGREGATE``: finer (``F`` a whole multiple of
    it); complete groups of readings are summed. ``SPLIT``: coarser (a whole multiple of ``F``);
    each reading is shared evenly among the ``F`` intervals it covers. ``INCOMPATIBLE``:
    neither; its rows are quarantined as ``incompatible_interval``.
    """

    DIRECT = 0
    AGGREGATE = 1
    SPLIT = 2
    INCOMPATIBLE = 3


@dataclass(frozen=True)
class MeterIntervals:
    """Per-meter interval statistics (see :func:`meter_intervals`)."""

    instants: NDArray[np.int64]
    interval_ns: NDArray[np.int64]
    support: NDArray[np.int64]
    steps: NDArray[np.int64]

    @property
    def determined(self) -> NDArray[np.bool_]:
        """Meters whose own readings fix their interval (at least ``MIN_SUPPORT`` steps)."""
        return self.support >= MIN_SUPPORT

    @property
    def strong(self) -> NDArray[np.bool_]:
        """Meters whose interval is supported by at least ``STRONG_SUPPORT`` steps."""
        return self.support >= STRONG_SUPPORT


@dataclass(frozen=True)
class IntervalPlan:
    """The dataset's interval and how each meter reaches it.

    Attributes
    ----------
    step_ns
        Interval of the dataset (ns).
    native_ns
        Each meter's own interval (ns); meters with too little evidence (fewer than
        ``STRONG_SUPPORT`` steps at their interval) get ``step_ns``.
    conversion
        Each meter's :class:`Conversion` (int8 codes).
    """

    step_ns: int
    native_ns: NDArray[np.int64]
    conversion: NDArray[np.int8]

    def meters_with(self, kind: Conversion) -> NDArray[np.int64]:
        """Indices of the meters converted by ``kind``."""
        return np.flatnonzero(self.conversion == kind)

    @property
    def uniform(self) -> bool:
        """Whether every meter is on the dataset's interval already."""
        return bool(np.all(self.conversion == Conversion.DIRECT))


def parse_freq(freq: str) -> pd.Timedelta:
    """Fixed interval length of a pandas offset string.

    >>> parse_freq("15min")
    Timedelta('0 days 00:15:00')
    """
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


def freq_string(step: pd.Timedelta | int) -> str:
    """Canonical pandas offset string of an interval length (``"30min"``, ``"h"``).

    >>> freq_string(pd.Timedelta(minutes=30))
    '30min'
    >>> freq_string(3_600_000_000_000)
    'h'
    """
    if not isinstance(step, pd.Timedelta):
        step = pd.Timedelta(int(step), unit="ns")
    return str(pd.tseries.frequencies.to_offset(step).freqstr)


def meter_intervals(meter: NDArray[np.int32], instant_ns: NDArray[np.int64],
                    n_meter: int) -> MeterIntervals:
    """Interval statistics of every meter from its own sorted distinct instants.

    Parameters
    ----------
    meter
        Meter index of each row, ``-1`` for rows that do not count (no time, no meter).
    instant_ns
        UTC instant of each row (ns); ignored where ``meter`` is ``-1``.
    n_meter
        Number of meters.
    """
    used = meter >= 0
    sorted_ns, inverse = np.unique(instant_ns[used], return_inverse=True)
    rank = np.full(meter.size, -1, dtype=np.int32)
    rank[used] = inverse
    return meter_intervals_ranked(np.where(used, meter, -1).astype(np.int32), rank, sorted_ns,
                                  n_meter)


def meter_intervals_ranked(meter: NDArray[np.int32], rank: NDArray[np.int32],
                           sorted_ns: NDArray[np.int64], n_meter: int) -> MeterIntervals:
    """:func:`meter_intervals` for rows given as ranks into the distinct sorted instants."""
    instants, interval, support, steps, _mode = _ingest.meter_intervals(
        np.ascontiguousarray(meter, dtype=np.int32), np.ascontiguousarray(rank, dtype=np.int32),
        np.ascontiguousarray(sorted_ns, dtype=np.int64), n_meter)
    return MeterIntervals(instants=instants, interval_ns=interval, support=support, steps=steps)


def _listing(names: NDArray[np.str_], meters: NDArray[np.int64]) -> str:
    shown = ", ".join(str(names[m]) for m in meters[:_NAMED])
    more = f" and {meters.size - _NAMED} more" if meters.size > _NAMED else ""
    return f"{meters.size} meter{'s' if meters.size != 1 else ''}: {shown}{more}"


def _consensus(stats: MeterIntervals, names: NDArray[np.str_], source: str) -> int:
    """The one interval of the meters with the strongest evidence; refuse when they disagree.

    Meters with at least ``STRONG_SUPPORT`` steps at their interval decide; without any, the
    meters with at least ``MIN_SUPPORT``; without any, the single steps of two-reading meters.
    """
    determined = np.flatnonzero(stats.strong)
    if determined.size == 0:
        determined = np.flatnonzero(stats.determined)
    if determined.size == 0:
        # Every meter has at most two distinct instants: their single steps must agree.
        single = np.flatnonzero(stats.steps >= 1)
        values = np.unique(stats.interval_ns[single])
        if values.size == 1:
            return int(values[0])
        detail = ("every meter has a single timestamp" if values.size == 0 else
                  "the meters' two readings are " + ", ".join(
                      freq_string(int(v)) for v in values[:_NAMED]) + " apart")
        raise InputError(
            f"{source}: cannot infer the interval ({detail}); pass --freq (e.g. --freq 30min)"
        )
    values = np.unique(stats.interval_ns[determined])
    if values.size == 1:
        return int(values[0])
    parts = []
    for value in values:
        meters = determined[stats.interval_ns[determined] == value]
        parts.append(f"{freq_string(int(value))} ({_listing(names, meters)})")
    largest = int(values[np.argmax([np.sum(stats.interval_ns[determined] == v)
                                    for v in values])])
    raise InputError(
        f"{source}: the meters have different intervals: {'; '.join(parts)}. gridopt does not "
        f"guess one: pass --freq {freq_string(largest)} (or another) to bring every meter to "
        f"one interval (finer readings are summed, coarser ones split evenly, both flagged in "
        f"'quality'), or split the file by interval"
    )


def plan_intervals(stats: MeterIntervals, names: NDArray[np.str_], freq_ns: int | None,
                   source: str, cumulative: bool = False) -> IntervalPlan:
    """Choose the dataset's interval and each meter's conversion to it.

    Parameters
    ----------
    stats
        Per-meter statistics from :func:`meter_intervals`.
    names
        Meter ids (for messages).
    freq_ns
        Requested interval (ns), or ``None`` to infer it: the meters' common interval.
    source
        Input name for messages.
    cumulative
        Register readings: conversions between intervals are refused.

    Raises
    ------
    InputError
        No interval can be inferred, the meters disagree and no ``freq`` is given, or
        cumulative meters would need a conversion.
    """
    step = _consensus(stats, names, source) if freq_ns is None else int(freq_ns)
    # Only strong evidence makes a meter's interval differ from the dataset's; the others
    # follow it (their readings off its grid are quarantined).
    native = np.where(stats.strong, stats.interval_ns, step).astype(np.int64)
    conversion = np.full(native.size, Conversion.DIRECT, dtype=np.int8)
    finer = (native < step) & (step % np.maximum(native, 1) == 0)
    coarser = (native > step) & (native % step == 0)
    conversion[finer] = Conversion.AGGREGATE
    conversion[coarser] = Conversion.SPLIT
    conversion[(native != step) & ~finer & ~coarser] = Conversion.INCOMPATIBLE
    if cumulative and np.any(conversion != Conversion.DIRECT):
        other = np.flatnonzero(conversion != Conversion.DIRECT)
        raise InputError(
            f"{source}: cumulative register readings at another interval than "
            f"{freq_string(step)} ({_listing(names, other)}, e.g. "
            f"{freq_string(int(native[other[0]]))}); converting registers between intervals "
            f"is not supported: split the file by interval or pass the meters' own --freq"
        )
    return IntervalPlan(step_ns=step, native_ns=native, conversion=conversion)


def interval_counts(plan: IntervalPlan, meters_present: NDArray[np.bool_]) -> dict[str, int]:
    """How many meters (with readings) have each own interval, e.g. ``{"30min": 17}``."""
    values, counts = np.unique(plan.native_ns[meters_present], return_counts=True)
    return {freq_string(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def weighted_phase(instant_ns: NDArray[np.int64], weight: NDArray[np.int64], step_ns: int) -> int:
    """Most common remainder of the instants modulo the step, weighted (ties: the smallest).

    >>> weighted_phase(np.array([0, 30, 45, 75]), np.array([1, 1, 1, 1]), 30)
    0
    """
    keep = weight > 0
    if not keep.any():
        return 0
    residue = np.mod(instant_ns[keep], step_ns)
    values, inverse = np.unique(residue, return_inverse=True)
    return int(values[np.argmax(np.bincount(inverse, weights=weight[keep]))])
