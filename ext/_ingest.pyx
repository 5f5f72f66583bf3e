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

from libc.math cimport NAN, floor, isfinite, isnan, log10, pow
from libc.stdlib cimport strtod
from libc.stdlib cimport free, malloc

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


cdef struct StepTable:
    i8* keys
    i8* counts
    i8* used      # slots in use, to clear them per meter
    Py_ssize_t capacity
    Py_ssize_t n_used


cdef int _table_init(StepTable* t, Py_ssize_t capacity) noexcept nogil:
    cdef Py_ssize_t i
    t.capacity = capacity
    t.n_used = 0
    t.keys = <i8*> malloc(capacity * sizeof(i8))
    t.counts = <i8*> malloc(capacity * sizeof(i8))
    t.used = <i8*> malloc(capacity * sizeof(i8))
    if t.keys == NULL or t.counts == NULL or t.used == NULL:
        return -1
    for i in range(capacity):
        t.keys[i] = 0
        t.counts[i] = 0
    return 0


cdef void _table_free(StepTable* t) noexcept nogil:
    free(t.keys)
    free(t.counts)
    free(t.used)


cdef inline Py_ssize_t _slot(StepTable* t, i8 key) noexcept nogil:
    """Slot of ``key`` (> 0), or of the empty slot where it goes (linear probing)."""
    cdef Py_ssize_t mask = t.capacity - 1
    cdef Py_ssize_t i = <Py_ssize_t> ((<unsigned long long> key * 11400714819323198485ULL)
                                      >> 20) & mask
    while t.counts[i] != 0 and t.keys[i] != key:
        i = (i + 1) & mask
    return i


cdef int _table_add(StepTable* t, i8 key) noexcept nogil:
    """Count one step ``key``; grows the table when half full. -1 on allocation failure."""
    cdef Py_ssize_t i, j, old_cap
    cdef i8* old_keys
    cdef i8* old_counts
    cdef i8* old_used
    cdef Py_ssize_t old_n
    if 2 * (t.n_used + 1) > t.capacity:
        old_keys, old_counts, old_used = t.keys, t.counts, t.used
        old_cap, old_n = t.capacity, t.n_used
        if _table_init(t, 2 * old_cap) != 0:
            return -1
        for j in range(old_n):
            i = _slot(t, old_keys[old_used[j]])
            t.keys[i] = old_keys[old_used[j]]
            t.counts[i] = old_counts[old_used[j]]
            t.used[t.n_used] = i
            t.n_used += 1
        free(old_keys)
        free(old_counts)
        free(old_used)
    i = _slot(t, key)
    if t.counts[i] == 0:
        t.keys[i] = key
        t.used[t.n_used] = i
        t.n_used += 1
    t.counts[i] += 1
    return 0


cdef void _table_clear(StepTable* t) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(t.n_used):
        t.counts[t.used[j]] = 0
        t.keys[t.used[j]] = 0
    t.n_used = 0


