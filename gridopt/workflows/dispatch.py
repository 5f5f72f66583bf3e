"""Multi-period loss-minimising dispatch of a pandapower net, checked period by period.

:class:`Dispatcher` wires the dispatch algorithm of :mod:`gridopt.opf.dispatch` (build the LP
once, solve by successive loss linearisation, assemble the Dataset) to a pandapower net: the
network model and its dispatch view come from :mod:`gridopt.network`, the AC power flows of
every period from :class:`gridopt.validate.dispatch.ACChecker`. :meth:`Dispatcher.solve` takes a
``(time, bus)`` forecast and returns a :class:`DispatchResult` holding the optimised and
baseline (no flexibility) schedules as one ``xarray.Dataset``; a second forecast for the same
network re-solves without rebuilding.

:func:`dispatch` is the one-call form; :func:`dispatch_files` reads and writes files.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandapower as pp
import xarray as xr

from gridopt.errors import InputError
from gridopt.ingest.io import write_netcdf
from gridopt.network.assets import Assets, assets_from_toml, merge_assets
from gridopt.network.pandapower_model import assets_from_net, model_from_pandapower
from gridopt.opf.dispatch.grid import DispatchGrid, grid_from_model
from gridopt.opf.dispatch.inputs import inputs_from_forecast
from gridopt.opf.dispatch.linearisation import LinearisedDispatch
from gridopt.opf.dispatch.model import DispatchModel
from gridopt.opf.dispatch.options import DispatchOptions
from gridopt.opf.dispatch.result import DispatchResult, to_result
from gridopt.opf.dispatch.violations import LOSS_INFLATION_FACTOR
from gridopt.solvers.highs_persistent import PersistentHighs
from gridopt.validate.dispatch import ACChecker

__all__ = [
    "LOSS_INFLATION_FACTOR",
    "DispatchResult",
    "Dispatcher",
    "dispatch",
    "dispatch_files",
    "read_forecast",
]

logger = logging.getLogger(__name__)


class Dispatcher:
    """A dispatch built once for ``net`` and ``assets`` over ``n_periods`` periods.

    Parameters
    ----------
    net
        pandapower net (not modified).
    assets
        Controllable assets; default: those declared in the net (:func:`assets_from_net`).
    n_periods, period_hours
        Horizon the model is built for; forecasts must match it.
    options
        Dispatch options.
    name
        Network name for messages and outputs.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        n_periods: int,
        period_hours: float,
        assets: Assets | None = None,
        options: DispatchOptions | None = None,
        name: str = "network",
    ) -> None:
        tick = time.perf_counter()
        grid = grid_from_model(model_from_pandapower(net, name))
        self.checker = ACChecker(net, grid)
        prepare_seconds = time.perf_counter() - tick
        self.core = LinearisedDispatch(
            grid, assets if assets is not None else assets_from_net(net), self.checker,
            n_periods, period_hours, options, name,
        )
        # the build stage counts the network view and the checker's copy of the net too
        self.core.build_seconds += prepare_seconds

    @property
    def build_seconds(self) -> float:
        """Seconds to build the network view, the AC checker and the LP."""
        return self.core.build_seconds

    @property
    def load_seconds(self) -> float:
        """Seconds to pass the LP to HiGHS."""
        return self.core.load_seconds

    @property
    def grid(self) -> DispatchGrid:
        """The dispatch view of the net."""
        return self.core.grid

    @property
    def assets(self) -> Assets:
        """The controllable assets dispatched."""
        return self.core.assets

    @property
    def model(self) -> DispatchModel:
        """The built LP."""
        return self.core.model

    @property
    def solver(self) -> PersistentHighs:
        """The persistent HiGHS instance holding the LP."""
        return self.core.solver

    @property
    def options(self) -> DispatchOptions:
        """The dispatch options."""
        return self.core.options

    def solve(self, forecast: xr.Dataset, where: str = "forecast") -> DispatchResult:
        """Dispatch against ``forecast`` (re-using the built model) and check it with AC flows.

        Raises
        ------
        InputError
            If the forecast does not fit the network or the horizon.
        InfeasibleError
            If even with penalised voltage and thermal slack no dispatch exists (grid
            connection limits or storage end-state targets that cannot be met).
        SolverError
            If HiGHS fails.
        """
        inputs = inputs_from_forecast(forecast, self.grid, self.assets, where)
        return to_result(self.core, self.core.solve(inputs, where))


def dispatch(
    net: pp.pandapowerNet,
    forecast: xr.Dataset,
    assets: Assets | None = None,
    options: DispatchOptions | None = None,
    name: str = "network",
) -> DispatchResult:
    """Build and solve a dispatch for one forecast (see :class:`Dispatcher`)."""
    grid = grid_from_model(model_from_pandapower(net, name))
    inputs = inputs_from_forecast(
        forecast, grid, assets if assets is not None else assets_from_net(net)
    )
    dispatcher = Dispatcher(net, inputs.n_periods, inputs.period_hours, assets, options, name)
    return dispatcher.solve(forecast)


def read_forecast(path: Path) -> xr.Dataset:
    """Read a ``(time, bus)`` forecast from NetCDF (loaded into memory, file closed).

    Raises
    ------
    InputError
        If the file is missing or not a readable NetCDF file.
    """
    if not Path(path).is_file():
        raise InputError(f"forecast file {path} not found; check the --forecast path")
    try:
        with xr.open_dataset(path) as ds:
            return ds.load()
    except (OSError, ValueError) as exc:
        raise InputError(f"forecast file {path} is not a readable NetCDF file: {exc}") from exc


def dispatch_files(
    network: str | Path | pp.pandapowerNet,
    forecast_path: Path,
    assets_path: Path | None = None,
    options: DispatchOptions | None = None,
    out_path: Path | None = None,
) -> DispatchResult:
    """Dispatch a network (any :func:`gridopt.network.load.load_network` spec) for a forecast file.

    Assets are those declared in the net, overridden and extended by the TOML file when given.
    With ``out_path`` the result dataset is written there atomically.
    """
    from gridopt.network.load import load_network

    loaded = load_network(network)
    net = loaded.pandapower_net()
    forecast = read_forecast(Path(forecast_path))
    assets = assets_from_net(net)
    if assets_path is not None:
        names = {str(n): int(i) for i, n in net.bus.name.items() if n is not None}
        assets = merge_assets(assets, assets_from_toml(Path(assets_path), names))
    result = dispatch(net, forecast, assets, options, name=loaded.name)
    if out_path is not None:
        write_netcdf(result.dataset, Path(out_path))
    return result
