"""``gridopt opf``: JSON contract, exit codes and messages for bad input and infeasibility."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xarray as xr

from gridopt.cli.main import main
from tests.conftest import BASELINE, pglib_path

CASE14 = pglib_path("pglib_opf_case14_ieee")
REQUIRED = {
    "case", "formulation", "objective_kind", "status", "objective", "losses_mw", "vmin_pu",
    "vmax_pu", "max_mismatch_mva", "iterations", "solve_seconds", "total_seconds",
}


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["opf", *argv, "--json"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one JSON line on stdout, got {out!r}"
    return code, json.loads(lines[0])


def _edit_bus_rows(text: str, edit) -> str:
    head, rest = text.split("mpc.bus = [", 1)
    body, tail = rest.split("];", 1)
    rows = []
    for line in body.splitlines():
        cols = line.split(";")[0].split()
        rows.append("\t" + "\t".join(edit(cols)) + ";" if cols else line)
    return head + "mpc.bus = [" + "\n".join(rows) + "];" + tail


def test_ac_json_has_contract_fields_and_passes_check(capsys, tmp_path: Path) -> None:
    out = tmp_path / "case14.nc"
    code, data = _run_json(capsys, str(CASE14), "--out", str(out))
    assert code == 0
    assert REQUIRED <= set(data)
    assert data["status"] == "optimal"
    ref = BASELINE["pglib_opf_case14_ieee"].ac_objective
    assert abs(data["objective"] - ref) / ref < 1.5e-4
    assert data["max_mismatch_mva"] < 1e-3
    assert abs(data["ac_check"]["losses_diff_mw"]) < 1e-6
    ds = xr.load_dataset(out)
    assert ds.attrs["status"] == "optimal"
    assert {"vm_pu", "va_degree", "p_mw", "q_mvar", "loading_percent", "lmp_usd_per_mwh"} <= set(ds)


def test_dc_and_losses_objectives(capsys) -> None:
    code, data = _run_json(capsys, "pglib_opf_case14_ieee", "--formulation", "dc")
    assert code == 0 and data["status"] == "optimal"
    ref = BASELINE["pglib_opf_case14_ieee"].dc_objective
    assert abs(data["objective"] - ref) / ref < 1.5e-4
    code, losses = _run_json(capsys, "pglib_opf_case14_ieee", "--objective", "losses")
    assert code == 0 and losses["objective_kind"] == "losses"
    assert losses["objective"] == pytest.approx(losses["losses_mw"], abs=1e-5)


def test_human_summary(capsys) -> None:
    assert main(["opf", "pglib_opf_case5_pjm"]) == 0
    out = capsys.readouterr().out
    assert "status          optimal" in out and "AC check" in out


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("no/such/file.m", "not found"),
        ("case118x", "unknown"),
    ],
)
def test_bad_input_exit_2(capsys, spec: str, needle: str) -> None:
    code, data = _run_json(capsys, spec)
    assert code == 2
    assert data["status"] == "error"
    assert needle in data["message"].lower()


def test_malformed_m_file_exit_2(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "broken.m"
    bad.write_text(CASE14.read_text().replace("mpc.branch = [", "mpc.brunch = ["))
    code, data = _run_json(capsys, str(bad))
    assert code == 2
    assert "mpc.branch" in data["message"] and "broken.m" in data["message"]
    bad.write_text(CASE14.read_text().replace(" 21.7\t 12.7", " twenty\t 12.7"))
    code, data = _run_json(capsys, str(bad))
    assert code == 2 and "mpc.bus" in data["message"]


def test_no_reference_bus_exit_2(capsys, tmp_path: Path) -> None:
    path = tmp_path / "noref.m"
    path.write_text(_edit_bus_rows(CASE14.read_text(),
                                   lambda c: [c[0], "2" if c[1] == "3" else c[1], *c[2:]]))
    code, data = _run_json(capsys, str(path))
    assert code == 2
    assert "reference bus" in data["message"]


def test_infeasible_case_exit_3(capsys, tmp_path: Path) -> None:
    path = tmp_path / "heavy.m"
    path.write_text(_edit_bus_rows(
        CASE14.read_text(),
        lambda c: [c[0], c[1], str(float(c[2]) * 20), str(float(c[3]) * 20), *c[4:]],
    ))
    code, data = _run_json(capsys, str(path))
    assert code == 3
    assert data["status"] in ("infeasible", "not_converged")
    assert data["solver_message"]
    assert re.search(r"infeasib|converge|restoration", data["solver_message"], re.I)
