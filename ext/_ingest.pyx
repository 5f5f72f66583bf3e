# cython: language_level=3
"""Per-meter kernels of smart-meter ingestion (called from ``gridopt.ingest.regularise``).

Grids are ``(n_meter, n_time)`` C-ordered arrays, so one meter's series is contiguous. Rows are
the input readings after parsing: ``meter[r]`` (meter index), ``tidx[r]`` (grid interval index)
and ``status[r]`` (0 = still clean; the kernels write the codes below). All loops run without
the GIL; no Python object is touched inside them.

Row status codes written here (the Python layer owns the full list of quarantine reasons):

==  =========================
0   clean (placed on the grid)
1   exact duplicate, collapsed
2   conflicting duplicate
3   outlier
==  =========================
"""

from libc.math cimport NAN, floor, isnan, log10, pow
from libc.stdlib cimport free, malloc, qsort

import numpy as np

cimport numpy as cnp

cnp.import_array()

ctypedef cnp.float64_t f8
ctypedef cnp.int64_t i8
ctypedef cnp.int32_t i4
ctypedef cnp.int8_t i1
ctypedef cnp.uint8_t u1

cdef i1 ROW_CLEAN = 0
cdef i1 ROW_DUPLICATE = 1
cdef i1 ROW_CONFLICT = 2
cdef i1 ROW_OUTLIER = 3

cdef i1 Q_MEASURED = 0
cdef i1 Q_FILLED = 1
cdef i1 Q_MISSING = 2
cdef i1 Q_RESET = 3

cdef i1 EVENT_NONE = 0
cdef i1 EVENT_ROLLOVER = 1
cdef i1 EVENT_RESET = 2


cdef inline bint _same(f8 a, f8 b) noexcept nogil:
    return a == b or (isnan(a) and isnan(b))


def place_readings(
    const i4[::1] meter,
    const i8[::1] tidx,
    const f8[::1] cons,
    const f8[::1] prod,
    i1[::1] status,
    f8[:, ::1] cons_grid,
    f8[:, ::1] prod_grid,
):
    """Scatter clean rows onto the grid; classify repeated cells as duplicates or conflicts.

    Pass 1 writes the first reading of each cell and compares every later reading of the cell
    with it (NaN equals NaN): equal -> ``1`` (collapsed duplicate), different -> ``2`` and the
    cell is marked conflicting. Pass 2 moves every row of a conflicting cell, the first one
    included, to ``2`` and empties the cell (NaN): no reading of the cell is trusted.

    Returns the first row placed in each cell (``-1`` where none), shape of the grids.
    """
    cdef Py_ssize_t n = meter.shape[0]
    cdef Py_ssize_t n_meter = cons_grid.shape[0]
    cdef Py_ssize_t n_time = cons_grid.shape[1]
    first_arr = np.full((n_meter, n_time), -1, dtype=np.int64)
    conflict_arr = np.zeros((n_meter, n_time), dtype=np.uint8)
    cdef i8[:, ::1] first = first_arr
    cdef u1[:, ::1] conflict = conflict_arr
    cdef Py_ssize_t r, m, t
    cdef i8 f
    with nogil:
        for r in range(n):
            if status[r] != ROW_CLEAN:
                continue
            m = meter[r]
            t = tidx[r]
            f = first[m, t]
            if f < 0:
                first[m, t] = r
                cons_grid[m, t] = cons[r]
                prod_grid[m, t] = prod[r]
            elif _same(cons[r], cons[f]) and _same(prod[r], prod[f]):
                status[r] = ROW_DUPLICATE
            else:
                status[r] = ROW_CONFLICT
                conflict[m, t] = 1
        for r in range(n):
            if status[r] != ROW_CLEAN and status[r] != ROW_DUPLICATE:
                continue
            m = meter[r]
            t = tidx[r]
            if conflict[m, t]:
                status[r] = ROW_CONFLICT
                cons_grid[m, t] = NAN
                prod_grid[m, t] = NAN
    return first_arr


cdef f8 _select(f8* a, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """k-th smallest of a[0:n] (Hoare quickselect, median-of-three pivot); reorders a."""
    cdef Py_ssize_t lo = 0, hi = n - 1, i, j, mid
    cdef f8 pivot, tmp
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if a[mid] < a[lo]:
            tmp = a[mid]; a[mid] = a[lo]; a[lo] = tmp
        if a[hi] < a[lo]:
            tmp = a[hi]; a[hi] = a[lo]; a[lo] = tmp
        if a[hi] < a[mid]:
            tmp = a[hi]; a[hi] = a[mid]; a[mid] = tmp
        pivot = a[mid]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]; a[i] = a[j]; a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


