"""``gridopt dispatch NET --forecast FILE.nc``: loss-minimising dispatch, AC-checked."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gridopt.cli._common import (
    EXIT_INFEASIBLE,
    EXIT_OK,
    configure_logging,
    emit_json,
    run_guarded,
)


def register(subparsers: Any) -> None:
    """Add the ``dispatch`` subcommand."""
    p = subparsers.add_parser(
        "dispatch",
        help="loss-minimising dispatch of storage, PV curtailment and flexible load",
        description=(
            "Dispatch the controllable assets of NET (declared in the net or in --assets) over "
            "the horizon of the (time, bus) forecast so that losses are lowest and limits hold; "
            "every period is checked with a pandapower AC power flow and compared with a "
            "baseline that uses no flexibility. NET is a pandapower built-in name (case33bw), "
            "a pandapower .json file, a MATPOWER .m file or simbench:<code>."
        ),
        epilog=(
            "Exit codes: 0 ok, 1 internal error, 2 bad input, 3 infeasible (limits could not "
            "all be met: the least-violating dispatch and its violations are still reported) "
            "or solver failure."
        ),
    )
    p.add_argument("network", metavar="NET")
    p.add_argument("--forecast", required=True, metavar="FILE.nc",
                   help="NetCDF: p_mw, q_mvar (time, bus); optional pv_p_mw, price_per_mwh")
    p.add_argument("--assets", metavar="FILE.toml",
                   help="asset declarations (see docs/dispatch.md)")
    p.add_argument("--out", metavar="FILE.nc", help="write the dispatch dataset as NetCDF")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def _print_summary(s: dict[str, Any]) -> None:
    lines = [
        f"network          {s['network']} ({s['grid_model']}, {s['periods']} periods of "
        f"{s['period_hours']:g} h)",
        f"status           {s['status']}" + ("" if s["settled"] else " (losses not settled)"),
        f"losses           baseline {s['losses_baseline_mwh']:.4f} MWh, optimised "
        f"{s['losses_optimised_mwh']:.4f} MWh ({s['loss_reduction_percent']:.1f} % less; "
        f"model {s['losses_model_mwh']:.4f} MWh)",
        f"storage losses   {s['storage_losses_mwh']:.4f} MWh",
        f"curtailed        {s['curtailed_mwh']:.4f} MWh, shifted {s['shifted_mwh']:.4f} MWh",
        f"AC check         {'passed' if s['ac_checked'] else 'FAILED'}; voltage violations "
        f"baseline {s['voltage_violations_baseline']}, optimised "
        f"{s['voltage_violations_optimised']}",
    ]
    for v in s["violations"][:20]:
        lines.append(
            f"  {v['source']:5} {v['kind']:13} {v['time']}  {v['element']}: "
            f"{v['value']:.4f} (limit {v['limit']:.4f})"
        )
    if len(s["violations"]) > 20:
        lines.append(f"  ... {len(s['violations']) - 20} more (use --json for all)")
    print("\n".join(lines))


def run(args: argparse.Namespace) -> int:
    """Run the ``dispatch`` subcommand."""
    configure_logging(args.verbose, quiet_for_json=args.json)

    def body() -> int:
        from gridopt.workflows.dispatch import dispatch_files

        result = dispatch_files(
            args.network,
            Path(args.forecast),
            Path(args.assets) if args.assets else None,
            out_path=Path(args.out) if args.out else None,
        )
        summary = result.summary()
        if args.json:
            emit_json(summary)
        else:
            _print_summary(summary)
        return EXIT_INFEASIBLE if summary["status"] == "infeasible" else EXIT_OK

    return run_guarded(body, args.json, {"command": "dispatch", "network": args.network})
