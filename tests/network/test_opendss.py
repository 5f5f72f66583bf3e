"""OpenDSS feeders through ``load_network``: checked against OpenDSS's own shipped solutions.

Expected values come from the reference files OpenDSS wrote (``reference_solution.csv``,
``reference_totals.json``; read in :mod:`tests.network.opendss_reference`), never from gridopt.
The balanced conversion is a positive-sequence equivalent, so its bounds are the errors it is
known to make (docs/opendss.md): on the 123-node feeder, three-phase buses within 0.002 pu,
one-phase laterals within 0.025 pu, losses within 6 % (unbalance losses are not in a balanced
net), the source power within 0.5 %.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pandapower as pp
import pytest
from pandapower.auxiliary import pandapowerNet

from gridopt.errors import GridoptWarning, InputError
from gridopt.network.load import load_network
from gridopt.network.model import SourceKind
from gridopt.network.opendss import (
    compare_with_opendss,
    opendss_names,
    read_opendss,
    run_powerflow,
)
from gridopt.network.pandapower_model import assets_from_net
from tests.network.opendss_reference import FEEDERS, MASTER, balanced_voltages, totals

#: Voltage-dependent OpenDSS loads are reported (rightly) by load_network for the OPF.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*voltage dependent.*:gridopt.errors.GridoptWarning")


@functools.cache
def _solved(feeder: str) -> pandapowerNet:
    net = read_opendss(MASTER[feeder])
    run_powerflow(net)
    return net


def _errors(feeder: str) -> dict[int, list[tuple[float, str]]]:
    """Absolute voltage error per bus, grouped by the bus's number of phases."""
    net = _solved(feeder)
    ref = balanced_voltages(feeder)
    out: dict[int, list[tuple[float, str]]] = {1: [], 2: [], 3: []}
    for idx, name in net.bus["name"].items():
        if name in ref:
            vm, phases = ref[name]
            out[phases].append((abs(float(net.res_bus.at[idx, "vm_pu"]) - vm), name))
    return out


def _losses_kw(net: pandapowerNet) -> float:
    return 1e3 * float(net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum())


@pytest.mark.parametrize("feeder", ["ieee13", "ieee34", "ieee37", "ieee123"])
def test_in_process_opendss_solution_is_the_shipped_one(feeder: str) -> None:
    """The engine gridopt runs reproduces the shipped solution (same commands, same engine;
    gridopt solves once more after the script, which may move the controls by a hair)."""
    net = read_opendss(MASTER[feeder])
    sol, ref = net["opendss"]["solution"], totals(feeder)
    assert sol["converged"]
    assert sol["losses_kw"] == pytest.approx(ref["losses_kw"], rel=1e-3)
    assert sol["source_kw"] == pytest.approx(ref["source_power_kw"], rel=1e-4)
    ref_vm = balanced_voltages(feeder)
    # the dangling "<bus>_open" ends of the 123-node ties are not buses of the converted net
    assert set(ref_vm) - set(sol["bus_vm_pu"]) <= {"300_open", "94_open"}
    for bus, vm in sol["bus_vm_pu"].items():
        if bus in ref_vm:
            assert vm == pytest.approx(ref_vm[bus][0], abs=5e-4), bus


def test_ieee123_losses_source_and_voltages_against_opendss() -> None:
    net = _solved("ieee123")
    ref = totals("ieee123")
    assert _losses_kw(net) == pytest.approx(ref["losses_kw"], rel=0.06)
    assert 1e3 * net.res_ext_grid.p_mw.sum() == pytest.approx(ref["source_power_kw"], rel=0.005)
    err = _errors("ieee123")
    assert len(err[3]) == 70 and len(err[1]) == 56
    assert max(err[3])[0] < 0.002, max(err[3])
    assert max(err[2])[0] < 0.012, max(err[2])
    assert max(err[1])[0] < 0.025, max(err[1])


@pytest.mark.parametrize(("feeder", "loss_rel", "v3_abs"), [
    ("ieee13", 0.13, 0.003),   # measured -11.7 %, 0.0017 pu (1-phase 611: 0.029 pu)
    ("ieee34", 0.05, 0.004),   # measured -3.3 %, 0.0028 pu (1-phase 838: 0.006 pu)
    ("ieee37", 0.10, 0.005),   # measured -9.3 %, 0.0043 pu (all buses three-phase)
])
def test_small_feeders_errors_as_measured(feeder: str, loss_rel: float, v3_abs: float) -> None:
    net = _solved(feeder)
    ref = totals(feeder)
    assert _losses_kw(net) == pytest.approx(ref["losses_kw"], rel=loss_rel)
    assert 1e3 * net.res_ext_grid.p_mw.sum() == pytest.approx(ref["source_power_kw"], rel=0.015)
    assert max(_errors(feeder)[3])[0] < v3_abs


def test_compare_with_opendss_reports_the_same_errors() -> None:
    net = _solved("ieee123")
    check = compare_with_opendss(net)
    ref = totals("ieee123")
    assert check["losses_kw"]["opendss"] == pytest.approx(ref["losses_kw"], rel=1e-3)
    assert check["losses_kw"]["error_percent"] == pytest.approx(
        100 * (_losses_kw(net) / ref["losses_kw"] - 1), abs=0.05)
    worst = max(e for part in _errors("ieee123").values() for e in part)
    assert check["vm_pu"]["max_abs_error"] == pytest.approx(worst[0], abs=1e-4)
    assert check["vm_pu"]["bus"] == worst[1]
    assert any("positive-sequence" in a for a in check["approximations"])


