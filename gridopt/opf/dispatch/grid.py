"""The numeric view of a network that the dispatch formulations need.

:class:`DispatchGrid` holds per-unit branch impedances, ratings in MVA, voltage limits and the
slack bus, indexed by *position*; ``bus_id``, ``bus_members`` and ``branch_ref`` map positions
back to the source. :func:`grid_from_model` is a pure function of the one network model
(:class:`gridopt.network.model.NetworkModel`) and a switch configuration: the same resolution of
switches as the reconfiguration's view (:func:`gridopt.network.topology.resolve`), the same
branch parameters as pandapower's own conversion (series impedance, tap, phase shift) and the
same ratings. Line charging and transformer magnetising branches are left out of the dispatch
model (they are in the AC check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from gridopt.errors import InputError
from gridopt.network.case import FloatArray, IntArray
from gridopt.network.model import ElementRef, NetworkModel
from gridopt.network.topology import Configuration, resolve

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
    branch_ref
        Source element of each branch (``("line", 3)``), for the write-back of results.
    branch_side
        Winding of a three-winding transformer's branch (``"hv"``, ``"mv"``, ``"lv"``; empty for
        every other branch): the three branches of one ``trafo3w`` share its ref.
    bus_members
        Source bus ids fused into each bus position (one each without closed bus-bus
        switches; none for an auxiliary node such as a three-winding transformer's star point,
        whose ``bus_id`` is negative).
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
    branch_ref: tuple[ElementRef, ...] = ()
    bus_members: tuple[tuple[int, ...], ...] = ()
    branch_side: tuple[str, ...] = ()

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
        pos = self.position_of_bus_id().get(int(bus_id))
        if pos is None:
            raise InputError(
                f"{where}: bus {bus_id} is not an in-service bus of network {self.name!r}"
            )
        return pos

    def position_of_bus_id(self) -> dict[int, int]:
        """``{source bus id: position}``, every fused bus included."""
        out = {int(b): i for i, b in enumerate(self.bus_id)}
        for i, members in enumerate(self.bus_members):
            for b in members:
                out[int(b)] = i
        return out

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


def grid_from_model(model: NetworkModel, configuration: Configuration | None = None
                    ) -> DispatchGrid:
    """The :class:`DispatchGrid` of a network model under a configuration (default: the
    source's switch states).

    Nodes are the energised buses with buses at closed bus-bus switches fused
    (:func:`gridopt.network.topology.resolve`); branches are the active ones, with the model's
    series impedance, tap and rating (shunt admittances are left to the AC check). A node's
    voltage band is the tightest of its buses' (0.9..1.1 pu where none is given).

    Raises
    ------
    InputError
        If there is not exactly one supply point, a closed bus-bus switch has an impedance,
        or the energised network is split into islands.
    """
    name = model.name
    if len(model.supplies) != 1:
        raise InputError(
            f"network {name!r}: the dispatch needs exactly one in-service supply point (the "
            f"connection to the upstream grid, an ext_grid), found {len(model.supplies)}"
        )
    topo = resolve(model, configuration)
    if len(topo.bus_switch_edges):
        k = int(topo.bus_switch_edges[0])
        raise InputError(
            f"network {name!r}: {model.switches.label(k)} is a closed bus-bus switch with an "
            "impedance, which the dispatch does not model; set its z_ohm to 0 or model it as "
            "an impedance element"
        )
    buses, br = model.buses, model.branches
    active = np.flatnonzero(topo.active_branch)
    n_node = topo.n_node
    members = topo.node_buses()
    source_id = model.bus_ids()
    node_id = np.array([min((int(source_id[b]) for b in m if source_id[b] >= 0),
                            default=-1 - int(m[0])) for m in members], dtype=np.int64)
    vmin = np.full(n_node, -np.inf)
    vmax = np.full(n_node, np.inf)
    lo = np.where(np.isfinite(buses.vmin_pu), buses.vmin_pu, DEFAULT_VMIN_PU)
    hi = np.where(np.isfinite(buses.vmax_pu), buses.vmax_pu, DEFAULT_VMAX_PU)
    on = topo.node_of_bus >= 0
    np.maximum.at(vmin, topo.node_of_bus[on], lo[on])
    np.minimum.at(vmax, topo.node_of_bus[on], hi[on])
    slack_bus = int(model.supplies.bus[0])
    if topo.node_of_bus[slack_bus] < 0:
        raise InputError(f"network {name!r}: the supply bus {buses.name[slack_bus]} is out of "
                         "service")
    grid = DispatchGrid(
        name=name,
        base_mva=model.base_mva,
        bus_id=_ro(node_id, np.int64),
        bus_name=tuple("+".join(buses.name[b] for b in m) for m in members),
        slack_bus=int(topo.node_of_bus[slack_bus]),
        v_slack_pu=float(model.supplies.vm_pu[0]),
        vmin_pu=_ro(vmin),
        vmax_pu=_ro(vmax),
        branch_label=tuple(br.label(int(k)) for k in active),
        branch_from=_ro(topo.node_of_bus[br.from_bus[active]], np.int64),
        branch_to=_ro(topo.node_of_bus[br.to_bus[active]], np.int64),
        r_pu=_ro(br.r_pu[active]),
        x_pu=_ro(br.x_pu[active]),
        tap_ratio=_ro(br.tap_ratio[active]),
        rate_mva=_ro(br.rate_mva[active]),
        branch_ref=tuple(br.ref[int(k)] for k in active),
        branch_side=tuple(br.side[int(k)] for k in active),
        bus_members=tuple(tuple(int(source_id[b]) for b in m if source_id[b] >= 0)
                          for m in members),
    )
    if _n_components(grid) != 1:
        raise InputError(
            f"network {name!r} is split into {_n_components(grid)} islands by out-of-service "
            "branches or open switches; the dispatch needs one connected network"
        )
    return grid
