"""Options of the forecasting layer: closed choices as enums, settings as frozen dataclasses.

Everything here is picklable and hashable so that options can travel to Dask workers and be
written to a model manifest (:func:`ForecastOptions.to_dict` / :func:`ForecastOptions.from_dict`).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from gridopt.errors import InputError


class Target(enum.Enum):
    """What is forecast, per interval: energy drawn, produced, or drawn minus produced."""

    CONSUMPTION = "consumption"
    PRODUCTION = "production"
    NET = "net"


class Aggregate(enum.Enum):
    """Which series are forecast: the sum over all meters, each meter, or each bus."""

    TOTAL = "total"
    METER = "meter"
    BUS = "bus"


#: The quantile levels every gridopt forecast carries (P10, P50, P90).
QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)


@dataclasses.dataclass(frozen=True)
class ForecastOptions:
    """Settings of a direct multi-horizon forecast.

    Parameters
    ----------
    target
        Quantity forecast (``consumption_kwh``, ``production_kwh`` or their difference).
    aggregate
        Series forecast: ``total`` (one series), ``meter`` or ``bus`` (needs a mapping).
    horizon_steps
        Number of intervals forecast from each origin (e.g. 24 hours or 48 half-hours).
    origin_hour
        Local hour of the daily forecast origins (the first forecast interval starts there).
    tz
        IANA time zone of the local calendar (hour, weekday, holidays); ``None`` takes the
        ``tz`` attribute of the data, else UTC.
    country
        Country code for the ``holidays`` package (e.g. ``"AU"``); ``None`` for no holidays.
    subdivision
        State or province for the ``holidays`` package (e.g. ``"VIC"``), optional.
    latitude_deg, longitude_deg
        Site position for solar geometry features (production and net targets).
    history_days
        Days of recent history turned into lag and rolling features.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Gradient boosting settings of the global model (one model per quantile). ``None`` leaves
        and leaf sizes take the target's default (:meth:`tree_size`): 31 leaves of at least 40
        rows, and for PV production 15 leaves of at least 200 rows (day-to-day PV is mostly
        noise around the clear-sky envelope; smaller trees overfit it and lose to persistence).
    calibration
        ``"conformal"`` widens or narrows the P10/P90 band so that the calibration tail of the
        training data has the nominal coverage (conformalised quantile regression);
        ``"none"`` keeps the raw quantile-loss models.
    calibration_fraction
        Share of the latest training origins held out for the conformal calibration.
    random_state
        Seed of the boosting models (deterministic training).
    n_threads
        OpenMP threads for training and prediction (``None``: all cores).
    """

    target: Target = Target.CONSUMPTION
    aggregate: Aggregate = Aggregate.TOTAL
    horizon_steps: int = 24
    origin_hour: int = 0
    tz: str | None = None
    country: str | None = None
    subdivision: str | None = None
    latitude_deg: float | None = None
    longitude_deg: float | None = None
    history_days: int = 7
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int | None = None
    min_samples_leaf: int | None = None
    l2_regularization: float = 1.0
    calibration: str = "conformal"
    calibration_fraction: float = 0.3
    random_state: int = 0
    n_threads: int | None = None

    def __post_init__(self) -> None:
        if self.horizon_steps < 1:
            raise InputError(
                f"horizon_steps is {self.horizon_steps}; give a positive number of intervals "
                "(e.g. --horizon 24)"
            )
        if not 0 <= self.origin_hour <= 23:
            raise InputError(f"origin_hour is {self.origin_hour}; give a local hour 0..23")
        if self.history_days < 7:
            raise InputError(
                f"history_days is {self.history_days}; the weekly lag needs at least 7 days"
            )
        if self.calibration not in ("conformal", "none"):
            raise InputError(f"calibration is {self.calibration!r}; choose 'conformal' or 'none'")
        if not 0.0 < self.calibration_fraction < 0.9:
            raise InputError(
                f"calibration_fraction is {self.calibration_fraction}; choose a value in (0, 0.9)"
            )
        if (self.latitude_deg is None) != (self.longitude_deg is None):
            raise InputError("give both latitude and longitude for solar geometry, or neither")
        if self.latitude_deg is not None and not -90.0 <= self.latitude_deg <= 90.0:
            raise InputError(f"latitude {self.latitude_deg} is outside [-90, 90] degrees")

    def tree_size(self) -> tuple[int, int]:
        """``(max_leaf_nodes, min_samples_leaf)`` after applying the per-target defaults."""
        leaves, leaf_rows = (15, 200) if self.target is Target.PRODUCTION else (31, 40)
        return (
            self.max_leaf_nodes if self.max_leaf_nodes is not None else leaves,
            self.min_samples_leaf if self.min_samples_leaf is not None else leaf_rows,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the options as JSON-safe values (enums as their strings)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ForecastOptions:
        """Inverse of :meth:`to_dict`; unknown keys are an :class:`InputError`."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(
                f"unknown forecast option(s) {unknown}; the manifest was written by another "
                "gridopt version - retrain the model"
            )
        kwargs = dict(values)
        if "target" in kwargs:
            kwargs["target"] = Target(kwargs["target"])
        if "aggregate" in kwargs:
            kwargs["aggregate"] = Aggregate(kwargs["aggregate"])
        return cls(**kwargs)
