"""MATPOWER distribution cases that convert ohms and kW at the end of the file (case118zh)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

from gridopt.errors import InputError
from gridopt.network.load import load_network
from gridopt.network.matpower import read_matpower

CASE118ZH = Path(__file__).resolve().parents[1] / "data" / "reconfig" / "case118zh.m"
Z_BASE_OHM = 11.0**2 / 10.0


def test_case118zh_units_converted() -> None:
    case = read_matpower(CASE118ZH)
    assert case.pd_mw.sum() == pytest.approx(22.70972, abs=1e-6)  # README: 22 709.72 kW
    assert case.qd_mvar.sum() == pytest.approx(17.04107, abs=1e-5)  # 17 041.07 kvar
    tie = 117  # branch row 118 (46-27): 0.5258 + j0.2925 ohm
    assert case.r_pu[tie] == pytest.approx(0.5258 / Z_BASE_OHM, rel=1e-12)
    assert case.x_pu[tie] == pytest.approx(0.2925 / Z_BASE_OHM, rel=1e-12)
    assert int((~case.branch_in_service).sum()) == 15


def test_case118zh_base_case_losses() -> None:
    """Ties open: 1 298.09 kW and Vmin 0.8688 pu (README: own sweep and PYPOWER agree)."""
    net = load_network(CASE118ZH).pandapower_net()
    pp.runpp(net, numba=False)
    assert float(net.res_line.pl_mw.sum()) * 1e3 == pytest.approx(1298.0916, abs=1e-3)
    assert float(net.res_bus.vm_pu.min()) == pytest.approx(0.8688, abs=1e-4)


def _without_conversions(text: str) -> str:
    lines = [ln for ln in text.splitlines()
             if not ln.startswith(("mpc.branch(:, [BR_R", "mpc.bus(:, [PD"))]
    return "\n".join(lines)


def test_without_conversion_code_values_are_taken_as_written(tmp_path: Path) -> None:
    path = tmp_path / "raw.m"
    path.write_text(_without_conversions(CASE118ZH.read_text()))
    case = read_matpower(path)
    assert case.pd_mw.sum() == pytest.approx(22709.72, abs=1e-3)
    assert case.r_pu[117] == pytest.approx(0.5258)


def test_other_code_changing_mpc_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "scaled.m"
    path.write_text(CASE118ZH.read_text() + "\nmpc.bus(:, VM) = 1.02;\n")
    with pytest.raises(InputError, match=r"scaled\.m.*does not run"):
        read_matpower(path)


def test_conversion_with_other_vbase_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "vbase.m"
    path.write_text(CASE118ZH.read_text().replace("Vbase = mpc.bus(1, BASE_KV) * 1e3;",
                                                  "Vbase = 12.66e3;"))
    with pytest.raises(InputError, match="Vbase"):
        read_matpower(path)


def test_per_unit_cases_unchanged() -> None:
    """A PGLib case (no conversion code) reads as before: loads in MW as written."""
    from gridopt.network.samples import sample_case_path

    case = read_matpower(sample_case_path("pglib_opf_case14_ieee"))
    assert float(np.sum(case.pd_mw)) == pytest.approx(259.0)