def positive_quantile(const f8[:, ::1] grid, double q, Py_ssize_t min_count):
    """Per meter (row), the ``q`` quantile (lower nearest rank) of the positive finite values.

    Meters with fewer than ``min_count`` positive values get NaN (no outlier test for them).
    """
    cdef Py_ssize_t n_meter = grid.shape[0]
    cdef Py_ssize_t n_time = grid.shape[1]
    out_arr = np.full(n_meter, np.nan)
    cdef f8[::1] out = out_arr
    cdef f8* buf
    cdef Py_ssize_t m, t, k
    cdef f8 v
    if n_time == 0:
        return out_arr
    buf = <f8*> malloc(n_time * sizeof(f8))
    if buf == NULL:
        raise MemoryError()
    try:
        with nogil:
            for m in range(n_meter):
                k = 0
                for t in range(n_time):
                    v = grid[m, t]
                    if v > 0.0:
                        buf[k] = v
                        k += 1
                if k >= min_count and k > 0:
                    out[m] = _select(buf, k, <Py_ssize_t> floor(q * (k - 1)))
    finally:
        free(buf)
    return out_arr


def mark_outliers(
    const i4[::1] meter,
    const i8[::1] tidx,
    const f8[::1] cons,
    const f8[::1] prod,
    i1[::1] status,
    const f8[::1] cons_limit,
    const f8[::1] prod_limit,
    f8[:, ::1] cons_grid,
    f8[:, ::1] prod_grid,
):
    """Move placed rows (and their collapsed duplicates) above the meter's limit to ``3``.

    A NaN limit means no test. The cell of an outlier is emptied (NaN).
    """
    cdef Py_ssize_t n = meter.shape[0]
    cdef Py_ssize_t r, m, t
    with nogil:
        for r in range(n):
            if status[r] != ROW_CLEAN and status[r] != ROW_DUPLICATE:
                continue
            m = meter[r]
            if cons[r] > cons_limit[m] or prod[r] > prod_limit[m]:
                status[r] = ROW_OUTLIER
                t = tidx[r]
                cons_grid[m, t] = NAN
                prod_grid[m, t] = NAN


def missing_runs(const i1[:, ::1] quality, i1 code):
    """Runs of ``quality == code`` per meter: arrays ``(meter, start, length)`` in grid order."""
    cdef Py_ssize_t n_meter = quality.shape[0]
    cdef Py_ssize_t n_time = quality.shape[1]
    cdef Py_ssize_t m, t, n_runs = 0, k = 0, start
    with nogil:
        for m in range(n_meter):
            for t in range(n_time):
                if quality[m, t] == code and (t == 0 or quality[m, t - 1] != code):
                    n_runs += 1
    meter_arr = np.empty(n_runs, dtype=np.int64)
    start_arr = np.empty(n_runs, dtype=np.int64)
    length_arr = np.empty(n_runs, dtype=np.int64)
    cdef i8[::1] out_m = meter_arr
    cdef i8[::1] out_s = start_arr
    cdef i8[::1] out_l = length_arr
    with nogil:
        for m in range(n_meter):
            t = 0
            while t < n_time:
                if quality[m, t] == code:
                    start = t
                    while t < n_time and quality[m, t] == code:
                        t += 1
                    out_m[k] = m
                    out_s[k] = start
                    out_l[k] = t - start
                    k += 1
                else:
                    t += 1
    return meter_arr, start_arr, length_arr


def fill_linear(f8[:, ::1] grid, const i1[:, ::1] quality, Py_ssize_t max_gap):
    """Fill interior runs of missing cells (quality 2) of at most ``max_gap`` steps linearly.

    A run is filled only when both neighbours are finite; values are interpolated between them.
    Returns a uint8 mask of the cells filled.
    """
    cdef Py_ssize_t n_meter = grid.shape[0]
    cdef Py_ssize_t n_time = grid.shape[1]
    filled_arr = np.zeros((n_meter, n_time), dtype=np.uint8)
    cdef u1[:, ::1] filled = filled_arr
    cdef Py_ssize_t m, t, start, end, j
    cdef f8 left, right, w
    with nogil:
        for m in range(n_meter):
            t = 0
            while t < n_time:
                if quality[m, t] != Q_MISSING:
                    t += 1
                    continue
                start = t
                while t < n_time and quality[m, t] == Q_MISSING:
                    t += 1
                end = t  # first index after the run
                if start == 0 or end == n_time or end - start > max_gap:
                    continue
                left = grid[m, start - 1]
                right = grid[m, end]
                if isnan(left) or isnan(right):
                    continue
                for j in range(start, end):
                    w = <f8> (j - start + 1) / <f8> (end - start + 1)
                    grid[m, j] = left + w * (right - left)
                    filled[m, j] = 1
    return filled_arr


