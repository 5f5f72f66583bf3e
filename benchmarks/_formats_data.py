"""Generated meter exports for benchmarks/bench_formats.py (a year of one meter each).

Green Button comes from ``tests/ingest/formats/fixtures.py`` (the structure of the OpenESPI
sample); NEM12 and MSCONS follow the structure of the shared samples
(``tests/data/formats/Example_NEM12_actual_interval.csv``, ``MSCONS_TL_SAMPLE01.txt``).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def write_green_button(path: Path, n_readings: int) -> dict[str, float]:
    """A Green Button feed of ``n_readings`` 15-minute readings (see the test fixture)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.ingest.formats.fixtures import write_year

    return write_year(path, n_readings)


def write_nem12(path: Path, n_days: int, interval_min: int = 15, seed: int = 5) -> dict[str, float]:
    """A NEM12 file of one NMI with an E1 and a B1 channel over ``n_days`` days."""
    rng = np.random.default_rng(seed)
    n = 1440 // interval_min
    lines = ["100,NEM12,202401010000,MDA1,Ret1"]
    total = 0.0
    start = datetime(2024, 1, 1)
    for suffix in ("E1", "B1"):
        lines.append(f"200,NEM1234567,E1B1,1,{suffix},N1,METSER1,kWh,{interval_min},")
        for day in range(n_days):
            values = np.round(rng.uniform(0.0, 0.5, n), 3)
            total += float(values.sum())
            date = (start + timedelta(days=day)).strftime("%Y%m%d")
            lines.append(f"300,{date}," + ",".join(f"{v:.3f}" for v in values)
                         + ",A,,,20240102000000,")
    lines.append("900")
    path.write_text("\r\n".join(lines) + "\r\n")
    return {"sum_kwh": total, "readings": float(2 * n * n_days)}


def write_mscons(path: Path, n_readings: int, seed: int = 9) -> dict[str, float]:
    """An MSCONS interchange of one metering point with ``n_readings`` quarter-hour values."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0.0, 2.0, n_readings), 3)
    start = datetime(2015, 12, 1)
    step = timedelta(minutes=15)
    segs = ["UNB+UNOC:3+1234567889111:500+12100006987265:500+160112:1347+1++TL",
            "UNH+1+MSCONS:D:04B:UN:2.2e", "BGM+7+1-1+9", "DTM+137:201601121347:203",
            "NAD+MS+1234567889111::293", "NAD+MR+12100006987265::293", "UNS+D", "NAD+DP",
            "LOC+172+DE0001062600000001000000022345671", "LIN+1", "PIA+5+1-1?:1.29.0:SRW"]
    for k in range(n_readings):
        t0 = (start + k * step).strftime("%Y%m%d%H%M")
        t1 = (start + (k + 1) * step).strftime("%Y%m%d%H%M")
        segs += [f"QTY+220:{values[k]:.3f}".replace(".", ","), f"DTM+163:{t0}?+01:303",
                 f"DTM+164:{t1}?+01:303"]
    segs.append(f"UNT+{len(segs)}+1")
    segs.append("UNZ+1+1")
    path.write_text("UNA:+,? '" + "'".join(segs) + "'", encoding="latin-1")
    return {"sum_kwh": float(values.sum()), "readings": float(n_readings)}
