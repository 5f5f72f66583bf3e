"""Bad input through the CLI: clear message, exit code 2, nothing written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gridopt.cli import ingest as ingest_cli


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridopt")
    ingest_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ingest", *argv])
    code: int = args.func(args)
    return code


GOOD = "meter_id,timestamp,consumption_kwh\nA,2024-01-01T00:00:00Z,1\nA,2024-01-01T00:30:00Z,2\n"


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("missing.csv", None, [], "no such file"),
        ("binary.csv", b"\xff\xfe\x00\x81garbage\x00\x9c", [], "UTF-8"),
        ("empty.csv", b"", [], "empty"),
        ("header_only.csv", b"meter_id,timestamp,consumption_kwh\n", [], "no readings"),
        ("no_consumption.csv", b"meter_id,timestamp,value\nA,2024-01-01T00:00:00Z,1\n", [],
         "consumption_kwh"),
        ("no_meter.csv", b"timestamp,consumption_kwh\n2024-01-01T00:00:00Z,1\n", [], "meter_id"),
        ("wh.csv", b"meter_id,timestamp,consumption_wh\nA,2024-01-01T00:00:00Z,1000\n", [],
         "divide by 1000"),
        ("kw.csv", b"meter_id,timestamp,consumption_kw\nA,2024-01-01T00:00:00Z,1\n", [],
         "power in kW"),
        ("nounit.csv", b"meter_id,timestamp,consumption\nA,2024-01-01T00:00:00Z,1\n", [],
         "no unit"),
        ("naive.csv", b"meter_id,timestamp,consumption_kwh\nA,2024-01-01T00:00:00,1\n"
         b"A,2024-01-01T00:30:00,1\n", [], "--tz"),
        ("good.csv", GOOD.encode(), ["--tz", "Mars/Olympus"], "unknown time zone"),
        ("good.csv", GOOD.encode(), ["--freq", "1MS"], "not a fixed interval"),
        ("good.csv", GOOD.encode(), ["--mapping", "MAPPING"], "missing column"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              name: str, content: bytes | None,
                                              extra: list[str], message: str) -> None:
    src = tmp_path / "in"
    src.mkdir()
    path = src / name
    if content is not None:
        path.write_bytes(content)
    (src / "map.csv").write_text("meter,node\nA,1\n")
    extra = [str(src / "map.csv") if e == "MAPPING" else e for e in extra]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = run_cli([str(path), "--out", str(out_dir / "clean.nc"), "--json", *extra])
    assert code == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["status"] == "error" and payload["error"] == "InputError"
    assert message in payload["message"]
    assert message in captured.err
    assert list(out_dir.iterdir()) == []


def test_directory_as_input(tmp_path: Path) -> None:
    code = run_cli([str(tmp_path), "--out", str(tmp_path / "x.nc")])
    assert code == 2
    assert not (tmp_path / "x.nc").exists()


def test_all_bad_file_writes_quarantine_and_report_but_no_dataset(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "allbad.csv"
    path.write_text("meter_id,timestamp,consumption_kwh\nA,nope,1\nB,never,2\n")
    out = tmp_path / "clean.nc"
    assert run_cli([str(path), "--out", str(out), "--json"]) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["status"] == "over_budget"
    assert payload["error"] == "QuarantineBudgetError"
    assert "none of the 2 rows" in payload["message"] and "rows 1, 2" in payload["message"]
    assert "none of the 2 rows" in captured.err
    assert not out.exists()
    quarantine = (tmp_path / "clean.quarantine.csv").read_text().splitlines()
    assert len(quarantine) == 3 and all("unparseable_timestamp" in q for q in quarantine[1:])
    report = json.loads((tmp_path / "clean.report.json").read_text())
    assert report["status"] == "over_budget" and report["out"] is None
    assert report["top_reasons"][0] == {"reason": "unparseable_timestamp", "rows": 2,
                                        "example_rows": [1, 2], "meters": 2}


def test_good_input_writes_output_and_quarantine(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.csv"
    good = "".join(f"A,2024-01-01T{h:02d}:{m:02d}:00Z,1\n" for h in range(12) for m in (0, 30))
    path.write_text("meter_id,timestamp,consumption_kwh\n" + good + "A,2024-01-01T12:00:00Z,oops\n")
    out = tmp_path / "clean.nc"
    assert run_cli([str(path), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("rows_in", "rows_clean", "rows_quarantined", "duplicates_collapsed", "meters",
                "start", "end", "freq", "quarantine_file", "report_file"):
        assert key in payload
    assert payload["status"] == "degraded"  # 1 of 25 rows (4 %) quarantined: within budget
    assert payload["rows_in"] == 25 and payload["rows_quarantined"] == 1
    assert payload["quarantined_by_reason"] == {"non_numeric": 1}
    assert payload["quarantined_fraction"] == pytest.approx(1 / 25)
    assert out.exists()
    quarantine = Path(payload["quarantine_file"])
    assert quarantine == tmp_path / "clean.quarantine.csv"
    assert "non_numeric" in quarantine.read_text()
    assert json.loads((tmp_path / "clean.report.json").read_text()) == payload
    # The same file without the bad row is "ok".
    path.write_text("meter_id,timestamp,consumption_kwh\n" + good)
    assert run_cli([str(path), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
