"""Switchable graph of a pandapower net: nodes, edges, switchable edges and supplies.

:func:`build_switching_graph` turns a pandapower net into the arrays the reconfiguration MILP and
the AC local search work on. It never mutates the net.

Graph model
-----------
* **Nodes** are in-service buses. Buses joined by a *closed, non-switchable* bus-bus switch are
  fused into one node (zero impedance, never opened); open non-switchable bus-bus switches are
  ignored (they stay open).
* **Edges** are in-service lines and two-winding transformers, and switchable bus-bus switches
  (zero impedance). A line or transformer is *switchable* when one of its ``switch`` entries is
  switchable, or, for a line without switches, when the line itself is listed as switchable (the
  ties of ``case33bw`` are out-of-service lines). An element held open by a non-switchable open
  switch, or out of service and not switchable, is no edge.
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
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd

from gridopt.errors import InputError
from gridopt.network.case import BoolArray, FloatArray, IntArray

logger = logging.getLogger(__name__)

SQRT3 = math.sqrt(3.0)


class EdgeKind(enum.Enum):
    """Kind of network element behind a graph edge."""

    LINE = "line"
    TRAFO = "trafo"
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
        pandapower bus indices fused into each node.
    root_nodes
        Supply nodes (``ext_grid`` or slack ``gen``), unique, sorted.
    root_vm_pu
        Voltage set-point of each supply node.
    vmin_pu, vmax_pu
        Voltage limits of each node (tightest of its buses; 0.9 / 1.1 where the net has none).
    edge_kind, edge_element
        Kind and pandapower index (line, trafo or switch index) of each edge.
    edge_from, edge_to
        End nodes of each edge.
    r_pu, x_pu
        Series resistance and reactance on ``base_mva`` (shunt admittances are left to the
        AC check).
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
    root_nodes: IntArray
    root_vm_pu: FloatArray
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    edge_kind: tuple[EdgeKind, ...]
    edge_element: IntArray
    edge_from: IntArray
    edge_to: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
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
        """pandapower bus index -> node position (supplied buses only)."""
        return {bus: node for node, buses in enumerate(self.node_buses) for bus in buses}

    def edge_label(self, edge: int) -> str:
        """Human-readable name of an edge, e.g. ``"line 32"``."""
        return f"{self.edge_kind[edge].value} {int(self.edge_element[edge])}"

    def n_tree_edges(self) -> int:
        """Number of closed edges in any radial configuration: nodes minus supply nodes."""
        return self.n_node - len(self.root_nodes)


class _UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> bool:
        """Join the sets of ``a`` and ``b``; False when they were already one set."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


def _in_service(table: pd.DataFrame) -> pd.DataFrame:
    if len(table) == 0:
        return table
    return table[table["in_service"].astype(bool)]


def _check_supported(net: pp.pandapowerNet) -> None:
    for element in ("trafo3w", "impedance", "ward", "xward", "dcline", "tcsc", "ssc", "vsc"):
        table = net.get(element)
        if table is not None and len(table) and bool(table["in_service"].astype(bool).any()):
            raise InputError(
                f"network {net.name or '(unnamed)'}: reconfiguration does not support in-service "
                f"{element!r} elements ({len(table)} found); take them out of service or model "
                "them with lines/two-winding transformers"
            )


def _resolve_switchable(net: pp.pandapowerNet, spec: SwitchableSpec) -> tuple[set[int], set[int]]:
    """Return the sets of switchable line and switch indices, validated against the net."""
    switches = net.switch
    if spec.switches is None:
        sw = set(int(i) for i in switches.index[switches["et"].isin(["l", "b"])])
    else:
        sw = set(int(i) for i in spec.switches)
        unknown = sorted(sw - set(int(i) for i in switches.index))
        if unknown:
            raise InputError(
                f"network {net.name or '(unnamed)'}: switchable switches {unknown} are not in "
                f"net.switch (indices {list(switches.index)[:10]}...); pass existing indices"
            )
    if spec.lines is None:
        lines = set(int(i) for i in net.line.index) if len(switches) == 0 else set()
    else:
        lines = set(int(i) for i in spec.lines)
        unknown = sorted(lines - set(int(i) for i in net.line.index))
        if unknown:
            raise InputError(
                f"network {net.name or '(unnamed)'}: switchable lines {unknown} are not in "
                f"net.line ({len(net.line)} lines); pass existing line indices"
            )
    return lines, sw


