"""What a planner checks after importing a network: ``gridopt network`` and ``gridopt powerflow``.

:func:`network_report` counts what the loaded network holds (buses, lines, transformers,
loads, generation, switches and ties, total load, voltage levels), finds its islands and names
anything gridopt did not convert. :func:`powerflow_report` runs pandapower's AC power flow on
the network as loaded and reports convergence, losses, source power, the voltage extremes with
their buses and the most loaded branch; for a model read from OpenDSS it adds the error of the
balanced conversion against OpenDSS's own unbalanced solution
(:func:`gridopt.network.opendss.compare_with_opendss`).

Both take any network spec :func:`gridopt.network.load.load_network` accepts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import InputError
from gridopt.network.load import LoadedNetwork, load_network
from gridopt.network.opendss import compare_with_opendss, is_opendss_net, run_powerflow
from gridopt.network.opendss_check import solve_configuration

#: Islands listed by name at most (the count is always complete).
MAX_NAMED = 20


def _in_service(df: Any) -> Any:
    return df[df["in_service"].astype(bool)] if "in_service" in df.columns else df


def _bus_label(net: pandapowerNet, idx: int) -> str:
    name = net.bus.at[idx, "name"]
    return str(name) if isinstance(name, str) and name else f"bus {idx}"


def _islands(net: pandapowerNet) -> dict[str, Any]:
    """Connected parts under the switch states as given; those without a source are named."""
    graph = top.create_nxgraph(net, respect_switches=True, include_out_of_service=False)
    sources = set(_in_service(net.ext_grid).bus) | set(
        _in_service(net.gen).bus if len(net.gen) else [])
    parts = [sorted(c) for c in nx.connected_components(graph)]
    unsupplied = [p for p in parts if not sources.intersection(p)]
    return {
        "count": len(parts),
        "unsupplied": len(unsupplied),
        "unsupplied_buses": [
            [_bus_label(net, b) for b in part[:MAX_NAMED]] for part in unsupplied[:MAX_NAMED]
        ],
    }


def _switches(net: pandapowerNet) -> dict[str, Any]:
    sw = net.switch
    closed = sw["closed"].astype(bool) if len(sw) else sw.get("closed", [])
    return {
        "count": len(sw),
        "closed": int(np.sum(closed)) if len(sw) else 0,
        "ties": int(len(sw) - np.sum(closed)) if len(sw) else 0,
        "tie_names": [str(n) for n in sw.loc[~closed, "name"]] if len(sw) else [],
        "by_kind": dict(Counter(str(k) for k in sw["et"])) if len(sw) else {},
    }


def network_report(spec: Any) -> dict[str, Any]:
    """Counts, totals, voltage levels, islands and unsupported parts of a network.

    Parameters
    ----------
    spec
        Anything :func:`gridopt.network.load.load_network` accepts.

    Returns
    -------
    dict
        JSON-ready summary (keys: ``network``, ``source_kind``, ``counts``, ``switches``,
        ``total_load_mw``, ``total_load_mvar``, ``voltage_levels_kv``, ``islands``,
        ``unsupported``, and for OpenDSS models ``opendss``).
    """
    loaded = load_network(spec)
    return _network_report(loaded)


def _network_report(loaded: LoadedNetwork) -> dict[str, Any]:
    net = loaded.pandapower_net()
    loads = _in_service(net.load)
    levels = Counter(round(float(v), 4) for v in _in_service(net.bus).vn_kv)
    out: dict[str, Any] = {
        "network": loaded.name,
        "spec": loaded.spec,
        "source_kind": loaded.source_kind.value,
        "counts": {
            "buses": len(_in_service(net.bus)),
            "lines": len(_in_service(net.line)),
            "transformers": int(len(_in_service(net.trafo)) + len(_in_service(net.trafo3w))),
            "loads": len(loads),
            "ext_grids": len(_in_service(net.ext_grid)),
            "generators": len(_in_service(net.gen)),
            "static_generators": len(_in_service(net.sgen)),
            "storage": len(_in_service(net.storage)),
            "shunts": len(_in_service(net.shunt)),
            "switches": len(net.switch),
            "out_of_service": int(sum(
                len(net[t]) - len(_in_service(net[t]))
                for t in ("bus", "line", "trafo", "load", "sgen", "gen", "storage", "shunt"))),
        },
        "switches": _switches(net),
        "total_load_mw": float((loads.p_mw * loads.scaling).sum()) if len(loads) else 0.0,
        "total_load_mvar": float((loads.q_mvar * loads.scaling).sum()) if len(loads) else 0.0,
        "total_generation_mw": float(_in_service(net.sgen).p_mw.sum()
                                     + _in_service(net.gen).p_mw.sum()),
        "voltage_levels_kv": [{"vn_kv": kv, "buses": n} for kv, n in sorted(levels.items())],
        "islands": _islands(net),
        "unsupported": [],
    }
    if is_opendss_net(net):
        info = net["opendss"]
        out["unsupported"] = list(info["unsupported"])
        out["opendss"] = {
            "file": info["file"], "circuit": info["circuit"], "engine": info["versions"],
            "approximations": info["approximations"], "notes": info["notes"],
        }
    return out


def _branch_losses_mw(net: pandapowerNet) -> float:
    total = 0.0
    for table in ("res_line", "res_trafo", "res_trafo3w", "res_impedance", "res_dcline"):
        df = net.get(table)
        if df is not None and len(df) and "pl_mw" in df.columns:
            total += float(np.nansum(df["pl_mw"]))
    return total


def _most_loaded(net: pandapowerNet) -> dict[str, Any] | None:
    best: tuple[float, str, str] | None = None
    for table in ("line", "trafo", "trafo3w"):
        res = net.get(f"res_{table}")
        if res is None or not len(res) or "loading_percent" not in res.columns:
            continue
        loading = res["loading_percent"].astype(float)
        if not loading.notna().any():
            continue
        idx = loading.idxmax()
        name = net[table].at[idx, "name"]
        label = str(name) if isinstance(name, str) and name else f"{table} {idx}"
        if best is None or float(loading[idx]) > best[0]:
            best = (float(loading[idx]), table, label)
    if best is None:
        return None
    return {"loading_percent": best[0], "element": best[1], "name": best[2]}


def apply_switching(net: pandapowerNet, closed: Mapping[str, bool]) -> None:
    """Close or open switches (or take lines in/out of service) named in ``closed``.

    A name is looked up among the switches first, then the lines (by pandapower ``name``;
    for OpenDSS models the OpenDSS element name, e.g. ``Line.sw7``).
    """
    for name, state in closed.items():
        sw = net.switch.index[net.switch["name"] == name]
        if len(sw):
            net.switch.loc[sw, "closed"] = bool(state)
            continue
        lines = net.line.index[net.line["name"] == name]
        if len(lines):
            net.line.loc[lines, "in_service"] = bool(state)
            continue
        raise InputError(f"--switch {name}: no switch or line of that name; the names are "
                         "those of `gridopt network --json` (switches: tie_names) or the "
                         "pandapower switch/line names")


def powerflow_report(spec: Any, closed: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """Run pandapower's AC power flow on a network as loaded and summarise it.

    ``closed`` closes (True) or opens (False) switches and lines by name first (a
    reconfiguration's result). For an OpenDSS model the same configuration is then also solved
    in OpenDSS itself, unbalanced (``opendss_ac_check``,
    :func:`gridopt.network.opendss_check.solve_configuration`).

    Returns
    -------
    dict
        ``converged``, ``losses_kw``, ``source_kw`` / ``source_kvar`` (the ext_grids),
        ``vmin_pu`` / ``vmax_pu`` with ``vmin_bus`` / ``vmax_bus``, ``most_loaded_branch``,
        and for OpenDSS models ``opendss_check`` (the error against OpenDSS's solution).
        A power flow that does not converge gives ``converged: false`` and ``message``.
    """
    loaded = load_network(spec)
    net = loaded.pandapower_net()
    closed = dict(closed or {})
    apply_switching(net, closed)
    out: dict[str, Any] = {"network": loaded.name, "spec": loaded.spec,
                           "source_kind": loaded.source_kind.value,
                           "switched": {k: "closed" if v else "open" for k, v in closed.items()}}
    try:
        start = run_powerflow(net) if is_opendss_net(net) else (pp.runpp(net), "flat")[1]
    except Exception as exc:  # LoadflowNotConverged and numerical failures alike
        out.update(converged=False, message=f"pandapower runpp: {type(exc).__name__}: {exc}")
        if is_opendss_net(net):
            out["opendss_notes"] = list(net["opendss"]["notes"])
        return out
    vm = net.res_bus.vm_pu.astype(float)
    vm = vm[np.isfinite(vm)]
    out.update(
        converged=True,
        start=start,
        losses_kw=1e3 * _branch_losses_mw(net),
        source_kw=1e3 * float(net.res_ext_grid.p_mw.sum()),
        source_kvar=1e3 * float(net.res_ext_grid.q_mvar.sum()),
        load_kw=1e3 * float(net.res_load.p_mw.sum()),
        vmin_pu=float(vm.min()) if len(vm) else math.nan,
        vmin_bus=_bus_label(net, int(vm.idxmin())) if len(vm) else "",
        vmax_pu=float(vm.max()) if len(vm) else math.nan,
        vmax_bus=_bus_label(net, int(vm.idxmax())) if len(vm) else "",
        most_loaded_branch=_most_loaded(net),
    )
    if is_opendss_net(net):
        if closed:
            truth = solve_configuration(net["opendss"]["file"], closed, net["opendss"]["ties"])
            truth["losses_error_percent"] = (
                100.0 * (out["losses_kw"] / truth["losses_kw"] - 1.0) if truth["losses_kw"]
                else None)
            out["opendss_ac_check"] = truth
        else:
            out["opendss_check"] = compare_with_opendss(net)
        out["opendss_notes"] = list(net["opendss"]["notes"])
    return out
