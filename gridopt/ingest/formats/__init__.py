"""Meter exports as utilities hand them out: Green Button XML, AEMO NEM12/NEM13, EDIFACT MSCONS.

:func:`detect_format` recognises a file from its first bytes (not its extension);
:func:`read_format` reads it into the same long raw table as a CSV
(:func:`gridopt.ingest.readers.read_raw`), so validation, the quarantine, the budget and the
report are the same; :func:`mark_estimated` carries the export's own quality (estimated or
substituted readings) into the dataset's ``quality`` as
:attr:`~gridopt.ingest.model.Quality.ESTIMATED`. See ``docs/formats.md``.

Own parsers rather than ``nemreader`` / ``pydifact`` (evaluated; see ``docs/formats.md``): both
build whole-file object trees and neither names the line and rule of a broken record.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np

from gridopt.errors import InputError
from gridopt.ingest.formats._common import Channel, Direction, Format, FormatTable, build_table
from gridopt.ingest.formats.greenbutton import read_green_button
from gridopt.ingest.formats.mscons import read_mscons
from gridopt.ingest.formats.nem12 import read_nem
from gridopt.ingest.model import IngestResult, Quality

_SNIFF_BYTES = 4096
#: XML exports may open with a long comment (the OpenESPI sample: 2 KB): look further for ESPI.
_SNIFF_XML_BYTES = 1 << 16
#: Cells of these qualities become ESTIMATED when a reading in them was estimated at source.
_MARKABLE = (Quality.MEASURED, Quality.AGGREGATED, Quality.SPLIT)


def detect_format(path: str | Path) -> Format | None:
    """The meter-export format of a file from its content, or ``None`` for CSV/Parquet.

    Raises
    ------
    InputError
        The file is XML or EDIFACT but not a format gridopt reads (e.g. XML without the ESPI
        namespace, an EDIFACT interchange that is not MSCONS).
    """
    path = Path(path)
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(b"PAR1"):
        return None
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(path)
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    if text.startswith(("UNA", "UNB")):
        if "MSCONS" in text:
            return Format.MSCONS
        raise InputError(f"{path}: an EDIFACT interchange but not an MSCONS message (no "
                         "MSCONS in its UNH segment); gridopt reads MSCONS meter data only")
    if text.startswith("<"):
        with path.open("rb") as fh:
            text = fh.read(_SNIFF_XML_BYTES).decode("latin-1")
        if "naesb.org/espi" in text:
            return Format.GREEN_BUTTON
        raise InputError(f"{path}: XML but not a Green Button (NAESB ESPI) feed: no "
                         "http://naesb.org/espi namespace in its first 64 KB; gridopt reads "
                         "Green Button XML, NEM12/NEM13, MSCONS, or CSV/Parquet readings")
    first = text.split("\n", 1)[0].replace(" ", "").upper()
    if first.startswith("100,NEM12"):
        return Format.NEM12
    if first.startswith("100,NEM13"):
        return Format.NEM13
    if first.startswith(("200,", "300,")) and path.suffix.lower() == ".csv":
        raise InputError(f"{path}: line 1: looks like NEM12 (starts with a {first[:3]} "
                         "record) but has no 100 header record; fix: start the file with "
                         "100,NEM12,<DateTime>,<FromParticipant>,<ToParticipant>")
    return None


def _detect_zip(path: Path) -> Format | None:
    """NEM12/NEM13 inside a zip of one file (how AEMO participants often deliver them)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if not n.endswith("/")]
            if len(members) != 1:
                return None
            with archive.open(members[0]) as fh:
                first = fh.read(64).decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    except (zipfile.BadZipFile, OSError):
        return None
    first = first.replace(" ", "").upper()
    if first.startswith("100,NEM12"):
        return Format.NEM12
    if first.startswith("100,NEM13"):
        return Format.NEM13
    return None


