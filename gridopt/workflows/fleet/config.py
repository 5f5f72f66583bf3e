"""The fleet file (TOML) of ``gridopt fleet run``: shared job sections plus one table per feeder.

Layout (every key is described in ``docs/fleet.md``; relative paths are relative to the fleet
file's directory)::

    [fleet]
    name = "west"                     # label in the fleet summary
    now = "2022-10-20T00:00"          # planning instant when --now is not given (local time)

    [readings]                        # the job's [readings], shared by every feeder
    path = "../meters/citylearn_homes_12w.csv"
    tz = "Etc/GMT+8"

    [forecast]                        # the job's [forecast], [reconfigure], [dispatch], [output]
    horizon_steps = 24

    [[feeder]]
    name = "demo"                     # letters, digits, . _ - (names the feeder's folder)
    network = "case33bw"              # anything [network] spec of the job accepts
    mapping = "../meters/case33bw_mapping.csv"
    assets = "../jobs/case33bw_assets.toml"   # optional

    [[feeder]]
    name = "north"
    network = "north.json"
    mapping = "north_mapping.csv"
    readings = { path = "north.csv" } # optional: overrides of [readings] for this feeder

Each feeder becomes a job configuration (:func:`feeder_job_config`): a job TOML text made of
the shared sections, the feeder's network, assets and mapping and its ``[readings]``
overrides, validated by :func:`gridopt.workflows.jobconfig.parse_config`. Its bytes are what
the feeder's run id hashes, so a feeder's run id does not change when another feeder is added,
removed or edited.

Errors in the fleet file itself (syntax, unknown sections or keys, types, duplicate names,
values out of range) are :class:`InputError` from :func:`read_fleet_config` (exit 2, nothing
runs). A feeder whose *inputs* are missing or unreadable (network, mapping, assets or readings
file) fails alone: :func:`feeder_job_config` raises for it and the fleet reports it.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridopt.errors import InputError
from gridopt.workflows.jobconfig import SCHEMA, JobConfig, parse_config

#: Sections of the job config that the fleet file shares between all feeders, in job order.
SHARED_SECTIONS = ("readings", "forecast", "reconfigure", "dispatch", "output")
#: Keys of a ``[[feeder]]`` table: name -> (required, example).
FEEDER_KEYS: dict[str, tuple[bool, str]] = {
    "name": (True, '"feeder-7"'),
    "network": (True, '"case33bw"'),
    "mapping": (True, '"feeder-7_mapping.csv"'),
    "assets": (False, '"feeder-7_assets.toml"'),
    "readings": (False, '{ path = "feeder-7.csv" }'),
}
#: ``[fleet]`` keys: name -> example.
FLEET_KEYS = {"name": '"west"', "now": '"2022-10-20T00:00"'}
#: ``[readings]`` keys a feeder may override (the mapping is the feeder's own key).
READING_OVERRIDES = tuple(k for k in SCHEMA["readings"] if k != "mapping")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class FeederSpec:
    """One ``[[feeder]]`` table, as written (paths unresolved).

    Attributes
    ----------
    name
        Feeder name (folder name of its run directories).
    network
        Network spec (``[network] spec`` of the job).
    mapping
        Meter-to-bus mapping file (``[readings] mapping`` of the job).
    assets
        Optional assets TOML (``[network] assets`` of the job).
    readings
        Overrides of the shared ``[readings]`` keys.
    """

    name: str
    network: str
    mapping: str
    assets: str | None = None
    readings: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class FleetConfig:
    """A validated fleet file.

    Attributes
    ----------
    path
        The fleet file (``None`` when parsed from bytes without a file).
    raw
        The fleet file's bytes.
    base
        Directory relative paths are resolved against.
    name
        Label of the fleet.
    now
        Default planning instant (``--now`` overrides it).
    shared
        The shared job sections as written (section -> key -> value).
    feeders
        The feeders, in file order.
    out_dir
        Parent directory of fleet run directories (``--out-dir`` overrides it).
    """

    path: Path | None
    raw: bytes
    base: Path
    name: str
    now: str | None
    shared: Mapping[str, Mapping[str, Any]]
    feeders: tuple[FeederSpec, ...]
    out_dir: Path

    @property
    def where(self) -> str:
        """How messages name the fleet file."""
        return str(self.path) if self.path is not None else "fleet config"

    @property
    def tz(self) -> str | None:
        """The shared ``[readings] tz`` (local zone of a naive ``now``)."""
        value = self.shared.get("readings", {}).get("tz")
        return str(value) if value is not None else None


def _toml_value(value: Any) -> str:
    """A scalar as TOML (strings as basic strings: JSON escapes are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _toml_text(doc: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for section, table in doc.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines)


def _job_doc(cfg: FleetConfig, feeder: FeederSpec,
             files: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The job config of one feeder as sections.

    ``files`` (for :func:`_probe`) replaces the feeder's own files: ``network`` the network
    spec, ``file`` the mapping, assets and overridden readings files.
    """
    readings = {**cfg.shared.get("readings", {}), **dict(feeder.readings)}
    network: dict[str, Any] = {"spec": feeder.network}
    if feeder.assets is not None:
        network["assets"] = feeder.assets
    readings["mapping"] = feeder.mapping
    if files is not None:
        network["spec"] = files["network"]
        if "assets" in network:
            network["assets"] = files["file"]
        readings["mapping"] = files["file"]
        overridden = dict(feeder.readings)
        for key in ("path", "weather"):
            if key in overridden:
                readings[key] = files["file"]
    doc: dict[str, dict[str, Any]] = {"job": {"name": feeder.name}, "network": network,
                                      "readings": readings}
    for section in SHARED_SECTIONS[1:]:
        table = dict(cfg.shared.get(section, {}))
        if section == "output":
            table.pop("dir", None)  # the fleet chooses the feeders' folders
        if table:
            doc[section] = table
    return doc


def feeder_job_config(cfg: FleetConfig, feeder: FeederSpec) -> JobConfig:
    """The job configuration of one feeder (its inputs resolved and checked).

    Raises
    ------
    InputError
        A file of this feeder is missing (the message names the feeder and the key).
    """
    raw = _toml_text(_job_doc(cfg, feeder)).encode()
    try:
        return parse_config(raw, path=cfg.path, base=cfg.base)
    except InputError as exc:
        raise InputError(f"[[feeder]] {feeder.name!r}: {_feeder_terms(str(exc))}") from None


def _feeder_terms(message: str) -> str:
    """Name the feeder's own keys as the fleet file spells them."""
    return (message.replace("[network] spec", "network").replace("[network] assets", "assets")
            .replace("[readings] mapping", "mapping"))


def _check_type(where: str, table: str, key: str, value: Any,
                types: tuple[type, ...], example: str) -> None:
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise InputError(f"{where}: {table} {key} = {value!r} has the wrong type; write e.g. "
                         f"{key} = {example}")


def _feeder(where: str, index: int, table: Any) -> FeederSpec:
    label = f"[[feeder]] #{index + 1}"
    if not isinstance(table, dict):
        raise InputError(f"{where}: {label} must be a table; write [[feeder]] on its own line "
                         "followed by name = ..., network = ..., mapping = ...")
    if isinstance(table.get("name"), str):
        label = f"[[feeder]] {table['name']!r}"
    unknown = sorted(set(table) - set(FEEDER_KEYS))
    if unknown:
        raise InputError(f"{where}: {label} has unknown key(s) {unknown}; allowed keys are "
                         f"{sorted(FEEDER_KEYS)} (other job settings are shared: put them in "
                         "[readings], [forecast], ... for every feeder)")
    for key, (required, example) in FEEDER_KEYS.items():
        if key not in table:
            if required:
                raise InputError(f"{where}: {label} has no {key}; add e.g. {key} = {example}")
            continue
        types: tuple[type, ...] = (dict,) if key == "readings" else (str,)
        _check_type(where, label, key, table[key], types, example)
    if not _NAME.match(table["name"]):
        raise InputError(f"{where}: {label} name must be 1-64 letters, digits, '.', '_' or '-' "
                         "starting with a letter or digit (it names the feeder's folder)")
    overrides = table.get("readings", {})
    bad = sorted(set(overrides) - set(READING_OVERRIDES))
    if bad:
        raise InputError(f"{where}: {label} readings has unknown key(s) {bad}; a feeder may "
                         f"override {list(READING_OVERRIDES)} (its mapping is the feeder's "
                         "mapping key)")
    for key, value in overrides.items():
        types, _, example = SCHEMA["readings"][key]
        _check_type(where, f"{label} readings", key, value, types, example)
    return FeederSpec(name=table["name"], network=table["network"], mapping=table["mapping"],
                      assets=table.get("assets"), readings=tuple(sorted(overrides.items())))


def _top_level(where: str, doc: Mapping[str, Any]) -> None:
    allowed = {"fleet", "feeder", *SHARED_SECTIONS}
    hints = {"job": "use [fleet] (name, now) in a fleet file",
             "network": "the network is per feeder: write network = ... (and assets = ...) in "
                        "each [[feeder]] table"}
    for key in sorted(set(doc) - allowed):
        hint = hints.get(key, f"allowed sections are {sorted(allowed)} (see docs/fleet.md)")
        raise InputError(f"{where}: unknown section [{key}]; {hint}")
    for section in ("fleet", *SHARED_SECTIONS):
        if section in doc and not isinstance(doc[section], dict):
            raise InputError(f"{where}: '{section}' must be a table: write [{section}] on its "
                             "own line")
    fleet = doc.get("fleet", {})
    for key in sorted(set(fleet) - set(FLEET_KEYS)):
        raise InputError(f"{where}: [fleet] has unknown key {key!r}; allowed keys are "
                         f"{sorted(FLEET_KEYS)}")
    for key, example in FLEET_KEYS.items():
        if key in fleet:
            _check_type(where, "[fleet]", key, fleet[key], (str,), example)
    if "mapping" in doc.get("readings", {}):
        raise InputError(f"{where}: [readings] mapping: the mapping is per feeder; move it to "
                         "each [[feeder]] table as mapping = ...")
    feeders = doc.get("feeder")
    if not isinstance(feeders, list) or not feeders:
        raise InputError(f"{where}: no [[feeder]] tables; add one per feeder, e.g.\n"
                         '[[feeder]]\nname = "feeder-7"\nnetwork = "case33bw"\n'
                         'mapping = "feeder-7_mapping.csv"')


def _probe(cfg: FleetConfig, feeder: FeederSpec, label: str) -> None:
    """Validate one feeder's job config with its own files replaced by a file that exists.

    Whatever is wrong then is wrong in the fleet file (types, ranges, missing keys), not in
    the feeder's inputs.
    """
    # any file that exists will do: parse_config only checks that the feeder's files exist
    doc = _job_doc(cfg, feeder, {"network": "fleet-probe", "file": str(Path(__file__))})
    try:
        parse_config(_toml_text(doc).encode(), path=cfg.path, base=cfg.base)
    except InputError as exc:
        message = str(exc)
        if "[readings] path is missing" in message:
            message = (f"{cfg.where}: [readings] path is missing; add it to [readings] (every "
                       f"feeder) or as readings = {{ path = ... }} to [[feeder]] {feeder.name!r}")
        raise InputError(f"{label}{message}") from None


def parse_fleet_config(raw: bytes, path: Path | None = None,
                       base: Path | None = None) -> FleetConfig:
    """Validate a fleet file given as TOML bytes.

    Raises
    ------
    InputError
        Not TOML, unknown sections or keys, wrong types, missing or duplicate feeder names,
        values out of range (the message names the table, the key and the fix). Missing input
        files of a feeder are not checked here (see :func:`feeder_job_config`), but a missing
        shared ``[readings] path`` or ``weather`` is.
    """
    where = str(path) if path is not None else "fleet config"
    base = base if base is not None else (path.parent if path is not None else Path.cwd())
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text ({exc}); save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML: {exc}; fix the syntax") from None
    _top_level(where, doc)
    feeders = tuple(_feeder(where, i, t) for i, t in enumerate(doc["feeder"]))
    seen: set[str] = set()
    for f in feeders:
        if f.name in seen:
            raise InputError(f"{where}: two [[feeder]] tables are named {f.name!r}; give each "
                             "feeder its own name")
        seen.add(f.name)
    out = Path(str(doc.get("output", {}).get("dir", "runs"))).expanduser()
    cfg = FleetConfig(
        path=path, raw=raw, base=base,
        name=str(doc.get("fleet", {}).get("name") or (path.stem if path is not None else "fleet")),
        now=doc.get("fleet", {}).get("now"),
        shared={s: dict(doc[s]) for s in SHARED_SECTIONS if s in doc},
        feeders=feeders,
        out_dir=out if out.is_absolute() else base / out,
    )
    for f in feeders:
        _probe(cfg, f, f"[[feeder]] {f.name!r}: " if f.readings else "")
    return cfg


def read_fleet_config(path: str | Path) -> FleetConfig:
    """Read and validate a fleet file (see :func:`parse_fleet_config`)."""
    path = Path(path).absolute()  # workers may run elsewhere: every path they get is absolute
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: fleet config not found; check the --config path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the fleet config ({exc})") from None
    return parse_fleet_config(raw, path)


__all__ = [
    "FEEDER_KEYS",
    "SHARED_SECTIONS",
    "FeederSpec",
    "FleetConfig",
    "feeder_job_config",
    "parse_fleet_config",
    "read_fleet_config",
]