def diff_registers(
    const f8[:, ::1] register,
    double modulus,
    double rollover_fraction,
):
    """Interval energy from cumulative register readings at the grid instants.

    ``energy[m, t] = register[m, t + 1] - register[m, t]`` when both are finite and the register
    did not decrease. A decrease is a *rollover* when the counter wrapped at ``M`` (``modulus``,
    or, when ``modulus`` is NaN, the power of ten just above the previous reading:
    ``10 ** (floor(log10(prev)) + 1)``) and the wrapped step ``curr + M - prev`` is at most
    ``rollover_fraction * M``; the energy is then that wrapped step. Any other decrease is a
    *reset* (meter replaced or cleared): the interval's energy is unknown (NaN, quality 3).

    Returns ``(energy, quality, event)`` of shape ``(n_meter, n_time - 1)``; ``event`` is 0
    none, 1 rollover, 2 reset.
    """
    cdef Py_ssize_t n_meter = register.shape[0]
    cdef Py_ssize_t n_time = register.shape[1]
    cdef Py_ssize_t n_int = n_time - 1 if n_time > 0 else 0
    energy_arr = np.full((n_meter, n_int), np.nan)
    quality_arr = np.full((n_meter, n_int), Q_MISSING, dtype=np.int8)
    event_arr = np.zeros((n_meter, n_int), dtype=np.int8)
    cdef f8[:, ::1] energy = energy_arr
    cdef i1[:, ::1] quality = quality_arr
    cdef i1[:, ::1] event = event_arr
    cdef Py_ssize_t m, t
    cdef f8 prev, curr, big_m, wrapped
    with nogil:
        for m in range(n_meter):
            for t in range(n_int):
                prev = register[m, t]
                curr = register[m, t + 1]
                if isnan(prev) or isnan(curr):
                    continue
                if curr >= prev:
                    energy[m, t] = curr - prev
                    quality[m, t] = Q_MEASURED
                    continue
                if isnan(modulus):
                    big_m = pow(10.0, floor(log10(prev)) + 1.0) if prev >= 1.0 else 1.0
                else:
                    big_m = modulus
                wrapped = curr + big_m - prev
                if wrapped >= 0.0 and wrapped <= rollover_fraction * big_m:
                    energy[m, t] = wrapped
                    quality[m, t] = Q_MEASURED
                    event[m, t] = EVENT_ROLLOVER
                else:
                    quality[m, t] = Q_RESET
                    event[m, t] = EVENT_RESET
    return energy_arr, quality_arr, event_arr


cdef int _cmp_i8(const void* a, const void* b) noexcept nogil:
    cdef i8 x = (<const i8*> a)[0]
    cdef i8 y = (<const i8*> b)[0]
    return (x > y) - (x < y)


