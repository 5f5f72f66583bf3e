"""``gridopt forecast train|predict|backtest`` through its own argparse parser."""

from __future__ import annotations

import argparse
import json

import pytest
import xarray as xr

from gridopt.cli import forecast as forecast_cli
from gridopt.ingest import write_netcdf

from .conftest import HOMES_CSV, MAPPING_CSV, WEATHER_CSV

TZ = "Etc/GMT+8"
FAST = ["--max-iter", "30", "--threads", "1", "--tz", TZ, "--country", "US"]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridopt")
    forecast_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture(scope="module")
def homes_nc(homes, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "homes.nc"
    write_netcdf(homes.isel(meter=slice(0, 6)), path)
    return path


def test_backtest_json_has_the_contract_fields(homes_nc, capsys) -> None:
    code = run(
        [
            "forecast",
            "backtest",
            str(homes_nc),
            "--aggregate",
            "meter",
            "--test-start",
            "2022-10-16",
            "--test-end",
            "2022-10-22",
            "--json",
            *FAST,
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_origins"] == 7
    assert {"train_seconds", "predict_seconds"} <= set(out)
    for name in ("gridopt", "seasonal_naive_day", "seasonal_naive_week"):
        assert {"mae", "rmse", "mase"} <= set(out["metrics"][name])
    assert {"pinball_p10", "pinball_p90", "coverage_p10_p90"} <= set(out["metrics"]["gridopt"])


def test_train_then_predict_with_weather_and_bus_output(homes_nc, tmp_path, capsys) -> None:
    store = tmp_path / "models"
    code = run(
        [
            "forecast",
            "train",
            str(HOMES_CSV),
            "--aggregate",
            "meter",
            "--weather",
            str(WEATHER_CSV),
            "--name",
            "homes",
            "--store",
            str(store),
            "--train-end",
            "2022-10-15",
            "--json",
            *FAST,
        ]
    )
    assert code == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["version"] == "1" and (store / "homes" / "1" / "manifest.json").is_file()
    out, bus_out = tmp_path / "fc.nc", tmp_path / "bus.nc"
    code = run(
        [
            "forecast",
            "predict",
            str(HOMES_CSV),
            "--model",
            "homes@1",
            "--store",
            str(store),
            "--weather",
            str(WEATHER_CSV),
            "--origin",
            "2022-10-20",
            "--out",
            str(out),
            "--bus-out",
            str(bus_out),
            "--mapping",
            str(MAPPING_CSV),
            "--json",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 24 and summary["series"] == 17
    with xr.open_dataset(out) as forecast:
        assert forecast["consumption_kwh"].dims == ("time", "meter", "quantile")
    with xr.open_dataset(bus_out) as demand:
        assert demand["p_mw"].dims == ("time", "bus") and demand.sizes["bus"] == 32


def test_bad_inputs_exit_with_code_2(homes_nc, tmp_path, capsys) -> None:
    missing = tmp_path / "nope.nc"
    assert (
        run(
            [
                "forecast",
                "backtest",
                str(missing),
                "--test-start",
                "2022-10-16",
                "--test-end",
                "2022-10-22",
                "--json",
            ]
        )
        == 2
    )
    err = json.loads(capsys.readouterr().out)
    assert err["status"] == "error" and "nope.nc" in err["message"]
    bad_weather = tmp_path / "weather.csv"
    bad_weather.write_text("time,temp\n2022-10-01T00:00Z,12\n")
    assert (
        run(
            [
                "forecast",
                "train",
                str(homes_nc),
                "--weather",
                str(bad_weather),
                "--name",
                "x",
                "--store",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "timestamp" in capsys.readouterr().err
    assert (
        run(["forecast", "predict", str(homes_nc), "--model", "absent", "--store", str(tmp_path)])
        == 2
    )
    assert not (tmp_path / "x").exists()
