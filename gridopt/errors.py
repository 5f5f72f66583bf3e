"""One exception hierarchy for gridopt, and its warning.

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

:class:`GridoptWarning` (through :func:`warn`) marks an assumption gridopt made in place of
missing input, which changes the result and which the user can remove by completing the input
(voltage limits, load models, weather). It is logged and issued with :func:`warnings.warn`,
so library users can filter it or make it an error
(``warnings.simplefilter("error", GridoptWarning)``; the test suite does). Conditions that the
result already reports (an AC check that did not converge, a dispatch that did not settle) are
only logged.
"""

from __future__ import annotations

import logging
import warnings


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
    """gridopt assumed something in place of missing input; the computation goes on."""


def warn(logger: logging.Logger, message: str, *, stacklevel: int = 2) -> None:
    """Log ``message`` at WARNING on ``logger`` and issue it as a :class:`GridoptWarning`.

    The log line reaches the CLI's console and a run's ``run.log``; the warning lets library
    users filter or escalate it. ``stacklevel`` counts from the caller of this function.

    >>> import logging, warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn(logging.getLogger("gridopt.doc"), "net 'x': no voltage limits; using 0..2 pu")
    >>> caught[0].category.__name__, str(caught[0].message)
    ('GridoptWarning', "net 'x': no voltage limits; using 0..2 pu")
    """
    logger.warning(message)
    warnings.warn(message, GridoptWarning, stacklevel=stacklevel + 1)
