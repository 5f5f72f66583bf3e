"""The job configuration file (TOML) of ``gridopt run``: schema, defaults and validation.

Layout (every key is described in ``docs/job.md``; relative paths are relative to the config
file's directory)::

    [job]
    name = "case33bw-homes"       # label in the summary
    now = "2022-10-20T00:00"      # planning instant when --now is not given (local time)

    [network]
    spec = "case33bw"             # anything load_network accepts: name, .json/.m file, simbench:
    assets = "case33bw_assets.toml"

    [readings]
    path = "../meters/citylearn_homes_12w.csv"
    mapping = "../meters/case33bw_mapping.csv"
    tz = "Etc/GMT+8"              # local zone (calendar, naive timestamps, --now)
    fill = "linear"               # gap policy: none | linear
    max_fill_steps = 4
    weather = "../meters/citylearn_weather_12w.csv"   # optional covariates

    [forecast]
    horizon_steps = 24
    origin_hour = 0
    train_days = 56               # rolling training window (0: all history)
    production = true             # also forecast PV production (pv_p_mw for the dispatch)
    country = "US"
    latitude_deg = 34.1
    longitude_deg = -117.4
    max_iter = 100
    threads = 2

    [reconfigure]
    enabled = true
    periods = 1                   # the horizon is averaged into this many blocks for the MILP
    max_switching = 6
    local_search = true
    milp_time_limit_s = 300

    [dispatch]
    max_iterations = 12
    loss_tolerance = 0.005
    curtailment_penalty_per_mwh = 0.2
    cycling_penalty_per_mwh = 0.005
    threads = 1

    [output]
    dir = "runs"
    plots = true

Every error names the file, the section and key, what is wrong and how to fix it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridopt.errors import InputError
from gridopt.ingest.model import QuarantineBudget
from gridopt.network.samples import demo_config

#: Section -> key -> (accepted Python types, default, example for messages). A default of
#: ``REQUIRED`` marks mandatory keys.
REQUIRED = object()

_NUM = (int, float)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any, str]]] = {
    "job": {
        "name": ((str,), None, '"feeder-7"'),
        "now": ((str,), None, '"2022-10-20T00:00"'),
    },
    "network": {
        "spec": ((str,), REQUIRED, '"case33bw"'),
        "assets": ((str,), None, '"assets.toml"'),
    },
    "readings": {
        "path": ((str,), REQUIRED, '"readings.csv"'),
        "mapping": ((str,), REQUIRED, '"mapping.csv"'),
        "tz": ((str,), None, '"Australia/Melbourne"'),
        "freq": ((str,), None, '"30min"'),
        "fill": ((str,), "none", '"linear"'),
        "max_fill_steps": ((int,), 4, "4"),
        "weather": ((str,), None, '"weather.csv"'),
        "max_quarantine": (_NUM, 0.05, "0.05"),
        "max_meter_quarantine": (_NUM, 0.25, "0.25"),
    },
    "forecast": {
        "horizon_steps": ((int,), 24, "24"),
        "origin_hour": ((int,), 0, "0"),
        "train_days": ((int,), 0, "56"),
        "production": ((bool,), True, "true"),
        "country": ((str,), None, '"US"'),
        "subdivision": ((str,), None, '"CA"'),
        "latitude_deg": (_NUM, None, "34.1"),
        "longitude_deg": (_NUM, None, "-117.4"),
        "max_iter": ((int,), 300, "100"),
        "calibration": ((str,), "conformal", '"conformal"'),
        "threads": ((int,), None, "2"),
    },
    "reconfigure": {
        "enabled": ((bool,), False, "true"),
        "periods": ((int,), 1, "1"),
        "max_switching": ((int,), None, "6"),
        "local_search": ((bool,), True, "true"),
        "milp_time_limit_s": (_NUM, 300.0, "300"),
    },
    "dispatch": {
        "max_iterations": ((int,), 12, "12"),
        "loss_tolerance": (_NUM, 0.005, "0.005"),
        "curtailment_penalty_per_mwh": (_NUM, 0.2, "0.2"),
        "cycling_penalty_per_mwh": (_NUM, 0.005, "0.005"),
        "loss_weight_per_mwh": (_NUM, 1.0, "1.0"),
        "threads": ((int,), 1, "1"),
    },
    "output": {
        "dir": ((str,), "runs", '"runs"'),
        "plots": ((bool,), True, "true"),
    },
}


@dataclass(frozen=True)
class ForecastSettings:
    """``[forecast]``: what the job forecasts and how (see :class:`ForecastOptions`)."""

    horizon_steps: int = 24
    origin_hour: int = 0
    train_days: int = 0
    production: bool = True
    country: str | None = None
    subdivision: str | None = None
    latitude_deg: float | None = None
    longitude_deg: float | None = None
    max_iter: int = 300
    calibration: str = "conformal"
    threads: int | None = None


@dataclass(frozen=True)
class ReconfigureSettings:
    """``[reconfigure]``: optional loss-minimising reconfiguration before the dispatch."""

    enabled: bool = False
    periods: int = 1
    max_switching: int | None = None
    local_search: bool = True
    milp_time_limit_s: float = 300.0


@dataclass(frozen=True)
class DispatchSettings:
    """``[dispatch]``: weights and iteration limits (see :class:`DispatchOptions`)."""

    max_iterations: int = 12
    loss_tolerance: float = 0.005
    curtailment_penalty_per_mwh: float = 0.2
    cycling_penalty_per_mwh: float = 0.005
    loss_weight_per_mwh: float = 1.0
    threads: int = 1


@dataclass(frozen=True)
class JobConfig:
    """A validated job configuration with paths resolved against the config's directory.

    Attributes
    ----------
    path
        The config file (``None`` when built in Python).
    raw
        The config file's bytes (hashed into the run id).
    name
        Label of the job.
    now
        Default planning instant (``--now`` overrides it).
    network
        Network spec for :func:`gridopt.network.load.load_network` (a resolved path for
        ``.json``/``.m`` files).
    assets, readings, mapping, weather
        Input files.
    tz, freq, fill, max_fill_steps
        Ingestion settings.
    budget
        Quarantine budget of the readings (``max_quarantine``, ``max_meter_quarantine``): an
        over-budget readings file stops the run (exit 2, nothing published).
    forecast, reconfigure, dispatch
        Stage settings.
    out_dir
        Parent directory of run directories (``--out-dir`` overrides it).
    plots
        Write PNG figures.
    """

    path: Path | None
    raw: bytes
    name: str
    now: str | None
    network: str
    assets: Path | None
    readings: Path
    mapping: Path
    weather: Path | None
    tz: str | None
    freq: str | None
    fill: str
    max_fill_steps: int
    budget: QuarantineBudget = field(default_factory=QuarantineBudget)
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    reconfigure: ReconfigureSettings = field(default_factory=ReconfigureSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    out_dir: Path = Path("runs")
    plots: bool = True

    def input_files(self) -> dict[str, Path]:
        """Input files by role (hashed into the run id)."""
        files = {"readings": self.readings, "mapping": self.mapping}
        if self.assets is not None:
            files["assets"] = self.assets
        if self.weather is not None:
            files["weather"] = self.weather
        network = Path(self.network)
        if network.suffix.lower() in (".json", ".m") and network.is_file():
            files["network"] = network
        return files


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    if types == _NUM:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_value(where: str, section: str, key: str, value: Any) -> Any:
    types, _, example = SCHEMA[section][key]
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise InputError(
            f"{where}: [{section}] {key} = {value!r} must be {_type_name(types)}; "
            f"write e.g. {key} = {example}"
        )
    return float(value) if types == _NUM else value


def _section(where: str, doc: Mapping[str, Any], section: str) -> dict[str, Any]:
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise InputError(f"{where}: '{section}' must be a table: write [{section}] on its own line")
    allowed = SCHEMA[section]
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise InputError(
            f"{where}: [{section}] has unknown key(s) {unknown}; allowed keys are "
            f"{sorted(allowed)} (see docs/job.md)"
        )
    out: dict[str, Any] = {}
    for key, (_, default, example) in allowed.items():
        if key in table:
            out[key] = _check_value(where, section, key, table[key])
        elif default is REQUIRED:
            raise InputError(
                f"{where}: [{section}] {key} is missing; add it, e.g. {key} = {example}"
            )
        else:
            out[key] = default
    return out


def _resolve_file(where: str, base: Path, section: str, key: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise InputError(
            f"{where}: [{section}] {key} = {value!r}: no such file ({path}); paths are relative "
            "to the config file's directory"
        )
    return path


def _positive(where: str, section: str, key: str, value: float | int | None,
              minimum: float = 1) -> None:
    if value is not None and value < minimum:
        raise InputError(
            f"{where}: [{section}] {key} = {value} must be at least {minimum:g}; "
            f"e.g. {key} = {SCHEMA[section][key][2]}"
        )


def parse_config(raw: bytes, path: Path | None = None, base: Path | None = None) -> JobConfig:
    """Validate a job config given as TOML bytes.

    Parameters
    ----------
    raw
        TOML text.
    path
        The file it came from (for messages).
    base
        Directory relative paths are resolved against (default: the file's directory, else the
        working directory).

    Raises
    ------
    InputError
        Not TOML, unknown sections or keys, wrong types, missing required keys, missing input
        files, values out of range. The message names the key and the fix.

    Notes
    -----
    Long because it reads every section of the job config in the documented order, each key with
    its own error message.
    """
    where = str(path) if path is not None else "job config"
    base = base if base is not None else (path.parent if path is not None else Path.cwd())
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text ({exc}); save the config as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML: {exc}; fix the syntax") from None
    unknown = sorted(set(doc) - set(SCHEMA))
    if unknown:
        raise InputError(
            f"{where}: unknown section(s) {unknown}; allowed sections are {sorted(SCHEMA)} "
            "(see docs/job.md)"
        )
    s = {name: _section(where, doc, name) for name in SCHEMA}

    net_spec = s["network"]["spec"]
    if Path(net_spec).suffix.lower() in (".json", ".m"):
        net_spec = str(_resolve_file(where, base, "network", "spec", net_spec))
    files = {
        role: _resolve_file(where, base, section, key, s[section][key])
        if s[section][key] is not None else None
        for role, section, key in (("assets", "network", "assets"),
                                   ("readings", "readings", "path"),
                                   ("mapping", "readings", "mapping"),
                                   ("weather", "readings", "weather"))
    }
    if s["readings"]["fill"] not in ("none", "linear"):
        raise InputError(
            f"{where}: [readings] fill = {s['readings']['fill']!r}; choose \"none\" or \"linear\""
        )
    fc = s["forecast"]
    _positive(where, "forecast", "horizon_steps", fc["horizon_steps"])
    _positive(where, "forecast", "max_iter", fc["max_iter"])
    _positive(where, "forecast", "threads", fc["threads"])
    if not 0 <= fc["origin_hour"] <= 23:
        raise InputError(
            f"{where}: [forecast] origin_hour = {fc['origin_hour']} must be a local hour 0..23"
        )
    if fc["train_days"] and fc["train_days"] < 21:
        raise InputError(
            f"{where}: [forecast] train_days = {fc['train_days']} is too short: the forecaster "
            "needs a week of history before each of at least 10 daily origins; use 0 (all "
            "history) or at least 21"
        )
    if fc["calibration"] not in ("conformal", "none"):
        raise InputError(
            f"{where}: [forecast] calibration = {fc['calibration']!r}; choose \"conformal\" or "
            "\"none\""
        )
    if (fc["latitude_deg"] is None) != (fc["longitude_deg"] is None):
        raise InputError(
            f"{where}: [forecast] give both latitude_deg and longitude_deg (solar geometry of "
            "the PV forecast), or neither"
        )
    rc = s["reconfigure"]
    _positive(where, "reconfigure", "periods", rc["periods"])
    _positive(where, "reconfigure", "max_switching", rc["max_switching"])
    _positive(where, "reconfigure", "milp_time_limit_s", rc["milp_time_limit_s"], 1.0)
    if fc["horizon_steps"] % rc["periods"]:
        raise InputError(
            f"{where}: [reconfigure] periods = {rc['periods']} does not divide [forecast] "
            f"horizon_steps = {fc['horizon_steps']}; choose a divisor such as 1, 2, 4"
        )
    dp = s["dispatch"]
    _positive(where, "dispatch", "max_iterations", dp["max_iterations"])
    _positive(where, "dispatch", "threads", dp["threads"])
    if not 0 < dp["loss_tolerance"] < 1:
        raise InputError(
            f"{where}: [dispatch] loss_tolerance = {dp['loss_tolerance']} must lie in (0, 1); "
            "e.g. 0.005 (0.5 %)"
        )
    out_dir = Path(s["output"]["dir"]).expanduser()
    if not out_dir.is_absolute():
        out_dir = base / out_dir
    readings = files["readings"]
    mapping = files["mapping"]
    assert readings is not None and mapping is not None
    return JobConfig(
        path=path,
        raw=raw,
        name=s["job"]["name"] or (path.stem if path is not None else "job"),
        now=s["job"]["now"],
        network=net_spec,
        assets=files["assets"],
        readings=readings,
        mapping=mapping,
        weather=files["weather"],
        tz=s["readings"]["tz"],
        freq=s["readings"]["freq"],
        fill=s["readings"]["fill"],
        max_fill_steps=s["readings"]["max_fill_steps"],
        budget=_budget(where, s["readings"]),
        forecast=ForecastSettings(**fc),
        reconfigure=ReconfigureSettings(**rc),
        dispatch=DispatchSettings(**dp),
        out_dir=out_dir,
        plots=s["output"]["plots"],
    )


def _budget(where: str, readings: dict[str, Any]) -> QuarantineBudget:
    try:
        return QuarantineBudget(max_file_fraction=float(readings["max_quarantine"]),
                                max_meter_fraction=float(readings["max_meter_quarantine"]))
    except InputError as exc:
        raise InputError(f"{where}: [readings] {exc}") from None


def read_config(path: str | Path) -> JobConfig:
    """Read and validate a job config file (see :func:`parse_config`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: job config not found; check the --config path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the job config ({exc})") from None
    return parse_config(raw, path)


__all__ = [
    "SCHEMA",
    "DispatchSettings",
    "ForecastSettings",
    "JobConfig",
    "ReconfigureSettings",
    "demo_config",
    "parse_config",
    "read_config",
]
