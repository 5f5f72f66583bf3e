"""Files that look like a meter export but break its rules: exit 2 naming file, line, rule, fix;
bad values quarantined row by row where the format allows it; detection from the content."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gridopt.cli import ingest as ingest_cli
from gridopt.errors import InputError
from gridopt.ingest import Quality, read_readings
from gridopt.ingest.formats import Format, detect_format, read_format
from tests.ingest.formats.fixtures import write_year

DATA = Path(__file__).resolve().parents[2] / "data" / "formats"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridopt")
    ingest_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ingest", *argv])
    code: int = args.func(args)
    return code


def _truncated_xml(tmp: Path) -> Path:
    text = (DATA / "test_usage_data.xml").read_text(encoding="utf-8")
    path = tmp / "truncated.xml"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    return path


def _nem12_short_300(tmp: Path) -> Path:
    lines = (DATA / "Example_NEM12_actual_interval.csv").read_text().splitlines()
    fields = lines[2].split(",")
    del fields[10]  # 47 values instead of 48
    lines[2] = ",".join(fields)
    path = tmp / "short300.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _nem12_kw(tmp: Path) -> Path:
    text = (DATA / "Example_NEM12_actual_interval.csv").read_text()
    path = tmp / "kw.csv"
    path.write_text(text.replace(",kWh,30,", ",kW,30,", 1))
    return path


def _gb_watts(tmp: Path) -> Path:
    path = tmp / "watts.xml"
    write_year(path, 96, uom=38)
    return path


def _mscons_qty_before_lin(tmp: Path) -> Path:
    text = (DATA / "MSCONS_TL_SAMPLE01.txt").read_text(encoding="latin-1")
    # move LIN+1'PIA+5+...' after the first QTY and its DTMs
    lin = "LIN+1'PIA+5+1-1?:1.10.0:SRW'"
    first_values = ("QTY+220:0'DTM+163:201512010000?+01:303'DTM+164:201512010015?+01:303'")
    assert lin + first_values in text
    path = tmp / "order.edi"
    path.write_text(text.replace(lin + first_values, first_values + lin, 1), encoding="latin-1")
    return path


def _mscons_truncated(tmp: Path) -> Path:
    text = (DATA / "MSCONS_TL_SAMPLE01.txt").read_text(encoding="latin-1")
    path = tmp / "cut.txt"
    path.write_text(text[: text.index("UNT+")], encoding="latin-1")
    return path


@pytest.mark.parametrize(
    ("make", "where", "rule", "fix"),
    [
        (_truncated_xml, "line ", "not well-formed XML", "export it again"),
        (_nem12_short_300, "line 3", "has 47 interval values where IntervalLength 30 min needs 48",
         "a 300 record is 300,IntervalDate"),
        (_nem12_kw, "line 2", "UOM 'kW' of NMI VABD000163 suffix E1", "e.g. kWh"),
        (_gb_watts, "line 7 (ReadingType /espi/1_1/resource/ReadingType/07)",
         "uom 38 is W (power, not energy per interval)", "uom 72"),
        # UNB=1 ... LOC=10, DTM+163=11, DTM+164=12, then the moved QTY, which starts where
        # LIN+1 started in the sample (its 340th character)
        (_mscons_qty_before_lin, "segment 13 (QTY, line 1, character 340)",
         "QTY before the LOC+172, LIN", "MSCONS order"),
        (_mscons_truncated, "segment", "no UNZ interchange trailer", "deliver the whole"),
    ],
)
def test_broken_file_exits_2_with_file_line_rule_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path],
        where: str, rule: str, fix: str) -> None:
    path = make(tmp_path)
    out = tmp_path / "out" / "clean.nc"
    out.parent.mkdir()
    assert run_cli([str(path), "--out", str(out), "--json"]) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["error"] == "InputError"
    message = payload["message"]
    assert message.startswith(f"{path}: {where}"), message
    assert rule in message and "fix: " in message and fix in message, message
    assert list(out.parent.iterdir()) == []


def test_truncated_xml_names_the_line_where_it_ends(tmp_path: Path) -> None:
    path = _truncated_xml(tmp_path)
    n_lines = path.read_text(encoding="utf-8").count("\n") + 1
    with pytest.raises(InputError, match=rf"line {n_lines}: not well-formed XML"):
        read_readings(path)


def test_mscons_unt_count_catches_a_dropped_segment(tmp_path: Path) -> None:
    text = (DATA / "MSCONS_TL_SAMPLE01.txt").read_text(encoding="latin-1")
    drop = "QTY+220:0'DTM+163:201512010015?+01:303'DTM+164:201512010030?+01:303'"
    path = tmp_path / "dropped.txt"
    path.write_text(text.replace(drop, "", 1), encoding="latin-1")
    with pytest.raises(InputError, match="UNT says 8942 segments but the message has 8939"):
        read_readings(path)


def test_nem12_bad_value_is_quarantined_row_by_row(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lines = (DATA / "Example_NEM12_actual_interval.csv").read_text().splitlines()
    fields = lines[2].split(",")
    fields[5] = "1.1x1"  # interval 4
    lines[2] = ",".join(fields)
    path = tmp_path / "value.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "clean.nc"
    assert run_cli([str(path), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["status"] == "degraded"
    assert payload["quarantined_by_reason"] == {"non_numeric": 1}
    quarantine = (tmp_path / "clean.quarantine.csv").read_text()
    # interval 4 of 2004-02-01 NEM time starts 2004-01-31T15:30Z
    assert "2004-01-31 15:30:00+00:00" in quarantine and "non_numeric" in quarantine


@pytest.mark.parametrize(("name", "fmt"), [("Example_NEM12_actual_interval.csv", Format.NEM12),
                                           ("MSCONS_TL_SAMPLE01.txt", Format.MSCONS),
                                           ("test_usage_data.xml", Format.GREEN_BUTTON)])
def test_format_is_detected_from_content_not_extension(tmp_path: Path, name: str,
                                                       fmt: Format) -> None:
    path = tmp_path / "export.dat"
    shutil.copy(DATA / name, path)
    assert detect_format(path) is fmt
    assert read_readings(path).report.rows_in > 0


def test_xml_that_is_not_green_button_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>')
    with pytest.raises(InputError, match="not a Green Button"):
        read_readings(path)


@pytest.mark.parametrize("prefixed", [False, True])
def test_green_button_year_with_and_without_prefixes(tmp_path: Path, prefixed: bool) -> None:
    path = tmp_path / "year.xml"
    written = write_year(path, prefixed=prefixed)
    text = path.read_text(encoding="utf-8")
    assert ("<espi:IntervalReading>" in text) is prefixed
    ds = read_readings(path).data
    assert ds.sizes["time"] == 35_040 and ds.attrs["freq"] == "15min"
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(written["sum_wh"] / 1000.0)
    assert int((ds["quality"] == Quality.ESTIMATED).sum()) == written["estimated"]
    assert str(ds["time"].values[0])[:16] == "2011-01-01T08:00"


def test_green_button_reverse_flow_and_multiplier_are_production_in_kwh(tmp_path: Path) -> None:
    path = tmp_path / "pv.xml"
    written = write_year(path, 192, flow_direction=19, power_of_ten=-1)
    ds = read_readings(path).data
    assert float(ds["production_kwh"].sum()) == pytest.approx(written["sum_wh"] / 10 / 1000)
    # a meter with only a reverse channel: consumption 0 by construction, not missing
    assert float(np.abs(ds["consumption_kwh"]).sum()) == 0.0
    summary = read_format(path, Format.GREEN_BUTTON).summary
    assert summary["channels"][0]["direction"] == "production"


def test_cumulative_is_refused_for_an_export(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="drop --cumulative"):
        read_readings(DATA / "Example_NEM12_actual_interval.csv", cumulative=True)


def test_green_button_behind_a_long_comment_is_detected(tmp_path: Path) -> None:
    text = (DATA / "electric_containerized.xml").read_text(encoding="utf-8")
    head, rest = text.split("\n", 1)
    path = tmp_path / "commented.xml"
    path.write_text(head + "\n<!--" + "x" * 20_000 + "-->\n" + rest, encoding="utf-8")
    assert detect_format(path) is Format.GREEN_BUTTON


def test_nem12_inside_a_zip(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "delivery.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(DATA / "Example_NEM12_multiple_quality.csv", "NEM12#1#MDA1#RET1.csv")
    assert detect_format(path) is Format.NEM12
    ds = read_readings(path).data
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(896.99)


def test_green_button_in_another_namespace_uri_reads_by_local_name(tmp_path: Path) -> None:
    text = (DATA / "electric_containerized.xml").read_text(encoding="utf-8")
    path = tmp_path / "ns.xml"
    # e.g. a custodian that versions the namespace: still ESPI elements by local name
    path.write_text(text.replace('xmlns="http://naesb.org/espi"',
                                 'xmlns="http://naesb.org/espi/1_1"'), encoding="utf-8")
    ds = read_readings(path).data
    assert float(ds["consumption_kwh"].sum()) == pytest.approx(4.086)
