"""Reconfiguration benchmark: gridopt vs a pandapower branch exchange, same AC evaluator.

Usage::

    flock /tmp/gridopt-bench.lock .venv/bin/python benchmarks/bench_reconfigure.py \
        [--repeats 3] [--systems case33bw,case118zh,semiurb,urban,rural] [--no-write]

Systems: ``case33bw`` (pandapower, 5 ties), ``case118zh`` (MATPOWER, ``tests/data/reconfig``,
15 ties, best published AC loss 869.7 kW), SimBench ``1-MV-semiurb--0-sw``,
``1-MV-urban--0-sw`` and ``1-MV-rural--0-sw`` with their open ring points (line and bus-bus
switches switchable). In semiurb and rural the two HV/MV transformers run in parallel through
both bus couplers, a loop the peer cannot start from: the MV coupler (switch 5) is opened first,
for both methods.

Per system: one power flow to compile numba, one untimed run of each method, then
``--repeats`` timed runs of each, the order alternated. Writes
``docs/benchmarks/reconfigure.md`` and ``.json`` (machine, versions, load average, every run)
and runs ``benchmarks/collect.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandapower as pp
import pandapower.networks as pn

from gridopt.network.load import load_network
from gridopt.workflows.reconfigure import (
    NetReconfiguration,
    branch_exchange_heuristic,
    reconfigure,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from _reconf_report import GRIDOPT, PEER, markdown, versions, write_atomic

REPO = Path(__file__).resolve().parents[1]
CASE118ZH = REPO / "tests" / "data" / "reconfig" / "case118zh.m"
SIMBENCH = {"semiurb": "1-MV-semiurb--0-sw", "urban": "1-MV-urban--0-sw",
            "rural": "1-MV-rural--0-sw"}


def load_system(name: str) -> tuple[str, pp.pandapowerNet]:
    """The pandapower net of a benchmark system and its label."""
    if name == "case33bw":
        return "case33bw (5 ties)", pn.case33bw()
    if name == "case118zh":
        return "case118zh (15 ties)", load_network(CASE118ZH).pandapower_net()
    import simbench as sb

    code = SIMBENCH[name]
    net = sb.get_simbench_net(code)
    label = f"SimBench {code}"
    if name in ("semiurb", "rural"):
        net.switch.at[5, "closed"] = False  # MV bus coupler: the parallel transformers split
        label += " (MV coupler open)"
    return label, net


def _run(method: Callable[[pp.pandapowerNet], NetReconfiguration], net: pp.pandapowerNet
         ) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = method(net)
    seconds = time.perf_counter() - t0
    return {**res.summary(), "seconds": seconds, "method_seconds": res.seconds}


METHODS: dict[str, Callable[[pp.pandapowerNet], NetReconfiguration]] = {
    GRIDOPT: reconfigure, PEER: branch_exchange_heuristic}


def bench_system(name: str, repeats: int) -> dict[str, Any]:
    label, net = load_system(name)
    pp.runpp(net, numba=True)  # numba JIT for both methods
    warmup = {m: _run(f, net) for m, f in METHODS.items()}
    runs = []
    for r in range(repeats):
        order = [GRIDOPT, PEER] if r % 2 == 0 else [PEER, GRIDOPT]
        run: dict[str, Any] = {"order": order, "load_average": list(os.getloadavg())}
        for m in order:
            run[m] = _run(METHODS[m], net)
            print(f"{label} repeat {r} {m}: {run[m]['losses_kw_after']:.2f} kW, "
                  f"{run[m]['seconds']:.2f} s", flush=True)
        runs.append(run)
    return {"name": label, "system": name, "warmup": warmup, "repeats": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", default="case33bw,case118zh,semiurb,urban,rural",
                        help="comma-separated: case33bw, case118zh, semiurb, urban, rural")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave docs/benchmarks untouched")
    args = parser.parse_args()
    mach = machine()
    started = dt.datetime.now(dt.UTC).isoformat()
    systems = [bench_system(s.strip(), args.repeats) for s in args.systems.split(",")
               if s.strip()]
    mach["load_average_end"] = list(os.getloadavg())
    mach["versions"] = versions()
    report = {"command": sys.argv[1:], "started": started, "machine": mach,
              "repeats": args.repeats, "systems": systems}
    text = markdown(report)
    print(text)
    if args.no_write:
        return
    out = REPO / "docs" / "benchmarks"
    write_atomic(out / "reconfigure.json", json.dumps(report, indent=1, default=str) + "\n")
    write_atomic(out / "reconfigure.md", text)
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "collect.py")], check=True)


if __name__ == "__main__":
    main()
