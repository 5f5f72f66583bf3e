"""HiGHS's thread pool is process-wide: keep every gridopt solve consistent with it.

HiGHS creates one global task scheduler at the first solve in a process and then refuses any
solve whose ``threads`` option differs ("the scheduler has already been initialized to use N
threads"). Different parts of gridopt ask for different counts (single-threaded dispatch and
switching for reproducible timings, HiGHS's automatic choice for one-off OPFs), so a notebook
that runs one after the other would fail. :func:`highs_threads` is called before every solve:
it resets the global scheduler when the requested count differs from the one gridopt set last.

The record below mirrors HiGHS's own process-global state; it is not configuration. Resetting
the scheduler while another thread of the same process is inside a HiGHS solve is unsafe: run
parallel solves in separate processes (as Dask's process-based schedulers do).
"""

from __future__ import annotations

import threading

import highspy

#: HiGHS's ``threads = 0``: let HiGHS choose (half the hardware threads).
AUTOMATIC = 0

_lock = threading.Lock()
_current: list[int] = []  # the thread count gridopt last gave HiGHS's scheduler (0 or 1 entry)


def highs_threads(requested: int | None) -> int:
    """Return the ``threads`` option to pass to HiGHS, resetting its scheduler if needed.

    Parameters
    ----------
    requested
        Threads wanted for the next solve; ``None`` means "whatever the scheduler already
        uses" (HiGHS's automatic choice when gridopt has not solved anything yet).

    Returns
    -------
    int
        The value to set as HiGHS's ``threads`` option.
    """
    with _lock:
        if requested is None:
            return _current[0] if _current else AUTOMATIC
        if not _current or _current[0] != requested:
            highspy.Highs.resetGlobalScheduler(True)
            _current[:] = [requested]
        return requested
