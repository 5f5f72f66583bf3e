"""The store's directory, its manifests and the commit protocol.

A store is a directory::

    STORE/
      CURRENT                       # name of the published manifest (replaced atomically)
      manifests/manifest-00000007.json
      parts/<generation>-<uuid>.parquet        # cells: meter, time, values, quality
      quarantine/<generation>-<uuid>.parquet   # the quarantine rows of each appended file
      .lock                         # held (flock) by the one writer

Only what the manifest named by ``CURRENT`` lists exists for a reader. A writer writes its
part files under fresh names first (invisible: no manifest lists them), then writes the next
manifest under a fresh name, and publishes it by replacing ``CURRENT`` (``os.replace``, after
``fsync`` of every file it names). A process killed at any point leaves either the previous
generation or the next one published, never a mix; the files it left unlisted are orphans that
the next writer deletes (it holds the lock, so no other writer can own them).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gridopt.errors import InputError

FORMAT = "gridopt-store"
VERSION = 1
#: Meters per block (the meter chunk of :func:`~gridopt.ingest.store.open_store`).
DEFAULT_METER_BLOCK = 500
#: Manifests kept besides the current one (for inspection; readers use only the current one).
KEEP_MANIFESTS = 5

CURRENT = "CURRENT"
MANIFESTS = "manifests"
PARTS = "parts"
QUARANTINE = "quarantine"
LOCK = ".lock"


class StoreError(InputError):
    """A store that cannot be used as asked: not a store, another interval, a conflict."""


@dataclass(frozen=True)
class PartInfo:
    """One Parquet file of cells: the month (UTC) and the meter blocks it holds.

    ``start_ns`` and ``end_ns`` are the first and last interval start in it (ns since the
    epoch, UTC), ``rows`` its cells.
    """

    file: str
    month: str
    blocks: tuple[int, ...]
    start_ns: int
    end_ns: int
    rows: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartInfo:
        """Inverse of :func:`dataclasses.asdict`."""
        return cls(file=d["file"], month=d["month"], blocks=tuple(d["blocks"]),
                   start_ns=int(d["start_ns"]), end_ns=int(d["end_ns"]), rows=int(d["rows"]))


@dataclass(frozen=True)
class SourceInfo:
    """One appended file: its content digest, what it added and its quarantine file."""

    digest: str
    source: str
    rows_in: int
    cells_added: int
    rows_quarantined: int
    status: str
    quarantine_file: str | None
    generation: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SourceInfo:
        """Inverse of :func:`dataclasses.asdict`."""
        return cls(**d)


@dataclass(frozen=True)
class Manifest:
    """One published generation of the store."""

    generation: int = 0
    freq: str | None = None
    tz: str = "UTC"
    meter_block: int = DEFAULT_METER_BLOCK
    meters: tuple[str, ...] = ()
    parts: tuple[PartInfo, ...] = ()
    sources: tuple[SourceInfo, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def start_ns(self) -> int | None:
        """First interval start in the store (ns, UTC), ``None`` when empty."""
        return min((p.start_ns for p in self.parts), default=None)

    @property
    def end_ns(self) -> int | None:
        """Last interval start in the store (ns, UTC), ``None`` when empty."""
        return max((p.end_ns for p in self.parts), default=None)

    @property
    def digests(self) -> frozenset[str]:
        """Content digests of every appended file."""
        return frozenset(s.digest for s in self.sources)

    def block_of(self) -> dict[str, int]:
        """Meter id -> block number."""
        return {m: i // self.meter_block for i, m in enumerate(self.meters)}

    def to_json(self) -> str:
        """The manifest file's text."""
        body = asdict(self)
        body = {"format": FORMAT, "version": VERSION, **body}
        return json.dumps(body, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        """Parse a manifest file's text."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"{where}: the manifest is not valid JSON ({exc})") from exc
        if d.get("format") != FORMAT or int(d.get("version", -1)) != VERSION:
            raise StoreError(f"{where}: not a {FORMAT} manifest of version {VERSION}")
        return cls(
            generation=int(d["generation"]), freq=d["freq"], tz=d["tz"],
            meter_block=int(d["meter_block"]), meters=tuple(d["meters"]),
            parts=tuple(PartInfo.from_dict(p) for p in d["parts"]),
            sources=tuple(SourceInfo.from_dict(s) for s in d["sources"]),
            attrs=dict(d.get("attrs", {})))

    def evolve(self, **changes: Any) -> Manifest:
        """A copy with ``changes``."""
        return replace(self, **changes)


def is_store(path: Path) -> bool:
    """Whether ``path`` is a store directory (it has a ``CURRENT`` file)."""
    return (Path(path) / CURRENT).is_file()


def read_manifest(path: str | Path) -> Manifest:
    """The published manifest of the store at ``path``.

    Raises
    ------
    StoreError
        ``path`` is not a store (no ``CURRENT``) or its manifest is unreadable.
    """
    path = Path(path)
    current = path / CURRENT
    if not current.is_file():
        if not path.exists():
            raise StoreError(f"{path}: no such store; create one with gridopt store append "
                             f"{path} FILES...")
        if not path.is_dir() or not ((path / LOCK).exists() or not any(path.iterdir())):
            raise StoreError(f"{path}: not a gridopt store (no {CURRENT} file); create one "
                             f"with gridopt store append STORE FILES...")
        # A new store, or one whose first append never published: empty.
        return Manifest()
    name = current.read_text(encoding="utf-8").strip()
    target = path / MANIFESTS / name
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"{path}: {CURRENT} names {name}, which cannot be read "
                         f"({exc.strerror})") from exc
    return Manifest.from_json(text, str(target))


def new_file_name(directory: str, generation: int, suffix: str = ".parquet") -> str:
    """A fresh relative file name under ``directory`` (``parts`` or ``quarantine``)."""
    return f"{directory}/{generation:08d}-{uuid.uuid4().hex}{suffix}"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync_file(path)


def publish(path: Path, manifest: Manifest) -> None:
    """Make ``manifest`` the store's current generation (the commit).

    Every file it lists is flushed to disk first, then the manifest (fresh name), then
    ``CURRENT`` is replaced atomically. Before the replace a reader sees the previous generation,
    after it the new one.
    """
    for d in (MANIFESTS, PARTS, QUARANTINE):
        (path / d).mkdir(parents=True, exist_ok=True)
    for p in manifest.parts:
        _fsync_file(path / p.file)
    for s in manifest.sources:
        if s.quarantine_file is not None and s.generation == manifest.generation:
            _fsync_file(path / s.quarantine_file)
    name = f"manifest-{manifest.generation:08d}.json"
    tmp = path / MANIFESTS / f".{name}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    _fsync_file(tmp)
    os.replace(tmp, path / MANIFESTS / name)
    current_tmp = path / f".{CURRENT}.{uuid.uuid4().hex}.tmp"
    current_tmp.write_text(name + "\n", encoding="utf-8")
    _fsync_file(current_tmp)
    for folder in (PARTS, QUARANTINE, MANIFESTS):
        _fsync_dir(path / folder)
    os.replace(current_tmp, path / CURRENT)
    _fsync_dir(path)


def referenced_files(manifest: Manifest) -> set[str]:
    """Relative names of every data file the manifest lists."""
    files = {p.file for p in manifest.parts}
    files |= {s.quarantine_file for s in manifest.sources if s.quarantine_file is not None}
    return files


def orphans(path: Path, manifest: Manifest) -> list[Path]:
    """Files in ``parts/`` and ``quarantine/`` that the manifest does not list (left by a
    writer that did not publish), and temporary files of the commit."""
    keep = referenced_files(manifest)
    out = []
    for d in (PARTS, QUARANTINE):
        folder = path / d
        if folder.is_dir():
            out += [f for f in folder.iterdir() if f"{d}/{f.name}" not in keep]
    out += [f for f in path.glob(f".{CURRENT}.*.tmp")]
    if (path / MANIFESTS).is_dir():
        out += list((path / MANIFESTS).glob(".*.tmp"))
    return sorted(out)


def clean(path: Path, manifest: Manifest) -> int:
    """Delete the orphans and all but the last :data:`KEEP_MANIFESTS` old manifests (writer
    only, under :func:`writer_lock`); returns the number of files removed."""
    removed = 0
    for f in orphans(path, manifest):
        with contextlib.suppress(FileNotFoundError):
            f.unlink()
            removed += 1
    if (path / MANIFESTS).is_dir():
        old = sorted((path / MANIFESTS).glob("manifest-*.json"))[:-(KEEP_MANIFESTS + 1)]
        for f in old:
            f.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the store's writer lock (``flock`` on ``STORE/.lock``; released when the process
    dies, so a killed writer never blocks the next one).

    Raises
    ------
    StoreError
        Another process is appending to the store.
    """
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StoreError(f"{path}: another process is appending to this store; wait for "
                             "it to finish (one writer at a time)") from exc
        yield
    finally:
        os.close(fd)
