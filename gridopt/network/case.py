"""The raw case: a network in MATPOWER semantics, as named numeric columns.

A :class:`CaseData` is what every network source (MATPOWER/PGLib ``.m`` files, pandapower nets,
SimBench grids) is turned into before the optimisation layer sees it. It keeps physical units
(MW, Mvar, kV, degrees) and per-unit impedances on ``base_mva`` exactly as MATPOWER does, with
0-based *positions* instead of external bus numbers. Out-of-service elements are kept (with their
status flag) so that results can be mapped back onto every element of the source.

:func:`gridopt.network.arrays.build_network` turns it into the solver-facing
:class:`~gridopt.network.arrays.Network`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gridopt.errors import InputError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: MATPOWER bus types.
PQ, PV, REF, ISOLATED = 1, 2, 3, 4

#: MATPOWER uses |angle limit| >= 360 degrees (or 0/0) for "no angle-difference limit".
NO_ANGLE_LIMIT_DEG = 360.0


@dataclass(frozen=True, eq=False)
class CaseData:
    """A network in MATPOWER semantics with named columns (read-only arrays).

    Attributes
    ----------
    name
        Case name (file stem or pandapower network name).
    base_mva
        System MVA base of the per-unit branch data.
    bus_id
        External bus numbers (MATPOWER ``BUS_I`` or pandapower bus index), shape ``(n_bus,)``.
    bus_type
        1 PQ, 2 PV, 3 reference, 4 isolated.
    pd_mw, qd_mvar
        Fixed demand at each bus.
    gs_mw, bs_mvar
        Shunt conductance and susceptance (MW / Mvar consumed / injected at 1 pu voltage).
    vm_pu, va_degree
        Voltage magnitude and angle in the case (start point hints).
    base_kv
        Nominal voltage.
    vmin_pu, vmax_pu
        Voltage magnitude limits.
    gen_bus
        Bus *position* of each generator.
    pg_mw, qg_mvar, vg_pu
        Generator set-points in the case.
    pmin_mw, pmax_mw, qmin_mvar, qmax_mvar
        Generator capability limits.
    gen_in_service
        Generator status.
    cost_c2, cost_c1, cost_c0
        Quadratic cost ``c2 * p_mw**2 + c1 * p_mw + c0`` in $/h.
    branch_from, branch_to
        Bus positions of the two ends; the tap is on the "from" side.
    r_pu, x_pu, b_pu
        Series resistance and reactance and total line charging susceptance (per unit).
    g_pu
        Total charging conductance, split half to each end inside the tap like ``b_pu``
        (pandapower's transformer magnetising branch); zero for MATPOWER files.
    rate_a_mva
        Long-term apparent-power rating, applied at both ends (0 = unlimited).
    tap_ratio
        Off-nominal turns ratio; 0 means 1 (a line), as in MATPOWER.
    shift_degree
        Phase shift of the "from" side.
    angmin_degree, angmax_degree
        Limits on ``va_from - va_to``.
    branch_in_service
        Branch status.
    bus_label, gen_label, branch_label
        Human-readable element names used in messages and results (for example ``"gen 3"``,
        ``"trafo 12"``).
    """

    name: str
    base_mva: float
    bus_id: IntArray
    bus_type: IntArray
    pd_mw: FloatArray
    qd_mvar: FloatArray
    gs_mw: FloatArray
    bs_mvar: FloatArray
    vm_pu: FloatArray
    va_degree: FloatArray
    base_kv: FloatArray
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    gen_bus: IntArray
    pg_mw: FloatArray
    qg_mvar: FloatArray
    vg_pu: FloatArray
    pmin_mw: FloatArray
    pmax_mw: FloatArray
    qmin_mvar: FloatArray
    qmax_mvar: FloatArray
    gen_in_service: BoolArray
    cost_c2: FloatArray
    cost_c1: FloatArray
    cost_c0: FloatArray
    branch_from: IntArray
    branch_to: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
    b_pu: FloatArray
    rate_a_mva: FloatArray
    tap_ratio: FloatArray
    shift_degree: FloatArray
    angmin_degree: FloatArray
    angmax_degree: FloatArray
    branch_in_service: BoolArray
    g_pu: FloatArray = field(default_factory=lambda: np.zeros(0))
    bus_label: tuple[str, ...] = ()
    gen_label: tuple[str, ...] = ()
    branch_label: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n_bus, n_gen, n_branch = len(self.bus_id), len(self.gen_bus), len(self.branch_from)
        defaults: dict[str, object] = {}
        if len(self.g_pu) == 0:
            defaults["g_pu"] = np.zeros(n_branch)
        if not self.bus_label:
            defaults["bus_label"] = tuple(f"bus {int(b)}" for b in self.bus_id)
        if not self.gen_label:
            defaults["gen_label"] = tuple(f"gen {i}" for i in range(n_gen))
        if not self.branch_label:
            defaults["branch_label"] = tuple(f"branch {i}" for i in range(n_branch))
        for name, value in defaults.items():
            object.__setattr__(self, name, value)
        self._check_shapes(n_bus, n_gen, n_branch)
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                frozen = np.array(value, copy=True)
                frozen.flags.writeable = False
                object.__setattr__(self, name, frozen)

    def _check_shapes(self, n_bus: int, n_gen: int, n_branch: int) -> None:
        expected = {"bus": n_bus, "gen": n_gen, "branch": n_branch}
        prefixes = {
            "bus": ("bus_", "pd_", "qd_", "gs_", "bs_", "vm_", "va_", "base_kv", "vmin", "vmax"),
            "gen": ("gen_", "pg_", "qg_", "vg_", "pmin", "pmax", "qmin", "qmax", "cost_"),
            "branch": ("branch_", "r_pu", "x_pu", "b_pu", "rate_a", "tap_", "shift_", "ang",
                       "g_pu"),
        }
        for name in self.__dataclass_fields__:
            for kind, starts in prefixes.items():
                if name.startswith(starts):
                    n = len(getattr(self, name))
                    if n != expected[kind]:
                        raise InputError(
                            f"case {self.name!r}: column {name} has {n} entries but the case has "
                            f"{expected[kind]} {kind} rows; every {kind} column must have one "
                            "entry per row"
                        )
        for end in ("branch_from", "branch_to"):
            idx = getattr(self, end)
            if n_branch and (idx.min() < 0 or idx.max() >= n_bus):
                raise InputError(
                    f"case {self.name!r}: {end} refers to a bus position outside 0..{n_bus - 1}"
                )
        if n_gen and (self.gen_bus.min() < 0 or self.gen_bus.max() >= n_bus):
            raise InputError(
                f"case {self.name!r}: gen_bus refers to a bus position outside 0..{n_bus - 1}"
            )

    @property
    def n_bus(self) -> int:
        """Number of buses."""
        return len(self.bus_id)

    @property
    def n_gen(self) -> int:
        """Number of generators (in service or not)."""
        return len(self.gen_bus)

    @property
    def n_branch(self) -> int:
        """Number of branches (in service or not)."""
        return len(self.branch_from)

    def replace(self, **changes: object) -> CaseData:
        """Return a copy with some columns replaced (the original is never mutated)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return CaseData(**values)