def meter_intervals(
    const i4[::1] meter,
    const i8[::1] instant_ns,
    Py_ssize_t n_meter,
):
    """Interval statistics of each meter from its own sorted, distinct instants.

    ``meter[r]`` is the meter of row ``r`` (``-1``: row not used) and ``instant_ns[r]`` its UTC
    instant in nanoseconds. The rows may be in any order: each meter's instants are gathered
    (counting sort by meter), sorted and de-duplicated, so the result does not depend on the
    order of the file. The positive steps between consecutive distinct instants are counted;
    the most common one is the *mode* (ties: the smaller step). The meter's *interval* is the
    smallest step that divides the mode and occurs at least ``max(2, steps // 10)`` times, else
    the mode: a 30-minute meter with every other reading missing has a mode of 60 minutes but
    many 30-minute steps, while a few jittered timestamps (steps of seconds) are too rare to
    count.

    Returns ``(instants, interval_ns, interval_support, steps, mode_ns)`` per meter: number of
    distinct instants, the interval (0 with fewer than two instants), how many steps equal it,
    how many steps there are (``instants - 1``) and the mode.
    """
    cdef Py_ssize_t n = meter.shape[0]
    counts_arr = np.zeros(n_meter + 1, dtype=np.int64)
    cdef i8[::1] start = counts_arr
    instants_arr = np.zeros(n_meter, dtype=np.int64)
    step_arr = np.zeros(n_meter, dtype=np.int64)
    support_arr = np.zeros(n_meter, dtype=np.int64)
    steps_arr = np.zeros(n_meter, dtype=np.int64)
    mode_arr = np.zeros(n_meter, dtype=np.int64)
    cdef i8[::1] instants = instants_arr
    cdef i8[::1] step = step_arr
    cdef i8[::1] support = support_arr
    cdef i8[::1] steps = steps_arr
    cdef i8[::1] mode = mode_arr
    cdef Py_ssize_t r, m, k, lo, hi, u, j, run, best_run, need
    cdef i8 total = 0, best, value
    cdef i8* buf
    cdef i8* fill
    for r in range(n):
        m = meter[r]
        if m >= 0:
            start[m + 1] += 1
    for m in range(n_meter):
        start[m + 1] += start[m]
    total = start[n_meter]
    buf = <i8*> malloc((total + 1) * sizeof(i8))
    fill = <i8*> malloc((n_meter + 1) * sizeof(i8))
    if buf == NULL or fill == NULL:
        free(buf)
        free(fill)
        raise MemoryError()
    try:
        with nogil:
            for m in range(n_meter):
                fill[m] = start[m]
            for r in range(n):
                m = meter[r]
                if m >= 0:
                    buf[fill[m]] = instant_ns[r]
                    fill[m] += 1
            for m in range(n_meter):
                lo = start[m]
                hi = start[m + 1]
                if hi - lo == 0:
                    continue
                qsort(&buf[lo], hi - lo, sizeof(i8), _cmp_i8)
                # distinct instants, in place
                u = lo
                for j in range(lo + 1, hi):
                    if buf[j] != buf[u]:
                        u += 1
                        buf[u] = buf[j]
                k = u - lo + 1
                instants[m] = k
                if k < 2:
                    continue
                # steps between consecutive distinct instants, in place (k - 1 of them)
                for j in range(lo, lo + k - 1):
                    buf[j] = buf[j + 1] - buf[j]
                qsort(&buf[lo], k - 1, sizeof(i8), _cmp_i8)
                best = buf[lo]
                best_run = 0
                run = 0
                value = buf[lo]
                for j in range(lo, lo + k - 1):
                    if buf[j] == value:
                        run += 1
                    else:
                        value = buf[j]
                        run = 1
                    if run > best_run:
                        best_run = run
                        best = value
                mode[m] = best
                step[m] = best
                support[m] = best_run
                steps[m] = k - 1
                # the smallest well-supported step that divides the mode (runs ascending)
                need = (k - 1) // 10
                if need < 2:
                    need = 2
                j = lo
                while j < lo + k - 1 and buf[j] < best:
                    value = buf[j]
                    run = 0
                    while j < lo + k - 1 and buf[j] == value:
                        run += 1
                        j += 1
                    if run >= need and value > 0 and best % value == 0:
                        step[m] = value
                        support[m] = run
                        break
    finally:
        free(buf)
        free(fill)
    return instants_arr, step_arr, support_arr, steps_arr, mode_arr


def aggregate_blocks(
    const f8[:, ::1] fine,
    Py_ssize_t offset,
    Py_ssize_t ratio,
    Py_ssize_t n_coarse,
):
    """Sum ``ratio`` consecutive fine cells into one coarse cell, per meter (row).

    Coarse cell ``t`` covers fine cells ``offset + t * ratio`` to ``offset + (t + 1) * ratio - 1``
    (cells outside the fine grid count as missing). A coarse cell is the exact sum when every
    fine cell is finite, NaN otherwise (its energy is unknown). Returns ``(coarse, complete)``,
    ``complete`` counting the finite fine cells of each coarse cell.
    """
    cdef Py_ssize_t n_meter = fine.shape[0]
    cdef Py_ssize_t n_fine = fine.shape[1]
    coarse_arr = np.full((n_meter, n_coarse), np.nan)
    present_arr = np.zeros((n_meter, n_coarse), dtype=np.int64)
    cdef f8[:, ::1] coarse = coarse_arr
    cdef i8[:, ::1] present = present_arr
    cdef Py_ssize_t m, t, j, f
    cdef f8 acc, v
    cdef i8 ok
    with nogil:
        for m in range(n_meter):
            for t in range(n_coarse):
                acc = 0.0
                ok = 0
                for j in range(ratio):
                    f = offset + t * ratio + j
                    if f < 0 or f >= n_fine:
                        continue
                    v = fine[m, f]
                    if not isnan(v):
                        acc += v
                        ok += 1
                present[m, t] = ok
                if ok == ratio:
                    coarse[m, t] = acc
    return coarse_arr, present_arr
