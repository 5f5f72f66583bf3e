"""Small random networks: the result equals the optimum of an exhaustive spanning-tree search."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from gridopt.opf.switching import ReconfigureOptions
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import (
    assert_radial_and_connected,
    exhaustive_optimum,
    random_meshed_net,
)


@pytest.mark.parametrize(
    ("seed", "n_bus"),
    [(1, 6), (2, 6), (5, 6), pytest.param(7, 7, marks=pytest.mark.slow),
     pytest.param(11, 8, marks=pytest.mark.slow)],
)
def test_equals_exhaustive_enumeration(seed: int, n_bus: int) -> None:
    net = random_meshed_net(seed, n_bus=n_bus, n_extra=3)
    best_mw, best_open = exhaustive_optimum(net)
    res = reconfigure(net)
    assert res.radial
    assert_radial_and_connected(res.net)
    assert res.losses_kw_after == pytest.approx(best_mw * 1e3, rel=1e-7)
    assert set(res.open_lines) == best_open


@pytest.mark.parametrize("seed", [1, pytest.param(5, marks=pytest.mark.slow)])
def test_milp_alone_is_exhaustive_optimum(seed: int) -> None:
    """Without the AC local search the MILP's own choice is already the optimum here."""
    net = random_meshed_net(seed, n_bus=6, n_extra=3)
    best_mw, best_open = exhaustive_optimum(net)
    res = reconfigure(net, options=ReconfigureOptions(local_search=False))
    assert set(res.open_lines) == best_open
    assert res.after.losses_mwh == pytest.approx(best_mw, rel=1e-7)


def test_max_switching_respected(small_net: pp.pandapowerNet) -> None:
    free = reconfigure(small_net)
    assert free.switching_operations >= 2, "seed must need at least one exchange"
    limited = reconfigure(small_net, options=ReconfigureOptions(max_switching=0))
    assert limited.switching_operations == 0
    assert limited.losses_kw_after == pytest.approx(limited.losses_kw_before, rel=1e-9)
    assert np.array_equal(limited.closed, limited.graph.closed0)