def test_ieee123_switches_ties_and_names() -> None:
    net = read_opendss(MASTER["ieee123"])
    sw = net.switch
    assert len(sw) == 8
    opened = sw[~sw.closed.astype(bool)]
    assert sorted(opened.name) == ["Line.sw7", "Line.sw8"]
    ends = {frozenset(net.bus.name[[r.bus, r.element]]) for r in opened.itertuples()}
    assert ends == {frozenset({"151", "300"}), frozenset({"54", "94"})}
    assert "300_open" not in set(net.bus.name)
    # 91 loads and 4 capacitors, each named after its OpenDSS element
    assert len(net.load) == totals("ieee123")["counts"]["loads"]
    assert len(net.shunt) == totals("ieee123")["counts"]["capacitors"]
    assert net.load.p_mw.sum() * 1e3 == pytest.approx(
        totals("ieee123")["load"]["kw_nominal"], rel=1e-3)
    reg = net.trafo.index[net.trafo.name.str.contains("reg4a")][0]
    assert opendss_names(net, "trafo", reg) == (
        "Transformer.reg4a", "Transformer.reg4b", "Transformer.reg4c")
    assert net.bus.geo.notna().sum() >= 120  # Buscoords BusCoords.dat


def test_ieee123_taps_are_opendss_solved_taps() -> None:
    net = read_opendss(MASTER["ieee123"])
    regs = totals("ieee123")["regulators"]
    row = net.trafo[net.trafo.name == "Transformer.reg1a"].iloc[0]
    assert row.tap_pos == pytest.approx(regs["creg1a"]["tap_step"])
    bank = net.trafo[net.trafo.name.str.contains("reg4a")].iloc[0]
    steps = [regs[f"creg4{p}"]["tap_step"] for p in "abc"]
    assert bank.tap_pos == pytest.approx(sum(steps) / 3)


def test_load_network_reads_dss() -> None:
    with pytest.warns(GridoptWarning, match="voltage dependent"):
        loaded = load_network(str(MASTER["ieee13"]))
    assert loaded.source_kind is SourceKind.OPENDSS
    assert loaded.case.n_bus > 0
    assert len(loaded.model.switches) == 1  # Line.671692, switch=yes


def test_pvsystem_and_storage_become_assets(tmp_path: Path) -> None:
    master = MASTER["ieee13"].resolve()
    model = tmp_path / "with_der.dss"
    model.write_text(
        f'Redirect "{master}"\n'
        "New PVSystem.pv675 phases=3 bus1=675 kV=4.16 kVA=600 Pmpp=500 irradiance=0.8\n"
        "New Storage.bess680 phases=3 bus1=680 kV=4.16 kWrated=250 kWhrated=1000 "
        "%stored=60 %reserve=20 kVA=300 dispmode=external state=idling\n"
    )
    net = read_opendss(model)
    assert list(net.sgen.name) == ["PVSystem.pv675"]
    assert net.sgen.p_mw.iloc[0] == pytest.approx(0.4, rel=0.02)  # 500 kW x 0.8 sun
    assets = assets_from_net(net)
    (pv,) = assets.pv
    assert pv.name == "PVSystem.pv675" and pv.p_rated_mw == pytest.approx(0.5)
    (bess,) = assets.storage
    assert bess.energy_capacity_mwh == pytest.approx(1.0)
    assert bess.p_charge_max_mw == pytest.approx(0.25)
    assert bess.soc_initial_percent == pytest.approx(60.0)
    assert bess.soc_min_percent == pytest.approx(20.0)


def test_redirect_to_missing_file_names_file_line_and_fix() -> None:
    bad = FEEDERS / "missing_redirect.dss"
    with pytest.raises(InputError) as info:
        load_network(str(bad))
    text = str(info.value)
    assert "missing_redirect.dss" in text and "line 3" in text
    assert "no_such_linecodes.dss" in text and "correct the path" in text


def test_missing_master_file() -> None:
    with pytest.raises(InputError, match="file not found"):
        load_network(str(FEEDERS / "nope" / "Master.dss"))


def test_ieee34_needs_the_no_load_start_and_says_so() -> None:
    """The 34-node regulators make the flat start fail; the note says so, the seeded start works."""
    net = read_opendss(MASTER["ieee34"])
    assert any("no-load voltage profile" in n for n in net["opendss"]["notes"])
    with pytest.raises(pp.LoadflowNotConverged):
        pp.runpp(net)
    assert run_powerflow(net) == "no-load profile"
    assert run_powerflow(read_opendss(MASTER["ieee123"])) == "flat"


def test_unbalanced_solution_has_finite_voltages_everywhere() -> None:
    net = _solved("ieee123")
    assert all(math.isfinite(v) for v in net.res_bus.vm_pu)


def test_reconfiguration_checked_in_opendss_itself() -> None:
    """Close the 151-300 tie and open Sw5 in both models: OpenDSS confirms the loss reduction."""
    from gridopt.network.opendss_check import solve_configuration

    net = read_opendss(MASTER["ieee123"])
    base = solve_configuration(MASTER["ieee123"], {})
    assert base["losses_kw"] == pytest.approx(totals("ieee123")["losses_kw"], rel=1e-3)
    config = {"Line.sw7": True, "Line.sw5": False}
    truth = solve_configuration(MASTER["ieee123"], config, net["opendss"]["ties"])
    assert truth["converged"] and truth["switched"] == {"Line.sw7": "closed", "Line.sw5": "open"}
    assert truth["losses_kw"] < base["losses_kw"] - 1.0  # measured 95.77 -> 93.97 kW
    for name, state in config.items():
        net.switch.loc[net.switch.name == name, "closed"] = state
    run_powerflow(net)
    assert _losses_kw(net) == pytest.approx(truth["losses_kw"], rel=0.06)
    with pytest.raises(InputError, match="no such element"):
        solve_configuration(MASTER["ieee123"], {"Line.nope": True})
