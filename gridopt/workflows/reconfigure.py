"""Reconfiguration workflow: load a network and optional profiles, reconfigure, summarise.

Plain functions for the CLI and notebooks; I/O (network and NetCDF loading) happens here, the
optimisation in :mod:`gridopt.opf.switching`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import xarray as xr

from gridopt.errors import InputError
from gridopt.network.load import load_network
from gridopt.opf.switching import ReconfigurationResult, ReconfigureOptions, reconfigure

logger = logging.getLogger(__name__)


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
) -> ReconfigurationResult:
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
    ReconfigurationResult
    """
    loaded = load_network(network)
    ds = read_profiles(profiles) if isinstance(profiles, str | Path) else profiles
    try:
        return reconfigure(loaded.pandapower_net(), ds, options)
    except InputError as exc:
        where = f"{network}" + (f" with profiles {profiles}" if isinstance(profiles, str | Path)
                                else "")
        raise InputError(f"{where}: {exc}") from None
