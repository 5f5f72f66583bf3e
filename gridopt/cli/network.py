"""``gridopt network NET``: what a network holds, as a planner checks it after import."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridopt.cli._common import EXIT_OK, configure_logging, emit_json, run_guarded

NET_HELP = (
    "a pandapower built-in name (case33bw), a shipped PGLib case, a MATPOWER .m file, a "
    "pandapower .json file, simbench:<code> or an OpenDSS .dss master file"
)


def register(subparsers: Any) -> None:
    """Add the ``network`` subcommand."""
    p = subparsers.add_parser(
        "network",
        help="count buses, lines, transformers, loads, generation, switches and islands",
        description=f"Summarise the network NET: {NET_HELP}.",
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input.",
    )
    p.add_argument("net", metavar="NET")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def _print(s: dict[str, Any]) -> None:
    c, sw, isl = s["counts"], s["switches"], s["islands"]
    levels = ", ".join(f"{lv['vn_kv']:g} kV ({lv['buses']})" for lv in s["voltage_levels_kv"])
    lines = [
        f"network         {s['network']} ({s['source_kind']})",
        f"buses           {c['buses']}   lines {c['lines']}   transformers {c['transformers']}",
        f"loads           {c['loads']}: {s['total_load_mw']:.4f} MW, "
        f"{s['total_load_mvar']:.4f} Mvar",
        f"generation      ext_grid {c['ext_grids']}, gen {c['generators']}, sgen "
        f"{c['static_generators']}, storage {c['storage']}",
        f"switches        {sw['count']} ({sw['ties']} open ties"
        + (f": {', '.join(sw['tie_names'])}" if sw["tie_names"] else "") + ")",
        f"voltage levels  {levels}",
        f"islands         {isl['count']} ({isl['unsupplied']} without a source)",
    ]
    for name in s["unsupported"]:
        lines.append(f"unsupported     {name}")
    for note in s.get("opendss", {}).get("notes", []):
        lines.append(f"note            {note}")
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt network`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)

    def body() -> int:
        from gridopt.workflows.network_report import network_report

        summary = network_report(args.net)
        if args.json:
            emit_json({"status": "ok", **summary})
        else:
            _print(summary)
        return EXIT_OK

    return run_guarded(body, args.json, {"network": args.net})
