"""Green Button (NAESB REQ.21 ESPI Atom XML) -> channels.

The file is streamed with :func:`xml.etree.ElementTree.iterparse`: each ``IntervalReading`` is
reduced to three numbers and cleared, so a large export never has its whole tree in memory.
Messages name the line; it is looked up only when there is something to report. Elements are
matched by local name, so files with a default namespace and with ``espi:`` prefixes read the
same.

Mapping (see ``docs/formats.md``): UsagePoint id (the ``UsagePoint/<id>`` part of the hrefs) ->
meter; ReadingType ``flowDirection`` 1 (forward, delivered) -> consumption, 19 (reverse,
received) -> production; ``uom`` 72 (Wh) x 10^``powerOfTenMultiplier`` -> kWh;
``accumulationBehaviour`` 4 (delta per interval) is required; ``timePeriod/start`` (Unix
seconds, UTC) -> interval start; ``ReadingQuality/quality`` other than 0 valid, 14 raw, 17
validated, 18 verified, 19 revenue-quality -> estimated. ``LocalTimeParameters`` only say how
to show local time (timestamps stay UTC); they are kept in the summary.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridopt.ingest.formats._common import Channel, Direction, format_error

#: ESPI QualityOfReading codes that are measured values (not estimated or edited).
ACTUAL_QUALITIES = frozenset({0, 14, 17, 18, 19})
#: ESPI UnitSymbolKind codes: 72 = Wh is energy; the others are refused with a hint.
UOM_WH = 72
_UOM_HINTS = {38: "W (power, not energy per interval)", 63: "VArh (reactive energy)",
              61: "VA", 71: "VAh (apparent energy)", 169: "therm (gas)", 119: "ft3 (gas)",
              42: "m3"}
FLOW_FORWARD = 1
FLOW_REVERSE = 19
ACCUMULATION_DELTA = 4
_UP_RE = re.compile(r"UsagePoint/([^/]+)")
_MR_RE = re.compile(r"(.*/MeterReading/[^/]+)")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


_Block = tuple[list[int], list[int], list[bool], list[int]]  # start s, value, estimated, ordinal
_NAMESPACES = ("", "{http://naesb.org/espi}", "{http://www.w3.org/2005/Atom}")
_KNOWN = ("entry", "link", "feed", "IntervalBlock", "IntervalReading", "ReadingType",
          "MeterReading", "UsagePoint", "LocalTimeParameters")
#: Full tag (any of the namespaces) -> local name, for the elements the reader acts on.
_TAGS = {f"{ns}{name}": name for ns in _NAMESPACES for name in _KNOWN}
_NOT_A_NUMBER = -(2**62)


@dataclass
class _Entry:
    links: dict[str, list[str]] = field(default_factory=dict)
    kind: str = ""
    reading_type: dict[str, str] = field(default_factory=dict)
    service_kind: str | None = None
    blocks: list[_Block] = field(default_factory=list)


@dataclass
class _Feed:
    reading_types: dict[str, dict[str, str]] = field(default_factory=dict)
    meter_readings: dict[str, list[str]] = field(default_factory=dict)
    usage_points: dict[str, str | None] = field(default_factory=dict)
    local_time: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, list[_Block]] = field(default_factory=dict)  # MeterReading href -> blocks
    saw_feed: bool = False


def _finish_entry(entry: _Entry, feed: _Feed) -> None:
    self_href = (entry.links.get("self") or [""])[0]
    if entry.kind == "ReadingType":
        feed.reading_types[self_href] = entry.reading_type
    elif entry.kind == "MeterReading":
        feed.meter_readings[self_href] = entry.links.get("related", [])
    elif entry.kind == "UsagePoint":
        feed.usage_points[self_href] = entry.service_kind
    elif entry.kind == "IntervalBlock":
        up = (entry.links.get("up") or entry.links.get("self") or [""])[0]
        match = _MR_RE.match(up)
        key = match.group(1) if match else up
        feed.blocks.setdefault(key, []).extend(entry.blocks)


def _stream(path: Path) -> _Feed:
    """One pass over the XML: reading types, meter readings, usage points and readings.

    ``iterparse`` with end events only; each IntervalReading is reduced to numbers and
    cleared, each IntervalBlock cleared after its readings, each entry after it is filed. Lines
    are found afterwards, and only for messages (:func:`line_of`).
    """
    feed = _Feed()
    entry = _Entry()
    block: _Block = ([], [], [], [])
    tags: dict[str, str] = dict(_TAGS)  # full tag -> local name ("" for tags not acted on)
    ordinal = 0
    try:
        for _event, elem in ET.iterparse(path, events=("end",)):
            name = tags.get(elem.tag)
            if name is None:  # another namespace URI: match by local name, once per tag
                local = _local(elem.tag)
                name = tags[elem.tag] = local if local in _KNOWN else ""
            if not name:
                continue
            if name == "IntervalReading":
                _reading(elem, block, ordinal, path)
                ordinal += 1
                elem.clear()
            elif name == "IntervalBlock":
                entry.kind = name
                entry.blocks.append(block)
                block = ([], [], [], [])
                elem.clear()
            elif name == "link":
                entry.links.setdefault(elem.get("rel", ""), []).append(elem.get("href", ""))
            elif name == "entry":
                _finish_entry(entry, feed)
                entry = _Entry()
                elem.clear()
            elif name == "ReadingType":
                entry.kind = name
                entry.reading_type = {_local(c.tag): (c.text or "").strip() for c in elem}
            elif name in ("MeterReading", "UsagePoint"):
                entry.kind = name
                for child in elem:
                    if _local(child.tag) == "ServiceCategory":
                        entry.service_kind = _text(child, "kind")
            elif name == "LocalTimeParameters":
                feed.local_time = {_local(c.tag): (c.text or "").strip() for c in elem}
            elif name == "feed":
                feed.saw_feed = True
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise format_error(path, f"line {line}", f"not well-formed XML ({exc})",
                           "the file is truncated or damaged: export it again from the "
                           "utility's Green Button download") from exc
    if block[0]:
        raise format_error(path, f"line {line_of(path, _READING_END, ordinal - 1)}",
                           "IntervalReading outside an IntervalBlock",
                           "nest IntervalReadings in an IntervalBlock")
    if not feed.saw_feed:
        raise format_error(path, "line 1", "no Atom <feed> element",
                           "a Green Button file is an Atom feed of entries")
    return feed


_READING_END = re.compile(rb"</(?:[\w.-]+:)?IntervalReading\s*>")


def line_of(path: Path, pattern: re.Pattern[bytes], occurrence: int) -> int:
    """1-based line of the ``occurrence``-th (0-based) match of ``pattern`` in the file.

    Only for messages: the file is scanned in 1 MiB chunks (a match across a chunk boundary
    is found in the overlap), so this needs no more memory than the parse.
    """
    seen = 0
    lines_before = 0
    overlap = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            data = overlap + chunk
            for match in pattern.finditer(data):
                if match.end() <= len(overlap):
                    continue
                if seen == occurrence:
                    return lines_before + data.count(b"\n", 0, match.start()) + 1
                seen += 1
            keep = min(len(data), 256)
            lines_before += data.count(b"\n", 0, len(data) - keep)
            overlap = data[len(data) - keep:]
    return lines_before + overlap.count(b"\n") + 1


def _reading(elem: ET.Element, block: _Block, ordinal: int, path: Path) -> None:
    start = value = None
    estimated = False
    for child in elem:
        name = _local(child.tag)
        if name == "timePeriod":
            start = _text(child, "start")
        elif name == "value":
            value = (child.text or "").strip()
        elif name == "ReadingQuality":
            quality = _text(child, "quality")
            try:
                estimated |= int(quality or "0") not in ACTUAL_QUALITIES
            except ValueError:
                estimated = True
    if start is None or value is None:
        raise format_error(path, f"line {line_of(path, _READING_END, ordinal)}",
                           "IntervalReading without timePeriod/start or value",
                           "every IntervalReading needs <timePeriod><start> and <value>")
    try:
        block[0].append(int(start))
    except ValueError as exc:
        raise format_error(path, f"line {line_of(path, _READING_END, ordinal)}",
                           f"timePeriod/start {start!r} is not Unix seconds",
                           "write the start as an integer number of seconds since "
                           "1970-01-01 UTC") from exc
    try:
        block[1].append(int(value))
    except ValueError:
        block[1].append(_NOT_A_NUMBER)  # quarantined as non_numeric
    block[2].append(estimated)
    block[3].append(ordinal)


def _rt_line(path: Path, href: str) -> int:
    """Line of the ReadingType entry with self link ``href`` (for messages)."""
    pattern = re.compile(rb'rel="self"\s+href="' + re.escape(href.encode()) + rb'"')
    return line_of(path, pattern, 0)


def _int(rt: dict[str, str], name: str, default: int, href: str, path: Path) -> int:
    text = rt.get(name) or str(default)
    try:
        return int(text)
    except ValueError as exc:
        raise format_error(path, f"line {_rt_line(path, href)} (ReadingType {href})",
                           f"{name} {text!r} is not an integer code",
                           f"write the ESPI code of {name}") from exc


def _factor_kwh(rt: dict[str, str], href: str, path: Path) -> float:
    uom = _int(rt, "uom", -1, href, path)
    if uom != UOM_WH:
        what = _UOM_HINTS.get(uom, "an unknown unit")
        raise format_error(path, f"line {_rt_line(path, href)} (ReadingType {href})",
                           f"uom {uom} is {what}; gridopt reads active energy in Wh (uom 72)",
                           "export the electricity usage (kind 12, uom 72) of the meter")
    power = _int(rt, "powerOfTenMultiplier", 0, href, path)
    return float(10.0 ** power) / 1000.0


def _direction(rt: dict[str, str], href: str, path: Path) -> Direction:
    flow = _int(rt, "flowDirection", FLOW_FORWARD, href, path)
    if flow == FLOW_FORWARD:
        return Direction.CONSUMPTION
    if flow == FLOW_REVERSE:
        return Direction.PRODUCTION
    raise format_error(path, f"line {_rt_line(path, href)} (ReadingType {href})",
                       f"flowDirection {flow} is neither 1 (forward, delivered) nor 19 "
                       "(reverse, received); gridopt needs consumption and production apart",
                       "export the forward and reverse readings as separate MeterReadings")


def read_green_button(path: Path) -> tuple[list[Channel], dict[str, Any]]:
    """Channels of a Green Button file and a summary of the mapping.

    Raises
    ------
    InputError
        Not well-formed (e.g. truncated) XML, a reading without start or value, a ReadingType
        in another unit than Wh, a flow direction or accumulation that is not interval energy,
        a MeterReading without a ReadingType.
    """
    feed = _stream(path)
    channels: list[Channel] = []
    described: list[dict[str, Any]] = []
    skipped: list[str] = []
    by_point: dict[tuple[str, Direction], int] = {}
    for mr_href, blocks in feed.blocks.items():
        related = feed.meter_readings.get(mr_href, [])
        rt_href = next((h for h in related if h in feed.reading_types), None)
        if rt_href is None and len(feed.reading_types) == 1:
            rt_href = next(iter(feed.reading_types))
        if rt_href is None:
            first = blocks[0][3][0] if blocks and blocks[0][3] else 0
            raise format_error(path, f"line {line_of(path, _READING_END, first)}",
                               f"the IntervalBlocks of {mr_href or 'a MeterReading'} have no "
                               "ReadingType (no MeterReading entry links to one)",
                               "include the MeterReading and ReadingType entries in the feed")
        rt = feed.reading_types[rt_href]
        point_match = _UP_RE.search(mr_href)
        point = point_match.group(1) if point_match else mr_href
        up_href = mr_href.split("/MeterReading")[0]
        service = feed.usage_points.get(up_href)
        if service not in (None, "", "0"):
            skipped.append(f"{point}: ServiceCategory kind {service} is not electricity")
            continue
        factor = _factor_kwh(rt, rt_href, path)
        direction = _direction(rt, rt_href, path)
        accumulation = rt.get("accumulationBehaviour", str(ACCUMULATION_DELTA))
        if accumulation != str(ACCUMULATION_DELTA):
            raise format_error(path, f"line {_rt_line(path, rt_href)} (ReadingType {rt_href})",
                               f"accumulationBehaviour {accumulation} is not 4 (delta data: "
                               "energy per interval)", "export interval (delta) readings")
        starts = np.array([s for b in blocks for s in b[0]], dtype=np.int64)
        raw = np.array([v for b in blocks for v in b[1]], dtype=np.int64)
        kwh = raw.astype(np.float64) * factor
        kwh[raw == _NOT_A_NUMBER] = np.nan
        n_same = by_point.get((point, direction), 0)
        by_point[(point, direction)] = n_same + 1
        meter = point if n_same == 0 else f"{point}/{mr_href.rsplit('/', 1)[-1]}"
        channels.append(Channel(
            meter=meter, direction=direction, name=rt_href, start_ns=starts * 1_000_000_000,
            kwh=kwh, estimated=np.array([e for b in blocks for e in b[2]], dtype=bool),
            line=np.array([k for b in blocks for k in b[3]], dtype=np.int64) + 1,
            line_unit="IntervalReading"))
        described.append({"meter": meter, "meter_reading": mr_href, "reading_type": rt_href,
                          "direction": direction.value, "kwh_per_unit": factor,
                          "interval_s": rt.get("intervalLength"), "readings": int(starts.size)})
    summary: dict[str, Any] = {"channels": described, "skipped": skipped,
                               "local_time_parameters": feed.local_time}
    return channels, summary
