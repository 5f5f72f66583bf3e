"""Model store: ``<store>/<name>/<version>/{model.skops, manifest.json}``.

The model file is written with :mod:`skops.io` (no pickle). ``manifest.json`` records what the
model was trained on and with: options, feature names, training period, SHA-256 of the training
data, package versions, backtest metrics and the SHA-256 of the model file.

Loading re-hashes the model file and refuses it if the hash differs from the manifest, refuses a
model written by another scikit-learn / skops / gridopt minor version (its trees may not load
faithfully), and loads only the types on an explicit allow-list (scikit-learn, NumPy and
gridopt's own estimators): a model file is code when unpacked.

Each version directory is written beside its final place and renamed into it (atomic on POSIX):
a reader never sees half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gridopt.errors import InputError
from gridopt.forecast.estimators import QuantileBoostingRegressor
from gridopt.forecast.forecaster import TrainedForecaster
from gridopt.forecast.options import ForecastOptions

MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Module prefixes whose types may be loaded from a model file.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "gridopt.forecast.estimators.", "builtins.")


def _versions() -> dict[str, str]:
    import sklearn
    import skops

    import gridopt

    return {
        "gridopt": gridopt.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "skops": skops.__version__,
    }


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(kind: str, value: str) -> None:
    if not _NAME.match(value):
        raise InputError(
            f"model {kind} {value!r} is not allowed; use letters, digits, '_', '-', '.' "
            "(no slashes, not starting with a dot)"
        )


def list_versions(store: Path, name: str) -> list[str]:
    """Versions of a model in the store, oldest first (numeric versions sort numerically)."""
    folder = Path(store) / name
    if not folder.is_dir():
        return []
    versions = [p.name for p in folder.iterdir() if p.is_dir() and (p / MANIFEST_FILE).is_file()]
    return sorted(versions, key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v))


def manifest_of(model: TrainedForecaster, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """Manifest fields that describe a trained model (without the model file hash)."""
    return {
        "schema": MANIFEST_SCHEMA,
        "options": model.options.to_dict(),
        "feature_names": list(model.feature_names),
        "weather_names": list(model.weather_names),
        "interval_s": model.interval_s,
        "tz": model.tz,
        "series": list(model.series),
        "series_dim": model.series_dim,
        "train_start": model.train_start,
        "train_end": model.train_end,
        "training_data_sha256": model.data_sha256,
        "n_train_rows": model.n_train_rows,
        "mase_scale": model.mase_scale,
        "train_seconds": round(model.train_seconds, 3),
        "versions": _versions(),
        "backtest_metrics": metrics or {},
    }


def save_model(
    model: TrainedForecaster,
    store: Path,
    name: str,
    version: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a model version atomically and return its directory.

    Parameters
    ----------
    model
        The trained forecaster.
    store
        Store root (e.g. ``models/``).
    name
        Model name (one directory level).
    version
        Version label; default the next integer after the highest numeric version.
    metrics
        Backtest metrics to record in the manifest.

    Raises
    ------
    InputError
        If the name or version is malformed or the version exists already.
    """
    import skops.io as sio

    _check_name("name", name)
    folder = Path(store) / name
    if version is None:
        numeric = [int(v) for v in list_versions(Path(store), name) if v.isdigit()]
        version = str(max(numeric, default=0) + 1)
    _check_name("version", version)
    final = folder / version
    if final.exists():
        raise InputError(
            f"model {name!r} version {version!r} exists at {final}; choose another --version"
        )
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=folder))
    try:
        model_path = staging / MODEL_FILE
        sio.dump(model.regressor, model_path)
        manifest = manifest_of(model, metrics)
        manifest["name"] = name
        manifest["version"] = version
        manifest["model_file"] = MODEL_FILE
        manifest["model_sha256"] = _sha256(model_path)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        os.chmod(staging, 0o755)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def read_manifest(store: Path, name: str, version: str | None = None) -> dict[str, Any]:
    """Read a model's manifest (latest version by default)."""
    _check_name("name", name)
    versions = list_versions(Path(store), name)
    if not versions:
        raise InputError(
            f"no model {name!r} in store {store}; train one with 'gridopt forecast train'"
        )
    if version is None:
        version = versions[-1]
    _check_name("version", version)
    path = Path(store) / name / version / MANIFEST_FILE
    if not path.is_file():
        raise InputError(
            f"model {name!r} has no version {version!r} in {store} (versions: {versions})"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}; the store entry is damaged, retrain") from exc
    if manifest.get("schema") != MANIFEST_SCHEMA:
        raise InputError(
            f"{path} has manifest schema {manifest.get('schema')!r}, expected {MANIFEST_SCHEMA}"
        )
    manifest.setdefault("version", version)
    return manifest


def load_model(
    store: Path, name: str, version: str | None = None, *, check_versions: bool = True
) -> tuple[TrainedForecaster, dict[str, Any]]:
    """Load a model version after checking its hash, package versions and types.

    Returns
    -------
    model, manifest

    Raises
    ------
    InputError
        If the model is missing, its file hash differs from the manifest, it was written by other
        package versions (unless ``check_versions=False``), or it holds untrusted types.
    """
    import skops.io as sio

    manifest = read_manifest(store, name, version)
    folder = Path(store) / name / str(manifest["version"])
    model_path = folder / str(manifest.get("model_file", MODEL_FILE))
    if not model_path.is_file():
        raise InputError(f"model file {model_path} is missing; the store entry is damaged, retrain")
    actual = _sha256(model_path)
    if actual != manifest.get("model_sha256"):
        raise InputError(
            f"refusing {model_path}: its SHA-256 {actual[:16]}... differs from the manifest's "
            f"{str(manifest.get('model_sha256'))[:16]}...; the file was changed after training - "
            "retrain or restore it"
        )
    if check_versions:
        current = _versions()
        for package in ("gridopt", "scikit-learn", "skops"):
            written = str(manifest.get("versions", {}).get(package, "?"))
            if _minor(written) != _minor(current[package]):
                raise InputError(
                    f"model {name!r} version {manifest['version']!r} was written with {package} "
                    f"{written}, this is {current[package]}; retrain it with this installation"
                )
    untrusted = sio.get_untrusted_types(file=model_path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise InputError(f"refusing {model_path}: it holds types outside the allow-list: {refused}")
    regressor = sio.load(model_path, trusted=untrusted)
    if not isinstance(regressor, QuantileBoostingRegressor):
        raise InputError(f"{model_path} does not hold a gridopt QuantileBoostingRegressor")
    model = TrainedForecaster(
        options=ForecastOptions.from_dict(manifest["options"]),
        regressor=regressor,
        feature_names=tuple(manifest["feature_names"]),
        weather_names=tuple(manifest["weather_names"]),
        interval_s=int(manifest["interval_s"]),
        tz=str(manifest["tz"]),
        series=tuple(manifest["series"]),
        series_dim=str(manifest["series_dim"]),
        train_start=str(manifest["train_start"]),
        train_end=str(manifest["train_end"]),
        data_sha256=str(manifest["training_data_sha256"]),
        n_train_rows=int(manifest["n_train_rows"]),
        mase_scale=float(manifest["mase_scale"]),
        train_seconds=float(manifest["train_seconds"]),
    )
    return model, manifest
