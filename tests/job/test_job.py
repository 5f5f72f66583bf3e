"""``gridopt run``: summary contract, reproducible reruns, lock, killed runs, exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from gridopt.workflows.job import STAGES, ReconfigurationOutcome, run_directory
from gridopt.workflows.rundir import RunLock
from tests.conftest import REPO
from tests.job import _cli
from tests.job.conftest import NOW, write_job

OUTPUTS = {
    "summary.json", "forecast.nc", "dispatch.nc", "forecast.csv", "dispatch.csv", "buses.csv",
    "violations.csv", "readings_quarantine.csv", "forecast.png", "dispatch.png", "voltage.png",
    "losses.png",
}
REQUIRED = {
    "run_id", "network", "periods", "losses_baseline_mwh", "losses_optimised_mwh",
    "loss_reduction_percent", "ac_checked", "voltage_violations_baseline",
    "voltage_violations_optimised", "curtailed_mwh", "forecast_metrics", "seconds_by_stage",
    "status", "reconfiguration",
}


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run ``gridopt run ...`` in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli.main(["run", *argv])
    return code, out.getvalue(), err.getvalue()


def run_json(config: Path, out_dir: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("--config", str(config), "--out-dir", str(out_dir), "--json",
                             *extra)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got {out!r} (stderr {err!r})"
    return code, json.loads(lines[0]), err


def outputs_in(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir() if not p.name.startswith(".")} - {"run.log"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The small job run twice with the same inputs into two output folders."""
    folder = tmp_path_factory.mktemp("rerun")
    config = write_job(folder / "job")
    code_a, summary_a, _ = run_json(config, folder / "a")
    code_b, summary_b, _ = run_json(config, folder / "b")
    return {"config": config, "folder": folder, "a": (code_a, summary_a),
            "b": (code_b, summary_b)}


def test_summary_has_the_contract_fields_and_matches_the_files(two_runs: dict[str, Any]) -> None:
    code, s = two_runs["a"]
    assert code == 0, s
    assert REQUIRED <= set(s)
    assert s["status"] == "ok" and s["network"] == "case33bw" and s["periods"] == 12
    run_dir = Path(s["run_dir"])
    assert run_dir.name == s["run_id"]
    assert outputs_in(run_dir) == OUTPUTS
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == {k: v for k, v in s.items() if k != "run_dir"}
    # physics: never worse than the baseline, every period AC-checked
    assert s["ac_checked"] is True
    assert s["losses_optimised_mwh"] <= s["losses_baseline_mwh"] * (1 + 1e-3)
    expected = 100 * (1 - s["losses_optimised_mwh"] / s["losses_baseline_mwh"])
    assert s["loss_reduction_percent"] == pytest.approx(expected, abs=1e-3)
    # the figures of the summary are those of the dispatch dataset
    ds = xr.load_dataset(run_dir / "dispatch.nc")
    assert ds.sizes["time"] == 12
    assert float(ds["losses_mw"].sum()) * s["period_hours"] == pytest.approx(
        s["losses_optimised_mwh"], rel=1e-5)
    assert float(ds["pv_curtailed_mw"].sum()) * s["period_hours"] == pytest.approx(
        s["curtailed_mwh"], abs=1e-6)
    # forecast: quantiles, the dispatch input and actuals (the sample covers the horizon)
    fc = xr.load_dataset(run_dir / "forecast.nc")
    assert fc["consumption_kwh"].dims == ("time", "meter", "quantile")
    assert fc["p_mw"].dims == ("time", "bus") and "pv_p_mw" in fc
    q = fc["consumption_kwh"].values
    assert np.all(q[..., 0] <= q[..., 1] + 1e-12) and np.all(q[..., 1] <= q[..., 2] + 1e-12)
    assert fc.attrs["origin"] == "2022-10-20T08:00:00+00:00"  # 00:00 at UTC-08:00
    assert pd.Timestamp(fc.attrs["history_end"]) < pd.Timestamp(fc.attrs["origin"])
    fm = s["forecast_metrics"]
    assert {"consumption", "production", "feeder_net"} <= set(fm)
    assert fm["consumption"]["values"] == 12 * 17 and 0 < fm["consumption"]["mae_kwh"] < 2
    assert set(s["seconds_by_stage"]) >= {"ingest", "forecast", "dispatch", "outputs", "total"}
    assert set(s["seconds_by_stage"]) - {"total"} <= set(STAGES)
    assert ds.attrs["reconfiguration"] == ReconfigurationOutcome.OFF == "off"
    table = pd.read_csv(run_dir / "dispatch.csv")
    assert len(table) == 12 and {"losses_mw", "bess-17_soc_percent"} <= set(table.columns)


