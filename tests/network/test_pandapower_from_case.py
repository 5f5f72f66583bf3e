"""pandapower_from_case: a pandapower net with exactly the MATPOWER equations of a .m case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gridopt.network.arrays import build_network
from gridopt.network.case_to_pandapower import pandapower_from_case
from gridopt.network.matpower import read_matpower
from gridopt.network.samples import data_dir
from tests.network.conftest import pandapower_ybus

CASES = sorted(p for p in (data_dir() / "pglib").glob("*.m"))


def _params(paths: list[Path]) -> list[object]:
    return [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if "2869" in p.stem else [])
        for p in paths
    ]


@pytest.mark.parametrize("path", _params(CASES))
def test_ybus_equals_matpower_equations(path: Path) -> None:
    case = read_matpower(path)
    net, emap = pandapower_from_case(case)
    network = build_network(case)
    y_pp = pandapower_ybus(net, case, emap, network.bus_case_index)
    diff = abs(network.ybus() - y_pp).max()
    assert diff < 1e-9, f"{path.stem}: |Y_matpower - Y_pandapower| = {diff}"


def test_case24_exercises_the_tap_side_trap() -> None:
    """case24 has transformers whose MATPOWER "from" bus is the lower-voltage side."""
    case = read_matpower(data_dir() / "pglib" / "pglib_opf_case24_ieee_rts.m")
    is_trafo = (case.tap_ratio != 0) & (case.tap_ratio != 1)
    low_from = is_trafo & (case.base_kv[case.branch_from] < case.base_kv[case.branch_to])
    assert low_from.any()
    net, emap = pandapower_from_case(case)
    for b in np.flatnonzero(low_from):
        table, index = emap.branch[b]
        assert table == "trafo"
        # The tap (hv side in pandapower's terms) is on the MATPOWER "from" bus.
        assert net.trafo.hv_bus.at[index] == case.branch_from[b]


def test_slack_free_limits_costs_and_map() -> None:
    case = read_matpower(data_dir() / "pglib" / "pglib_opf_case14_ieee.m")
    net, emap = pandapower_from_case(case)
    assert len(net.ext_grid) == 1 and bool(net.ext_grid.controllable.iloc[0])
    ref_bus = int(net.ext_grid.bus.iloc[0])
    assert net.bus.min_vm_pu.at[ref_bus] == case.vmin_pu[ref_bus]
    assert net.bus.max_vm_pu.at[ref_bus] == case.vmax_pu[ref_bus]
    assert emap.gen.count(("ext_grid", 0)) == 1
    for g, (table, index) in enumerate(emap.gen):
        cost = net.poly_cost[(net.poly_cost.et == table) & (net.poly_cost.element == index)]
        assert cost.cp1_eur_per_mw.iloc[0] == case.cost_c1[g]
        assert cost.cp2_eur_per_mw2.iloc[0] == case.cost_c2[g]
    assert [t for t, _ in emap.branch].count("line") == int(
        np.sum((case.tap_ratio == 0) & (case.shift_degree == 0))
    )
    assert emap.bus == tuple((("bus", i),) for i in range(case.n_bus))


def test_out_of_service_reference_generator() -> None:
    """Like case500_goc: the reference bus generator is off; the ext_grid moves with the ref."""
    case = read_matpower(data_dir() / "pglib" / "pglib_opf_case14_ieee.m")
    ref = int(np.flatnonzero(case.bus_type == 3)[0])
    off = case.gen_in_service & (case.gen_bus != ref)
    case = case.replace(gen_in_service=off)
    network = build_network(case)
    net, emap = pandapower_from_case(case)
    expected_bus = int(network.bus_case_index[network.ref_bus])
    assert int(net.ext_grid.bus.iloc[0]) == expected_bus
    assert expected_bus != ref
    g_off = int(np.flatnonzero(case.gen_bus == ref)[0])
    table, index = emap.gen[g_off]
    assert table == "gen" and not bool(net.gen.in_service.at[index])
