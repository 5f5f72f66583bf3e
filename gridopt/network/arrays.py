"""The immutable, solver-facing numeric network.

:func:`build_network` keeps the in-service part of a :class:`~gridopt.network.case.CaseData`,
converts it to per unit on ``base_mva`` and radians, and precomputes the branch admittances of the
MATPOWER pi model (MATPOWER manual, section 3.2)::

    y_s = 1 / (r + j x),   T = tau * exp(j theta_shift),   y_c = (g + j b) / 2
    Y_ff = (y_s + y_c) / |T|^2,   Y_ft = -y_s / conj(T),   Y_tf = -y_s / T,   Y_tt = y_s + y_c

so that the complex power entering a branch at its ends is
``S_f = V_f conj(Y_ff V_f + Y_ft V_t)`` and ``S_t = V_t conj(Y_tf V_f + Y_tt V_t)``.
Every array is read-only; positions map back to the case with ``*_case_index``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridopt.errors import InputError
from gridopt.network.case import (
    ISOLATED,
    NO_ANGLE_LIMIT_DEG,
    REF,
    BoolArray,
    CaseData,
    FloatArray,
    IntArray,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Network:
    """In-service network in per unit (``base_mva``) and radians; all arrays read-only.

    Bus quantities are indexed by network bus position ``0..n_bus-1``; ``bus_case_index`` gives
    the matching row of the source :class:`CaseData` (likewise for generators and branches).
    Powers are per unit, costs are converted so that ``cost = c2 * p_pu**2 + c1 * p_pu + c0``
    in $/h. Branch ratings of 0 in the case (unlimited) are ``inf`` here; angle-difference
    limits of +-360 degrees or more are ``-inf``/``inf``.

    Examples
    --------
    >>> from gridopt.network.matpower import read_matpower
    >>> from gridopt.network.samples import sample_case_path
    >>> net = build_network(read_matpower(sample_case_path("pglib_opf_case5_pjm")))
    >>> net.n_bus, net.n_gen, net.n_branch, net.bus_label[net.ref_bus]
    (5, 5, 6, 'bus 4')
    >>> net.gen_bus                               # bus position of each generator
    array([0, 0, 2, 3, 4])
    >>> net.gen_incidence().sum(axis=1).A1        # generators per bus
    array([2., 0., 1., 1., 1.])
    >>> net.ybus().shape
    (5, 5)
    """

    case: CaseData
    base_mva: float
    ref_bus: int
    bus_case_index: IntArray
    vmin_pu: FloatArray
    vmax_pu: FloatArray
    pd_pu: FloatArray
    qd_pu: FloatArray
    gs_pu: FloatArray
    bs_pu: FloatArray
    vm0_pu: FloatArray
    va0_rad: FloatArray
    gen_case_index: IntArray
    gen_bus: IntArray
    pmin_pu: FloatArray
    pmax_pu: FloatArray
    qmin_pu: FloatArray
    qmax_pu: FloatArray
    cost_c2: FloatArray
    cost_c1: FloatArray
    cost_c0: FloatArray
    branch_case_index: IntArray
    branch_from: IntArray
    branch_to: IntArray
    r_pu: FloatArray
    x_pu: FloatArray
    tap_ratio: FloatArray
    shift_rad: FloatArray
    rate_a_pu: FloatArray
    angmin_rad: FloatArray
    angmax_rad: FloatArray
    y_ff: NDArrayComplex
    y_ft: NDArrayComplex
    y_tf: NDArrayComplex
    y_tt: NDArrayComplex
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Case name."""
        return self.case.name

    @property
    def n_bus(self) -> int:
        """Number of in-service buses."""
        return len(self.bus_case_index)

    @property
    def n_gen(self) -> int:
        """Number of in-service generators."""
        return len(self.gen_case_index)

    @property
    def n_branch(self) -> int:
        """Number of in-service branches."""
        return len(self.branch_case_index)

    @property
    def bus_label(self) -> tuple[str, ...]:
        """Labels of the in-service buses."""
        return tuple(self.case.bus_label[i] for i in self.bus_case_index)

    @property
    def gen_label(self) -> tuple[str, ...]:
        """Labels of the in-service generators."""
        return tuple(self.case.gen_label[i] for i in self.gen_case_index)

    @property
    def branch_label(self) -> tuple[str, ...]:
        """Labels of the in-service branches."""
        return tuple(self.case.branch_label[i] for i in self.branch_case_index)

    def ybus(self) -> sp.csr_matrix:
        """Bus admittance matrix ``Y`` (per unit) with ``I = Y V``, including bus shunts."""
        nb = self.n_bus
        f, t = self.branch_from, self.branch_to
        rows = np.concatenate([f, f, t, t, np.arange(nb)])
        cols = np.concatenate([f, t, f, t, np.arange(nb)])
        vals = np.concatenate(
            [self.y_ff, self.y_ft, self.y_tf, self.y_tt, self.gs_pu + 1j * self.bs_pu]
        )
        return sp.csr_matrix((vals, (rows, cols)), shape=(nb, nb))

    def gen_incidence(self) -> sp.csr_matrix:
        """Sparse ``(n_bus, n_gen)`` matrix with a one where generator ``g`` sits at bus ``i``."""
        ng = self.n_gen
        return sp.csr_matrix(
            (np.ones(ng), (self.gen_bus, np.arange(ng))), shape=(self.n_bus, ng)
        )


