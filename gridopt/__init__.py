"""gridopt: smart-meter readings to forecasts, loss-minimising dispatch and AC-checked OPF."""

from gridopt.errors import (
    GridoptError,
    GridoptWarning,
    InfeasibleError,
    InputError,
    SolverError,
)

__version__ = "0.1.0"

__all__ = [
    "GridoptError",
    "GridoptWarning",
    "InfeasibleError",
    "InputError",
    "SolverError",
    "__version__",
]
