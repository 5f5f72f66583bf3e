"""EDIFACT MSCONS (metered services consumption report) -> channels.

Segments are split with the service characters of the ``UNA`` segment (default ``:+.? '``),
honouring the release character, and walked in order with a small state machine so that a
segment out of place is reported with its number and line.

Mapping (see ``docs/formats.md``): ``LOC+172`` metering point -> meter; ``PIA+5`` OBIS code ->
channel, its C group 1 (active import, A+) -> consumption and 2 (active export, A-) ->
production (other quantities are skipped and listed); ``QTY+220`` (true value) is actual,
``QTY+67`` (substitute), ``201`` (proposed), ``20`` (provisional) and ``187`` are flagged
estimated; the QTY unit (``KWH`` default, ``WH``, ``MWH``) -> kWh; ``DTM+163`` (format 303,
CCYYMMDDHHMM with a UTC offset such as ``+01``) -> interval start in UTC.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gridopt.ingest.formats._common import Channel, Direction, format_error

ACTUAL = frozenset({"220"})
ESTIMATED = frozenset({"67", "201", "20", "187"})
_KWH_PER = {"KWH": 1.0, "WH": 1e-3, "MWH": 1e3}
_OBIS_RE = re.compile(r"^(?:\d+-\d+:)?(\d+)\.(\d+)\.(\d+)")
_DTM_RE = re.compile(r"^(\d{12})(?:([+-])(\d{2})(\d{2})?)?$")
_FIX_ORDER = ("MSCONS order: UNA?, UNB, UNH, BGM, DTM, ..., UNS+D, NAD+DP, LOC+172, "
              "[DTM], LIN, PIA, then per value QTY, DTM+163, DTM+164; UNT, UNZ")


@dataclass(frozen=True)
class Service:
    """The service characters of an interchange."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    terminator: str = "'"


@functools.lru_cache(maxsize=16)
def _splitter(sep: str, release: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!{re.escape(release)}){re.escape(sep)}")


@functools.lru_cache(maxsize=16)
def _unescaper(release: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(release)}(.)", re.DOTALL)


def _split_raw(text: str, sep: str, release: str) -> list[str]:
    """Split on ``sep`` not preceded by the release character (escapes kept)."""
    if release not in text:
        return text.split(sep)
    if release + release not in text:
        return _splitter(sep, release).split(text)
    parts: list[str] = []  # an escaped release character before a separator: scan
    start = k = 0
    while k < len(text):
        if text[k] == release:
            k += 2
            continue
        if text[k] == sep:
            parts.append(text[start:k])
            start = k + 1
        k += 1
    parts.append(text[start:])
    return parts


def _split(text: str, sep: str, release: str) -> list[str]:
    """Split on ``sep`` not preceded by the release character, and unescape."""
    parts = _split_raw(text, sep, release)
    if release not in text:
        return parts
    if release + release not in text:
        return [part.replace(release, "") for part in parts]
    unescape = _unescaper(release)
    return [unescape.sub(r"\1", part) for part in parts]


def segments(text: str) -> tuple[Service, list[tuple[int, int, list[list[str]]]]]:
    """Service characters and the segments as (number, offset in ``text``, elements of
    components).

    Segments are numbered from 1 at UNB (the UNA service string advice is not a segment);
    :func:`place` turns an offset into ``line L, character C`` for messages.
    """
    service = Service()
    skip = 0
    if text.startswith("UNA"):
        if len(text) < 9:
            raise ValueError("UNA segment shorter than 9 characters")
        c = text[3:9]
        service = Service(component=c[0], element=c[1], decimal=c[2], release=c[3],
                          terminator=c[5])
        skip = 9
    rel, term = service.release, service.terminator
    body = text[skip:]
    raws = _split_raw(body, term, rel)
    if raws and raws[-1].strip():
        raise ValueError(f"text after the last segment terminator {term!r}: "
                         f"{raws[-1].strip()[:30]!r}")
    out: list[tuple[int, int, list[list[str]]]] = []
    offset = skip
    number = 0
    elem, comp = service.element, service.component
    for raw in raws[:-1]:
        start = offset
        offset += len(raw) + 1
        stripped = raw.strip("\r\n")
        if not stripped:
            continue
        number += 1
        start += raw.index(stripped[0])
        out.append((number, start, [_split(e, comp, rel) for e in _split_raw(stripped, elem,
                                                                             rel)]))
    return service, out


