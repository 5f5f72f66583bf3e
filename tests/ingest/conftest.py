"""Fixtures of the ingestion tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "meters"


@pytest.fixture()
def samples() -> Path:
    """The sample data directory of the repository (data/meters)."""
    return SAMPLES
