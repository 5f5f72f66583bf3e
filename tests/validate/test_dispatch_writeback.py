"""The dispatch's AC check reads pandapower's results back through the model's element refs.

On pandapower's multi-voltage example (lines, two- and three-winding transformers, an
impedance, closed bus-bus switches fused into one node, an extended ward) the checker's flows,
losses and voltages must equal a plain ``runpp`` of the same loads, element by element.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.opf.dispatch.grid import grid_from_model
from gridopt.validate.dispatch import ACChecker, ViolationKind, ac_violations


@pytest.fixture(scope="module")
def net() -> pp.pandapowerNet:
    net = pn.example_multivoltage()
    # The checker keeps ext_grid as the only voltage source; so does the reference below.
    net.gen = net.gen.iloc[0:0]
    return net


def _reference(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """The net with its loads and static generators as the checker sees them (no gens)."""
    ref = copy.deepcopy(net)
    pp.runpp(ref, numba=False)
    return ref


def _position_power(net: pp.pandapowerNet, grid: object) -> tuple[np.ndarray, np.ndarray]:
    """Net demand (loads minus static generators) of each grid position, MW and Mvar."""
    members = grid.bus_members  # type: ignore[attr-defined]
    where = {b: k for k, m in enumerate(members) for b in m}
    p = np.zeros(len(members))
    q = np.zeros(len(members))
    for table, sign in (("load", 1.0), ("sgen", -1.0)):
        t = net[table][net[table].in_service]
        scale = t["scaling"].to_numpy() if "scaling" in t else np.ones(len(t))
        np.add.at(p, [where[int(b)] for b in t.bus], sign * t.p_mw.to_numpy() * scale)
        np.add.at(q, [where[int(b)] for b in t.bus], sign * t.q_mvar.to_numpy() * scale)
    return p, q


def test_flows_losses_and_voltages_match_runpp(net: pp.pandapowerNet) -> None:
    grid = grid_from_model(model_from_pandapower(net, "multivoltage"))
    kinds = {table for table, _ in grid.branch_ref}
    assert {"line", "trafo", "trafo3w", "impedance"} <= kinds
    p, q = _position_power(net, grid)
    zero = np.zeros((1, grid.n_bus))
    check = ACChecker(net, grid).run(p[None, :], q[None, :], zero, zero)
    assert check.all_converged
    ref = _reference(net)
    sides = grid.branch_side
    for k, (table, idx) in enumerate(grid.branch_ref):
        res = ref[f"res_{table}"].loc[idx]
        if table == "line":
            expected = res.p_from_mw
        elif table == "trafo":
            expected = res.p_hv_mw
        elif table == "trafo3w":
            side = sides[k]
            expected = res[f"p_{side}_mw"] * (1.0 if side == "hv" else -1.0)
        elif table == "impedance":
            expected = res.p_from_mw
        else:
            continue
        assert check.p_from_mw[0, k] == pytest.approx(expected, abs=1e-6), (table, idx)
    branch_losses = sum(float(ref[f"res_{t}"].pl_mw.sum())
                        for t in ("line", "trafo", "trafo3w", "impedance"))
    # Fused bus-bus switches and the extended ward's internal branch carry no losses of their own
    # in the checker; everything else is pandapower's own figure.
    assert check.losses_mw[0] == pytest.approx(branch_losses, abs=1e-6)
    real = np.asarray(grid.bus_id) >= 0
    np.testing.assert_allclose(check.vm_pu[0, real],
                               ref.res_bus.loc[np.asarray(grid.bus_id)[real], "vm_pu"], atol=1e-8)
    assert np.isnan(check.vm_pu[0, ~real]).all()  # star points report no bus voltage
    assert check.p_grid_mw[0] == pytest.approx(float(ref.res_ext_grid.p_mw.sum()), abs=1e-6)


def test_thermal_violation_names_the_overloaded_element(net: pp.pandapowerNet) -> None:
    grid = grid_from_model(model_from_pandapower(net, "multivoltage"))
    p, q = _position_power(net, grid)
    zero = np.zeros((1, grid.n_bus))
    checker = ACChecker(net, grid)
    trafo3w = next(k for k, (t, _) in enumerate(grid.branch_ref) if t == "trafo3w")
    times = np.array(["t0"])

    def thermal() -> set[str]:
        check = checker.run(p[None, :], q[None, :], zero, zero)
        return {v.element for v in ac_violations(check, grid, times)
                if v.kind is ViolationKind.THERMAL}

    before = thermal()
    # Tighten the three-winding transformer's limit below its loading: the new violation must
    # name it (and nothing else changes).
    loading = checker.run(p[None, :], q[None, :], zero, zero).loading_percent[0, trafo3w]
    assert loading > 0
    checker.max_loading_percent[trafo3w] = loading / 2
    assert thermal() - before == {grid.branch_label[trafo3w]}
    assert grid.branch_label[trafo3w].startswith("trafo3w")
