"""Loss-minimising network reconfiguration (switching) on the network model.

The algorithm (:func:`reconfigure`) takes a network model and a configuration evaluator; for a
pandapower net use :func:`gridopt.workflows.reconfigure.reconfigure`. See
``docs/reconfiguration.md``.
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
