"""pandapower net -> :class:`~gridopt.network.model.NetworkModel` (the one reader of pandapower
tables besides the converters in :mod:`gridopt.network.pandapower_io`).

Branch parameters come from pandapower's own conversion (``to_ppc`` on a copy with every branch
and bus in service, so that out-of-service lines such as feeder ties get their parameters too):
the per-unit series impedance, the shunt admittance (line charging, transformer magnetising with
pandapower's T model), the tap ratio including the nominal-voltage mismatch, and the phase shift.
Only the ends are taken from the element tables, so the model keeps every source bus apart; the
switches are kept as switches. Ratings in MVA from the tables:

* line: :math:`\\sqrt{3}\\, I_{max}\\, d_f\\, n_{par}\\, V_n\\, \\ell_{max} / 100` (unrated when
  ``max_i_ka >= 9e4``, pandapower's "unlimited");
* two-winding transformer: :math:`S_n\\, n_{par}\\, \\ell_{max}/100`; three-winding: each winding's
  ``sn_*_mva``;
* impedances, extended wards, bus-bus switches: unrated.

with :math:`\\ell_{max}` the ``max_loading_percent`` column (100 when absent).
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandapower.auxiliary import pandapowerNet
from pandapower.converter.pypower.to_ppc import to_ppc

from gridopt.errors import InputError
from gridopt.network import ppc_index as ix
from gridopt.network.assets import (
    Assets,
    CurtailablePV,
    FlexibleLoad,
    Generator,
    GridConnection,
    Storage,
)
from gridopt.network.model import (
    UNRATED_KA,
    Branches,
    BranchKind,
    Buses,
    ElementRef,
    InjectionKind,
    Injections,
    NetworkModel,
    Supplies,
    Switches,
    SwitchKind,
    rating_or_inf,
)
from gridopt.network.pandapower_io import check_reference, check_supported

logger = logging.getLogger(__name__)

SQRT3 = math.sqrt(3.0)
_BRANCH_KINDS = {"line": BranchKind.LINE, "trafo": BranchKind.TRAFO,
                 "trafo3w": BranchKind.TRAFO3W, "impedance": BranchKind.IMPEDANCE,
                 "xward": BranchKind.XWARD}
_TRAFO3W_SIDES = ("hv", "mv", "lv")
_SWITCH_KINDS = {"l": SwitchKind.LINE, "t": SwitchKind.TRAFO, "b": SwitchKind.BUS}


def _col(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default, dtype=float)
    return pd.to_numeric(df[name], errors="coerce").fillna(default).to_numpy(dtype=float)


def _flag(df: pd.DataFrame, name: str, default: bool) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default, dtype=bool)
    values = df[name].to_numpy(dtype=object)
    return np.array([default if pd.isna(v) else bool(v) for v in values], dtype=bool)


def _coordinates(net: pandapowerNet) -> tuple[np.ndarray, np.ndarray]:
    """Bus coordinates from ``bus.geo`` (GeoJSON points) or ``bus_geodata`` (NaN if none)."""
    n = len(net.bus)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    if "geo" in net.bus.columns:
        for k, text in enumerate(net.bus["geo"].to_numpy(dtype=object)):
            if isinstance(text, str) and text:
                try:
                    point = json.loads(text).get("coordinates")
                    x[k], y[k] = float(point[0]), float(point[1])
                except (ValueError, TypeError, IndexError, AttributeError):
                    continue
    elif "bus_geodata" in net and isinstance(net.bus_geodata, pd.DataFrame) \
            and len(net.bus_geodata):
        geo = net.bus_geodata.reindex(net.bus.index)
        x, y = _col(geo, "x", np.nan), _col(geo, "y", np.nan)
    return x, y


def _ppc_of_every_element(net: pandapowerNet, name: str) -> tuple[dict[str, Any], Any]:
    """pandapower's ppc of a copy with every bus and branch in service (parameters only)."""
    work = copy.deepcopy(net)
    for table in ("bus", "line", "trafo", "trafo3w", "impedance"):
        if table in work and len(work[table]):
            work[table]["in_service"] = True
    try:
        to_ppc(work, calculate_voltage_angles=True, init="flat", mode="pf",
               check_connectivity=False)
    except (KeyError, ValueError, IndexError, UserWarning) as exc:
        raise InputError(f"network {name!r}: pandapower cannot convert it ({exc}); check the "
                         "element tables") from exc
    return work._ppc, work


