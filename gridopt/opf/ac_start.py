"""Start points of the AC-OPF (:class:`ACStart`) and how each is built.

The measurements behind the default are in ``docs/benchmarks/acopf.md`` (section "start
points"): iterations and seconds of every start on the four benchmark cases and on held-out
PGLib cases.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

import numpy as np

from gridopt.errors import InputError
from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray
from gridopt.opf.ac_screening import limit_violations
from gridopt.opf.result import Formulation, Objective, OPFSolution

logger = logging.getLogger(__name__)

#: Transformer phase shifts at or above this (vector groups such as Dyn5) make a zero-angle
#: start far from any solution; AUTO then takes the angles from the case.
LARGE_SHIFT_RAD = float(np.deg2rad(30.0)) - 1e-9

#: A branch loaded to this share of its rating (or of its angle-difference limit) by the DC-OPF
#: or by a previous solution has its AC limit imposed from the first screening round. Measured
#: on nine PGLib cases (docs/benchmarks/acopf.md): from the DC-OPF, 0.8 settles all of them in
#: one round, 0.95 needs two on the pegase cases (the DC model has no losses and no reactive
#: power); from the previous solution with loads +2 % / -3 %, 0.8 saved a round on case2869
#: (94 -> 48 iterations) and cost at most one iteration on the other cases.
SEED_THRESHOLD = 0.8


class ACStart(enum.Enum):
    """Start point of the (first) Ipopt solve.

    ``FLAT``: va = 0, vm = 1 clipped to its limits, generators at mid-range.
    ``CASE``: voltages and dispatch stored in the case.
    ``DC``: angles and active dispatch of the DC-OPF (:func:`gridopt.opf.dc.solve_dc_opf`,
    HiGHS), vm = 1 and reactive power at mid-range; with limit screening, the branch limits
    the DC flows load to ``ACOptions.seed_threshold`` (0.8) or more are imposed from the
    first round, which is then solved at full accuracy. Falls back to ``FLAT`` if the DC-OPF
    cannot be solved. Its seconds are reported as ``start_seconds`` in the solution's ``extra``.
    ``AUTO``: ``DC`` for the cost objective; ``FLAT`` for losses (the DC-OPF dispatches by
    cost); and angles from the case instead when a transformer shifts the phase by 30 degrees
    or more (pandapower vector groups such as Dyn5, which the DC model ignores).

    A previous solution (e.g. of the hour before) is passed to
    :func:`gridopt.opf.ac.solve_ac_opf` as ``initial=`` and overrides the start option; its
    near-binding limits seed the screening the same way.
    """

    FLAT = "flat"
    CASE = "case"
    DC = "dc"
    AUTO = "auto"


@dataclass(frozen=True)
class StartPoint:
    """Start values of the four variable groups (per unit, radians) and their cost."""

    va_rad: FloatArray
    vm_pu: FloatArray
    pg_pu: FloatArray
    qg_pu: FloatArray
    seconds: float
    used: ACStart
    seed_flow: IntArray | None = None
    seed_angle: IntArray | None = None

    @property
    def x(self) -> FloatArray:
        """The values in the AC-OPF variable order (va, vm, pg, qg)."""
        return np.concatenate([self.va_rad, self.vm_pu, self.pg_pu, self.qg_pu])


def _midpoint(lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Mid-range start values; a one-sided or free range starts at the finite bound or 0."""
    lo_f, hi_f = np.isfinite(lo), np.isfinite(hi)
    mid = np.where(lo_f & hi_f, (lo + hi) / 2.0, 0.0)
    mid = np.where(lo_f & ~hi_f, np.maximum(lo, 0.0), mid)
    return np.where(~lo_f & hi_f, np.minimum(hi, 0.0), mid)


def _case_angles(net: Network) -> FloatArray:
    return np.asarray(net.va0_rad - net.va0_rad[net.ref_bus], dtype=np.float64)


