"""Switchable graph of a network: nodes, edges, switchable edges and supplies.

:func:`build_switching_graph` is a pure function of the one network model
(:class:`gridopt.network.model.NetworkModel`): the arrays the reconfiguration MILP and the AC
local search work on, with the model's branch parameters (series impedance, tap ratio, rating)
and its switch resolution (:func:`gridopt.network.topology.resolve`), the same as the
dispatch's view.

Graph model
-----------
* **Nodes** are in-service buses (rows of the model's bus table; three-winding transformer star
  points included). Buses joined by a *closed, non-switchable* bus-bus switch are fused into one
  node (never opened); open non-switchable bus-bus switches are ignored (they stay open).
* **Edges** are in-service lines, transformers (two- and three-winding) and impedances, and
  switchable bus-bus switches (zero reactance). A line or transformer is *switchable* when one
  of its ``switch`` entries is switchable, or, for a line without switches, when the line itself
  is listed as switchable (the ties of ``case33bw`` are out-of-service lines). An element held
  open by a non-switchable open switch, or out of service and not switchable, is no edge.
* **Supplies** (roots) are the nodes of in-service ``ext_grid`` entries (and ``gen`` entries with
  ``slack=True``).
* Buses that no supply can reach even with every switchable edge closed are left out; if any of
  them carries demand or generation that is an "island without supply" and an
  :class:`~gridopt.errors.InputError`.

A configuration is *radial* when its closed edges form a spanning forest of the supplied nodes
in which every tree holds exactly one supply node, i.e. (adding a virtual super-root joined to
every supply node) a spanning tree: each energised bus has exactly one path to exactly one supply.

Default switchable set (:class:`SwitchableSpec` with both fields ``None``): every line switch
(``et == "l"``) and bus-bus switch (``et == "b"``) when the net has any; otherwise (nets such as
``case33bw`` that model ties as out-of-service lines) every line. Transformer switches are never
switched by default (substation transformers are not part of feeder reconfiguration); name them
explicitly to include them.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridopt.errors import InputError
from gridopt.network.case import BoolArray, FloatArray, IntArray
from gridopt.network.model import BranchKind, ElementRef, NetworkModel, SwitchKind
from gridopt.network.topology import resolve
from gridopt.opf.switching.reduction import bridge_edges

logger = logging.getLogger(__name__)

SQRT3 = math.sqrt(3.0)


class EdgeKind(enum.Enum):
    """Kind of network element behind a graph edge."""

    LINE = "line"
    TRAFO = "trafo"
    TRAFO3W = "trafo3w"
    IMPEDANCE = "impedance"
    BUS_SWITCH = "switch"


@dataclass(frozen=True)
class SwitchableSpec:
    """Which elements may change state.

    Attributes
    ----------
    lines
        pandapower ``line`` indices that may be opened/closed directly (``in_service``); lines
        with ``switch`` entries are switched through those switches instead. ``None``: every
        line when the net has no ``switch`` entries, none otherwise.
    switches
        pandapower ``switch`` indices that may be opened/closed. ``None``: every line and
        bus-bus switch.
    """

    lines: tuple[int, ...] | None = None
    switches: tuple[int, ...] | None = None


@dataclass(frozen=True, eq=False)
class SwitchingGraph:
    """Reconfiguration graph of a pandapower net (node/edge arrays are read-only).

    Attributes
    ----------
    name
        Network name, for messages.
    base_mva
        Power base of the per-unit impedances (the net's ``sn_mva``).
    node_buses
        Bus rows of the model (:attr:`NetworkModel.buses`) fused into each node.
    node_bus_ids
        The same as source bus indices (pandapower ``bus`` index; auxiliary buses left out).
    root_nodes
        Supply nodes (``ext_grid`` or slack ``gen``), unique, sorted.
    root_vm_pu
        Voltage set-point of each supply node.
    vmin_pu, vmax_pu
        Voltage limits of each node (tightest of its buses; 0.9 / 1.1 where the net has none).
    edge_kind, edge_element, edge_ref
        Kind, source index (line, trafo or switch index) and source element of each edge.
    edge_from, edge_to
        End nodes of each edge.
    r_pu, x_pu
        Series resistance and reactance on ``base_mva`` (shunt admittances are left to the
        AC check).
    tap_ratio
        Off-nominal turns ratio at the ``from`` end (1 for lines).
    smax_mva
        Thermal rating (``inf`` when none).
    switchable
        Whether the edge may change state.
    closed0
        Whether the edge is closed in the net as given.
    edge_switches
        Switchable pandapower ``switch`` indices acting on each edge (empty for lines switched
        through ``in_service``).
    unsupplied_buses
        In-service buses no supply can reach (they carry neither demand nor generation).
    must_close
        Switchable edges that are bridges of the graph (with the supplies joined): every radial
        configuration closes them, so the MILP fixes them instead of branching on them.
    """

    name: str
    base_mva: float
    node_buses: tuple[tuple[int, ...], ...]
    node_bus_ids: tuple[tuple[int, ...], ...]
    root_nodes: IntArray
    root_vm_pu: FloatArray
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    edge_kind: tuple[EdgeKind, ...]
    edge_element: IntArray
    edge_ref: tuple[ElementRef, ...]
    edge_from: IntArray
    edge_to: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
    tap_ratio: FloatArray
    smax_mva: FloatArray
    switchable: BoolArray
    closed0: BoolArray
    edge_switches: tuple[tuple[int, ...], ...]
    unsupplied_buses: tuple[int, ...]
    must_close: BoolArray

    @property
    def n_node(self) -> int:
        """Number of supplied nodes."""
        return len(self.node_buses)

    @property
    def n_edge(self) -> int:
        """Number of edges."""
        return len(self.edge_from)

    @property
    def bus_node(self) -> dict[int, int]:
        """Source bus index -> node position (supplied buses only)."""
        return {bus: node for node, buses in enumerate(self.node_bus_ids) for bus in buses}

    def edge_label(self, edge: int) -> str:
        """Human-readable name of an edge, e.g. ``"line 32"``."""
        return f"{self.edge_kind[edge].value} {int(self.edge_element[edge])}"

    def n_tree_edges(self) -> int:
        """Number of closed edges in any radial configuration: nodes minus supply nodes."""
        return self.n_node - len(self.root_nodes)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


_EDGE_KIND = {BranchKind.LINE: EdgeKind.LINE, BranchKind.TRAFO: EdgeKind.TRAFO,
              BranchKind.TRAFO3W: EdgeKind.TRAFO3W, BranchKind.IMPEDANCE: EdgeKind.IMPEDANCE,
              BranchKind.MATPOWER: EdgeKind.LINE}


def _check_supported(model: NetworkModel) -> None:
    for k, kind in enumerate(model.branches.kind):
        if kind is BranchKind.XWARD and model.branches.in_service[k]:
            raise InputError(
                f"network {model.name}: reconfiguration does not support extended wards "
                f"({model.branches.label(k)}); take them out of service or replace them by a "
                "load and a generator"
            )


def _resolve_switchable(model: NetworkModel, spec: SwitchableSpec
                        ) -> tuple[set[int], set[int]]:
    """Switchable branch rows (lines switched through ``in_service``) and switch rows."""
    sw, br = model.switches, model.branches
    switch_row = {idx: k for k, (_, idx) in enumerate(sw.ref)}
    line_row = {idx: k for k, (t, idx) in enumerate(br.ref) if t in ("line", "branch")}
    if spec.switches is None:
        switches = {k for k in range(len(sw)) if sw.kind[k] is not SwitchKind.TRAFO}
    else:
        unknown = sorted(set(int(i) for i in spec.switches) - set(switch_row))
        if unknown:
            raise InputError(
                f"network {model.name}: switchable switches {unknown} are not in net.switch "
                f"(indices {sorted(switch_row)[:10]}...); pass existing indices"
            )
        switches = {switch_row[int(i)] for i in spec.switches}
    if spec.lines is None:
        lines = set(line_row.values()) if len(sw) == 0 else set()
    else:
        unknown = sorted(set(int(i) for i in spec.lines) - set(line_row))
        if unknown:
            raise InputError(
                f"network {model.name}: switchable lines {unknown} are not in net.line "
                f"({len(line_row)} lines); pass existing line indices"
            )
        lines = {line_row[int(i)] for i in spec.lines}
    return lines, switches


@dataclass
class _Edges:
    """Edges over bus rows while the graph is assembled."""

    kind: list[EdgeKind] = field(default_factory=list)
    element: list[int] = field(default_factory=list)
    ref: list[ElementRef] = field(default_factory=list)
    ends: list[tuple[int, int]] = field(default_factory=list)
    r: list[float] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    tap: list[float] = field(default_factory=list)
    smax: list[float] = field(default_factory=list)
    switchable: list[bool] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)
    switches: list[tuple[int, ...]] = field(default_factory=list)


def _branch_edges(model: NetworkModel, lines_sw: set[int], switches_sw: set[int],
                  edges: _Edges) -> None:
    """Lines, transformers and impedances as edges (the rules of the module docstring)."""
    br, sw, on_bus = model.branches, model.switches, model.buses.in_service
    own: dict[int, list[int]] = {}
    for k in range(len(sw)):
        if sw.kind[k] is not SwitchKind.BUS:
            own.setdefault(int(sw.branch[k]), []).append(k)
    for k in range(len(br)):
        kind = br.kind[k]
        if kind is BranchKind.XWARD or not (on_bus[br.from_bus[k]] and on_bus[br.to_bus[k]]):
            continue
        mine = own.get(k, [])
        mine_sw = [s for s in mine if s in switches_sw]
        if any(not sw.closed[s] for s in mine if s not in switches_sw):
            continue  # held open by a switch that may not be operated
        in_service = bool(br.in_service[k])
        if mine_sw:
            if not in_service and k not in lines_sw:
                continue
            switchable, closed = True, in_service and all(bool(sw.closed[s]) for s in mine_sw)
        elif k in lines_sw:
            switchable, closed = True, in_service
        else:
            if not in_service:
                continue
            switchable, closed = False, True
        edges.kind.append(_EDGE_KIND[kind])
        edges.element.append(int(br.ref[k][1]))
        edges.ref.append(br.ref[k])
        edges.ends.append((int(br.from_bus[k]), int(br.to_bus[k])))
        edges.r.append(float(br.r_pu[k]))
        edges.x.append(float(br.x_pu[k]))
        edges.tap.append(float(br.tap_ratio[k]))
        edges.smax.append(float(br.rate_mva[k]))
        edges.switchable.append(switchable)
        edges.closed.append(closed)
        edges.switches.append(tuple(int(sw.ref[s][1]) for s in mine_sw))


def _switch_edges(model: NetworkModel, switches_sw: set[int], edges: _Edges) -> None:
    """Operable bus-bus switches as zero-reactance edges."""
    sw, on_bus = model.switches, model.buses.in_service
    for k in sorted(switches_sw):
        if sw.kind[k] is not SwitchKind.BUS:
            continue
        a, b = int(sw.bus[k]), int(sw.other_bus[k])
        if not (on_bus[a] and on_bus[b]):
            continue
        edges.kind.append(EdgeKind.BUS_SWITCH)
        edges.element.append(int(sw.ref[k][1]))
        edges.ref.append(sw.ref[k])
        edges.ends.append((a, b))
        edges.r.append(float(sw.r_pu[k]))
        edges.x.append(0.0)
        edges.tap.append(1.0)
        edges.smax.append(math.inf)
        edges.switchable.append(True)
        edges.closed.append(bool(sw.closed[k]))
        edges.switches.append((int(sw.ref[k][1]),))


def build_switching_graph(
    model: NetworkModel, spec: SwitchableSpec | None = None
) -> SwitchingGraph:
    """Build the reconfiguration graph of a network model (a pure function of it).

    Parameters
    ----------
    model
        The one network model (:attr:`gridopt.network.load.LoadedNetwork.model`).
    spec
        Which elements may change; defaults described in the module docstring.

    Returns
    -------
    SwitchingGraph

    Raises
    ------
    InputError
        Unsupported elements, unknown switchable indices, no supply, an island without supply,
        or fixed (non-switchable) closed elements that already form a loop so that no radial
        configuration exists.

    Notes
    -----
    Long because it contracts the model's topology into the switching graph in one pass (nodes,
    edges, switchable flags, references), which the MILP and the branch exchange both read.
    """
    spec = spec or SwitchableSpec()
    name = model.name
    _check_supported(model)
    lines_sw, switches_sw = _resolve_switchable(model, spec)
    sw = model.switches
    fixed_closed_bus = np.array([sw.kind[k] is SwitchKind.BUS and k not in switches_sw
                                 for k in range(len(sw))], dtype=bool)
    topo = resolve(model, fuse=fixed_closed_bus)
    edges = _Edges()
    _branch_edges(model, lines_sw, switches_sw, edges)
    _switch_edges(model, switches_sw, edges)
    if len(model.supplies) == 0:
        raise InputError(
            f"network {name}: no in-service ext_grid (or slack gen) on an in-service bus; add "
            "the supply point with pandapower.create_ext_grid"
        )
    group = topo.node_of_bus
    reach = _UnionFind(max(topo.n_node, 1))
    for a, b in edges.ends:
        reach.union(int(group[a]), int(group[b]))
    root_groups = {reach.find(int(group[b])) for b in model.supplies.bus}
    supplied_group = np.array([reach.find(g) in root_groups for g in range(topo.n_node)])
    on = group >= 0
    unsupplied = [int(b) for b in np.flatnonzero(on) if not supplied_group[group[b]]]
    _check_islands(model, unsupplied)
    groups = np.flatnonzero(supplied_group)
    node_of_group = np.full(topo.n_node, -1, dtype=np.int64)
    node_of_group[groups] = np.arange(groups.size)
    node_of_bus = np.where(on, node_of_group[np.maximum(group, 0)], -1)
    members = [[int(b) for b in np.flatnonzero(node_of_bus == n)] for n in range(groups.size)]
    keep = [bool(node_of_bus[a] >= 0 and node_of_bus[b] >= 0) for a, b in edges.ends]
    e_from = np.array([node_of_bus[a] for (a, _), k in zip(edges.ends, keep, strict=True) if k],
                      dtype=np.int64)
    e_to = np.array([node_of_bus[b] for (_, b), k in zip(edges.ends, keep, strict=True) if k],
                    dtype=np.int64)

    def sel(values: Sequence[Any]) -> list[Any]:
        return [v for v, k in zip(values, keep, strict=True) if k]

    n_node = groups.size
    lo = np.where(np.isfinite(model.buses.vmin_pu), model.buses.vmin_pu, 0.9)
    hi = np.where(np.isfinite(model.buses.vmax_pu), model.buses.vmax_pu, 1.1)
    vmin, vmax = np.full(n_node, -np.inf), np.full(n_node, np.inf)
    live = node_of_bus >= 0
    np.maximum.at(vmin, node_of_bus[live], lo[live])
    np.minimum.at(vmax, node_of_bus[live], hi[live])
    root_vm: dict[int, float] = {}
    for b, vm in zip(model.supplies.bus, model.supplies.vm_pu, strict=True):
        root_vm.setdefault(int(node_of_bus[b]), float(vm))
    roots = sorted(root_vm)
    graph = SwitchingGraph(
        name=name,
        base_mva=model.base_mva,
        node_buses=tuple(tuple(m) for m in members),
        node_bus_ids=tuple(tuple(int(model.buses.ref[b][1]) for b in m
                                 if model.buses.ref[b][0] == "bus") for m in members),
        root_nodes=_ro(np.array(roots, dtype=np.int64)),
        root_vm_pu=_ro(np.array([root_vm[r] for r in roots], dtype=np.float64)),
        vmin_pu=_ro(vmin),
        vmax_pu=_ro(vmax),
        edge_kind=tuple(sel(edges.kind)),
        edge_element=_ro(np.array(sel(edges.element), dtype=np.int64)),
        edge_ref=tuple(sel(edges.ref)),
        edge_from=_ro(e_from),
        edge_to=_ro(e_to),
        r_pu=_ro(np.array(sel(edges.r), dtype=np.float64)),
        x_pu=_ro(np.array(sel(edges.x), dtype=np.float64)),
        tap_ratio=_ro(np.array(sel(edges.tap), dtype=np.float64)),
        smax_mva=_ro(np.array(sel(edges.smax), dtype=np.float64)),
        switchable=_ro(np.array(sel(edges.switchable), dtype=bool)),
        closed0=_ro(np.array(sel(edges.closed), dtype=bool)),
        edge_switches=tuple(sel(edges.switches)),
        unsupplied_buses=tuple(int(model.buses.ref[b][1]) for b in unsupplied),
        must_close=_ro(bridge_edges(n_node, e_from, e_to, np.array(roots, dtype=np.int64))),
    )
    _check_radialisable(graph)
    if unsupplied:
        logger.info("network %s: buses %s cannot be supplied (no load, no generation); they stay "
                    "de-energised", name, list(graph.unsupplied_buses))
    return graph


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _check_islands(model: NetworkModel, unsupplied: list[int]) -> None:
    """Raise when a bus no supply can reach carries demand or generation."""
    if not unsupplied:
        return
    inj = model.injections
    unsup = set(unsupplied)
    bad = [f"{t} {i} at {model.buses.name[int(b)]}" for (t, i), b, p in
           zip(inj.ref, inj.bus, inj.p_mw, strict=True) if int(b) in unsup and abs(p) > 0]
    if bad:
        shown = ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else "")
        ids = [model.buses.name[b] for b in unsupplied[:12]]
        raise InputError(
            f"network {model.name}: island without supply: {shown} cannot be reached from any "
            f"ext_grid even with every switchable element closed (unsupplied buses {ids}); "
            "connect the island, add a supply, or take those elements out of service"
        )


def _check_radialisable(graph: SwitchingGraph) -> None:
    """Raise when the non-switchable closed edges already contain a loop (with supplies joined).

    The fixed edges must form a forest in which no tree holds two supply nodes; then, since
    every node is reachable, the fixed forest extends to a spanning tree with switchable edges.
    """
    n = graph.n_node
    uf = _UnionFind(n + 1)  # node n is the virtual super-root
    for r in graph.root_nodes:
        uf.union(n, int(r))
    for e in range(graph.n_edge):
        if graph.switchable[e]:
            continue
        a, b = int(graph.edge_from[e]), int(graph.edge_to[e])
        if not uf.union(a, b):
            loop = _fixed_loop_elements(graph, e)
            raise InputError(
                f"network {graph.name}: cannot be made radial with the allowed switches: the "
                f"non-switchable elements {loop} close a loop (or join two supplies); mark one of "
                "them switchable (switchable lines/switches option) or open it in the net"
            )


def _fixed_loop_elements(graph: SwitchingGraph, closing_edge: int) -> list[str]:
    """Names of fixed edges on the loop closed by ``closing_edge`` (for error messages)."""
    n = graph.n_node
    adj: dict[int, list[tuple[int, int]]] = {i: [] for i in range(n + 1)}
    for r in graph.root_nodes:
        adj[n].append((int(r), -1))
        adj[int(r)].append((n, -1))
    for e in range(closing_edge):
        if graph.switchable[e]:
            continue
        a, b = int(graph.edge_from[e]), int(graph.edge_to[e])
        adj[a].append((b, e))
        adj[b].append((a, e))
    start, goal = int(graph.edge_from[closing_edge]), int(graph.edge_to[closing_edge])
    prev: dict[int, tuple[int, int]] = {start: (start, -2)}
    stack = [start]
    while stack:
        u = stack.pop()
        for v, e in adj[u]:
            if v not in prev:
                prev[v] = (u, e)
                stack.append(v)
    path = [graph.edge_label(closing_edge)]
    node = goal
    while node != start and node in prev:
        parent, e = prev[node]
        path.append("supply" if e == -1 else graph.edge_label(e))
        node = parent
    return path


def is_radial(graph: SwitchingGraph, closed: BoolArray) -> bool:
    """True when ``closed`` edges form a spanning forest with exactly one supply per tree.

    Parameters
    ----------
    graph
        The switching graph.
    closed
        Boolean state of every edge (fixed edges must be True).

    Examples
    --------
    >>> import numpy as np
    >>> from gridopt.network.load import load_network
    >>> graph = build_switching_graph(load_network("case33bw").model)  # 32 lines + 5 ties
    >>> graph.n_node, graph.n_edge, graph.n_tree_edges()
    (33, 37, 32)
    >>> is_radial(graph, graph.closed0)               # the ties open, as Baran & Wu give it
    True
    >>> is_radial(graph, np.ones(graph.n_edge, dtype=bool))
    False
    """
    n = graph.n_node
    closed = np.asarray(closed, dtype=bool)
    if int(closed.sum()) != graph.n_tree_edges():
        return False
    uf = _UnionFind(n + 1)
    for r in graph.root_nodes:
        uf.union(n, int(r))
    for e in np.flatnonzero(closed):
        if not uf.union(int(graph.edge_from[e]), int(graph.edge_to[e])):
            return False
    root = uf.find(n)
    return all(uf.find(i) == root for i in range(n))
