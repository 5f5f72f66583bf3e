"""``gridopt opf CASE``: optimal power flow with a pandapower AC check."""

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


def register(subparsers: Any) -> None:
    """Add the ``opf`` subcommand."""
    p = subparsers.add_parser(
        "opf",
        help="solve an AC or DC optimal power flow and check it with pandapower",
        description=(
            "Solve the optimal power flow of CASE: a pandapower built-in name (case118, "
            "case33bw, case1354pegase), a shipped PGLib case (pglib_opf_case14_ieee), a "
            "MATPOWER/PGLib .m file, a pandapower .json file or simbench:<code>."
        ),
        epilog=(
            "Exit codes: 0 optimal (and AC check passed), 1 internal error, 2 bad input, "
            "3 infeasible or not converged, or optimal but the AC check did not pass (the "
            "solution is still printed and written)."
        ),
    )
    p.add_argument("case", metavar="CASE")
    p.add_argument("--formulation", choices=["ac", "dc"], default="ac")
    p.add_argument("--objective", choices=["cost", "losses"], default="cost",
                   help="generation cost ($/h) or total branch losses (MW)")
    p.add_argument("--out", metavar="FILE.nc", help="write the solution as NetCDF")
    p.add_argument("--no-check", action="store_true",
                   help="skip the pandapower AC power-flow check of the result")
    p.add_argument("--check-mismatch-mva", type=float, default=1e-3, metavar="MVA",
                   help="largest nodal power mismatch of the OPF point in pandapower's "
                        "equations the AC check accepts (default 1e-3 MVA)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.set_defaults(func=run)


def _print_summary(s: dict[str, Any]) -> None:
    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [
        f"case            {s['case']} ({s['buses']} buses, {s['generators']} generators, "
        f"{s['branches']} branches)",
        f"formulation     {s['formulation']}, objective {s['objective_kind']}",
        f"status          {s['status']} ({s['solver']}: {s['solver_message']})",
        f"objective       {fmt(s['objective'], ',.4f')} {s['objective_units']}",
        f"losses          {fmt(s['losses_mw'], '.4f')} MW",
    ]
    if s["formulation"] == "ac":
        lines.append(f"voltage         {fmt(s['vmin_pu'], '.4f')} .. {fmt(s['vmax_pu'], '.4f')} pu")
        check = s.get("ac_check")
        if check:
            lines.append(
                f"AC check        {check['status'].upper().replace('_', ' ')}: pandapower runpp "
                f"{'converged' if check['converged'] else 'did not converge'}, "
                f"max mismatch {fmt(check['max_mismatch_mva'], '.2e')} MVA, losses "
                f"{fmt(check['losses_mw'], '.4f')} MW (diff {fmt(check['losses_diff_mw'], '.1e')})"
            )
            if check["message"]:
                lines.append(f"AC check reason {check['message']}")
            for note in check["notes"]:
                lines.append(f"AC check note   {note}")
    lines.append(
        f"time            {s['iterations']} iterations, solve {s['solve_seconds']:.3f} s, "
        f"total {s['total_seconds']:.3f} s"
    )
    for note in s.get("notes", []):
        lines.append(f"note            {note}")
    sys.stdout.write("\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt opf`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    context = {"case": args.case, "formulation": args.formulation, "objective_kind": args.objective}

    def body() -> int:
        from gridopt.errors import InputError
        from gridopt.workflows.opf import (
            CheckTolerances,
            Formulation,
            Objective,
            OPFRunOptions,
            run_opf,
            write_opf_result,
        )

        if not args.check_mismatch_mva > 0:
            raise InputError(
                f"--check-mismatch-mva {args.check_mismatch_mva:g}: give a positive tolerance"
            )
        options = OPFRunOptions(
            formulation=Formulation(args.formulation),
            objective=Objective(args.objective),
            ac_check=not args.no_check,
            check_tolerances=CheckTolerances(mismatch_mva=args.check_mismatch_mva),
        )
        result = run_opf(args.case, options)
        summary = result.summary()
        if args.out and result.solution.status.ok:
            summary["out"] = str(write_opf_result(result, args.out))
        if args.json:
            emit_json(summary)
        else:
            _print_summary(summary)
        if not result.solution.status.ok:
            sys.stderr.write(
                f"gridopt: {summary['status']}: {result.solution.report.message}\n"
            )
            return EXIT_INFEASIBLE
        if result.check is not None and not result.check.passed:
            # The OPF is optimal but pandapower does not confirm it: the solution is kept
            # (printed, and written with --out), the exit code says the run needs a look.
            sys.stderr.write(
                f"gridopt: AC check {result.check.status.value}: {result.check.message} "
                "(the OPF solution is kept)\n"
            )
            return EXIT_INFEASIBLE
        return EXIT_OK

    return run_guarded(body, args.json, context)