def _flat(net: Network, t0: float, used: ACStart = ACStart.FLAT) -> StartPoint:
    return StartPoint(
        va_rad=np.zeros(net.n_bus),
        vm_pu=np.clip(np.ones(net.n_bus), net.vmin_pu, net.vmax_pu),
        pg_pu=_midpoint(net.pmin_pu, net.pmax_pu),
        qg_pu=_midpoint(net.qmin_pu, net.qmax_pu),
        seconds=time.perf_counter() - t0,
        used=used,
    )


def _dc(net: Network, t0: float, threshold: float) -> StartPoint:
    from gridopt.opf.dc import solve_dc_opf  # lazy: Pyomo/HiGHS only when asked for

    try:
        dc = solve_dc_opf(net)
    except InputError as exc:
        logger.info("DC start unavailable (%s); using a flat start", exc)
        return _flat(net, t0)
    if not dc.status.ok or not np.all(np.isfinite(dc.va_rad)):
        logger.info("DC start: DC-OPF %s; using a flat start", dc.status.value)
        return _flat(net, t0)
    flat = _flat(net, t0)
    flow, angle = limit_violations(net, dc, threshold)
    return StartPoint(
        va_rad=dc.va_rad - dc.va_rad[net.ref_bus],
        vm_pu=flat.vm_pu,
        pg_pu=dc.pg_pu,
        qg_pu=flat.qg_pu,
        seconds=time.perf_counter() - t0,
        used=ACStart.DC,
        seed_flow=flow,
        seed_angle=angle,
    )


def start_point(
    net: Network,
    start: ACStart,
    initial: OPFSolution | None = None,
    objective: Objective = Objective.COST,
    threshold: float = SEED_THRESHOLD,
) -> StartPoint:
    """Start values for ``net`` (not yet clipped to the variable bounds).

    Parameters
    ----------
    net
        The network.
    start
        The start strategy.
    initial
        A solution of the same network (e.g. of the previous hour); overrides ``start``.
    objective
        The OPF objective (``AUTO`` uses the DC start only for the cost objective).
    threshold
        Share of a limit at ``initial`` or at the DC-OPF from which the limit seeds the
        screening.

    Returns
    -------
    StartPoint
        Values, seconds spent building them and the strategy actually used.
    """
    t0 = time.perf_counter()
    if initial is not None:
        if initial.network.n_bus != net.n_bus or initial.network.n_gen != net.n_gen:
            raise ValueError("initial solution belongs to a network of another size")
        flow, angle = limit_violations(net, initial, threshold)
        seeded = initial.formulation is Formulation.AC
        return StartPoint(
            va_rad=initial.va_rad - initial.va_rad[net.ref_bus],
            vm_pu=initial.vm_pu.copy(),
            pg_pu=initial.pg_pu.copy(),
            qg_pu=initial.qg_pu.copy(),
            seconds=time.perf_counter() - t0,
            used=start,
            seed_flow=flow if seeded else None,
            seed_angle=angle if seeded else None,
        )
    if start is ACStart.DC:
        return _dc(net, t0, threshold)
    if start is ACStart.CASE:
        case = net.case
        return StartPoint(
            va_rad=_case_angles(net),
            vm_pu=np.asarray(net.vm0_pu, dtype=np.float64),
            pg_pu=case.pg_mw[net.gen_case_index] / net.base_mva,
            qg_pu=case.qg_mvar[net.gen_case_index] / net.base_mva,
            seconds=time.perf_counter() - t0,
            used=ACStart.CASE,
        )
    if start is ACStart.AUTO:
        if np.any(np.abs(net.shift_rad) >= LARGE_SHIFT_RAD):
            flat = _flat(net, t0)
            return StartPoint(
                va_rad=_case_angles(net), vm_pu=flat.vm_pu, pg_pu=flat.pg_pu,
                qg_pu=flat.qg_pu, seconds=time.perf_counter() - t0, used=ACStart.CASE,
            )
        if objective is Objective.COST:
            return _dc(net, t0, threshold)
        return _flat(net, t0)
    return _flat(net, t0)
