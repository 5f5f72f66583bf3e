"""A throw-away PostgreSQL server for the tests and the store benchmark (Debian's binaries).

The server runs as an unprivileged user (PostgreSQL refuses to run as root): ``postgres`` when
that account exists, else ``nobody``, with its data directory and unix socket directory under
``/tmp``, on a free TCP port of 127.0.0.1, trust authentication, and is stopped and deleted on
exit. ``.ci/run`` installs the ``postgresql`` package when the binaries are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server does not start."""


def pg_bin() -> Path:
    """The ``bin`` folder of the newest installed PostgreSQL (``/usr/lib/postgresql/N/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    raise ServerUnavailable(
        "PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on "
        "PATH; install Debian's package: apt-get install -y postgresql (.ci/run does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise ServerUnavailable("running as root and neither a 'postgres' nor a 'nobody' account "
                            "exists to run the server as")


def _run(cmd: list[str], user: str | None) -> subprocess.CompletedProcess[str]:
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server, yield its URI (``postgresql://postgres@127.0.0.1:PORT/postgres``)."""
    bindir = pg_bin()
    user = _user()
    root = Path(tempfile.mkdtemp(prefix="gridopt-pg-", dir="/tmp"))
    data, sock = root / "data", root / "sock"
    data.mkdir()
    sock.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for p in (root, data, sock):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    try:
        init = _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                     "--auth=trust", "--encoding=UTF8", "--no-sync"], user)
        if init.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {init.stderr.strip()}")
        options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c shared_buffers=128MB")
        start = _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                      "-o", options, "-w", "-t", "60", "start"], user)
        if start.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            raise ServerUnavailable(f"pg_ctl start failed: {start.stderr.strip()} {log}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                 user)
    finally:
        shutil.rmtree(root, ignore_errors=True)
