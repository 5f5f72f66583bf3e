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

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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


def _split(text: str, sep: str, release: str) -> list[str]:
    """Split on ``sep`` not preceded by the release character, and unescape."""
    if release not in text:
        return text.split(sep)
    parts: list[str] = []
    current: list[str] = []
    k = 0
    while k < len(text):
        ch = text[k]
        if ch == release and k + 1 < len(text):
            current.append(text[k + 1])
            k += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        k += 1
    parts.append("".join(current))
    return parts


def segments(text: str) -> tuple[Service, list[tuple[int, str, list[list[str]]]]]:
    """Service characters and the segments as (number, place, elements of components).

    Segments are numbered from 1 at UNB (the UNA service string advice is not a segment);
    the place is ``line L, character C`` (most interchanges are one line).
    """
    service = Service()
    body = text
    if text.startswith("UNA"):
        if len(text) < 9:
            raise ValueError("UNA segment shorter than 9 characters")
        c = text[3:9]
        service = Service(component=c[0], element=c[1], decimal=c[2], release=c[3],
                          terminator=c[5])
        body = text[9:]
    rel, term = re.escape(service.release), re.escape(service.terminator)
    pattern = re.compile(rf"(?:[^{rel}{term}]|{rel}.)*{term}", re.DOTALL)
    out: list[tuple[int, str, list[list[str]]]] = []
    skip = len(text) - len(body)
    line = 1
    line_start = 0
    pos = 0
    number = 0
    for match in pattern.finditer(body):
        raw = match.group(0)[:-1]
        lead = len(raw) - len(raw.lstrip("\r\n"))
        start = match.start() + lead
        newlines = body.count("\n", pos, start)
        if newlines:
            line += newlines
            line_start = body.rfind("\n", pos, start) + 1
        pos = start
        raw = raw.strip("\r\n")
        if not raw:
            continue
        number += 1
        place = f"line {line}, character {start - line_start + 1 + (skip if line == 1 else 0)}"
        elements = _split_keep(raw, service.element, service.release)
        out.append((number, place, [_split(e, service.component, service.release)
                                   for e in elements]))
    rest = body[pos:].strip() if not out else body[body.rfind(service.terminator) + 1:].strip()
    if rest:
        raise ValueError(f"text after the last segment terminator {service.terminator!r}: "
                         f"{rest[:30]!r}")
    return service, out


def _split_keep(text: str, sep: str, release: str) -> list[str]:
    """Split elements but keep release characters (components are split and unescaped next)."""
    if release not in text:
        return text.split(sep)
    parts: list[str] = []
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


def _dtm(comp: list[str], path: Path, where: str) -> int:
    """UTC nanoseconds of a DTM C507 composite (format 303 with offset, or 203 as UTC)."""
    value = comp[1] if len(comp) > 1 else ""
    fmt = comp[2] if len(comp) > 2 else ""
    match = _DTM_RE.match(value.strip())
    if match is None or fmt not in ("303", "203"):
        raise format_error(path, where, f"DTM {':'.join(comp)!r} is not CCYYMMDDHHMM with a "
                           "UTC offset (format 303)", "write e.g. DTM+163:201512010000?+01:303")
    sign, hh, mm = match.group(2), match.group(3), match.group(4)
    if fmt == "303" and sign is None:
        raise format_error(path, where, f"DTM {':'.join(comp)!r} has format 303 but no UTC "
                           "offset", "append the offset, e.g. ?+01")
    offset = timedelta(0)
    if sign is not None:
        offset = timedelta(hours=int(hh), minutes=int(mm or 0)) * (1 if sign == "+" else -1)
    local = datetime.strptime(match.group(1), "%Y%m%d%H%M").replace(tzinfo=timezone(offset))
    return int(local.timestamp()) * 1_000_000_000


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
    for number, place, el in segs:
        tag = el[0][0]
        where = f"segment {number} ({tag}, {place})"

        def bad(rule: str, fix: str = _FIX_ORDER, where: str = where) -> Exception:
            return format_error(path, where, rule, fix)

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
            current.start_ns.append(_dtm(el[1], path, where))
            current.kwh.append(pending[0])
            current.estimated.append(pending[1])
            current.lines.append(pending[2])
            pending = None
        elif tag == "DTM":
            if state in ("header", "location"):
                _dtm(el[1], path, where) if el[1][0] in ("163", "164") else None
        elif tag in ("BGM", "RFF", "NAD", "UNS", "CTA", "COM", "CCI", "MEA", "STS", "CUX"):
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
