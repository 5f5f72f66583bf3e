"""Reader for MATPOWER / PGLib-OPF case files (``.m``, format version 2).

Only the numeric matrices ``mpc.baseMVA``, ``mpc.bus``, ``mpc.gen``, ``mpc.branch`` and
``mpc.gencost`` are read; other fields (``bus_name``, ``areas``, ...) are ignored. The format is
the one documented in the MATPOWER manual, appendix B ("Data File Format").

MATLAB code after the matrices is not executed, with one exception: the two unit conversions
that MATPOWER's distribution cases (``case33bw``, ``case118zh``, ...) end with are recognised
and applied (:func:`_unit_conversions`): branch impedances given in ohms divided by
``Vbase^2 / Sbase`` (``Vbase = mpc.bus(1, BASE_KV) * 1e3``, ``Sbase = mpc.baseMVA * 1e6``), and
loads given in kW/kvar divided by ``1e3``. Any other statement that assigns to a part of ``mpc``
is an :class:`~gridopt.errors.InputError` rather than a silently different case.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gridopt.errors import InputError
from gridopt.network.case import CaseData, FloatArray
from gridopt.network.ppc_index import (
    ANGMAX,
    ANGMIN,
    BASE_KV,
    BR_B,
    BR_R,
    BR_STATUS,
    BR_X,
    BS,
    BUS_I,
    BUS_TYPE,
    COST,
    F_BUS,
    GEN_BUS,
    GEN_STATUS,
    GS,
    MODEL,
    NCOST,
    PD,
    PG,
    PIECEWISE_LINEAR,
    PMAX,
    PMIN,
    POLYNOMIAL,
    QD,
    QG,
    QMAX,
    QMIN,
    RATE_A,
    SHIFT,
    T_BUS,
    TAP,
    VA,
    VG,
    VM,
    VMAX,
    VMIN,
)

_MATRIX_RE = re.compile(r"mpc\.(\w+)\s*=\s*\[(.*?)\]\s*;", re.DOTALL)
_SCALAR_RE = re.compile(r"mpc\.baseMVA\s*=\s*([-+0-9.eE]+)\s*;")

_MIN_COLUMNS = {"bus": 13, "gen": 10, "branch": 11, "gencost": 4}

_BRANCH_OHMS_RE = re.compile(
    r"^mpc\.branch\(:,\s*\[BR_R,?\s+BR_X\]\)\s*=\s*mpc\.branch\(:,\s*\[BR_R,?\s+BR_X\]\)"
    r"\s*/\s*\(Vbase\s*\^\s*2\s*/\s*Sbase\)$")
_VBASE_RE = re.compile(r"^Vbase\s*=\s*mpc\.bus\(1,\s*BASE_KV\)\s*\*\s*1e3$")
_SBASE_RE = re.compile(r"^Sbase\s*=\s*mpc\.baseMVA\s*\*\s*1e6$")
_LOAD_KW_RE = re.compile(
    r"^mpc\.bus\(:,\s*\[PD,?\s+QD\]\)\s*=\s*mpc\.bus\(:,\s*\[PD,?\s+QD\]\)\s*/\s*1e3$")
_INDEXED_ASSIGN_RE = re.compile(r"^mpc\.\w+\s*\(")


def _code_statements(text: str) -> list[str]:
    """MATLAB statements outside the matrix literals, comments and trailing ``;`` removed."""
    rest = _MATRIX_RE.sub("", text)
    out = []
    for raw in rest.splitlines():
        line = raw.split("%", 1)[0].strip()
        for stmt in line.split(";"):
            stmt = stmt.strip()
            if stmt:
                out.append(stmt)
    return out


def _unit_conversions(text: str, path: Path) -> tuple[bool, bool]:
    """Which of MATPOWER's distribution-case unit conversions the file applies.

    Parameters
    ----------
    text
        The whole ``.m`` file.
    path
        Its path, for messages.

    Returns
    -------
    tuple of bool
        ``(branch_in_ohms, loads_in_kw)``: the file divides branch ``r, x`` by
        ``Vbase^2 / Sbase`` (with ``Vbase`` and ``Sbase`` defined as in MATPOWER's cases), and
        divides bus ``Pd, Qd`` by ``1e3``.

    Raises
    ------
    InputError
        Another statement assigns to part of ``mpc`` (code this reader does not run), or the
        impedance conversion uses a ``Vbase`` or ``Sbase`` defined otherwise.
    """
    statements = _code_statements(text)
    ohms = any(_BRANCH_OHMS_RE.match(s) for s in statements)
    kw = any(_LOAD_KW_RE.match(s) for s in statements)
    if ohms and not (any(_VBASE_RE.match(s) for s in statements)
                     and any(_SBASE_RE.match(s) for s in statements)):
        raise InputError(
            f"{path}: the branch impedances are converted from ohms with a Vbase or Sbase that is "
            "not 'Vbase = mpc.bus(1, BASE_KV) * 1e3' and 'Sbase = mpc.baseMVA * 1e6'; convert the "
            "case to per unit in MATPOWER (savecase) and load the saved file"
        )
    unknown = [s for s in statements if _INDEXED_ASSIGN_RE.match(s)
               and not (_BRANCH_OHMS_RE.match(s) or _LOAD_KW_RE.match(s))]
    if unknown:
        raise InputError(
            f"{path}: the file changes the case by MATLAB code that gridopt does not run "
            f"({unknown[0]!r}); run the case in MATPOWER, save it with savecase and load the "
            "saved file"
        )
    return ohms, kw


def _parse_matrix(body: str, field: str, path: Path) -> FloatArray:
    """Parse the body of a MATLAB matrix literal (rows end with ``;`` or a newline)."""
    rows = []
    for line_no, raw in enumerate(body.splitlines(), start=1):
        line = raw.split("%", 1)[0]
        for chunk in line.split(";"):
            tokens = chunk.replace(",", " ").split()
            if not tokens:
                continue
            try:
                rows.append([float(t) for t in tokens])
            except ValueError as exc:
                raise InputError(
                    f"{path}: mpc.{field}, row {len(rows) + 1} (line {line_no} of the matrix): "
                    f"{exc}; every entry must be a number"
                ) from None
    if not rows:
        return np.zeros((0, _MIN_COLUMNS.get(field, 0)))
    width = len(rows[0])
    for i, row in enumerate(rows, start=1):
        if len(row) != width:
            raise InputError(
                f"{path}: mpc.{field}, row {i} has {len(row)} columns but row 1 has {width}; "
                "every row of a matrix must have the same number of columns"
            )
    return np.asarray(rows, dtype=np.float64)


def read_matpower(path: str | Path) -> CaseData:
    """Read a MATPOWER/PGLib ``.m`` case file into a :class:`CaseData`.

    Parameters
    ----------
    path
        Path of the ``.m`` file.

    Returns
    -------
    CaseData
        The case with 0-based bus positions; out-of-service elements kept with their status.

    Raises
    ------
    InputError
        If the file is missing, unreadable, lacks a required matrix, has rows of unequal length,
        refers to an unknown bus, or uses a cost model other than polynomial of degree <= 2.

    Examples
    --------
    >>> from gridopt.network.matpower import read_matpower
    >>> from gridopt.network.samples import sample_case_path
    >>> case = read_matpower(sample_case_path("pglib_opf_case14_ieee"))
    >>> case.n_bus, case.n_gen, case.n_branch
    (14, 5, 20)

    Notes
    -----
    Long because it reads the MATPOWER sections in file order, each with its own validation
    message.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the path of the MATPOWER case") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from None

    matrices = {m.group(1): m.group(2) for m in _MATRIX_RE.finditer(text)}
    base = _SCALAR_RE.search(text)
    missing = [f for f in ("bus", "gen", "branch") if f not in matrices]
    if base is None:
        missing.insert(0, "baseMVA")
    if missing:
        raise InputError(
            f"{path}: not a MATPOWER case: no {', '.join('mpc.' + m for m in missing)} found; "
            "a case file defines mpc.baseMVA and the matrices mpc.bus, mpc.gen and mpc.branch"
        )
    assert base is not None
    base_mva = float(base.group(1))
    mats = {f: _parse_matrix(matrices[f], f, path) for f in ("bus", "gen", "branch")}
    gencost = _parse_matrix(matrices["gencost"], "gencost", path) if "gencost" in matrices else None
    for field, mat in mats.items():
        if mat.shape[1] < _MIN_COLUMNS[field]:
            raise InputError(
                f"{path}: mpc.{field} has {mat.shape[1]} columns, at least "
                f"{_MIN_COLUMNS[field]} are required (MATPOWER format version 2)"
            )
    bus, gen, branch = mats["bus"], mats["gen"], mats["branch"]
    if len(bus) == 0:
        raise InputError(f"{path}: mpc.bus is empty; a case needs at least one bus")
    branch_in_ohms, loads_in_kw = _unit_conversions(text, path)
    if branch_in_ohms:
        z_base_ohm = float(bus[0, BASE_KV]) ** 2 / base_mva
        branch[:, [BR_R, BR_X]] /= z_base_ohm
    if loads_in_kw:
        bus[:, [PD, QD]] /= 1e3

    bus_numbers = bus[:, BUS_I].astype(np.int64)
    position = {int(b): i for i, b in enumerate(bus_numbers)}
    if len(position) != len(bus_numbers):
        dup = int(bus_numbers[np.argmax(np.bincount(bus_numbers - bus_numbers.min()))])
        raise InputError(
            f"{path}: bus number {dup} appears twice in mpc.bus; bus numbers must be unique"
        )

    def to_positions(numbers: FloatArray, what: str) -> np.ndarray:
        out = np.empty(len(numbers), dtype=np.int64)
        for i, n in enumerate(numbers.astype(np.int64)):
            try:
                out[i] = position[int(n)]
            except KeyError:
                raise InputError(
                    f"{path}: {what} row {i + 1} refers to bus {int(n)}, which is not in mpc.bus"
                ) from None
        return out

    c2, c1, c0 = _polynomial_costs(gencost, len(gen), path)
    angmin = branch[:, ANGMIN] if branch.shape[1] > ANGMIN else np.full(len(branch), -360.0)
    angmax = branch[:, ANGMAX] if branch.shape[1] > ANGMAX else np.full(len(branch), 360.0)
    # MATPOWER treats angmin = angmax = 0 as "no limit".
    both_zero = (angmin == 0) & (angmax == 0)
    angmin = np.where(both_zero, -360.0, angmin)
    angmax = np.where(both_zero, 360.0, angmax)

    gen_numbers = gen[:, GEN_BUS].astype(np.int64)
    return CaseData(
        name=path.stem,
        base_mva=base_mva,
        bus_id=bus_numbers,
        bus_type=bus[:, BUS_TYPE].astype(np.int64),
        pd_mw=bus[:, PD],
        qd_mvar=bus[:, QD],
        gs_mw=bus[:, GS],
        bs_mvar=bus[:, BS],
        vm_pu=bus[:, VM],
        va_degree=bus[:, VA],
        base_kv=bus[:, BASE_KV],
        vmin_pu=bus[:, VMIN],
        vmax_pu=bus[:, VMAX],
        gen_bus=to_positions(gen[:, GEN_BUS], "mpc.gen"),
        pg_mw=gen[:, PG],
        qg_mvar=gen[:, QG],
        vg_pu=gen[:, VG],
        pmin_mw=gen[:, PMIN],
        pmax_mw=gen[:, PMAX],
        qmin_mvar=gen[:, QMIN],
        qmax_mvar=gen[:, QMAX],
        gen_in_service=gen[:, GEN_STATUS] > 0,
        cost_c2=c2,
        cost_c1=c1,
        cost_c0=c0,
        branch_from=to_positions(branch[:, F_BUS], "mpc.branch (from bus)"),
        branch_to=to_positions(branch[:, T_BUS], "mpc.branch (to bus)"),
        r_pu=branch[:, BR_R],
        x_pu=branch[:, BR_X],
        b_pu=branch[:, BR_B],
        rate_a_mva=branch[:, RATE_A],
        tap_ratio=branch[:, TAP],
        shift_degree=branch[:, SHIFT],
        angmin_degree=angmin,
        angmax_degree=angmax,
        branch_in_service=branch[:, BR_STATUS] > 0,
        bus_label=tuple(f"bus {n}" for n in bus_numbers),
        gen_label=tuple(f"gen {i} (bus {n})" for i, n in enumerate(gen_numbers)),
        branch_label=tuple(
            f"branch {i} ({int(f)}-{int(t)})"
            for i, (f, t) in enumerate(branch[:, [F_BUS, T_BUS]])
        ),
    )


def _polynomial_costs(
    gencost: FloatArray | None, n_gen: int, path: Path
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quadratic cost coefficients (c2, c1, c0) per generator from ``mpc.gencost``."""
    c2, c1, c0 = np.zeros(n_gen), np.zeros(n_gen), np.zeros(n_gen)
    if gencost is None:
        return c2, c1, c0
    if len(gencost) < n_gen:
        raise InputError(
            f"{path}: mpc.gencost has {len(gencost)} rows for {n_gen} generators; "
            "give one cost row per generator"
        )
    for g in range(n_gen):
        row = gencost[g]
        model, n = int(row[MODEL]), int(row[NCOST])
        if model == PIECEWISE_LINEAR:
            raise InputError(
                f"{path}: mpc.gencost row {g + 1} is piecewise linear (model 1); gridopt supports "
                "polynomial costs (model 2) of degree <= 2: convert the cost curve to a quadratic"
            )
        if model != POLYNOMIAL:
            raise InputError(f"{path}: mpc.gencost row {g + 1} has unknown cost model {model}")
        coeffs = row[COST : COST + n]
        if len(coeffs) < n:
            raise InputError(f"{path}: mpc.gencost row {g + 1} announces {n} coefficients "
                             f"but has {len(coeffs)}")
        if n > 3 and np.any(coeffs[: n - 3] != 0):
            raise InputError(
                f"{path}: mpc.gencost row {g + 1} is a polynomial of degree {n - 1}; gridopt "
                "supports degree <= 2 (quadratic costs)"
            )
        padded = np.zeros(3)
        take = min(n, 3)
        padded[3 - take :] = coeffs[n - take :]
        c2[g], c1[g], c0[g] = padded
    return c2, c1, c0
