"""Progress output: plain lines where no terminal redraws them (logs, pipes, batch jobs)."""

from __future__ import annotations

import re
import subprocess
import sys

import dask
import dask.array as da
import pytest
from distributed import Client, LocalCluster

from vlassdask.progress import MODES, persist_with_progress, progress_mode
from vlassdask.testing.ms import make_test_ms

LINE = re.compile(r"progress: +(\d+)% \((\d+)/(\d+) tasks, \d+ s\)")


def _progress_lines(err: str) -> list[tuple[int, int, int]]:
    return [tuple(map(int, m.groups())) for m in LINE.finditer(err)]


def _check_lines(err: str) -> None:
    assert "\r" not in err and "[#" not in err
    lines = _progress_lines(err)
    assert lines and lines[-1][0] == 100 and lines[-1][1] == lines[-1][2]
    percents = [p for p, _, _ in lines]
    assert percents == sorted(set(percents))  # one line per tenth, never repeated
    assert all(p % 10 == 0 for p in percents)


def test_mode_outside_a_terminal_is_plain():
    assert progress_mode() in MODES
    code = "from vlassdask.progress import progress_mode; print(progress_mode())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()  # fmt: skip
    assert out == "plain"


@pytest.mark.parametrize("scheduler", ["threads", "distributed"])
def test_plain_lines(scheduler, capsys):
    x = da.ones((1000, 1000), chunks=100).sum()
    if scheduler == "threads":
        with dask.config.set(scheduler="threads"):
            (y,) = persist_with_progress(x, mode="plain")
    else:
        with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \
                Client(cluster):
            (y,) = persist_with_progress(x, mode="plain")
            y = y.compute()
    assert float(y) == 1e6
    _check_lines(capsys.readouterr().err)


def test_cli_log_gets_lines_not_redraws(tmp_path):
    """``vlassdask image ... 2> log``: every progress update is one line of the log."""
    ms = make_test_ms(tmp_path, name="p.ms", nchan_per_spw=2, spw_ids=[0])
    proc = subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "image", "--ms", str(ms),
                           "--out", str(tmp_path / "p.zarr"), "--imsize", "128"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _check_lines(proc.stderr)
    assert "embedded cluster: 1 in-process worker" in proc.stderr
    assert re.search(r"dask dashboard: http://127\.0\.0\.1:\d+/status", proc.stderr)
