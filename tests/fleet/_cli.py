"""Run ``gridopt fleet run ...`` in-process as the CLI does; return (exit code, JSON, stderr)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from gridopt.cli import main as cli_main


def fleet_json(config: Path, out_dir: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """``gridopt fleet run --config CONFIG --out-dir OUT --json EXTRA...``: one JSON object."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main.main(["fleet", "run", "--config", str(config), "--out-dir",
                              str(out_dir), "--json", *extra])
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got {out.getvalue()!r} ({err.getvalue()})"
    return code, json.loads(lines[0]), err.getvalue()
