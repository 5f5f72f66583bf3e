"""Declarations of the controllable assets a dispatch may use.

Each asset kind is a frozen dataclass whose fields carry their unit in the name. Assets come from
the source network (for pandapower: ``storage`` rows, ``sgen`` and ``load`` rows with
``controllable = True``, ``gen`` rows and the ``ext_grid`` limits; read by
:func:`gridopt.network.pandapower_model.assets_from_net`) or from a TOML asset file read with
:mod:`tomllib`; :func:`merge_assets` combines both, the file overriding assets of the same name.

TOML layout (every table optional)::

    [grid]                       # connection to the upstream grid (the ext_grid bus)
    p_import_max_mw = 5.0
    p_export_max_mw = 2.0
    q_abs_max_mvar = 3.0

    [[storage]]
    name = "bess-18"
    bus = 17                     # pandapower bus index (integer) or bus name (string)
    p_charge_max_mw = 0.5
    p_discharge_max_mw = 0.5
    energy_capacity_mwh = 2.0
    efficiency_charge = 0.96
    efficiency_discharge = 0.96
    soc_initial_percent = 50
    soc_final_percent = 50       # optional, defaults to the initial state of charge
    soc_min_percent = 10
    soc_max_percent = 90
    s_max_mva = 0.6              # optional inverter rating: enables reactive power

    [[pv]]                       # curtailable PV; availability comes from the forecast
    name = "pv-17"
    bus = 17
    p_rated_mw = 1.0
    s_max_mva = 1.1              # optional inverter rating: enables reactive power

    [[flexible_load]]            # shifts energy within a window of periods
    name = "heat-pumps-10"
    bus = 10
    p_increase_max_mw = 0.1
    p_decrease_max_mw = 0.1
    window_start = 0             # first period (inclusive), default 0
    window_end = 48              # last period (exclusive), default the whole horizon

    [[generator]]
    name = "chp-5"
    bus = 5
    p_min_mw = 0.0
    p_max_mw = 0.4
    q_min_mvar = -0.2
    q_max_mvar = 0.2
    cost_per_mwh = 60.0
"""

from __future__ import annotations

import logging
import math
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from gridopt.errors import InputError

logger = logging.getLogger(__name__)

BusRef = int


@dataclass(frozen=True)
class Storage:
    """A battery behind an inverter.

    The state of charge ``e`` (MWh) follows ``e_t = e_{t-1} + dt (eta_c p_ch - p_dis / eta_d)``
    with ``p_ch`` and ``p_dis`` the AC-side charge and discharge powers.
    """

    name: str
    bus: BusRef
    p_charge_max_mw: float
    p_discharge_max_mw: float
    energy_capacity_mwh: float
    efficiency_charge: float = 0.95
    efficiency_discharge: float = 0.95
    soc_initial_percent: float = 50.0
    soc_final_percent: float | None = None
    soc_min_percent: float = 0.0
    soc_max_percent: float = 100.0
    s_max_mva: float | None = None

    @property
    def energy_initial_mwh(self) -> float:
        """Stored energy at the start of the horizon."""
        return self.energy_capacity_mwh * self.soc_initial_percent / 100.0

    @property
    def energy_final_min_mwh(self) -> float:
        """Least stored energy allowed at the end of the horizon (defaults to the initial)."""
        final = self.soc_final_percent
        if final is None:
            final = self.soc_initial_percent
        return self.energy_capacity_mwh * final / 100.0


@dataclass(frozen=True)
class CurtailablePV:
    """PV whose output (forecast variable ``pv_p_mw`` at its bus) may be curtailed."""

    name: str
    bus: BusRef
    p_rated_mw: float
    s_max_mva: float | None = None


@dataclass(frozen=True)
class FlexibleLoad:
    """Load that moves energy between periods of ``[window_start, window_end)``.

    The shift ``up_t - down_t`` adds to the bus demand and sums to zero over the window.
    """

    name: str
    bus: BusRef
    p_increase_max_mw: float
    p_decrease_max_mw: float
    window_start: int = 0
    window_end: int | None = None


@dataclass(frozen=True)
class Generator:
    """Dispatchable generator with a linear cost, modelled as a PQ injection."""

    name: str
    bus: BusRef
    p_min_mw: float
    p_max_mw: float
    q_min_mvar: float = 0.0
    q_max_mvar: float = 0.0
    cost_per_mwh: float = 0.0


@dataclass(frozen=True)
class GridConnection:
    """Limits of the exchange with the upstream grid at the slack bus (inf = unlimited)."""

    p_import_max_mw: float = math.inf
    p_export_max_mw: float = math.inf
    q_abs_max_mvar: float = math.inf


