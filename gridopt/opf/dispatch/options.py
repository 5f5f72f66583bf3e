"""Options and closed choices of the multi-period dispatch."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class GridModel(enum.Enum):
    """Power-flow model of the dispatch LP.

    ``LINDISTFLOW`` (radial networks): branch P, Q and squared voltage (Baran & Wu, 1989).
    ``DC_LOSSES`` (meshed networks): DC flows from voltage angles plus linearised losses.
    ``AUTO`` picks LinDistFlow when the network is radial.
    """

    AUTO = "auto"
    LINDISTFLOW = "lindistflow"
    DC_LOSSES = "dc"


@dataclass(frozen=True)
class DispatchOptions:
    """Weights, penalties and iteration limits of the dispatch.

    Attributes
    ----------
    grid_model
        Power-flow model (see :class:`GridModel`).
    loss_weight_per_mwh
        Objective weight of one MWh of network (and storage conversion) losses.
    curtailment_penalty_per_mwh
        Objective weight of one MWh of curtailed PV.
    cycling_penalty_per_mwh
        Objective weight of one MWh charged or discharged (wear).
    voltage_slack_penalty
        Weight of the voltage-limit slack, per pu² of squared-voltage violation and hour.
    thermal_slack_penalty_per_mvah
        Weight of the thermal-limit slack, per MVA over the rating and hour.
    max_iterations
        Most linearisation rounds (LP solve + AC power flow) per dispatch.
    loss_tolerance
        The linearisation has settled when the model's total losses agree with the AC losses
        and with the previous round's AC losses within this relative tolerance.
    seed_scales, seed_radii, seed_directions
        Where the initial loss tangents go (piecewise-linear start of the successive
        linearisation): at these multiples of the baseline flows, and on circles of these
        fractions of each branch's largest baseline flow,
        in this many directions of the (P, Q) plane (see
        :func:`gridopt.opf.dispatch.model.seed_tangents`).
    slack_tolerance
        Slack below this (pu² or MVA) counts as no violation.
    threads
        HiGHS threads (``None``: HiGHS decides).
    fast_refresh
        Between rounds, compute the AC operating point of all periods at once with the
        vectorised power flow :func:`gridopt.validate.dispatch.series_power_flow` (radial
        networks; about a thousand times faster than one ``pandapower.runpp`` per period)
        instead of ``pandapower.runpp``. The final dispatch and the baseline are always
        checked with ``pandapower.runpp``.
    """

    grid_model: GridModel = GridModel.AUTO
    loss_weight_per_mwh: float = 1.0
    curtailment_penalty_per_mwh: float = 0.2
    cycling_penalty_per_mwh: float = 0.005
    voltage_slack_penalty: float = 1.0e3
    thermal_slack_penalty_per_mvah: float = 1.0e2
    max_iterations: int = 12
    loss_tolerance: float = 0.005
    seed_scales: tuple[float, ...] = (1.0, 0.5, 0.25)
    seed_radii: tuple[float, ...] = (1.0,)
    seed_directions: int = 8
    slack_tolerance: float = 1.0e-5
    threads: int | None = 1
    fast_refresh: bool = True
