"""AC evaluation of switching configurations with ``pandapower.runpp``.

:class:`ACEvaluator` (a :class:`~gridopt.opf.switching.evaluation.ConfigurationEvaluator`) owns
one private deep copy of the net (the caller's is never touched), writes a configuration into it
through the network model's element references (:func:`apply_configuration`), sets the demand of
each period, runs pandapower's Newton-Raphson power flow and returns energy losses, the lowest
voltage and the limit violations. Results are cached per configuration.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import time

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from gridopt.network.case import BoolArray
from gridopt.network.model import NetworkModel
from gridopt.network.topology import Configuration
from gridopt.opf.switching.demand import BusDemand
from gridopt.opf.switching.evaluation import ACEvaluation, configuration_of
from gridopt.opf.switching.topology import SwitchingGraph

#: Use pandapower's numba kernels when numba is importable (no warning otherwise).
NUMBA = importlib.util.find_spec("numba") is not None
#: Tables whose results carry branch losses ``pl_mw``.
_LOSS_TABLES = ("line", "trafo", "trafo3w", "impedance")
_STATUS_TABLES = ("line", "trafo", "trafo3w", "impedance")


def apply_configuration(net: pandapowerNet, model: NetworkModel,
                        configuration: Configuration) -> None:
    """Write switch states and branch statuses into ``net`` in place, through the model's
    element references (``("switch", 4)``, ``("line", 17)``): no label is parsed."""
    configuration.check(model)
    for (table, index), closed in zip(model.switches.ref, configuration.switch_closed,
                                      strict=True):
        net[table].at[index, "closed"] = bool(closed)
    for (table, index), on in zip(model.branches.ref, configuration.branch_in_service,
                                  strict=True):
        if table in _STATUS_TABLES:
            net[table].at[index, "in_service"] = bool(on)


def _statuses(net: pandapowerNet) -> dict[tuple[str, str], pd.Series]:
    out = {(t, "in_service"): net[t]["in_service"].copy() for t in _STATUS_TABLES
           if t in net and len(net[t])}
    out[("switch", "closed")] = net.switch["closed"].copy()
    return out


def _restore(net: pandapowerNet, saved: dict[tuple[str, str], pd.Series]) -> None:
    for (table, column), values in saved.items():
        net[table][column] = values


def configured_net(net: pandapowerNet, model: NetworkModel,
                   configuration: Configuration) -> pandapowerNet:
    """A deep copy of ``net`` with ``configuration`` applied."""
    out = copy.deepcopy(net)
    apply_configuration(out, model, configuration)
    return out


class ACEvaluator:
    """Evaluate configurations of ``net`` with AC power flows over the periods of ``demand``.

    Implements :class:`~gridopt.opf.switching.evaluation.ConfigurationEvaluator`.

    Parameters
    ----------
    net
        pandapower network; deep-copied, never modified.
    model
        Its network model (the write-back goes through the model's element references).
    graph
        Its switching graph.
    demand
        Net consumption per bus and period (:func:`~gridopt.opf.switching.demand.bus_demand`).
    """

    def __init__(self, net: pandapowerNet, model: NetworkModel, graph: SwitchingGraph,
                 demand: BusDemand) -> None:
        self.model = model
        self.graph = graph
        self.demand = demand
        self.net = copy.deepcopy(net)
        self.runs = 0
        self.seconds = 0.0
        self._cache: dict[tuple[bool, ...], ACEvaluation] = {}
        self._profile_loads: list[int] = []
        if demand.profile_buses:
            self._install_profile_loads()

    def _install_profile_loads(self) -> None:
        net = self.net
        buses = set(self.demand.profile_buses)
        for element in ("load", "sgen", "storage"):  # replaced by the profile
            table = net.get(element)
            if table is not None and len(table):
                table.loc[table["bus"].isin(buses), "in_service"] = False
        self._profile_loads = [
            int(pp.create_load(net, bus=b, p_mw=0.0, q_mvar=0.0, name=f"gridopt profile bus {b}"))
            for b in self.demand.profile_buses
        ]

    def _set_period(self, t: int) -> None:
        if not self._profile_loads:
            return
        assert self.demand.profile_p_mw is not None and self.demand.profile_q_mvar is not None
        self.net.load.loc[self._profile_loads, "p_mw"] = self.demand.profile_p_mw[t]
        self.net.load.loc[self._profile_loads, "q_mvar"] = self.demand.profile_q_mvar[t]

    def evaluate(self, closed: BoolArray) -> ACEvaluation:
        """AC figures of configuration ``closed`` (cached)."""
        key = tuple(bool(c) for c in closed)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        net = self.net
        saved = _statuses(net)
        apply_configuration(net, self.model,
                            configuration_of(self.model, self.graph, np.asarray(closed, bool)))
        result = self._run_periods()
        _restore(net, saved)
        self.seconds += time.perf_counter() - t0
        self._cache[key] = result
        return result

    def evaluate_net_as_is(self) -> ACEvaluation:
        """AC figures of the net's present configuration."""
        return self._run_periods()

    def _run_periods(self) -> ACEvaluation:
        net = self.net
        losses: list[float] = []
        vmin, vmax, loading, violation = math.inf, -math.inf, 0.0, 0.0
        init = "auto"
        for t in range(self.demand.n_period):
            self._set_period(t)
            try:
                pp.runpp(net, init=init, numba=NUMBA)
                self.runs += 1
            except (pp.LoadflowNotConverged, pp.powerflow.LoadflowNotConverged):
                return ACEvaluation(False, math.inf, (), math.nan, math.nan, math.nan, math.inf)
            init = "results"
            loss = sum(float(net[f"res_{t}"]["pl_mw"].sum()) for t in _LOSS_TABLES
                       if t in net and len(net[t]))
            losses.append(loss)
            vm = net.res_bus["vm_pu"]
            energised = vm.notna()
            vm = vm[energised]
            vmin = min(vmin, float(vm.min()))
            vmax = max(vmax, float(vm.max()))
            lo = net.bus.loc[vm.index, "min_vm_pu"] if "min_vm_pu" in net.bus else None
            hi = net.bus.loc[vm.index, "max_vm_pu"] if "max_vm_pu" in net.bus else None
            if lo is not None:
                violation += float(np.nansum(np.clip(lo.to_numpy(float) - vm.to_numpy(), 0, None)))
            if hi is not None:
                violation += float(np.nansum(np.clip(vm.to_numpy() - hi.to_numpy(float), 0, None)))
            for table, res in ((net.line, net.res_line), (net.trafo, net.res_trafo)):
                if not len(table):
                    continue
                ld = res["loading_percent"].to_numpy(float)
                limit = (table["max_loading_percent"].to_numpy(float)
                         if "max_loading_percent" in table else np.full(len(table), np.nan))
                if np.any(np.isfinite(ld)):
                    loading = max(loading, float(np.nanmax(ld)))
                excess = np.where(np.isfinite(limit) & np.isfinite(ld), ld - limit, 0.0)
                violation += float(np.clip(excess, 0, None).sum()) / 100.0
        hours = self.demand.period_hours
        return ACEvaluation(
            converged=True,
            losses_mwh=float(np.dot(losses, hours)),
            losses_mw=tuple(losses),
            vmin_pu=vmin,
            vmax_pu=vmax,
            max_loading_percent=loading,
            violation=violation,
        )


