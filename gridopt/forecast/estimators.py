"""scikit-learn estimators of the forecasting layer.

Both work on a design matrix from :func:`gridopt.forecast.features.build_features` (or any
numeric ``X``) and follow the scikit-learn contract: ``__init__`` stores its arguments, ``fit``
validates them and returns ``self``, learned attributes end in ``_``. Both pass
``sklearn.utils.estimator_checks.parametrize_with_checks`` (see ``tests/forecast``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from gridopt.forecast.options import QUANTILES

#: Fewest calibration rows for which the conformal shift is estimated (else no shift).
MIN_CALIBRATION_ROWS = 30


def _check_quantiles(quantiles: Sequence[float]) -> np.ndarray:
    levels = np.asarray(quantiles, dtype="float64")
    if levels.ndim != 1 or levels.size == 0 or np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"quantiles must be levels in (0, 1), got {quantiles!r}")
    if np.any(np.diff(levels) <= 0):
        raise ValueError(f"quantiles must be strictly increasing, got {quantiles!r}")
    if not np.any(np.isclose(levels, 0.5)):
        raise ValueError(f"quantiles must include the median 0.5, got {quantiles!r}")
    return levels


class SeasonalNaiveRegressor(RegressorMixin, BaseEstimator):
    """Seasonal naive forecast: the value one season earlier, read from a lag column of ``X``.

    With ``X`` from :func:`~gridopt.forecast.features.build_features`, ``lag_column="lag_day"``
    is "same time yesterday" and ``"lag_week"`` "same time last week". ``fit`` learns the
    empirical quantiles of the residuals ``y - lag`` so that the baseline also gives P10/P90.

    Parameters
    ----------
    lag_column
        Column index, or a feature name when ``fit`` sees a DataFrame or ``feature_names``.
    quantiles
        Quantile levels of :meth:`predict_quantiles` (must include 0.5).
    feature_names
        Names of the columns of a NumPy ``X`` (used to resolve a string ``lag_column``).

    Attributes
    ----------
    lag_index_
        Resolved column index of the lag.
    residual_quantiles_
        Empirical quantiles of ``y - X[:, lag_index_]`` on the training rows.
    n_features_in_
        Number of columns seen in ``fit``.
    """

    def __init__(
        self,
        lag_column: int | str = 0,
        quantiles: Sequence[float] = QUANTILES,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.lag_column = lag_column
        self.quantiles = quantiles
        self.feature_names = feature_names

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.regressor_tags.poor_score = True
        return tags

    def _resolve(self, n_features: int) -> int:
        if isinstance(self.lag_column, str):
            names = getattr(self, "feature_names_in_", None)
            names = list(names) if names is not None else list(self.feature_names or ())
            if self.lag_column not in names:
                raise ValueError(
                    f"lag_column {self.lag_column!r} is not among the features {names}"
                )
            return names.index(self.lag_column)
        index = int(self.lag_column)
        if not 0 <= index < n_features:
            raise ValueError(f"lag_column {index} is outside the {n_features} feature columns")
        return index

    def fit(self, X: Any, y: Any) -> SeasonalNaiveRegressor:
        """Validate ``X``/``y`` and learn residual quantiles. Returns ``self``."""
        levels = _check_quantiles(self.quantiles)
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", y_numeric=True)
        self.lag_index_ = self._resolve(X.shape[1])
        residual = np.asarray(y, dtype="float64") - X[:, self.lag_index_]
        residual = residual[np.isfinite(residual)]
        self.residual_quantiles_ = (
            np.quantile(residual, levels) if residual.size else np.zeros(levels.size)
        )
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Return the lagged value (NaN where the lag is unknown)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(X[:, self.lag_index_], dtype="float64")

    def predict_quantiles(self, X: Any) -> np.ndarray:
        """Return ``(n_samples, n_quantiles)``: the lag plus the residual quantiles."""
        return self.predict(X)[:, None] + self.residual_quantiles_[None, :]


@dataclasses.dataclass(frozen=True)
class QuantileFitTask:
    """One boosting fit of :class:`QuantileBoostingRegressor`: level ``level`` (index
    ``index``) on the first ``head_rows`` rows (a conformal calibration fit) or on all rows
    (``None``)."""

    index: int
    level: float
    head_rows: int | None


class QuantileBoostingRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted quantile regression with optional conformal recalibration.

    One :class:`~sklearn.ensemble.HistGradientBoostingRegressor` with ``loss="quantile"`` per
    level. With ``calibration="conformal"`` the models are first fitted on the first
    ``1 - calibration_fraction`` of the rows; on the held-out last rows the shift

    .. math::  d_q = \\operatorname{Quantile}_q\\bigl(y_i - \\hat q_q(x_i)\\bigr)

    is measured for every level :math:`q \\ne 0.5`, so that exactly a share :math:`q` of the
    calibration targets lies below :math:`\\hat q_q + d_q` (split-conformal quantile
    recalibration, Romano et al. 2019, per tail). The models are then refitted on all rows and the
    shifts applied to their predictions. Rows must be in time order (the held-out rows are the
    latest), as produced by :func:`~gridopt.forecast.features.build_features`.

    Parameters
    ----------
    quantiles
        Increasing levels in (0, 1), including 0.5.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to each boosting model.
    calibration
        ``"conformal"`` or ``"none"``.
    calibration_fraction
        Share of the last rows held out for calibration.
    random_state
        Seed passed to the boosting models.
    n_threads
        OpenMP threads of the boosting code (``None``: library default, all cores). On a shared
        machine set it to the cores you own: oversubscribed OpenMP slows boosting down by 10-30x.

    Attributes
    ----------
    estimators_
        One fitted boosting model per quantile level.
    calibration_shift_
        Additive shift per level (0 for the median and without calibration).
    n_iter_
        Boosting iterations run per quantile model.
    n_features_in_
        Number of columns seen in ``fit``.
    """

    def __init__(
        self,
        quantiles: Sequence[float] = QUANTILES,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        calibration: str = "conformal",
        calibration_fraction: float = 0.3,
        random_state: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _model(self, level: float) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss="quantile",
            quantile=float(level),
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(self, X: Any, y: Any) -> QuantileBoostingRegressor:
        """Fit one model per quantile (and calibrate). Returns ``self``."""
        levels = _check_quantiles(self.quantiles)
        if self.calibration not in ("conformal", "none"):
            raise ValueError(f"calibration must be 'conformal' or 'none', got {self.calibration!r}")
        if not 0.0 < float(self.calibration_fraction) < 0.9:
            raise ValueError(
                f"calibration_fraction must be in (0, 0.9), got {self.calibration_fraction!r}"
            )
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", y_numeric=True)
        y = np.asarray(y, dtype="float64")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self._fit(X, y, levels)
        return self

    def _fit(self, X: np.ndarray, y: np.ndarray, levels: np.ndarray) -> None:
        tasks = self.fit_tasks(X.shape[0])
        self.set_fitted([self.run_fit_task(X, y, task) for task in tasks], X.shape[1])

    def fit_tasks(self, n_rows: int) -> list[QuantileFitTask]:
        """The independent boosting fits of :meth:`fit` on ``n_rows`` rows, in order.

        With conformal calibration (and enough rows) one fit per non-median level on the head
        rows (its result is the level's shift), then one fit per level on all rows. The tasks
        share nothing, so a cluster can run them in parallel (:meth:`run_fit_task`) and
        :meth:`set_fitted` assembles the same estimator as :meth:`fit`.
        """
        levels = _check_quantiles(self.quantiles)
        n_cal = round(n_rows * float(self.calibration_fraction))
        tasks: list[QuantileFitTask] = []
        if (self.calibration == "conformal" and n_cal >= MIN_CALIBRATION_ROWS
                and n_rows - n_cal >= 2):
            tasks += [QuantileFitTask(k, float(level), n_rows - n_cal)
                      for k, level in enumerate(levels) if not np.isclose(level, 0.5)]
        tasks += [QuantileFitTask(k, float(level), None) for k, level in enumerate(levels)]
        return tasks

    def run_fit_task(self, X: np.ndarray, y: np.ndarray, task: QuantileFitTask) -> Any:
        """Run one task of :meth:`fit_tasks`: a calibration shift (float) or a fitted model."""
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            if task.head_rows is None:
                return self._model(task.level).fit(X, y)
            head, tail = slice(0, task.head_rows), slice(task.head_rows, X.shape[0])
            model = self._model(task.level).fit(X[head], y[head])
            return float(np.quantile(y[tail] - model.predict(X[tail]), task.level))

    def set_fitted(self, results: Sequence[Any], n_features: int) -> QuantileBoostingRegressor:
        """Take the results of :meth:`run_fit_task` (in :meth:`fit_tasks` order) as fitted."""
        levels = _check_quantiles(self.quantiles)
        shift = np.zeros(levels.size)
        n_shift = len(results) - levels.size
        for k, value in zip(np.flatnonzero(~np.isclose(levels, 0.5))[:n_shift],
                            results[:n_shift], strict=True):
            shift[k] = value
        self.estimators_ = list(results[n_shift:])
        self.calibration_shift_ = shift
        self.n_iter_ = np.array([model.n_iter_ for model in self.estimators_])
        self.n_features_in_ = n_features
        return self

    def predict_quantiles(self, X: Any) -> np.ndarray:
        """Return ``(n_samples, n_quantiles)`` calibrated quantiles, sorted along each row."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            raw = np.column_stack([model.predict(X) for model in self.estimators_])
        return np.sort(raw + self.calibration_shift_[None, :], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Return the median forecast."""
        levels = np.asarray(self.quantiles, dtype="float64")
        median = int(np.flatnonzero(np.isclose(levels, 0.5))[0])
        return self.predict_quantiles(X)[:, median]