@dataclass(frozen=True)
class Assets:
    """Everything a dispatch may control."""

    storage: tuple[Storage, ...] = ()
    pv: tuple[CurtailablePV, ...] = ()
    flexible_load: tuple[FlexibleLoad, ...] = ()
    generator: tuple[Generator, ...] = ()
    grid: GridConnection = field(default_factory=GridConnection)

    def without_flexibility(self) -> Assets:
        """Return the same grid connection and generators but no storage, curtailment or shift."""
        return Assets(generator=self.generator, grid=self.grid)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of every asset."""
        return tuple(
            a.name for group in (self.storage, self.pv, self.flexible_load, self.generator)
            for a in group
        )


def validate_assets(assets: Assets, bus_ids: set[int], where: str) -> None:
    """Raise :class:`InputError` for an asset on an unknown bus or with inconsistent limits."""
    seen: set[str] = set()
    for group in (assets.storage, assets.pv, assets.flexible_load, assets.generator):
        for a in group:
            if a.name in seen:
                raise InputError(
                    f"{where}: asset name {a.name!r} is used twice; names must be unique"
                )
            seen.add(a.name)
            if a.bus not in bus_ids:
                raise InputError(
                    f"{where}: asset {a.name!r} sits on bus {a.bus!r}, which is not an in-service "
                    "bus "
                    "of the network; use a pandapower bus index or bus name"
                )
    for s in assets.storage:
        checks = [
            (s.p_charge_max_mw >= 0 and s.p_discharge_max_mw >= 0, "power limits must be >= 0"),
            (s.energy_capacity_mwh > 0, "energy_capacity_mwh must be > 0"),
            (0 < s.efficiency_charge <= 1 and 0 < s.efficiency_discharge <= 1,
             "efficiencies must lie in (0, 1]"),
            (0 <= s.soc_min_percent <= s.soc_max_percent <= 100,
             "need 0 <= soc_min_percent <= soc_max_percent <= 100"),
            (s.soc_min_percent <= s.soc_initial_percent <= s.soc_max_percent,
             "soc_initial_percent must lie within [soc_min_percent, soc_max_percent]"),
            (s.soc_final_percent is None
             or s.soc_min_percent <= s.soc_final_percent <= s.soc_max_percent,
             "soc_final_percent must lie within [soc_min_percent, soc_max_percent]"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"{where}: storage {s.name!r}: {msg}")
    for g in assets.generator:
        if g.p_min_mw > g.p_max_mw or g.q_min_mvar > g.q_max_mvar:
            raise InputError(f"{where}: generator {g.name!r} has a minimum above its maximum")
    for f in assets.flexible_load:
        if f.p_increase_max_mw < 0 or f.p_decrease_max_mw < 0:
            raise InputError(f"{where}: flexible load {f.name!r}: shift limits must be >= 0")


_KINDS: dict[str, type] = {
    "storage": Storage,
    "pv": CurtailablePV,
    "flexible_load": FlexibleLoad,
    "generator": Generator,
}


def _resolve_bus(value: Any, bus_names: Mapping[str, int], where: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{where}: bus must be a bus index or name, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if value in bus_names:
            return bus_names[value]
        raise InputError(
            f"{where}: no bus named {value!r}; use a pandapower bus index or one of the bus names"
        )
    raise InputError(f"{where}: bus must be a bus index or name, got {value!r}")


def assets_from_toml(path: Path, bus_names: Mapping[str, int] | None = None) -> Assets:
    """Read an asset file (layout in the module docstring).

    Parameters
    ----------
    path
        TOML file.
    bus_names
        Map from bus name to pandapower bus index, to resolve ``bus = "name"``.

    Raises
    ------
    InputError
        If the file is missing or malformed, names an unknown table or field, or misses a field.
    """
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise InputError(f"asset file {path} not found; check the --assets path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"asset file {path} is not valid TOML: {exc}") from exc
    names = bus_names or {}
    unknown = set(doc) - set(_KINDS) - {"grid"}
    if unknown:
        raise InputError(
            f"asset file {path}: unknown table(s) {sorted(unknown)}; allowed: "
            f"{sorted([*_KINDS, 'grid'])}"
        )
    groups: dict[str, list[Any]] = {k: [] for k in _KINDS}
    for kind, cls in _KINDS.items():
        entries = doc.get(kind, [])
        if not isinstance(entries, list):
            raise InputError(f"asset file {path}: [{kind}] must be an array of tables ([[{kind}]])")
        allowed = {f.name for f in fields(cls)}
        required = {
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        }
        for i, entry in enumerate(entries):
            where = f"asset file {path}, [[{kind}]] #{i + 1}"
            extra = set(entry) - allowed
            if extra:
                raise InputError(
                    f"{where}: unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}"
                )
            missing = required - set(entry)
            if missing:
                raise InputError(f"{where}: missing field(s) {sorted(missing)}")
            kwargs = dict(entry)
            kwargs["bus"] = _resolve_bus(entry["bus"], names, where)
            try:
                groups[kind].append(cls(**kwargs))
            except TypeError as exc:
                raise InputError(f"{where}: {exc}") from exc
    grid = GridConnection()
    if "grid" in doc:
        allowed = {f.name for f in fields(GridConnection)}
        extra = set(doc["grid"]) - allowed
        if extra:
            raise InputError(
                f"asset file {path}, [grid]: unknown field(s) {sorted(extra)}; "
                f"allowed: {sorted(allowed)}"
            )
        grid = GridConnection(**{k: float(v) for k, v in doc["grid"].items()})
    return Assets(
        storage=tuple(groups["storage"]),
        pv=tuple(groups["pv"]),
        flexible_load=tuple(groups["flexible_load"]),
        generator=tuple(groups["generator"]),
        grid=grid,
    )


def merge_assets(base: Assets, override: Assets) -> Assets:
    """Combine two declarations; assets of ``override`` replace same-named ones of ``base``.

    The grid connection of ``override`` wins unless it is the unlimited default.
    """

    def merge(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
        names = {x.name for x in b}
        return tuple(x for x in a if x.name not in names) + b

    return Assets(
        storage=merge(base.storage, override.storage),
        pv=merge(base.pv, override.pv),
        flexible_load=merge(base.flexible_load, override.flexible_load),
        generator=merge(base.generator, override.generator),
        grid=base.grid if override.grid == GridConnection() else override.grid,
    )
