"""Limits a dispatch breaks: found by the AC check of each period or by the LP's own slacks."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from gridopt.opf.dispatch.flows import PeriodFlows
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.model import DispatchModel
from gridopt.opf.dispatch.solution import Setpoints

logger = logging.getLogger(__name__)


class ViolationKind(StrEnum):
    """What limit a :class:`Violation` breaks."""

    VOLTAGE_LOW = "voltage_low"
    VOLTAGE_HIGH = "voltage_high"
    THERMAL = "thermal"
    #: the period's AC power flow did not converge (no limits could be checked)
    NOT_CONVERGED = "not_converged"
    #: the LP dumped surplus energy into its loss variables: value is the model's losses in
    #: MW, limit the AC losses
    LOSS_INFLATION = "loss_inflation"


class ViolationSource(StrEnum):
    """Who found a :class:`Violation`."""

    AC = "ac"  # the pandapower check of the result
    MODEL = "model"  # a slack the LP had to use


@dataclass(frozen=True)
class Violation:
    """One limit violated in one period (``element`` names the bus or branch)."""

    kind: ViolationKind
    source: ViolationSource
    period: int
    time: str
    element: str
    value: float
    limit: float

    def as_dict(self) -> dict[str, object]:
        """Plain dictionary for JSON output."""
        return {
            "kind": self.kind.value,
            "source": self.source.value,
            "period": self.period,
            "time": self.time,
            "element": self.element,
            "value": self.value,
            "limit": self.limit,
        }


def ac_violations(
    check: PeriodFlows,
    grid: DispatchGrid,
    times: np.ndarray,
    voltage_tolerance_pu: float = 1e-4,
    loading_tolerance_percent: float = 0.01,
) -> list[Violation]:
    """List every voltage and loading limit the AC power flows break, and unsolved periods."""
    out: list[Violation] = []
    labels = [str(t) for t in times]
    for t in np.flatnonzero(~check.converged):
        out.append(
            Violation(ViolationKind.NOT_CONVERGED, ViolationSource.AC, int(t), labels[t],
                      "network", math.nan, math.nan)
        )
    vm = check.vm_pu
    with np.errstate(invalid="ignore"):
        low = vm < grid.vmin_pu[None, :] - voltage_tolerance_pu
        high = vm > grid.vmax_pu[None, :] + voltage_tolerance_pu
        limit = check.max_loading_percent[None, :] + loading_tolerance_percent
        over = check.loading_percent > limit
    for t, n in np.argwhere(low):
        out.append(Violation(ViolationKind.VOLTAGE_LOW, ViolationSource.AC,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(vm[t, n]), float(grid.vmin_pu[n])))
    for t, n in np.argwhere(high):
        out.append(Violation(ViolationKind.VOLTAGE_HIGH, ViolationSource.AC,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(vm[t, n]), float(grid.vmax_pu[n])))
    for t, line in np.argwhere(over):
        out.append(Violation(ViolationKind.THERMAL, ViolationSource.AC,
                             int(t), labels[t], grid.branch_label[line],
                             float(check.loading_percent[t, line]),
                             float(check.max_loading_percent[line])))
    out.sort(key=lambda v: (v.period, v.kind, v.element))
    return out


def model_violations(
    dm: DispatchModel, sp: Setpoints, times: np.ndarray, tol: float
) -> list[Violation]:
    grid = dm.grid
    labels = [str(t) for t in times]
    out: list[Violation] = []
    vmin2, vmax2 = grid.vmin_pu**2, grid.vmax_pu**2
    for t, n in np.argwhere(sp.v_low_pu2 > tol):
        out.append(Violation(ViolationKind.VOLTAGE_LOW, ViolationSource.MODEL,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(np.sqrt(max(vmin2[n] - sp.v_low_pu2[t, n], 0.0))),
                             float(grid.vmin_pu[n])))
    for t, n in np.argwhere(sp.v_high_pu2 > tol):
        out.append(Violation(ViolationKind.VOLTAGE_HIGH, ViolationSource.MODEL,
                             int(t), labels[t], f"bus {grid.bus_id[n]}",
                             float(np.sqrt(vmax2[n] + sp.v_high_pu2[t, n])),
                             float(grid.vmax_pu[n])))
    for t, line in np.argwhere(sp.s_over_mva > tol):
        rate = float(grid.rate_mva[line])
        out.append(Violation(ViolationKind.THERMAL, ViolationSource.MODEL,
                             int(t), labels[t], grid.branch_label[line],
                             float(100.0 * (rate + sp.s_over_mva[t, line]) / rate), 100.0))
    return out


#: The LP's losses may exceed the AC losses by this factor (plus 1 kW) in a period before the
#: dispatch counts as dumping energy into its loss variables.
LOSS_INFLATION_FACTOR = 1.25


def loss_inflation(
    sp: Setpoints, ac: PeriodFlows, times: np.ndarray, name: str
) -> list[Violation]:
    """Periods whose LP losses far exceed the AC losses of the same dispatch.

    The loss variables are bounded below by tangents of the convex losses, so at an optimum they
    sit on the tangents and under-estimate the AC losses slightly. When the LP cannot otherwise
    balance a period (surplus PV that the grid connection may not export and that costs more to
    curtail than to "lose"), it inflates them instead: the dispatch then looks balanced but is
    not. Such periods are reported as violations, which makes the status infeasible.
    """
    model = np.asarray(sp.p_loss_mw).sum(axis=1)
    actual = np.asarray(ac.losses_mw, dtype=float)
    bad = np.flatnonzero(model > LOSS_INFLATION_FACTOR * np.nan_to_num(actual) + 1e-3)
    if len(bad):
        logger.warning(
            "%s: in %d period(s) the LP balances power by inflating its losses (up to %.3f MW "
            "against %.3f MW in the AC check): the surplus has nowhere to go; allow export at "
            "the grid connection (ext_grid min_p_mw < 0 or a [grid] table in the asset file) or "
            "lower the curtailment penalty",
            name, len(bad), float(model[bad].max()), float(np.nan_to_num(actual)[bad].max()),
        )
    return [
        Violation(
            kind=ViolationKind.LOSS_INFLATION, source=ViolationSource.MODEL, period=int(t),
            time=str(times[t]),
            element="network losses (surplus with nowhere to go: check export limit)",
            value=float(model[t]), limit=float(actual[t]),
        )
        for t in bad
    ]
