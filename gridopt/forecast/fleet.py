"""Forecasting a fleet of meters: one global model trained on a row budget, every meter block
forecast in parallel, in this process or on a Dask cluster.

The fleet path cuts the meters into blocks of ``block_meters`` columns and runs the same pure
functions on every block: on the arrays themselves without a client, as Dask tasks with one.
The results are identical either way (the tests check it to 1e-9); only where they run changes.

1. **Row budget** (:class:`RowBudget`, :func:`sample_pairs`): the training rows of a global
   model are (origin, meter) pairs times the horizon steps; at 10^4 meters x 1 year that is 87 M
   rows, far more than a boosting model needs. A seeded uniform sample of ``max_rows //
   horizon_steps`` pairs is drawn without replacement from all (training origin, meter) pairs and
   sorted origin-major, so the latest origins stay last (the conformal calibration holds them
   out). The sample depends only on the seed and the numbers of origins and meters: not on the
   blocks, the workers or the order they run in. Without ``max_rows`` (or when it covers every
   pair) every row is used and the model equals :func:`gridopt.forecast.train`'s.
2. **Scale floors**: a near-silent meter's scale is floored at 5 % of the median meter at the
   same origin (:func:`~gridopt.forecast.features.scale_floors`). The median is over the whole
   fleet, so the blocks first return their meters' mean absolute levels at the sampled origins.
3. **Features** of each block's pairs are built where the block is, filtered (no target, dark PV
   rows) and merged back into the global order.
4. **Fit**: the independent boosting fits
   (:meth:`~gridopt.forecast.QuantileBoostingRegressor.fit_tasks`, 3 quantiles and 2 conformal
   calibrations) run as parallel tasks on the cluster.
5. **Predict**: the fitted model is scattered once to every worker; each block forecasts its
   meters at the origins asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time as _time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from gridopt.errors import InputError
from gridopt.forecast import metrics as fm
from gridopt.forecast.estimators import QuantileBoostingRegressor, QuantileFitTask
from gridopt.forecast.features import (
    build_features,
    daily_origins,
    extend_time,
    feature_names,
    history_window,
    scale_floors,
    steps_per_day,
)
from gridopt.forecast.forecaster import (
    TrainedForecaster,
    _check_compatible,
    _dark_rows,
    _iso,
    _quantile_forecast,
    _training_origins,
    _weather_matrix,
    parse_local_time,
)
from gridopt.forecast.options import QUANTILES, Aggregate, ForecastOptions
from gridopt.forecast.series import data_timezone, interval_seconds, target_series

#: Meters per block by default: 500 meters x 1 year hourly is 35 MB of float64 per block.
DEFAULT_BLOCK_METERS = 500


@dataclasses.dataclass(frozen=True)
class RowBudget:
    """How many training rows the global fleet model is fitted on.

    Parameters
    ----------
    max_rows
        Largest number of design-matrix rows (before rows without a target are dropped);
        ``None``: every row (every meter at every training origin).
    seed
        Seed of the sample (:func:`sample_pairs`): the same seed, origins and meters always
        give the same rows.
    """

    max_rows: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_rows is not None and self.max_rows < 1:
            raise InputError(f"the row budget is {self.max_rows}; give a positive number of rows")


def sample_pairs(
    n_origins: int, n_meters: int, horizon_steps: int, budget: RowBudget
) -> tuple[np.ndarray, np.ndarray]:
    """The (origin, meter) pairs of a row budget, sorted origin-major then by meter.

    Parameters
    ----------
    n_origins, n_meters
        Training origins and meters of the fleet.
    horizon_steps
        Rows per pair.
    budget
        Largest number of rows and the seed.

    Returns
    -------
    origin_index, meter_index
        Positions in the list of training origins and in the meter axis (int64).

    Notes
    -----
    ``k = max_rows // horizon_steps`` pairs (at least one) are drawn uniformly without
    replacement from the ``n_origins * n_meters`` pairs with
    ``numpy.random.default_rng(seed).choice``; every meter and every origin is equally likely
    to be in the sample. All pairs are taken when ``k`` reaches their number.
    """
    total = n_origins * n_meters
    wanted = total if budget.max_rows is None else max(1, budget.max_rows // horizon_steps)
    if wanted >= total:
        flat = np.arange(total, dtype=np.int64)
    else:
        rng = np.random.default_rng(budget.seed)
        flat = np.sort(rng.choice(total, size=wanted, replace=False)).astype(np.int64)
    return flat // n_meters, flat % n_meters


# --- where the blocks live ------------------------------------------------------------------


@dataclasses.dataclass
class MeterBlocks:
    """The target series cut into meter blocks: arrays here, or futures on a Dask cluster.

    Attributes
    ----------
    items
        One ``(n_time, n_block)`` float64 array per block, or a future of it.
    bounds
        ``(first, stop)`` meter positions of each block.
    client
        The ``distributed.Client`` the futures live on, ``None`` in-process.
    """

    items: list[Any]
    bounds: list[tuple[int, int]]
    client: Any | None

    def share(self, value: Any) -> Any:
        """A value every block task needs: scattered once to every worker (kept as is here)."""
        if self.client is None or value is None:
            return value
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, func: Callable[..., Any], per_block: Sequence[Any] | None = None,
            **shared: Any) -> list[Any]:
        """``func(block, [per_block[i]], **shared)`` for every block, results in block order."""
        extra = [() if per_block is None else (per_block[i],) for i in range(len(self.items))]
        if self.client is None:
            return [func(item, *more, **shared) for item, more in zip(self.items, extra,
                                                                     strict=True)]
        futures = [self.client.submit(func, item, *more, **shared, pure=False)
                   for item, more in zip(self.items, extra, strict=True)]
        return list(self.client.gather(futures))


def meter_blocks(series: xr.DataArray, block_meters: int, client: Any | None) -> MeterBlocks:
    """Cut a ``(time, series)`` target into blocks of ``block_meters`` meters.

    In-process the values are loaded and sliced. On a cluster a Dask-backed series is computed
    block by block on the workers (each reads its own block) and kept there; an in-memory one
    is scattered block by block.
    """
    if block_meters < 1:
        raise InputError(f"block_meters is {block_meters}; give a positive number of meters")
    n_meters = int(series.sizes["series"])
    data = series.data
    if client is not None and hasattr(data, "dask"):
        data = data.astype("float64").rechunk({0: -1, 1: block_meters})
        widths = [int(w) for w in data.chunks[1]]
        stops = np.cumsum(widths).tolist()
        bounds = [(int(stop - width), int(stop)) for stop, width in zip(stops, widths,
                                                                         strict=True)]
        items = client.compute(list(data.to_delayed().ravel()))
        return MeterBlocks(items=list(items), bounds=bounds, client=client)
    values = np.asarray(series.values, dtype="float64")
    bounds = [(lo, min(lo + block_meters, n_meters)) for lo in range(0, n_meters, block_meters)]
    arrays = [np.ascontiguousarray(values[:, lo:hi]) for lo, hi in bounds]
    if client is None:
        return MeterBlocks(items=arrays, bounds=bounds, client=None)
    return MeterBlocks(items=list(client.scatter(arrays, hash=False)), bounds=bounds,
                       client=client)


# --- block tasks (pure functions of a block and shared inputs) --------------------------------


def _block_mean_abs(values: np.ndarray, positions: np.ndarray, window: int) -> np.ndarray:
    """``(n_positions, n_block)`` mean absolute value over the ``window`` before each origin.

    The same numbers in the same memory layout as :func:`history_window`'s rows (latest
    first, one contiguous row per meter), so the means equal ``build_features``' bit for bit,
    without its gather over every (origin, meter, lag).
    """
    n_block = values.shape[1]
    out = np.empty((positions.size, n_block))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        for k, position in enumerate(positions.tolist()):
            if position < window:  # the window starts before the data: NaN-padded rows
                hist = history_window(values, np.full(n_block, position),
                                      np.arange(n_block), window)
            else:
                hist = np.ascontiguousarray(values[position - window : position][::-1].T)
            out[k] = np.nanmean(np.abs(hist), axis=1)
    return out


def _block_summary(values: np.ndarray, season_steps: int) -> tuple[float, int, bytes]:
    """Sum and count of the seasonal naive errors and the SHA-256 of the block's values."""
    diff = np.abs(values[season_steps:] - values[:-season_steps])
    ok = np.isfinite(diff)
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes()).digest()
    return float(diff[ok].sum()), int(ok.sum()), digest


