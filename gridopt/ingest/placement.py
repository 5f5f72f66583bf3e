"""Placing validated rows on the dataset's regular grid, meter group by meter group.

The grid has interval ``F`` (:class:`~gridopt.ingest.interval.IntervalPlan`) and phase
``phase_F``: interval starts are the instants :math:`t \\equiv \\varphi_F \\pmod F`. Meters on
interval ``F`` are placed directly. With an explicit ``freq``, meters on another interval are
placed on a grid of their own interval first (so duplicates, conflicts and outliers are judged
on the readings as they were taken) and then converted:

* finer meters (interval :math:`s`, :math:`F = k s`): the energy of an ``F`` interval is the
  sum of its :math:`k` readings, :math:`E_t = \\sum_{j<k} e_{kt+j}`, when all :math:`k` are
  present; otherwise it is unknown (NaN) and counted as a partial cell;
* coarser meters (:math:`s = j F`): a reading :math:`e` covering :math:`j` intervals gives each
  :math:`e / j` (the energy is exact over the reading, the profile inside it is not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridopt._ext import _ingest
from gridopt.errors import InputError
from gridopt.ingest.interval import Conversion, IntervalPlan, weighted_phase
from gridopt.ingest.model import Quality, ValidationOptions

#: Largest dense grid accepted (cells = intervals x meters), about 16 GB of float64 variables.
MAX_CELLS = 1_000_000_000


@dataclass(frozen=True)
class Rows:
    """The parsed rows: meter index, UTC instant (ns), values and the mutable status."""

    meter: NDArray[np.int32]
    instant_ns: NDArray[np.int64]
    cons_kwh: NDArray[np.float64]
    prod_kwh: NDArray[np.float64]
    status: NDArray[np.int8]


@dataclass(frozen=True)
class Grid:
    """Interval starts ``start_ns + i * step_ns`` for ``i < n_time``."""

    start_ns: int
    step_ns: int
    n_time: int


@dataclass
class Placed:
    """Grids ``(n_meter, n_time)`` of energy and the cells converted from other intervals."""

    cons: NDArray[np.float64]
    prod: NDArray[np.float64]
    converted: NDArray[np.int8]  # 0, or Quality.AGGREGATED / Quality.SPLIT
    cells_partial: int = 0


def meter_phases(plan: IntervalPlan, instant_ns: NDArray[np.int64],
                 instant_rows: NDArray[np.int64], meter_of_instant_rows: NDArray[np.int64],
                 ) -> tuple[int, NDArray[np.int64]]:
    """The grid phase and each meter's phase: a reading of meter ``m`` is on the grid when
    ``t mod s_m == phase_m`` (``s_m`` the meter's own interval).

    ``phase_F`` is the most common remainder modulo ``F`` of the instants of meters on ``F``
    (else of coarser meters; else the phase of the coarsest finer meter, which aligns ``F``
    intervals with its readings). Coarser meters of one interval share the most common phase
    among their instants that are on the ``F`` grid.

    Parameters
    ----------
    plan
        The interval plan.
    instant_ns
        Distinct instants (ns).
    instant_rows
        Per (instant, meter-group) pair, how many rows use it: shape ``(n_groups, n_instants)``
        as produced by :func:`instant_use`.
    meter_of_instant_rows
        The meter group keys of ``instant_rows`` rows (native interval in ns).
    """
    step = plan.step_ns
    phases = np.zeros(plan.native_ns.size, dtype=np.int64)
    use = {int(k): instant_rows[i] for i, k in enumerate(meter_of_instant_rows)}
    direct = np.flatnonzero(plan.conversion == Conversion.DIRECT)
    coarser = np.flatnonzero(plan.conversion == Conversion.SPLIT)
    finer = np.flatnonzero(plan.conversion == Conversion.AGGREGATE)
    if direct.size:
        phase_f = weighted_phase(instant_ns, use[step], step)
    elif coarser.size:
        weight = sum(use[int(s)] for s in np.unique(plan.native_ns[coarser]))
        phase_f = weighted_phase(instant_ns, weight, step)
    elif finer.size:
        s = int(np.max(plan.native_ns[finer]))
        phase_f = weighted_phase(instant_ns, use[s], s)
    else:
        phase_f = 0
    phases[direct] = phase_f
    for s in np.unique(plan.native_ns[finer]):
        phases[finer[plan.native_ns[finer] == s]] = phase_f % int(s)
    for s in np.unique(plan.native_ns[coarser]):
        on_f = np.mod(instant_ns, step) == phase_f
        phases[coarser[plan.native_ns[coarser] == s]] = weighted_phase(
            instant_ns, np.where(on_f, use[int(s)], 0), int(s))
    return phase_f, phases


def instant_use(plan: IntervalPlan, time_code: NDArray[np.int32], meter: NDArray[np.int32],
                usable: NDArray[np.bool_], n_instants: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows per distinct instant, for each native interval of the plan (the phase weights)."""
    keys = np.unique(plan.native_ns)
    native_row = plan.native_ns[meter]
    out = np.zeros((keys.size, n_instants), dtype=np.int64)
    for i, s in enumerate(keys):
        sel = usable if keys.size == 1 else usable & (native_row == s)
        out[i] = np.bincount(time_code[sel], minlength=n_instants)
    return out, keys


def grid_extent(rows: Rows, clean: NDArray[np.bool_], native_row: NDArray[np.int64],
                step_ns: int, phase_ns: int, n_meter: int, source: str) -> Grid:
    """The grid from the first to the last ``F`` interval that a clean reading touches."""
    t = rows.instant_ns[clean]
    first = t - np.mod(t - phase_ns, step_ns)
    end = t + native_row[clean] - 1
    last = end - np.mod(end - phase_ns, step_ns)
    start_ns, end_ns = int(first.min()), int(last.max())
    grid = Grid(start_ns, step_ns, (end_ns - start_ns) // step_ns + 1)
    if grid.n_time * max(n_meter, 1) > MAX_CELLS:
        raise InputError(
            f"{source}: the regular grid would have {grid.n_time} intervals x {n_meter} meters "
            f"(> {MAX_CELLS} cells); split the file by period or meter, or check --freq"
        )
    return grid


def place(rows: Rows, plan: IntervalPlan, grid: Grid, n_meter: int,
          opts: ValidationOptions, test_outliers: bool) -> Placed:
    """Put every clean row on the grid, group by group (one group per native interval).

    Updates ``rows.status`` in place (duplicates, conflicts, outliers).
    """
    placed = Placed(cons=np.full((n_meter, grid.n_time), np.nan),
                    prod=np.full((n_meter, grid.n_time), np.nan),
                    converted=np.zeros((n_meter, grid.n_time), dtype=np.int8))
    if plan.uniform:
        _place_group(rows, None, np.arange(n_meter), grid.step_ns, grid, opts, test_outliers,
                     Conversion.DIRECT, placed)
        return placed
    for kind in (Conversion.DIRECT, Conversion.AGGREGATE, Conversion.SPLIT):
        meters = plan.meters_with(kind)
        for s in np.unique(plan.native_ns[meters]):
            group = meters[plan.native_ns[meters] == s]
            member = np.zeros(n_meter, dtype=bool)
            member[group] = True
            sel = np.flatnonzero(member[rows.meter])
            _place_group(rows, sel, group, int(s), grid, opts, test_outliers, kind, placed)
    return placed


def _place_group(rows: Rows, sel: NDArray[np.int64] | None, group: NDArray[np.int64],
                 native_ns: int, grid: Grid, opts: ValidationOptions, test_outliers: bool,
                 kind: Conversion, placed: Placed) -> None:
    """Place the rows ``sel`` (``None``: all) of the meters ``group`` and convert them."""
    take = (lambda a: a) if sel is None else (lambda a: a[sel])
    local = np.full(int(group.max()) + 1 if group.size else 1, -1, dtype=np.int32)
    local[group] = np.arange(group.size, dtype=np.int32)
    meter = np.ascontiguousarray(local[take(rows.meter)], dtype=np.int32)
    status = np.ascontiguousarray(take(rows.status))
    cons, prod = take(rows.cons_kwh), take(rows.prod_kwh)
    cell_ns = native_ns if kind is Conversion.AGGREGATE else grid.step_ns
    n_cells = grid.n_time * (grid.step_ns // native_ns) if kind is Conversion.AGGREGATE \
        else grid.n_time
    clean = status == 0
    tidx = np.zeros(status.size, dtype=np.int64)
    tidx[clean] = (take(rows.instant_ns)[clean] - grid.start_ns) // cell_ns
    cons_g = np.full((group.size, n_cells), np.nan)
    prod_g = np.full((group.size, n_cells), np.nan)
    meter_safe = np.where(meter >= 0, meter, 0).astype(np.int32)
    _ingest.place_readings(meter_safe, tidx, cons, prod, status, cons_g, prod_g)
    if test_outliers and opts.outlier_factor is not None:
        limits = [opts.outlier_factor * _ingest.positive_quantile(
            g, opts.outlier_quantile, opts.outlier_min_readings) for g in (cons_g, prod_g)]
        _ingest.mark_outliers(meter_safe, tidx, cons, prod, status, limits[0], limits[1],
                              cons_g, prod_g)
    if sel is None:
        rows.status[:] = status
    else:
        rows.status[sel] = status
    if kind is Conversion.DIRECT:
        placed.cons[group], placed.prod[group] = cons_g, prod_g
    elif kind is Conversion.AGGREGATE:
        ratio = grid.step_ns // native_ns
        cons_c, present = _ingest.aggregate_blocks(cons_g, 0, ratio, grid.n_time)
        prod_c, _ = _ingest.aggregate_blocks(prod_g, 0, ratio, grid.n_time)
        placed.cons[group], placed.prod[group] = cons_c, prod_c
        placed.converted[group] = np.where(present == ratio, Quality.AGGREGATED, 0)
        placed.cells_partial += int(np.sum((present > 0) & (present < ratio)))
    else:
        _split(cons_g, prod_g, native_ns // grid.step_ns, group, placed)


def _split(cons_g: NDArray[np.float64], prod_g: NDArray[np.float64], ratio: int,
           group: NDArray[np.int64], placed: Placed) -> None:
    """Share each coarse reading (at its first ``F`` cell) evenly over its ``ratio`` cells."""
    m_idx, t_idx = np.nonzero(np.isfinite(cons_g) | np.isfinite(prod_g))
    cons_out = np.full(cons_g.shape, np.nan)
    prod_out = np.full(prod_g.shape, np.nan)
    flags = np.zeros(cons_g.shape, dtype=np.int8)
    for j in range(ratio):
        cons_out[m_idx, t_idx + j] = cons_g[m_idx, t_idx] / ratio
        prod_out[m_idx, t_idx + j] = prod_g[m_idx, t_idx] / ratio
        flags[m_idx, t_idx + j] = Quality.SPLIT
    placed.cons[group], placed.prod[group] = cons_out, prod_out
    placed.converted[group] = flags
