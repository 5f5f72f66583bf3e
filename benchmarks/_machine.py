"""The machine a benchmark ran on, for the raw-runs JSON beside each fragment.

Imports nothing of gridopt's stack: call it before the timed runs (a child's peak resident set,
``ru_maxrss``, starts from its parent's size at the fork).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """Platform, CPU model, cores, memory (GiB), Python and the load average now."""
    cpu = platform.processor() or platform.machine()
    mem_gib = None
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                    if ln.startswith("model name")), cpu)
        meminfo = Path("/proc/meminfo").read_text().split()
        mem_gib = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": mem_gib, "python": platform.python_version(),
            "load_average": list(os.getloadavg())}
