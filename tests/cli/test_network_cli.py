"""``gridopt network`` and ``gridopt powerflow``: JSON contract on OpenDSS and other sources."""

from __future__ import annotations

import json

import pytest

from gridopt.cli.main import main
from tests.network.opendss_reference import FEEDERS, MASTER, totals

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*voltage dependent.*:gridopt.errors.GridoptWarning")


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def test_network_json_on_ieee123(capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _run_json(capsys, "network", str(MASTER["ieee123"]))
    assert code == 0 and s["status"] == "ok" and s["source_kind"] == "opendss"
    c = s["counts"]
    # 132 OpenDSS buses less the two dangling "_open" tie ends
    assert c["buses"] == totals("ieee123")["counts"]["buses"] - 2
    assert c["loads"] == 91 and c["shunts"] == 4 and c["switches"] == 8
    assert c["transformers"] == 5  # reg1a, xfm1 and the reg2/reg3/reg4 banks
    assert s["switches"]["ties"] == 2
    assert sorted(s["switches"]["tie_names"]) == ["Line.sw7", "Line.sw8"]
    assert s["total_load_mw"] == pytest.approx(3.49, rel=1e-3)
    assert {lv["vn_kv"] for lv in s["voltage_levels_kv"]} == {0.48, 4.16}
    assert s["islands"] == {"count": 1, "unsupplied": 0, "unsupplied_buses": []}
    assert s["unsupported"] == []
    assert s["opendss"]["approximations"]


def test_powerflow_json_on_ieee123(capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _run_json(capsys, "powerflow", str(MASTER["ieee123"]))
    ref = totals("ieee123")
    assert code == 0 and s["converged"] is True
    assert s["source_kw"] == pytest.approx(ref["source_power_kw"], rel=0.005)
    assert s["losses_kw"] == pytest.approx(ref["losses_kw"], rel=0.06)
    assert 0.97 < s["vmin_pu"] < s["vmax_pu"] < 1.05 and s["vmin_bus"] and s["vmax_bus"]
    assert s["most_loaded_branch"]["name"] == "Line.l115"
    check = s["opendss_check"]
    assert check["losses_kw"]["opendss"] == pytest.approx(ref["losses_kw"], rel=1e-3)
    assert abs(check["losses_kw"]["error_percent"]) < 6
    assert check["vm_pu"]["max_abs_error"] < 0.025
    assert check["vm_pu"]["buses_compared"] == 130


def test_network_on_a_pandapower_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _run_json(capsys, "network", "case33bw")
    assert code == 0
    assert s["counts"]["buses"] == 33 and s["counts"]["lines"] == 32
    assert s["total_load_mw"] == pytest.approx(3.715)
    assert "opendss" not in s


def test_powerflow_on_a_pandapower_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _run_json(capsys, "powerflow", "case33bw")
    assert code == 0 and s["converged"]
    assert s["losses_kw"] == pytest.approx(202.7, rel=1e-3)  # the Baran-Wu case's known 202.7 kW
    assert s["vmin_bus"] == "bus 17"
    assert "opendss_check" not in s


def test_bad_dss_exits_2_with_file_line_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("network", "powerflow"):
        code, s = _run_json(capsys, command, str(FEEDERS / "missing_redirect.dss"))
        assert code == 2 and s["status"] == "error" and s["error"] == "InputError"
        assert "missing_redirect.dss, line 3" in s["message"]
        assert "correct the path" in s["message"]


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["powerflow", str(MASTER["ieee37"])]) == 0
    out = capsys.readouterr().out
    assert "vs OpenDSS" in out and "losses" in out


def test_powerflow_with_switching_checks_in_opendss(capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _run_json(capsys, "powerflow", str(MASTER["ieee123"]),
                        "--switch", "Line.sw7=closed", "--switch", "Line.sw5=open")
    assert code == 0 and s["switched"] == {"Line.sw7": "closed", "Line.sw5": "open"}
    truth = s["opendss_ac_check"]
    assert truth["converged"] and truth["losses_kw"] < totals("ieee123")["losses_kw"]
    assert truth["losses_error_percent"] == pytest.approx(
        100 * (s["losses_kw"] / truth["losses_kw"] - 1))
    code, s = _run_json(capsys, "powerflow", str(MASTER["ieee123"]), "--switch", "Line.sw7")
    assert code == 2 and "NAME=open" in s["message"]
    code, s = _run_json(capsys, "powerflow", "case33bw", "--switch", "nothere=open")
    assert code == 2 and "no switch or line" in s["message"]
