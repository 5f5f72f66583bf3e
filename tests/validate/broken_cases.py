"""Networks built to break the AC check: small edits of PGLib case14.

Each ``.m`` variant is the shipped ``pglib_opf_case14_ieee`` with a few rows changed; the tests
write it to ``tmp_path``. Row positions are 0-based within each matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import pglib_path

CASE14_TEXT = pglib_path("pglib_opf_case14_ieee").read_text()

Edit = Callable[[int, list[str]], list[str]]


def edit_rows(text: str, matrix: str, edit: Edit) -> str:
    """Rewrite every data row of ``mpc.<matrix>`` with ``edit(row position, columns)``."""
    head, rest = text.split(f"mpc.{matrix} = [", 1)
    body, tail = rest.split("];", 1)
    rows, k = [], 0
    for line in body.splitlines():
        cols = line.split("%")[0].split(";")[0].split()
        if cols:
            rows.append("\t" + "\t".join(edit(k, cols)) + ";")
            k += 1
        else:
            rows.append(line)
    return head + f"mpc.{matrix} = [" + "\n".join(rows) + "];" + tail


def add_rows(text: str, matrix: str, rows: list[str]) -> str:
    """Append rows (whitespace-separated columns) to ``mpc.<matrix>``."""
    head, rest = text.split(f"mpc.{matrix} = [", 1)
    body, tail = rest.split("];", 1)
    extra = "".join(f"\t{row};\n" for row in rows)
    return head + f"mpc.{matrix} = [" + body.rstrip() + "\n" + extra + "];" + tail


def _at(position: int, change: Callable[[list[str]], list[str]]) -> Edit:
    return lambda k, c: change(c) if k == position else c


# Branch rows of case14: 6 is the line 4-5, 7 the transformer 4-7 (tap 0.978, r = 0).
LINE_4_5, TRAFO_4_7 = 6, 7
_NEW_BUS = "{n} {kind} {pd} {qd} 0.0 0.0 1 1.0 0.0 1.0 1 1.06 0.94"


def zero_reactance_line() -> str:
    """Line 4-5 with x = 0 and its resistance kept (pandapower's DC start divides by x)."""
    return edit_rows(CASE14_TEXT, "branch", _at(LINE_4_5, lambda c: [*c[:3], "0.0", *c[4:]]))


def zero_reactance_transformer() -> str:
    """Transformer 4-7 with r = 0.01, x = 0."""
    return edit_rows(CASE14_TEXT, "branch",
                     _at(TRAFO_4_7, lambda c: [*c[:2], "0.01", "0.0", *c[4:]]))


def zero_impedance_line() -> str:
    """Line 4-5 with r = x = 0: no admittance, so no OPF can be set up."""
    return edit_rows(CASE14_TEXT, "branch",
                     _at(LINE_4_5, lambda c: [*c[:2], "0.0", "0.0", *c[4:]]))


def zero_rating_line() -> str:
    """Line 1-2 with rate_a = rate_b = rate_c = 0 (unlimited in MATPOWER)."""
    return edit_rows(CASE14_TEXT, "branch", _at(0, lambda c: [*c[:5], "0", "0", "0", *c[8:]]))


def isolated_bus_type4() -> str:
    """Bus 14 (with its load and two lines) marked isolated (type 4)."""
    return edit_rows(CASE14_TEXT, "bus", _at(13, lambda c: [c[0], "4", *c[2:]]))


def bus_without_branches() -> str:
    """An extra PQ bus 15 with no branch, no load and no generator."""
    return add_rows(CASE14_TEXT, "bus", [_NEW_BUS.format(n=15, kind=1, pd=0.0, qd=0.0)])


def island_with_generator() -> str:
    """An island (buses 15-16, one line) with its own generator and load, no reference bus."""
    text = add_rows(CASE14_TEXT, "bus", [_NEW_BUS.format(n=15, kind=1, pd=0.0, qd=0.0),
                                         _NEW_BUS.format(n=16, kind=2, pd=10.0, qd=3.0)])
    text = add_rows(text, "branch", ["15 16 0.01 0.05 0.0 100 100 100 0.0 0.0 1 -30.0 30.0"])
    text = add_rows(text, "gen", ["16 10.0 0.0 20.0 -20.0 1.0 100.0 1 50 0.0"])
    return add_rows(text, "gencost", ["2 0.0 0.0 3 0.0 30.0 0.0"])


def equal_generator_limits() -> str:
    """Generator 1 (bus 2) with pmin = pmax = 40 MW."""
    return edit_rows(CASE14_TEXT, "gen", _at(1, lambda c: [*c[:8], "40", "40"]))


def out_of_service_reference_generator() -> str:
    """The only generator at the reference bus 1 out of service; bus 2's can carry the load."""
    def edit(k: int, c: list[str]) -> list[str]:
        if k == 0:
            return [*c[:7], "0", *c[8:]]
        if k == 1:
            return [c[0], c[1], c[2], "200.0", "-200.0", *c[5:8], "400", "0.0"]
        return c

    return edit_rows(CASE14_TEXT, "gen", edit)


MATPOWER_VARIANTS: dict[str, Callable[[], str]] = {
    "zero_reactance_line": zero_reactance_line,
    "zero_reactance_transformer": zero_reactance_transformer,
    "zero_rating_line": zero_rating_line,
    "isolated_bus_type4": isolated_bus_type4,
    "bus_without_branches": bus_without_branches,
    "island_with_generator": island_with_generator,
    "equal_generator_limits": equal_generator_limits,
    "out_of_service_reference_generator": out_of_service_reference_generator,
}


def write_variant(name: str, directory: Path) -> Path:
    """Write variant ``name`` as ``<directory>/<name>.m`` and return the path."""
    path = directory / f"{name}.m"
    variants = {**MATPOWER_VARIANTS, "zero_impedance_line": zero_impedance_line}
    path.write_text(variants[name]())
    return path