def test_rerun_gives_same_run_id_and_identical_outputs(two_runs: dict[str, Any]) -> None:
    (code_a, a), (code_b, b) = two_runs["a"], two_runs["b"]
    assert code_a == code_b == 0
    assert a["run_id"] == b["run_id"]
    dir_a, dir_b = Path(a["run_dir"]), Path(b["run_dir"])
    for name in sorted(OUTPUTS - {"summary.json"}):
        assert (dir_a / name).read_bytes() == (dir_b / name).read_bytes(), name
    sa = json.loads((dir_a / "summary.json").read_text())
    sb = json.loads((dir_b / "summary.json").read_text())
    sa.pop("seconds_by_stage"), sb.pop("seconds_by_stage")
    assert sa == sb
    # and again into the same directory: same files, the log keeps both attempts
    before = {n: (dir_a / n).read_bytes() for n in OUTPUTS - {"summary.json"}}
    code, again, _ = run_json(two_runs["config"], two_runs["folder"] / "a")
    assert code == 0 and again["run_id"] == a["run_id"]
    assert {n: (dir_a / n).read_bytes() for n in before} == before
    assert (dir_a / "run.log").read_text().count(f"run {a['run_id']} finished") == 2


def test_run_id_follows_the_inputs(tmp_path: Path) -> None:
    config = write_job(tmp_path / "job")
    run_id, run_dir = run_directory(config, out_dir=tmp_path / "out")
    assert run_dir == tmp_path / "out" / run_id and not run_dir.exists()
    assert run_directory(config, now=NOW, out_dir=tmp_path / "x")[0] == run_id
    assert run_directory(config, now="2022-10-20T08:00Z")[0] == run_id  # same instant
    assert run_directory(config, now="2022-10-21T00:00")[0] != run_id
    mapping = tmp_path / "job" / "mapping.csv"
    mapping.write_text(mapping.read_text().replace("Building_1,1,0.8575,28",
                                                   "Building_1,1,0.8575,29"))
    assert run_directory(config)[0] != run_id


def test_lock_refuses_a_second_run_on_the_directory(small_job: Path, tmp_path: Path) -> None:
    _run_id, run_dir = run_directory(small_job, out_dir=tmp_path / "out")
    run_dir.mkdir(parents=True)
    with RunLock(run_dir):
        code, _out, err = run_cli("--config", str(small_job), "--out-dir", str(tmp_path / "out"))
    assert code == 4
    assert "another gridopt run" in err and str(os.getpid()) in err
    assert outputs_in(run_dir) == set()


def _staged_file(run_dir: Path, pid: int) -> bool:
    return (run_dir / f".staging-{pid}" / "readings_quarantine.csv").exists()


