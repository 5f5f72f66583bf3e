"""The OpenDSS reference solutions shipped with the test feeders, read independently of gridopt.

``reference_solution.csv`` gives every node's line-to-ground voltage (magnitude in pu of the bus
base and angle); ``reference_totals.json`` the source power and losses. Both were written by
OpenDSS itself (see each folder's SOURCE.md), so they are expected values that do not depend on
gridopt's reader.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

FEEDERS = Path(__file__).resolve().parents[1] / "data" / "feeders" / "opendss"

#: The file each feeder is loaded from (the run scripts repeat the reference's commands).
MASTER = {
    "ieee13": FEEDERS / "ieee13" / "IEEE13Nodeckt.dss",
    "ieee34": FEEDERS / "ieee34" / "run_snapshot.dss",
    "ieee37": FEEDERS / "ieee37" / "ieee37.dss",
    "ieee123": FEEDERS / "ieee123" / "run_snapshot.dss",
}


def totals(feeder: str) -> dict[str, Any]:
    """``reference_totals.json`` of a feeder."""
    out: dict[str, Any] = json.loads((FEEDERS / feeder / "reference_totals.json").read_text())
    return out


def balanced_voltages(feeder: str) -> dict[str, tuple[float, int]]:
    """``{bus: (balanced-equivalent voltage in pu, number of phases)}`` from the node voltages.

    Three-phase buses: positive-sequence magnitude ``|Va + a Vb + a^2 Vc| / 3``; one- and
    two-phase buses: mean phase magnitude. Buses without a voltage base are left out.
    """
    phasors: dict[str, dict[int, complex]] = defaultdict(dict)
    with open(FEEDERS / feeder / "reference_solution.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["vm_pu"]:
                continue
            phase = int(row["phase"])
            if phase in (1, 2, 3):
                vm, va = float(row["vm_pu"]), math.radians(float(row["va_degree"]))
                phasors[row["bus"].lower()][phase] = vm * complex(math.cos(va), math.sin(va))
    a = complex(math.cos(2 * math.pi / 3), math.sin(2 * math.pi / 3))
    out = {}
    for bus, ph in phasors.items():
        if len(ph) == 3:
            out[bus] = (abs(ph[1] + a * ph[2] + a * a * ph[3]) / 3.0, 3)
        else:
            out[bus] = (float(np.mean([abs(v) for v in ph.values()])), len(ph))
    return out
