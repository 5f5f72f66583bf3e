"""``gridopt run --config job.toml [--now T]``: the daily planning job, made for schedulers.

ingest -> forecast -> (reconfigure) -> dispatch -> AC check -> run directory
``<out-dir>/<run id>`` with ``summary.json``, ``forecast.nc``, ``dispatch.nc``, CSV tables, PNG
figures and ``run.log``. See ``docs/job.md``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from gridopt.cli._common import EXIT_INFEASIBLE, EXIT_OK, configure_logging, emit_json, run_guarded

EPILOG = (
    "Exit codes: 0 ok, 1 internal error, 2 bad input (config, readings, network, assets), "
    "3 infeasible (limits could not all be met: the least-violating dispatch is still written) "
    "or solver failure, 4 another run holds the run directory's lock, 143 terminated (SIGTERM; "
    "no output file is left behind)."
)


class TerminalProgress:
    """Show the current step and its elapsed time on a terminal (stderr), refreshed each second.

    Does nothing when the stream is not a TTY (cron, systemd, Airflow logs stay clean).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        # Look sys.stderr up now, not at import: it may have been replaced since (pytest's
        # capture, a notebook, a daemon that redirects it).
        self.stream = sys.stderr if stream is None else stream
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self.enabled = False
        self._message = ""
        self._started = time.perf_counter()
        self._step_started = self._started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._message:
                self._line(final=True)
            self._message = message
            self._step_started = time.perf_counter()
            self._line(final=False)
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _line(self, final: bool) -> None:
        now = time.perf_counter()
        text = f"[{now - self._started:6.1f} s] {self._message} ({now - self._step_started:.1f} s)"
        self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if self._message:
                    self._line(final=False)

    def close(self) -> None:
        """Finish the current line and stop refreshing."""
        self._stop.set()
        if self.enabled and self._message:
            with self._lock:
                self._line(final=True)
                self._message = ""


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    p = subparsers.add_parser(
        "run",
        help="run the planning job: ingest, forecast, (reconfigure), dispatch, AC check",
        description=(
            "Run the daily planning job described by a TOML config (docs/job.md): ingest the "
            "readings, forecast the next horizon (P10/P50/P90) from the readings before --now, "
            "optionally reconfigure the network, dispatch storage, PV curtailment and inverter "
            "reactive power for the lowest losses, check every period with a pandapower AC "
            "power flow and write the run directory <out-dir>/<run id>. The run id is a hash "
            "of the inputs: the same inputs give the same id and the same output files."
        ),
        epilog=EPILOG,
    )
    p.add_argument("--config", required=True, type=Path, metavar="JOB.toml",
                   help="job configuration (see docs/job.md and data/jobs/demo.toml)")
    p.add_argument("--now", default=None, metavar="TIMESTAMP",
                   help="planning instant, ISO 8601 (naive = local time of [readings] tz); "
                        "default [job] now, else the current hour")
    p.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                   help="parent of the run directory (default [output] dir of the config)")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0, help="-v info, -vv debug")
    p.set_defaults(func=run)


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def format_summary(s: dict[str, Any], run_dir: Path | None = None) -> str:
    """The summary as a readable table (used by ``gridopt run`` and ``gridopt demo``)."""
    rows: list[tuple[str, str]] = [
        ("run id", s["run_id"]),
        ("status", s["status"] + ("" if s["settled"] else " (loss linearisation not settled)")),
        ("network", f"{s['network']} ({s['grid_model']}), {s['periods']} periods of "
                    f"{s['period_hours']:g} h from {s['horizon_start']}"),
        ("assets", f"storage {', '.join(s['storage']) or '-'}; curtailable PV "
                   f"{', '.join(s['curtailable_pv']) or '-'}"),
        ("demand / PV", f"{s['demand_mwh']:.3f} MWh / {s['pv_available_mwh']:.3f} MWh (P50)"),
        ("losses baseline", f"{s['losses_baseline_mwh']:.4f} MWh (no flexibility, AC)"),
        ("losses optimised", f"{s['losses_optimised_mwh']:.4f} MWh (AC; model "
                             f"{s['losses_model_mwh']:.4f}), {s['loss_reduction_percent']:.1f} % "
                             "less"),
        ("AC check", ("passed" if s["ac_checked"] else "FAILED") + f" in every period; voltage "
                     f"violations baseline {s['voltage_violations_baseline']}, optimised "
                     f"{s['voltage_violations_optimised']}"),
        ("voltage range", f"baseline {s['vmin_pu_baseline']:.4f}-{s['vmax_pu_baseline']:.4f} "
                          f"pu, optimised {s['vmin_pu_optimised']:.4f}-"
                          f"{s['vmax_pu_optimised']:.4f} pu"),
        ("curtailed", f"{s['curtailed_mwh']:.4f} MWh; storage losses "
                      f"{s['storage_losses_mwh']:.4f} MWh"),
    ]
    rc = s.get("reconfiguration")
    if rc:
        rows.append(("reconfiguration",
                     f"open lines {rc['open_lines']}, {rc['switching_operations']} operations, "
                     + ("adopted" if rc["adopted"] else "not adopted (original topology "
                        "dispatches with lower losses)")))
        rows.append(("  losses", f"baseline {rc['losses_baseline_original_mwh']:.4f} -> "
                                 f"{rc['losses_baseline_reconfigured_mwh']:.4f} MWh; dispatched "
                                 f"{rc['losses_dispatch_only_mwh']:.4f} (original) vs "
                                 f"{rc['losses_reconfigured_dispatch_mwh']:.4f} MWh"))
    fm = s.get("forecast_metrics")
    if fm:
        for target in ("consumption", "production"):
            if target in fm:
                m = fm[target]
                rows.append((f"forecast {target}",
                             f"MAE {_fmt(m['mae_kwh'], '.3f')} kWh/home/interval, MASE "
                             f"{_fmt(m['mase'], '.2f')}, P10-P90 coverage "
                             f"{_fmt(m['coverage_p10_p90'], '.0%')}"))
        if "feeder_net" in fm:
            m = fm["feeder_net"]
            rows.append(("forecast feeder net", f"MAE {_fmt(m['mae_mw'], '.3f')} MW, RMSE "
                                                f"{_fmt(m['rmse_mw'], '.3f')} MW"))
    else:
        rows.append(("forecast metrics", "- (no readings of the horizon yet)"))
    secs = s.get("seconds_by_stage", {})
    rows.append(("seconds", ", ".join(f"{k} {v:.1f}" for k, v in secs.items())))
    if run_dir is not None:
        rows.append(("outputs", str(run_dir)))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so that the staged outputs are discarded and the lock is
    # released on the way out (SIGKILL cannot be caught: the next run cleans up).
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    """Run ``gridopt run`` and return the exit code."""
    configure_logging(args.verbose, quiet_for_json=args.json)
    previous = signal.signal(signal.SIGTERM, _terminate)
    progress = TerminalProgress()
    context = {"command": "run", "config": str(args.config)}

    def body() -> int:
        from gridopt.workflows.job import JobStatus, run_job

        try:
            result = run_job(args.config, now=args.now, out_dir=args.out_dir, progress=progress)
        finally:
            progress.close()
        if args.json:
            emit_json({**result.summary, "run_dir": str(result.run_dir)})
        else:
            sys.stdout.write(format_summary(result.summary, result.run_dir) + "\n")
        return EXIT_OK if result.status is JobStatus.OK else EXIT_INFEASIBLE

    try:
        return run_guarded(body, args.json, context)
    finally:
        signal.signal(signal.SIGTERM, previous)
