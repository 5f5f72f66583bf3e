"""The one network model: what every layer above ``network/`` knows of a grid.

A :class:`NetworkModel` is built once from the source (a pandapower net, a MATPOWER case; see
:mod:`gridopt.network.pandapower_model`, :mod:`gridopt.network.case_model`) and never changes.
It describes the elements as the source has them, before any switch is resolved:
:class:`Buses`, :class:`Branches` (lines, transformers, three-winding transformer windings,
impedances, with per-unit series and shunt admittances, taps, shifts and ratings in MVA computed
by pandapower's own conversion), :class:`Switches` (line, transformer and bus-bus switches with
their state and whether they may be operated), the controllable
:class:`~gridopt.network.assets.Assets`, the fixed :class:`Injections`, the supply points, bus
coordinates, and a reference back to the source element of every row (:data:`ElementRef`).

:class:`gridopt.network.load.LoadedNetwork` carries the model together with the electrical case
of the AC/DC-OPF (the source's switches resolved exactly as pandapower's power flow does, buses
fused at closed bus-bus switches, auxiliary buses at open line ends) and its
:class:`ElementMap`; ``validate/`` alone touches the pandapower net, through those maps.

Views for the formulations are pure functions of the model and a
:class:`~gridopt.network.topology.Configuration` (which switches are closed, which branches in
service: the source's, or a reconfiguration's): ``opf/dispatch/grid.py``,
``opf/switching/topology.py``, both through :func:`gridopt.network.topology.resolve`.

Units are in the field names; ratings are ``inf`` for unrated branches (MATPOWER ``rate_a = 0``,
pandapower ``max_i_ka >= 9e4`` or a rating of 1e5 MVA and more: :func:`rating_or_inf`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields

import numpy as np
from numpy.typing import NDArray

from gridopt.errors import InputError
from gridopt.network.assets import Assets
from gridopt.network.case import BoolArray, FloatArray, IntArray

#: A source element: (table name, index in that table), e.g. ``("trafo", 2)``.
ElementRef = tuple[str, int]

#: Ratings at or above this are "no rating" (pandapower's 99999 kA lines, 1e5+ MVA stand-ins).
UNRATED_MVA = 1.0e5
#: pandapower marks unlimited lines with ``max_i_ka`` of this order (99999).
UNRATED_KA = 9.0e4


def rating_or_inf(rate_mva: float | FloatArray) -> FloatArray:
    """Ratings in MVA with "no rating" (0, NaN, negative, >= :data:`UNRATED_MVA`) as ``inf``.

    >>> rating_or_inf(np.array([0.0, 12.5, 2e6, np.nan])).tolist()
    [inf, 12.5, inf, inf]
    """
    r = np.asarray(rate_mva, dtype=float)
    return np.where(np.isfinite(r) & (r > 0) & (r < UNRATED_MVA), r, math.inf)


class BranchKind(enum.Enum):
    """Source element behind a branch row."""

    LINE = "line"
    TRAFO = "trafo"
    TRAFO3W = "trafo3w"  # one winding, between a terminal bus and the star point
    IMPEDANCE = "impedance"
    XWARD = "xward"  # the series branch of an extended ward
    SWITCH = "switch"  # a bus-bus switch with an impedance (pandapower ``z_ohm``)
    MATPOWER = "branch"  # a MATPOWER branch row


class SwitchKind(enum.Enum):
    """What a switch connects: a line end, a transformer end, or two buses."""

    LINE = "l"
    TRAFO = "t"
    BUS = "b"


class InjectionKind(enum.Enum):
    """Fixed (non-controllable) power injections and withdrawals at a bus."""

    LOAD = "load"
    SGEN = "sgen"
    STORAGE = "storage"
    GEN = "gen"
    SHUNT = "shunt"
    WARD = "ward"


def _frozen(obj: object) -> None:
    """Make every numpy array field of a dataclass read-only (copies)."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            arr = np.array(value, copy=True)
            arr.flags.writeable = False
            object.__setattr__(obj, f.name, arr)


