"""Feature construction: no look-ahead, correct lags, local calendar, solar geometry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridopt.errors import InputError
from gridopt.forecast.features import (
    build_features,
    calendar_features,
    cos_solar_zenith,
    daily_origins,
)
from gridopt.forecast.options import ForecastOptions
from gridopt.forecast.series import interval_seconds

TZ = "Etc/GMT+8"


def _grid(n: int, start: str = "2022-08-01T08:00") -> np.ndarray:
    return pd.date_range(start, periods=n, freq="h").values.astype("datetime64[ns]")


def test_features_use_no_value_at_or_after_the_origin(homes) -> None:
    values = homes["consumption_kwh"].values
    time = homes["time"].values
    options = ForecastOptions(horizon_steps=36, tz=TZ)
    origins = daily_origins(time, TZ, 0)
    origins = origins[(origins >= 7 * 24) & (origins + 36 <= len(time))][:20]
    base = build_features(values, time, origins, options, interval_s=3600, tz=TZ)
    rng = np.random.default_rng(1)
    for origin in origins[::5]:
        scrambled = values.copy()
        scrambled[origin:] = rng.uniform(0, 50, size=scrambled[origin:].shape)
        again = build_features(
            values=scrambled,
            time=time,
            origins=np.array([origin]),
            options=options,
            interval_s=3600,
            tz=TZ,
        )
        rows = base.origin == origin
        np.testing.assert_array_equal(again.X, base.X[rows])
        assert not np.allclose(again.y, base.y[rows])  # the targets did change


def test_seasonal_lags_point_to_the_latest_known_same_time(homes) -> None:
    values = homes["consumption_kwh"].values
    time = homes["time"].values
    options = ForecastOptions(horizon_steps=48, tz=TZ)
    origin = int(daily_origins(time, TZ, 0)[20])
    fm = build_features(values, time, np.array([origin]), options, interval_s=3600, tz=TZ)
    lag_day = fm.column("lag_day") * fm.scale
    lag_week = fm.column("lag_week") * fm.scale
    h = fm.step
    t = fm.time
    expected_day = values[t - 24 * np.where(h <= 24, 1, 2), fm.series]
    np.testing.assert_allclose(lag_day, expected_day)
    np.testing.assert_allclose(lag_week, values[t - 168, fm.series])
    assert np.all(t - 24 * np.where(h <= 24, 1, 2) < origin)
    # target is the reading at the target interval
    np.testing.assert_allclose(fm.y * fm.scale, values[t, fm.series])


def test_calendar_is_local_with_holidays_across_dst() -> None:
    # Melbourne: clocks went forward on 2014-10-05 at 02:00 local (UTC+10 -> UTC+11)
    time = pd.date_range("2014-10-04T14:00", periods=48, freq="h").values.astype("datetime64[ns]")
    cal = calendar_features(time, "Australia/Melbourne", "AU", "VIC")
    hours = cal[:, 0]
    assert hours[0] == 0.0  # 2014-10-04 14:00 UTC = 2014-10-05 00:00 AEST
    assert hours[1] == 1.0 and hours[2] == 3.0  # 02:00 does not exist
    christmas = pd.date_range("2014-12-24T13:00", periods=24, freq="h").values.astype(
        "datetime64[ns]"
    )
    assert np.all(calendar_features(christmas, "Australia/Melbourne", "AU", "VIC")[:, 2] == 1.0)
    assert np.all(calendar_features(christmas, "Australia/Melbourne", None)[:, 2] == 0.0)
    with pytest.raises(InputError, match="country"):
        calendar_features(christmas, "UTC", "XX")


def test_daily_origins_follow_local_midnight_through_dst() -> None:
    time = pd.date_range("2014-10-01", periods=24 * 10, freq="h").values.astype("datetime64[ns]")
    origins = daily_origins(time, "Australia/Melbourne", 0)
    local = pd.DatetimeIndex(time[origins]).tz_localize("UTC").tz_convert("Australia/Melbourne")
    assert (local.hour == 0).all() and local.normalize().is_unique
    assert np.diff(origins).tolist().count(23) == 1  # the short day of the DST change


def test_solar_zenith_against_known_positions() -> None:
    # equinox 2023-03-20, solar noon at Greenwich about 12:07 UTC: sun nearly overhead at lat 0
    noon = np.array(["2023-03-20T12:07"], dtype="datetime64[ns]")
    assert cos_solar_zenith(noon, 0.0, 0.0)[0] > 0.999
    # June solstice noon at latitude 23.44 N: overhead; at 60 N the zenith is ~36.6 degrees
    solstice = np.array(["2023-06-21T12:02"], dtype="datetime64[ns]")
    assert cos_solar_zenith(solstice, 23.44, 0.0)[0] > 0.999
    assert cos_solar_zenith(solstice, 60.0, 0.0)[0] == pytest.approx(
        np.cos(np.radians(36.56)), abs=0.01
    )
    # midnight is dark; Fontana (UTC-8) local noon is bright
    assert (
        cos_solar_zenith(np.array(["2023-06-21T00:00"], dtype="datetime64[ns]"), 51.5, 0.0)[0]
        == 0.0
    )
    assert (
        cos_solar_zenith(np.array(["2023-06-21T20:00"], dtype="datetime64[ns]"), 34.09, -117.43)[0]
        > 0.95
    )


def test_irregular_time_is_refused_with_position() -> None:
    time = _grid(10)
    broken = np.delete(time, 4)
    assert interval_seconds(time) == 3600
    with pytest.raises(InputError, match="interval 4"):
        interval_seconds(broken)
