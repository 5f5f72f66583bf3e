"""AEMO MDFF NEM12 (interval) and NEM13 (accumulation) files -> channels.

Read line by line with :mod:`csv` (also from inside a zip holding one file, as NEM12 files are
often delivered); every rule that a record breaks is reported with its line.

Mapping (see ``docs/formats.md``): NMI -> meter; the NMISuffix letter says the direction
(``E`` import -> consumption, ``B`` export -> production; ``Q``/``K`` reactive energy are
skipped and listed in the summary); several channels of a direction (E1 + E2, e.g. general
supply and controlled load) are summed per interval. UOM ``Wh``/``kWh``/``MWh`` (any case) ->
kWh. Interval j (1-based) of IntervalDate D starts at D 00:00 + (j - 1) x IntervalLength in NEM
time, UTC+10 all year (no daylight saving). QualityMethod ``A`` is actual; ``E``/``F``/``S``
(estimated, final substitute, substitute) are flagged estimated; ``N`` (null) intervals are
not readings (they stay missing); ``V`` (variable) takes the quality of each interval from the
400 records that follow the 300 record.

NEM13 250 records are accumulation (register) reads weeks or months apart; each becomes one
reading of its ``Quantity`` over [previous read, current read), flagged estimated unless both
reads are actual; its DirectionIndicator is seen from the network (``E`` export from grid ->
consumption, ``I`` import to grid -> production). They are read (``read_format(...,
for_dataset=False)``) but refused for the regular dataset.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gridopt.ingest.formats._common import Channel, Direction, format_error

#: NEM time: UTC+10 all year.
NEM_OFFSET_NS = 10 * 3600 * 1_000_000_000
_KWH_PER = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3}
_REACTIVE = {"varh", "kvarh", "mvarh"}
_INTERVALS = (5, 15, 30)
_QUALITY_RE = re.compile(r"^[AEFNSV]\d{0,2}$")
_NEM = timezone(timedelta(hours=10))
_FIX_300 = ("a 300 record is 300,IntervalDate,<1440/IntervalLength values>,QualityMethod,"
            "ReasonCode,ReasonDescription,UpdateDateTime,MSATSLoadDateTime")


@dataclass
class _Stream:
    """The 200 record being read and its channel's readings."""

    nmi: str
    suffix: str
    direction: Direction | None
    factor: float
    interval_min: int
    line: int
    start_ns: list[int] = field(default_factory=list)
    kwh: list[float] = field(default_factory=list)
    estimated: list[bool] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    null: set[int] = field(default_factory=set)


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[io.TextIOBase]:
    """The file as text; a zip (as NEM12 files are often delivered) must hold one file."""
    if not zipfile.is_zipfile(path):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            yield fh
        return
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise format_error(path, "zip", f"the archive holds {len(members)} files",
                               "a zipped NEM12/NEM13 delivery holds exactly one CSV")
        with archive.open(members[0]) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _date_ns(text: str, path: Path, line: int) -> int:
    try:
        day = datetime.strptime(text.strip(), "%Y%m%d").replace(tzinfo=_NEM)
    except ValueError as exc:
        raise format_error(path, f"line {line}", f"IntervalDate {text!r} is not YYYYMMDD",
                           _FIX_300) from exc
    return int(day.timestamp()) * 1_000_000_000


def _stream_200(row: list[str], path: Path, line: int) -> _Stream:
    if len(row) < 9:
        raise format_error(path, f"line {line}", f"200 record has {len(row)} fields, needs 10",
                           "200,NMI,NMIConfiguration,RegisterID,NMISuffix,"
                           "MDMDataStreamIdentifier,MeterSerialNumber,UOM,IntervalLength,"
                           "NextScheduledReadDate")
    nmi, suffix, uom = row[1].strip(), row[4].strip().upper(), row[7].strip().lower()
    letter = suffix[:1]
    direction = {"E": Direction.CONSUMPTION, "B": Direction.PRODUCTION}.get(letter)
    if uom in _REACTIVE:
        direction = None
    elif uom not in _KWH_PER:
        raise format_error(path, f"line {line}", f"UOM {row[7].strip()!r} of NMI {nmi} "
                           f"suffix {suffix} is not an energy unit NEM12 allows (Wh, kWh, MWh "
                           "for E/B channels)", "write the unit of the channel's values, "
                           "e.g. kWh")
    elif letter in ("Q", "K"):
        direction = None
    elif direction is None:
        raise format_error(path, f"line {line}", f"NMISuffix {suffix!r} of NMI {nmi} does not "
                           "start with E (import) or B (export) but is in "
                           f"{row[7].strip()}", "use the suffix of the data stream (E1, B1, ...)")
    try:
        interval = int(row[8])
    except ValueError:
        interval = -1
    if interval not in _INTERVALS:
        raise format_error(path, f"line {line}", f"IntervalLength {row[8].strip()!r} is not "
                           "5, 15 or 30 minutes", "write the interval length in minutes")
    return _Stream(nmi=nmi, suffix=suffix, direction=direction,
                   factor=_KWH_PER.get(uom, 0.0), interval_min=interval, line=line)


