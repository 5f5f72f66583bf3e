"""Switch states -> the energised topology: which buses are one node, which branches carry power.

One function, :func:`resolve`, used by every view of a :class:`~gridopt.network.model.NetworkModel`
(dispatch, switching), so that they agree on what a closed bus-bus switch or an open line switch
means:

* buses joined by a **closed bus-bus switch** are one node (an ideal switch has no impedance);
  a closed bus-bus switch with a resistance (pandapower ``z_ohm > 0``) stays a branch-like edge
  and is reported in ``bus_switch_edges``;
* a branch is **active** when it is in service and every line/transformer switch acting on it is
  closed;
* out-of-service buses belong to no node.

A :class:`Configuration` is a switch state and a set of branch statuses: the source's
(:meth:`Configuration.of`) or one a reconfiguration chose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridopt.errors import InputError
from gridopt.network.case import BoolArray, IntArray
from gridopt.network.model import NetworkModel, SwitchKind


@dataclass(frozen=True, eq=False)
class Configuration:
    """Which switches are closed and which branches are in service (one entry per row)."""

    switch_closed: BoolArray
    branch_in_service: BoolArray

    @classmethod
    def of(cls, model: NetworkModel) -> Configuration:
        """The configuration the source has."""
        return cls(switch_closed=np.array(model.switches.closed, dtype=bool),
                   branch_in_service=np.array(model.branches.in_service, dtype=bool))

    def check(self, model: NetworkModel) -> None:
        """Raise :class:`InputError` unless the arrays fit ``model``."""
        if len(self.switch_closed) != len(model.switches) or \
                len(self.branch_in_service) != len(model.branches):
            raise InputError(
                f"network {model.name!r}: a configuration of {len(self.switch_closed)} switches "
                f"and {len(self.branch_in_service)} branches does not fit the model "
                f"({len(model.switches)} switches, {len(model.branches)} branches)")

    def differences(self, other: Configuration) -> tuple[IntArray, IntArray]:
        """Switch rows and branch rows whose state differs from ``other``."""
        return (np.flatnonzero(self.switch_closed != other.switch_closed),
                np.flatnonzero(self.branch_in_service != other.branch_in_service))


@dataclass(frozen=True, eq=False)
class Topology:
    """The energised structure under one configuration.

    Attributes
    ----------
    node_of_bus
        Node of every bus row (``-1`` for out-of-service buses).
    n_node
        Number of nodes.
    active_branch
        Branch rows that carry power.
    bus_switch_edges
        Closed bus-bus switches with a resistance (they join two nodes like a branch).
    """

    node_of_bus: IntArray
    n_node: int
    active_branch: BoolArray
    bus_switch_edges: IntArray

    def node_buses(self) -> tuple[tuple[int, ...], ...]:
        """Bus rows of every node, in node order."""
        out: list[list[int]] = [[] for _ in range(self.n_node)]
        for bus, node in enumerate(self.node_of_bus):
            if node >= 0:
                out[int(node)].append(bus)
        return tuple(tuple(b) for b in out)


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = int(parent[root])
    while parent[i] != root:
        parent[i], i = root, int(parent[i])
    return root


def resolve(model: NetworkModel, configuration: Configuration | None = None,
            fuse: BoolArray | None = None) -> Topology:
    """Apply a configuration to the model (the rules of the module docstring).

    Parameters
    ----------
    model
        The network.
    configuration
        Switch states and branch statuses; the source's when ``None``.
    fuse
        Which closed ideal bus-bus switches join their buses (default: all of them). A
        reconfiguration keeps the operable ones apart, as edges of its own.

    Returns
    -------
    Topology
        Nodes numbered in the order of their lowest bus row.
    """
    config = configuration or Configuration.of(model)
    config.check(model)
    sw, br, buses = model.switches, model.branches, model.buses
    n_bus = len(buses)
    parent = np.arange(n_bus)
    is_bus = np.array([k is SwitchKind.BUS for k in sw.kind], dtype=bool)
    joins = is_bus & config.switch_closed & (sw.r_pu == 0)
    if fuse is not None:
        joins &= np.asarray(fuse, dtype=bool)
    for k in np.flatnonzero(joins):
        a, b = _find(parent, int(sw.bus[k])), _find(parent, int(sw.other_bus[k]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = np.array([_find(parent, i) for i in range(n_bus)], dtype=np.int64)
    on = np.asarray(buses.in_service, dtype=bool)
    roots = np.where(on, roots, -1)
    order = np.unique(roots[roots >= 0])
    node_of_bus = np.where(roots >= 0, np.searchsorted(order, np.maximum(roots, 0)), -1)
    branch_switch = ~is_bus
    open_switch = branch_switch & ~config.switch_closed
    blocked = np.zeros(len(br), dtype=bool)
    blocked[sw.branch[open_switch]] = True
    active = config.branch_in_service & ~blocked & on[br.from_bus] & on[br.to_bus]
    resistive = np.flatnonzero(is_bus & config.switch_closed & (sw.r_pu > 0)
                               & on[sw.bus] & on[np.maximum(sw.other_bus, 0)])
    return Topology(node_of_bus=node_of_bus.astype(np.int64), n_node=int(order.size),
                    active_branch=active, bus_switch_edges=resistive.astype(np.int64))
