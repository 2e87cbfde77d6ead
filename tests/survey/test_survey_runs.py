"""``vlassdask survey plan | run | status`` on the embedded LocalCluster, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from tests.cli.errors import assert_one_error
from tests.products.test_coarse_cube import TINY
from tests.qa.test_report_browser import run_chromium
from tests.survey.runs import (
    COVERED,
    UNCOVERED,
    kill_after_first_product,
    make_survey_ms,
    manifest,
    plan_covered,
    start_runner,
    vlassdask,
)
from vlassdask.io.survey_manifest import read_manifest, write_manifest


@pytest.fixture(scope="module")
def tile(tmp_path_factory):
    return make_survey_ms(tmp_path_factory.mktemp("survey_ms"))


@pytest.fixture(scope="module")
def finished(tile, tmp_path_factory):
    """A survey of the three covered phase centres and one the data do not reach, run once."""
    ms, config = tile
    survey = tmp_path_factory.mktemp("survey") / "s"
    names = ",".join([*COVERED, UNCOVERED])
    plan = vlassdask("survey", "plan", "--ms", str(ms), "--product", "quicklook", "--out",
                     str(survey), "--phasecenters", names, "--config", str(config))
    assert plan.returncode == 0, plan.stderr
    run = vlassdask("survey", "run", str(survey), "--max-concurrent", "2")
    return survey, run


def test_plan_the_whole_sky(tmp_path):
    proc = vlassdask("survey", "plan", "--ms", "/data/{tile}.ms", "--tiles", "all", "--out",
                     str(tmp_path / "sky"))
    assert proc.returncode == 0, proc.stderr
    rows = read_manifest(tmp_path / "sky")
    assert len(rows) == 35446 and len({r["name"] for r in rows}) == 35446
    assert rows[0]["ms"] == f"/data/{rows[0]['tile']}.ms" and rows[0]["state"] == "pending"
    assert "planned 35446 quicklook product(s)" in proc.stderr


def test_plan_from_the_ms_pointings_and_bad_plans(tile, tmp_path):
    ms, _ = tile
    proc = vlassdask("survey", "plan", "--ms", str(ms), "--out", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["name"] for r in read_manifest(tmp_path / "a")) == COVERED
    assert_one_error(vlassdask("survey", "plan", "--ms", str(ms), "--out", str(tmp_path / "a")),
                     "holds a survey already")
    assert_one_error(vlassdask("survey", "plan", "--ms", str(ms), "--out", str(tmp_path / "b"),
                               "--product", "mosaic"), "unknown product 'mosaic'")
    assert_one_error(vlassdask("survey", "plan", "--ms", str(ms), "--out", str(tmp_path / "b"),
                               "--phasecenters", "J999999+203000"), "not VLASS phase centres")
    assert_one_error(vlassdask("survey", "plan", "--ms", str(ms), "--out", str(tmp_path / "b"),
                               "--preset", "huge"), "unknown preset 'huge'")
    assert_one_error(vlassdask("survey", "run", str(tmp_path / "nothing")), "not a survey")
    assert not (tmp_path / "b").exists()


def test_survey_completes_and_records_the_failure(finished):
    survey, run = finished
    assert run.returncode == 0, run.stderr
    assert "dask dashboard: http://127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr
    rows = manifest(survey)
    assert {n: rows[n]["state"] for n in rows} == {**dict.fromkeys(COVERED, "done"),
                                                   UNCOVERED: "failed"}
    assert rows[UNCOVERED]["reason"].startswith("no field of") and "\n" not in \
        rows[UNCOVERED]["reason"]
    for name in COVERED:
        row = rows[name]
        assert row["decision"] in ("accepted", "needs_review") and row["runs"] == 1
        assert row["attempts"] == 1 and row["seconds"] > 0 and row["cores"] >= 1
        assert (survey / row["marker"]).is_file() and (survey / row["preview"]).is_file()
    status = vlassdask("survey", "status", str(survey), "--json")
    assert status.returncode == 0, status.stderr
    counts = json.loads(status.stdout)
    assert counts["states"] == {"done": 3, "failed": 1} and counts["products"] == 4
    assert counts["core_hours"] > 0 and counts["failures"][0]["name"] == UNCOVERED
    table = vlassdask("survey", "status", str(survey))
    assert "failed J100824+203000: no field of" in table.stdout


def test_index_renders_in_chromium_with_a_row_per_product(finished, tmp_path):
    survey, _ = finished
    dom = run_chromium(tmp_path, "--dump-dom", (survey / "index.html").as_uri())
    rows = re.findall(r'<tr class="product (\w+)">(.*?)</tr>', dom, flags=re.S)
    assert len(rows) == 4
    states = {re.search(r"<td>(J\d{6}[+-]\d{6})</td>", r).group(1): s for s, r in rows}
    assert states[UNCOVERED] == "failed" and all(states[n] == "done" for n in COVERED)
    thumbs = re.findall(r'<img src="([^"]+)"', dom)
    assert len(thumbs) == 3 and all((survey / t).is_file() for t in thumbs)
    decisions = re.findall(r'<td class="decision">([a-z_]*)</td>', dom)
    assert sorted(decisions)[1:] == sorted(manifest(survey)[n]["decision"] for n in COVERED)


def test_rerun_makes_nothing_again(finished):
    survey, _ = finished
    before = {n: (r["runs"], (survey / r["marker"]).stat().st_mtime_ns)
              for n, r in manifest(survey).items() if r["state"] == "done"}
    again = vlassdask("survey", "run", str(survey))
    assert again.returncode == 0, again.stderr
    assert "made 0, already complete 0, failed 0" in again.stderr  # failed rows stay failed
    after = {n: (r["runs"], (survey / r["marker"]).stat().st_mtime_ns)
             for n, r in manifest(survey).items() if r["state"] == "done"}
    assert after == before


HOLD_LOCK = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                         "since": time.time()}).encode())
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_runner_is_refused(finished):
    survey, _ = finished
    lock = survey / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert_one_error(vlassdask("survey", "run", str(survey)),
                         f"is being run by {socket.gethostname()} pid {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: the system released its lock, its file is taken over
    proc = vlassdask("survey", "run", str(survey))
    assert proc.returncode == 0, proc.stderr
    assert f"taking over the lock left by pid {holder.pid}" in proc.stderr
    assert not lock.exists()


def test_killed_runner_resumes_without_recomputing(tile, tmp_path):
    survey = plan_covered(*tile, tmp_path / "s")
    runner = start_runner(survey, "--max-concurrent", "1", stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    first = kill_after_first_product(runner, survey)
    assert len(first) >= 1 and len(first) < 3
    stamps = {n: (survey / r["marker"]).stat().st_mtime_ns for n, r in first.items()}
    proc = vlassdask("survey", "run", str(survey))
    assert proc.returncode == 0, proc.stderr
    assert "taking over the lock left by pid" in proc.stderr
    rows = manifest(survey)
    assert all(r["state"] == "done" for r in rows.values())
    for name, row in first.items():  # finished before the kill: not made again
        assert rows[name]["runs"] == 1 and rows[name]["attempts"] == row["attempts"]
        assert (survey / rows[name]["marker"]).stat().st_mtime_ns == stamps[name]
    assert sum(r["runs"] for r in rows.values()) == 3


KILL_DURING_UPDATE = """
import os, sys, time
from pathlib import Path
from vlassdask.io import survey_manifest as m
rows = m.read_manifest(Path(sys.argv[1]))
rows[0]["state"] = "failed"
real = os.replace
def slow(src, dst):  # the new manifest is written and synced; the rename has not happened
    print("renaming", flush=True)
    time.sleep(60)
    real(src, dst)
