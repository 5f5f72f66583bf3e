"""AC power-flow results of a multi-period dispatch, and who computes them.

The linearisation loop (:mod:`gridopt.opf.dispatch.linearisation`) needs, for given set-points,
the AC branch flows, losses and voltages of every period. It gets them from a
:class:`FlowEvaluator` (``gridopt.validate.dispatch.ACChecker`` runs ``pandapower.runpp``; this
layer knows no pandapower) as :class:`PeriodFlows`. :func:`series_power_flow` is the fast
evaluator used between rounds: a vectorised power flow on the dispatch grid's series model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.model import OperatingPoint

BoolArray = np.ndarray


@dataclass(frozen=True, eq=False)
class PeriodFlows:
    """AC power-flow results of every period, arrays shaped ``(time, element)``.

    Periods whose power flow did not converge have ``converged = False`` and NaN results.
    """

    converged: BoolArray
    vm_pu: FloatArray
    p_from_mw: FloatArray
    q_from_mvar: FloatArray
    v_from_pu: FloatArray
    loss_mw: FloatArray
    loading_percent: FloatArray
    max_loading_percent: FloatArray
    p_grid_mw: FloatArray
    q_grid_mvar: FloatArray
    seconds: float

    @property
    def losses_mw(self) -> FloatArray:
        """Total active losses of each period."""
        return self.loss_mw.sum(axis=1)

    @property
    def all_converged(self) -> bool:
        """True when every period's power flow converged."""
        return bool(np.all(self.converged))

    def operating_point(self) -> OperatingPoint:
        """Branch state for the loss linearisation (non-converged periods become zero flow)."""

        def clean(a: FloatArray, fill: float) -> FloatArray:
            return np.where(np.isfinite(a), a, fill)

        return OperatingPoint(
            p_from_mw=clean(self.p_from_mw, 0.0),
            q_from_mvar=clean(self.q_from_mvar, 0.0),
            v_from_pu=clean(self.v_from_pu, 1.0),
            loss_mw=clean(self.loss_mw, 0.0),
        )


class FlowEvaluator(Protocol):
    """Runs the AC power flow of every period for ``(time, bus position)`` arrays."""

    def run(
        self,
        p_demand_mw: FloatArray,
        q_demand_mvar: FloatArray,
        p_inject_mw: FloatArray,
        q_inject_mvar: FloatArray,
    ) -> PeriodFlows:
        """Voltages, branch flows at the from end, losses and loadings per period."""
        ...


def series_power_flow(
    grid: DispatchGrid,
    p_net_mw: FloatArray,
    q_net_mvar: FloatArray,
    tolerance_pu: float = 1e-9,
    max_iterations: int = 100,
) -> tuple[OperatingPoint, FloatArray, BoolArray]:
    r"""AC power flow of all periods at once on the series branch model of ``grid``.

    Solves ``Y_NN V_N + Y_Ns V_s = conj(S_N / V_N)`` for the non-slack buses by the Z-bus
    fixed point ``V_N <- Y_NN^{-1} (conj(S_N / V_N) - Y_Ns V_s)`` with one sparse LU
    factorisation shared by every period (columns are periods). Branches are series
    impedances with off-nominal taps; line charging and magnetising are left out, as in the
    dispatch LP. Used between linearisation rounds; the final check is ``pandapower.runpp``.

    Parameters
    ----------
    grid
        Network.
    p_net_mw, q_net_mvar
        ``(time, bus)`` net injections (generation minus demand).

    Returns
    -------
    tuple
        The :class:`OperatingPoint`, voltage magnitudes ``(time, bus)`` and a per-period
        convergence flag.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    nb = grid.n_bus
    base = grid.base_mva
    f, t = grid.branch_from, grid.branch_to
    y = 1.0 / (grid.r_pu + 1j * grid.x_pu)
    tap = grid.tap_ratio
    rows = np.concatenate([f, f, t, t])
    cols = np.concatenate([f, t, f, t])
    vals = np.concatenate([y / tap**2, -y / tap, -y / tap, y])
    ybus = sp.csc_matrix((vals, (rows, cols)), shape=(nb, nb))
    s = grid.slack_bus
    keep = np.array([i for i in range(nb) if i != s], dtype=np.int64)
    y_nn = ybus[keep][:, keep].tocsc()
    y_ns = ybus[keep][:, [s]].toarray()
    lu = splu(y_nn)
    sbus = ((p_net_mw + 1j * q_net_mvar) / base).T[keep]  # (n-1, T)
    n_t = p_net_mw.shape[0]
    v_s = grid.v_slack_pu
    v_n = np.full((nb - 1, n_t), v_s, dtype=complex)
    const = y_ns * v_s
    err = np.inf
    for _ in range(max_iterations):
        new = lu.solve(np.conj(sbus / v_n) - const)
        err_t = np.max(np.abs(new - v_n), axis=0)
        v_n = new
        err = float(err_t.max())
        if err < tolerance_pu:
            break
    converged = err_t < max(tolerance_pu * 1e3, 1e-6)
    v = np.empty((nb, n_t), dtype=complex)
    v[keep] = v_n
    v[s] = v_s
    v = v.T  # (T, nb)
    vf = v[:, f] / tap[None, :]
    current = (vf - v[:, t]) * y[None, :]
    s_from = vf * np.conj(current) * base
    loss = grid.r_pu[None, :] * np.abs(current) ** 2 * base
    point = OperatingPoint(
        p_from_mw=s_from.real.copy(),
        q_from_mvar=s_from.imag.copy(),
        v_from_pu=np.abs(v[:, f]),
        loss_mw=loss,
    )
    return point, np.abs(v), converged
