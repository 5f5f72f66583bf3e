"""Planning stages of the job: network and assets, optional reconfiguration, dispatch, AC check.

**reconfigure** (optional): :func:`gridopt.workflows.reconfigure.reconfigure` on the bus
forecast averaged into ``[reconfigure] periods`` blocks. **dispatch**:
:func:`gridopt.workflows.dispatch.dispatch` on the (reconfigured) network: LP with successive
loss linearisation, every period checked by ``pandapower.runpp``, against a baseline without
flexibility; with reconfiguration the original topology is dispatched too, and the
reconfiguration is adopted only when its AC-checked dispatch is better (:class:`Plan`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

from gridopt.errors import InputError
from gridopt.workflows.job.result import (
    JobStage,
    Progress,
    ReconfigurationOutcome,
    StageClock,
)

if TYPE_CHECKING:
    from pandapower.auxiliary import pandapowerNet

    from gridopt.network.assets import Assets
    from gridopt.workflows.dispatch import DispatchResult
    from gridopt.workflows.jobconfig import JobConfig, ReconfigureSettings
    from gridopt.workflows.reconfigure import NetReconfiguration

# One logger for the whole job: run.log names it as before the stages were split.
logger = logging.getLogger("gridopt.workflows.job")


def dispatch_input(forecast: xr.Dataset) -> xr.Dataset:
    """The ``(time, bus)`` variables of a job forecast that the dispatch consumes."""
    names = [n for n in ("p_mw", "q_mvar", "pv_p_mw") if n in forecast]
    ds = forecast[names]
    return ds.drop_vars([c for c in ds.coords if c not in ("time", "bus")])


def block_profiles(forecast: xr.Dataset, periods: int) -> xr.Dataset:
    """Average the dispatch input over ``periods`` equal blocks (reconfiguration profiles)."""
    ds = dispatch_input(forecast)
    n = ds.sizes["time"]
    if n % periods:
        raise InputError(
            f"[reconfigure] periods = {periods} does not divide the {n} forecast intervals"
        )
    block = n // periods
    out = ds.coarsen(time=block).mean()
    out = out.assign_coords(time=ds["time"].values[::block])
    out.attrs["period_hours"] = block * float(forecast.attrs["interval_s"]) / 3600.0
    return out


def load_assets(net: pandapowerNet, path: str | Path | None) -> Assets:
    """Assets declared in ``net``, overridden and extended by the TOML file at ``path``."""
    from gridopt.network.assets import assets_from_toml, merge_assets
    from gridopt.network.pandapower_model import assets_from_net

    assets = assets_from_net(net)
    if path is not None:
        names = {str(n): int(i) for i, n in net.bus.name.items() if n is not None}
        assets = merge_assets(assets, assets_from_toml(Path(path), names))
    return assets


@dataclasses.dataclass(frozen=True, eq=False)
class Plan:
    """The dispatches of a job and the reconfiguration behind them.

    Attributes
    ----------
    result
        Dispatch on the network as dispatched (reconfigured when enabled).
    original
        With reconfiguration: the dispatch on the original topology (else ``None``).
    reconfiguration
        The reconfiguration, or ``None`` when ``[reconfigure] enabled = false``.
    adopted
        False when the original topology dispatched at least as well as the reconfigured one.
    """

    result: DispatchResult
    original: DispatchResult | None
    reconfiguration: NetReconfiguration | None
    adopted: bool

    @property
    def chosen(self) -> DispatchResult:
        """The dispatch reported: on the adopted topology."""
        return self.result if self.adopted or self.original is None else self.original

    @property
    def outcome(self) -> ReconfigurationOutcome:
        """Off, adopted or not adopted."""
        if self.reconfiguration is None:
            return ReconfigurationOutcome.OFF
        return (ReconfigurationOutcome.ADOPTED if self.adopted
                else ReconfigurationOutcome.NOT_ADOPTED)

    @property
    def reconfigured(self) -> DispatchResult | None:
        """With reconfiguration: the dispatch on the reconfigured topology (adopted or not)."""
        return self.result if self.reconfiguration is not None else None


def _better(candidate: DispatchResult, reference: DispatchResult) -> bool:
    """True when ``candidate`` breaks no more limits and has lower AC-checked losses."""
    return (len(candidate.violations), candidate.losses_mwh) < (
        len(reference.violations), reference.losses_mwh)


def _dispatch(net: pandapowerNet, demand: xr.Dataset, assets: Assets, cfg: JobConfig,
              name: str, clock: StageClock) -> DispatchResult:
    from gridopt.opf.dispatch.options import DispatchOptions
    from gridopt.workflows.dispatch import dispatch

    ds = cfg.dispatch
    options = DispatchOptions(
        max_iterations=ds.max_iterations, loss_tolerance=ds.loss_tolerance,
        curtailment_penalty_per_mwh=ds.curtailment_penalty_per_mwh,
        cycling_penalty_per_mwh=ds.cycling_penalty_per_mwh,
        loss_weight_per_mwh=ds.loss_weight_per_mwh, threads=ds.threads,
    )
    tick = time.perf_counter()
    result = dispatch(net, demand, assets, options, name=name)
    spent = time.perf_counter() - tick
    ac = float(result.seconds_by_stage.get("ac_check", 0.0)) + float(
        result.seconds_by_stage.get("baseline_ac", 0.0))
    clock.add(JobStage.AC_CHECK, ac)
    clock.add(JobStage.DISPATCH, max(spent - ac, 0.0))
    return result


def _reconfigure(net: pandapowerNet, forecast: xr.Dataset, rs: ReconfigureSettings,
                 say: Progress, clock: StageClock) -> NetReconfiguration:
    from gridopt.opf.switching import MilpOptions, ReconfigureOptions
    from gridopt.workflows.reconfigure import reconfigure

    say(f"reconfigure: MILP over {rs.periods} block(s) + AC branch exchange")
    tick = time.perf_counter()
    profiles = block_profiles(forecast, rs.periods)
    reconf = reconfigure(
        net, profiles,
        ReconfigureOptions(max_switching=rs.max_switching, local_search=rs.local_search,
                           milp=MilpOptions(time_limit_s=rs.milp_time_limit_s)),
    )
    logger.info("reconfigure: open lines %s, switches %s, %d operations",
                list(reconf.open_lines), list(reconf.open_switches),
                reconf.switching_operations)
    clock.add(JobStage.RECONFIGURE, time.perf_counter() - tick)
    return reconf


def plan_stage(cfg: JobConfig, forecast: xr.Dataset, say: Progress, clock: StageClock) -> Plan:
    """Load the network and assets, reconfigure (when enabled) and dispatch the forecast."""
    from gridopt.network.load import load_network

    loaded = load_network(cfg.network)
    net = loaded.pandapower_net()
    assets = load_assets(net, cfg.assets)
    reconf = None
    net_dispatched = net
    if cfg.reconfigure.enabled:
        reconf = _reconfigure(net, forecast, cfg.reconfigure, say, clock)
        net_dispatched = reconf.net

    # dispatch (+ AC check of every period, inside the dispatcher)
    demand = dispatch_input(forecast)
    original = None
    if reconf is not None:
        say("dispatch: original topology (reference)")
        original = _dispatch(net, demand, assets, cfg, loaded.name, clock)
    say("dispatch: loss-minimising schedule + AC power flow of every period")
    result = _dispatch(net_dispatched, demand, assets, cfg, loaded.name, clock)
    adopted = True
    if original is not None and not _better(result, original):
        # The configuration was chosen on block-averaged flows without the assets; when the
        # AC-checked dispatch on the original topology is at least as good, keep that topology.
        logger.info(
            "reconfigure: not adopted: dispatched losses %.4f MWh on the new configuration vs "
            "%.4f MWh on the original one", result.losses_mwh, original.losses_mwh)
        adopted = False
    return Plan(result=result, original=original, reconfiguration=reconf, adopted=adopted)


__all__ = ["Plan", "block_profiles", "dispatch_input", "load_assets", "plan_stage"]
