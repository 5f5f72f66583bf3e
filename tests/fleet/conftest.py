"""Small fleets built from the shipped sample data: the 17 CityLearn homes on case33bw variants.

Every feeder reads the same homes; they differ in network and meter-to-bus mapping:

- ``demo``: case33bw, the demo mapping and assets;
- ``half``: case33bw, every bus with half the homes (``scale // 2``), the demo assets;
- ``json33``: case33bw saved as a pandapower JSON file with 10 % lower line resistance, the
  homes moved one bus down the feeder, the demo assets.

Broken feeders: ``broken`` names a network file that does not exist; ``tight`` has a grid
connection of 0.05 MW (no dispatch exists: ``InfeasibleError``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from tests.conftest import REPO

DATA = REPO / "data"
NOW = "2022-10-20T00:00"

SHARED = """\
[fleet]
name = "test-fleet"
now = "{now}"

[readings]
path = "homes.csv"
tz = "Etc/GMT+8"

[forecast]
horizon_steps = 12
train_days = 21
production = true
country = "US"
latitude_deg = 34.1
longitude_deg = -117.4
max_iter = 15
threads = 1

[dispatch]
max_iterations = 12

[output]
dir = "runs"
plots = false
"""

FEEDERS = {
    "demo": ('"case33bw"', "mapping.csv", "assets.toml"),
    "half": ('"case33bw"', "half.csv", "assets.toml"),
    "json33": ('"case33bw_r90.json"', "shifted.csv", "assets.toml"),
    "broken": ('"missing_network.json"', "mapping.csv", None),
    "tight": ('"case33bw"', "mapping.csv", "tight.toml"),
}


def feeder_table(name: str) -> str:
    """The ``[[feeder]]`` table of one of :data:`FEEDERS`."""
    network, mapping, assets = FEEDERS[name]
    text = f'\n[[feeder]]\nname = "{name}"\nnetwork = {network}\nmapping = "{mapping}"\n'
    return text + (f'assets = "{assets}"\n' if assets else "")


def write_inputs(folder: Path) -> None:
    """Copy the sample homes, mapping and assets into ``folder`` and derive the variants."""
    import pandapower as pp
    import pandapower.networks as pn

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "meters" / "citylearn_homes_12w.csv", folder / "homes.csv")
    shutil.copy(DATA / "meters" / "case33bw_mapping.csv", folder / "mapping.csv")
    shutil.copy(DATA / "jobs" / "case33bw_assets.toml", folder / "assets.toml")
    mapping = pd.read_csv(folder / "mapping.csv")
    half = mapping.assign(scale=(mapping["scale"] // 2).clip(lower=1))
    half.to_csv(folder / "half.csv", index=False)
    shifted = mapping.assign(bus=mapping["bus"] % 32 + 1)  # buses 1..32 (0 is the substation)
    shifted.to_csv(folder / "shifted.csv", index=False)
    net = pn.case33bw()
    net.line["r_ohm_per_km"] *= 0.9
    pp.to_json(net, str(folder / "case33bw_r90.json"))
    assets = (folder / "assets.toml").read_text()
    (folder / "tight.toml").write_text(
        assets.replace("p_import_max_mw = 10.0", "p_import_max_mw = 0.05"))


def write_fleet(folder: Path, feeders: tuple[str, ...], *, now: str = NOW, extra: str = "",
                name: str = "fleet.toml") -> Path:
    """Write a fleet file with the given feeders into ``folder`` (beside the inputs)."""
    text = SHARED.format(now=now) + extra + "".join(feeder_table(n) for n in feeders)
    path = folder / name
    path.write_text(text)
    return path
