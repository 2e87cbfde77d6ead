"""The survey CLI commands: tiles, phasecenters, locate, position-correction, plan."""

import json
import subprocess
import sys

import pandas as pd
import pytest

import vlassdask  # noqa: F401
from vlassdask.cli.main import main


def test_tiles_table_and_files(tmp_path, capsys):
    assert main(["tiles", "--tier", "32"]) == 0
    out = capsys.readouterr().out
    assert "T32t01" in out and "T32t02" in out
    csv = tmp_path / "tiles.csv"
    assert main(["tiles", "--out", str(csv)]) == 0
    assert len(pd.read_csv(csv)) == 899
    pq = tmp_path / "tiles.parquet"
    assert main(["tiles", "--out", str(pq)]) == 0
    assert pd.read_parquet(pq)["tile"].iloc[-1] == "T32t02"
    assert main(["tiles", "--out", str(csv)]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["tiles", "--out", str(csv), "--overwrite"]) == 0


def test_phasecenters(tmp_path, capsys):
    assert main(["phasecenters", "--tile", "T06t24"]) == 0
    assert "J152614-163000" in capsys.readouterr().out
    out = tmp_path / "pc.parquet"
    assert main(["phasecenters", "--all", "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 35_446
    assert main(["phasecenters"]) == 2
    assert "exactly one of" in capsys.readouterr().err
    assert main(["phasecenters", "--tile", "T06t99"]) == 2
    assert "unknown tile" in capsys.readouterr().err


def test_locate(capsys):
    assert main(["locate", "15:26:14", "-16:30:00"]) == 0
    out = capsys.readouterr().out
    assert "T06t24" in out and "J152614-163000" in out
    assert main(["locate", "231.5", "-17", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tile"] == "T06t24" and len(result["images"]) >= 2
    assert main(["locate", "15:26:14", "-45:00:00"]) == 2
    assert "outside the survey" in capsys.readouterr().err
    assert main(["locate", "15:26:1x", "10:00:00"]) == 2
    assert "malformed RA" in capsys.readouterr().err


def test_position_correction_json(capsys):
    args = ["position-correction", "--ra", "239.9618167", "--dec", "33.5"]
    args += ["--mjd", "58089.82306510417", "--lat", "33.90049", "--lon", "-107.61833", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["zenith_distance"] == pytest.approx(17.08552, abs=1e-4)  # 0.2981984 rad
    assert result["shift_arcsec"] == pytest.approx(0.25 * 0.30733, rel=1e-3)
    assert main([*args[:-1], "--freq", "2e9"]) == 0
    assert "shift_arcsec" in capsys.readouterr().out
    assert main([*args, "--sidereal", "local"]) == 2
    assert "sidereal" in capsys.readouterr().err


def test_plan(tmp_path, capsys):
    schedule = tmp_path / "schedule.csv"
    schedule.write_text(
        "# tile observations\n"
        "tile,start_utc,stop_utc,epoch\n"
        "T01t10,2019-01-15T04:00:00,2019-01-15T05:00:00,VLASS1.2\n"
        "T21t15,2019-01-15T12:00:00,2019-01-15T13:00:00,VLASS1.2\n"
    )
    assert main(["plan", "--tiles-log", str(schedule), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [p["tile"] for p in plan] == ["T01t10", "T21t15"]
    assert plan[0]["gridder"] == "wproject"
    out = tmp_path / "plan.parquet"
    assert main(["plan", "--schedule", str(schedule), "--images", "--out", str(out)]) == 0
    assert {"zenith_distance", "shift_arcsec"} <= set(pd.read_parquet(out).columns)
    assert main(["plan", "--schedule", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_documents_every_option(capsys):
    for command in ("tiles", "phasecenters", "locate", "position-correction", "plan"):
        assert main([command, "--help"]) == 0
    assert "--tiles-log" in capsys.readouterr().out


def test_subprocess_locate():
    proc = subprocess.run(
        [sys.executable, "-m", "vlassdask.cli.main", "locate", "06:38:20", "+11:30:00", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"][0]["name"] == "J063820+113000"
