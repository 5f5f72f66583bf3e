"""Conversion between pandapower nets and :class:`~gridopt.network.case.CaseData`.

Two directions:

* :func:`case_from_pandapower` turns a pandapower net into a case through pandapower's own
  converter (``to_ppc`` in OPF mode, on a deep copy), so the case has exactly pandapower's
  power-flow equations (same admittance matrix, same bus fusing at closed bus-bus switches,
  same auxiliary buses for three-winding transformers, extended wards and open line switches).
* :func:`pandapower_from_case` builds a pandapower net with exactly the MATPOWER equations of a
  case read from a ``.m`` file, avoiding the traps of ``pandapower.converter.from_mpc``
  (transformer tap on the wrong side, slack voltage fixed, current instead of |S| limits).

Both return an :class:`ElementMap` that names, for every bus, generator and branch position of
the case, the pandapower element(s) it stands for. The caller's net is never mutated.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandapower as pp
import pandas as pd
import scipy.sparse as sp
from pandapower.auxiliary import pandapowerNet
from pandapower.converter.pypower.to_ppc import to_ppc
from scipy.sparse.csgraph import breadth_first_order

from gridopt.errors import InputError, warn
from gridopt.network import ppc_index as ix
from gridopt.network.case import ISOLATED, REF, CaseData, FloatArray, IntArray
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
    if "const_z_p_percent" in net.load and len(net.load):
        vdep = net.load[
            [c for c in net.load.columns if c.startswith(("const_z_", "const_i_"))]
        ].fillna(0.0).to_numpy()
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


# --------------------------------------------------------------------------------------------
# CaseData (MATPOWER) -> pandapower
# --------------------------------------------------------------------------------------------

#: Nominal frequency of nets built from MATPOWER cases (it only converts charging to nF).
_F_HZ = 50.0
#: Stand-in rating for branches without one (rate_a = 0); pandapower needs a finite value.
_NO_RATING_KA = 1.0e6


def _reference_gen(case: CaseData) -> int:
    """Case position of the generator that becomes pandapower's ext_grid.

    The in-service generator with the largest ``pmax`` at the reference bus; when the reference
    bus has none (PGLib case500_goc), the one :func:`gridopt.network.arrays.build_network`
    moves the reference to (largest in-service generator anywhere).
    """
    on = case.gen_in_service & (case.bus_type[case.gen_bus] != ISOLATED)
    ref_buses = np.flatnonzero(case.bus_type == REF)
    if len(ref_buses) == 0:
        raise InputError(
            f"case {case.name!r} has no reference bus (bus type 3); mark the bus of the slack "
            "generator as the reference"
        )
    if not on.any():
        raise InputError(f"case {case.name!r} has no in-service generator")
    at_ref = np.flatnonzero(on & (case.gen_bus == ref_buses[0]))
    candidates = at_ref if len(at_ref) else np.flatnonzero(on)
    return int(candidates[np.argmax(case.pmax_mw[candidates])])


def pandapower_from_case(case: CaseData) -> tuple[pandapowerNet, ElementMap]:
    """Build a pandapower net with exactly the MATPOWER equations of a case.

    Construction (per-unit on ``base_mva``, buses at ``base_kv``):

    * bus ``i`` is pandapower bus ``i`` with the case's voltage limits; isolated buses (type 4)
      are out of service; demand becomes one load per bus, ``gs``/``bs`` one shunt per bus;
    * a branch with tap 0 or 1 and no phase shift is a 1 km ``line`` whose ohmic values use the
      "from" bus voltage (pandapower's per-unit base for lines), with the same ``r``, ``x`` and
      total charging ``b`` (and ``g``);
    * every other branch is a two-winding ``trafo`` whose ``hv_bus`` is the MATPOWER "from" bus,
      *whatever its voltage*, so the off-nominal tap and the phase shift sit on the "from" side as
      in MATPOWER (``from_mpc`` puts them on the higher-voltage side: pandapower issue 2409, the
      133 MVA mismatches of case24). Its rated voltages equal the bus voltages and ``sn_mva`` is
      ``base_mva``, so ``vk``/``vkr`` carry ``|z|`` and ``r`` directly. MATPOWER's transformer
      charging ``(g + jb)/2`` at each end (inside the tap on the "from" side) is written as two
      bus shunts, ``(g + jb) / (2 tau^2)`` at the "from" bus and ``(g + jb)/2`` at the "to" bus,
      which gives the same admittance matrix (``Y_ff = (y_s + y_c)/tau^2``);
    * the generator chosen by :func:`_reference_gen` is the ``ext_grid`` (controllable, so its
      voltage is free within the bus limits); all other generators are ``gen`` elements (out of
      service ones kept with ``in_service=False``), all with their limits and ``poly_cost``.

    Branch ratings are written as ``max_i_ka = rate / (sqrt(3) * vn_from)`` on lines and
    ``max_loading_percent = 100 rate / sn`` on transformers; pandapower's OPF therefore limits
    the from-side current, not MATPOWER's |S| at both ends (keep the limits in the case, not in
    this net). Angle-difference limits stay in the case only.

    Parameters
    ----------
    case
        A case (typically read with :func:`gridopt.network.matpower.read_matpower`).

    Returns
    -------
    tuple[pandapowerNet, ElementMap]
        The net and the map from case positions to its elements (``("bus", i)``,
        ``("ext_grid", 0)``, ``("gen", k)``, ``("line", k)``, ``("trafo", k)``).
    """
    base = case.base_mva
    net = pp.create_empty_network(name=case.name, f_hz=_F_HZ, sn_mva=base)
    vn_kv = np.where(case.base_kv > 0, case.base_kv, 1.0).astype(float)
    pp.create_buses(
        net, case.n_bus, vn_kv=vn_kv, index=np.arange(case.n_bus), name=list(case.bus_label),
        in_service=case.bus_type != ISOLATED,
        min_vm_pu=case.vmin_pu.astype(float), max_vm_pu=case.vmax_pu.astype(float),
    )
    demand = np.flatnonzero((case.pd_mw != 0) | (case.qd_mvar != 0))
    if len(demand):
        pp.create_loads(net, demand, p_mw=case.pd_mw[demand].astype(float),
                        q_mvar=case.qd_mvar[demand].astype(float),
                        name=[f"demand at {case.bus_label[i]}" for i in demand])

    tap = np.where(case.tap_ratio == 0, 1.0, case.tap_ratio).astype(float)
    is_line = (tap == 1.0) & (case.shift_degree == 0)
    rate = case.rate_a_mva.astype(float)
    f_bus, t_bus = case.branch_from, case.branch_to
    labels = np.asarray(case.branch_label, dtype=object)
    branch_refs: list[ElementRef] = [("", -1)] * case.n_branch

    lines = np.flatnonzero(is_line)
    if len(lines):
        vf = vn_kv[f_bus[lines]]
        z_base = vf**2 / base
        idx = pp.create_lines_from_parameters(
            net, from_buses=f_bus[lines], to_buses=t_bus[lines], length_km=1.0,
            r_ohm_per_km=case.r_pu[lines] * z_base, x_ohm_per_km=case.x_pu[lines] * z_base,
            c_nf_per_km=case.b_pu[lines] / z_base / (2 * np.pi * _F_HZ) * 1e9,
            g_us_per_km=case.g_pu[lines] / z_base * 1e6,
            max_i_ka=np.where(rate[lines] > 0, rate[lines] / (np.sqrt(3) * vf), _NO_RATING_KA),
            name=list(labels[lines]), in_service=case.branch_in_service[lines],
        )
        for k, i in zip(lines, idx, strict=True):
            branch_refs[k] = ("line", int(i))

    trafos = np.flatnonzero(~is_line)
    shunt_g = case.gs_mw.astype(float).copy()
    shunt_b = case.bs_mvar.astype(float).copy()
    if len(trafos):
        idx = pp.create_transformers_from_parameters(
            net, hv_buses=f_bus[trafos], lv_buses=t_bus[trafos], sn_mva=base,
            vn_hv_kv=vn_kv[f_bus[trafos]], vn_lv_kv=vn_kv[t_bus[trafos]],
            vkr_percent=case.r_pu[trafos] * 100,
            vk_percent=np.hypot(case.r_pu[trafos], case.x_pu[trafos]) * 100,
            pfe_kw=0.0, i0_percent=0.0, shift_degree=case.shift_degree[trafos].astype(float),
            tap_side="hv", tap_neutral=0, tap_min=-1, tap_max=1, tap_pos=1,
            tap_step_percent=(tap[trafos] - 1.0) * 100, tap_step_degree=0.0,
            tap_changer_type="Ratio",
            max_loading_percent=np.where(rate[trafos] > 0, rate[trafos] / base * 100, 1e9),
            name=list(labels[trafos]), in_service=case.branch_in_service[trafos],
        )
        for k, i in zip(trafos, idx, strict=True):
            branch_refs[k] = ("trafo", int(i))
        charged = trafos[case.branch_in_service[trafos]]
        half_g, half_b = case.g_pu[charged] / 2 * base, case.b_pu[charged] / 2 * base
        np.add.at(shunt_g, f_bus[charged], half_g / tap[charged] ** 2)
        np.add.at(shunt_b, f_bus[charged], half_b / tap[charged] ** 2)
        np.add.at(shunt_g, t_bus[charged], half_g)
        np.add.at(shunt_b, t_bus[charged], half_b)
    shunts = np.flatnonzero((shunt_g != 0) | (shunt_b != 0))
    if len(shunts):
        # pandapower's shunt consumes p_mw and q_mvar at 1 pu; MATPOWER's bs injects.
        pp.create_shunts(net, shunts, q_mvar=-shunt_b[shunts], p_mw=shunt_g[shunts],
                         vn_kv=vn_kv[shunts],
                         name=[f"shunt at {case.bus_label[i]}" for i in shunts])

    ref = _reference_gen(case)
    gen_refs: list[ElementRef] = [("", -1)] * case.n_gen
    bus = case.gen_bus
    eg = pp.create_ext_grid(
        net, bus=int(bus[ref]), vm_pu=float(case.vg_pu[ref]),
        va_degree=float(case.va_degree[bus[ref]]), name=case.gen_label[ref], controllable=True,
        min_p_mw=float(case.pmin_mw[ref]), max_p_mw=float(case.pmax_mw[ref]),
        min_q_mvar=float(case.qmin_mvar[ref]), max_q_mvar=float(case.qmax_mvar[ref]),
    )
    gen_refs[ref] = ("ext_grid", int(eg))
    others = np.array([g for g in range(case.n_gen) if g != ref], dtype=np.int64)
    if len(others):
        idx = pp.create_gens(
            net, bus[others], p_mw=case.pg_mw[others].astype(float),
            vm_pu=case.vg_pu[others].astype(float),
            name=[case.gen_label[g] for g in others],
            in_service=case.gen_in_service[others] & (case.bus_type[bus[others]] != ISOLATED),
            controllable=True,
            min_p_mw=case.pmin_mw[others].astype(float),
            max_p_mw=case.pmax_mw[others].astype(float),
            min_q_mvar=case.qmin_mvar[others].astype(float),
            max_q_mvar=case.qmax_mvar[others].astype(float),
        )
        for g, i in zip(others, idx, strict=True):
            gen_refs[g] = ("gen", int(i))
    order = np.arange(case.n_gen)
    pp.create_poly_costs(
        net, [gen_refs[g][1] for g in order], [gen_refs[g][0] for g in order],
        cp1_eur_per_mw=case.cost_c1.astype(float), cp2_eur_per_mw2=case.cost_c2.astype(float),
        cp0_eur=case.cost_c0.astype(float),
    )
    emap = ElementMap(
        bus=tuple((("bus", i),) for i in range(case.n_bus)),
        gen=tuple(gen_refs),
        branch=tuple(branch_refs),
        branch_side=("",) * case.n_branch,
    )
    return net, emap
