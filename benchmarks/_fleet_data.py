"""Synthetic meter fleets for the fleet forecast benchmark (../shared/tools/make_fleet_meters.py).

:func:`fleet_netcdf` writes ``N`` meters as Parquet blocks with the shared generator (bounded
memory), reads every block through gridopt's ingestion (:func:`gridopt.ingest.read_readings`)
and writes one ``(time, meter)`` NetCDF, cached by (meters, days, seed) under the output folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import xarray as xr

from gridopt.ingest import read_readings

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "tools" / "make_fleet_meters.py"
#: Local zone of the generated readings (the CityLearn homes' -08:00 offset).
FLEET_TZ = "Etc/GMT+8"


def fleet_netcdf(n_meters: int, days: int, folder: Path, *, seed: int = 7,
                 block: int = 500) -> Path:
    """Path of a ``(time, meter)`` NetCDF of a synthetic fleet (generated when missing).

    Parameters
    ----------
    n_meters, days, seed
        Passed to the generator.
    folder
        Where the Parquet blocks and the NetCDF go (e.g. under /tmp; never the repository).
    block
        Meters per Parquet block.
    """
    if not GENERATOR.is_file():
        raise FileNotFoundError(f"{GENERATOR}: the shared fleet generator is missing")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"fleet_{n_meters}m_{days}d_s{seed}.nc"
    if out.is_file():
        return out
    parts = folder / f"fleet_{n_meters}m_{days}d_s{seed}_parts"
    if not sorted(parts.glob("part-*.parquet")):
        subprocess.run([sys.executable, str(GENERATOR), str(n_meters), str(parts), "--days",
                        str(days), "--seed", str(seed), "--block", str(block)], check=True)
    blocks = [read_readings(path).data[["consumption_kwh", "production_kwh"]]
              for path in sorted(parts.glob("part-*.parquet"))]
    data = xr.concat(blocks, dim="meter")
    data.attrs["tz"] = FLEET_TZ
    partial = out.with_suffix(".partial.nc")
    data.to_netcdf(partial)
    partial.rename(out)
    return out