def _block_rows(values: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                *, time: np.ndarray, options: ForecastOptions, interval_s: int, tz: str,
                weather: np.ndarray | None, weather_names: tuple[str, ...]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows of one block's pairs: ``X``, ``y`` and the global order key per row."""
    positions, local, floors, keys = pairs
    matrix = build_features(values, time, positions, options, interval_s=interval_s, tz=tz,
                            weather=weather, weather_names=weather_names, series=local,
                            scale_floor=floors)
    valid = np.isfinite(matrix.y) & np.isfinite(matrix.scale) & ~_dark_rows(matrix, options)
    row_keys = np.repeat(keys, options.horizon_steps)
    return matrix.X[valid], matrix.y[valid], row_keys[valid]


def _merge_rows(*parts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """The blocks' rows in the global (origin, meter, step) order."""
    keys = np.concatenate([part[2] for part in parts])
    order = np.argsort(keys, kind="stable")
    X = np.concatenate([part[0] for part in parts])[order]
    y = np.concatenate([part[1] for part in parts])[order]
    return X, y


def _run_fit_task(regressor: QuantileBoostingRegressor, rows: tuple[np.ndarray, np.ndarray],
                  task: QuantileFitTask) -> Any:
    return regressor.run_fit_task(rows[0], rows[1], task)


def _block_forecast(values: np.ndarray, model: TrainedForecaster, *, time: np.ndarray,
                    positions: np.ndarray, floors: np.ndarray, weather: np.ndarray | None,
                    weather_names: tuple[str, ...]) -> np.ndarray:
    """``(n_origins, horizon, n_block, 3)`` quantile forecasts of one block."""
    n_block = values.shape[1]
    horizon = model.options.horizon_steps
    pair_o = np.repeat(positions, n_block)
    pair_s = np.tile(np.arange(n_block), positions.size)
    matrix = build_features(values, time, pair_o, model.options, interval_s=model.interval_s,
                            tz=model.tz, weather=weather, weather_names=weather_names,
                            series=pair_s, scale_floor=np.repeat(floors, n_block))
    quantiles = _quantile_forecast(model, matrix)
    return quantiles.reshape(positions.size, n_block, horizon, len(QUANTILES)).transpose(
        0, 2, 1, 3)


# --- the fleet API ----------------------------------------------------------------------------


def _meter_series(data: xr.Dataset, options: ForecastOptions) -> xr.DataArray:
    if options.aggregate is not Aggregate.METER:
        raise InputError(
            f"the fleet path forecasts every meter (aggregate=meter), not {options.aggregate.value}"
            "; train totals and buses without --workers/--scheduler/--max-rows"
        )
    return target_series(data, options.target, Aggregate.METER)


def _worker_options(options: ForecastOptions, client: Any | None) -> ForecastOptions:
    """One OpenMP thread per task on a cluster (its workers run one task per thread)."""
    if client is not None and options.n_threads is None:
        return dataclasses.replace(options, n_threads=1)
    return options


def _floors(blocks: MeterBlocks, positions: np.ndarray, window: int) -> np.ndarray:
    levels = blocks.map(_block_mean_abs, positions=blocks.share(positions), window=window)
    return scale_floors(np.concatenate(levels, axis=1))


def train_fleet(
    data: xr.Dataset,
    options: ForecastOptions,
    *,
    budget: RowBudget | None = None,
    client: Any | None = None,
    block_meters: int = DEFAULT_BLOCK_METERS,
    weather: xr.Dataset | None = None,
    train_end: str | None = None,
) -> TrainedForecaster:
    """Fit the global per-meter model of a fleet on a row budget, block by block.

    Parameters
    ----------
    data
        Readings ``(time, meter)`` (in memory or Dask-backed).
    options
        Forecast options; ``aggregate`` must be ``meter``. On a cluster ``n_threads=None``
        means one OpenMP thread per task.
    budget
        Row budget (default: every row).
    client
        A ``distributed.Client``, or ``None`` to run in this process.
    block_meters
        Meters per block task.
    weather
        Optional covariates ``(time,)`` (see :func:`gridopt.forecast.train`).
    train_end
        Use only intervals before this local date/time.

    Returns
    -------
    TrainedForecaster
        ``data_sha256`` hashes the time axis, the meter names and the blocks' hashes (it
        differs from :func:`gridopt.forecast.train`'s hash of the same data); ``train_seconds``
        covers the sampled rows' features and the fits.
    """
    options = _worker_options(options, client)
    budget = budget or RowBudget()
    series = _meter_series(data, options)
    tz = data_timezone(data, options.tz)
    if train_end is not None:
        series = series.sel(time=series["time"] < parse_local_time(train_end, tz))
    time = series["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time)
    per_day = steps_per_day(interval_s)
    origins = _training_origins(time, len(time), tz, options, per_day)
    if origins.size < 10:
        raise InputError(f"only {origins.size} complete daily origin(s) to train on; give at "
                         "least 3 weeks of data (more is better: months)")
    weather_values, weather_names = _weather_matrix(weather, time)
    blocks = meter_blocks(series, block_meters, client)
    n_meters = blocks.bounds[-1][1]
    origin_index, meter_index = sample_pairs(origins.size, n_meters, options.horizon_steps,
                                             budget)
    used = np.unique(origin_index)
    floor_of = np.zeros(origins.size)
    floor_of[used] = _floors(blocks, origins[used], options.history_days * per_day)
    per_block = []
    for lo, hi in blocks.bounds:
        mine = (meter_index >= lo) & (meter_index < hi)
        per_block.append((origins[origin_index[mine]], meter_index[mine] - lo,
                          floor_of[origin_index[mine]],
                          origin_index[mine] * n_meters + meter_index[mine]))
    shared = {"time": blocks.share(time), "weather": blocks.share(weather_values)}
    regressor = QuantileBoostingRegressor(
        quantiles=QUANTILES, max_iter=options.max_iter, learning_rate=options.learning_rate,
        max_leaf_nodes=options.tree_size()[0], min_samples_leaf=options.tree_size()[1],
        l2_regularization=options.l2_regularization, calibration=options.calibration,
        calibration_fraction=options.calibration_fraction, random_state=options.random_state,
        n_threads=options.n_threads,
    )
    started = _time.perf_counter()  # train_seconds: the sampled rows' features and the fits
    if client is None:
        parts = blocks.map(_block_rows, per_block, options=options, interval_s=interval_s,
                           tz=tz, weather_names=weather_names, **shared)
        X, y = _merge_rows(*parts)
        n_rows, n_features = X.shape
        results = [regressor.run_fit_task(X, y, task) for task in regressor.fit_tasks(n_rows)]
    else:
        row_futures = [client.submit(_block_rows, item, pairs, options=options,
                                     interval_s=interval_s, tz=tz, weather_names=weather_names,
                                     pure=False, **shared)
                       for item, pairs in zip(blocks.items, per_block, strict=True)]
        merged = client.submit(_merge_rows, *row_futures, pure=False)
        n_rows, n_features = client.submit(lambda rows: rows[0].shape, merged).result()
        # every worker gets the rows before the fits start, else Dask would queue all five
        # fits where the rows are; the longest fits (all rows) go first
        client.replicate([merged])
        futures = [client.submit(_run_fit_task, regressor, merged, task, pure=False,
                                 priority=0 if task.head_rows else 1)
                   for task in regressor.fit_tasks(n_rows)]
        results = list(client.gather(futures))
    regressor.set_fitted(results, n_features)
    seconds = _time.perf_counter() - started
    summaries = blocks.map(_block_summary, season_steps=7 * per_day)
    digest = hashlib.sha256(np.ascontiguousarray(time).tobytes())
    digest.update("\x1f".join(str(s) for s in series["series"].values).encode())
    for _, _, block_digest in summaries:
        digest.update(block_digest)
    count = sum(part[1] for part in summaries)
    return TrainedForecaster(
        options=options, regressor=regressor, feature_names=feature_names(options, weather_names),
        weather_names=weather_names, interval_s=interval_s, tz=tz,
        series=tuple(str(s) for s in series["series"].values), series_dim="meter",
        train_start=_iso(time[0]), train_end=_iso(time[-1]), data_sha256=digest.hexdigest(),
        n_train_rows=int(n_rows),
        mase_scale=sum(part[0] for part in summaries) / count if count else float("nan"),
        train_seconds=seconds,
    )


def forecast_fleet(
    model: TrainedForecaster,
    data: xr.Dataset,
    origins: Sequence[str] | None = None,
    *,
    client: Any | None = None,
    block_meters: int = DEFAULT_BLOCK_METERS,
    weather: xr.Dataset | None = None,
) -> xr.Dataset:
    """P10/P50/P90 of every meter from one or more origins, block by block.

    Parameters
    ----------
    model
        A per-meter model (:func:`train_fleet` or :func:`gridopt.forecast.train`).
    data
        Readings ``(time, meter)``; each origin's features use only readings before it.
    origins
        Local dates/times of the first forecast intervals; default: the next origin after the
        data (as :func:`gridopt.forecast.predict`).
    client, block_meters
        Where and in which blocks the meters are forecast.
    weather
        Covariates covering the horizons (when the model uses weather).

    Returns
    -------
    xarray.Dataset
        Variable ``<target>_kwh`` with dims ``(origin, time, meter, quantile)`` (``time`` is the
        step's interval start of the first origin; the coordinate ``valid_time(origin, time)``
        gives every origin's) and ``observed_kwh`` ``(origin, time, meter)`` where the data
        reach (NaN after).
    """
    options = model.options
    series = _meter_series(data, options)
    time = series["time"].values.astype("datetime64[ns]")
    interval_s = interval_seconds(time)
    per_day = steps_per_day(interval_s)
    horizon = options.horizon_steps
    grid = extend_time(time, interval_s, per_day + horizon)
    if origins is None:
        after = grid[len(time):]
        positions = np.array([len(time) + daily_origins(after, model.tz, options.origin_hour)[0]])
    else:
        step = np.timedelta64(interval_s * 1_000_000_000, "ns")
        wanted = [parse_local_time(value, model.tz) for value in origins]
        offsets = [(stamp - time[0]) / step for stamp in wanted]
        if any(o != int(o) or o < 7 * per_day or o > len(time) for o in offsets):
            raise InputError(f"origins {list(origins)} must be interval starts at least 7 days "
                             f"after {_iso(time[0])} and at most one interval after the data")
        positions = np.array([int(o) for o in offsets], dtype=np.int64)
    grid = grid[: int(positions.max()) + horizon]
    weather_values, weather_names = _weather_matrix(weather, extend_time(grid, interval_s, 1))
    _check_compatible(model, interval_s, weather_names)
    blocks = meter_blocks(series, block_meters, client)
    floors = _floors(blocks, positions, options.history_days * per_day)
    shared_model = blocks.share(model)
    cubes = blocks.map(_block_forecast, model=shared_model, time=blocks.share(grid),
                       positions=blocks.share(positions), floors=blocks.share(floors),
                       weather=blocks.share(weather_values), weather_names=weather_names)
    cube = np.concatenate(cubes, axis=2)
    target_index = positions[:, None] + np.arange(horizon)[None, :]
    observed = np.full((*target_index.shape, cube.shape[2]), np.nan)
    inside = target_index < len(time)
    if inside.any():
        observed[inside] = np.asarray(series.isel(time=target_index[inside]).values,
                                      dtype="float64")
    name = f"{options.target.value}_kwh"
    return xr.Dataset(
        {
            name: (("origin", "time", "meter", "quantile"), cube,
                   {"units": "kWh", "long_name": f"{options.target.value} energy per interval"}),
            "observed_kwh": (("origin", "time", "meter"), observed, {"units": "kWh"}),
        },
        coords={
            "origin": grid[positions],
            "time": grid[target_index[0]],
            "valid_time": (("origin", "time"), grid[target_index]),
            "meter": series["series"].values,
            "quantile": np.asarray(QUANTILES),
        },
        attrs={"target": options.target.value, "aggregate": "meter", "units": "kWh",
               "tz": model.tz, "interval_s": interval_s},
    )


def predict_fleet(
    model: TrainedForecaster,
    data: xr.Dataset,
    *,
    origin: str | None = None,
    client: Any | None = None,
    block_meters: int = DEFAULT_BLOCK_METERS,
    weather: xr.Dataset | None = None,
) -> xr.Dataset:
    """:func:`gridopt.forecast.predict`'s forecast of every meter from one origin, block by block.

    Same arguments and output layout (``(time, meter, quantile)``, attribute ``origin``) as
    :func:`~gridopt.forecast.predict` with ``aggregate=meter``; the values are identical.
    """
    cube = forecast_fleet(model, data, None if origin is None else [origin], client=client,
                          block_meters=block_meters, weather=weather).isel(origin=0)
    name = f"{model.options.target.value}_kwh"
    return xr.Dataset(
        {name: (("time", "meter", "quantile"), cube[name].values, cube[name].attrs)},
        coords={"time": cube["time"].values, "meter": cube["meter"].values,
                "quantile": cube["quantile"].values},
        attrs={"origin": pd.Timestamp(cube["origin"].values).tz_localize("UTC").isoformat(),
               "target": model.options.target.value,
               "aggregate": "meter", "units": "kWh", "tz": model.tz,
               "interval_s": model.interval_s},
    )


def fleet_mae(forecast: xr.Dataset) -> float:
    """MAE of the P50 against ``observed_kwh`` over the finite pairs of a :func:`forecast_fleet`."""
    name = f"{forecast.attrs['target']}_kwh"
    return fm.mae(forecast["observed_kwh"].values, forecast[name].sel(quantile=0.5).values)


__all__ = ["DEFAULT_BLOCK_METERS", "MeterBlocks", "RowBudget", "fleet_mae", "forecast_fleet",
           "meter_blocks", "predict_fleet", "sample_pairs", "train_fleet"]
