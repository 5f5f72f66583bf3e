"""Fixtures of the store tests: a real PostgreSQL server (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.pg_server import ServerUnavailable, postgres_server


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """URI of a PostgreSQL server started for the session (fails, not skips, without one)."""
    try:
        with postgres_server() as uri:
            yield uri
    except ServerUnavailable as exc:
        pytest.fail(f"the PostgreSQL tests need a server: {exc}")
