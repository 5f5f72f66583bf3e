"""The forecasting estimators honour the scikit-learn estimator contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from gridopt.forecast.estimators import QuantileBoostingRegressor, SeasonalNaiveRegressor


@parametrize_with_checks(
    [
        SeasonalNaiveRegressor(),
        QuantileBoostingRegressor(max_iter=20, random_state=0, n_threads=1),
    ]
)
def test_sklearn_compatible(estimator: Any, check: Callable[[Any], None]) -> None:
    check(estimator)
