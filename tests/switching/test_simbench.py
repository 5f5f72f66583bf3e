"""SimBench MV grid with its line and bus-bus switches (simbench is a test dependency)."""

from __future__ import annotations

import pytest
import simbench as sb

from gridopt.opf.switching import MilpOptions, ReconfigureOptions
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import assert_radial_and_connected


@pytest.mark.slow
def test_simbench_mv_rural_radial_and_not_worse() -> None:
    net = sb.get_simbench_net("1-MV-rural--0-sw")
    options = ReconfigureOptions(
        milp=MilpOptions(time_limit_s=60.0, max_rounds=2), local_search_time_limit_s=120.0
    )
    res = reconfigure(net, options=options)
    assert res.radial
    assert_radial_and_connected(res.net)
    assert res.after.converged
    assert res.losses_kw_after <= res.losses_kw_before * (1 + 1e-9)
    assert set(res.open_switches) <= set(int(i) for i in net.switch.index)
