"""What a configuration is worth: the AC evaluation contract of the switching algorithms.

The reconfiguration (:mod:`gridopt.opf.switching.core`) and the branch exchange
(:mod:`gridopt.opf.switching.exchange`) judge configurations through a
:class:`ConfigurationEvaluator`; the implementation that runs pandapower's power flow lives in
:mod:`gridopt.validate.switching` (``opf/`` never imports pandapower).
:func:`configuration_of` turns the edge states of a switching graph into the model-level
:class:`~gridopt.network.topology.Configuration` (switch states, branch statuses) that views and
the write-back use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gridopt.network.case import BoolArray
from gridopt.network.model import NetworkModel
from gridopt.network.topology import Configuration
from gridopt.opf.switching.demand import BusDemand
from gridopt.opf.switching.topology import EdgeKind, SwitchingGraph

#: Violations below this (pu + loading fraction, summed) count as none.
VIOLATION_TOL = 1e-6


@dataclass(frozen=True)
class ACEvaluation:
    """AC power-flow figures of one configuration over all periods.

    Attributes
    ----------
    converged
        Every period's power flow converged.
    losses_mwh
        Energy losses (sum over periods of losses in MW times period hours).
    losses_mw
        Active losses per period.
    vmin_pu, vmax_pu
        Lowest and highest bus voltage over periods and energised buses.
    max_loading_percent
        Highest line/transformer loading over periods.
    violation
        Sum over periods and buses of voltage excursions beyond the bus limits (pu) plus loading
        excesses over ``max_loading_percent`` (as fractions).
    """

    converged: bool
    losses_mwh: float
    losses_mw: tuple[float, ...]
    vmin_pu: float
    vmax_pu: float
    max_loading_percent: float
    violation: float

    def key(self) -> tuple[float, float]:
        """Sort key: (violation, losses); non-converged configurations sort last."""
        if not self.converged:
            return (math.inf, math.inf)
        viol = self.violation if self.violation > VIOLATION_TOL else 0.0
        return (round(viol, 9), self.losses_mwh)


class ConfigurationEvaluator(Protocol):
    """Evaluates edge states of :attr:`graph` over the periods of :attr:`demand`."""

    graph: SwitchingGraph
    demand: BusDemand
    runs: int
    seconds: float

    def evaluate(self, closed: BoolArray) -> ACEvaluation:
        """Figures of the configuration with these edge states (cached by implementations)."""
        ...

    def evaluate_net_as_is(self) -> ACEvaluation:
        """Figures of the source's present configuration."""
        ...


def configuration_of(model: NetworkModel, graph: SwitchingGraph, closed: BoolArray
                     ) -> Configuration:
    """The model-level configuration of edge states ``closed`` (the source's for other rows).

    Only switchable edges whose state differs from the source's are changed: closing closes
    every operable switch of the element and puts the element in service; opening opens its
    first operable switch, or takes the element out of service when it has none.
    """
    base = Configuration.of(model)
    sw_closed = base.switch_closed.copy()
    in_service = base.branch_in_service.copy()
    switch_row = {r: k for k, r in enumerate(model.switches.ref)}
    branch_row = {r: k for k, r in enumerate(model.branches.ref)}
    closed = np.asarray(closed, dtype=bool)
    for e in np.flatnonzero(np.asarray(graph.switchable)):
        want = bool(closed[e])
        if graph.edge_kind[e] is EdgeKind.BUS_SWITCH:
            sw_closed[switch_row[graph.edge_ref[e]]] = want
            continue
        b = branch_row[graph.edge_ref[e]]
        own = [switch_row[("switch", s)] for s in graph.edge_switches[e]]
        if own:
            now = bool(sw_closed[own].all()) and bool(in_service[b])
            if now == want:
                continue
            if want:
                sw_closed[own] = True
                in_service[b] = True
            else:
                sw_closed[own[0]] = False
        else:
            in_service[b] = want
    return Configuration(switch_closed=sw_closed, branch_in_service=in_service)


def open_elements(model: NetworkModel, configuration: Configuration
                  ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Source indices of the lines that are open (out of service or behind an open line
    switch) and of the open switches, under ``configuration``."""
    sw = model.switches
    open_switch = ~configuration.switch_closed
    behind = {int(sw.branch[k]) for k in np.flatnonzero(open_switch)
              if sw.branch[k] >= 0}
    lines = sorted(int(idx) for k, (table, idx) in enumerate(model.branches.ref)
                   if table in ("line", "branch")
                   and (not configuration.branch_in_service[k] or k in behind))
    switches = sorted(int(sw.ref[k][1]) for k in np.flatnonzero(open_switch))
    return tuple(lines), tuple(switches)
