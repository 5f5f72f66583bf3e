"""Baran & Wu 33-bus: the published loss-minimal configuration (Baran & Wu, IEEE TPWRD 1989)."""

from __future__ import annotations

import copy

import pandapower as pp
import pandapower.networks as pn
import pytest

from gridopt.workflows.reconfigure import NetReconfiguration as ReconfigurationResult
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import assert_radial_and_connected


@pytest.fixture(scope="module")
def case33() -> tuple[pp.pandapowerNet, pp.pandapowerNet, ReconfigurationResult]:
    net = pn.case33bw()
    snapshot = copy.deepcopy(net)
    return net, snapshot, reconfigure(net)


def test_published_optimum(case33: tuple[pp.pandapowerNet, pp.pandapowerNet,
                                         ReconfigurationResult]) -> None:
    _, _, res = case33
    assert res.open_lines == (6, 8, 13, 31, 36)
    assert res.open_switches == ()
    assert res.losses_kw_before == pytest.approx(202.68, abs=0.01)
    assert res.losses_kw_after == pytest.approx(139.55, abs=0.01)
    assert res.after.vmin_pu == pytest.approx(0.9378, abs=5e-5)
    assert res.radial
    assert_radial_and_connected(res.net)


def test_result_net_reproduces_reported_losses(
    case33: tuple[pp.pandapowerNet, pp.pandapowerNet, ReconfigurationResult]
) -> None:
    _, _, res = case33
    net = copy.deepcopy(res.net)
    pp.runpp(net, numba=False)
    assert float(net.res_line.pl_mw.sum()) * 1e3 == pytest.approx(res.losses_kw_after, rel=1e-9)
    assert float(net.res_bus.vm_pu.min()) == pytest.approx(res.after.vmin_pu, rel=1e-9)


def test_caller_net_untouched(
    case33: tuple[pp.pandapowerNet, pp.pandapowerNet, ReconfigurationResult]
) -> None:
    net, snapshot, _ = case33
    assert net.line.equals(snapshot.line)
    assert net.switch.equals(snapshot.switch)
    assert net.load.equals(snapshot.load)
    assert "res_line" not in net or net.res_line.equals(snapshot.res_line)
