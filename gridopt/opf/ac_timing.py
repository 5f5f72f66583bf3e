"""Ipopt's own timing statistics (``print_timing_statistics``) for AC-OPF solves.

A timer around the Python callbacks misses what cyipopt does around them (argument and
result copies, the Python call itself); Ipopt's "Function Evaluations" timer covers all of it,
measured from inside Ipopt. :func:`timing_options` adds the Ipopt options that write the
statistics to a file; :func:`parse_timing_statistics` reads the wall times back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``Name....: cpu (sys: s wall: w)`` lines of Ipopt 3.14's timing table.
_LINE = re.compile(r"^\s*([A-Za-z0-9 ]+?)\.*:\s*[-0-9.eE+]+\s*\(sys:\s*[-0-9.eE+]+\s*wall:\s*"
                   r"([-0-9.eE+]+)\)")


@dataclass(frozen=True)
class IpoptTiming:
    """Wall seconds of Ipopt's timers (``OverallAlgorithm``, ``Function Evaluations``, ...).

    Ipopt prints them with millisecond resolution.
    """

    wall_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Ipopt's ``OverallAlgorithm`` wall time."""
        return self.wall_seconds.get("OverallAlgorithm", 0.0)

    @property
    def function_eval_seconds(self) -> float:
        """Ipopt's ``Function Evaluations`` wall time (all callbacks, as seen from Ipopt)."""
        return self.wall_seconds.get("Function Evaluations", 0.0)

    def __add__(self, other: IpoptTiming) -> IpoptTiming:
        keys = set(self.wall_seconds) | set(other.wall_seconds)
        return IpoptTiming({
            k: self.wall_seconds.get(k, 0.0) + other.wall_seconds.get(k, 0.0) for k in keys
        })


def timing_options(path: Path) -> tuple[tuple[str, Any], ...]:
    """Ipopt options writing the summary and the timing statistics to ``path``.

    ``file_print_level`` 3 writes the final summary without the per-iteration lines.
    """
    return (
        ("output_file", str(path)),
        ("file_print_level", 3),
        ("print_timing_statistics", "yes"),
    )


def parse_timing_statistics(text: str) -> IpoptTiming:
    """Wall seconds of every timer in Ipopt's "Timing Statistics" output.

    Parameters
    ----------
    text
        Ipopt's output (console or ``output_file``) of one solve.

    Returns
    -------
    IpoptTiming
        Empty when the text has no timing table.
    """
    start = text.rfind("Timing Statistics:")
    if start < 0:
        return IpoptTiming()
    wall: dict[str, float] = {}
    for line in text[start:].splitlines():
        m = _LINE.match(line)
        if m:
            name = m.group(1).strip()
            # Sub-timers repeat names under different parents in no Ipopt 3.14 table; keep
            # the first of any duplicate (the top-level one).
            wall.setdefault(name, float(m.group(2)))
    return IpoptTiming(wall)