def _check_lengths(obj: object, n: int, what: str) -> None:
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray | tuple) and len(value) != n:
            raise InputError(f"{what}: column {f.name} has {len(value)} entries, expected {n}")


@dataclass(frozen=True, eq=False)
class Buses:
    """Bus rows (positions ``0..n-1``).

    ``vmin_pu``/``vmax_pu`` are NaN where the source gives no limit; ``x``/``y`` are NaN
    without coordinates (their unit is the source's: degrees for geographic data).
    """

    ref: tuple[ElementRef, ...]
    name: tuple[str, ...]
    vn_kv: FloatArray
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    in_service: BoolArray
    x: FloatArray
    y: FloatArray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.ref), "buses")
        _frozen(self)

    def __len__(self) -> int:
        return len(self.ref)

    def position(self) -> dict[ElementRef, int]:
        """``{source element: bus position}``."""
        return {r: i for i, r in enumerate(self.ref)}


@dataclass(frozen=True, eq=False)
class Branches:
    r"""Branch rows in per unit on the model's ``base_mva`` (MATPOWER pi model).

    ``tap_ratio`` (1 for lines) and ``shift_rad`` sit at the ``from_bus`` end; ``g_pu``/``b_pu``
    are the total shunt admittance, half at each end inside the tap. ``rate_mva`` is ``inf``
    when unrated. ``side`` names the winding (``hv``/``mv``/``lv``) of a three-winding
    transformer, ``""`` otherwise.
    """

    ref: tuple[ElementRef, ...]
    side: tuple[str, ...]
    kind: tuple[BranchKind, ...]
    from_bus: IntArray
    to_bus: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
    g_pu: FloatArray
    b_pu: FloatArray
    tap_ratio: FloatArray
    shift_rad: FloatArray
    rate_mva: FloatArray
    in_service: BoolArray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.ref), "branches")
        _frozen(self)

    def __len__(self) -> int:
        return len(self.ref)

    def label(self, k: int) -> str:
        """Human-readable name of branch ``k``, e.g. ``"line 3"``, ``"trafo3w 0 lv"``."""
        table, index = self.ref[k]
        return f"{table} {index}" + (f" {self.side[k]}" if self.side[k] else "")


@dataclass(frozen=True, eq=False)
class Switches:
    """Switch rows: ``bus`` is the bus the switch sits at; ``branch`` the branch it opens
    (line/transformer switches) or ``-1``; ``other_bus`` the second bus of a bus-bus switch or
    ``-1``. ``r_pu`` is a bus-bus switch's resistance when closed (0 for an ideal switch).
    ``operable``: the switch may be opened or closed by a reconfiguration."""

    ref: tuple[ElementRef, ...]
    kind: tuple[SwitchKind, ...]
    bus: IntArray
    branch: IntArray
    other_bus: IntArray
    closed: BoolArray
    operable: BoolArray
    r_pu: FloatArray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.ref), "switches")
        _frozen(self)

    def __len__(self) -> int:
        return len(self.ref)

    def label(self, k: int) -> str:
        """Human-readable name of switch ``k``, e.g. ``"switch 12"``."""
        table, index = self.ref[k]
        return f"{table} {index}"


@dataclass(frozen=True, eq=False)
class Injections:
    """Fixed injections at buses (positive ``p_mw`` consumes, as a load): loads, static
    generators (negative), storage, non-slack generators (negative), shunts and wards at 1 pu.
    ``in_service`` rows only; controllable rows are :class:`Assets` instead."""

    ref: tuple[ElementRef, ...]
    kind: tuple[InjectionKind, ...]
    bus: IntArray
    p_mw: FloatArray
    q_mvar: FloatArray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.ref), "injections")
        _frozen(self)

    def __len__(self) -> int:
        return len(self.ref)

    def by_bus(self, n_bus: int) -> tuple[FloatArray, FloatArray]:
        """Total ``(p_mw, q_mvar)`` per bus position."""
        p = np.bincount(self.bus, weights=self.p_mw, minlength=n_bus).astype(np.float64)
        q = np.bincount(self.bus, weights=self.q_mvar, minlength=n_bus).astype(np.float64)
        return p, q


