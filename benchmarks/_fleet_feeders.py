"""Feeders for ``bench_fleet.py``: networks, their own meters and mappings, assets, a fleet file.

Feeder ``i`` takes network ``NETWORKS[i % len(NETWORKS)]`` and its own synthetic meters
(``../shared/tools/make_fleet_meters.py`` with seed ``1000 + i``: real CityLearn shapes, own
scales, shifts, noise and PV sizes). Its mapping puts one meter on every load bus of the
network, round-robin over the feeder's meters, with a ``scale`` that makes the bus's mean
demand 40 % of the network's design load at that bus (jittered +-20 % by the feeder's
seed): the homes peak at about 2.5 times their mean, so every variant peaks near the
published load. Its assets: the grid connection (import and export, so that midday PV
surplus can leave) and one battery at the load bus with the highest index (4 h at 20 % of
the feeder's design load).

The networks, all radial distribution grids the job supports (``[network] spec``):

- ``case33bw`` (pandapower built-in, 33 buses, 12.66 kV);
- ``case118zh`` (MATPOWER file from ``../shared/data/reconfig``, 118 buses, 11 kV);
- ``simbench:1-LV-rural1--0-sw`` and ``simbench:1-LV-semiurb4--0-sw`` (SimBench LV, 0.4 kV);
- ``simbench:1-MV-rural--0-sw`` (SimBench MV, 20 kV).

The SimBench grids are saved as pandapower JSON with their static generators out of service
(the meters bring their own PV); the feeders name those files.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MAKE_METERS = SHARED / "tools" / "make_fleet_meters.py"
CASE118ZH = SHARED / "data" / "reconfig" / "case118zh.m"
NETWORKS = (
    "case33bw",
    "case118zh",
    "simbench:1-LV-rural1--0-sw",
    "simbench:1-MV-rural--0-sw",
    "simbench:1-LV-semiurb4--0-sw",
)
#: Planning instant (local time of the meters, UTC-08:00) and the days of readings before it.
NOW = "2022-09-26T00:00"
DAYS = 57
METERS_PER_FEEDER = 20
#: Mean demand of a synthetic meter, kW (the 17 homes' mean consumption, about 0.9 kWh/h).
METER_MEAN_KW = 0.9
#: Mean demand of a bus as a share of the network's (peak design) load there: the homes'
#: peak is about 2.5 times their mean, so the variants peak near the published loads.
MEAN_TO_DESIGN_LOAD = 0.4

SHARED_SECTIONS = f"""\
[fleet]
name = "bench-fleet"
now = "{NOW}"

[readings]
tz = "Etc/GMT+8"

[forecast]
horizon_steps = 24
origin_hour = 0
train_days = 28
production = true
country = "US"
latitude_deg = 34.1
longitude_deg = -117.4
max_iter = 50
threads = 1

[reconfigure]
enabled = false

[dispatch]
max_iterations = 12
threads = 1

[output]
plots = false
"""


@dataclass(frozen=True)
class Feeder:
    """One benchmark feeder: name, network spec and its files (relative to the fleet file)."""

    name: str
    network: str
    readings: str
    mapping: str
    assets: str

    def table(self) -> str:
        """The ``[[feeder]]`` table."""
        return (f'\n[[feeder]]\nname = "{self.name}"\nnetwork = "{self.network}"\n'
                f'mapping = "{self.mapping}"\nassets = "{self.assets}"\n'
                f'readings = {{ path = "{self.readings}" }}\n')


def _spec(network: str) -> str:
    """``[[feeder]] network``: a name, or a file (relative to the fleet file's folder)."""
    if network == "case118zh":
        return str(CASE118ZH)
    if network.startswith("simbench:"):
        return f"{network.removeprefix('simbench:')}.json"
    return network


def _numeric_columns(net: object) -> None:
    """Object columns that hold only numbers (and NaN) as floats.

    SimBench's tables keep limits such as ``ext_grid.min_q_mvar`` as objects; pandapower's
    JSON round trip keeps them so, and its power flow then fails on ``np.isnan``.
    """
    for table in ("ext_grid", "load", "sgen", "bus", "line", "trafo", "switch"):
        frame = getattr(net, table, None)
        if frame is None:
            continue
        for column in frame.columns[frame.dtypes.map(lambda d: d.kind == "O")]:
            values = frame[column].dropna()
            if len(values) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                   for v in values):
                frame[column] = frame[column].astype(float)
            elif not len(values) and column.endswith(("_mw", "_mvar", "_pu", "_mva")):
                frame[column] = frame[column].astype(float)


