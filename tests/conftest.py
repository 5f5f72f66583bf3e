"""Shared fixtures: the PGLib cases shipped in data/pglib and their reference objectives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PGLIB_DIR = REPO / "data" / "pglib"


@dataclass(frozen=True)
class Baseline:
    """Reference objectives of one PGLib case (from data/pglib/BASELINE.md)."""

    case: str
    n_bus: int
    n_branch: int
    ac_objective: float
    ac_seconds: str
    dc_objective: float


def read_baseline() -> dict[str, Baseline]:
    """Parse the table of data/pglib/BASELINE.md."""
    rows = {}
    pattern = re.compile(
        r"^\|\s*(pglib_\w+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([0-9.eE+-]+)\s*\|\s*([^|]+?)\s*\|"
        r"\s*([0-9.eE+-]+)\s*\|"
    )
    for line in (PGLIB_DIR / "BASELINE.md").read_text().splitlines():
        m = pattern.match(line)
        if m:
            rows[m.group(1)] = Baseline(
                m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4)), m.group(5),
                float(m.group(6)),
            )
    return rows


BASELINE = read_baseline()
SMALL_CASES = [c for c, b in BASELINE.items() if b.n_bus <= 300]
LARGE_CASES = [c for c, b in BASELINE.items() if b.n_bus > 300]


@pytest.fixture(scope="session")
def baseline() -> dict[str, Baseline]:
    """Reference objectives keyed by case name."""
    return BASELINE


def pglib_path(case: str) -> Path:
    """Path of a PGLib case in data/pglib."""
    return PGLIB_DIR / f"{case}.m"
