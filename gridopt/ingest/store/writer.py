"""Appending: validate one input (a file, or a block of meters of a large Parquet file) into
staged part files, then commit a batch of them as the store's next generation.

:func:`stage` is the unit of work (a Dask task when a cluster is used): it runs the existing
ingest (:func:`gridopt.ingest.read_readings`: validation, quarantine, budget) on its input,
drops the cells the published store already holds with the same bits, refuses the input when
any of its readings differ from stored ones, and writes the new cells as Parquet files under
fresh names (invisible until published). :func:`commit` runs in the writer: it checks the
staged inputs against each other, extends the meter registry, and publishes the manifest.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest.model import FillPolicy, IngestResult, Layout, QuarantineBudget
from gridopt.ingest.readers import METER_ID, _normalise_long, read_raw
from gridopt.ingest.regularise import ingest_table
from gridopt.ingest.store.cells import (
    METER,
    conflict_message,
    dataset_to_cells,
    meter_positions,
    month_keys,
    read_parts,
    reconcile,
    time_ns,
    write_part,
)
from gridopt.ingest.store.manifest import (
    PARTS,
    QUARANTINE,
    Manifest,
    PartInfo,
    SourceInfo,
    new_file_name,
)


class InputStatus(enum.StrEnum):
    """What became of one input of an append."""

    OK = "ok"                    # appended, nothing quarantined
    DEGRADED = "degraded"        # appended, rows quarantined within the budget
    ALREADY_APPENDED = "already_appended"  # same content appended before: nothing to do
    OVER_BUDGET = "over_budget"  # refused by the quarantine budget: nothing appended
    CONFLICT = "conflict"        # readings differ from stored ones: nothing appended
    FAILED = "failed"            # unreadable or invalid input: nothing appended

    @property
    def appended(self) -> bool:
        """Whether the input's cells went into the store."""
        return self in (InputStatus.OK, InputStatus.DEGRADED)


@dataclass(frozen=True)
class AppendOptions:
    """The ingest options of an append (see :func:`gridopt.ingest.read_readings`)."""

    tz: str | None = None
    freq: str | None = None
    layout: Layout = Layout.LONG
    cumulative: bool = False
    fill: FillPolicy = FillPolicy.NONE
    max_fill_steps: int = 4
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)


@dataclass(frozen=True)
class AppendInput:
    """One unit of work: a file, or only the rows of ``meters`` of a Parquet file."""

    path: str
    meters: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """How the input is named in reports."""
        if self.meters is None:
            return self.path
        return f"{self.path}[meters {self.meters[0]}..{self.meters[-1]}]"


@dataclass(frozen=True)
class StagedPart:
    """A part file written by :func:`stage`, with the meters it holds (in input order)."""

    file: str
    month: str
    meters: tuple[str, ...]
    start_ns: int
    end_ns: int
    rows: int


@dataclass(frozen=True)
class Staged:
    """The outcome of :func:`stage` for one input."""

    source: str
    digest: str
    status: InputStatus
    message: str = ""
    freq: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    meters: tuple[str, ...] = ()
    parts: tuple[StagedPart, ...] = ()
    quarantine_file: str | None = None
    rows_in: int = 0
    rows_quarantined: int = 0
    cells_identical: int = 0

    @property
    def cells_added(self) -> int:
        """Cells in the staged parts."""
        return sum(p.rows for p in self.parts)


def file_digest(path: str | Path, meters: Sequence[str] | None = None) -> str:
    """SHA-256 of the file's bytes (and of the meter subset, when only part of it is read)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    if meters is not None:
        h.update(b"\0meters\0" + "\0".join(meters).encode())
    return h.hexdigest()


def plan_inputs(paths: Sequence[str | Path], max_rows: int) -> list[AppendInput]:
    """Units of work: one per file, and a Parquet file of more than ``max_rows`` rows split
    into blocks of whole meters (each meter's readings validated together, as ingest does)."""
    out: list[AppendInput] = []
    for p in paths:
        path = str(p)
        if not path.lower().endswith((".parquet", ".pq")):
            out.append(AppendInput(path))
            continue
        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, pa.ArrowInvalid):
            out.append(AppendInput(path))   # stage() reports why it cannot be read
            continue
        if meta.num_rows <= max_rows:
            out.append(AppendInput(path))
            continue
        column = _meter_column(path)
        ids = pq.read_table(path, columns=[column]).column(column).cast(pa.string())
        counts = pd.Series(np.asarray(ids.to_pylist(), dtype=object)).value_counts(sort=False)
        counts = counts.sort_index()
        group: list[str] = []
        rows = 0
        for meter, n in counts.items():
            if group and rows + int(n) > max_rows:
                out.append(AppendInput(path, tuple(group)))
                group, rows = [], 0
            group.append(str(meter))
            rows += int(n)
        if group:
            out.append(AppendInput(path, tuple(group)))
    return out


