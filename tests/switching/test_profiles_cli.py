"""Multi-period profiles and the ``gridopt reconfigure`` command (own argparse parser)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest
import xarray as xr

from gridopt.cli import reconfigure as cli
from gridopt.network.pandapower_model import model_from_pandapower
from gridopt.workflows.reconfigure import reconfigure
from tests.switching.conftest import random_meshed_net


def profiles_for(net: pp.pandapowerNet, factors: list[float]) -> xr.Dataset:
    loads = net.load.groupby("bus")[["p_mw", "q_mvar"]].sum()
    time = pd.date_range("2024-01-01", periods=len(factors), freq="30min")
    f = np.asarray(factors)[:, None]
    return xr.Dataset(
        {"p_mw": (("time", "bus"), f * loads["p_mw"].to_numpy()[None, :]),
         "q_mvar": (("time", "bus"), f * loads["q_mvar"].to_numpy()[None, :])},
        coords={"time": time, "bus": loads.index.to_numpy()},
    )


def test_constant_profile_equals_snapshot() -> None:
    net = random_meshed_net(5)
    snap = reconfigure(net)
    multi = reconfigure(net, profiles_for(net, [1.0, 1.0, 1.0]))
    assert np.array_equal(multi.closed, snap.closed)
    # three half-hour periods: 1.5 h of the snapshot's losses
    assert multi.after.losses_mwh == pytest.approx(1.5 * snap.after.losses_mwh, rel=1e-6)
    assert multi.losses_kw_after == pytest.approx(snap.losses_kw_after, rel=1e-6)


def test_profile_energy_not_worse_than_any_period_optimum() -> None:
    """The horizon optimum is no worse over the horizon than each single-period optimum."""
    net = random_meshed_net(7)
    factors = [0.3, 1.0, 1.6]
    multi = reconfigure(net, profiles_for(net, factors))
    assert multi.radial
    for f in factors:
        single = reconfigure(net, profiles_for(net, [f]))
        ev = multi.after.losses_mwh
        # evaluate the single-period optimum over the whole horizon with the same evaluator
        from gridopt.opf.switching.demand import bus_demand
        from gridopt.validate.switching import ACEvaluator

        model = model_from_pandapower(net, "mesh")
        other = ACEvaluator(net, model, multi.graph, bus_demand(model, profiles_for(net, factors)))
        assert ev <= other.evaluate(single.closed).losses_mwh * (1 + 1e-9)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridopt")
    cli.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_json_with_json_network_and_profiles(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    net = random_meshed_net(2)
    net_path = tmp_path / "net.json"
    pp.to_json(net, str(net_path))
    prof_path = tmp_path / "profiles.nc"
    profiles_for(net, [0.5, 1.0]).to_netcdf(prof_path)
    args = _parser().parse_args(["reconfigure", str(net_path), "--profiles", str(prof_path),
                                 "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("open_lines", "open_switches", "losses_kw_before", "losses_kw_after",
                "vmin_pu_before", "vmin_pu_after", "radial", "seconds"):
        assert key in out
    assert out["radial"] is True
    assert out["periods"] == 2
    assert out["losses_kw_after"] <= out["losses_kw_before"] + 1e-9
    # what the search did: MILP rounds, the gap HiGHS proved in the last one, exchange moves
    assert out["milp_rounds"] >= 1
    assert out["milp_status"] == "optimal"
    assert 0.0 <= out["milp_gap"] <= 1e-4  # MilpOptions.mip_rel_gap
    assert 0.0 <= out["milp_loss_model_gap"] <= 5e-3  # MilpOptions.objective_tolerance
    assert out["local_search_exchanges"] >= 0
    assert out["branch_exchange_moves"] >= 0 and out["fast_power_flows"] > 0
    assert out["milp_time_limit_s"] == pytest.approx(1.0)  # auto: 1 s floor on a small feeder
    assert out["local_search_start"] in ("milp", "search")


def test_cli_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = random_meshed_net(2)
    island = pp.create_bus(net, vn_kv=12.66)
    pp.create_load(net, island, p_mw=0.2)
    net_path = tmp_path / "island.json"
    pp.to_json(net, str(net_path))
    args = _parser().parse_args(["reconfigure", str(net_path), "--json"])
    assert args.func(args) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "error"
    assert "island without supply" in out["message"]


def test_cli_missing_profiles_exit_2(tmp_path: Path) -> None:
    net = random_meshed_net(2)
    net_path = tmp_path / "net.json"
    pp.to_json(net, str(net_path))
    args = _parser().parse_args(["reconfigure", str(net_path), "--profiles",
                                 str(tmp_path / "nope.nc")])
    assert args.func(args) == 2


def test_cli_milp_time_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = random_meshed_net(2)
    net_path = tmp_path / "net.json"
    pp.to_json(net, str(net_path))
    bad = _parser().parse_args(["reconfigure", str(net_path), "--milp-time-limit", "0", "--json"])
    assert bad.func(bad) == 2
    assert "--milp-time-limit" in json.loads(capsys.readouterr().out)["message"]
    ok = _parser().parse_args(["reconfigure", str(net_path), "--milp-time-limit", "30",
                               "--json"])
    assert ok.func(ok) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["radial"] is True
    assert out["milp_time_limit_s"] == pytest.approx(30.0)


def test_cli_text_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = random_meshed_net(2)
    net_path = tmp_path / "net.json"
    pp.to_json(net, str(net_path))
    args = _parser().parse_args(["reconfigure", str(net_path), "--no-warm-start"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "round(s)" in text and "AC exchange(s)" in text
    assert "radial          yes" in text
