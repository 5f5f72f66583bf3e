"""``pip install .`` works anywhere: the wheel holds the sample data and runs outside the checkout.

The wheel is built from a copy of the source tree (the checkout is not written to), installed into
a fresh virtual environment and run from a temporary directory. The new environment has no
``pip``, no ``PYTHONPATH`` and no editable finder: a ``.pth`` file adds the site-packages of the
running interpreter for the dependencies only (their ``.pth`` files, among them the editable
install of the checkout, are not executed). So ``import gridopt`` can only find the wheel's copy,
and ``gridopt opf <PGLib name>`` and ``gridopt demo`` can only read the wheel's data.

``make wheel-check`` runs this module alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BASELINE, REPO

# Build outputs and caches that a clean clone does not have.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".bench-venvs", "build", "dist", "runs", "*.egg-info", "__pycache__",
    ".*_cache", ".hypothesis", "*.so", "*.c", "*.html",
)
# Variables that would let the installed package see the checkout.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
             "GRIDOPT_DATA")


@dataclass(frozen=True)
class Installed:
    """A wheel of the checkout installed into a fresh venv, and a directory outside both."""

    wheel: Path
    venv: Path
    workdir: Path
    env: dict[str, str]

    def run(self, *argv: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` (``argv[0]`` an executable of the venv's ``bin/``) in ``workdir``."""
        exe = self.venv / "bin" / argv[0]
        return subprocess.run([str(exe), *argv[1:]], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout_s, check=False)


def _dependency_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(paths[key] for key in ("purelib", "platlib")))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the source and install it into a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=NOT_SOURCE)
    wheels = root / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert build.returncode == 0, f"pip wheel failed:\n{build.stdout}\n{build.stderr}"
    (wheel,) = wheels.glob("gridopt-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    Path(site, "_gridopt_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert install.returncode == 0, f"pip install failed:\n{install.stdout}\n{install.stderr}"

    workdir = root / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env["PYTHONNOUSERSITE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return Installed(wheel=wheel, venv=venv, workdir=workdir, env=env)


def _data_files() -> list[str]:
    data = REPO / "data"
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def test_wheel_holds_data_extensions_and_stubs(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = [f for f in _data_files() if f"gridopt/_data/{f}" not in names]
    assert not missing, f"data files missing from the wheel: {missing}"
    for pyx in sorted((REPO / "ext").glob("_*.pyx")):
        assert any(n.startswith(f"gridopt/_ext/{pyx.stem}.") and n.endswith(".so")
                   for n in names), f"compiled {pyx.stem} missing from the wheel"
        assert f"gridopt/_ext/{pyx.stem}.pyi" in names
    assert "gridopt/py.typed" in names
    assert not [n for n in names if n.startswith(("data/", "tests/", "benchmarks/"))]


def test_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    code = ("import json, gridopt; from gridopt.network.samples import data_dir, demo_config; "
            "print(json.dumps([gridopt.__file__, str(data_dir()), str(demo_config())]))")
    proc = installed.run("python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    package, data, demo = (Path(p) for p in json.loads(proc.stdout))
    for path in (package, data, demo):
        assert path.is_relative_to(installed.venv), f"{path} is not inside the fresh venv"
        assert not path.is_relative_to(REPO), f"{path} comes from the checkout"
    assert data == package.parent / "_data"


def test_opf_on_a_shipped_pglib_name(installed: Installed) -> None:
    proc = installed.run("gridopt", "opf", "pglib_opf_case14_ieee", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "optimal"
    ref = BASELINE["pglib_opf_case14_ieee"].ac_objective
    assert abs(result["objective"] - ref) / ref < 1.5e-4


def test_unknown_name_lists_the_shipped_samples(installed: Installed) -> None:
    proc = installed.run("gridopt", "opf", "pglib_opf_case14", "--json")
    assert proc.returncode == 2
    message = json.loads(proc.stdout)["message"]
    assert "pglib_opf_case14_ieee" in message and "samples: none" not in message


def test_demo_runs_outside_the_checkout(installed: Installed) -> None:
    proc = installed.run("gridopt", "demo", "--json")
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout)
    assert summary["status"] == "ok"
    assert summary["ac_checked"] is True and summary["violations_optimised"] == 0
    assert summary["readings"]["meters"] == 17
    assert summary["losses_optimised_mwh"] < summary["losses_baseline_mwh"]
    run_dir = installed.workdir / "runs" / summary["run_id"]  # ./runs of the working directory
    assert (run_dir / "summary.json").is_file() and (run_dir / "dispatch.nc").is_file()
    written = [p for p in installed.venv.rglob("runs") if p.is_dir()]
    assert not written, f"the demo wrote into the installed package: {written}"
