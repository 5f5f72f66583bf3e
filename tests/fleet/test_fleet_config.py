"""The fleet file: shared sections, per-feeder tables, messages that name the key and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gridopt.errors import InputError
from gridopt.workflows.fleet import (
    feeder_job_config,
    parse_fleet_config,
    plan_tasks,
    read_fleet_config,
    resolve_fleet_now,
)
from tests.fleet._cli import fleet_json
from tests.fleet.conftest import SHARED, feeder_table, write_fleet, write_inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fleet-inputs")
    write_inputs(folder)
    return folder


def test_each_feeder_gets_the_shared_sections_and_its_own_files(inputs: Path) -> None:
    cfg = read_fleet_config(write_fleet(inputs, ("demo", "json33"), name="two.toml"))
    assert [f.name for f in cfg.feeders] == ["demo", "json33"]
    demo, json33 = (feeder_job_config(cfg, f) for f in cfg.feeders)
    assert demo.name == "demo" and demo.network == "case33bw"
    assert demo.mapping == inputs / "mapping.csv" and demo.assets == inputs / "assets.toml"
    assert json33.network == str(inputs / "case33bw_r90.json")
    assert json33.mapping == inputs / "shifted.csv"
    for job in (demo, json33):
        assert job.readings == inputs / "homes.csv" and job.tz == "Etc/GMT+8"
        assert job.forecast.horizon_steps == 12 and job.forecast.max_iter == 15
        assert job.plots is False
        assert tomllib.loads(job.raw.decode())["job"]["name"] == job.name
    assert cfg.out_dir == inputs / "runs"


def test_a_feeders_run_id_ignores_the_other_feeders(inputs: Path) -> None:
    one = read_fleet_config(write_fleet(inputs, ("demo",), name="one.toml"))
    three = read_fleet_config(write_fleet(inputs, ("half", "demo", "json33"), name="three.toml"))
    id_one, dir_one, tasks_one, _ = plan_tasks(one, resolve_fleet_now(None, one))
    id_three, _, tasks_three, _ = plan_tasks(three, resolve_fleet_now(None, three))
    by_name = {t.name: t.run_id for t in tasks_three}
    assert tasks_one[0].run_id == by_name["demo"]
    assert len(set(by_name.values())) == 3  # other networks or mappings: other run ids
    assert id_one != id_three and dir_one == inputs / "runs" / id_one
    assert tasks_one[0].run_dir == dir_one / "demo" / tasks_one[0].run_id


def test_feeder_readings_overrides_replace_the_shared_keys(inputs: Path) -> None:
    extra_feeder = feeder_table("demo") + 'readings = { fill = "linear", max_fill_steps = 2 }\n'
    path = inputs / "override.toml"
    path.write_text(SHARED.format(now="2022-10-20T00:00") + extra_feeder + feeder_table("half"))
    cfg = read_fleet_config(path)
    demo, half = (feeder_job_config(cfg, f) for f in cfg.feeders)
    assert (demo.fill, demo.max_fill_steps) == ("linear", 2)
    assert (half.fill, half.max_fill_steps) == ("none", 4)


def test_missing_feeder_files_fail_that_feeder_only(inputs: Path) -> None:
    cfg = read_fleet_config(write_fleet(inputs, ("demo", "broken"), name="broken.toml"))
    _, _, tasks, early = plan_tasks(cfg, resolve_fleet_now(None, cfg))
    assert [t.name for t in tasks] == ["demo"]
    assert [o.name for o in early] == ["broken"]
    reason = early[0].reason or ""
    assert "[[feeder]] 'broken'" in reason and "network = 'missing_network.json'" in reason
    with pytest.raises(InputError, match="no such file"):
        feeder_job_config(cfg, cfg.feeders[1])


# (text of the shared sections to replace, its replacement, what the message must say)
BAD = [
    ("[fleet]\n", "[fleet\n", "not valid TOML"),
    ("[fleet]\n", '[job]\nname = "x"\n[fleet]\n', "unknown section [job]; use [fleet]"),
    ("[fleet]\n", '[network]\nspec = "case33bw"\n[fleet]\n',
     "write network = ... (and assets = ...) in each"),
    ("[fleet]\n", '[fleet]\ncolour = "red"\n', "[fleet] has unknown key 'colour'"),
    ("[readings]\n", '[readings]\nmapping = "m.csv"\n', "move it to each [[feeder]] table"),
    ("horizon_steps = 12", 'horizon_steps = "24"',
     "[forecast] horizon_steps = '24' must be an integer; write e.g. horizon_steps = 24"),
    ("[dispatch]\n", "[reconfigure]\nperiods = 5\n[dispatch]\n",
     "[reconfigure] periods = 5 does not divide [forecast] horizon_steps = 12"),
    ("max_iterations = 12", "max_iterations = 12\nspeed = 3",
     "[dispatch] has unknown key(s) ['speed']"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_bad_shared_sections_exit_2_naming_the_key(inputs: Path, old: str, new: str,
                                                   message: str) -> None:
    shared = SHARED.format(now="2022-10-20T00:00")
    assert old in shared
    path = inputs / "bad.toml"
    path.write_text(shared.replace(old, new, 1) + feeder_table("demo"))
    code, out, err = fleet_json(path, inputs / "bad-out")
    assert code == 2, out
    assert out["status"] == "error" and message in out["message"], out["message"]
    assert message in err
    assert not (inputs / "bad-out").exists()  # nothing runs, nothing is written


BAD_FEEDERS = [
    ("", "no [[feeder]] tables"),
    ('\n[[feeder]]\nnetwork = "case33bw"\nmapping = "mapping.csv"\n',
     "[[feeder]] #1 has no name; add e.g. name ="),
    ('\n[[feeder]]\nname = "a b"\nnetwork = "case33bw"\nmapping = "mapping.csv"\n',
     "name must be 1-64 letters"),
    (feeder_table("demo") + feeder_table("demo"), "two [[feeder]] tables are named 'demo'"),
    (feeder_table("demo") + 'spec = "case33bw"\n', "[[feeder]] 'demo' has unknown key(s) "
                                                  "['spec']"),
    (feeder_table("demo") + "mapping_x = 1\n", "unknown key(s) ['mapping_x']"),
    (feeder_table("demo") + "readings = { mapping = \"x.csv\" }\n",
     "readings has unknown key(s) ['mapping']"),
    (feeder_table("demo") + "readings = { max_fill_steps = 1.5 }\n",
     "readings max_fill_steps = 1.5 has the wrong type"),
    (feeder_table("demo") + "readings = { fill = \"cubic\" }\n",
     "[[feeder]] 'demo': "),
    ('\n[[feeder]]\nname = "demo"\nnetwork = 33\nmapping = "mapping.csv"\n',
     "[[feeder]] 'demo' network = 33 has the wrong type"),
]


@pytest.mark.parametrize(("feeders", "message"), BAD_FEEDERS)
def test_bad_feeder_tables_exit_2_naming_the_table(inputs: Path, feeders: str,
                                                   message: str) -> None:
    path = inputs / "bad_feeder.toml"
    path.write_text(SHARED.format(now="2022-10-20T00:00") + feeders)
    with pytest.raises(InputError) as err:
        read_fleet_config(path)
    assert message in str(err.value)
    code, out, _ = fleet_json(path, inputs / "bad-out")
    assert code == 2 and message in out["message"]


def test_missing_shared_readings_is_bad_input(inputs: Path) -> None:
    text = SHARED.format(now="2022-10-20T00:00").replace('path = "homes.csv"\n', "")
    with pytest.raises(InputError, match=r"\[readings\] path is missing; add it to \[readings\]"):
        parse_fleet_config((text + feeder_table("demo")).encode(), inputs / "x.toml")
    gone = SHARED.format(now="2022-10-20T00:00").replace("homes.csv", "gone.csv")
    with pytest.raises(InputError, match=r"\[readings\] path = 'gone.csv': no such file"):
        parse_fleet_config((gone + feeder_table("demo")).encode(), inputs / "x.toml")
    # ... unless every feeder brings its own readings
    own = text + feeder_table("demo") + 'readings = { path = "homes.csv" }\n'
    cfg = parse_fleet_config(own.encode(), inputs / "x.toml")
    assert feeder_job_config(cfg, cfg.feeders[0]).readings == inputs / "homes.csv"


def test_bad_now_and_cluster_options_exit_2(inputs: Path) -> None:
    path = write_fleet(inputs, ("demo",), name="now.toml")
    code, out, _ = fleet_json(path, inputs / "now-out", "--now", "yesterday-ish")
    assert code == 2 and "--now 'yesterday-ish' is not a date" in out["message"]
    code, out, _ = fleet_json(path, inputs / "now-out", "--workers", "0")
    assert code == 2 and "--workers must be at least 1" in out["message"]
    assert not (inputs / "now-out").exists()


def test_a_fleet_of_broken_feeders_prints_its_table_and_exits_3(inputs: Path) -> None:
    import contextlib
    import io

    from gridopt.cli import main as cli_main

    path = write_fleet(inputs, ("broken",), name="all_broken.toml")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main.main(["fleet", "run", "--config", str(path), "--out-dir",
                              str(inputs / "broken-out")])
    assert code == 3
    text = out.getvalue()
    assert "failed, 0 of 1 feeders ok" in text and "missing_network.json" in text
    assert f"outputs  {inputs / 'broken-out'}" in text
    assert list((inputs / "broken-out").glob("*/fleet.csv"))
    assert err.getvalue() == ""  # stderr is not a terminal: no progress lines


def test_progress_lines_go_to_a_terminal(tmp_path: Path) -> None:
    import os
    import pty

    from gridopt.cli.fleet import FeederLines

    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as terminal:
        lines = FeederLines(terminal)
        assert lines.enabled
        lines("[1/2] demo: ok in 3.0 s")
    assert os.read(leader, 1024).decode().strip() == "[1/2] demo: ok in 3.0 s"
    os.close(leader)
    with (tmp_path / "log.txt").open("w") as plain:
        quiet = FeederLines(plain)
        quiet("[1/2] demo: ok")
    assert not quiet.enabled and (tmp_path / "log.txt").read_text() == ""


def test_fleet_needs_a_subcommand() -> None:
    from gridopt.cli import main as cli_main

    with pytest.raises(SystemExit) as exit_:
        cli_main.main(["fleet"])
    assert exit_.value.code == 2
