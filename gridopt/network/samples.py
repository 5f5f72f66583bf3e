"""Locations of the sample data shipped with gridopt (PGLib cases, meter samples, job configs).

The repository keeps the samples in its top-level ``data/`` folder; the wheel installs the same
files as ``gridopt/_data`` (``setup.py`` maps one onto the other). :func:`data_dir` is the one
place that knows both, so the same code works from a source checkout (``PYTHONPATH`` or an
editable install) and from an installed wheel. ``$GRIDOPT_DATA`` overrides both.

>>> sorted(p.name for p in data_dir().iterdir() if p.is_dir())
['jobs', 'meters', 'pglib']
>>> sample_case_path("pglib_opf_case14_ieee.m").name
'pglib_opf_case14_ieee.m'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from gridopt.errors import InputError

INSTALLED_DIR = "_data"
"""Folder of the sample data inside the installed package (``gridopt/_data``)."""


def _package_dir() -> Path:
    root = resources.files("gridopt")
    if not isinstance(root, Path):  # a zip import: no real files for pandas or pandapower
        raise InputError(
            f"gridopt is imported from {root}, not from a folder; install it with pip so that "
            "its sample data are files, or set GRIDOPT_DATA to a copy of the 'data' folder"
        )
    return root


def data_dir() -> Path:
    """Return the sample-data folder.

    In order: ``$GRIDOPT_DATA``; ``gridopt/_data`` of an installed wheel; the ``data/`` folder
    beside the package in a source checkout (recognised by its ``pyproject.toml``).

    Raises
    ------
    InputError
        If none of them exists (the message names the places searched).
    """
    env = os.environ.get("GRIDOPT_DATA")
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise InputError(
                f"GRIDOPT_DATA={env}: no such folder; point it at a copy of gridopt's 'data' "
                "folder (pglib/, meters/, jobs/) or unset it"
            )
        return root
    package = _package_dir()
    installed = package / INSTALLED_DIR
    if installed.is_dir():
        return installed
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    raise InputError(
        f"gridopt's sample data not found: neither {installed} (installed wheel) nor "
        f"{checkout / 'data'} (source checkout) exists; reinstall gridopt with pip or set "
        "GRIDOPT_DATA to a copy of the 'data' folder"
    )


def sample_path(*parts: str) -> Path:
    """Return the path of one shipped sample file, e.g. ``sample_path("jobs", "demo.toml")``.

    Raises
    ------
    InputError
        If the file is not there (the message names the folder and what it holds).

    Examples
    --------
    >>> sample_path("meters", "case33bw_mapping.csv").parent.name
    'meters'
    """
    path = data_dir().joinpath(*parts)
    if not path.is_file():
        folder = path.parent
        held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        raise InputError(
            f"sample file {'/'.join(parts)!r} not found in {data_dir()} "
            f"({folder.name}/ holds: {', '.join(held) or 'nothing'}); reinstall gridopt or fix "
            "GRIDOPT_DATA"
        )
    return path


def sample_case_names() -> list[str]:
    """Names of the PGLib cases shipped in ``data/pglib`` (without ``.m``), sorted.

    >>> "pglib_opf_case14_ieee" in sample_case_names()
    True
    """
    return sorted(p.stem for p in (data_dir() / "pglib").glob("*.m"))


def sample_case_path(name: str) -> Path:
    """Return the path of a PGLib case shipped in ``data/pglib`` (``name`` with or without ``.m``).

    Raises
    ------
    InputError
        If there is no such case (the message lists the shipped ones).
    """
    stem = name[:-2] if name.endswith(".m") else name
    path = data_dir() / "pglib" / f"{stem}.m"
    if not path.is_file():
        raise InputError(
            f"no sample case {name!r}; available: {', '.join(sample_case_names())}"
        )
    return path


def demo_config() -> Path:
    """Path of the job config behind ``gridopt demo`` (``jobs/demo.toml`` of :func:`data_dir`).

    Its input files are named relative to the config itself, so it runs from any directory.
    """
    return sample_path("jobs", "demo.toml")
