r"""Forecast accuracy metrics over arrays (NaN pairs are ignored, never counted as zero error).

For observations :math:`y_i` and forecasts :math:`\hat y_i` over the valid pairs :math:`i`:

- MAE :math:`= \frac1n\sum|y_i - \hat y_i|`, RMSE :math:`= \sqrt{\frac1n\sum(y_i-\hat y_i)^2}`;
- MASE :math:`= \mathrm{MAE} / s` with :math:`s` the in-sample MAE of the weekly seasonal naive
  forecast on the training data (:func:`seasonal_naive_scale`, Hyndman & Koehler 2006);
- pinball loss at level :math:`q`: :math:`\frac1n\sum \max(q(y_i-\hat q_i), (q-1)(y_i-\hat q_i))`;
- coverage: share of :math:`y_i` inside :math:`[\hat q_{lo,i}, \hat q_{hi,i}]`.
"""

from __future__ import annotations

import numpy as np


def _valid(*arrays: np.ndarray) -> np.ndarray:
    mask = np.ones(np.shape(arrays[0]), dtype=bool)
    for array in arrays:
        mask &= np.isfinite(array)
    return mask


def mae(observed: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error over the finite pairs (NaN if there are none)."""
    mask = _valid(observed, forecast)
    return float(np.mean(np.abs(observed[mask] - forecast[mask]))) if mask.any() else float("nan")


def rmse(observed: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error over the finite pairs."""
    mask = _valid(observed, forecast)
    if not mask.any():
        return float("nan")
    return float(np.sqrt(np.mean((observed[mask] - forecast[mask]) ** 2)))


def pinball(observed: np.ndarray, quantile_forecast: np.ndarray, level: float) -> float:
    """Mean pinball (quantile) loss at ``level`` over the finite pairs."""
    mask = _valid(observed, quantile_forecast)
    if not mask.any():
        return float("nan")
    diff = observed[mask] - quantile_forecast[mask]
    return float(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))


def coverage(observed: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of observations inside ``[lower, upper]``."""
    mask = _valid(observed, lower, upper)
    if not mask.any():
        return float("nan")
    inside = (observed[mask] >= lower[mask]) & (observed[mask] <= upper[mask])
    return float(np.mean(inside))


def seasonal_naive_scale(values: np.ndarray, season_steps: int) -> float:
    """In-sample MAE of the seasonal naive forecast ``y[t - season]`` over a training block.

    ``values`` is ``(n_time, n_series)`` (or 1-D); the errors of all series are pooled.
    """
    values = np.asarray(values, dtype="float64")
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] <= season_steps:
        return float("nan")
    return mae(values[season_steps:], values[:-season_steps])


def mase(observed: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: MAE divided by ``scale`` (NaN if the scale is 0 or NaN)."""
    if not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return mae(observed, forecast) / scale
