"""The quarantine budget: a run that loses much of its input never reports success."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from gridopt.cli import ingest as ingest_cli
from gridopt.errors import InputError, QuarantineBudgetError
from gridopt.ingest import IngestStatus, QuarantineBudget, read_readings

START = pd.Timestamp("2024-01-01", tz="UTC")
HEADER = "meter_id,timestamp,consumption_kwh\n"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridopt")
    ingest_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ingest", *argv])
    code: int = args.func(args)
    return code


def readings(path: Path, meters: dict[str, int], bad: dict[str, int], n: int = 100) -> Path:
    """``n`` half-hourly readings per meter; the first ``bad[m]`` values are unreadable."""
    lines = []
    for meter in meters:
        for i in range(n):
            value = "###" if i < bad.get(meter, 0) else f"{1 + i % 3}"
            lines.append(f"{meter},{(START + pd.Timedelta(minutes=30 * i)).isoformat()},{value}")
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def test_file_share_over_budget_refuses_with_reasons_and_examples(tmp_path: Path) -> None:
    """30 % of the values unreadable (the reported case exited 0)."""
    path = readings(tmp_path / "r.csv", {"A": 1}, {"A": 30})
    with pytest.raises(QuarantineBudgetError) as info:
        read_readings(path)
    message = str(info.value)
    assert "30 of 100 rows (30.0%)" in message and "5.0% of the file" in message
    assert "non_numeric: 30 rows" in message and "row 1: A,2024-01-01T00:00:00+00:00,###" in message
    assert "--max-quarantine" in message
    report = info.value.report
    assert report.status is IngestStatus.OVER_BUDGET  # type: ignore[attr-defined]
    assert len(info.value.quarantine) == 30  # type: ignore[arg-type]
    # Knowingly accepted: the data come back, flagged as degraded.
    ok = read_readings(path, budget=QuarantineBudget(max_file_fraction=0.3,
                                                     max_meter_fraction=0.3))
    assert ok.report.status is IngestStatus.DEGRADED
    assert ok.report.rows_clean == 70


def test_one_meter_over_its_share_refuses_even_when_the_file_is_fine(tmp_path: Path) -> None:
    meters = {f"M{k:02d}": 1 for k in range(20)}
    path = readings(tmp_path / "r.csv", meters, {"M07": 30})  # 30 of 2000 rows: 1.5 %
    with pytest.raises(QuarantineBudgetError, match=r"M07 at 30.0%") as info:
        read_readings(path)
    assert info.value.report.worst_meter == "M07"  # type: ignore[attr-defined]
    result = read_readings(path, budget=QuarantineBudget(max_meter_fraction=0.5))
    assert result.report.status == "degraded"
    assert result.report.quarantined_fraction == pytest.approx(0.015)


def test_rows_of_meters_not_asked_for_do_not_count(tmp_path: Path) -> None:
    path = readings(tmp_path / "r.csv", {"A": 1, "B": 1, "C": 1}, {})
    result = read_readings(path, meters=["A"])
    assert result.report.quarantined_by_reason == {"unknown_meter": 200}
    assert result.report.status == "ok"


def test_budget_must_be_a_fraction() -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        QuarantineBudget(max_file_fraction=5)


def test_cli_over_budget_exits_2_writes_quarantine_and_report_not_the_dataset(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = readings(tmp_path / "r.csv", {"A": 1}, {"A": 30})
    out = tmp_path / "clean.nc"
    assert run_cli([str(path), "--out", str(out), "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "over_budget" and payload["out"] is None
    assert payload["top_reasons"][0]["reason"] == "non_numeric"
    assert payload["top_reasons"][0]["example_rows"] == [1, 2, 3]
    assert not out.exists()
    assert len((tmp_path / "clean.quarantine.csv").read_text().splitlines()) == 31
    assert json.loads((tmp_path / "clean.report.json").read_text())["status"] == "over_budget"
    # Raised knowingly, the same command writes the dataset and says it is degraded.
    assert run_cli([str(path), "--out", str(out), "--json", "--max-quarantine", "0.35",
                    "--max-meter-quarantine", "0.35"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "degraded" and out.exists()
    assert payload["budget"] == {"max_file_fraction": 0.35, "max_meter_fraction": 0.35}
