"""load_network: every source kind and every bad-input path."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridopt.errors import GridoptWarning, InputError
from gridopt.network.load import LoadedNetwork, SourceKind, load_network
from gridopt.network.samples import sample_case_path


def test_pandapower_builtin_name() -> None:
    loaded = load_network("case33bw")
    assert loaded.source_kind is SourceKind.PANDAPOWER_BUILTIN
    assert loaded.case.n_bus == 33
    assert loaded.network is loaded.network  # built once
    assert loaded.network.n_branch == 32  # the five tie lines are open


def test_pglib_sample_name_and_path() -> None:
    by_name = load_network("pglib_opf_case5_pjm")
    by_path = load_network(str(sample_case_path("pglib_opf_case5_pjm")))
    assert by_name.source_kind is by_path.source_kind is SourceKind.MATPOWER
    np.testing.assert_array_equal(by_name.case.r_pu, by_path.case.r_pu)
    assert by_name.element_map.gen.count(("ext_grid", 0)) == 1


def test_json_file_round_trip(tmp_path: Path) -> None:
    net = pn.case30()
    path = tmp_path / "net.json"
    pp.to_json(net, str(path))
    loaded = load_network(path)
    direct = load_network(net)
    assert loaded.source_kind is SourceKind.PANDAPOWER_JSON
    assert loaded.case.name == "net"
    np.testing.assert_allclose(loaded.case.x_pu, direct.case.x_pu)


def test_net_object_is_deep_copied() -> None:
    net = pn.case30()
    loaded = load_network(net)
    assert loaded.source_kind is SourceKind.PANDAPOWER_OBJECT
    net.load.loc[:, "p_mw"] *= 10
    # Later changes of the caller's net do not leak into the loaded network or its copy.
    assert loaded.pandapower_net().load.p_mw.sum() == pytest.approx(loaded.case.pd_mw.sum())
    assert isinstance(loaded, LoadedNetwork)


@pytest.mark.parametrize("spec", ["missing_case.m", "nowhere/net.json", "nowhere/case"])
def test_missing_file(spec: str) -> None:
    with pytest.raises(InputError, match="not found"):
        load_network(spec)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(InputError, match=r"unknown network 'case118x'.*case118") as info:
        load_network("case118x")
    assert "pglib_opf_case14_ieee" in str(info.value)


def test_malformed_matpower_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.m"
    path.write_text("function mpc = broken\nmpc.baseMVA = 100;\nmpc.bus = [1 3 0 0;\n")
    with pytest.raises(InputError, match=r"broken\.m"):
        load_network(path)


@pytest.mark.parametrize("content", ['{"a": 1}', "[1, 2, 3]", "not json at all"])
def test_json_that_is_not_a_pandapower_net(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(InputError, match=r"other\.json"):
        load_network(path)


def test_net_without_reference_bus() -> None:
    net = pn.case33bw()
    net.ext_grid = net.ext_grid.iloc[:0]
    with pytest.raises(InputError, match="no reference bus"):
        load_network(net)


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    path.write_text("a,b\n")
    with pytest.raises(InputError, match="unknown network file type"):
        load_network(path)


def test_simbench_without_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "simbench", None)  # what `import simbench` meets when absent
    with pytest.raises(InputError, match="pip install simbench"):
        load_network("simbench:1-LV-rural1--0-sw")


def test_simbench_network() -> None:
    loaded = load_network("simbench:1-LV-rural1--0-sw")
    assert loaded.source_kind is SourceKind.SIMBENCH
    assert loaded.network.n_bus > 10
    with pytest.raises(InputError, match="SimBench has no network"):
        load_network("simbench:no-such-code")


def test_missing_voltage_limits_are_a_gridopt_warning() -> None:
    """The 0..2 pu default changes the OPF: users can filter it, or (as here) make it an error."""
    net = pn.case30()
    net.bus = net.bus.drop(columns=["min_vm_pu", "max_vm_pu"])
    with pytest.warns(GridoptWarning, match=r"30 buses have no voltage limits"):
        loaded = load_network(net)
    np.testing.assert_array_equal(loaded.case.vmax_pu, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GridoptWarning)
        with pytest.raises(GridoptWarning):
            load_network(net)
    complete = pn.case30()  # with its limits there is nothing to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("error", GridoptWarning)
        load_network(complete)
