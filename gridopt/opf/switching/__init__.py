"""Loss-minimising network reconfiguration (switching) of pandapower networks.

See :func:`reconfigure` and ``docs/reconfiguration.md``.
"""

from gridopt.opf.switching.core import (
    ReconfigurationResult,
    ReconfigureOptions,
    branch_exchange_heuristic,
    reconfigure,
)
from gridopt.opf.switching.milp import MilpOptions
from gridopt.opf.switching.topology import SwitchableSpec, build_switching_graph, is_radial

__all__ = [
    "MilpOptions",
    "ReconfigurationResult",
    "ReconfigureOptions",
    "SwitchableSpec",
    "branch_exchange_heuristic",
    "build_switching_graph",
    "is_radial",
    "reconfigure",
]
