"""Results of an optimal power flow, independent of formulation and solver."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray
from gridopt.solvers.status import SolverReport, SolveStatus


class Formulation(enum.Enum):
    """OPF formulation."""

    AC = "ac"
    DC = "dc"


class Objective(enum.Enum):
    """OPF objective: generation cost ($/h) or total branch active losses (MW)."""

    COST = "cost"
    LOSSES = "losses"


@dataclass(frozen=True, eq=False)
class OPFSolution:
    """Primal (and where available dual) solution of an OPF in per unit and radians.

    ``objective`` is in $/h for :attr:`Objective.COST` and in MW for :attr:`Objective.LOSSES`.
    ``lmp_usd_per_mwh`` holds the multipliers of the nodal active-power balance
    (locational marginal prices) when the objective is cost and the solver returned duals.
    """

    network: Network
    formulation: Formulation
    objective_kind: Objective
    report: SolverReport
    objective: float
    vm_pu: FloatArray
    va_rad: FloatArray
    pg_pu: FloatArray
    qg_pu: FloatArray
    p_from_pu: FloatArray
    q_from_pu: FloatArray
    p_to_pu: FloatArray
    q_to_pu: FloatArray
    lmp_usd_per_mwh: FloatArray | None = None
    build_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> SolveStatus:
        """Normalised solver status."""
        return self.report.status

    @property
    def losses_mw(self) -> float:
        """Total active losses of the in-service branches in MW."""
        return float(np.sum(self.p_from_pu + self.p_to_pu) * self.network.base_mva)

    @property
    def generation_cost(self) -> float:
        """Generation cost in $/h at the solution (whatever the objective was)."""
        net = self.network
        pg = self.pg_pu
        return float(np.sum(net.cost_c2 * pg**2 + net.cost_c1 * pg + net.cost_c0))

    def to_dataset(self) -> xr.Dataset:
        """Return the solution as an ``xarray.Dataset`` (dims ``bus``, ``gen``, ``branch``).

        Coordinates are the element labels of the source case; variables carry units in their
        names and attributes. The dataset can be written with ``to_netcdf``.
        """
        net = self.network
        base = net.base_mva
        s_from = np.hypot(self.p_from_pu, self.q_from_pu)
        s_to = np.hypot(self.p_to_pu, self.q_to_pu)
        with np.errstate(divide="ignore", invalid="ignore"):
            loading = np.where(
                np.isfinite(net.rate_a_pu), np.maximum(s_from, s_to) / net.rate_a_pu * 100, np.nan
            )
        data_vars: dict[str, tuple[str, np.ndarray, dict[str, str]]] = {
            "vm_pu": ("bus", self.vm_pu, {"units": "pu", "long_name": "voltage magnitude"}),
            "va_degree": ("bus", np.rad2deg(self.va_rad), {"units": "degree"}),
            "p_mw": ("gen", self.pg_pu * base, {"units": "MW"}),
            "q_mvar": ("gen", self.qg_pu * base, {"units": "Mvar"}),
            "p_from_mw": ("branch", self.p_from_pu * base, {"units": "MW"}),
            "q_from_mvar": ("branch", self.q_from_pu * base, {"units": "Mvar"}),
            "p_to_mw": ("branch", self.p_to_pu * base, {"units": "MW"}),
            "q_to_mvar": ("branch", self.q_to_pu * base, {"units": "Mvar"}),
            "pl_mw": ("branch", (self.p_from_pu + self.p_to_pu) * base, {"units": "MW"}),
            "loading_percent": (
                "branch", loading, {"units": "%", "long_name": "max(|S|) / rate_a"},
            ),
        }
        if self.lmp_usd_per_mwh is not None:
            data_vars["lmp_usd_per_mwh"] = (
                "bus", self.lmp_usd_per_mwh, {"units": "$/MWh", "long_name": "nodal price"},
            )
        ds = xr.Dataset(
            {k: xr.Variable(d, v, attrs=a) for k, (d, v, a) in data_vars.items()},
            coords={
                "bus": list(net.bus_label),
                "gen": list(net.gen_label),
                "branch": list(net.branch_label),
            },
        )
        ds.attrs.update(
            case=net.name,
            formulation=self.formulation.value,
            objective_kind=self.objective_kind.value,
            status=self.status.value,
            solver=self.report.solver,
            solver_message=self.report.message,
            objective=float(self.objective),
            losses_mw=self.losses_mw,
            iterations=int(self.report.iterations),
            solve_seconds=float(self.report.solve_seconds),
            base_mva=float(base),
        )
        return ds
