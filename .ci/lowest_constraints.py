"""Print a pip constraints file pinning every runtime dependency of gridopt to its lower bound.

``make test-lowest`` installs the dependencies with these pins into its own venv and runs the
tests on the source tree, so the ranges in pyproject.toml are ranges that have been tested at
both ends (the main venv tests the newest releases the ranges allow). With ``--requirements`` it
prints the requirement lines instead (runtime dependencies and the test extra).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if "--requirements" in sys.argv[1:]:
        for spec in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
            print(spec)
        return
    for spec in project["dependencies"]:
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:\[.*\])?\s*(.*)$", spec)
        if not m:
            sys.exit(f"cannot parse dependency {spec!r}")
        name, ranges = m.groups()
        lower = re.search(r">=\s*([^,\s]+)", ranges)
        if lower:
            print(f"{name}=={lower.group(1)}")


if __name__ == "__main__":
    main()
