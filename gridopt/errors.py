"""One exception hierarchy for gridopt.

Every message says what is wrong, where (file, row, meter, element) and how to fix it.
The CLI maps the classes to exit codes (see README, "Exit codes"):

==================  =========
exception           exit code
==================  =========
``InputError``      2
``InfeasibleError`` 3
``SolverError``     3
other errors        1
==================  =========
"""

from __future__ import annotations


class GridoptError(Exception):
    """Base class of every error gridopt raises on purpose."""

    exit_code: int = 1


class InputError(GridoptError, ValueError):
    """Bad input: a missing or malformed file, an unknown name, an inconsistent network."""

    exit_code = 2


class QuarantineBudgetError(InputError):
    """More input rows were quarantined than the quarantine budget allows (exit code 2).

    Raised by ingestion instead of returning data. ``report`` (an
    :class:`gridopt.ingest.IngestReport`) and ``quarantine`` (a DataFrame, one row per
    quarantined input row) describe what was found, so that callers can write them.
    """

    def __init__(self, message: str, report: object, quarantine: object) -> None:
        super().__init__(message)
        self.report = report
        self.quarantine = quarantine


class InfeasibleError(GridoptError):
    """The optimisation problem has no feasible point (the solver proved or reported it)."""

    exit_code = 3


class SolverError(GridoptError):
    """A solver failed or did not converge; the message carries the solver's own reason."""

    exit_code = 3


class GridoptWarning(UserWarning):
    """A condition the user should know about that does not stop the computation."""