def _start(config: Path, out_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.job._cli", "run", "--config", str(config), "--out-dir",
         str(out_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for_staging(proc: subprocess.Popen[bytes], run_dir: Path) -> None:
    deadline = time.monotonic() + 180
    while not (run_dir.is_dir() and _staged_file(run_dir, proc.pid)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never staged its first output"
        time.sleep(0.05)


def test_killed_run_leaves_no_partial_outputs(small_job: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    _, run_dir = run_directory(small_job, out_dir=out_dir)
    # SIGKILL mid-run (after ingestion, during the forecast): nothing under a final name
    proc = _start(small_job, out_dir)
    _wait_for_staging(proc, run_dir)
    proc.kill()
    proc.wait(timeout=30)
    assert outputs_in(run_dir) == set()
    assert list(run_dir.glob(".staging-*")), "the killed run's staging directory is expected"
    # SIGTERM mid-run: exit 143, its staging directory removed, and the stale one of the
    # killed run removed too (the lock was free: the kernel dropped it with the process)
    proc = _start(small_job, out_dir)
    _wait_for_staging(proc, run_dir)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert outputs_in(run_dir) == set()
    assert not list(run_dir.glob(".staging-*"))
    assert not any(p.suffix == ".tmp" for p in run_dir.iterdir())


BAD_CONFIGS = [
    (("horizon_steps", "horizon"), "[forecast] has unknown key(s) ['horizon']"),
    (("horizon_steps = 12", 'horizon_steps = "12"'),
     "[forecast] horizon_steps = '12' must be an integer; write e.g. horizon_steps = 24"),
    (('mapping = "mapping.csv"\n', ""), "[readings] mapping is missing; add it"),
    (('"homes.csv"', '"nowhere.csv"'), "[readings] path = 'nowhere.csv': no such file"),
    (("[dispatch]", "[dispatchh]"), "unknown section(s) ['dispatchh']"),
    (("train_days = 21", "train_days = 7"), "[forecast] train_days = 7 is too short"),
    (("periods = 1", "periods = 5"), "does not divide [forecast] horizon_steps"),
    (("[output]", "[[oops"), "not valid TOML"),
    (('tz = "Etc/GMT+8"', 'tz = "Etc/GMT+8"\nmax_quarantine = 5'),
     "[readings] quarantine budget max_file_fraction = 5.0 must be a fraction between 0 and 1"),
]


@pytest.mark.parametrize(("edit", "expected"), BAD_CONFIGS)
def test_bad_config_exits_2_naming_the_key(
    small_job: Path, edit: tuple[str, str], expected: str
) -> None:
    text = small_job.read_text()
    assert edit[0] in text
    small_job.write_text(text.replace(*edit))
    out_dir = small_job.parent / "runs"
    code, _out, err = run_cli("--config", str(small_job), "--out-dir", str(out_dir))
    assert code == 2
    assert expected in err
    assert str(small_job) in err
    assert not out_dir.exists()


def test_bad_now_exits_2(small_job: Path) -> None:
    code, _, err = run_cli("--config", str(small_job), "--now", "tomorrow-ish")
    assert code == 2 and "--now 'tomorrow-ish' is not a date" in err
    code, _, err = run_cli("--config", str(small_job), "--now", "2021-01-01T00:00")
    assert code == 2 and "no readings before --now" in err


def test_infeasible_day_exits_3_with_the_dispatch_and_its_violations(tmp_path: Path) -> None:
    config = write_job(tmp_path / "job", plots=False)
    mapping = pd.read_csv(tmp_path / "job" / "mapping.csv")
    mapping["scale"] = mapping["scale"] * 10  # ten times the homes (and their PV) on every bus
    mapping.to_csv(tmp_path / "job" / "mapping.csv", index=False)
    code, s, _ = run_json(config, tmp_path / "out")
    assert code == 3
    assert s["status"] == "infeasible" and s["ac_checked"] is False
    run_dir = Path(s["run_dir"])
    assert outputs_in(run_dir) == OUTPUTS - {"forecast.png", "dispatch.png", "voltage.png",
                                             "losses.png"}  # the dispatch is still written
    violations = pd.read_csv(run_dir / "violations.csv")
    assert (violations["case"] == "optimised").sum() == s["violations_optimised"] > 0
    assert s["voltage_violations_optimised"] > 0
    assert s["voltage_violations_baseline"] > s["voltage_violations_optimised"]
    assert s["vmin_pu_optimised"] > s["vmin_pu_baseline"]
    assert s["vmax_pu_optimised"] < s["vmax_pu_baseline"]


def test_no_dispatch_at_all_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    config = write_job(tmp_path / "job")
    assets = tmp_path / "job" / "assets.toml"
    assets.write_text(assets.read_text().replace("p_import_max_mw = 10.0",
                                                 "p_import_max_mw = 0.05"))
    code, s, err = run_json(config, tmp_path / "out")
    assert code == 3 and s["status"] == "infeasible" and s["error"] == "InfeasibleError"
    assert "grid connection" in err
    _, run_dir = run_directory(config, out_dir=tmp_path / "out")
    assert outputs_in(run_dir) == set()
    assert "failed" in (run_dir / "run.log").read_text()


def test_over_budget_readings_stop_the_run_and_publish_nothing(tmp_path: Path) -> None:
    """A readings file with 8 % of its values unreadable: exit 2, no outputs; raised
    knowingly in the config, the run goes on and says the readings were degraded."""
    config = write_job(tmp_path / "job", plots=False)
    homes = tmp_path / "job" / "homes.csv"
    frame = pd.read_csv(homes, dtype=str)
    bad = frame.sample(frac=0.08, random_state=1).index
    frame.loc[bad, "consumption_kwh"] = "ERR"
    frame.to_csv(homes, index=False)
    code, s, err = run_json(config, tmp_path / "out")
    assert code == 2 and s["error"] == "QuarantineBudgetError"
    assert "8.0%" in err and "non_numeric" in err and "--max-quarantine" in err
    _, run_dir = run_directory(config, out_dir=tmp_path / "out")
    assert outputs_in(run_dir) == set()
    text = config.read_text().replace('tz = "Etc/GMT+8"',
                                      'tz = "Etc/GMT+8"\nmax_quarantine = 0.1')
    config.write_text(text)
    code, s, _ = run_json(config, tmp_path / "out")
    assert code == 0, s
    assert s["readings"]["status"] == "degraded"
    assert s["readings"]["quarantined_fraction"] == pytest.approx(0.08, abs=1e-4)


def test_reconfigure_option_is_reported(tmp_path: Path) -> None:
    config = write_job(tmp_path / "job", reconfigure=True, plots=False)
    code, s, _ = run_json(config, tmp_path / "out")
    assert code == 0
    rc = s["reconfiguration"]
    assert rc["enabled"] and rc["radial"] and len(rc["open_lines"]) == 5
    assert 0 < rc["switching_operations"] <= 2
    assert rc["losses_baseline_original_mwh"] == s["losses_baseline_mwh"]
    chosen = (rc["losses_reconfigured_dispatch_mwh"] if rc["adopted"]
              else rc["losses_dispatch_only_mwh"])
    assert s["losses_optimised_mwh"] == pytest.approx(chosen, rel=1e-9)
    assert s["losses_optimised_mwh"] <= min(rc["losses_reconfigured_dispatch_mwh"],
                                            rc["losses_dispatch_only_mwh"]) + 1e-9
    ds = xr.load_dataset(Path(s["run_dir"]) / "dispatch.nc")
    assert ds.attrs["reconfiguration"] == ("adopted" if rc["adopted"] else "not adopted")


def test_terminal_progress_only_on_a_tty() -> None:
    from gridopt.cli.run import TerminalProgress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = TerminalProgress(stream)
        progress("forecast: training")
        progress("dispatch: solving")
        progress.close()
    assert "forecast: training" in tty.getvalue() and "dispatch: solving" in tty.getvalue()
    assert pipe.getvalue() == ""


@pytest.mark.slow
def test_demo_prints_the_summary_table(tmp_path: Path) -> None:
    from gridopt.cli import demo

    parser = __import__("argparse").ArgumentParser()
    demo.register(parser.add_subparsers())
    args = parser.parse_args(["demo", "--out-dir", str(tmp_path)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    text = out.getvalue()
    assert code == 0, text
    for label in ("losses baseline", "losses optimised", "AC check", "reconfiguration",
                  "forecast consumption"):
        assert label in text
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ac_checked"] and summary["loss_reduction_percent"] > 0