@dataclass(frozen=True, eq=False)
class Supplies:
    """Supply points (pandapower ``ext_grid`` and slack ``gen``, the MATPOWER reference bus):
    their bus, voltage set-point and source element."""

    ref: tuple[ElementRef, ...]
    bus: IntArray
    vm_pu: FloatArray

    def __post_init__(self) -> None:
        _check_lengths(self, len(self.ref), "supplies")
        _frozen(self)

    def __len__(self) -> int:
        return len(self.ref)


@dataclass(frozen=True)
class ElementMap:
    """Which source elements each position of the electrical :class:`CaseData` stands for.

    Attributes
    ----------
    bus
        For every case bus, the source elements it represents: one or more buses
        (``("bus", 12)``; several when closed bus-bus switches fuse them) or, for an auxiliary
        bus pandapower adds, the element that owns it (``("trafo3w", 0)`` for a star point,
        ``("xward", 1)`` for an extended ward's internal bus, ``("line", 7)`` for the open end
        of a line behind an open switch).
    gen
        For every case generator, its element (``("ext_grid", 0)``, ``("gen", 3)``,
        ``("sgen", 5)`` for a controllable static generator, ``("load", 2)`` for a controllable
        load, which the case holds as a generator of negative output).
    branch
        For every case branch, its element (``("line", 17)``, ``("trafo", 2)``,
        ``("trafo3w", 0)`` three times, ``("impedance", 1)``, ``("xward", 0)``,
        ``("switch", 4)``).
    branch_side
        ``"hv"``, ``"mv"`` or ``"lv"`` for the three branches of a three-winding transformer,
        ``""`` otherwise.
    """

    bus: tuple[tuple[ElementRef, ...], ...]
    gen: tuple[ElementRef, ...]
    branch: tuple[ElementRef, ...]
    branch_side: tuple[str, ...]

    def bus_position(self) -> dict[int, int]:
        """Return ``{source bus index: case bus position}`` for every mapped source bus."""
        out: dict[int, int] = {}
        for pos, members in enumerate(self.bus):
            for table, index in members:
                if table == "bus":
                    out[index] = pos
        return out


class SourceKind(enum.Enum):
    """Where a network came from."""

    PANDAPOWER_BUILTIN = "pandapower_builtin"
    PANDAPOWER_JSON = "pandapower_json"
    PANDAPOWER_OBJECT = "pandapower_object"
    MATPOWER = "matpower"
    SIMBENCH = "simbench"
    OPENDSS = "opendss"


@dataclass(frozen=True, eq=False)
class NetworkModel:
    """Everything the layers above ``network/`` need of one grid (see the module docstring).

    Attributes
    ----------
    name
        Network name.
    base_mva
        Power base of every per-unit quantity.
    buses, branches, switches, injections, supplies
        The source's elements, switches unresolved.
    assets
        Controllable assets declared in the source (storage, curtailable PV, flexible loads,
        generators, the grid connection's limits).
    """

    name: str
    base_mva: float
    buses: Buses
    branches: Branches
    switches: Switches
    injections: Injections
    supplies: Supplies
    assets: Assets
    notes: tuple[str, ...] = field(default=())

    def bus_ids(self) -> NDArray[np.int64]:
        """Source index of every bus row that is a source bus (``-1`` for auxiliary buses)."""
        return np.array([i if t == "bus" else -1 for t, i in self.buses.ref], dtype=np.int64)

    def bus_position(self, bus_id: int, where: str) -> int:
        """Position of the source bus ``bus_id``; :class:`InputError` naming ``where`` if none."""
        pos = self.buses.position().get(("bus", int(bus_id)))
        if pos is None:
            raise InputError(f"{where}: bus {bus_id} is not a bus of network {self.name!r}")
        return pos
