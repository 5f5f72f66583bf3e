"""AC power-flow check of a multi-period dispatch with ``pandapower.runpp``, period by period.

The check works on a private copy of the net (the caller's net is never modified): the net's
own ``load``, ``sgen``, ``storage`` and ``gen`` rows are switched off and replaced by one load and
one static generator per bus carrying, for each period, the forecast demand plus the
flexible-load shift, and the dispatched injections of storage, PV and generators. ``ext_grid``
stays the slack. Everything else (lines, transformers with taps, switches, shunts) is the net's.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
import xarray as xr

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.flows import PeriodFlows, series_power_flow
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.violations import (
    Violation,
    ViolationKind,
    ViolationSource,
    ac_violations,
)

#: The results of :class:`ACChecker` (named ``ACCheck`` here since the check is what makes them).
ACCheck = PeriodFlows

__all__ = [
    "ACCheck",
    "ACChecker",
    "ACOPFReference",
    "Violation",
    "ViolationKind",
    "ViolationSource",
    "ac_opf_reference",
    "ac_violations",
    "series_power_flow",
]

logger = logging.getLogger(__name__)

try:  # pandapower's Newton-Raphson is faster with numba, and warns when asked without it
    import numba  # noqa: F401

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    _HAVE_NUMBA = False

BoolArray = np.ndarray


def _write_column(table: pd.DataFrame, name: str, values: FloatArray) -> None:
    """Overwrite a float column in place (a pandas ``__setitem__`` costs ~1 ms, 48 per check)."""
    column = table[name].values
    if column.flags.writeable and column.dtype == np.float64:
        column[:] = values  # a view of the table's block (pandas without copy-on-write)
    else:  # copy-on-write pandas hands out read-only views: assign the ordinary way
        table[name] = values


@dataclass(frozen=True)
class _ResultColumns:
    """Where pandapower puts the results of one family of branches (read per period).

    ``sign = -1`` for a three-winding transformer's medium- and low-voltage branches, whose
    ``from`` end is the star point: the flow there is minus the flow into the terminal (the
    winding's own losses are not split from the transformer's total, which pandapower reports
    once and which is put on the high-voltage branch).
    """

    table: str
    positions: list[int]
    index: list[int]
    p: str
    q: str
    v: str | None
    loss: str | None
    loading: str | None
    sign: float = 1.0


_COLUMNS = {
    ("line", ""): ("p_from_mw", "q_from_mvar", "vm_from_pu", "pl_mw", "loading_percent", 1.0),
    ("trafo", ""): ("p_hv_mw", "q_hv_mvar", "vm_hv_pu", "pl_mw", "loading_percent", 1.0),
    ("trafo3w", "hv"): ("p_hv_mw", "q_hv_mvar", "vm_hv_pu", "pl_mw", "loading_percent", 1.0),
    ("trafo3w", "mv"): ("p_mv_mw", "q_mv_mvar", "vm_internal_pu", None, "loading_percent", -1.0),
    ("trafo3w", "lv"): ("p_lv_mw", "q_lv_mvar", "vm_internal_pu", None, "loading_percent", -1.0),
    ("impedance", ""): ("p_from_mw", "q_from_mvar", None, "pl_mw", None, 1.0),
}


def _result_columns(grid: DispatchGrid) -> list[_ResultColumns]:
    """Group the grid's branches by the pandapower result table and columns they are read from.

    Branches are found through ``grid.branch_ref`` (and ``branch_side``), never by parsing
    labels; a kind without results of its own (an extended ward's internal branch) stays NaN.
    """
    if len(grid.branch_ref) != grid.n_branch:
        raise ValueError(f"dispatch grid {grid.name!r} has no element refs for its branches")
    sides = grid.branch_side or ("",) * grid.n_branch
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for k, ((table, idx), side) in enumerate(zip(grid.branch_ref, sides, strict=True)):
        if (table, side) in _COLUMNS:
            pos, ids = groups.setdefault((table, side), ([], []))
            pos.append(k)
            ids.append(int(idx))
    out = []
    for (table, side), (pos, ids) in groups.items():
        p_col, q_col, v_col, loss_col, load_col, sign = _COLUMNS[(table, side)]
        out.append(_ResultColumns(table, pos, ids, p_col, q_col, v_col, loss_col, load_col, sign))
    return out


class ACChecker:
    """Runs the per-period power flows on a prepared copy of ``net`` for a :class:`DispatchGrid`.

    The copy is made once, so repeated checks (one per linearisation round) only change the
    load and injection columns and start each power flow from the previous solution. Results
    are read back through the grid's element refs (lines, two- and three-winding transformers,
    impedances); auxiliary nodes (a three-winding transformer's star point) carry no demand and
    report no bus voltage.
    """

    def __init__(self, net: pp.pandapowerNet, grid: DispatchGrid) -> None:
        self.grid = grid
        work = copy.deepcopy(net)
        for table in ("load", "sgen", "storage", "gen"):
            if len(work[table]):
                work[table] = work[table].iloc[0:0]
        ids = np.asarray(grid.bus_id, dtype=np.int64)
        self._real = np.flatnonzero(ids >= 0)  # bus positions that are buses of the net
        self._bus_ids = ids[self._real]
        for b in self._bus_ids:
            pp.create_load(work, int(b), p_mw=0.0, q_mvar=0.0, name=f"dispatch demand {b}")
            pp.create_sgen(work, int(b), p_mw=0.0, q_mvar=0.0, name=f"dispatch injection {b}")
        # A net that has been solved before carries pandapower's internal arrays for its old
        # loads; the first run here must rebuild them (a recycled run would reuse them).
        work["_ppc"] = None
        self.net = work
        self._columns = _result_columns(grid)
        covered = np.zeros(grid.n_branch, dtype=bool)
        for col in self._columns:
            covered[col.positions] = True
        self._uncovered = np.flatnonzero(~covered)
        if self._uncovered.size:
            logger.warning(
                "network %r: %d branch(es) without results of their own in pandapower (e.g. %s);"
                " their flows are not reported and their losses count in the slack's power only",
                grid.name, self._uncovered.size, grid.branch_label[int(self._uncovered[0])])
        limit = np.full(grid.n_branch, np.nan)
        for col in self._columns:
            if col.loading is None:
                continue
            table = work[col.table]
            values = (table.loc[col.index, "max_loading_percent"].astype(float)
                      if "max_loading_percent" in table.columns
                      else pd.Series(np.nan, index=col.index))
            limit[col.positions] = values.fillna(100.0).to_numpy()
        self.max_loading_percent = limit
        self._warm = False

    def _read(self, t: int, out: tuple[FloatArray, ...]) -> None:
        """Copy period ``t``'s branch results of the solved net into ``out`` (p, q, v, loss,
        loading)."""
        pf, qf, vf, pl, ld = out
        net = self.net
        for col in self._columns:
            res = net[f"res_{col.table}"].loc[col.index]
            k = col.positions
            pf[t, k] = col.sign * res[col.p].to_numpy()
            qf[t, k] = col.sign * res[col.q].to_numpy()
            if col.v is not None:
                vf[t, k] = res[col.v].to_numpy()
            else:  # impedance: the voltage of its from bus
                from_bus = net[col.table].loc[col.index, "from_bus"].to_numpy()
                vf[t, k] = net.res_bus.loc[from_bus, "vm_pu"].to_numpy()
            pl[t, k] = res[col.loss].to_numpy() if col.loss is not None else 0.0
            if col.loading is not None:
                ld[t, k] = res[col.loading].to_numpy()
        pl[t, self._uncovered] = 0.0

    def run(
        self,
        p_demand_mw: FloatArray,
        q_demand_mvar: FloatArray,
        p_inject_mw: FloatArray,
        q_inject_mvar: FloatArray,
    ) -> ACCheck:
        """Run one AC power flow per period; arrays are ``(time, bus position)``.

        Returns
        -------
        ACCheck
            Voltages, branch flows at the from end, losses and loadings per period.
        """
        tick = time.perf_counter()
        grid = self.grid
        net = self.net
        n_t, nb, nl = p_demand_mw.shape[0], grid.n_bus, grid.n_branch
        vm = np.full((n_t, nb), np.nan)
        flows = tuple(np.full((n_t, nl), np.nan) for _ in range(5))
        pg = np.full(n_t, np.nan)
        qg = np.full(n_t, np.nan)
        ok = np.zeros(n_t, dtype=bool)
        real = self._real
        for t in range(n_t):
            _write_column(net.load, "p_mw", p_demand_mw[t, real])
            _write_column(net.load, "q_mvar", q_demand_mvar[t, real])
            _write_column(net.sgen, "p_mw", p_inject_mw[t, real])
            _write_column(net.sgen, "q_mvar", q_inject_mvar[t, real])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pp.runpp(net, init="results" if self._warm else "auto", numba=_HAVE_NUMBA,
                             max_iteration=30,
                             recycle={"bus_pq": True, "trafo": False, "gen": False})
                self._warm = True
            except pp.LoadflowNotConverged:
                logger.warning("AC power flow of period %d did not converge", t)
                self._warm = False
                continue
            ok[t] = True
            vm[t, real] = net.res_bus.loc[self._bus_ids, "vm_pu"].to_numpy()
            self._read(t, flows)
            pg[t] = float(net.res_ext_grid.p_mw.sum())
            qg[t] = float(net.res_ext_grid.q_mvar.sum())
        seconds = time.perf_counter() - tick
        logger.debug("AC check of %d periods took %.2f s", n_t, seconds)
        pf, qf, vf, pl, ld = flows
        return ACCheck(
            converged=ok,
            vm_pu=vm,
            p_from_mw=pf,
            q_from_mvar=qf,
            v_from_pu=vf,
            loss_mw=pl,
            loading_percent=ld,
            max_loading_percent=self.max_loading_percent,
            p_grid_mw=pg,
            q_grid_mvar=qg,
            seconds=seconds,
        )


@dataclass(frozen=True, eq=False)
class ACOPFReference:
    """Per-period AC-OPF minimum of the losses for a dispatch's active-power schedule.

    Attributes
    ----------
    losses_mw
        ``(time,)`` least network losses the AC-OPF finds in each period.
    status
        Solver status of each period (``"optimal"`` when Ipopt converged).
    seconds
        Wall time of all the AC-OPF solves.
    """

    losses_mw: FloatArray
    status: tuple[str, ...]
    seconds: float

    @property
    def all_optimal(self) -> bool:
        """True when every period's AC-OPF converged to an optimum."""
        return all(s == "optimal" for s in self.status)


