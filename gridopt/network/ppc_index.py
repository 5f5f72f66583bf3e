"""Column positions (0-based) of MATPOWER case matrices, which pandapower's ``ppc`` shares.

One module for every reader and writer of these matrices (the MATPOWER reader, the pandapower
converter, the AC check), as MATPOWER's ``idx_bus``/``idx_gen``/``idx_brch`` and pandapower's
``pandapower.pypower.idx_*`` define them.

>>> BR_R, BR_X, RATE_A, TAP
(2, 3, 5, 8)
"""

from __future__ import annotations

# bus matrix
BUS_I, BUS_TYPE, PD, QD, GS, BS, VM, VA, BASE_KV, VMAX, VMIN = 0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12
# gen matrix
GEN_BUS, PG, QG, QMAX, QMIN, VG, GEN_STATUS, PMAX, PMIN = 0, 1, 2, 3, 4, 5, 7, 8, 9
# branch matrix (PF, QF, PT, QT: power-flow results that pandapower appends)
F_BUS, T_BUS, BR_R, BR_X, BR_B, RATE_A, TAP, SHIFT, BR_STATUS, ANGMIN, ANGMAX = (
    0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12,
)
PF, QF, PT, QT = 13, 14, 15, 16
# gencost matrix
MODEL, NCOST, COST = 0, 3, 4
POLYNOMIAL, PIECEWISE_LINEAR = 2, 1
#: pandapower's bus type of a bus its power flow leaves out (``NONE`` in ``idx_bus``).
PPC_BUS_NONE = 4