def _branch_g(ppc: dict[str, Any], n: int) -> np.ndarray:
    """Shunt conductance of each ppc branch (pandapower keeps it beside the matrix)."""
    g = np.real(np.asarray(ppc.get("branch_g", np.zeros(n)))).astype(float)
    return g if len(g) == n else np.zeros(n)


def _branches(net: pandapowerNet, ppc: dict[str, Any], work: Any, bus_pos: dict[ElementRef, int],
              ) -> Branches:
    lookups = work._pd2ppc_lookups
    bus_lookup = np.asarray(lookups["bus"])
    branch = ppc["branch"]
    refs: list[ElementRef] = []
    sides: list[str] = []
    kinds: list[BranchKind] = []
    rows: list[int] = []
    ends: list[tuple[int, int]] = []
    rates: list[float] = []
    on: list[bool] = []
    in_bus = net.bus["in_service"].astype(bool)
    for element, (start, end) in lookups["branch"].items():
        if element not in _BRANCH_KINDS:
            continue  # "switch": bus-bus switches with an impedance are kept as switches
        table = net[element]
        n = len(table)
        ldf = _col(table, "max_loading_percent", 100.0) / 100.0
        for k in range(int(end) - int(start)):
            row = int(start) + k
            idx = int(table.index[k % n])
            rec = table.loc[idx]
            side = _TRAFO3W_SIDES[k // n] if element == "trafo3w" else ""
            if element == "line":
                a, b = int(rec["from_bus"]), int(rec["to_bus"])
                i_ka = float(rec["max_i_ka"])
                rate = (math.inf if i_ka >= UNRATED_KA else SQRT3 * i_ka * float(
                    rec.get("df", 1.0) or 1.0) * float(rec.get("parallel", 1) or 1)
                    * float(net.bus.at[a, "vn_kv"]) * ldf[k % n])
                fb, tb = bus_pos[("bus", a)], bus_pos[("bus", b)]
                ok = bool(rec["in_service"]) and bool(in_bus[a]) and bool(in_bus[b])
            elif element == "trafo":
                a, b = int(rec["hv_bus"]), int(rec["lv_bus"])
                rate = float(rec["sn_mva"]) * float(rec.get("parallel", 1) or 1) * ldf[k % n]
                fb, tb = bus_pos[("bus", a)], bus_pos[("bus", b)]
                ok = bool(rec["in_service"]) and bool(in_bus[a]) and bool(in_bus[b])
            elif element == "trafo3w":
                terminal = int(rec[f"{side}_bus"])
                star = bus_pos[("trafo3w", idx)]
                fb, tb = ((bus_pos[("bus", terminal)], star)
                          if int(np.real(branch[row, ix.F_BUS])) == bus_lookup[terminal]
                          else (star, bus_pos[("bus", terminal)]))
                rate = float(rec[f"sn_{side}_mva"]) * ldf[k % n]
                ok = bool(rec["in_service"]) and bool(in_bus[terminal])
            elif element == "impedance":
                a, b = int(rec["from_bus"]), int(rec["to_bus"])
                fb, tb, rate = bus_pos[("bus", a)], bus_pos[("bus", b)], math.inf
                ok = bool(rec["in_service"]) and bool(in_bus[a]) and bool(in_bus[b])
            else:  # xward: its bus to its internal bus
                a = int(rec["bus"])
                fb, tb, rate = bus_pos[("bus", a)], bus_pos[("xward", idx)], math.inf
                ok = bool(rec["in_service"]) and bool(in_bus[a])
            refs.append((element, idx))
            sides.append(side)
            kinds.append(_BRANCH_KINDS[element])
            rows.append(row)
            ends.append((fb, tb))
            rates.append(rate)
            on.append(ok)
    r = np.real(branch[rows, ix.BR_R]).astype(float) if rows else np.zeros(0)
    tap = np.real(branch[rows, ix.TAP]).astype(float) if rows else np.zeros(0)
    return Branches(
        ref=tuple(refs), side=tuple(sides), kind=tuple(kinds),
        from_bus=np.array([a for a, _ in ends], dtype=np.int64),
        to_bus=np.array([b for _, b in ends], dtype=np.int64),
        r_pu=r,
        x_pu=np.real(branch[rows, ix.BR_X]).astype(float) if rows else np.zeros(0),
        g_pu=_branch_g(ppc, len(branch))[rows],
        b_pu=np.real(branch[rows, ix.BR_B]).astype(float) if rows else np.zeros(0),
        tap_ratio=np.where(tap == 0, 1.0, tap),
        shift_rad=np.deg2rad(np.real(branch[rows, ix.SHIFT]).astype(float)) if rows
        else np.zeros(0),
        rate_mva=rating_or_inf(np.array(rates, dtype=float)),
        in_service=np.array(on, dtype=bool),
    )


def _buses(net: pandapowerNet) -> Buses:
    """Every source bus, then the auxiliary buses (three-winding star points, ward nodes)."""
    refs: list[ElementRef] = [("bus", int(i)) for i in net.bus.index]
    names = [str(n) if isinstance(n, str) and n else f"bus {i}"
             for i, n in zip(net.bus.index, net.bus.get("name", [None] * len(net.bus)),
                             strict=True)]
    vn = _col(net.bus, "vn_kv", np.nan)
    vmin, vmax = _col(net.bus, "min_vm_pu", np.nan), _col(net.bus, "max_vm_pu", np.nan)
    on = net.bus["in_service"].astype(bool).to_numpy()
    x, y = _coordinates(net)
    vn_aux, on_aux = [], []
    for element in ("trafo3w", "xward"):
        table = net[element] if element in net else None
        if table is None or not len(table):
            continue
        for idx, rec in table.iterrows():
            refs.append((element, int(idx)))
            names.append(f"{element} {idx} {'star point' if element == 'trafo3w' else 'node'}")
            kv = float(rec["vn_hv_kv"]) if element == "trafo3w" else float(
                net.bus.at[int(rec["bus"]), "vn_kv"])
            vn_aux.append(kv)
            on_aux.append(bool(rec["in_service"]))
    n_aux = len(vn_aux)
    nan = np.full(n_aux, np.nan)
    return Buses(ref=tuple(refs), name=tuple(names), vn_kv=np.r_[vn, vn_aux],
                 vmin_pu=np.r_[vmin, nan], vmax_pu=np.r_[vmax, nan],
                 in_service=np.r_[on, np.array(on_aux, dtype=bool)], x=np.r_[x, nan],
                 y=np.r_[y, nan])


def _switches(net: pandapowerNet, bus_pos: dict[ElementRef, int],
              branch_pos: dict[ElementRef, int], base_mva: float) -> Switches:
    sw = net.switch
    refs, kinds, buses, branches, others, r_pu = [], [], [], [], [], []
    for idx, et, bus, element, z in zip(sw.index, sw["et"], sw["bus"], sw["element"],
                                        _col(sw, "z_ohm", 0.0), strict=True):
        kind = _SWITCH_KINDS.get(str(et))
        if kind is None:
            raise InputError(f"network {net.name or '(unnamed)'}: switch {idx} has element type "
                             f"{et!r}; gridopt supports line ('l'), transformer ('t') and bus-bus "
                             "('b') switches")
        refs.append(("switch", int(idx)))
        kinds.append(kind)
        buses.append(bus_pos[("bus", int(bus))])
        if kind is SwitchKind.BUS:
            others.append(bus_pos[("bus", int(element))])
            branches.append(-1)
            vn = float(net.bus.at[int(bus), "vn_kv"])
            r_pu.append(float(z) / (vn * vn / base_mva))
        else:
            table = "line" if kind is SwitchKind.LINE else "trafo"
            branches.append(branch_pos[(table, int(element))])
            others.append(-1)
            r_pu.append(0.0)
    closed = _flag(sw, "closed", True)
    operable = np.array([k is not SwitchKind.TRAFO for k in kinds], dtype=bool)
    return Switches(ref=tuple(refs), kind=tuple(kinds), bus=np.array(buses, dtype=np.int64),
                    branch=np.array(branches, dtype=np.int64),
                    other_bus=np.array(others, dtype=np.int64), closed=closed,
                    operable=operable, r_pu=np.array(r_pu, dtype=float))


def _injections(net: pandapowerNet, bus_pos: dict[ElementRef, int]) -> Injections:
    """Every in-service load, sgen, storage, non-slack gen and shunt (scaled; shunts at 1 pu)."""
    refs, kinds, buses, p, q = [], [], [], [], []

    def add(table_name: str, kind: InjectionKind, sign: float, with_q: bool = True) -> None:
        table = net[table_name] if table_name in net else None
        if table is None or not len(table):
            return
        on = table["in_service"].astype(bool).to_numpy()
        if table_name == "gen" and "slack" in table.columns:
            on &= ~_flag(table, "slack", False)
        factor = _col(table, "step" if kind is InjectionKind.SHUNT else "scaling", 1.0)
        pv = _col(table, "p_mw", 0.0) * factor
        qv = _col(table, "q_mvar", 0.0) * factor if with_q else np.zeros(len(table))
        for k in np.flatnonzero(on):
            refs.append((table_name, int(table.index[k])))
            kinds.append(kind)
            buses.append(bus_pos[("bus", int(table["bus"].iloc[k]))])
            p.append(sign * pv[k])
            q.append(sign * qv[k])

    add("load", InjectionKind.LOAD, 1.0)
    add("sgen", InjectionKind.SGEN, -1.0)
    add("storage", InjectionKind.STORAGE, 1.0)
    add("gen", InjectionKind.GEN, -1.0, with_q=False)
    add("shunt", InjectionKind.SHUNT, 1.0)
    return Injections(ref=tuple(refs), kind=tuple(kinds), bus=np.array(buses, dtype=np.int64),
                      p_mw=np.array(p, dtype=float), q_mvar=np.array(q, dtype=float))


def _supplies(net: pandapowerNet, bus_pos: dict[ElementRef, int]) -> Supplies:
    refs, buses, vm = [], [], []
    eg = net.ext_grid
    for idx, rec in eg[eg["in_service"].astype(bool)].iterrows():
        refs.append(("ext_grid", int(idx)))
        buses.append(bus_pos[("bus", int(rec["bus"]))])
        vm.append(float(rec["vm_pu"]))
    gens = net.gen
    if len(gens) and "slack" in gens.columns:
        slack = gens[gens["in_service"].astype(bool) & _flag(gens, "slack", False)]
        for idx, rec in slack.iterrows():
            refs.append(("gen", int(idx)))
            buses.append(bus_pos[("bus", int(rec["bus"]))])
            vm.append(float(rec["vm_pu"]))
    return Supplies(ref=tuple(refs), bus=np.array(buses, dtype=np.int64),
                    vm_pu=np.array(vm, dtype=float))


def model_from_pandapower(net: pandapowerNet, name: str) -> NetworkModel:
    """Build the :class:`NetworkModel` of a pandapower net (which is not modified).

    Raises
    ------
    InputError
        Elements gridopt cannot model, no supply point, switches of unknown element types,
        storage without capacity.
    """
    check_reference(net, name)
    check_supported(net, name)
    ppc, work = _ppc_of_every_element(net, name)
    buses = _buses(net)
    bus_pos = buses.position()
    branches = _branches(net, ppc, work, bus_pos)
    branch_pos = {r: k for k, r in enumerate(branches.ref)}
    base_mva = float(net.sn_mva)
    return NetworkModel(
        name=name,
        base_mva=base_mva,
        buses=buses,
        branches=branches,
        switches=_switches(net, bus_pos, branch_pos, base_mva),
        injections=_injections(net, bus_pos),
        supplies=_supplies(net, bus_pos),
        assets=assets_from_net(net),
    )


def _num(row: Mapping[str, Any], key: str, default: float) -> float:
    value = row.get(key, default)
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _controllable_rows(table: pd.DataFrame) -> list[tuple[Any, pd.Series]]:
    """In-service rows whose ``controllable`` flag is True (none without the column)."""
    if "controllable" not in table.columns:
        return []
    return [
        (idx, row) for idx, row in table.iterrows()
        if bool(row.get("in_service", True)) and row.get("controllable") is True
    ]


def assets_from_net(net: pandapowerNet) -> Assets:
    """Read the controllable assets declared in a pandapower net (the net is not modified).

    * ``storage`` rows in service: charge and discharge limits from ``max_p_mw`` / ``-min_p_mw``
      (else ``sn_mva``, else ``|p_mw|``), capacity ``max_e_mwh``, minimum ``min_e_mwh``,
      initial state ``soc_percent``, efficiency 0.95, inverter rating ``sn_mva`` when set.
    * ``sgen`` rows with ``controllable = True``: curtailable PV rated ``p_mw`` (or ``max_p_mw``).
    * ``load`` rows with ``controllable = True``: flexible load that may move between
      ``min_p_mw`` and ``max_p_mw`` around ``p_mw`` over the whole horizon.
    * ``gen`` rows in service: generators with ``min_p_mw``/``max_p_mw`` and the linear
      ``poly_cost`` coefficient ``cp1_eur_per_mw`` when present.
    * ``ext_grid``: ``max_p_mw`` / ``min_p_mw`` / ``max_q_mvar`` as grid-connection limits.

    Long because it reads each kind of asset (storage, PV, flexible loads, generators, grid
    connection) from its own pandapower table and columns.
    """
    storage = []
    for idx, row in net.storage.iterrows():
        if not bool(row.get("in_service", True)):
            continue
        cap = _num(row, "max_e_mwh", math.nan)
        if not cap > 0:
            raise InputError(
                f"pandapower storage {idx} ({row.get('name')!r}) has no positive max_e_mwh; "
                "set its "
                "energy capacity"
            )
        sn = _num(row, "sn_mva", 0.0)
        p_default = sn if sn > 0 else abs(_num(row, "p_mw", 0.0))
        p_ch = _num(row, "max_p_mw", p_default)
        p_dis = -_num(row, "min_p_mw", -p_default)
        soc_min = 100.0 * _num(row, "min_e_mwh", 0.0) / cap
        soc0 = min(max(_num(row, "soc_percent", 50.0), soc_min), 100.0)
        storage.append(
            Storage(
                name=str(row["name"]) if row.get("name") else f"storage {idx}",
                bus=int(row["bus"]),
                p_charge_max_mw=p_ch,
                p_discharge_max_mw=p_dis,
                energy_capacity_mwh=cap,
                soc_initial_percent=soc0,
                soc_min_percent=soc_min,
                s_max_mva=sn if sn > 0 else None,
            )
        )
    pv = []
    for idx, row in _controllable_rows(net.sgen):
        sn = _num(row, "sn_mva", 0.0)
        pv.append(
            CurtailablePV(
                name=str(row["name"]) if row.get("name") else f"sgen {idx}",
                bus=int(row["bus"]),
                p_rated_mw=_num(row, "max_p_mw", _num(row, "p_mw", 0.0)),
                s_max_mva=sn if sn > 0 else None,
            )
        )
    flex = []
    for idx, row in _controllable_rows(net.load):
        p = _num(row, "p_mw", 0.0)
        flex.append(
            FlexibleLoad(
                name=str(row["name"]) if row.get("name") else f"load {idx}",
                bus=int(row["bus"]),
                p_increase_max_mw=max(_num(row, "max_p_mw", p) - p, 0.0),
                p_decrease_max_mw=max(p - _num(row, "min_p_mw", p), 0.0),
            )
        )
    gens = []
    costs: dict[int, float] = {}
    if len(net.poly_cost):
        for _, row in net.poly_cost.iterrows():
            if row["et"] == "gen":
                costs[int(row["element"])] = _num(row, "cp1_eur_per_mw", 0.0)
    for idx, row in net.gen.iterrows():
        if not bool(row.get("in_service", True)):
            continue
        p = _num(row, "p_mw", 0.0)
        gens.append(
            Generator(
                name=str(row["name"]) if row.get("name") else f"gen {idx}",
                bus=int(row["bus"]),
                p_min_mw=_num(row, "min_p_mw", 0.0),
                p_max_mw=_num(row, "max_p_mw", p),
                q_min_mvar=_num(row, "min_q_mvar", 0.0),
                q_max_mvar=_num(row, "max_q_mvar", 0.0),
                cost_per_mwh=costs.get(int(idx), 0.0),
            )
        )
    grid = GridConnection()
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if len(eg) == 1:
        row = eg.iloc[0]
        grid = GridConnection(
            p_import_max_mw=_num(row, "max_p_mw", math.inf),
            p_export_max_mw=-_num(row, "min_p_mw", -math.inf),
            q_abs_max_mvar=_num(row, "max_q_mvar", math.inf),
        )
    return Assets(tuple(storage), tuple(pv), tuple(flex), tuple(gens), grid)
