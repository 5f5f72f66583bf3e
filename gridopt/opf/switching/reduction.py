"""Loop-edge reduction of the switching graph: which edges need a binary, and how few.

In every radial configuration that serves all nodes (a spanning tree once a virtual super-root
joins the supplies, :mod:`~gridopt.opf.switching.topology`):

* a **bridge** (an edge on no cycle of the graph with every switchable edge closed and the
  supplies joined) is closed, since opening it cuts a node off; :func:`bridge_edges` finds them
  and the MILP fixes their binary to 1;
* of a **series chain** (a maximal path whose interior nodes are non-supply nodes with exactly
  two incident edges) at most one edge is open, since two open edges would cut off the interior
  nodes between them; :func:`series_chains` finds the chains and the MILP adds
  :math:`\\sum_{e \\in chain} (1 - \\alpha_e) \\le 1` for each (a valid cut that the LP
  relaxation of the spanning-tree constraints does not imply for chains of three or more edges).

Only loop edges then carry free binaries, and each chain is open at most once, which is the
"contract chains and bridges" reduction of the branch-exchange and MILP literature (e.g. the
fundamental-loop view of Jabr et al., IEEE TPWRS 27(2), 2012).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from gridopt.network.case import BoolArray, IntArray


def bridge_edges(n_node: int, e_from: IntArray, e_to: IntArray, roots: IntArray) -> BoolArray:
    """Edges whose removal disconnects a node from the supplies.

    Parameters
    ----------
    n_node
        Number of nodes (``0 .. n_node - 1``).
    e_from, e_to
        End nodes of each edge (parallel edges and self-loops allowed).
    roots
        Supply nodes; they are joined to a virtual super-root, so an edge between two supplies,
        or on a path from one supply to another, is on a cycle and no bridge.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for edges that every spanning tree of the graph (with the super-root) contains.
        An edge with a parallel twin is never a bridge.

    Examples
    --------
    A supply 0 feeding a ring 1-2-3 through edge 0, and a spur 3-4:

    >>> import numpy as np
    >>> bridge_edges(5, np.array([0, 1, 2, 3, 3]), np.array([1, 2, 3, 1, 4]), np.array([0]))
    array([ True, False, False, False,  True])
    """
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


def series_chains(n_node: int, e_from: IntArray, e_to: IntArray, roots: IntArray,
                  bridges: BoolArray) -> list[tuple[int, ...]]:
    """Maximal chains of two or more non-bridge edges in series.

    Parameters
    ----------
    n_node
        Number of nodes.
    e_from, e_to
        End nodes of each edge.
    roots
        Supply nodes (never interior to a chain: they need no path to a supply).
    bridges
        Bridge edges (:func:`bridge_edges`); they are left out, being closed anyway.

    Returns
    -------
    list of tuple of int
        Edge indices of each chain, in path order. Interior nodes of a chain are non-supply
        nodes whose only incident edges (self-loops ignored) are the two chain edges beside
        them. A cycle made only of such nodes is no chain (it cannot be supplied).

    Examples
    --------
    Supply 0, a ring 0-1-2-3-0 (edges 0-3) and a tie 1-3 (edge 4): the ring splits at the
    degree-3 nodes 1 and 3 and at the supply, so 1-2-3 is the only chain:

    >>> import numpy as np
    >>> series_chains(4, np.array([0, 1, 2, 3, 1]), np.array([1, 2, 3, 0, 3]), np.array([0]),
    ...               np.zeros(5, dtype=bool))
    [(1, 2)]
    """
    root_set = {int(r) for r in roots}
    incident: list[list[int]] = [[] for _ in range(n_node)]
    for e, (a, b) in enumerate(zip(e_from.tolist(), e_to.tolist(), strict=True)):
        if a != b:
            incident[a].append(e)
            incident[b].append(e)
    interior = [len(incident[n]) == 2 and n not in root_set for n in range(n_node)]
    seen = np.zeros(len(e_from), dtype=bool)
    chains: list[tuple[int, ...]] = []
    for start in range(len(e_from)):
        if seen[start] or bridges[start] or e_from[start] == e_to[start]:
            continue
        # walk both ways from the edge through interior nodes
        path = [start]
        seen[start] = True
        closed_loop = False
        for direction in (0, 1):
            node = int(e_to[start]) if direction == 0 else int(e_from[start])
            edge = start
            while interior[node]:
                nxt = incident[node][0] if incident[node][1] == edge else incident[node][1]
                if nxt == start:
                    closed_loop = True
                    break
                seen[nxt] = True
                if direction == 0:
                    path.append(nxt)
                else:
                    path.insert(0, nxt)
                edge = nxt
                node = int(e_to[nxt]) if int(e_from[nxt]) == node else int(e_from[nxt])
            if closed_loop:
                break
        if not closed_loop and len(path) >= 2:
            chains.append(tuple(path))
    return chains
