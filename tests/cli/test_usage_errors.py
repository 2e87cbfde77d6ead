"""The CLI as a user meets it: usage errors, --version, Ctrl-C and leftovers of killed runs.

Every case runs ``vlassdask`` as a subprocess and checks the exit status and what it printed:
usage errors exit 2 with one line starting ``error:`` and no traceback (whichever click, the
package or typer's bundled copy, raised them); Ctrl-C exits 130 with one line and leaves nothing
at the output path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import vlassdask
from vlassdask.cli.common import parse_spw_selection
from vlassdask.cli.imaging import parse_imsize
from vlassdask.cli.main import main
from vlassdask.errors import VlassdaskError
from vlassdask.io.atomic import atomic_output, remove_stale_temporaries
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "E04", "E08", "E12", "N04", "N08", "N12"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", *args],
                          capture_output=True, text=True, check=False, timeout=timeout)


@pytest.mark.parametrize(("args", "says"), [
    (["image", "--bogus"], "No such option: --bogus"),
    (["image", "--out", "x.zarr"], "Missing option '--ms'"),
    (["image", "--ms", "a.ms", "--out", "b.zarr", "--imsize", "abc"], "'--imsize'"),
    (["image", "--ms", "a.ms", "--out", "b.zarr", "extra"], "unexpected extra argument"),
    (["imgae"], "No such command 'imgae'"),
    (["clean", "--ms", "a.ms", "--out", "b.zarr", "--niter"], "'--niter' requires an argument"),
    (["clean", "--ms", "a.ms", "--out", "b.zarr", "--gain", "big"], "'--gain'"),
])
def test_usage_errors_exit_2_with_one_line(args, says, tmp_path):
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert says in lines[0]
    assert "--help" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_version_and_bare_command():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"vlassdask {vlassdask.__version__}"
    proc = _cli()
    assert proc.returncode == 0 and "Usage" in proc.stdout and not proc.stderr.strip()


@pytest.fixture(scope="module")
def long_ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("sigint"), name="long.ms", spw_ids=[0, 9],
                        nchan_per_spw=2, antennas=INNER, noise_sigma_jy=0.05)


def test_ctrl_c_exits_130_and_leaves_nothing(long_ms, tmp_path):
    out = tmp_path / "img.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vlassdask.cli.main", "clean", "--ms", str(long_ms), "--out",
         str(out), "--imsize", "512", "--cell", "2arcsec", "--niter", "1000000", "--cycleniter",
         "1", "--gain", "0.01", "--scheduler", "threads", "--fits", str(tmp_path / "img.fits")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:  # wait until CLEAN runs, then press Ctrl-C
        lines.append(line)
        if line.startswith("major   2:"):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    assert rest.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no product, no temporary sibling


def test_leftovers_of_a_killed_run_are_removed_on_the_next(tmp_path):
    # a killed writer (its pid no longer runs) left a temporary store and a displaced copy
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(child.stdout)
    stale = [tmp_path / f".out.zarr.tmp-{dead}-0badf00d", tmp_path / f".out.zarr.old-{dead}-1"]
    for path in stale:
        path.mkdir()
        (path / "chunk").write_bytes(b"x")
    live = tmp_path / f".out.zarr.tmp-{os.getpid()}-feedbeef"  # a running writer's: kept
    live.mkdir()
    other = tmp_path / f".other.zarr.tmp-{dead}-2"  # another product's: not ours to remove
    other.mkdir()
    with atomic_output(tmp_path / "out.zarr") as tmp:
        tmp.mkdir()
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists() and (tmp_path / "out.zarr").is_dir()
    assert remove_stale_temporaries(tmp_path / "out.zarr") == []


def test_concurrent_overwrites_leave_one_valid_product(tmp_path):
    out = tmp_path / "product"
    errors = []

    def write(tag: str) -> None:
        try:
            for _ in range(20):
                with atomic_output(out, overwrite=True) as tmp:
                    tmp.mkdir()
                    (tmp / "tag").write_text(tag)
                    time.sleep(0.001)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (out / "tag").read_text() in ("a", "b")
    assert (out / ".vlassdask-complete").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["product"]  # no .old-* or .tmp-*


def test_imsize_and_spw_selection_forms():
    assert parse_imsize("512") == (512, 512)
    assert parse_imsize("512,384") == parse_imsize("512x384") == parse_imsize("512 384") \
        == (512, 384)
    for bad in ("abc", "512,384,2", "1.5"):
        with pytest.raises(VlassdaskError, match="--imsize"):
            parse_imsize(bad)
    assert parse_spw_selection("0~2,7") == [0, 1, 2, 7]
    for bad in ("3~1", "a", "1~2~3"):
        with pytest.raises(VlassdaskError, match="--spw"):
            parse_spw_selection(bad)


SWALLOWING_RUN = """
import os, signal, sys, time
import vlassdask.cli.main as cli
cli.INTERRUPT_GRACE_S = {grace}
with cli._Interrupts().installed():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        pass  # what Python does to an exception raised in a finaliser
    print("still running", file=sys.stderr, flush=True)
    {then}
    time.sleep(30)
print("not ended", file=sys.stderr)
"""


@pytest.mark.parametrize("grace, then, words", [
    (0.5, "pass", "the watchdog ends a run whose KeyboardInterrupt was lost"),
    (60, "os.kill(os.getpid(), signal.SIGINT)", "a second Ctrl-C ends it at once"),
])
def test_ctrl_c_is_never_lost(grace, then, words):
    proc = subprocess.run([sys.executable, "-c", SWALLOWING_RUN.format(grace=grace, then=then)],
                          capture_output=True, text=True, timeout=25)  # fmt: skip
    assert proc.returncode == 130, words
    assert proc.stderr.splitlines() == ["still running", "error: interrupted"], proc.stderr


def test_in_process_main_restores_the_sigint_handler():
    before = signal.getsignal(signal.SIGINT)
    assert main(["--version"]) == 0
    assert signal.getsignal(signal.SIGINT) is before
