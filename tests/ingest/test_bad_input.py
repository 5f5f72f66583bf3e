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
        ("allbad.csv", b"meter_id,timestamp,consumption_kwh\nA,nope,1\nB,never,2\n", [],
         "none of the 2 rows"),
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


def test_good_input_writes_output_and_quarantine(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.csv"
    path.write_text(GOOD + "A,2024-01-01T01:00:00Z,oops\n")
    out = tmp_path / "clean.nc"
    assert run_cli([str(path), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    for key in ("rows_in", "rows_clean", "rows_quarantined", "duplicates_collapsed", "meters",
                "start", "end", "freq", "quarantine_file"):
        assert key in payload
    assert payload["rows_in"] == 3 and payload["rows_quarantined"] == 1
    assert payload["quarantined_by_reason"] == {"non_numeric": 1}
    assert out.exists()
    quarantine = Path(payload["quarantine_file"])
    assert quarantine == tmp_path / "clean.quarantine.csv"
    assert "non_numeric" in quarantine.read_text()
