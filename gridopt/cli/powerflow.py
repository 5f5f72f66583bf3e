"""``gridopt powerflow NET``: pandapower's AC power flow of a network as loaded."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridopt.cli._common import (
    EXIT_INFEASIBLE,
    EXIT_OK,
    configure_logging,
    emit_json,
    run_guarded,
)
from gridopt.cli.network import NET_HELP


def register(subparsers: Any) -> None:
    """Add the ``powerflow`` subcommand."""
    p = subparsers.add_parser(
        "powerflow",
        help="run an AC power flow: losses, source power, voltage extremes, loading",
        description=(
            f"Run pandapower's AC power flow on NET: {NET_HELP}. For an OpenDSS model the "
            "result is also compared with OpenDSS's own unbalanced solution."
        ),
        epilog="Exit codes: 0 converged, 1 internal error, 2 bad input, 3 not converged.",
    )
    p.add_argument("net", metavar="NET")
    p.add_argument("--switch", action="append", default=[], metavar="NAME=open|closed",
                   help="open or close a switch or line by name before the power flow (a "
                        "reconfiguration's result; repeatable); for an OpenDSS model the same "
                        "configuration is also solved in OpenDSS itself")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def _print(s: dict[str, Any]) -> None:
    if not s["converged"]:
        sys.stdout.write(f"network         {s['network']}\nconverged       no: {s['message']}\n")
        return
    branch = s["most_loaded_branch"]
    lines = [
        f"network         {s['network']} ({s['source_kind']})",
        "converged       yes",
        f"losses          {s['losses_kw']:.2f} kW",
        f"source          {s['source_kw']:.2f} kW, {s['source_kvar']:.2f} kvar",
        f"voltage         {s['vmin_pu']:.4f} pu ({s['vmin_bus']}) .. {s['vmax_pu']:.4f} pu "
        f"({s['vmax_bus']})",
    ]
    if branch:
        lines.append(f"most loaded     {branch['name']} ({branch['element']}) "
                     f"{branch['loading_percent']:.1f} %")
    truth = s.get("opendss_ac_check")
    if truth:
        lines.append(f"OpenDSS AC      {'converged' if truth['converged'] else 'NOT converged'}"
                     f", losses {truth['losses_kw']:.2f} kW, V {truth['vmin_pu']:.4f} .. "
                     f"{truth['vmax_pu']:.4f} pu (unbalanced, phase nodes)")
    check = s.get("opendss_check")
    if check:
        loss, vm = check["losses_kw"], check["vm_pu"]
        lines.append(f"vs OpenDSS      losses {loss['opendss']:.2f} kW "
                     f"({loss['error_percent']:+.2f} %), max |dV| {vm['max_abs_error']:.4f} pu "
                     f"({vm['bus']}), mean {vm['mean_abs_error']:.4f} pu")
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt powerflow`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)

    def body() -> int:
        from gridopt.errors import InputError
        from gridopt.workflows.network_report import powerflow_report

        closed = {}
        for item in args.switch:
            name, _, state = item.partition("=")
            if state.strip().lower() not in ("open", "closed") or not name.strip():
                raise InputError(f"--switch {item!r}: give NAME=open or NAME=closed")
            closed[name.strip()] = state.strip().lower() == "closed"
        summary = powerflow_report(args.net, closed)
        status = "ok" if summary["converged"] else "not_converged"
        if args.json:
            emit_json({"status": status, **summary})
        else:
            _print(summary)
        return EXIT_OK if summary["converged"] else EXIT_INFEASIBLE

    return run_guarded(body, args.json, {"network": args.net})