NDArrayComplex = np.ndarray


def _readonly(**arrays: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for name, value in arrays.items():
        arr = np.ascontiguousarray(value)
        arr.flags.writeable = False
        out[name] = arr
    return out


def _choose_reference(case: CaseData, keep_bus: BoolArray, gen_on: BoolArray) -> tuple[int, str]:
    """Position (in the case) of the reference bus, moving it if its generators are all off."""
    ref = np.flatnonzero((case.bus_type == REF) & keep_bus)
    if len(ref) == 0:
        raise InputError(
            f"case {case.name!r} has no reference bus (bus type 3); mark the bus of the slack "
            "generator (or the external grid) as the reference"
        )
    ref_bus = int(ref[0])
    if np.any(gen_on & (case.gen_bus == ref_bus)):
        return ref_bus, ""
    if not np.any(gen_on):
        raise InputError(
            f"case {case.name!r} has no in-service generator; an OPF needs at least one"
        )
    candidates = np.flatnonzero(gen_on)
    best = int(candidates[np.argmax(case.pmax_mw[candidates])])
    new_ref = int(case.gen_bus[best])
    note = (
        f"reference {case.bus_label[ref_bus]} has no in-service generator; using "
        f"{case.bus_label[new_ref]} (largest in-service generator, {case.gen_label[best]}) as "
        "the angle reference"
    )
    logger.warning(note)
    return new_ref, note


def build_network(case: CaseData) -> Network:
    """Build the in-service per-unit :class:`Network` of a case.

    Parameters
    ----------
    case
        The raw case.

    Returns
    -------
    Network
        Immutable numeric network. Isolated buses (type 4) and out-of-service generators and
        branches are left out; branches to an isolated bus are left out too.

    Raises
    ------
    InputError
        If there is no reference bus, no in-service generator, a branch with zero impedance, or
        inconsistent limits (``vmin > vmax``, ``pmin > pmax``, ``qmin > qmax``).

    Notes
    -----
    Long because it derives every per-unit array of the OPF from the case in one pass, with the
    checks that name the offending element.
    """
    keep_bus = case.bus_type != ISOLATED
    new_pos = np.full(case.n_bus, -1, dtype=np.int64)
    new_pos[keep_bus] = np.arange(int(keep_bus.sum()))
    gen_on = case.gen_in_service & keep_bus[case.gen_bus]
    br_on = (
        case.branch_in_service & keep_bus[case.branch_from] & keep_bus[case.branch_to]
    )
    ref_case_bus, note = _choose_reference(case, keep_bus, gen_on)
    notes = (note,) if note else ()

    base = case.base_mva
    bus_idx = np.flatnonzero(keep_bus)
    gen_idx = np.flatnonzero(gen_on)
    br_idx = np.flatnonzero(br_on)

    _check_limits(case, bus_idx, gen_idx)

    r, x = case.r_pu[br_idx], case.x_pu[br_idx]
    z = r + 1j * x
    zero = np.flatnonzero(np.abs(z) == 0)
    if len(zero):
        label = case.branch_label[br_idx[zero[0]]]
        raise InputError(
            f"case {case.name!r}: {label} has zero impedance (r = x = 0); give it a small "
            "reactance or merge its two buses"
        )
    y_s = 1.0 / z
    tap = case.tap_ratio[br_idx]
    tap = np.where(tap == 0, 1.0, tap)
    shift = np.deg2rad(case.shift_degree[br_idx])
    t_cplx = tap * np.exp(1j * shift)
    y_c = (case.g_pu[br_idx] + 1j * case.b_pu[br_idx]) / 2.0
    rate = case.rate_a_mva[br_idx] / base
    rate = np.where(rate <= 0, np.inf, rate)
    angmin = case.angmin_degree[br_idx]
    angmax = case.angmax_degree[br_idx]
    angmin_rad = np.where(angmin <= -NO_ANGLE_LIMIT_DEG, -np.inf, np.deg2rad(angmin))
    angmax_rad = np.where(angmax >= NO_ANGLE_LIMIT_DEG, np.inf, np.deg2rad(angmax))

    gen_c2 = case.cost_c2[gen_idx] * base**2
    gen_c1 = case.cost_c1[gen_idx] * base

    fields = _readonly(
        bus_case_index=bus_idx,
        vmin_pu=case.vmin_pu[bus_idx],
        vmax_pu=case.vmax_pu[bus_idx],
        pd_pu=case.pd_mw[bus_idx] / base,
        qd_pu=case.qd_mvar[bus_idx] / base,
        gs_pu=case.gs_mw[bus_idx] / base,
        bs_pu=case.bs_mvar[bus_idx] / base,
        vm0_pu=case.vm_pu[bus_idx],
        va0_rad=np.deg2rad(case.va_degree[bus_idx]),
        gen_case_index=gen_idx,
        gen_bus=new_pos[case.gen_bus[gen_idx]],
        pmin_pu=case.pmin_mw[gen_idx] / base,
        pmax_pu=case.pmax_mw[gen_idx] / base,
        qmin_pu=case.qmin_mvar[gen_idx] / base,
        qmax_pu=case.qmax_mvar[gen_idx] / base,
        cost_c2=gen_c2,
        cost_c1=gen_c1,
        cost_c0=case.cost_c0[gen_idx],
        branch_case_index=br_idx,
        branch_from=new_pos[case.branch_from[br_idx]],
        branch_to=new_pos[case.branch_to[br_idx]],
        r_pu=r,
        x_pu=x,
        tap_ratio=tap,
        shift_rad=shift,
        rate_a_pu=rate,
        angmin_rad=angmin_rad,
        angmax_rad=angmax_rad,
        y_ff=(y_s + y_c) / (tap**2),
        y_ft=-y_s / np.conj(t_cplx),
        y_tf=-y_s / t_cplx,
        y_tt=y_s + y_c,
    )
    return Network(
        case=case,
        base_mva=base,
        ref_bus=int(new_pos[ref_case_bus]),
        notes=notes,
        **fields,
    )


def _check_limits(case: CaseData, bus_idx: IntArray, gen_idx: IntArray) -> None:
    checks = [
        ("vmin_pu", "vmax_pu", bus_idx, case.bus_label, "bus"),
        ("pmin_mw", "pmax_mw", gen_idx, case.gen_label, "generator"),
        ("qmin_mvar", "qmax_mvar", gen_idx, case.gen_label, "generator"),
    ]
    for lo_name, hi_name, idx, labels, what in checks:
        lo, hi = getattr(case, lo_name)[idx], getattr(case, hi_name)[idx]
        bad = np.flatnonzero(lo > hi + 1e-12)
        if len(bad):
            i = idx[bad[0]]
            raise InputError(
                f"case {case.name!r}: {labels[i]} has {lo_name} = {lo[bad[0]]:g} above "
                f"{hi_name} = {hi[bad[0]]:g}; swap or correct the {what} limits"
            )