def _meter_column(path: str) -> str:
    names = pq.ParquetFile(path).schema_arrow.names
    for n in names:
        if n.strip().lower() == METER_ID:
            return n
    raise InputError(f"{path}: missing required column {METER_ID!r} (found: {', '.join(names)})")


def _ingest(item: AppendInput, options: AppendOptions, freq: str | None) -> IngestResult:
    if item.meters is None:
        table = read_raw(item.path, options.layout)
    else:
        column = _meter_column(item.path)
        raw = pq.read_table(item.path, filters=[(column, "in", list(item.meters))])
        table = _normalise_long(raw, item.path)
    return ingest_table(
        table, source=item.name, tz=options.tz, freq=freq, cumulative=options.cumulative,
        fill=options.fill, max_fill_steps=options.max_fill_steps, budget=options.budget)


def _stored_overlap(store: Path, base: Manifest, cells: pa.Table) -> pa.Table:
    """The published cells that could share a ``(meter, time)`` with ``cells``."""
    blocks = base.block_of()
    meters = sorted({m for m in cells.column(METER).unique().to_pylist() if m in blocks})
    if not meters or not base.parts:
        return cells.schema.empty_table()
    wanted = {blocks[m] for m in meters}
    t = time_ns(cells)
    lo, hi = int(t.min()), int(t.max())
    files = [str(store / p.file) for p in base.parts
             if wanted.intersection(p.blocks) and p.start_ns <= hi and p.end_ns >= lo]
    return read_parts(files, meters, lo, hi)


def _write_parts(store: Path, generation: int, cells: pa.Table, meter_order: Sequence[str],
                 meter_block: int) -> tuple[StagedPart, ...]:
    """Split cells by month (UTC) and by runs of ``meter_block`` meters; one file each."""
    if cells.num_rows == 0:
        return ()
    t = time_ns(cells)
    months = month_keys(t)
    meter_rank = meter_positions(cells, meter_order)
    run = meter_rank // meter_block
    parts = []
    for month in np.unique(months):
        for r in np.unique(run[months == month]):
            sel = np.flatnonzero((months == month) & (run == r))
            piece = cells.take(pa.array(sel))
            rel = new_file_name(PARTS, generation)
            write_part(piece, str(store / rel))
            members = tuple(piece.column(METER).unique().to_pylist())
            parts.append(StagedPart(file=rel, month=str(month), meters=members,
                                    start_ns=int(t[sel].min()), end_ns=int(t[sel].max()),
                                    rows=int(sel.size)))
    return tuple(parts)


def _write_quarantine(store: Path, generation: int, source: str,
                      quarantine: pd.DataFrame) -> str | None:
    if len(quarantine) == 0:
        return None
    frame = quarantine.copy()
    for c in frame.columns:
        if c != "row":
            frame[c] = frame[c].astype("string")
    frame.insert(0, "source", source)
    rel = new_file_name(QUARANTINE, generation)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), store / rel,
                   compression="zstd")
    return rel


def stage(store: str, item: AppendInput, options: AppendOptions, base: Manifest) -> Staged:
    """Validate one input and write its new cells as unpublished part files.

    Runs on any worker that sees the store's directory. Nothing is published here; an input
    that is refused (budget, conflict, bad file) writes nothing.
    """
    root = Path(store)
    try:
        digest = file_digest(item.path, item.meters)
    except OSError as exc:
        return Staged(item.name, "", InputStatus.FAILED, f"{item.path}: cannot read the file "
                      f"({exc.strerror})")
    if digest in base.digests:
        return Staged(item.name, digest, InputStatus.ALREADY_APPENDED,
                      "the same content was appended before")
    try:
        result = _ingest(item, options, options.freq or base.freq)
    except QuarantineBudgetError as exc:
        report = exc.report
        rows_in = int(getattr(report, "rows_in", 0))
        return Staged(item.name, digest, InputStatus.OVER_BUDGET, str(exc), rows_in=rows_in)
    except InputError as exc:
        return Staged(item.name, digest, InputStatus.FAILED, str(exc))
    report = result.report
    if base.freq is not None and report.freq != base.freq:
        return Staged(item.name, digest, InputStatus.FAILED,
                      f"{item.name}: readings every {report.freq}, the store's interval is "
                      f"{base.freq}; append with --freq {base.freq} to convert them")
    cells = dataset_to_cells(result.data)
    rec = reconcile(cells, _stored_overlap(root, base, cells))
    if len(rec.conflicts):
        return Staged(item.name, digest, InputStatus.CONFLICT,
                      conflict_message(item.name, rec.conflicts), rows_in=report.rows_in)
    meters = tuple(str(m) for m in result.data["meter"].values)
    generation = base.generation + 1
    parts = _write_parts(root, generation, rec.new, meters, base.meter_block)
    q_file = _write_quarantine(root, generation, item.name, result.quarantine)
    status = InputStatus.DEGRADED if report.rows_quarantined else InputStatus.OK
    attrs = {k: result.data.attrs[k] for k in ("cumulative_input", "fill_policy")
             if k in result.data.attrs}
    attrs["tz"] = report.tz
    return Staged(item.name, digest, status, freq=report.freq, attrs=attrs, meters=meters,
                  parts=parts, quarantine_file=q_file, rows_in=report.rows_in,
                  rows_quarantined=report.rows_quarantined,
                  cells_identical=rec.identical)


