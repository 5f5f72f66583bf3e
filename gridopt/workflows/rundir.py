"""Run directories for scheduled jobs: run ids, a lock, staged atomic outputs and a run log.

A run directory ``<out_dir>/<run_id>`` receives the outputs of one job run. The pieces:

- :func:`compute_run_id`: a hash of everything that determines the outputs (config bytes,
  input file contents, the planning instant, the gridopt version), so the same inputs always
  map to the same directory.
- :class:`RunLock`: an exclusive ``fcntl.flock`` on ``<run dir>/.lock``. A second run on the
  same directory fails at once with :class:`RunLockedError`. The kernel drops the lock when
  the holder dies, even by ``SIGKILL``, so a crashed run never leaves a stale lock.
- :class:`StagedOutputs`: every output is written into a private staging directory
  ``<run dir>/.staging-<pid>/`` and only :meth:`StagedOutputs.commit` moves the files to their
  final names (``os.replace``, atomic on one file system), ``summary.json`` last. A run that
  is killed or fails before the commit leaves no output file under its final name; its
  staging directory is removed on the way out, or by the next run after a ``SIGKILL``.
- :func:`log_to_file`: attaches a file handler for the ``gridopt`` loggers to ``run.log``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from gridopt.errors import GridoptError, InputError

logger = logging.getLogger(__name__)

#: Exit code of a run refused because another run holds the directory's lock.
EXIT_BUSY = 4

LOCK_NAME = ".lock"
STAGING_PREFIX = ".staging-"
LOG_NAME = "run.log"


class RunLockedError(GridoptError):
    """Another process is running a job in the same run directory (exit code 4)."""

    exit_code = EXIT_BUSY


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def compute_run_id(
    config_bytes: bytes,
    inputs: Mapping[str, Path],
    now_utc: str,
    version: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Return the run id: ``<now as YYYYMMDDTHHMMZ>-<12 hex digits of a SHA-256>``.

    The hash covers the config file's bytes, the name and content hash of every input file,
    the planning instant and the gridopt version (and ``extra`` key/values such as command-line
    overrides), so the same inputs give the same id and any change gives another.

    Parameters
    ----------
    config_bytes
        The job config file as read.
    inputs
        Input files by role (``readings``, ``mapping``, ...).
    now_utc
        Planning instant, ISO 8601 in UTC (``2022-10-20T08:00:00+00:00``).
    version
        ``gridopt.__version__``.
    extra
        Further strings that change the outputs.
    """
    digest = hashlib.sha256()
    digest.update(b"gridopt-run\0" + version.encode() + b"\0" + now_utc.encode() + b"\0")
    digest.update(hashlib.sha256(config_bytes).digest())
    for role in sorted(inputs):
        digest.update(f"{role}\0{file_sha256(inputs[role])}\0".encode())
    for key in sorted(extra or {}):
        digest.update(f"{key}={(extra or {})[key]}\0".encode())
    stamp = now_utc[:16].replace("-", "").replace(":", "")
    return f"{stamp}Z-{digest.hexdigest()[:12]}"


class RunLock:
    """Exclusive, non-blocking lock of a run directory (``fcntl.flock`` on ``.lock``).

    Use as a context manager; raises :class:`RunLockedError` when another process holds it.
    The lock file stays in place (removing a lock file while others may open it is racy); it
    holds the pid of the last holder, for diagnosis only.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunLockedError`."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 64, 0).decode().strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLockedError(
                    f"{self.path.parent}: another gridopt run (pid {holder or 'unknown'}) is "
                    "working in this run directory; wait for it to finish (the same inputs give "
                    "the same run directory), or use another --out-dir"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def remove_stale_staging(run_dir: Path) -> int:
    """Delete staging directories left by killed runs (call while holding the lock)."""
    removed = 0
    for entry in Path(run_dir).glob(f"{STAGING_PREFIX}*"):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %d staging director%s of an interrupted run", removed,
                    "y" if removed == 1 else "ies")
    return removed


class StagedOutputs:
    """Collect a run's output files in a staging directory, then publish them together.

    Every ``write_*`` method writes into ``<run dir>/.staging-<pid>/`` and returns the staged
    path; nothing appears under a final name until :meth:`commit`, which renames the staged
    files into the run directory one by one (``os.replace``), in the order given, and the
    ``last`` name (``summary.json``) at the end, so a reader who sees a new ``summary.json``
    sees every other file of that run. :meth:`discard` (also run on exceptions when used as a
    context manager) removes the staging directory.
    """

    def __init__(self, run_dir: Path, last: str = "summary.json") -> None:
        self.run_dir = Path(run_dir)
        self.staging = self.run_dir / f"{STAGING_PREFIX}{os.getpid()}"
        self.last = last
        self._names: list[str] = []
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()

    def path(self, name: str) -> Path:
        """Register ``name`` as an output and return its staged path (for writers)."""
        if "/" in name or name.startswith("."):
            raise InputError(f"output name {name!r} must be a plain file name")
        if name not in self._names:
            self._names.append(name)
        return self.staging / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Stage a file with the given bytes."""
        target = self.path(name)
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return target

    def write_json(self, name: str, obj: Any) -> Path:
        """Stage a JSON file (indented, keys in insertion order, trailing newline)."""
        return self.write_bytes(name, (json.dumps(obj, indent=2) + "\n").encode())

    @property
    def names(self) -> tuple[str, ...]:
        """Staged output names, in commit order."""
        ordered = [n for n in self._names if n != self.last]
        return (*ordered, self.last) if self.last in self._names else tuple(ordered)

    def commit(self) -> tuple[Path, ...]:
        """Move every staged file to its final name (``last`` at the end); return the paths."""
        done = []
        for name in self.names:
            source = self.staging / name
            if not source.exists():
                raise FileNotFoundError(f"staged output {name} was registered but not written")
            target = self.run_dir / name
            os.replace(source, target)
            done.append(target)
        _fsync_dir(self.run_dir)
        self.discard()
        return tuple(done)

    def discard(self) -> None:
        """Remove the staging directory and whatever it holds."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def log_to_file(path: Path, loggers: Sequence[str] = ("gridopt",)) -> Iterator[Path]:
    """Append the records of ``loggers`` (INFO and above, with timestamps) to ``path``.

    ``run.log`` is the only output with wall-clock times in it; it is appended to, so the log of
    every attempt on a run directory is kept.
    """
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    targets = [logging.getLogger(name) for name in loggers]
    previous = [lg.level for lg in targets]
    # Lowering the loggers' level to INFO for the file must not make the console (the root
    # handlers set up by the CLI) chattier: those only get what they got before.
    quiet = _ConsoleFilter({lg.name: lg.getEffectiveLevel() for lg in targets})
    root_handlers = list(logging.getLogger().handlers)
    for h in root_handlers:
        h.addFilter(quiet)
    for lg in targets:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield path
    finally:
        for lg, level in zip(targets, previous, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        for h in root_handlers:
            h.removeFilter(quiet)
        handler.close()


class _ConsoleFilter(logging.Filter):
    """Drop records of the given loggers below the level they had before the run."""

    def __init__(self, levels: Mapping[str, int]) -> None:
        super().__init__()
        self.levels = dict(levels)

    def filter(self, record: logging.LogRecord) -> bool:
        for name, level in self.levels.items():
            if record.name == name or record.name.startswith(name + "."):
                return record.levelno >= level
        return True


__all__ = [
    "EXIT_BUSY",
    "LOG_NAME",
    "RunLock",
    "RunLockedError",
    "StagedOutputs",
    "compute_run_id",
    "file_sha256",
    "log_to_file",
    "remove_stale_staging",
]