def _record_300(row: list[str], stream: _Stream, path: Path, line: int) -> int:
    """Append one day of readings; returns the index of its first reading (for 400 records)."""
    n = 1440 // stream.interval_min
    quality_at = 2 + n
    if len(row) < quality_at + 1 or len(row) > quality_at + 5 or not _QUALITY_RE.match(
            row[quality_at].strip()):
        found = next((k - 2 for k in range(2, len(row)) if _QUALITY_RE.match(row[k].strip())),
                     len(row) - 2)
        raise format_error(path, f"line {line}", f"300 record of NMI {stream.nmi} suffix "
                           f"{stream.suffix} has {found} interval values where IntervalLength "
                           f"{stream.interval_min} min needs {n}", _FIX_300)
    day_ns = _date_ns(row[1], path, line)
    step_ns = stream.interval_min * 60 * 1_000_000_000
    quality = row[quality_at].strip()[:1]
    first = len(stream.start_ns)
    for j in range(n):
        if quality == "N":
            continue
        stream.start_ns.append(day_ns + j * step_ns)
        stream.kwh.append(_number(row[2 + j]) * stream.factor)
        stream.estimated.append(quality in ("E", "F", "S"))
        stream.lines.append(line)
    return first if quality == "V" else -1


def _record_400(row: list[str], stream: _Stream, first: int, path: Path, line: int) -> None:
    n = 1440 // stream.interval_min
    try:
        lo, hi = int(row[1]), int(row[2])
        quality = row[3].strip()
    except (ValueError, IndexError) as exc:
        raise format_error(path, f"line {line}", "400 record needs StartInterval,EndInterval,"
                           "QualityMethod", "400,StartInterval,EndInterval,QualityMethod,"
                           "ReasonCode,ReasonDescription") from exc
    if not (1 <= lo <= hi <= n) or not _QUALITY_RE.match(quality) or quality[0] == "V":
        raise format_error(path, f"line {line}", f"400 record {lo}-{hi} {quality!r} is not a "
                           f"range within 1..{n} with a QualityMethod other than V",
                           "give 1-based interval numbers of the day and A/E/F/S/N quality")
    for k in range(first + lo - 1, first + hi):
        stream.estimated[k] = quality[0] in ("E", "F", "S")
        if quality[0] == "N":
            stream.null.add(k)


def _nem13_250(row: list[str], path: Path, line: int) -> Channel | None:
    if len(row) < 20:
        raise format_error(path, f"line {line}", f"250 record has {len(row)} fields, needs at "
                           "least 20", "250,NMI,NMIConfiguration,RegisterID,NMISuffix,"
                           "MDMDataStreamIdentifier,MeterSerialNumber,DirectionIndicator,"
                           "PreviousRegisterRead,PreviousRegisterReadDateTime,...,Quantity,UOM")
    nmi, suffix, uom = row[1].strip(), row[4].strip(), row[19].strip().lower()
    if uom in _REACTIVE:
        return None
    if uom not in _KWH_PER:
        raise format_error(path, f"line {line}", f"UOM {row[19].strip()!r} is not Wh, kWh "
                           "or MWh", "write the unit of the Quantity, e.g. kWh")
    # DirectionIndicator is seen from the network: I = import to grid (the customer's export,
    # production), E = export from grid (delivered to the customer, consumption).
    indicator = row[7].strip().upper()
    if indicator not in ("I", "E"):
        raise format_error(path, f"line {line}", f"DirectionIndicator {row[7]!r} is not I "
                           "(import to grid) or E (export from grid)", "write I or E")
    try:
        start = datetime.strptime(row[9].strip(), "%Y%m%d%H%M%S").replace(tzinfo=_NEM)
    except ValueError as exc:
        raise format_error(path, f"line {line}", f"PreviousRegisterReadDateTime {row[9]!r} "
                           "is not YYYYMMDDhhmmss", "write the read time in NEM time") from exc
    actual = row[10].strip()[:1] == "A" and row[15].strip()[:1] == "A"
    return Channel(
        meter=nmi, direction=Direction.CONSUMPTION if indicator == "E" else Direction.PRODUCTION,
        name=suffix, start_ns=np.array([int(start.timestamp()) * 1_000_000_000], np.int64),
        kwh=np.array([_number(row[18]) * _KWH_PER[uom]]), estimated=np.array([not actual]),
        line=np.array([line], np.int64))


