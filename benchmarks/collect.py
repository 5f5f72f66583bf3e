"""Assemble docs/benchmarks.md from the per-area fragments in docs/benchmarks/*.md.

Each benchmark script writes its own fragment (machine, versions, medians, ratios against the
peer run in the same script); this script only concatenates them in a fixed order, so that the
figures in docs/benchmarks.md are always those the scripts produced.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORDER = ["acopf", "dc_opf", "ingest", "formats", "store", "forecast", "fleet_forecast",
         "dispatch", "fleet", "reconfigure"]

HEADER = """# Benchmarks

Every figure below was written by a script in `benchmarks/` (named in each section), which runs
gridopt and its peers on the same problem and data, with the same timing scope, a warm-up for
each and the repeats interleaved; cells give the median and the spread (min-max) unless stated,
and every run (machine, versions, load average, each repeat) is in the JSON beside the section's
fragment in `docs/benchmarks/`. Where a peer cannot solve the same problem
the table says so and gives no ratio. Regenerate everything with `make bench-all` (about an
hour), one area with the script named in its section, then `python benchmarks/collect.py`. Timed
assertions do not belong in the tests: these figures are measurements, not pass/fail gates. The
development machines are shared 2-core virtual machines; each section records its load.
"""


def main() -> None:
    fragments = REPO / "docs" / "benchmarks"
    names = sorted(p.stem for p in fragments.glob("*.md"))
    ordered = [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]
    parts = [HEADER]
    for name in ordered:
        parts.append((fragments / f"{name}.md").read_text().strip() + "\n")
    out = REPO / "docs" / "benchmarks.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
