"""The fleet path (row budget, meter blocks, Dask) on the 17 CityLearn homes.

The in-process fleet path is the reference: a 2-worker LocalCluster of processes must give the
same forecasts to 1e-9, for in-memory and for Dask-backed (lazily opened NetCDF) readings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gridopt.errors import InputError
from gridopt.forecast import Aggregate, ForecastOptions, Target, predict, train
from gridopt.forecast.fleet import (
    RowBudget,
    forecast_fleet,
    predict_fleet,
    sample_pairs,
    train_fleet,
)
from gridopt.workflows.cluster import ClusterSpec, open_cluster

from .conftest import LATITUDE_DEG, LONGITUDE_DEG

TZ = "Etc/GMT+8"
FAST = {"max_iter": 40, "learning_rate": 0.1, "n_threads": 1, "tz": TZ, "country": "US"}
OPTIONS = ForecastOptions(aggregate=Aggregate.METER, **FAST)
BUDGET = RowBudget(max_rows=12_000, seed=3)
VARIABLE = "consumption_kwh"


@pytest.fixture(scope="module")
def reference(homes: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """In-process fleet forecasts: the next day, and three backtest origins."""
    model = train_fleet(homes, OPTIONS, budget=BUDGET, block_meters=5)
    return (forecast_fleet(model, homes, block_meters=6),
            forecast_fleet(model, homes, ["2022-10-20", "2022-10-21", "2022-10-22"],
                           block_meters=4))


def test_sampler_is_seeded_sorted_and_within_budget() -> None:
    first = sample_pairs(300, 1000, 24, RowBudget(max_rows=240_000, seed=5))
    again = sample_pairs(300, 1000, 24, RowBudget(max_rows=240_000, seed=5))
    other = sample_pairs(300, 1000, 24, RowBudget(max_rows=240_000, seed=6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
    origin, meter = first
    assert origin.size == 10_000
    key = origin * 1000 + meter
    assert np.all(np.diff(key) > 0)  # origin-major, no pair twice
    # uniform: every decile of origins and of meters holds about a tenth of the pairs
    for index, n in ((origin, 300), (meter, 1000)):
        share = np.bincount(index * 10 // n, minlength=10) / index.size
        assert np.all(np.abs(share - 0.1) < 0.02)
    everything = sample_pairs(7, 5, 24, RowBudget(max_rows=10**9))
    assert everything[0].size == 35
    with pytest.raises(InputError):
        RowBudget(max_rows=0)


def test_without_budget_the_fleet_model_is_the_single_process_model(homes) -> None:
    single = predict(train(homes, OPTIONS), homes)
    model = train_fleet(homes, OPTIONS, block_meters=4)
    xr.testing.assert_identical(predict_fleet(model, homes, block_meters=5), single)
    inside = predict(model, homes, origin="2022-10-20")
    xr.testing.assert_identical(predict_fleet(model, homes, origin="2022-10-20"), inside)


def test_budget_fits_fewer_rows_and_blocks_do_not_matter(homes, reference) -> None:
    model = train_fleet(homes, OPTIONS, budget=BUDGET, block_meters=17)
    assert model.n_train_rows <= BUDGET.max_rows
    assert model.n_train_rows < train(homes, OPTIONS).n_train_rows / 2
    again = forecast_fleet(model, homes, block_meters=17)[VARIABLE].values
    np.testing.assert_array_equal(again, reference[0][VARIABLE].values)


def test_every_meter_gets_ordered_quantiles(homes, reference) -> None:
    for forecast in reference:
        cube = forecast[VARIABLE].values
        assert forecast[VARIABLE].dims == ("origin", "time", "meter", "quantile")
        assert forecast.sizes["meter"] == homes.sizes["meter"]
        assert np.isfinite(cube).all()
        assert np.all(cube[..., 0] <= cube[..., 1]) and np.all(cube[..., 1] <= cube[..., 2])
    backtest = reference[1]
    assert np.isfinite(backtest["observed_kwh"].values).all()
    assert backtest.sizes["origin"] == 3


def test_local_cluster_gives_the_in_process_forecasts(homes, reference, tmp_path: Path) -> None:
    path = tmp_path / "homes.nc"
    homes.to_netcdf(path)
    with open_cluster(ClusterSpec(workers=2, memory_limit="1GiB")) as cluster, \
            xr.open_dataset(path, chunks={"meter": 5}) as lazy:
        assert cluster.n_workers == 2
        for data in (homes, lazy):
            model = train_fleet(data, OPTIONS, budget=BUDGET, block_meters=5,
                                client=cluster.client)
            nxt = forecast_fleet(model, data, block_meters=6, client=cluster.client)
            days = forecast_fleet(model, data, ["2022-10-20", "2022-10-21", "2022-10-22"],
                                  block_meters=4, client=cluster.client)
            for got, want in zip((nxt, days), reference, strict=True):
                np.testing.assert_allclose(got[VARIABLE].values, want[VARIABLE].values,
                                           rtol=0, atol=1e-9)
                np.testing.assert_array_equal(got["valid_time"].values, want["valid_time"].values)


def test_fleet_path_refuses_totals(homes) -> None:
    with pytest.raises(InputError, match="aggregate=meter"):
        train_fleet(homes, ForecastOptions(**FAST), budget=BUDGET)


def test_pv_with_weather_matches_the_single_process_model(homes, weather) -> None:
    options = ForecastOptions(target=Target.PRODUCTION, aggregate=Aggregate.METER,
                              latitude_deg=LATITUDE_DEG, longitude_deg=LONGITUDE_DEG, **FAST)
    model = train(homes, options, weather=weather, train_end="2022-10-15")
    fleet_model = train_fleet(homes, options, weather=weather, train_end="2022-10-15",
                              block_meters=6)
    single = predict(model, homes, origin="2022-10-18", weather=weather)
    fleet = predict_fleet(fleet_model, homes, origin="2022-10-18", weather=weather,
                          block_meters=7)
    xr.testing.assert_identical(fleet, single)
    assert (fleet["production_kwh"].values >= 0).all()
