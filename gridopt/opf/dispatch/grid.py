"""The numeric view of a network that the dispatch formulations need.

:class:`DispatchGrid` holds per-unit branch impedances, ratings in MVA, voltage limits and the
slack bus, indexed by *position*; ``bus_id`` and ``branch_label`` map positions back to the
source (pandapower bus index and ``"line 3"`` / ``"trafo 1"`` labels, or MATPOWER case labels).

Two builders:

* :func:`grid_from_pandapower` reads the ``bus``, ``line``, ``trafo``, ``switch`` and ``ext_grid``
  tables (the net is not modified). Lines: ``r = r_ohm_per_km * length_km / parallel / Z_base``
  with ``Z_base = vn_kv**2 / sn_mva``, rating ``sqrt(3) * max_i_ka * df * parallel * vn_kv``
  scaled by ``max_loading_percent / 100`` when that column is set. Two-winding transformers:
  ``|z| = vk_percent / 100 * sn_mva_net / sn_mva / parallel``, ``r = vkr_percent / 100 * ...``,
  rating ``sn_mva * parallel`` (also scaled by ``max_loading_percent``); tap ratio from
  ``tap_pos``. Magnetising branches and line charging are left out of the dispatch model (they
  are in the AC check).
* :func:`grid_from_network` takes a :class:`gridopt.network.arrays.Network` (MATPOWER cases).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridopt.errors import InputError
from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray

#: Default voltage band when the net has no ``min_vm_pu`` / ``max_vm_pu``.
DEFAULT_VMIN_PU = 0.9
DEFAULT_VMAX_PU = 1.1


@dataclass(frozen=True, eq=False)
class DispatchGrid:
    """Buses and branches of the network in per unit on ``base_mva``; arrays are read-only.

    Attributes
    ----------
    name
        Network name (for messages).
    base_mva
        Power base of ``r_pu`` and ``x_pu``.
    bus_id
        Source id of each bus position (pandapower bus index or MATPOWER bus number).
    bus_name
        Display name of each bus.
    slack_bus
        Position of the bus that exchanges power with the upstream grid.
    v_slack_pu
        Voltage set-point of the slack bus.
    vmin_pu, vmax_pu
        Voltage limits per bus.
    branch_label
        ``"line <idx>"`` / ``"trafo <idx>"`` (pandapower) or MATPOWER branch labels.
    branch_from, branch_to
        Bus positions of the branch ends (``from`` is the line ``from_bus`` / trafo ``hv_bus``).
    r_pu, x_pu
        Series resistance and reactance.
    tap_ratio
        Off-nominal turns ratio (1 for lines).
    rate_mva
        Thermal rating of the branch (``inf`` when unlimited).
    """

    name: str
    base_mva: float
    bus_id: IntArray
    bus_name: tuple[str, ...]
    slack_bus: int
    v_slack_pu: float
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    branch_label: tuple[str, ...]
    branch_from: IntArray
    branch_to: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
    tap_ratio: FloatArray
    rate_mva: FloatArray

    @property
    def n_bus(self) -> int:
        """Number of buses."""
        return len(self.bus_id)

    @property
    def n_branch(self) -> int:
        """Number of branches."""
        return len(self.branch_label)

    @property
    def is_radial(self) -> bool:
        """True when the branches form a spanning tree (connected, ``n_branch = n_bus - 1``)."""
        return self.n_branch == self.n_bus - 1 and _n_components(self) == 1

    def bus_position(self, bus_id: int, where: str) -> int:
        """Position of the bus with source id ``bus_id``; :class:`InputError` if unknown."""
        pos = np.flatnonzero(self.bus_id == bus_id)
        if len(pos) == 0:
            raise InputError(
                f"{where}: bus {bus_id} is not an in-service bus of network {self.name!r}"
            )
        return int(pos[0])

    def incidence(self) -> sp.csr_matrix:
        """Branch-bus incidence ``(n_branch, n_bus)`` with +1 at ``from`` and -1 at ``to``."""
        nl = self.n_branch
        rows = np.concatenate([np.arange(nl), np.arange(nl)])
        cols = np.concatenate([self.branch_from, self.branch_to])
        vals = np.concatenate([np.ones(nl), -np.ones(nl)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(nl, self.n_bus))


def _n_components(grid: DispatchGrid) -> int:
    adj = sp.coo_matrix(
        (np.ones(grid.n_branch), (grid.branch_from, grid.branch_to)),
        shape=(grid.n_bus, grid.n_bus),
    )
    n, _ = connected_components(adj, directed=False)
    return int(n)


def _ro(values: object, dtype: type = np.float64) -> np.ndarray:
    arr: np.ndarray = np.array(values, dtype=dtype)
    arr.flags.writeable = False
    return arr


def _col(df: object, name: str, default: float) -> np.ndarray:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    if name not in df.columns:
        return np.full(len(df), default, dtype=float)
    return df[name].astype(float).fillna(default).to_numpy()


def grid_from_pandapower(net: pp.pandapowerNet, name: str = "network") -> DispatchGrid:
    """Build the :class:`DispatchGrid` of a pandapower net (formulae in the module docstring).

    Raises
    ------
    InputError
        If there is not exactly one in-service ``ext_grid``, a closed bus-bus switch (merge the
        buses first), a three-winding transformer, or an island without the slack.
    """
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if len(eg) != 1:
        raise InputError(
            f"network {name!r}: the dispatch needs exactly one in-service ext_grid (the connection "
            f"to the upstream grid), found {len(eg)}"
        )
    if len(net.trafo3w):
        raise InputError(
            f"network {name!r} has three-winding transformers, which the dispatch does not model; "
            "replace them by two-winding transformers"
        )
    sw = net.switch
    if len(sw) and bool(((sw.et == "b") & sw.closed.astype(bool)).any()):
        raise InputError(
            f"network {name!r} has closed bus-bus switches; fuse the buses "
            "(pandapower.toolbox.fuse_buses) before dispatching"
        )
    bus = net.bus[net.bus.in_service.astype(bool)]
    bus_ids = bus.index.to_numpy(dtype=np.int64)
    pos_of = {int(b): i for i, b in enumerate(bus_ids)}
    base = float(net.sn_mva)
    vn = bus.vn_kv.astype(float)

    open_line = set()
    if len(sw):
        mask = (sw.et == "l") & ~sw.closed.astype(bool)
        open_line = set(sw.element[mask].astype(int))

    labels: list[str] = []
    f_list: list[int] = []
    t_list: list[int] = []
    r_list: list[float] = []
    x_list: list[float] = []
    tap_list: list[float] = []
    rate_list: list[float] = []
    sqrt3 = math.sqrt(3.0)

    line = net.line
    maxload = _col(line, "max_loading_percent", 100.0)
    for k, (idx, row) in enumerate(line.iterrows()):
        fb, tb = int(row.from_bus), int(row.to_bus)
        if not bool(row.in_service) or idx in open_line or fb not in pos_of or tb not in pos_of:
            continue
        par = float(row.parallel) if "parallel" in line.columns else 1.0
        z_base = float(vn[fb]) ** 2 / base
        r = float(row.r_ohm_per_km) * float(row.length_km) / par / z_base
        x = float(row.x_ohm_per_km) * float(row.length_km) / par / z_base
        df = float(row.df) if "df" in line.columns else 1.0
        rate = sqrt3 * float(row.max_i_ka) * df * par * float(vn[fb]) * maxload[k] / 100.0
        labels.append(f"line {idx}")
        f_list.append(pos_of[fb])
        t_list.append(pos_of[tb])
        r_list.append(r)
        x_list.append(x)
        tap_list.append(1.0)
        rate_list.append(rate if rate < 1e5 else math.inf)

    trafo = net.trafo
    maxload_t = _col(trafo, "max_loading_percent", 100.0)
    for k, (idx, row) in enumerate(trafo.iterrows()):
        hv, lv = int(row.hv_bus), int(row.lv_bus)
        if not bool(row.in_service) or hv not in pos_of or lv not in pos_of:
            continue
        par = float(row.parallel) if "parallel" in trafo.columns else 1.0
        scale = base / float(row.sn_mva) / par
        z = float(row.vk_percent) / 100.0 * scale
        r = float(row.vkr_percent) / 100.0 * scale
        x = math.sqrt(max(z * z - r * r, 0.0))
        tap = 1.0
        step = float(row.get("tap_step_percent", 0.0) or 0.0)
        pos = row.get("tap_pos", np.nan)
        neutral = row.get("tap_neutral", np.nan)
        if step and not (np.isnan(float(pos)) or np.isnan(float(neutral))):
            ratio = 1.0 + (float(pos) - float(neutral)) * step / 100.0
            tap = ratio if row.get("tap_side", "hv") == "hv" else 1.0 / ratio
        tap *= (float(row.vn_hv_kv) / float(vn[hv])) / (float(row.vn_lv_kv) / float(vn[lv]))
        labels.append(f"trafo {idx}")
        f_list.append(pos_of[hv])
        t_list.append(pos_of[lv])
        r_list.append(r)
        x_list.append(x)
        tap_list.append(tap)
        rate_list.append(float(row.sn_mva) * par * maxload_t[k] / 100.0)

    slack_id = int(eg.iloc[0].bus)
    if slack_id not in pos_of:
        raise InputError(f"network {name!r}: the ext_grid bus {slack_id} is out of service")
    grid = DispatchGrid(
        name=name,
        base_mva=base,
        bus_id=_ro(bus_ids, np.int64),
        bus_name=tuple(
            str(n) if n is not None else str(i)
            for i, n in zip(bus_ids, bus.name, strict=True)
        ),
        slack_bus=pos_of[slack_id],
        v_slack_pu=float(eg.iloc[0].vm_pu),
        vmin_pu=_ro(_col(bus, "min_vm_pu", DEFAULT_VMIN_PU)),
        vmax_pu=_ro(_col(bus, "max_vm_pu", DEFAULT_VMAX_PU)),
        branch_label=tuple(labels),
        branch_from=_ro(f_list, np.int64),
        branch_to=_ro(t_list, np.int64),
        r_pu=_ro(r_list),
        x_pu=_ro(x_list),
        tap_ratio=_ro(tap_list),
        rate_mva=_ro(rate_list),
    )
    if _n_components(grid) != 1:
        raise InputError(
            f"network {name!r} is split into {_n_components(grid)} islands by out-of-service "
            "branches or open switches; the dispatch needs one connected network"
        )
    return grid


def grid_from_network(network: Network) -> DispatchGrid:
    """Build the :class:`DispatchGrid` of a numeric MATPOWER network (see module docstring)."""
    case = network.case
    return DispatchGrid(
        name=network.name,
        base_mva=network.base_mva,
        bus_id=_ro(network.bus_case_index, np.int64),
        bus_name=network.bus_label,
        slack_bus=network.ref_bus,
        v_slack_pu=float(network.vm0_pu[network.ref_bus]),
        vmin_pu=_ro(network.vmin_pu),
        vmax_pu=_ro(network.vmax_pu),
        branch_label=tuple(case.branch_label[i] for i in network.branch_case_index),
        branch_from=_ro(network.branch_from, np.int64),
        branch_to=_ro(network.branch_to, np.int64),
        r_pu=_ro(network.r_pu),
        x_pu=_ro(network.x_pu),
        tap_ratio=_ro(network.tap_ratio),
        rate_mva=_ro(network.rate_a_pu * network.base_mva),
    )
