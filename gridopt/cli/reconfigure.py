"""``gridopt reconfigure NET``: loss-minimising radial reconfiguration with an AC check."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridopt.cli._common import EXIT_OK, configure_logging, emit_json, run_guarded


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated integer indices, e.g. 32,33,34") from None


def register(subparsers: Any) -> None:
    """Add the ``reconfigure`` subcommand."""
    p = subparsers.add_parser(
        "reconfigure",
        help="find the radial switch configuration with the lowest losses",
        description=(
            "Choose which switches/lines of NET are open so that the network is radial and its "
            "losses (energy losses over --profiles) are lowest: fast branch-exchange heuristics "
            "on gridopt's own power flow, a MILP (LinDistFlow, HiGHS) warm-started with their "
            "answer, then an AC branch-exchange search with pandapower. NET is a pandapower "
            "built-in name (case33bw), a pandapower .json or MATPOWER .m file, or "
            "simbench:<code>."
        ),
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input, 3 infeasible or solver failure.",
    )
    p.add_argument("network", metavar="NET")
    p.add_argument("--profiles", metavar="FILE.nc",
                   help="NetCDF with p_mw (and q_mvar) over (time, bus): net consumption")
    p.add_argument("--max-switching", type=int, metavar="N",
                   help="change the state of at most N elements")
    p.add_argument("--switchable-lines", type=_int_list, metavar="I,J,...",
                   help="line indices that may be switched (default: all lines when the net has "
                        "no switch table, none otherwise)")
    p.add_argument("--switchable-switches", type=_int_list, metavar="I,J,...",
                   help="switch indices that may be switched (default: line and bus-bus switches)")
    p.add_argument("--milp-time-limit", type=float, default=None, metavar="SECONDS",
                   help="wall-time budget of the MILP, all rounds together (default: 0.02 s "
                        "per switchable loop edge, 1-30 s); at the limit the best configuration "
                        "found is used and the remaining gap reported (milp_gap in --json)")
    p.add_argument("--no-warm-start", action="store_true",
                   help="skip the fast heuristics before the MILP (no MIP start)")
    p.add_argument("--no-local-search", action="store_true",
                   help="skip the AC branch-exchange search after the MILP")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3g} %"


def _print_summary(s: dict[str, Any]) -> None:
    lines = [
        f"network         {s['network']} ({s['periods']} period(s))",
        f"open lines      {', '.join(map(str, s['open_lines'])) or '-'}",
        f"open switches   {', '.join(map(str, s['open_switches'])) or '-'}",
        f"losses          {s['losses_kw_before']:.2f} kW -> {s['losses_kw_after']:.2f} kW "
        f"(mean over the horizon)",
        f"min voltage     {s['vmin_pu_before']:.4f} pu -> {s['vmin_pu_after']:.4f} pu",
        f"radial          {'yes' if s['radial'] else 'NO'}, "
        f"{s['switching_operations']} switching operation(s)",
        f"search          MILP {s['milp_rounds']} round(s), {s['milp_status']}, gap "
        f"{_percent(s['milp_gap'])}; {s['branch_exchange_moves']} fast and "
        f"{s['local_search_exchanges']} AC exchange(s)",
        f"time            {s['seconds']:.2f} s (MILP {s['milp_seconds']:.2f} s, "
        f"{s['power_flows']} power flows {s['ac_seconds']:.2f} s)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt reconfigure`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"network": args.network}

    def body() -> int:
        from gridopt.errors import InputError
        from gridopt.workflows.reconfigure import (
            MilpOptions,
            ReconfigureOptions,
            SwitchableSpec,
            run_reconfigure,
        )

        milp = MilpOptions()
        if args.milp_time_limit is not None:
            if not args.milp_time_limit > 0:
                raise InputError(f"--milp-time-limit {args.milp_time_limit:g}: give a positive "
                                 "number of seconds")
            milp = MilpOptions(time_limit_s=args.milp_time_limit)
        options = ReconfigureOptions(
            milp=milp,
            switchable=SwitchableSpec(lines=args.switchable_lines,
                                      switches=args.switchable_switches),
            max_switching=args.max_switching,
            local_search=not args.no_local_search,
            warm_start=not args.no_warm_start,
        )
        result = run_reconfigure(args.network, args.profiles, options)
        summary = {"status": "ok", **result.summary()}
        if args.json:
            emit_json(summary)
        else:
            _print_summary(summary)
        return EXIT_OK

    return run_guarded(body, args.json, context)