def build_switching_graph(
    net: pp.pandapowerNet, spec: SwitchableSpec | None = None
) -> SwitchingGraph:
    """Build the reconfiguration graph of ``net`` (which is not modified).

    Parameters
    ----------
    net
        pandapower network.
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
    """
    spec = spec or SwitchableSpec()
    name = str(net.name or "(unnamed)")
    _check_supported(net)
    lines_sw, switches_sw = _resolve_switchable(net, spec)
    base_mva = float(net.sn_mva)

    buses = _in_service(net.bus)
    bus_ids = [int(b) for b in buses.index]
    bus_pos = {b: i for i, b in enumerate(bus_ids)}
    uf = _UnionFind(len(bus_ids))
    switches = net.switch

    # closed non-switchable bus-bus switches fuse buses
    for idx, row in switches.iterrows():
        if row["et"] != "b" or int(idx) in switches_sw or not bool(row["closed"]):
            continue
        a, b = int(row["bus"]), int(row["element"])
        if a in bus_pos and b in bus_pos:
            uf.union(bus_pos[a], bus_pos[b])

    # raw edges over bus positions
    kinds: list[EdgeKind] = []
    elements: list[int] = []
    ends: list[tuple[int, int]] = []
    r_list: list[float] = []
    x_list: list[float] = []
    s_list: list[float] = []
    sw_flags: list[bool] = []
    closed_flags: list[bool] = []
    sw_lists: list[tuple[int, ...]] = []

    def element_switches(et: str, element: int) -> pd.DataFrame:
        return switches[(switches["et"] == et) & (switches["element"] == element)]

    for idx, row in net.line.iterrows():
        line = int(idx)
        fb, tb = int(row["from_bus"]), int(row["to_bus"])
        if fb not in bus_pos or tb not in bus_pos:
            continue
        own = element_switches("l", line)
        own_sw = tuple(int(i) for i in own.index if int(i) in switches_sw)
        fixed_open = bool((~own["closed"].astype(bool) & ~own.index.isin(list(own_sw))).any())
        in_service = bool(row["in_service"])
        if fixed_open:
            continue
        if len(own) and own_sw:
            if not in_service and line not in lines_sw:
                continue
            switchable = True
            closed = in_service and bool(own.loc[list(own_sw), "closed"].astype(bool).all())
        elif line in lines_sw:
            switchable, closed = True, in_service
        else:
            if not in_service:
                continue
            switchable, closed = False, True
        vn_kv = float(net.bus.at[fb, "vn_kv"])
        z_base = vn_kv**2 / base_mva
        parallel = float(row.get("parallel", 1) or 1)
        length = float(row["length_km"])
        r_list.append(float(row["r_ohm_per_km"]) * length / parallel / z_base)
        x_list.append(float(row["x_ohm_per_km"]) * length / parallel / z_base)
        max_i = float(row["max_i_ka"]) * float(row.get("df", 1.0) or 1.0) * parallel
        loading = float(row.get("max_loading_percent", 100.0))
        loading = 100.0 if not math.isfinite(loading) else loading
        smax = SQRT3 * vn_kv * max_i * loading / 100.0
        s_list.append(smax if max_i < 9e4 else math.inf)
        kinds.append(EdgeKind.LINE)
        elements.append(line)
        ends.append((bus_pos[fb], bus_pos[tb]))
        sw_flags.append(switchable)
        closed_flags.append(closed)
        sw_lists.append(own_sw)

    for idx, row in net.trafo.iterrows():
        trafo = int(idx)
        hv, lv = int(row["hv_bus"]), int(row["lv_bus"])
        if not bool(row["in_service"]) or hv not in bus_pos or lv not in bus_pos:
            continue
        own = element_switches("t", trafo)
        own_sw = tuple(int(i) for i in own.index if int(i) in switches_sw)
        if bool((~own["closed"].astype(bool) & ~own.index.isin(list(own_sw))).any()):
            continue
        closed = bool(own.loc[list(own_sw), "closed"].astype(bool).all()) if own_sw else True
        parallel = float(row.get("parallel", 1) or 1)
        scale = base_mva / float(row["sn_mva"]) / parallel
        z = float(row["vk_percent"]) / 100.0 * scale
        r = float(row["vkr_percent"]) / 100.0 * scale
        loading = float(row.get("max_loading_percent", 100.0))
        loading = 100.0 if not math.isfinite(loading) else loading
        kinds.append(EdgeKind.TRAFO)
        elements.append(trafo)
        ends.append((bus_pos[hv], bus_pos[lv]))
        r_list.append(r)
        x_list.append(math.sqrt(max(z * z - r * r, 0.0)))
        s_list.append(float(row["sn_mva"]) * parallel * loading / 100.0)
        sw_flags.append(bool(own_sw))
        closed_flags.append(closed)
        sw_lists.append(own_sw)

    for idx, row in switches.iterrows():
        if row["et"] != "b" or int(idx) not in switches_sw:
            continue
        a, b = int(row["bus"]), int(row["element"])
        if a not in bus_pos or b not in bus_pos:
            continue
        z_ohm = float(row.get("z_ohm", 0.0) or 0.0)
        vn_kv = float(net.bus.at[a, "vn_kv"])
        kinds.append(EdgeKind.BUS_SWITCH)
        elements.append(int(idx))
        ends.append((bus_pos[a], bus_pos[b]))
        r_list.append(z_ohm / (vn_kv**2 / base_mva))
        x_list.append(0.0)
        s_list.append(math.inf)
        sw_flags.append(True)
        closed_flags.append(bool(row["closed"]))
        sw_lists.append((int(idx),))

    # supplies
    root_bus_vm: dict[int, float] = {}
    for _, row in _in_service(net.ext_grid).iterrows():
        if int(row["bus"]) in bus_pos:
            root_bus_vm[int(row["bus"])] = float(row["vm_pu"])
    gens = _in_service(net.gen)
    if len(gens) and "slack" in gens:
        for _, row in gens[gens["slack"].astype(bool)].iterrows():
            if int(row["bus"]) in bus_pos:
                root_bus_vm[int(row["bus"])] = float(row["vm_pu"])
    if not root_bus_vm:
        raise InputError(
            f"network {name}: no in-service ext_grid (or slack gen) on an in-service bus; add "
            "the supply point with pandapower.create_ext_grid"
        )

    # fused groups -> reachable nodes
    group = [uf.find(i) for i in range(len(bus_ids))]
    reach = _UnionFind(len(bus_ids))
    for a, b in ends:
        reach.union(group[a], group[b])
    root_groups = {reach.find(group[bus_pos[b]]) for b in root_bus_vm}
    supplied = [reach.find(group[i]) in root_groups for i in range(len(bus_ids))]
    unsupplied = [bus_ids[i] for i in range(len(bus_ids)) if not supplied[i]]
    _check_islands(net, unsupplied, name)

    group_ids = sorted({group[i] for i in range(len(bus_ids)) if supplied[i]})
    node_of_group = {g: n for n, g in enumerate(group_ids)}
    node_buses_l: list[list[int]] = [[] for _ in group_ids]
    for i, b in enumerate(bus_ids):
        if supplied[i]:
            node_buses_l[node_of_group[group[i]]].append(b)
    node_of_bus = {b: node_of_group[group[bus_pos[b]]] for b in bus_ids if supplied[bus_pos[b]]}

    keep = [supplied[a] and supplied[b] for a, b in ends]
    e_from = np.array([node_of_group[group[a]] for (a, _), k in zip(ends, keep, strict=True) if k],
                      dtype=np.int64)
    e_to = np.array([node_of_group[group[b]] for (_, b), k in zip(ends, keep, strict=True) if k],
                    dtype=np.int64)

    def sel(values: Sequence[object]) -> list[object]:
        return [v for v, k in zip(values, keep, strict=True) if k]

    n_node = len(group_ids)
    vmin = np.full(n_node, -np.inf)
    vmax = np.full(n_node, np.inf)
    for b, n in node_of_bus.items():
        lo = float(net.bus.at[b, "min_vm_pu"]) if "min_vm_pu" in net.bus else math.nan
        hi = float(net.bus.at[b, "max_vm_pu"]) if "max_vm_pu" in net.bus else math.nan
        vmin[n] = max(vmin[n], lo if math.isfinite(lo) else 0.9)
        vmax[n] = min(vmax[n], hi if math.isfinite(hi) else 1.1)

    roots = sorted({node_of_bus[b] for b in root_bus_vm})
    root_vm = np.array(
        [next(vm for b, vm in root_bus_vm.items() if node_of_bus[b] == r) for r in roots]
    )

    graph = SwitchingGraph(
        name=name,
        base_mva=base_mva,
        node_buses=tuple(tuple(nb) for nb in node_buses_l),
        root_nodes=_ro(np.array(roots, dtype=np.int64)),
        root_vm_pu=_ro(root_vm.astype(np.float64)),
        vmin_pu=_ro(vmin),
        vmax_pu=_ro(vmax),
        edge_kind=tuple(k for k in sel(kinds)),  # type: ignore[misc]
        edge_element=_ro(np.array(sel(elements), dtype=np.int64)),
        edge_from=_ro(e_from),
        edge_to=_ro(e_to),
        r_pu=_ro(np.array(sel(r_list), dtype=np.float64)),
        x_pu=_ro(np.array(sel(x_list), dtype=np.float64)),
        smax_mva=_ro(np.array(sel(s_list), dtype=np.float64)),
        switchable=_ro(np.array(sel(sw_flags), dtype=bool)),
        closed0=_ro(np.array(sel(closed_flags), dtype=bool)),
        edge_switches=tuple(sel(sw_lists)),  # type: ignore[arg-type]
        unsupplied_buses=tuple(unsupplied),
        must_close=_ro(_bridges(n_node, e_from, e_to, np.array(roots, dtype=np.int64))),
    )
    _check_radialisable(graph)
    if unsupplied:
        logger.info("network %s: buses %s cannot be supplied (no load, no generation); they stay "
                    "de-energised", name, unsupplied)
    return graph