def discard(store: Path, staged: Staged) -> None:
    """Delete the files an input staged (it is not published)."""
    for rel in [p.file for p in staged.parts] + [staged.quarantine_file or ""]:
        if rel:
            with contextlib.suppress(FileNotFoundError):
                (store / rel).unlink()


def _against_batch(store: Path, staged: Staged, accepted: list[StagedPart],
                   generation: int) -> tuple[Staged, list[str]]:
    """Check one staged input against the parts accepted earlier in the same batch: drop
    identical cells (rewriting its parts), refuse it on a conflict. Returns the input (maybe
    changed) and the files to delete once it is settled."""
    new_parts: list[StagedPart] = []
    obsolete: list[str] = []
    identical = 0
    for part in staged.parts:
        members = set(part.meters)
        others = [str(store / a.file) for a in accepted if a.month == part.month
                  and a.start_ns <= part.end_ns and a.end_ns >= part.start_ns
                  and members.intersection(a.meters)]
        if not others:
            new_parts.append(part)
            continue
        mine = read_parts([str(store / part.file)])
        rec = reconcile(mine, read_parts(others, sorted(members), part.start_ns, part.end_ns))
        if len(rec.conflicts):
            return (Staged(staged.source, staged.digest, InputStatus.CONFLICT,
                           conflict_message(staged.source, rec.conflicts),
                           rows_in=staged.rows_in), [])
        identical += rec.identical
        obsolete.append(part.file)
        if rec.new.num_rows:
            rel = new_file_name(PARTS, generation)
            write_part(rec.new, str(store / rel))
            t = time_ns(rec.new)
            new_parts.append(StagedPart(rel, part.month,
                                        tuple(rec.new.column(METER).unique().to_pylist()),
                                        int(t.min()), int(t.max()), rec.new.num_rows))
    if not obsolete:
        return staged, []
    changed = Staged(**{**staged.__dict__, "parts": tuple(new_parts),
                        "cells_identical": staged.cells_identical + identical})
    return changed, obsolete


def commit(store: Path, base: Manifest, staged: Sequence[Staged]) -> tuple[Manifest,
                                                                           list[Staged]]:
    """Settle a batch of staged inputs in order and build the next manifest.

    Returns the manifest to publish (``base`` itself when nothing changed) and the final
    outcome of every input. Inputs refused here have their staged files deleted.
    """
    generation = base.generation + 1
    meters = list(base.meters)
    known = set(meters)
    parts = list(base.parts)
    sources = list(base.sources)
    digests = set(base.digests)
    freq = base.freq
    attrs = dict(base.attrs)
    accepted: list[StagedPart] = []
    outcomes: list[Staged] = []
    for s in staged:
        if not s.status.appended:
            discard(store, s)
            outcomes.append(s)
            continue
        if s.digest in digests:
            discard(store, s)
            outcomes.append(Staged(s.source, s.digest, InputStatus.ALREADY_APPENDED,
                                   "the same content is earlier in this append"))
            continue
        if freq is not None and s.freq != freq:
            discard(store, s)
            outcomes.append(Staged(s.source, s.digest, InputStatus.FAILED,
                                   f"{s.source}: readings every {s.freq}, other inputs of "
                                   f"this store every {freq}; give --freq"))
            continue
        settled, obsolete = _against_batch(store, s, accepted, generation)
        if not settled.status.appended:
            discard(store, s)
            outcomes.append(settled)
            continue
        for f in obsolete:
            with contextlib.suppress(FileNotFoundError):
                (store / f).unlink()
        freq = freq or settled.freq
        attrs = attrs or dict(settled.attrs)
        for m in settled.meters:
            if m not in known:
                known.add(m)
                meters.append(m)
        block = {m: i // base.meter_block for i, m in enumerate(meters)}
        for p in settled.parts:
            parts.append(PartInfo(p.file, p.month, tuple(sorted({block[m] for m in p.meters})),
                                  p.start_ns, p.end_ns, p.rows))
            accepted.append(p)
        digests.add(settled.digest)
        sources.append(SourceInfo(settled.digest, settled.source, settled.rows_in,
                                  settled.cells_added, settled.rows_quarantined,
                                  settled.status.value, settled.quarantine_file, generation))
        outcomes.append(settled)
    if len(sources) == len(base.sources):
        return base, outcomes
    manifest = base.evolve(generation=generation, freq=freq, meters=tuple(meters),
                           parts=tuple(parts), sources=tuple(sources), attrs=attrs,
                           tz=str(attrs.get("tz", base.tz)))
    return manifest, outcomes
