"""``gridopt opf``: JSON contract, exit codes and messages for bad input, infeasibility and
AC checks that do not pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xarray as xr

from gridopt.cli.main import main
from tests.conftest import BASELINE, pglib_path
from tests.validate.broken_cases import MATPOWER_VARIANTS, write_variant

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


# --- networks built to break the AC check (tests/validate/broken_cases.py) -----------------


@pytest.mark.parametrize("name", sorted(MATPOWER_VARIANTS))
def test_broken_nets_keep_the_solution_and_pass_the_check(
    capsys, tmp_path: Path, name: str
) -> None:
    code, data = _run_json(capsys, str(write_variant(name, tmp_path)))
    assert code == 0, data.get("ac_check")
    assert data["status"] == "optimal" and data["objective"] > 0
    assert data["ac_check_status"] == "passed"
    assert data["ac_check"]["status"] == "passed" and data["ac_check"]["message"] == ""


def test_zero_impedance_branch_is_bad_input(capsys, tmp_path: Path) -> None:
    code, data = _run_json(capsys, str(write_variant("zero_impedance_line", tmp_path)))
    assert code == 2
    assert data["status"] == "error" and data["error"] == "InputError"
    assert "branch 6 (4-5) has zero impedance" in data["message"]


def test_failed_check_exits_3_and_keeps_the_solution(capsys, tmp_path: Path) -> None:
    out = tmp_path / "x0.nc"
    path = write_variant("zero_reactance_line", tmp_path)
    # Ipopt's point satisfies pandapower's equations to ~1e-8 MVA, not to 1e-15.
    code, data = _run_json(capsys, str(path), "--check-mismatch-mva", "1e-15", "--out", str(out))
    assert code == 3
    assert data["status"] == "optimal"
    assert data["objective"] == pytest.approx(2179.3065, rel=1e-6)
    check = data["ac_check"]
    assert data["ac_check_status"] == check["status"] == "failed"
    assert check["converged"] is True
    assert check["element"].startswith("bus ")
    assert "tolerance 1e-15 MVA" in check["message"]
    assert data["out"] == str(out)
    ds = xr.load_dataset(out)
    assert ds.attrs["status"] == "optimal" and ds.attrs["ac_check_status"] == "failed"
    assert "vm_pu" in ds


def test_failed_check_in_the_human_summary(capsys, tmp_path: Path) -> None:
    path = write_variant("zero_reactance_line", tmp_path)
    assert main(["opf", str(path), "--check-mismatch-mva", "1e-15"]) == 3
    captured = capsys.readouterr()
    assert "AC check        FAILED" in captured.out
    assert "AC check reason the OPF point's largest power mismatch" in captured.out
    assert "gridopt: AC check failed:" in captured.err and "solution is kept" in captured.err


def test_check_tolerance_must_be_positive(capsys) -> None:
    code, data = _run_json(capsys, str(CASE14), "--check-mismatch-mva", "0")
    assert code == 2
    assert "--check-mismatch-mva" in data["message"]