def _bridges(n_node: int, e_from: IntArray, e_to: IntArray, roots: IntArray) -> BoolArray:
    """Edges whose removal disconnects a node from the supplies (virtual super-root joined)."""
    import networkx as nx

    g = nx.MultiGraph()
    g.add_nodes_from(range(n_node + 1))
    for r in roots:
        g.add_edge(n_node, int(r), key=-1)
    for e, (a, b) in enumerate(zip(e_from.tolist(), e_to.tolist(), strict=True)):
        g.add_edge(a, b, key=e)
    simple = nx.Graph(g)
    bridge_pairs = {frozenset(p) for p in nx.bridges(simple)}
    out = np.zeros(len(e_from), dtype=bool)
    for e, (a, b) in enumerate(zip(e_from.tolist(), e_to.tolist(), strict=True)):
        if a != b and frozenset((a, b)) in bridge_pairs and g.number_of_edges(a, b) == 1:
            out[e] = True
    return out


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _check_islands(net: pp.pandapowerNet, unsupplied: list[int], name: str) -> None:
    """Raise when a bus no supply can reach carries demand or generation."""
    if not unsupplied:
        return
    bad: list[str] = []
    unsup = set(unsupplied)
    for element in ("load", "sgen", "storage", "gen"):
        table = _in_service(net[element]) if element in net else None
        if table is None or not len(table):
            continue
        hit = table[table["bus"].isin(unsup) & (table["p_mw"].abs() > 0)]
        bad.extend(f"{element} {int(i)} at bus {int(b)}" for i, b in hit["bus"].items())
    if bad:
        shown = ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else "")
        raise InputError(
            f"network {name}: island without supply: {shown} cannot be reached from any ext_grid "
            f"even with every switchable element closed (unsupplied buses {unsupplied[:12]}); "
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
    >>> import numpy as np, pandapower.networks as pn
    >>> graph = build_switching_graph(pn.case33bw())  # 33 buses, 32 lines + 5 tie lines
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
