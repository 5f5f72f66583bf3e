"""Model store: round trip, hash and version checks, atomic layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from gridopt.errors import InputError
from gridopt.forecast import (
    Aggregate,
    ForecastOptions,
    list_versions,
    load_model,
    predict,
    read_manifest,
    save_model,
    train,
)
from gridopt.forecast.store import MANIFEST_FILE, MODEL_FILE

TZ = "Etc/GMT+8"


@pytest.fixture(scope="module")
def model(homes):
    options = ForecastOptions(
        aggregate=Aggregate.METER, max_iter=30, learning_rate=0.1, n_threads=1, tz=TZ, country="US"
    )
    return train(homes, options, train_end="2022-10-01")


def test_round_trip_gives_identical_forecasts(model, homes, tmp_path) -> None:
    folder = save_model(model, tmp_path, "homes", metrics={"gridopt": {"mae": 0.5}})
    assert folder == tmp_path / "homes" / "1"
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST_FILE, MODEL_FILE]
    loaded, manifest = load_model(tmp_path, "homes")
    assert manifest["backtest_metrics"] == {"gridopt": {"mae": 0.5}}
    assert manifest["training_data_sha256"] == model.data_sha256
    assert manifest["feature_names"] == list(model.feature_names)
    assert manifest["train_end"] < "2022-10-01T08:00:00+00:00"
    assert set(manifest["versions"]) >= {"gridopt", "scikit-learn", "numpy", "skops"}
    xr.testing.assert_identical(
        predict(model, homes, origin="2022-10-10"), predict(loaded, homes, origin="2022-10-10")
    )
    assert loaded.options == model.options


def test_versions_increment_and_are_never_overwritten(model, tmp_path) -> None:
    save_model(model, tmp_path, "homes")
    save_model(model, tmp_path, "homes")
    save_model(model, tmp_path, "homes", version="2024-q1")
    assert list_versions(tmp_path, "homes") == ["1", "2", "2024-q1"]
    with pytest.raises(InputError, match="exists"):
        save_model(model, tmp_path, "homes", version="2")
    assert read_manifest(tmp_path, "homes", "2")["version"] == "2"
    assert not [p for p in (tmp_path / "homes").iterdir() if p.name.startswith(".")]
    with pytest.raises(InputError, match="not allowed"):
        save_model(model, tmp_path, "../evil")


def test_tampered_model_file_is_refused(model, tmp_path) -> None:
    folder = save_model(model, tmp_path, "homes")
    path = folder / MODEL_FILE
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(InputError, match="SHA-256"):
        load_model(tmp_path, "homes")


def test_version_mismatch_is_refused(model, tmp_path) -> None:
    folder = save_model(model, tmp_path, "homes")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["versions"]["scikit-learn"] = "0.24.2"
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"scikit-learn 0\.24\.2"):
        load_model(tmp_path, "homes")
    loaded, _ = load_model(tmp_path, "homes", check_versions=False)
    assert np.array_equal(loaded.regressor.calibration_shift_, model.regressor.calibration_shift_)


def test_missing_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(InputError, match="no model 'nothing'"):
        load_model(tmp_path, "nothing")