m.os.replace = slow
m.write_manifest(Path(sys.argv[1]), rows)
"""


def test_manifest_survives_a_kill_during_a_state_update(tmp_path):
    survey = tmp_path / "s"
    survey.mkdir()
    from vlassdask.io.survey_manifest import new_row

    write_manifest(survey, [new_row(n, "T16t14", "quicklook", "x.ms", "h") for n in COVERED])
    before = (survey / "manifest.jsonl").read_bytes()
    child = subprocess.Popen([sys.executable, "-c", KILL_DURING_UPDATE, str(survey)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "renaming"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (survey / "manifest.jsonl").read_bytes() == before  # the old one, whole
    leftovers = [p.name for p in survey.iterdir() if p.name.startswith(".manifest")]
    assert len(leftovers) == 1 and leftovers[0].endswith(str(child.pid))
    rows = read_manifest(survey)
    rows[1]["state"] = "done"
    write_manifest(survey, rows)  # the next update works and removes the leftover
    assert read_manifest(survey)[1]["state"] == "done"
    assert not [p for p in survey.iterdir() if p.name.startswith(".manifest")]
    assert os.listdir(survey) == ["manifest.jsonl"]


def test_coarse_cubes_plug_into_the_same_runner(tile, tmp_path):
    ms, _ = tile
    config = tmp_path / "cube.yaml"
    config.write_text(yaml.safe_dump({**TINY, "cube": {**TINY["cube"], "band_averaged_v": False}}))
    survey = tmp_path / "cubes"
    assert vlassdask("survey", "plan", "--ms", str(ms), "--product", "coarse-cube", "--out",
                     str(survey), "--phasecenters", COVERED[1], "--config",
                     str(config)).returncode == 0
    proc = vlassdask("survey", "run", str(survey))
    assert proc.returncode == 0, proc.stderr
    row = manifest(survey)[COVERED[1]]
    assert row["state"] == "done" and row["decision"] == "accepted (2/2 planes)"
    assert row["marker"].endswith(".IQU.iter3.summary.json") and (survey / row["preview"]).is_file()


def test_ctrl_c_stops_the_runner_cleanly(tile, tmp_path):
    survey = plan_covered(*tile, tmp_path / "s")
    runner = start_runner(survey, "--max-concurrent", "1", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    for line in runner.stderr:  # the cluster is up and the first product is being made
        if line.startswith("dask dashboard"):
            break
    while not any(r["state"] == "running" for r in manifest(survey).values()):
        time.sleep(0.1)
    runner.send_signal(signal.SIGINT)
    _, rest = runner.communicate(timeout=120)
    assert runner.returncode == 130, rest
    assert rest.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in rest
    assert not (survey / ".lock").exists()
    assert len(read_manifest(survey)) == 3  # whole and readable
    proc = vlassdask("survey", "run", str(survey))
    assert proc.returncode == 0, proc.stderr
    assert all(r["state"] == "done" for r in manifest(survey).values())