def read_format(path: str | Path, fmt: Format, *, for_dataset: bool = True) -> FormatTable:
    """Read a meter export into the long raw table with its estimated flags and summary.

    Parameters
    ----------
    path, fmt
        The file and its :class:`Format` (:func:`detect_format`).
    for_dataset
        The table is for the regular (time x meter) dataset: NEM13 accumulation reads, which
        are register reads weeks or months apart and not interval data, are refused then.

    Raises
    ------
    InputError
        The file breaks its format (file, record or line, rule and fix), or NEM13 for a
        dataset.
    """
    path = Path(path)
    channels: list[Channel]
    if fmt is Format.GREEN_BUTTON:
        channels, summary = read_green_button(path)
    elif fmt is Format.MSCONS:
        channels, summary = read_mscons(path)
    else:
        channels, summary = read_nem(path)
    table, estimated = build_table(channels, path)
    if fmt is Format.NEM13 and for_dataset:
        reads = "; ".join(f"{c.meter} {c.name}: {float(c.kwh.sum()):g} kWh" for c in channels)
        raise InputError(
            f"{path}: NEM13 accumulation (250) records are register reads weeks or months "
            f"apart ({reads}), not interval data, and gridopt's dataset has regular intervals; "
            f"fix: ask the metering data provider for the NMI's NEM12 interval data")
    summary = {"format": fmt.value, **summary}
    return FormatTable(format=fmt, table=table, estimated=estimated, summary=summary)


def mark_estimated(result: IngestResult, formatted: FormatTable) -> IngestResult:
    """Flag the cells that hold a reading the export marked estimated.

    A cell is flagged when any estimated reading of its meter starts inside it and the cell
    holds data (measured, aggregated or split). The dataset is changed in place; the returned
    result carries a report whose ``cells_estimated`` counts them (and the measured, aggregated
    and split counts no longer do). The dataset's attributes record the format and the mapping
    summary.
    """
    ds = result.data
    ds.attrs["source_format"] = formatted.format.value
    ds.attrs["source_mapping"] = json.dumps(formatted.summary, default=str)
    if not formatted.estimated.any() or ds.sizes.get("time", 0) == 0:
        return result
    rows = np.flatnonzero(formatted.estimated)
    table = formatted.table.take(rows)
    meter_col = table.column("meter_id").combine_chunks()
    meters = np.asarray(meter_col.dictionary_decode().to_pylist(), dtype=object)
    t_ns = table.column("timestamp").combine_chunks().cast("int64").to_numpy()
    names = {str(m): k for k, m in enumerate(ds["meter"].values)}
    times = ds["time"].values.astype("datetime64[ns]").view(np.int64)
    m_idx = np.array([names.get(str(m), -1) for m in meters], dtype=np.int64)
    t_idx = np.searchsorted(times, t_ns, side="right") - 1
    ok = (m_idx >= 0) & (t_idx >= 0)
    if times.size > 1:
        step = int(times[1] - times[0])
        ok &= t_ns < times[np.clip(t_idx, 0, None)] + step
    quality = ds["quality"].values
    cells = np.unique(np.stack([t_idx[ok], m_idx[ok]]), axis=1)
    before = quality[cells[0], cells[1]]
    markable = np.isin(before, [int(q) for q in _MARKABLE])
    quality[cells[0][markable], cells[1][markable]] = int(Quality.ESTIMATED)
    ds["quality"].values = quality
    lost = {q: int((before[markable] == q).sum()) for q in _MARKABLE}
    report = dataclasses.replace(
        result.report,
        cells_measured=result.report.cells_measured - lost[Quality.MEASURED],
        cells_aggregated=result.report.cells_aggregated - lost[Quality.AGGREGATED],
        cells_split=result.report.cells_split - lost[Quality.SPLIT],
        cells_estimated=int(markable.sum()))
    return dataclasses.replace(result, report=report)


__all__ = ["Channel", "Direction", "Format", "FormatTable", "detect_format", "mark_estimated",
           "read_format"]
