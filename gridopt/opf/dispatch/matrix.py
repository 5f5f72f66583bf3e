r"""The lossless multi-period DC dispatch as sparse matrices, passed to HiGHS directly.

The same LP as :func:`gridopt.opf.dispatch.model.build_dispatch_model` with
``GridModel.DC_LOSSES`` and ``with_losses=False`` (test
``tests/dispatch/test_matrix.py`` checks the objectives agree), assembled with
vectorised SciPy code instead of Pyomo rules. Pyomo spends ~150 µs per row building and
loading a model (``docs/dc_opf.md``); a 1354-bus network over 96 periods has ~700 000 rows,
so the Pyomo path would spend minutes where this one spends about a second. It is used for
large meshed networks where the loss linearisation is not wanted (the benchmark against
PyPSA, ``docs/benchmarks/dispatch.md``).

Columns are families of ``(element, period)`` blocks, element-major (the order of Pyomo's
``Var[element, t]``), so a family's values reshape to ``(element, T)``:

=================  ==================  ============================================
family             elements            bounds
=================  ==================  ============================================
``theta``          buses               free, slack bus 0 (rad)
``p_charge``       storage             ``[0, P^c]``
``p_discharge``    storage             ``[0, P^d]``
``energy``         storage             ``[SOC_min E, SOC_max E]`` (MWh)
``p_curtail``      curtailable PV      ``[0, available]``
``p_shift_up``     flexible loads      ``[0, U]`` in the window, 0 outside
``p_shift_down``   flexible loads      ``[0, D]`` in the window, 0 outside
``p_gen``          generators          ``[P_min, P_max]``
``p_grid``         one (connection)    ``[-export, import]``
``s_over_up``      rated branches      ``[0, inf)`` (MVA, slack of ``P <= R``)
``s_over_down``    rated branches      ``[0, inf)`` (MVA, slack of ``P >= -R``)
=================  ==================  ============================================

Rows (the maths of each family is in the docstring of the Pyomo function of the same name
in :mod:`gridopt.opf.dispatch.constraints`): ``storage_balance`` (storage, t),
``storage_final`` (storage), ``shift_energy`` (flexible load), ``p_balance`` (bus, t),
``thermal`` (rated branch, t).

Two reformulations keep the LP small without changing its optimum (the Pyomo model has branch
flow variables and two thermal rows per branch): branch flows are substituted,
``P = diag(b) A theta`` with ``b = S_base / (x tau)``, as in :mod:`gridopt.opf.dc`; and the
soft thermal limit ``|P| <= R + s`` is one ranged row ``-R <= P - s_up + s_down <= R`` with two
penalised slacks (at an optimum at most one is positive, so ``s_over = s_up + s_down``). On
case1354pegase over 24 periods this halves HiGHS's time against the literal form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridopt.network.assets import Assets
from gridopt.network.case import FloatArray
from gridopt.opf.dispatch.grid import DispatchGrid
from gridopt.opf.dispatch.inputs import DispatchInputs
from gridopt.opf.dispatch.options import DispatchOptions
from gridopt.solvers.highs import HighsOptions
from gridopt.solvers.highs_matrix import MatrixOutcome, MatrixProblem, solve_matrix_problem


@dataclass(frozen=True, eq=False)
class DispatchMatrices:
    """The assembled LP and where each family of columns and rows sits.

    Attributes
    ----------
    problem
        The LP in matrix form.
    columns
        Column slice of each variable family (element-major blocks of ``n_periods``).
    rows
        Row slice of each constraint family.
    n_periods
        Horizon length.
    """

    problem: MatrixProblem
    columns: dict[str, slice]
    rows: dict[str, slice]
    n_periods: int
    flow_matrix: sp.csr_matrix

    def values(self, x: FloatArray, family: str) -> FloatArray:
        """Values of one column family as a ``(time, element)`` array.

        Also the derived ``p_flow`` (branch flows, ``diag(b) A theta``) and ``s_over``
        (thermal slack, ``s_over_up + s_over_down``).
        """
        if family == "p_flow":
            return (self.flow_matrix @ self.values(x, "theta").T).T
        if family == "s_over":
            return self.values(x, "s_over_up") + self.values(x, "s_over_down")
        block = x[self.columns[family]]
        return block.reshape(-1, self.n_periods).T.copy()


def _on_bus(positions: list[int], n_bus: int) -> sp.csr_matrix:
    """``(n_bus, n_element)`` 0/1 matrix placing each element at its bus."""
    n = len(positions)
    return sp.csr_matrix(
        (np.ones(n), (np.asarray(positions, dtype=np.int64), np.arange(n))), shape=(n_bus, n)
    )


def build_dc_dispatch_matrices(
    grid: DispatchGrid,
    assets: Assets,
    positions: dict[str, list[int]],
    inputs: DispatchInputs,
    options: DispatchOptions,
) -> DispatchMatrices:
    r"""Assemble the lossless multi-period DC dispatch LP (layout in the module docstring).

    Objective (as :func:`gridopt.opf.dispatch.model.declare_objective` without network
    losses or voltage slack):

    .. math::

        \Delta t \sum_t \Big[ w_\ell \sum_s ((1-\eta^c_s) p^c_{s,t} + (1/\eta^d_s - 1) p^d_{s,t})
            + c_\text{curt} \sum_i p^\text{curt}_{i,t} + c_\text{cyc} \sum_s (p^c + p^d)
            + \pi_t p^\text{grid}_t + \sum_g c_g p^\text{gen}_{g,t}
            + \rho_S \sum_l s^\text{over}_{l,t} \Big]

    Parameters
    ----------
    grid, assets
        Network and controllable assets.
    positions
        Bus position of every asset by kind
        (:func:`gridopt.opf.dispatch.model.asset_positions`).
    inputs
        Forecast on the grid's buses.
    options
        Objective weights.

    Notes
    -----
    Long because it assembles every family of the lossless LP in one place; the families become
    functions of their own when they are shared with the persistent path (the next step of the
    architecture issue).
    """
    n_t, dt = inputs.n_periods, inputs.period_hours
    nb = grid.n_bus
    st, pv, fl, gens = assets.storage, assets.pv, assets.flexible_load, assets.generator
    rated = np.flatnonzero(np.isfinite(grid.rate_mva))
    sizes = {
        "theta": nb, "p_charge": len(st), "p_discharge": len(st),
        "energy": len(st), "p_curtail": len(pv), "p_shift_up": len(fl),
        "p_shift_down": len(fl), "p_gen": len(gens), "p_grid": 1, "s_over_up": len(rated),
        "s_over_down": len(rated),
    }
    columns: dict[str, slice] = {}
    start = 0
    for name, n in sizes.items():
        columns[name] = slice(start, start + n * n_t)
        start += n * n_t
    n_col = start
    eye_t = sp.identity(n_t, format="csr")

    def block(family: str, matrix: sp.spmatrix | sp.sparray) -> tuple[str, sp.csr_matrix]:
        """Rows over one column family: ``kron(matrix over elements, I_T)``."""
        return family, sp.csr_matrix(sp.kron(matrix, eye_t, format="csr"))

    def per(values: list[float] | FloatArray) -> FloatArray:
        return np.repeat(np.asarray(values, dtype=float), n_t)

    # column bounds
    lower = np.full(n_col, -np.inf)
    upper = np.full(n_col, np.inf)

    def bound(family: str, lo: FloatArray, hi: FloatArray) -> None:
        lower[columns[family]] = lo
        upper[columns[family]] = hi

    theta_hi = np.full((nb, n_t), np.inf)
    theta_hi[grid.slack_bus] = 0.0
    bound("theta", -theta_hi.ravel(), theta_hi.ravel())
    bound("p_charge", np.zeros(len(st) * n_t), per([s.p_charge_max_mw for s in st]))
    bound("p_discharge", np.zeros(len(st) * n_t), per([s.p_discharge_max_mw for s in st]))
    cap = np.array([s.energy_capacity_mwh for s in st])
    bound("energy", per(cap * [s.soc_min_percent / 100 for s in st]),
          per(cap * [s.soc_max_percent / 100 for s in st]))
    bound("p_curtail", np.zeros(len(pv) * n_t), inputs.pv_available_mw.T.ravel())
    window = np.zeros((len(fl), n_t), dtype=bool)
    for f, unit in enumerate(fl):
        end = n_t if unit.window_end is None else min(unit.window_end, n_t)
        window[f, max(unit.window_start, 0):end] = True
    bound("p_shift_up", np.zeros(len(fl) * n_t),
          (window * np.array([u.p_increase_max_mw for u in fl])[:, None]).ravel())
    bound("p_shift_down", np.zeros(len(fl) * n_t),
          (window * np.array([u.p_decrease_max_mw for u in fl])[:, None]).ravel())
    bound("p_gen", per([g.p_min_mw for g in gens]), per([g.p_max_mw for g in gens]))
    bound("p_grid", np.full(n_t, -assets.grid.p_export_max_mw),
          np.full(n_t, assets.grid.p_import_max_mw))
    for family in ("s_over_up", "s_over_down"):
        bound(family, np.zeros(len(rated) * n_t), np.full(len(rated) * n_t, np.inf))

    # objective
    cost = np.zeros(n_col)
    w = options.loss_weight_per_mwh
    eta_c = np.array([s.efficiency_charge for s in st])
    eta_d = np.array([s.efficiency_discharge for s in st])
    cost[columns["p_charge"]] = dt * per(w * (1 - eta_c) + options.cycling_penalty_per_mwh)
    cost[columns["p_discharge"]] = dt * per(
        w * (1 / eta_d - 1) + options.cycling_penalty_per_mwh
    )
    cost[columns["p_curtail"]] = dt * options.curtailment_penalty_per_mwh
    cost[columns["p_grid"]] = dt * inputs.price_per_mwh
    cost[columns["p_gen"]] = dt * per([g.cost_per_mwh for g in gens])
    cost[columns["s_over_up"]] = dt * options.thermal_slack_penalty_per_mvah
    cost[columns["s_over_down"]] = dt * options.thermal_slack_penalty_per_mvah

    families: list[tuple[str, list[tuple[str, sp.csr_matrix]], FloatArray, FloatArray]] = []
    # branch flows P = diag(b) A theta (substituted, not variables)
    incidence = grid.incidence()
    b = grid.base_mva / (grid.x_pu * grid.tap_ratio)
    flow_matrix = sp.csr_matrix(sp.diags(b) @ incidence)
    # storage_balance: e_t - e_{t-1} - dt eta_c pc + dt / eta_d pd = E0 [t = 0]
    if st:
        shift = sp.identity(n_t, format="csr") - sp.eye(n_t, k=-1, format="csr")
        balance_e = sp.kron(sp.identity(len(st)), shift, format="csr")
        rhs = np.zeros((len(st), n_t))
        rhs[:, 0] = [s.energy_initial_mwh for s in st]
        families.append(("storage_balance", [
            ("energy", balance_e),
            block("p_charge", sp.diags(-dt * eta_c)),
            block("p_discharge", sp.diags(dt / eta_d)),
        ], rhs.ravel(), rhs.ravel()))
        last = sp.csr_matrix(
            (np.ones(len(st)), (np.arange(len(st)), np.arange(len(st)) * n_t + n_t - 1)),
            shape=(len(st), len(st) * n_t),
        )
        families.append(("storage_final", [("energy", last)],
                         np.array([s.energy_final_min_mwh for s in st]),
                         np.full(len(st), np.inf)))
    if fl:
        rows_f = sp.csr_matrix(window.reshape(len(fl), -1) * dt)
        sel = sp.block_diag([rows_f[[f]] for f in range(len(fl))], format="csr")
        families.append(("shift_energy", [("p_shift_up", sel), ("p_shift_down", -sel)],
                         np.zeros(len(fl)), np.zeros(len(fl))))
    # p_balance: injections - flows out + flows in = demand - available PV
    slack = sp.csr_matrix(([1.0], ([grid.slack_bus], [0])), shape=(nb, 1))
    parts = [block("theta", -incidence.T @ flow_matrix), block("p_grid", slack)]
    if st:
        parts += [block("p_discharge", _on_bus(positions["storage"], nb)),
                  block("p_charge", -_on_bus(positions["storage"], nb))]
    if pv:
        parts.append(block("p_curtail", -_on_bus(positions["pv"], nb)))
    if gens:
        parts.append(block("p_gen", _on_bus(positions["generator"], nb)))
    if fl:
        parts += [block("p_shift_up", -_on_bus(positions["flexible_load"], nb)),
                  block("p_shift_down", _on_bus(positions["flexible_load"], nb))]
    pv_at_bus = inputs.pv_available_mw @ _on_bus(positions["pv"], nb).T.toarray()
    rhs_bal = (inputs.p_demand_mw - pv_at_bus).T.ravel()
    families.append(("p_balance", parts, rhs_bal, rhs_bal))
    # thermal limits: -R <= P - s_up + s_down <= R
    if len(rated):
        rate = per(grid.rate_mva[rated])
        families.append(("thermal", [block("theta", flow_matrix[rated]),
                                     block("s_over_up", -sp.identity(len(rated))),
                                     block("s_over_down", sp.identity(len(rated)))],
                         -rate, rate))

    row_blocks, lows, highs, rows = [], [], [], {}
    row_start = 0
    for name, pieces, lo, hi in families:
        n_rows = len(lo)
        parts_csc = []
        for family, mat in pieces:
            c = columns[family]
            full = sp.hstack([sp.csr_matrix((n_rows, c.start)), mat,
                              sp.csr_matrix((n_rows, n_col - c.stop))], format="csr")
            parts_csc.append(full)
        row_blocks.append(sum(parts_csc[1:], parts_csc[0]))
        lows.append(lo)
        highs.append(hi)
        rows[name] = slice(row_start, row_start + n_rows)
        row_start += n_rows
    problem = MatrixProblem(
        cost=cost,
        a_matrix=sp.vstack(row_blocks, format="csc"),
        row_lower=np.concatenate(lows),
        row_upper=np.concatenate(highs),
        col_lower=lower,
        col_upper=upper,
    )
    return DispatchMatrices(problem=problem, columns=columns, rows=rows, n_periods=n_t,
                            flow_matrix=flow_matrix)


@dataclass(frozen=True, eq=False)
class MatrixDispatch:
    """Outcome of :func:`solve_dc_dispatch_matrices`: the HiGHS outcome and the layout."""

    outcome: MatrixOutcome
    matrices: DispatchMatrices
    build_seconds: float


def solve_dc_dispatch_matrices(
    grid: DispatchGrid,
    assets: Assets,
    positions: dict[str, list[int]],
    inputs: DispatchInputs,
    options: DispatchOptions,
    highs: HighsOptions | None = None,
) -> MatrixDispatch:
    """Build (:func:`build_dc_dispatch_matrices`) and solve the lossless DC dispatch."""
    tick = time.perf_counter()
    matrices = build_dc_dispatch_matrices(grid, assets, positions, inputs, options)
    build_seconds = time.perf_counter() - tick
    outcome = solve_matrix_problem(
        matrices.problem, highs if highs is not None else HighsOptions(threads=options.threads)
    )
    return MatrixDispatch(outcome=outcome, matrices=matrices, build_seconds=build_seconds)
