"""Demand and production forecasting: a global direct multi-horizon quantile model.

Public API::

    options = ForecastOptions(target=Target.CONSUMPTION, aggregate=Aggregate.METER,
                              horizon_steps=24, origin_hour=0, country="US")
    model = train(data, options, weather=weather)            # TrainedForecaster
    forecast = predict(model, data)                          # (time, meter, quantile)
    demand = to_bus_demand(forecast, mapping="mapping.csv")  # (time, bus): p_mw, q_mvar
    result = backtest(data, options, test_start="2014-12-01", test_end="2014-12-30")
    save_model(model, "models", "homes"); model, manifest = load_model("models", "homes")

See ``docs/forecast.md`` for the features, the output layouts and the model store.
"""

from __future__ import annotations

from gridopt.forecast.bus_demand import to_bus_demand
from gridopt.forecast.estimators import QuantileBoostingRegressor, SeasonalNaiveRegressor
from gridopt.forecast.features import (
    FeatureMatrix,
    build_features,
    calendar_features,
    cos_solar_zenith,
)
from gridopt.forecast.forecaster import (
    BacktestResult,
    TrainedForecaster,
    backtest,
    parse_local_time,
    predict,
    train,
)
from gridopt.forecast.options import QUANTILES, Aggregate, ForecastOptions, Target
from gridopt.forecast.series import target_series
from gridopt.forecast.store import list_versions, load_model, read_manifest, save_model

__all__ = [
    "QUANTILES",
    "Aggregate",
    "BacktestResult",
    "FeatureMatrix",
    "ForecastOptions",
    "QuantileBoostingRegressor",
    "SeasonalNaiveRegressor",
    "Target",
    "TrainedForecaster",
    "backtest",
    "build_features",
    "calendar_features",
    "cos_solar_zenith",
    "list_versions",
    "load_model",
    "parse_local_time",
    "predict",
    "read_manifest",
    "save_model",
    "target_series",
    "to_bus_demand",
    "train",
]
