"""OpenDSS feeder models as gridopt networks, and their check against OpenDSS itself.

:func:`read_opendss` compiles and solves a ``.dss`` model in-process (DSS C-API through
OpenDSSDirect.py, :mod:`gridopt.network.opendss_read`) and converts it into the balanced
pandapower net every other source also becomes (:mod:`gridopt.network.opendss_convert`); the
net keeps OpenDSS's own unbalanced solution in its ``opendss`` entry. After a pandapower power
flow of that net, :func:`compare_with_opendss` states the error of the balanced conversion:
losses, source power and the balanced-equivalent voltage of every bus
(:func:`gridopt.network.opendss_convert.bus_voltage_pu`).

Every element of the net is named after its OpenDSS element (``Line.l115``, ``Load.s1a``,
``Transformer.reg2a|Transformer.reg2b`` for a bank): :func:`opendss_names` maps a row back.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pandapower.auxiliary import pandapowerNet

from gridopt.network.opendss_convert import pandapower_from_circuit, run_powerflow
from gridopt.network.opendss_read import read_circuit

#: Suffixes :func:`gridopt.network.load.load_network` reads as OpenDSS models.
DSS_SUFFIXES = (".dss",)


def read_opendss(path: str | Path) -> pandapowerNet:
    """Compile, solve and convert the OpenDSS model at ``path`` into a pandapower net.

    Raises
    ------
    InputError
        A missing file, a redirect to a missing file or any command OpenDSS rejects (file
        and line as OpenDSS reports them), or a circuit without a Vsource.
    """
    return pandapower_from_circuit(read_circuit(path))


__all__ = ["DSS_SUFFIXES", "compare_with_opendss", "is_opendss_net", "opendss_names",
           "read_opendss", "run_powerflow"]


def is_opendss_net(net: pandapowerNet) -> bool:
    """Whether ``net`` was converted from OpenDSS (it carries the ``opendss`` entry)."""
    return isinstance(net.get("opendss"), dict)


def opendss_names(net: pandapowerNet, table: str, index: int) -> tuple[str, ...]:
    """OpenDSS element name(s) behind row ``index`` of pandapower table ``table``."""
    name = net[table].at[index, "name"]
    return tuple(str(name).split("|")) if isinstance(name, str) and name else ()


def _rel(value: float, ref: float) -> float | None:
    return 100.0 * (value - ref) / abs(ref) if ref else None


def compare_with_opendss(net: pandapowerNet) -> dict[str, Any]:
    """Error of the balanced net's pandapower power flow against OpenDSS's own solution.

    ``net`` must have been converted by :func:`read_opendss` and solved with
    ``pandapower.runpp``. Losses are the sum of line and transformer losses; voltages are
    compared bus by bus on the balanced-equivalent magnitude (positive sequence for
    three-phase buses, phase mean for one- and two-phase buses).

    Returns
    -------
    dict
        ``losses_kw`` / ``source_kw`` / ``source_kvar`` (``gridopt``, ``opendss``, error in
        per cent), ``vm_pu`` (``max_abs_error`` with its ``bus``, ``mean_abs_error``,
        ``buses_compared``), and the approximations the conversion makes.
    """
    info = net["opendss"]
    sol = info["solution"]
    losses_kw = 1e3 * (float(net.res_line.pl_mw.sum()) + float(net.res_trafo.pl_mw.sum()))
    source_kw = 1e3 * float(net.res_ext_grid.p_mw.sum())
    source_kvar = 1e3 * float(net.res_ext_grid.q_mvar.sum())
    errors: list[tuple[float, str]] = []
    ref_vm = sol["bus_vm_pu"]
    for idx, name in net.bus["name"].items():
        ref = ref_vm.get(name)
        vm = float(net.res_bus.at[idx, "vm_pu"])
        if ref is None or not math.isfinite(ref) or not math.isfinite(vm):
            continue
        errors.append((abs(vm - ref), str(name)))
    worst = max(errors) if errors else (math.nan, "")
    return {
        "engine": info["versions"],
        "opendss_converged": sol["converged"],
        "losses_kw": {"gridopt": losses_kw, "opendss": sol["losses_kw"],
                      "error_percent": _rel(losses_kw, sol["losses_kw"])},
        "source_kw": {"gridopt": source_kw, "opendss": sol["source_kw"],
                      "error_percent": _rel(source_kw, sol["source_kw"])},
        "source_kvar": {"gridopt": source_kvar, "opendss": sol["source_kvar"],
                        "error_percent": _rel(source_kvar, sol["source_kvar"])},
        "vm_pu": {
            "max_abs_error": worst[0], "bus": worst[1],
            "mean_abs_error": float(np.mean([e for e, _ in errors])) if errors else math.nan,
            "buses_compared": len(errors),
            "measure": "positive-sequence magnitude (three-phase buses), mean phase magnitude "
                       "(one- and two-phase buses), pu of the OpenDSS voltage base",
        },
        "approximations": list(info["approximations"]),
    }
