"""Small job configs on the shipped sample data (short training, no reconfiguration)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

DATA = REPO / "data"
NOW = "2022-10-20T00:00"

SMALL = """\
[job]
name = "test-small"
now = "{now}"

[network]
spec = "case33bw"
assets = "assets.toml"

[readings]
path = "homes.csv"
mapping = "mapping.csv"
tz = "Etc/GMT+8"

[forecast]
horizon_steps = {horizon}
train_days = 21
production = true
country = "US"
latitude_deg = 34.1
longitude_deg = -117.4
max_iter = 15
threads = 1

[reconfigure]
enabled = {reconfigure}
periods = 1
max_switching = 2

[dispatch]
max_iterations = 12

[output]
dir = "runs"
plots = {plots}
"""


def write_job(
    folder: Path,
    *,
    horizon: int = 12,
    reconfigure: bool = False,
    plots: bool = True,
    now: str = NOW,
    extra: str = "",
) -> Path:
    """Copy the sample inputs into ``folder`` and write ``job.toml`` next to them."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "meters" / "citylearn_homes_12w.csv", folder / "homes.csv")
    shutil.copy(DATA / "meters" / "case33bw_mapping.csv", folder / "mapping.csv")
    shutil.copy(DATA / "jobs" / "case33bw_assets.toml", folder / "assets.toml")
    text = SMALL.format(now=now, horizon=horizon, reconfigure=str(reconfigure).lower(),
                        plots=str(plots).lower()) + extra
    path = folder / "job.toml"
    path.write_text(text)
    return path


@pytest.fixture
def small_job(tmp_path: Path) -> Path:
    """A small job config (12 hourly periods, 15 boosting iterations, no reconfiguration)."""
    return write_job(tmp_path / "job")
