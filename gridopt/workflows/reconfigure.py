"""Reconfiguration workflow: load a network and optional profiles, reconfigure, summarise.

Plain functions for the CLI and notebooks. They sequence the stages: the network model and its
switching graph (``network/``, ``opf/switching/topology.py``), the bus demand, the AC evaluator
of :mod:`gridopt.validate.switching`, the algorithm of :mod:`gridopt.opf.switching.core`, and the
write-back of the chosen configuration into a copy of the pandapower net.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import xarray as xr
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import InputError
from gridopt.network.load import load_network
from gridopt.network.model import NetworkModel
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.opf.switching import core
from gridopt.opf.switching.core import ReconfigurationResult, ReconfigureOptions
from gridopt.opf.switching.demand import bus_demand
from gridopt.opf.switching.milp import MilpOptions
from gridopt.opf.switching.topology import SwitchableSpec, build_switching_graph
from gridopt.validate.switching import ACEvaluator, configured_net

logger = logging.getLogger(__name__)

__all__ = [
    "MilpOptions",
    "NetReconfiguration",
    "ReconfigureOptions",
    "SwitchableSpec",
    "branch_exchange_heuristic",
    "prepare",
    "read_profiles",
    "reconfigure",
    "run_reconfigure",
]


@dataclass(frozen=True, eq=False)
class NetReconfiguration(ReconfigurationResult):
    """A :class:`ReconfigurationResult` with ``net``: a deep copy of the input pandapower net
    with the chosen configuration applied (the input is never modified)."""

    net: pandapowerNet = field(kw_only=True)


def prepare(net: pandapowerNet, profiles: xr.Dataset | None, options: ReconfigureOptions
            ) -> tuple[NetworkModel, ACEvaluator]:
    """The network model of ``net`` and the AC evaluator of its switching graph."""
    model = model_from_pandapower(net, str(net.name or "(unnamed)"))
    graph = build_switching_graph(model, options.switchable)
    return model, ACEvaluator(net, model, graph, bus_demand(model, profiles))


def _with_net(result: ReconfigurationResult, net: pandapowerNet, model: NetworkModel
              ) -> NetReconfiguration:
    values = {f.name: getattr(result, f.name) for f in fields(result)}
    return NetReconfiguration(**values, net=configured_net(net, model, result.configuration))


def reconfigure(net: pandapowerNet, profiles: xr.Dataset | None = None,
                options: ReconfigureOptions | None = None) -> NetReconfiguration:
    """Find the radial configuration of ``net`` with the lowest (energy) losses.

    Parameters
    ----------
    net
        pandapower network; never modified (the result carries a reconfigured copy).
    profiles
        Optional net consumption ``p_mw`` (and ``q_mvar``) over dims ``(time, bus)``; one
        configuration then minimises the energy losses over all periods.
    options
        Options (:class:`ReconfigureOptions`).

    Raises
    ------
    InputError
        The net cannot be made radial with the allowed switches, has an island without supply,
        or the profiles do not match it.
    InfeasibleError
        No radial configuration within ``max_switching`` operations.
    SolverError
        HiGHS or pandapower failed.
    """
    options = options or ReconfigureOptions()
    model, evaluator = prepare(net, profiles, options)
    return _with_net(core.reconfigure(model, evaluator, options), net, model)


def branch_exchange_heuristic(net: pandapowerNet, profiles: xr.Dataset | None = None,
                              options: ReconfigureOptions | None = None) -> NetReconfiguration:
    """Branch-exchange local search from the present (radial) configuration of ``net``."""
    options = options or ReconfigureOptions()
    model, evaluator = prepare(net, profiles, options)
    return _with_net(core.branch_exchange_heuristic(model, evaluator, options), net, model)


def read_profiles(path: str | Path) -> xr.Dataset:
    """Read bus profiles ``(time, bus)`` (``p_mw``, optional ``q_mvar``) from a NetCDF file.

    Raises
    ------
    InputError
        Missing or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"profiles file {path} not found; check the --profiles path")
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise InputError(f"profiles file {path} is not a readable NetCDF file: {exc}") from exc


def run_reconfigure(
    network: str | Path,
    profiles: str | Path | xr.Dataset | None = None,
    options: ReconfigureOptions | None = None,
) -> NetReconfiguration:
    """Reconfigure the network named or stored at ``network`` for a snapshot or profiles.

    Parameters
    ----------
    network
        Anything :func:`gridopt.network.load.load_network` accepts (``case33bw``, a pandapower
        JSON or MATPOWER file, ``simbench:<code>``).
    profiles
        Optional NetCDF path or Dataset of net consumption ``(time, bus)``.
    options
        Reconfiguration options.

    Returns
    -------
    NetReconfiguration
    """
    loaded = load_network(network)
    ds = read_profiles(profiles) if isinstance(profiles, str | Path) else profiles
    try:
        return reconfigure(loaded.pandapower_net(), ds, options)
    except InputError as exc:
        where = f"{network}" + (f" with profiles {profiles}" if isinstance(profiles, str | Path)
                                else "")
        raise InputError(f"{where}: {exc}") from None
