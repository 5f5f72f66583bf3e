# cython: language_level=3
"""Derivative kernels of the polar AC optimal power flow.

Every branch end ``e`` (from end and to end of each in-service branch) is treated as a function
of its four variables ``z = (va_a, va_b, vm_a, vm_b)`` (own bus ``a``, other bus ``b``)::

    delta = va_a - va_b
    A = g cos(delta) + b sin(delta),    D = -g sin(delta) + b cos(delta)
    p = G vm_a^2 + vm_a vm_b A
    q = -B vm_a^2 - vm_a vm_b D

with ``G + jB`` the end's self admittance (``Y_ff`` or ``Y_tt``) and ``g + jb`` its mutual
admittance (``Y_ft`` or ``Y_tf``). Gradients (4 entries) and Hessians (10 lower-triangle entries)
are written straight into Ipopt's value arrays through position maps that the Python layer
builds once (``gridopt.opf.ac``); no sparse matrix is rebuilt per call.

Variable layout: ``x = [va (n_bus), vm (n_bus), pg (n_gen), qg (n_gen)]``.
Constraint layout: ``[P balance (n_bus), Q balance (n_bus), |S|^2 at limited ends, angle
differences]``.
"""

from libc.math cimport cos, sin

import numpy as np

cimport numpy as cnp

cnp.import_array()

ctypedef cnp.float64_t f8
ctypedef cnp.int64_t i8

# Lower-triangle pairs (i, j), i >= j, of the 4 local variables (va_a, va_b, vm_a, vm_b).
cdef int PAIR_I[10]
cdef int PAIR_J[10]
PAIR_I[:] = [0, 1, 1, 2, 2, 2, 3, 3, 3, 3]
PAIR_J[:] = [0, 0, 1, 0, 1, 2, 0, 1, 2, 3]


def lower_pairs():
    """Return the 10 local lower-triangle pairs ``(i, j)`` in kernel order."""
    return [(PAIR_I[k], PAIR_J[k]) for k in range(10)]


cdef inline void _end_values(
    f8 va_a, f8 va_b, f8 vm_a, f8 vm_b, f8 G, f8 B, f8 g, f8 b,
    f8* p, f8* q, f8* dp, f8* dq, f8* A_out, f8* D_out,
) noexcept nogil:
    cdef f8 delta = va_a - va_b
    cdef f8 c = cos(delta)
    cdef f8 s = sin(delta)
    cdef f8 A = g * c + b * s
    cdef f8 D = -g * s + b * c
    cdef f8 w = vm_a * vm_b
    p[0] = G * vm_a * vm_a + w * A
    q[0] = -B * vm_a * vm_a - w * D
    dp[0] = w * D
    dp[1] = -w * D
    dp[2] = 2.0 * G * vm_a + vm_b * A
    dp[3] = vm_a * A
    dq[0] = w * A
    dq[1] = -w * A
    dq[2] = -2.0 * B * vm_a - vm_b * D
    dq[3] = -vm_a * D
    A_out[0] = A
    D_out[0] = D


cdef inline void _end_hessians(
    f8 vm_a, f8 vm_b, f8 G, f8 B, f8 A, f8 D, f8* hp, f8* hq,
) noexcept nogil:
    """Second derivatives of p and q in lower-triangle pair order."""
    cdef f8 w = vm_a * vm_b
    # p
    hp[0] = -w * A          # (0,0)
    hp[1] = w * A           # (1,0)
    hp[2] = -w * A          # (1,1)
    hp[3] = vm_b * D        # (2,0)
    hp[4] = -vm_b * D       # (2,1)
    hp[5] = 2.0 * G         # (2,2)
    hp[6] = vm_a * D        # (3,0)
    hp[7] = -vm_a * D       # (3,1)
    hp[8] = A               # (3,2)
    hp[9] = 0.0             # (3,3)
    # q
    hq[0] = w * D
    hq[1] = -w * D
    hq[2] = w * D
    hq[3] = vm_b * A
    hq[4] = -vm_b * A
    hq[5] = -2.0 * B
    hq[6] = vm_a * A
    hq[7] = -vm_a * A
    hq[8] = -D
    hq[9] = 0.0


