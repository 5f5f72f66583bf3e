"""Helpers shared by the CLI subcommands: JSON output, logging set-up and error mapping."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

from gridopt.errors import GridoptError, GridoptWarning
from gridopt.workflows.ingest import QuarantineBudget, json_safe

#: Exit codes (documented in the README).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """``--max-quarantine`` and ``--max-meter-quarantine`` (the quarantine budget of readings)."""
    default = QuarantineBudget()
    p.add_argument("--max-quarantine", type=float, default=default.max_file_fraction,
                   metavar="FRACTION",
                   help="largest share of the readings file's rows that may be quarantined "
                        f"before the command refuses the file (exit 2); default "
                        f"{default.max_file_fraction}")
    p.add_argument("--max-meter-quarantine", type=float, default=default.max_meter_fraction,
                   metavar="FRACTION",
                   help="largest share of any one meter's rows that may be quarantined; "
                        f"default {default.max_meter_fraction}")


def budget_from_args(args: argparse.Namespace) -> QuarantineBudget:
    """The quarantine budget given by :func:`add_budget_args` options."""
    return QuarantineBudget(max_file_fraction=args.max_quarantine,
                            max_meter_fraction=args.max_meter_quarantine)


def emit_json(obj: dict[str, Any]) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(json_safe(obj), sort_keys=False) + "\n")
    sys.stdout.flush()


def configure_logging(verbosity: int, quiet_for_json: bool = False) -> None:
    """Log to stderr; ``-v`` for INFO, ``-vv`` for DEBUG. With ``--json`` only warnings.

    A :class:`GridoptWarning` is logged where it is issued, so the CLI does not print it a second
    time, unless ``-W`` or ``PYTHONWARNINGS`` says what to do with warnings.
    """
    if not sys.warnoptions:
        warnings.simplefilter("ignore", GridoptWarning)
    level = logging.WARNING
    if verbosity == 1 and not quiet_for_json:
        level = logging.INFO
    elif verbosity >= 2:
        level = logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )


def run_guarded(func: Callable[[], int], json_mode: bool, context: dict[str, Any]) -> int:
    """Run a subcommand body and turn gridopt errors into exit codes and messages.

    Bad input exits with 2, infeasible or failed solves with 3, unexpected errors with 1. In JSON
    mode the error is reported as one JSON object (``status: "error"`` and ``error``) on stdout.
    """
    try:
        return func()
    except GridoptError as exc:
        code = exc.exit_code
        kind = type(exc).__name__
        message = str(exc)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:
        logging.getLogger("gridopt").debug("internal error", exc_info=True)
        code, kind, message = EXIT_INTERNAL, type(exc).__name__, f"internal error: {exc}"
    sys.stderr.write(f"gridopt: error: {message}\n")
    if json_mode:
        status = "error" if code != EXIT_INFEASIBLE else "infeasible"
        emit_json({**context, "status": status, "error": kind, "message": message})
    return code