def place(text: str, offset: int) -> str:
    """``line L, character C`` (1-based) of an offset in the text."""
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, character {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


class _DtmError(ValueError):
    def __init__(self, rule: str, fix: str) -> None:
        super().__init__(rule)
        self.rule, self.fix = rule, fix


def _dtm(comp: list[str]) -> int:
    """UTC nanoseconds of a DTM C507 composite (format 303 with offset, or 203 as UTC)."""
    value = comp[1] if len(comp) > 1 else ""
    fmt = comp[2] if len(comp) > 2 else ""
    match = _DTM_RE.match(value.strip())
    if match is None or fmt not in ("303", "203"):
        raise _DtmError(f"DTM {':'.join(comp)!r} is not CCYYMMDDHHMM with a UTC offset "
                        "(format 303)", "write e.g. DTM+163:201512010000?+01:303")
    sign, hh, mm = match.group(2), match.group(3), match.group(4)
    if fmt == "303" and sign is None:
        raise _DtmError(f"DTM {':'.join(comp)!r} has format 303 but no UTC offset",
                        "append the offset, e.g. ?+01")
    offset_s = 0
    if sign is not None:
        offset_s = (int(hh) * 3600 + int(mm or 0) * 60) * (1 if sign == "+" else -1)
    v = match.group(1)
    try:
        local = datetime(int(v[:4]), int(v[4:6]), int(v[6:8]), int(v[8:10]), int(v[10:12]))
    except ValueError as exc:
        raise _DtmError(f"DTM {':'.join(comp)!r} is not a valid date and time",
                        "write CCYYMMDDHHMM") from exc
    return (calendar.timegm(local.timetuple()) - offset_s) * 1_000_000_000


@dataclass
class _Series:
    meter: str
    obis: str
    direction: Direction | None
    start_ns: list[int] = field(default_factory=list)
    kwh: list[float] = field(default_factory=list)
    estimated: list[bool] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _direction(obis: str) -> Direction | None:
    match = _OBIS_RE.match(obis)
    if match is None:
        return None
    return {"1": Direction.CONSUMPTION, "2": Direction.PRODUCTION}.get(match.group(1))


def read_mscons(path: Path) -> tuple[list[Channel], dict[str, Any]]:
    """Channels of an MSCONS interchange and a summary of the mapping.

    Raises
    ------
    InputError
        Broken service structure (no UNB/UNH, not an MSCONS message, UNT count that does not
        match, no UNZ), a segment out of order (e.g. QTY before LOC/LIN/PIA, DTM+163 without a
        QTY), an unknown QTY qualifier or unit, a value that is not a number.
    """
    text = path.read_text(encoding="latin-1")
    try:
        service, segs = segments(text)
    except ValueError as exc:
        raise format_error(path, "segments", str(exc), "deliver the whole interchange") from exc
    series: list[_Series] = []
    current: _Series | None = None
    meter: str | None = None
    state = "start"
    pending: tuple[float, bool, int] | None = None  # value, estimated, line of the last QTY
    message_start = 0
    n_messages = 0
    skipped: set[str] = set()
    for number, offset, el in segs:
        tag = el[0][0]

        def bad(rule: str, fix: str = _FIX_ORDER, number: int = number, offset: int = offset,
                tag: str = tag) -> Exception:
            return format_error(path, f"segment {number} ({tag}, {place(text, offset)})", rule,
                                fix)

        if state == "start" and tag != "UNB":
            raise bad(f"the interchange starts with {tag}, not UNB")
        if state == "end":
            raise bad(f"{tag} after the UNZ interchange trailer", "one interchange per file")
        if tag == "UNB":
            state = "interchange"
        elif tag == "UNH":
            if state not in ("interchange",):
                raise bad("UNH inside an open message (no UNT before it)")
            kind = el[2][0] if len(el) > 2 else ""
            if kind != "MSCONS":
                raise bad(f"message type {kind!r} is not MSCONS", "give an MSCONS message")
            state, message_start, n_messages = "header", number, n_messages + 1
            meter, current, pending = None, None, None
        elif tag == "UNT":
            if state == "interchange":
                raise bad("UNT without an open message (no UNH)")
            if pending is not None:
                raise bad("the last QTY has no DTM+163 interval start",
                          "give each QTY its DTM+163 and DTM+164")
            declared = el[1][0] if len(el) > 1 else ""
            counted = number - message_start + 1
            if declared != str(counted):
                raise bad(f"UNT says {declared} segments but the message has {counted}",
                          "the message is truncated or edited: deliver it whole")
            state = "interchange"
        elif tag == "UNZ":
            if state != "interchange":
                raise bad("UNZ inside an open message (no UNT)")
            state = "end"
        elif state == "interchange":
            raise bad(f"{tag} outside a message (between UNB/UNT and UNH)")
        elif tag == "LOC":
            if el[1][0] == "172":
                meter = el[2][0] if len(el) > 2 else ""
                current, pending = None, None
                state = "location"
        elif tag == "LIN":
            if meter is None:
                raise bad("LIN before the LOC+172 metering point")
            state = "line"
        elif tag == "PIA":
            if state != "line":
                raise bad("PIA not after a LIN")
            obis = el[2][0] if len(el) > 2 else ""
            direction = _direction(obis)
            if direction is None:
                skipped.add(f"{meter} {obis}")
            current = _Series(meter=meter or "", obis=obis, direction=direction)
            series.append(current)
            state = "product"
        elif tag == "QTY":
            if current is None or state not in ("product", "value"):
                raise bad("QTY before the LOC+172, LIN and PIA it belongs to")
            if pending is not None:
                raise bad("QTY without the DTM+163 interval start of the previous QTY",
                          "give each QTY its DTM+163 and DTM+164")
            comp = el[1]
            qualifier, value = comp[0], comp[1] if len(comp) > 1 else ""
            unit = (comp[2] if len(comp) > 2 else "KWH").upper() or "KWH"
            if qualifier not in ACTUAL | ESTIMATED:
                raise bad(f"QTY qualifier {qualifier!r} is not 220 (true value), 67 "
                          "(substitute), 201, 20 or 187", "use the EDI@Energy qualifiers")
            if unit not in _KWH_PER:
                raise bad(f"QTY unit {unit!r} is not KWH, WH or MWH (energy)",
                          "report energy per interval (KWH)")
            try:
                number_value = float(value.replace(service.decimal, "."))
            except ValueError:
                number_value = float("nan")
            pending = (number_value * _KWH_PER[unit], qualifier in ESTIMATED, number)
            state = "value"
        elif tag == "DTM" and state in ("value", "product") and el[1][0] in ("163", "164"):
            if el[1][0] == "164":
                if state == "value" and pending is not None:
                    raise bad("DTM+164 (interval end) before the DTM+163 of the QTY")
                continue
            if pending is None:
                raise bad("DTM+163 without a QTY before it")
            assert current is not None
            try:
                current.start_ns.append(_dtm(el[1]))
            except _DtmError as exc:
                raise bad(exc.rule, exc.fix) from exc
            current.kwh.append(pending[0])
            current.estimated.append(pending[1])
            current.lines.append(pending[2])
            pending = None
        elif tag == "DTM":
            if state in ("header", "location"):
                try:
                    _dtm(el[1]) if el[1][0] in ("163", "164") else None
                except _DtmError as exc:
                    raise bad(exc.rule, exc.fix) from exc
        elif tag in ("BGM", "NAD", "UNS"):
            if state == "value":
                raise bad(f"{tag} between the values of a PIA (after QTY)")
    if state != "end":
        raise format_error(path, f"segment {len(segs)}", "no UNZ interchange trailer (the "
                           "interchange is truncated)", "deliver the whole interchange")
    if n_messages == 0:
        raise format_error(path, "segments", "no UNH message", "give an MSCONS message")
    channels = [Channel(meter=s.meter, direction=s.direction, name=s.obis,
                        start_ns=np.asarray(s.start_ns, np.int64),
                        kwh=np.asarray(s.kwh, np.float64),
                        estimated=np.asarray(s.estimated, bool),
                        line=np.asarray(s.lines, np.int64), line_unit="segment")
                for s in series if s.direction is not None and s.start_ns]
    described = [{"meter": c.meter, "obis": c.name, "direction": c.direction.value,
                  "readings": int(c.start_ns.size)} for c in channels]
    return channels, {"messages": n_messages, "channels": described,
                      "skipped": sorted(skipped), "decimal_mark": service.decimal}
