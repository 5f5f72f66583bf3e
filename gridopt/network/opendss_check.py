"""The AC check in OpenDSS itself: a switch configuration written back into the circuit.

gridopt's balanced net decides which switches are open (``gridopt reconfigure``) or is checked
with pandapower (``gridopt powerflow``); for a model that came from OpenDSS the same
configuration can be solved in OpenDSS, unbalanced, as the truth. :func:`solve_configuration`
recompiles the model, opens and closes the named switch lines (a normally open tie to a dangling
``<bus>_open`` is closed by moving that end onto ``<bus>``, as the conversion reads it), solves
the snapshot with the model's controls and reports losses, source power and the voltage range.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gridopt.errors import InputError
from gridopt.network.opendss_read import compile_circuit, dss_engine


def _set_state(dss: Any, name: str, closed: bool, tie: Mapping[str, str] | None) -> None:
    if not dss.Circuit.SetActiveElement(name) >= 0 or not dss.CktElement.Name():
        raise InputError(f"{name}: no such element in the OpenDSS circuit; give a line name "
                         "as gridopt network --json lists it (e.g. Line.sw7)")
    if tie is not None:
        buses = list(dss.CktElement.BusNames())
        end = next(k for k, b in enumerate(buses) if b.split(".")[0].lower() == tie["dangling"]
                   or b.split(".")[0].lower() == tie["bus"])
        suffix = buses[end][len(buses[end].split(".")[0]):]
        target = (tie["bus"] if closed else tie["dangling"]) + suffix
        dss.Text.Command(f"Edit {name} bus{end + 1}={target}")
        return
    dss.Text.Command(f"{'Close' if closed else 'Open'} {name} 1")


def solve_configuration(path: str | Path, closed: Mapping[str, bool],
                        ties: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """Solve the OpenDSS model at ``path`` with the given switch lines open or closed.

    Parameters
    ----------
    path
        The ``.dss`` file the network was read from.
    closed
        ``{"Line.sw7": True, "Line.sw5": False, ...}``: the lines to close or open.
    ties
        The conversion's normally open ties (``net["opendss"]["ties"]``).

    Returns
    -------
    dict
        ``converged``, ``losses_kw``, ``source_kw``, ``source_kvar``, ``vmin_pu``,
        ``vmax_pu`` (over energised nodes with a voltage base) and ``switched``.
    """
    dss = dss_engine()
    compile_circuit(Path(path).expanduser())
    ties = ties or {}
    for name, state in closed.items():
        _set_state(dss, name, bool(state), ties.get(name))
    dss.Solution.Solve()
    losses = dss.Circuit.Losses()
    total = dss.Circuit.TotalPower()
    vm = np.asarray(dss.Circuit.AllBusMagPu(), dtype=float)
    vm = vm[np.isfinite(vm) & (vm > 0.1)]  # de-energised and base-less nodes left out
    return {
        "converged": bool(dss.Solution.Converged()),
        "losses_kw": float(losses[0]) / 1e3,
        "source_kw": -float(total[0]),
        "source_kvar": -float(total[1]),
        "vmin_pu": float(vm.min()) if len(vm) else float("nan"),
        "vmax_pu": float(vm.max()) if len(vm) else float("nan"),
        "switched": {k: ("closed" if v else "open") for k, v in closed.items()},
    }