cdef class ACKernel:
    """Values, Jacobian and Hessian of the AC-OPF constraints for one network.

    All arrays are copied into contiguous buffers at construction; the object is immutable
    afterwards and safe to share between threads (the methods only write their output arrays).
    """

    cdef readonly int n_bus, n_gen, n_end, n_lim, n_ang, n_var, n_con
    cdef readonly int nnz_jac, nnz_hess
    cdef i8[::1] end_a, end_b, gen_bus, lim_end, ang_f, ang_t, lim_of_end
    cdef f8[::1] G, B, g, b, pd, qd, gs, bs
    cdef i8[:, ::1] jpos_p, jpos_q, jpos_lim, hpos_end
    cdef i8[::1] jpos_shunt_p, jpos_shunt_q, hpos_vm, hpos_pg
    cdef f8[::1] jac_const

    def __init__(
        self, int n_bus, int n_gen,
        end_a, end_b, G, B, g, b,
        pd, qd, gs, bs, gen_bus, lim_end, ang_f, ang_t,
        jpos_p, jpos_q, jpos_shunt_p, jpos_shunt_q, jpos_lim, jac_const,
        hpos_end, hpos_vm, hpos_pg, int nnz_hess,
    ):
        self.n_bus = n_bus
        self.n_gen = n_gen
        self.end_a = np.array(end_a, dtype=np.int64, order="C", copy=True)
        self.end_b = np.array(end_b, dtype=np.int64, order="C", copy=True)
        self.G = np.array(G, dtype=np.float64, order="C", copy=True)
        self.B = np.array(B, dtype=np.float64, order="C", copy=True)
        self.g = np.array(g, dtype=np.float64, order="C", copy=True)
        self.b = np.array(b, dtype=np.float64, order="C", copy=True)
        self.pd = np.array(pd, dtype=np.float64, order="C", copy=True)
        self.qd = np.array(qd, dtype=np.float64, order="C", copy=True)
        self.gs = np.array(gs, dtype=np.float64, order="C", copy=True)
        self.bs = np.array(bs, dtype=np.float64, order="C", copy=True)
        self.gen_bus = np.array(gen_bus, dtype=np.int64, order="C", copy=True)
        self.lim_end = np.array(lim_end, dtype=np.int64, order="C", copy=True)
        self.ang_f = np.array(ang_f, dtype=np.int64, order="C", copy=True)
        self.ang_t = np.array(ang_t, dtype=np.int64, order="C", copy=True)
        self.jpos_p = np.array(jpos_p, dtype=np.int64, order="C", copy=True)
        self.jpos_q = np.array(jpos_q, dtype=np.int64, order="C", copy=True)
        self.jpos_shunt_p = np.array(jpos_shunt_p, dtype=np.int64, order="C", copy=True)
        self.jpos_shunt_q = np.array(jpos_shunt_q, dtype=np.int64, order="C", copy=True)
        self.jpos_lim = np.array(jpos_lim, dtype=np.int64, order="C", copy=True)
        self.jac_const = np.array(jac_const, dtype=np.float64, order="C", copy=True)
        self.hpos_end = np.array(hpos_end, dtype=np.int64, order="C", copy=True)
        self.hpos_vm = np.array(hpos_vm, dtype=np.int64, order="C", copy=True)
        self.hpos_pg = np.array(hpos_pg, dtype=np.int64, order="C", copy=True)
        self.n_end = self.end_a.shape[0]
        self.n_lim = self.lim_end.shape[0]
        self.n_ang = self.ang_f.shape[0]
        self.n_var = 2 * n_bus + 2 * n_gen
        self.n_con = 2 * n_bus + self.n_lim + self.n_ang
        self.nnz_jac = self.jac_const.shape[0]
        self.nnz_hess = nnz_hess
        lim_of_end = np.full(self.n_end, -1, dtype=np.int64)
        lim_of_end[np.asarray(self.lim_end)] = np.arange(self.n_lim)
        self.lim_of_end = lim_of_end

    def flows(self, const f8[::1] x, f8[::1] p_out, f8[::1] q_out):
        """Active and reactive power entering each branch end (per unit)."""
        cdef int e, a, bb
        cdef int nb = self.n_bus
        cdef f8 p, q, A, D
        cdef f8 dp[4]
        cdef f8 dq[4]
        with nogil:
            for e in range(self.n_end):
                a = self.end_a[e]
                bb = self.end_b[e]
                _end_values(x[a], x[bb], x[nb + a], x[nb + bb], self.G[e], self.B[e],
                            self.g[e], self.b[e], &p, &q, dp, dq, &A, &D)
                p_out[e] = p
                q_out[e] = q

    def constraints(self, const f8[::1] x, f8[::1] out):
        """Constraint values ``g(x)`` in the documented row layout."""
        cdef int i, e, k, a, bb
        cdef int nb = self.n_bus
        cdef int ng = self.n_gen
        cdef int pg0 = 2 * nb
        cdef int qg0 = 2 * nb + ng
        cdef f8 p, q, A, D, vm
        cdef f8 dp[4]
        cdef f8 dq[4]
        cdef f8[::1] pe = np.empty(self.n_end)
        cdef f8[::1] qe = np.empty(self.n_end)
        with nogil:
            for i in range(nb):
                vm = x[nb + i]
                out[i] = -self.pd[i] - self.gs[i] * vm * vm
                out[nb + i] = -self.qd[i] + self.bs[i] * vm * vm
            for k in range(ng):
                i = self.gen_bus[k]
                out[i] += x[pg0 + k]
                out[nb + i] += x[qg0 + k]
            for e in range(self.n_end):
                a = self.end_a[e]
                bb = self.end_b[e]
                _end_values(x[a], x[bb], x[nb + a], x[nb + bb], self.G[e], self.B[e],
                            self.g[e], self.b[e], &p, &q, dp, dq, &A, &D)
                pe[e] = p
                qe[e] = q
                out[a] -= p
                out[nb + a] -= q
            for k in range(self.n_lim):
                e = self.lim_end[k]
                out[2 * nb + k] = pe[e] * pe[e] + qe[e] * qe[e]
            for k in range(self.n_ang):
                out[2 * nb + self.n_lim + k] = x[self.ang_f[k]] - x[self.ang_t[k]]

    def jacobian(self, const f8[::1] x, f8[::1] vals):
        """Jacobian values in the fixed sparsity pattern (duplicates merged)."""
        cdef int i, e, k, j, a, bb
        cdef int nb = self.n_bus
        cdef f8 p, q, A, D, vm
        cdef f8 dp[4]
        cdef f8 dq[4]
        cdef i8[::1] lim_of_end = self.lim_of_end
        with nogil:
            vals[:] = self.jac_const
            for i in range(nb):
                vm = x[nb + i]
                vals[self.jpos_shunt_p[i]] -= 2.0 * self.gs[i] * vm
                vals[self.jpos_shunt_q[i]] += 2.0 * self.bs[i] * vm
            for e in range(self.n_end):
                a = self.end_a[e]
                bb = self.end_b[e]
                _end_values(x[a], x[bb], x[nb + a], x[nb + bb], self.G[e], self.B[e],
                            self.g[e], self.b[e], &p, &q, dp, dq, &A, &D)
                for j in range(4):
                    vals[self.jpos_p[e, j]] -= dp[j]
                    vals[self.jpos_q[e, j]] -= dq[j]
                k = lim_of_end[e]
                if k >= 0:
                    for j in range(4):
                        vals[self.jpos_lim[k, j]] += 2.0 * (p * dp[j] + q * dq[j])

    def hessian(self, const f8[::1] x, const f8[::1] lam, f8 obj_factor,
                const f8[::1] obj_vm_diag, const f8[::1] obj_pg_diag, f8[::1] vals):
        """Lower-triangle values of the Hessian of the Lagrangian.

        ``obj_vm_diag`` and ``obj_pg_diag`` hold the (constant) diagonal second derivatives of
        the objective with respect to ``vm`` and ``pg``; they are scaled by ``obj_factor``.
        """
        cdef int i, e, k, j, a, bb
        cdef int nb = self.n_bus
        cdef f8 p, q, A, D, vm, sp, sq, mu
        cdef f8 dp[4]
        cdef f8 dq[4]
        cdef f8 hp[10]
        cdef f8 hq[10]
        cdef i8[::1] lim_of_end = self.lim_of_end
        with nogil:
            vals[:] = 0.0
            for i in range(nb):
                vals[self.hpos_vm[i]] += (
                    -2.0 * self.gs[i] * lam[i] + 2.0 * self.bs[i] * lam[nb + i]
                    + obj_factor * obj_vm_diag[i]
                )
            for k in range(self.n_gen):
                vals[self.hpos_pg[k]] += obj_factor * obj_pg_diag[k]
            for e in range(self.n_end):
                a = self.end_a[e]
                bb = self.end_b[e]
                _end_values(x[a], x[bb], x[nb + a], x[nb + bb], self.G[e], self.B[e],
                            self.g[e], self.b[e], &p, &q, dp, dq, &A, &D)
                _end_hessians(x[nb + a], x[nb + bb], self.G[e], self.B[e], A, D, hp, hq)
                sp = -lam[a]
                sq = -lam[nb + a]
                k = lim_of_end[e]
                if k >= 0:
                    mu = lam[2 * nb + k]
                    sp = sp + 2.0 * mu * p
                    sq = sq + 2.0 * mu * q
                    for j in range(10):
                        vals[self.hpos_end[e, j]] += 2.0 * mu * (
                            dp[PAIR_I[j]] * dp[PAIR_J[j]] + dq[PAIR_I[j]] * dq[PAIR_J[j]]
                        )
                for j in range(10):
                    vals[self.hpos_end[e, j]] += sp * hp[j] + sq * hq[j]
