"""Reconfiguration benchmark: gridopt (MILP + AC branch exchange) vs a pandapower-driven
branch-exchange heuristic from the present configuration (the way users solve this today).

Usage::

    .venv/bin/python benchmarks/bench_reconfigure.py [--case118zh] [--simbench] \
        [--out docs/benchmarks/reconfigure.md]

``--case118zh`` adds MATPOWER's 118-node Zhang feeder group (``tests/data/reconfig``, 15 ties;
best published AC loss 869.7 kW), every branch switchable.

Both methods evaluate configurations with ``pandapower.runpp``; the table reports AC losses
before/after, minimum voltage, open elements, power-flow counts and wall time.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
from pathlib import Path

import pandapower as pp
import pandapower.networks as pn

from gridopt.network.load import load_network
from gridopt.opf.switching import MilpOptions, ReconfigurationResult, ReconfigureOptions
from gridopt.validate.switching import NUMBA
from gridopt.workflows.reconfigure import branch_exchange_heuristic, reconfigure

CASE118ZH = Path(__file__).resolve().parents[1] / "tests" / "data" / "reconfig" / "case118zh.m"


def _gap(r: ReconfigurationResult) -> str:
    if r.milp is None:
        return "-"
    gap = r.milp.mip_gap
    return "?" if gap is None or not math.isfinite(gap) else f"{100 * gap:.3g} %"


def _row(name: str, method: str, r: ReconfigurationResult) -> str:
    opened = (", ".join(map(str, r.open_lines)) if len(r.open_lines) <= 8
              else f"{len(r.open_lines)} lines")
    milp = f"{r.milp_seconds:.1f}" if r.milp else "-"
    rounds = str(r.milp.rounds) if r.milp else "-"
    return (f"| {name} | {method} | {r.losses_kw_before:.2f} | {r.losses_kw_after:.2f} | "
            f"{r.after.vmin_pu:.4f} | {opened} | {r.power_flows} | {rounds} | {_gap(r)} | "
            f"{r.exchanges} | {milp} | {r.seconds:.1f} |")


def cases(with_case118zh: bool, with_simbench: bool
          ) -> list[tuple[str, pp.pandapowerNet, ReconfigureOptions]]:
    out = [("case33bw", pn.case33bw(), ReconfigureOptions())]
    if with_case118zh:
        # every branch switchable (the default for a net without switches), ties included;
        # a per-round MILP time limit, the remaining gap is reported
        out.append(("case118zh (15 ties)", load_network(CASE118ZH).pandapower_net(),
                    ReconfigureOptions(milp=MilpOptions(time_limit_s=60.0))))
    if with_simbench:
        import simbench as sb

        net = sb.get_simbench_net("1-MV-rural--0-sw")
        # as delivered, the two parallel HV/MV transformers and both bus couplers form a loop;
        # open the MV coupler (switch 5) so that the heuristic has a radial start
        net.switch.at[5, "closed"] = False
        out.append(("SimBench 1-MV-rural--0-sw (MV coupler open)", net,
                    ReconfigureOptions(milp=MilpOptions(time_limit_s=60.0, max_rounds=2))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case118zh", action="store_true", help="include MATPOWER case118zh")
    parser.add_argument("--simbench", action="store_true", help="include a SimBench MV grid")
    parser.add_argument("--only-simbench", action="store_true", help="skip case33bw")
    parser.add_argument("--out", type=Path, help="write the markdown table here (atomically)")
    args = parser.parse_args()
    rows = []
    todo = cases(args.case118zh and not args.only_simbench, args.simbench or args.only_simbench)
    if args.only_simbench:
        todo = todo[1:]
    for name, net, options in todo:
        g = reconfigure(net, options=options)
        rows.append(_row(name, "gridopt MILP + AC exchange", g))
        h = branch_exchange_heuristic(net, options=options)
        rows.append(_row(name, "branch exchange (pandapower)", h))
        print(rows[-2])
        print(rows[-1])
    text = "\n".join([
        "# Reconfiguration benchmark",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; "
        f"pandapower {pp.__version__}, numba {'on' if NUMBA else 'not installed'}; HiGHS 1 thread.",
        "Losses are pandapower AC losses (kW); `pf` = number of `pandapower.runpp` calls; "
        "`rounds` = MILP solves of the successive loss linearisation; `gap` = relative MIP gap "
        "HiGHS proved in the last round; `moves` = improving branch exchanges.",
        "",
        "| network | method | losses before | losses after | vmin after | open lines | pf "
        "| rounds | gap | moves | MILP s | total s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    if args.out:
        fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=args.out.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
    print(text)


if __name__ == "__main__":
    main()
