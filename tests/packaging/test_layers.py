"""The layer contracts of pyproject.toml ([tool.importlinter]) hold, and they do catch a breach.

``make lint`` runs ``lint-imports``; these tests make sure the contracts are not vacuous: a copy
of the package with one forbidden import added must fail with that import named.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} not found: install the test extra"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(REPO / "gridopt", root / "gridopt",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__", "_data"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_contracts_hold_on_the_package(tmp_path: Path) -> None:
    result = _lint(_copy_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        # cli reaching past workflows
        ("cli/opf.py", "import gridopt.opf.ac\n", "gridopt.cli.opf -> gridopt.opf.ac"),
        # opf importing pandapower
        ("opf/dc.py", "import pandapower\n", "gridopt.opf.dc -> pandapower"),
        # a lower layer importing a higher one
        ("network/model.py", "import gridopt.opf.result\n",
         "gridopt.network.model -> gridopt.opf.result"),
    ],
)
def test_a_forbidden_import_breaks_lint(tmp_path: Path, module: str, line: str,
                                        named: str) -> None:
    root = _copy_package(tmp_path)
    target = root / "gridopt" / module
    target.write_text(target.read_text() + "\n" + line)
    result = _lint(root)
    assert result.returncode != 0
    assert named in result.stdout, result.stdout
