"""pandapower nets -> :class:`~gridopt.network.case.CaseData` (the other direction is
:mod:`gridopt.network.case_to_pandapower`).

* :func:`case_from_pandapower` turns a pandapower net into a case through pandapower's own
  converter (``to_ppc`` in OPF mode, on a deep copy), so the case has exactly pandapower's
  power-flow equations (same admittance matrix, same bus fusing at closed bus-bus switches,
  same auxiliary buses for three-winding transformers, extended wards and open line switches).

It returns an :class:`ElementMap` that names, for every bus, generator and branch position of
the case, the pandapower element(s) it stands for. The caller's net is never mutated.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pandapower.auxiliary import pandapowerNet
from pandapower.converter.pypower.to_ppc import to_ppc
from scipy.sparse.csgraph import breadth_first_order

from gridopt.errors import InputError, warn
from gridopt.network import ppc_index as ix
from gridopt.network.case import REF, CaseData, FloatArray, IntArray
from gridopt.network.model import ElementMap, ElementRef

logger = logging.getLogger(__name__)



#: Generator-like elements of pandapower's OPF ppc, in the order ``_gen_order`` uses, and the
#: table each lookup refers to.
_GEN_TABLES = {
    "ext_grid": "ext_grid",
    "gen": "gen",
    "sgen_controllable": "sgen",
    "load_controllable": "load",
    "storage_controllable": "storage",
    "xward": "xward",
}
#: Branch-like elements of the ppc (pandapower's ``_pd2ppc_lookups["branch"]``).
_BRANCH_TABLES = ("line", "trafo", "trafo3w", "impedance", "xward", "switch")
_TRAFO3W_SIDES = ("hv", "mv", "lv")
#: Elements gridopt cannot represent in a single-phase AC case.
_UNSUPPORTED_TABLES = (
    "dcline", "tcsc", "svc", "ssc", "vsc", "line_dc", "bus_dc", "source_dc", "load_dc",
    "asymmetric_load", "asymmetric_sgen", "motor",
)
#: Branch charging that pandapower writes into extra ppc columns and MATPOWER cannot represent.
_ASYMMETRIC_KEYS = ("branch_r_asym", "branch_x_asym", "branch_g_asym", "branch_b_asym")

#: pandapower's defaults for missing OPF voltage limits (``_replace_nans_with_default_limits``).
_DEFAULT_VMIN_PU, _DEFAULT_VMAX_PU = 0.0, 2.0


# --------------------------------------------------------------------------------------------
# pandapower -> CaseData
# --------------------------------------------------------------------------------------------


def _element_label(ref: ElementRef, side: str = "") -> str:
    table, index = ref
    return f"{table} {index}" + (f" {side}" if side else "")


def check_reference(net: pandapowerNet, name: str) -> None:
    has_ext_grid = len(net.ext_grid) and bool(net.ext_grid.in_service.astype(bool).any())
    has_slack_gen = (
        len(net.gen)
        and "slack" in net.gen
        and bool((net.gen.slack.fillna(False).astype(bool) & net.gen.in_service.astype(bool)).any())
    )
    if not (has_ext_grid or has_slack_gen):
        raise InputError(
            f"network {name!r} has no reference bus: no in-service ext_grid and no gen with "
            "slack=True; add an external grid (pandapower.create_ext_grid) or mark a generator "
            "as slack"
        )


def check_supported(net: pandapowerNet, name: str) -> None:
    for table in _UNSUPPORTED_TABLES:
        if table in net and isinstance(net[table], pd.DataFrame) and len(net[table]):
            df = net[table]
            on = df.in_service.astype(bool) if "in_service" in df else pd.Series(True, df.index)
            if on.any():
                raise InputError(
                    f"network {name!r}: {table} {int(df.index[on.to_numpy()][0])} is in service, "
                    f"but gridopt cannot model {table} elements in a balanced AC case; take them "
                    "out of service or replace them by an equivalent (load, sgen, impedance)"
                )
    if len(net.pwl_cost):
        row = net.pwl_cost.iloc[0]
        raise InputError(
            f"network {name!r}: {row.et} {int(row.element)} has a piecewise-linear cost "
            "(net.pwl_cost); gridopt supports polynomial costs (net.poly_cost) of degree <= 2"
        )
    if len(net.poly_cost):
        q_names = ("cq0_eur", "cq1_eur_per_mvar", "cq2_eur_per_mvar2")
        q_cols = [c for c in q_names if c in net.poly_cost]
        q_costs = net.poly_cost[q_cols].fillna(0.0).to_numpy()
        bad = np.flatnonzero(np.any(q_costs != 0, axis=1))
        if len(bad):
            row = net.poly_cost.iloc[bad[0]]
            raise InputError(
                f"network {name!r}: {row.et} {int(row.element)} has a reactive-power cost "
                "(poly_cost cq*); gridopt prices active power only: set the cq* columns to 0"
            )


#: pandapower's default of the ``controllable`` flag per table.
_CONTROLLABLE_DEFAULT = {"ext_grid": False, "gen": True, "sgen": False, "load": False,
                         "storage": False}


def _controllable(df: pd.DataFrame, default: bool) -> np.ndarray:
    if "controllable" not in df:
        return np.full(len(df), default)
    values = df["controllable"].to_numpy(dtype=object)
    return np.array([default if pd.isna(v) else bool(v) for v in values], dtype=bool)


def _prepare_opf_columns(net: pandapowerNet, name: str) -> None:
    """Check (and where pandapower has documented defaults, fill) the OPF columns of a copy."""
    needed = ["min_p_mw", "max_p_mw", "min_q_mvar", "max_q_mvar"]
    # Missing 'controllable' entries (NaN, as SimBench writes them) take pandapower's defaults.
    for table, default in _CONTROLLABLE_DEFAULT.items():
        if table in net and "controllable" in net[table]:
            net[table]["controllable"] = _controllable(net[table], default)
    for table, default in (("gen", True), ("sgen", False), ("load", False), ("storage", False)):
        df = net[table]
        if not len(df):
            continue
        ctrl = _controllable(df, default) & df.in_service.astype(bool).to_numpy()
        if not ctrl.any():
            continue
        missing = [c for c in needed if c not in df]
        if missing:
            first = int(df.index[ctrl][0])
            raise InputError(
                f"network {name!r}: {table} {first} is controllable but the {table} table has no "
                f"{', '.join(missing)} column(s); add the limits (for example "
                f"net.{table}['max_p_mw'] = ...) or set controllable=False to keep its output fixed"
            )
    missing_v = [c for c in ("min_vm_pu", "max_vm_pu") if c not in net.bus]
    for col in missing_v:
        net.bus[col] = np.nan
    n_nan = int(net.bus[["min_vm_pu", "max_vm_pu"]].isna().any(axis=1).sum())
    if n_nan:
        warn(
            logger,
            f"network {name!r}: {n_nan} buses have no voltage limits (bus.min_vm_pu / "
            f"max_vm_pu); using pandapower's OPF defaults {_DEFAULT_VMIN_PU:.1f}.."
            f"{_DEFAULT_VMAX_PU:.1f} pu for them (set the columns to keep voltages in range)",
            stacklevel=3,
        )
    # const_z_percent / const_i_percent (pandapower 3.1) or their _p_ / _q_ forms (newer)
    vdep_columns = [c for c in net.load.columns if c.startswith(("const_z_", "const_i_"))]
    if vdep_columns and len(net.load):
        vdep = net.load[vdep_columns].fillna(0.0).to_numpy()
        if np.any(vdep != 0):
            warn(
                logger,
                f"network {name!r}: some loads are voltage dependent (const_z/const_i percent); "
                "gridopt treats every load as constant power, as pandapower's OPF does",
                stacklevel=3,
            )


def _ppci_positions(mask: np.ndarray) -> np.ndarray:
    """Map ppc positions to ppci positions (-1 where the element is not in the ppci)."""
    return np.where(mask, np.cumsum(mask) - 1, -1)


def _gen_refs(net: pandapowerNet, n_gen: int) -> list[ElementRef]:
    lookups = net._pd2ppc_lookups
    gen_is = np.asarray(net._ppc["internal"]["gen_is"], dtype=bool)
    to_ppci = _ppci_positions(gen_is)
    refs: list[ElementRef | None] = [None] * n_gen
    for element in net._gen_order:
        table = _GEN_TABLES.get(element)
        if table is None:
            raise InputError(
                f"network: pandapower added generator-like elements of kind {element!r}, which "
                "gridopt cannot map back; take them out of service"
            )
        lookup = lookups.get(element)
        if lookup is None:
            continue
        lookup = np.asarray(lookup)
        for pp_index in np.flatnonzero(lookup >= 0):
            ppci = to_ppci[lookup[pp_index]]
            if ppci >= 0:
                refs[ppci] = (table, int(pp_index))
    missing = [i for i, r in enumerate(refs) if r is None]
    if missing:
        raise InputError(f"network: generator rows {missing[:5]} of pandapower's OPF data could "
                         "not be traced back to a pandapower element")
    return [r for r in refs if r is not None]


def _branch_refs(net: pandapowerNet, n_branch: int) -> tuple[list[ElementRef], list[str]]:
    branch_is = np.asarray(net._ppc["internal"]["branch_is"], dtype=bool)
    to_ppci = _ppci_positions(branch_is)
    refs: list[ElementRef | None] = [None] * n_branch
    sides = [""] * n_branch
    for element, (start, end) in net._pd2ppc_lookups["branch"].items():
        if element not in _BRANCH_TABLES:
            raise InputError(
                f"network: pandapower added branches of kind {element!r}, which gridopt cannot "
                "map back; take those elements out of service"
            )
        if element == "switch":
            index = net.switch.index[np.asarray(net._impedance_bb_switches, dtype=bool)]
        else:
            index = net[element].index
        n = len(index)
        for k in range(int(end) - int(start)):
            ppci = to_ppci[int(start) + k]
            if ppci < 0:
                continue
            refs[ppci] = (element, int(index[k % n]))
            if element == "trafo3w":
                sides[ppci] = _TRAFO3W_SIDES[k // n]
    missing = [i for i, r in enumerate(refs) if r is None]
    if missing:
        raise InputError(f"network: branch rows {missing[:5]} of pandapower's data could not be "
                         "traced back to a pandapower element")
    return [r for r in refs if r is not None], sides


def _bus_refs(
    net: pandapowerNet, n_bus: int, branch_from: IntArray, branch_to: IntArray,
    branch_refs: list[ElementRef],
) -> list[tuple[ElementRef, ...]]:
    lookup = np.asarray(net._pd2ppc_lookups["bus"])
    members: list[list[ElementRef]] = [[] for _ in range(n_bus)]
    for pp_bus in net.bus.index:
        pos = int(lookup[pp_bus])
        if 0 <= pos < n_bus:
            members[pos].append(("bus", int(pp_bus)))
    aux = net._pd2ppc_lookups.get("aux", {}) or {}
    for element, positions in aux.items():
        index = net[element].index
        for k, lookup_pos in enumerate(np.asarray(positions)):
            pos = int(lookup[int(lookup_pos)])
            if 0 <= pos < n_bus and not members[pos]:
                members[pos].append((element, int(index[k % len(index)])))
    # Remaining auxiliary buses: open ends of branches behind open switches.
    for b, (f, t) in enumerate(zip(branch_from, branch_to, strict=True)):
        for end in (int(f), int(t)):
            if not members[end]:
                members[end].append(branch_refs[b])
    orphan = [i for i, m in enumerate(members) if not m]
    if orphan:
        raise InputError(f"network: buses {orphan[:5]} of pandapower's data could not be traced "
                         "back to a pandapower element")
    return [tuple(m) for m in members]


def _bus_label(members: tuple[ElementRef, ...]) -> str:
    tables = {t for t, _ in members}
    if tables == {"bus"}:
        return "bus " + "+".join(str(i) for _, i in members)
    table, index = members[0]
    what = {"trafo3w": "star point", "xward": "internal bus"}.get(table, "open-switch end")
    return f"{table} {index} {what}"


def _costs(ppci: dict, n_gen: int, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
    c2, c1, c0 = np.zeros(n_gen), np.zeros(n_gen), np.zeros(n_gen)
    gencost = np.asarray(ppci.get("gencost", np.zeros((0, 4))), dtype=float)
    for g in range(min(n_gen, len(gencost))):
        row = gencost[g]
        if int(row[ix.MODEL]) != 2:
            raise InputError(f"network {name!r}: generator row {g} has a non-polynomial cost; "
                             "gridopt supports polynomial costs of degree <= 2")
        n = int(row[ix.NCOST])
        coeffs = row[ix.COST : ix.COST + n]
        if n > 3 and np.any(coeffs[: n - 3] != 0):
            raise InputError(f"network {name!r}: generator row {g} has a cost polynomial of "
                             f"degree {n - 1}; gridopt supports degree <= 2")
        padded = np.zeros(3)
        take = min(n, 3)
        padded[3 - take :] = coeffs[n - take :]
        c2[g], c1[g], c0[g] = padded
    return c2, c1, c0


def _shift_aware_angles(
    va_degree: FloatArray, bus_type: np.ndarray, f: IntArray, t: IntArray, shift_degree: FloatArray,
    on: np.ndarray,
) -> FloatArray:
    """Start angles that follow the transformer phase shifts outwards from the reference buses.

    A flat start (all angles equal) is far from any solution when vector groups shift the
    angle by 150 degrees; walking a spanning tree from each reference bus and subtracting the
    shift of every transformer crossed from its "from" to its "to" side gives a start point
    whose branch angle differences are small.
    """
    n = len(va_degree)
    out = np.array(va_degree, dtype=float, copy=True)
    if not np.any(shift_degree[on] != 0):
        return out
    ff, tt, sh = f[on], t[on], shift_degree[on]
    graph = sp.csr_matrix(
        (np.concatenate([-sh, sh]) + 0.0, (np.concatenate([ff, tt]), np.concatenate([tt, ff]))),
        shape=(n, n),
    )
    adjacency = sp.csr_matrix(
        (np.ones(2 * len(ff)), (np.concatenate([ff, tt]), np.concatenate([tt, ff]))), shape=(n, n)
    )
    visited = np.zeros(n, dtype=bool)
    for root in np.flatnonzero(bus_type == REF):
        if visited[root]:
            continue
        order, pred = breadth_first_order(adjacency, int(root), directed=False)
        for node in order[1:]:
            parent = pred[node]
            if visited[node]:
                continue
            # Crossing a branch from -> to subtracts its shift; to -> from adds it.
            out[node] = out[parent] + _edge_shift(graph, int(parent), int(node))
        visited[order] = True
    return out


def _edge_shift(graph: sp.csr_matrix, a: int, b: int) -> float:
    """Angle change from bus ``a`` to bus ``b`` across a branch (first branch if parallel)."""
    row = graph.getrow(a)
    hits = row.indices == b
    return float(row.data[hits][0]) if np.any(hits) else 0.0


def _warn_unsupplied(work: pandapowerNet, name: str) -> None:
    """Warn when in-service loads or generation sit on buses no supply reaches.

    pandapower's conversion leaves buses without a path to an ext_grid or slack generator out of
    its internal data, and with them their loads: the OPF would plan without that demand. The
    warning names the buses and the power, so the omission is never silent.
    """
    ppc_bus = np.real(np.asarray(work._ppc["bus"])) if work._ppc is not None else np.zeros((0, 2))
    lookup = np.asarray(work._pd2ppc_lookups["bus"], dtype=np.int64)
    n_pf = len(ppc_bus)
    # dead[b] for every pandapower bus index b in the lookup
    pos = np.where((lookup >= 0) & (lookup < n_pf), lookup, -1)
    dead = pos < 0
    dead[~dead] = ppc_bus[pos[~dead], ix.BUS_TYPE].astype(np.int64) == ix.PPC_BUS_NONE
    in_service = np.zeros(len(lookup), dtype=bool)
    on_bus = work.bus.index.to_numpy(np.int64)
    keep = on_bus < len(lookup)
    in_service[on_bus[keep]] = work.bus["in_service"].to_numpy(bool)[keep]
    buses: list[np.ndarray] = []
    powers: list[np.ndarray] = []
    for table, sign in (("load", 1.0), ("sgen", -1.0), ("storage", 1.0)):
        t = work[table] if table in work else None
        if t is None or not len(t):
            continue
        on = t[t["in_service"].astype(bool)]
        bus = on["bus"].to_numpy(np.int64)
        p_mw = on["p_mw"].to_numpy(float) * (on["scaling"].to_numpy(float)
                                             if "scaling" in on else 1.0)
        inside = (bus >= 0) & (bus < len(lookup))
        hit = np.zeros(len(bus), dtype=bool)
        hit[inside] = dead[bus[inside]] & in_service[bus[inside]]
        hit &= p_mw != 0
        buses.append(bus[hit])
        powers.append(sign * p_mw[hit])
    if not buses or not sum(len(b) for b in buses):
        return
    all_bus = np.concatenate(buses)
    all_p = np.concatenate(powers)
    unique = np.unique(all_bus)
    shown = ", ".join(str(int(b)) for b in unique[:5]) + (" ..." if len(unique) > 5 else "")
    demand = float(all_p[all_p > 0].sum())
    warn(logger,
         f"network {name!r}: {len(unique)} bus(es) with in-service loads or generation "
         f"({demand:.4g} MW of load) are not connected to any ext_grid or slack generator "
         f"(buses {shown}); they are left out of the OPF, unserved. Close a switch or add a "
         "supply to include them, or take the elements out of service", stacklevel=3)


def case_from_pandapower(net: pandapowerNet, name: str) -> tuple[CaseData, ElementMap]:
    """Convert a pandapower net into a case with pandapower's own AC equations.

    The conversion runs ``pandapower.converter.to_ppc`` (OPF mode, flat start, voltage angles
    and phase shifts considered, T-model transformers as in ``runpp``) on a deep copy and reads
    the in-service ("internal") data it produces, so ``build_network(case).ybus()`` is
    pandapower's ``Ybus``. Then:

    * costs are pandapower's ``poly_cost`` (on MW, as ``gencost``); with no cost table at all the
      costs are zero (pandapower's OPF would silently minimise total generation instead);
    * bus voltage limits are the bus table's ``min_vm_pu``/``max_vm_pu``; the external-grid buses
      keep them too (the slack voltage is free within its limits, not fixed at ``vm_pu``);
      missing limits take pandapower's defaults 0.0 and 2.0 pu (with a warning);
    * transformer magnetising admittance goes into ``g_pu``/``b_pu`` (half at each end, inside
      the tap, as pandapower's ``makeYbus`` does);
    * non-controllable static generators, loads and storage are part of the bus demand;
      non-controllable generators keep pandapower's pinned P and voltage.

    Out-of-service and de-energised elements are not part of the case (pandapower leaves them
    out of its internal data); the :class:`ElementMap` names the element of every position.

    Parameters
    ----------
    net
        The pandapower net; it is not modified.
    name
        Case name used in labels and messages.

    Returns
    -------
    tuple[CaseData, ElementMap]

    Raises
    ------
    InputError
        If the net has no reference (ext_grid or slack gen), contains elements gridopt cannot
        model (DC lines, FACTS, asymmetric branches or loads), piecewise-linear or reactive
        costs, or controllable elements without power limits.

    Notes
    -----
    Long because it walks pandapower's ppc tables in order (buses, generators, branches, costs)
    to keep every element's map back to the net.
    """
    if not isinstance(net, pandapowerNet):
        raise InputError(f"{name!r} is a {type(net).__name__}, not a pandapower net")
    check_reference(net, name)
    check_supported(net, name)
    work = copy.deepcopy(net)
    _prepare_opf_columns(work, name)
    try:
        ppci = to_ppc(work, calculate_voltage_angles=True, init="flat", mode="opf",
                      take_slack_vm_limits=True)
    except (KeyError, ValueError, UserWarning, IndexError) as exc:
        raise InputError(f"network {name!r}: pandapower cannot convert it ({exc}); check the "
                         "element tables") from exc
    _warn_unsupplied(work, name)
    for key in _ASYMMETRIC_KEYS:
        if key in ppci and np.any(ppci[key] != 0):
            rows = np.flatnonzero(ppci[key] != 0)
            raise InputError(
                f"network {name!r}: {len(rows)} branches have asymmetric data ({key}); gridopt's "
                "branch model is symmetric: use equal from/to impedances and admittances"
            )

    bus = np.real(np.asarray(ppci["bus"])).astype(float)
    gen = np.real(np.asarray(ppci["gen"])).astype(float)
    branch = np.asarray(ppci["branch"])
    n_bus, n_gen, n_branch = len(bus), len(gen), len(branch)
    gen_refs = _gen_refs(work, n_gen)
    branch_refs, sides = _branch_refs(work, n_branch)
    branch_from = np.real(branch[:, ix.F_BUS]).astype(np.int64)
    branch_to = np.real(branch[:, ix.T_BUS]).astype(np.int64)
    bus_refs = _bus_refs(work, n_bus, branch_from, branch_to, branch_refs)

    vmin = bus[:, ix.VMIN].copy()
    vmax = bus[:, ix.VMAX].copy()
    lookup = np.asarray(work._pd2ppc_lookups["bus"])
    eg = work.ext_grid[work.ext_grid.in_service.astype(bool)]
    for pp_bus in eg.bus.to_numpy():
        pos = int(lookup[int(pp_bus)])
        if 0 <= pos < n_bus:
            lo = work.bus.min_vm_pu.at[pp_bus]
            hi = work.bus.max_vm_pu.at[pp_bus]
            vmin[pos] = _DEFAULT_VMIN_PU if pd.isna(lo) else float(lo)
            vmax[pos] = _DEFAULT_VMAX_PU if pd.isna(hi) else float(hi)

    va_start = _shift_aware_angles(bus[:, ix.VA], bus[:, ix.BUS_TYPE], branch_from, branch_to,
                                   np.real(branch[:, ix.SHIFT]).astype(float),
                                   np.real(branch[:, ix.BR_STATUS]) > 0)
    c2, c1, c0 = _costs(ppci, n_gen, name)
    if len(net.poly_cost) == 0:
        c2, c1, c0 = np.zeros(n_gen), np.zeros(n_gen), np.zeros(n_gen)
        logger.info("network %r has no cost table; generation costs are zero", name)
    g_pu = np.real(np.asarray(ppci.get("branch_g", np.zeros(n_branch)))).astype(float)
    if len(g_pu) != n_branch:
        g_pu = np.zeros(n_branch)
    bus_id = np.array(
        [
            min(i for t, i in m if t == "bus") if m[0][0] == "bus" else len(lookup) + k
            for k, m in enumerate(bus_refs)
        ],
        dtype=np.int64,
    )
    has_angles = branch.shape[1] > ix.ANGMAX
    angmin = np.real(branch[:, ix.ANGMIN]) if has_angles else np.full(n_branch, -360.0)
    angmax = np.real(branch[:, ix.ANGMAX]) if has_angles else np.full(n_branch, 360.0)
    both_zero = (angmin == 0) & (angmax == 0)
    case = CaseData(
        name=name,
        base_mva=float(ppci["baseMVA"]),
        bus_id=bus_id,
        bus_type=bus[:, ix.BUS_TYPE].astype(np.int64),
        pd_mw=bus[:, ix.PD],
        qd_mvar=bus[:, ix.QD],
        gs_mw=bus[:, ix.GS],
        bs_mvar=bus[:, ix.BS],
        vm_pu=bus[:, ix.VM],
        va_degree=va_start,
        base_kv=bus[:, ix.BASE_KV],
        vmin_pu=vmin,
        vmax_pu=vmax,
        gen_bus=gen[:, ix.GEN_BUS].astype(np.int64),
        pg_mw=gen[:, ix.PG],
        qg_mvar=gen[:, ix.QG],
        vg_pu=gen[:, ix.VG],
        pmin_mw=gen[:, ix.PMIN],
        pmax_mw=gen[:, ix.PMAX],
        qmin_mvar=gen[:, ix.QMIN],
        qmax_mvar=gen[:, ix.QMAX],
        gen_in_service=np.ones(n_gen, dtype=bool),
        cost_c2=c2,
        cost_c1=c1,
        cost_c0=c0,
        branch_from=branch_from,
        branch_to=branch_to,
        r_pu=np.real(branch[:, ix.BR_R]).astype(float),
        x_pu=np.real(branch[:, ix.BR_X]).astype(float),
        b_pu=np.real(branch[:, ix.BR_B]).astype(float),
        g_pu=g_pu,
        rate_a_mva=np.real(branch[:, ix.RATE_A]).astype(float),
        tap_ratio=np.real(branch[:, ix.TAP]).astype(float),
        shift_degree=np.real(branch[:, ix.SHIFT]).astype(float),
        angmin_degree=np.where(both_zero, -360.0, angmin).astype(float),
        angmax_degree=np.where(both_zero, 360.0, angmax).astype(float),
        branch_in_service=np.real(branch[:, ix.BR_STATUS]) > 0,
        bus_label=tuple(_bus_label(m) for m in bus_refs),
        gen_label=tuple(_element_label(r) for r in gen_refs),
        branch_label=tuple(_element_label(r, s) for r, s in zip(branch_refs, sides, strict=True)),
    )
    emap = ElementMap(
        bus=tuple(bus_refs), gen=tuple(gen_refs), branch=tuple(branch_refs),
        branch_side=tuple(sides),
    )
    return case, emap
