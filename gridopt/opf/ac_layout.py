"""Index layout of the AC-OPF variables and constraints, and the branch sets it uses.

See :mod:`gridopt.opf.ac` for the formulation; ``ext/_acopf.pyx`` for the row layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridopt.network.arrays import Network
from gridopt.network.case import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class ACLayout:
    """Index layout of the AC-OPF variables and constraints of one network."""

    n_bus: int
    n_gen: int
    n_branch: int
    lim_end: IntArray
    ang_branch: IntArray

    @property
    def va(self) -> slice:
        """Voltage angles (rad)."""
        return slice(0, self.n_bus)

    @property
    def vm(self) -> slice:
        """Voltage magnitudes (pu)."""
        return slice(self.n_bus, 2 * self.n_bus)

    @property
    def pg(self) -> slice:
        """Generator active power (pu)."""
        return slice(2 * self.n_bus, 2 * self.n_bus + self.n_gen)

    @property
    def qg(self) -> slice:
        """Generator reactive power (pu)."""
        return slice(2 * self.n_bus + self.n_gen, 2 * self.n_bus + 2 * self.n_gen)

    @property
    def n_var(self) -> int:
        """Number of variables."""
        return 2 * self.n_bus + 2 * self.n_gen

    @property
    def n_con(self) -> int:
        """Number of constraints."""
        return 2 * self.n_bus + len(self.lim_end) + len(self.ang_branch)


def branch_ends(network: Network) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Own bus, other bus, self and mutual admittance of every branch end.

    End ``k`` is the from end of branch ``k`` and end ``n_branch + k`` its to end.
    """
    f, t = network.branch_from, network.branch_to
    end_a = np.concatenate([f, t])
    end_b = np.concatenate([t, f])
    y_self = np.concatenate([network.y_ff, network.y_tt])
    y_mutual = np.concatenate([network.y_ft, network.y_tf])
    return end_a, end_b, y_self, y_mutual


def rated_branches(network: Network) -> IntArray:
    """Branches with a finite apparent-power rating."""
    return np.flatnonzero(np.isfinite(network.rate_a_pu)).astype(np.int64)


def angle_limited_branches(network: Network) -> IntArray:
    """Branches with a finite angle-difference limit."""
    return np.flatnonzero(
        np.isfinite(network.angmin_rad) | np.isfinite(network.angmax_rad)
    ).astype(np.int64)


def unique_positions(
    rows: IntArray, cols: IntArray, n_cols: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Merge duplicate (row, col) entries: unique rows/cols and each entry's position."""
    keys = rows.astype(np.int64) * n_cols + cols.astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique // n_cols, unique % n_cols, inverse.astype(np.int64)