def _load_net(folder: Path, network: str) -> Any:  # a pandapowerNet
    """The network; a SimBench grid is saved as JSON with its static generators out of
    service (the meters' PV forecast stands for them; left in, the grid's rated PV and wind
    would be injected on top of the homes' own PV)."""
    import pandapower as pp

    from gridopt.network.load import load_network

    if not network.startswith("simbench:"):
        return load_network(_spec(network)).pandapower_net()
    net = load_network(network).pandapower_net()
    net.sgen["in_service"] = False
    _numeric_columns(net)
    path = folder / _spec(network)
    if not path.exists():
        pp.to_json(net, str(path))
    return net


def _meters(path: Path, seed: int) -> None:
    if not path.exists():
        subprocess.run([sys.executable, str(MAKE_METERS), str(METERS_PER_FEEDER), str(path),
                        "--days", str(DAYS), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)


def _mapping(net: object, meters: list[str], seed: int) -> tuple[pd.DataFrame, int, float]:
    """One row per load bus; returns the table, the battery bus and the feeder's load (MW)."""
    load = net.load  # type: ignore[attr-defined]
    per_bus = load[load["in_service"]].groupby("bus")["p_mw"].sum()
    per_bus = per_bus[per_bus > 0]
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(0.8, 1.2, len(per_bus))
    rows = [{"meter_id": meters[j % len(meters)], "bus": int(bus),
             "power_factor": round(float(rng.uniform(0.9, 0.98)), 4),
             "scale": round(max(p_mw * 1000.0 * MEAN_TO_DESIGN_LOAD * jitter[j] / METER_MEAN_KW,
                               0.05), 3)}
            for j, (bus, p_mw) in enumerate(per_bus.items())]
    return pd.DataFrame(rows), int(per_bus.index.max()), float(per_bus.sum())


def _assets(battery_bus: int, load_mw: float) -> str:
    p_mw = round(max(0.2 * load_mw, 0.005), 4)
    return f"""\
[[storage]]
name = "bess"
bus = {battery_bus}
p_charge_max_mw = {p_mw}
p_discharge_max_mw = {p_mw}
energy_capacity_mwh = {round(4 * p_mw, 4)}
efficiency_charge = 0.95
efficiency_discharge = 0.95
soc_initial_percent = 50
soc_final_percent = 50
soc_min_percent = 10
soc_max_percent = 90
s_max_mva = {round(1.25 * p_mw, 4)}

[grid]
p_import_max_mw = {round(10 * load_mw + 1, 3)}
p_export_max_mw = {round(10 * load_mw + 1, 3)}
q_abs_max_mvar = {round(10 * load_mw + 1, 3)}
"""


def build_fleet(folder: Path, n_feeders: int) -> Path:
    """Write the inputs of ``n_feeders`` feeders and ``fleet.toml`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    nets = {network: _load_net(folder, network) for network in NETWORKS[:n_feeders]}
    tables = []
    for i in range(n_feeders):
        network = NETWORKS[i % len(NETWORKS)]
        name = f"f{i:03d}-{network.replace('simbench:', 'sb-').replace('--0-sw', '')}"
        readings = folder / f"{name}_meters.csv"
        _meters(readings, 1000 + i)
        meters = sorted(pd.read_csv(readings, usecols=["meter_id"])["meter_id"].unique())
        table, battery_bus, load_mw = _mapping(nets[network], meters, 2000 + i)
        table.to_csv(folder / f"{name}_mapping.csv", index=False)
        (folder / f"{name}_assets.toml").write_text(_assets(battery_bus, load_mw))
        feeder = Feeder(name=name, network=_spec(network), readings=readings.name,
                        mapping=f"{name}_mapping.csv", assets=f"{name}_assets.toml")
        tables.append(feeder.table())
    path = folder / "fleet.toml"
    path.write_text(SHARED_SECTIONS + "".join(tables))
    return path


__all__ = ["NETWORKS", "NOW", "build_fleet"]