def meter_intervals(
    const i4[::1] meter,
    const i4[::1] rank,
    const i8[::1] sorted_ns,
    Py_ssize_t n_meter,
):
    """Interval statistics of each meter from its own sorted, distinct instants.

    ``meter[r]`` is the meter of row ``r`` (``-1``: row not used) and ``rank[r]`` the position
    of its instant in ``sorted_ns`` (the file's distinct instants, ascending). The rows may be
    in any order: two counting sorts (by instant, then stably by meter) put each meter's
    instants in time order in O(rows + instants + meters), so the result does not depend on
    the order of the file. The positive steps between a meter's consecutive distinct instants
    are counted in a hash table; the most common one is the *mode* (ties: the smaller step).
    The meter's *interval* is the smallest step that divides the mode and occurs at least
    ``max(2, steps // 10)`` times, else the mode: a 30-minute meter with every other reading
    missing has a mode of 60 minutes but many 30-minute steps, while a few jittered
    timestamps (steps of seconds) are too rare to count.

    Returns ``(instants, interval_ns, interval_support, steps, mode_ns)`` per meter: number of
    distinct instants, the interval (0 with fewer than two instants), how many steps equal it,
    how many steps there are (``instants - 1``) and the mode.
    """
    cdef Py_ssize_t n = meter.shape[0]
    cdef Py_ssize_t n_rank = sorted_ns.shape[0]
    instants_arr = np.zeros(n_meter, dtype=np.int64)
    step_arr = np.zeros(n_meter, dtype=np.int64)
    support_arr = np.zeros(n_meter, dtype=np.int64)
    steps_arr = np.zeros(n_meter, dtype=np.int64)
    mode_arr = np.zeros(n_meter, dtype=np.int64)
    by_rank_start_arr = np.zeros(n_rank + 1, dtype=np.int64)
    meter_start_arr = np.zeros(n_meter + 1, dtype=np.int64)
    cdef i8[::1] instants = instants_arr
    cdef i8[::1] step = step_arr
    cdef i8[::1] support = support_arr
    cdef i8[::1] steps = steps_arr
    cdef i8[::1] mode = mode_arr
    cdef i8[::1] rank_start = by_rank_start_arr
    cdef i8[::1] meter_start = meter_start_arr
    cdef Py_ssize_t r, m, k, j, q, used_rows = 0, need
    cdef i4 prev
    cdef i8 d, best, best_count, key, count, chosen, chosen_count
    cdef i4* meter_by_rank
    cdef i4* ranks
    cdef i8* fill
    cdef StepTable table
    cdef bint failed = 0
    for r in range(n):
        if meter[r] >= 0 and rank[r] >= 0:
            rank_start[rank[r] + 1] += 1
            meter_start[meter[r] + 1] += 1
            used_rows += 1
    for k in range(n_rank):
        rank_start[k + 1] += rank_start[k]
    for m in range(n_meter):
        meter_start[m + 1] += meter_start[m]
    meter_by_rank = <i4*> malloc((used_rows + 1) * sizeof(i4))
    ranks = <i4*> malloc((used_rows + 1) * sizeof(i4))
    fill = <i8*> malloc((max(n_rank, n_meter) + 1) * sizeof(i8))
    if meter_by_rank == NULL or ranks == NULL or fill == NULL or \
            _table_init(&table, 1024) != 0:
        free(meter_by_rank)
        free(ranks)
        free(fill)
        raise MemoryError()
    try:
        with nogil:
            # counting sort 1: the meter of every row, grouped by instant (ascending)
            for k in range(n_rank):
                fill[k] = rank_start[k]
            for r in range(n):
                if meter[r] >= 0 and rank[r] >= 0:
                    meter_by_rank[fill[rank[r]]] = meter[r]
                    fill[rank[r]] += 1
            # counting sort 2 (stable): instants grouped by meter, ascending within a meter
            for m in range(n_meter):
                fill[m] = meter_start[m]
            for k in range(n_rank):
                for q in range(rank_start[k], rank_start[k + 1]):
                    m = meter_by_rank[q]
                    ranks[fill[m]] = <i4> k
                    fill[m] += 1
            for m in range(n_meter):
                k = 0
                prev = -1
                for q in range(meter_start[m], meter_start[m + 1]):
                    if ranks[q] == prev:
                        continue
                    if prev >= 0:
                        d = sorted_ns[ranks[q]] - sorted_ns[prev]
                        if _table_add(&table, d) != 0:
                            failed = 1
                            break
                    prev = ranks[q]
                    k += 1
                instants[m] = k
                if k < 2:
                    _table_clear(&table)
                    continue
                best = 0
                best_count = 0
                for j in range(table.n_used):
                    key = table.keys[table.used[j]]
                    count = table.counts[table.used[j]]
                    if count > best_count or (count == best_count and key < best):
                        best, best_count = key, count
                need = (k - 1) // 10
                if need < 2:
                    need = 2
                chosen, chosen_count = best, best_count
                for j in range(table.n_used):
                    key = table.keys[table.used[j]]
                    count = table.counts[table.used[j]]
                    if key < chosen and count >= need and key > 0 and best % key == 0:
                        chosen, chosen_count = key, count
                mode[m] = best
                step[m] = chosen
                support[m] = chosen_count
                steps[m] = k - 1
                _table_clear(&table)
    finally:
        free(meter_by_rank)
        free(ranks)
        free(fill)
        _table_free(&table)
    if failed:
        raise MemoryError()
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


cdef inline bint _space(u1 c) noexcept nogil:
    return c == 32 or (c >= 9 and c <= 13)


cdef inline bint _digit(u1 c) noexcept nogil:
    return c >= 48 and c <= 57


def parse_decimals(const u1[::1] data, const i8[::1] offsets, const u1[::1] null):
    """Parse text cells as decimal numbers, row by row, never failing on a bad cell.

    Cell ``r`` is ``data[offsets[r]:offsets[r + 1]]`` (an Arrow string array's buffers). A cell
    is a number when it matches ``\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*`` and its value
    is finite; it is converted by ``strtod`` (correctly rounded, as Arrow's own cast). Null
    cells (``null[r]``) give NaN and are not bad. Returns ``(values, bad)``: float64 with NaN
    where there is no number, and uint8 ``1`` where the text is not a finite number.
    """
    cdef Py_ssize_t n = offsets.shape[0] - 1
    values_arr = np.empty(n, dtype=np.float64)
    bad_arr = np.zeros(n, dtype=np.uint8)
    cdef f8[::1] values = values_arr
    cdef u1[::1] bad = bad_arr
    cdef Py_ssize_t r, i, end, lo, hi, k
    cdef bint ok, digits
    cdef char buf[320]
    cdef f8 v
    with nogil:
        for r in range(n):
            if null[r]:
                values[r] = NAN
                continue
            i = offsets[r]
            end = offsets[r + 1]
            while i < end and _space(data[i]):
                i += 1
            while end > i and _space(data[end - 1]):
                end -= 1
            lo = i
            hi = end
            if i < end and (data[i] == 43 or data[i] == 45):  # + -
                i += 1
            digits = 0
            while i < end and _digit(data[i]):
                i += 1
                digits = 1
            if i < end and data[i] == 46:  # .
                i += 1
                while i < end and _digit(data[i]):
                    i += 1
                    digits = 1
            ok = digits
            if ok and i < end and (data[i] == 101 or data[i] == 69):  # e E
                i += 1
                if i < end and (data[i] == 43 or data[i] == 45):
                    i += 1
                ok = i < end and _digit(data[i])
                while i < end and _digit(data[i]):
                    i += 1
            ok = ok and i == end and hi - lo < 319
            if not ok:
                values[r] = NAN
                bad[r] = 1
                continue
            for k in range(hi - lo):
                buf[k] = <char> data[lo + k]
            buf[hi - lo] = 0
            v = strtod(buf, NULL)
            if not isfinite(v):
                values[r] = NAN
                bad[r] = 1
            else:
                values[r] = v
    return values_arr, bad_arr