def _to_channel(stream: _Stream) -> Channel:
    """The readings of a 200 record; null (``N``) intervals of 400 records are left out."""
    assert stream.direction is not None
    keep = np.ones(len(stream.kwh), dtype=bool)
    keep[list(stream.null)] = False
    return Channel(meter=stream.nmi, direction=stream.direction, name=stream.suffix,
                   start_ns=np.asarray(stream.start_ns, np.int64)[keep],
                   kwh=np.asarray(stream.kwh, np.float64)[keep],
                   estimated=np.asarray(stream.estimated, bool)[keep],
                   line=np.asarray(stream.lines, np.int64)[keep])


def read_nem(path: Path) -> tuple[list[Channel], dict[str, Any]]:
    """Channels of a NEM12 or NEM13 file and a summary of the mapping.

    Raises
    ------
    InputError
        A record that breaks the MDFF rules: a 300 record with the wrong number of values, a
        unit that is not Wh/kWh/MWh, an interval that is not 5/15/30 minutes, a 300 before any
        200, a 400 not after a 300 of quality V, no 900 end record.
    """
    channels: list[Channel] = []
    skipped: list[str] = []
    described: list[dict[str, Any]] = []
    stream: _Stream | None = None
    v_first = -1
    previous = ""
    ended = False
    version = ""
    line = 0

    def close() -> None:
        if stream is None:
            return
        if stream.direction is None:
            skipped.append(f"{stream.nmi} {stream.suffix} (reactive energy)")
            return
        channels.append(_to_channel(stream))
        described.append({"meter": stream.nmi, "channel": stream.suffix,
                          "direction": stream.direction.value, "kwh_per_unit": stream.factor,
                          "interval_min": stream.interval_min, "readings": len(stream.kwh)})

    with open_text(path) as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            kind = row[0].strip()
            if ended:
                raise format_error(path, f"line {line}", "records after the 900 end record",
                                   "one NEM12/NEM13 file ends with a single 900 record")
            if kind == "100":
                version = row[1].strip().upper() if len(row) > 1 else ""
            elif kind == "200":
                close()
                stream = _stream_200(row, path, line)
            elif kind == "300":
                if stream is None:
                    raise format_error(path, f"line {line}", "300 record before any 200 record",
                                       "put the 200 record of the data stream first")
                v_first = _record_300(row, stream, path, line)
            elif kind == "400":
                if stream is None or previous not in ("300", "400") or v_first < 0:
                    raise format_error(path, f"line {line}", "400 record not after a 300 "
                                       "record of QualityMethod V",
                                       "give the 300 record quality V, or drop the 400 records")
                _record_400(row, stream, v_first, path, line)
            elif kind == "250":
                got = _nem13_250(row, path, line)
                if got is None:
                    skipped.append(f"{row[1].strip()} {row[4].strip()} (reactive energy)")
                else:
                    channels.append(got)
                    described.append({"meter": got.meter, "channel": got.name,
                                      "direction": got.direction.value, "readings": 1})
            elif kind == "900":
                ended = True
            elif kind not in ("500", "550"):
                raise format_error(path, f"line {line}", f"unknown record indicator {kind!r}",
                                   "NEM12/NEM13 records start with 100, 200, 250, 300, 400, "
                                   "500, 550 or 900")
            previous = kind
    close()
    if not ended:
        raise format_error(path, f"line {line}",
                           "no 900 end record (the file is truncated)",
                           "deliver the whole file; it ends with the line 900")
    return channels, {"version": version, "channels": described, "skipped": skipped,
                      "time": "NEM time, UTC+10 without daylight saving"}