def _q_room(s_max_mva: float | None, p_mw: float) -> float:
    if s_max_mva is None:
        return 0.0
    return math.sqrt(max(s_max_mva**2 - p_mw**2, 0.0))


def ac_opf_reference(
    net: pp.pandapowerNet, dataset: xr.Dataset, assets: Assets
) -> ACOPFReference:
    r"""Solve, for every period, the AC-OPF that minimises losses with the dispatch's P fixed.

    Each period becomes a pandapower net (a copy of ``net`` with its loads, static generators,
    storage and generators replaced): the period's demand (``p_demand_mw``, ``q_demand_mvar``
    of ``dataset``, flexible-load shift included) as loads; every storage unit, curtailable PV
    and generator as a controllable static generator whose active power is fixed to the
    dispatch's (``storage_p_mw``, ``pv_p_mw``, ``gen_p_mw``) and whose reactive power is free
    within its inverter circle at that power, :math:`|q| \le \sqrt{S^2 - p^2}` (exactly the
    circle at fixed ``p``; zero without a rating; generators within their Q limits). The slack
    voltage is held at the ext_grid set-point, as in the dispatch. The net goes through
    :func:`gridopt.network.load.load_network` and is solved by
    :func:`gridopt.opf.ac.solve_ac_opf` with :attr:`~gridopt.opf.result.Objective.LOSSES`.

    So the reference keeps the dispatch's energy schedule (storage, curtailment) and finds the
    best reactive power and voltages for it, over a feasible set that contains the dispatch's
    (the dispatch limits inverters to an inscribed octagon): the dispatch's AC losses should
    not be below it, and the gap says how much the linearised model leaves on the table.
    """
    from gridopt.network.load import load_network
    from gridopt.opf.ac import solve_ac_opf
    from gridopt.opf.result import Objective

    tick = time.perf_counter()
    template = copy.deepcopy(net)
    for table in ("load", "sgen", "storage", "gen"):
        if len(template[table]):
            template[table] = template[table].iloc[0:0]
    if len(template.poly_cost):
        template.poly_cost = template.poly_cost.iloc[0:0]
    eg = template.ext_grid[template.ext_grid.in_service.astype(bool)]
    for _, row in eg.iterrows():
        template.bus.loc[int(row.bus), ["min_vm_pu", "max_vm_pu"]] = float(row.vm_pu)
    buses = np.asarray(dataset["bus"].values)
    n_t = dataset.sizes["time"]
    losses = np.full(n_t, np.nan)
    status: list[str] = []
    units: list[tuple[str, int, str, float | None, float, float]] = []
    for s in assets.storage:
        units.append(("storage_p_mw", int(s.bus), s.name, s.s_max_mva, 0.0, 0.0))
    for p in assets.pv:
        units.append(("pv_p_mw", int(p.bus), p.name, p.s_max_mva, 0.0, 0.0))
    for g in assets.generator:
        units.append(("gen_p_mw", int(g.bus), g.name, None, g.q_min_mvar, g.q_max_mvar))
    dims = {"storage_p_mw": "storage", "pv_p_mw": "pv", "gen_p_mw": "generator"}
    for t in range(n_t):
        work = copy.deepcopy(template)
        p_d = dataset["p_demand_mw"].isel(time=t).values
        q_d = dataset["q_demand_mvar"].isel(time=t).values
        for b, p, q in zip(buses, p_d, q_d, strict=True):
            if p != 0.0 or q != 0.0:
                pp.create_load(work, int(b), p_mw=float(p), q_mvar=float(q))
        for var, bus, name, s_max, q_lo, q_hi in units:
            p_mw = float(dataset[var].isel(time=t).sel({dims[var]: name}).values)
            if s_max is not None:
                q_lo, q_hi = -_q_room(s_max, p_mw), _q_room(s_max, p_mw)
            pp.create_sgen(work, bus, p_mw=p_mw, q_mvar=0.0, controllable=True,
                           min_p_mw=p_mw, max_p_mw=p_mw, min_q_mvar=q_lo, max_q_mvar=q_hi,
                           name=f"{name} @ {t}")
        solution = solve_ac_opf(load_network(work).network, Objective.LOSSES)
        status.append(solution.status.value)
        if solution.status.value == "optimal":
            losses[t] = float(solution.objective)
    return ACOPFReference(losses, tuple(status), time.perf_counter() - tick)
