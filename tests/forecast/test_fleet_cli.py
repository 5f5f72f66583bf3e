"""``gridopt forecast train|predict --workers N --max-rows R``: the fleet path from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from gridopt.forecast import load_model, predict
from gridopt.ingest import write_netcdf

from .test_forecast_cli import FAST, run


def test_train_and_predict_on_two_workers_match_one_process(homes, tmp_path: Path,
                                                            capsys) -> None:
    data = tmp_path / "homes.nc"
    write_netcdf(homes, data)
    store = tmp_path / "models"
    common = ["--aggregate", "meter", "--store", str(store), "--max-rows", "15000",
              "--sample-seed", "2", "--block-meters", "6", *FAST]
    assert run(["forecast", "train", str(data), "--name", "local", *common, "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert local["max_rows"] == 15000 and local["rows"] <= 15000
    assert run(["forecast", "train", str(data), "--name", "fleet", "--workers", "2",
                "--memory-limit", "1GiB", *common, "--json"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote["workers"] == 2 and remote["rows"] == local["rows"]
    out = tmp_path / "fleet.nc"
    assert run(["forecast", "predict", str(data), "--model", "fleet", "--store", str(store),
                "--workers", "2", "--block-meters", "5", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["series"] == homes.sizes["meter"]
    model, _ = load_model(store, "local")
    single = predict(model, homes)
    with xr.open_dataset(out) as fleet:
        np.testing.assert_allclose(fleet["consumption_kwh"].values,
                                   single["consumption_kwh"].values, rtol=0, atol=1e-9)
        assert fleet.attrs["origin"] == single.attrs["origin"]
        q = fleet["consumption_kwh"].values
        assert np.all(q[..., 0] <= q[..., 1]) and np.all(q[..., 1] <= q[..., 2])


def test_predict_on_an_existing_scheduler(homes, tmp_path: Path, capsys) -> None:
    from distributed import LocalCluster

    data = tmp_path / "homes.nc"
    write_netcdf(homes, data)
    store = tmp_path / "models"
    assert run(["forecast", "train", str(data), "--name", "m", "--aggregate", "meter",
                "--store", str(store), *FAST, "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "f.nc"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        assert run(["forecast", "predict", str(data), "--model", "m", "--store", str(store),
                    "--scheduler", cluster.scheduler_address, "--out", str(out)]) == 0
    model, _ = load_model(store, "m")
    with xr.open_dataset(out) as fleet:
        np.testing.assert_allclose(fleet["consumption_kwh"].values,
                                   predict(model, homes)["consumption_kwh"].values,
                                   rtol=0, atol=1e-9)
