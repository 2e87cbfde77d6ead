"""``vlassdask simulate`` through the CLI entry point."""

import os
import subprocess
import sys

import casacore.tables as ct
import numpy as np
import pytest

from vlassdask.cli.common import parse_spw_selection
from vlassdask.cli.main import main
from vlassdask.cli.simulate import parse_hour_angle
from vlassdask.io.atomic import is_complete
from vlassdask.io.ms_write import _descriptor_noise_filtered

SMALL = ["--duration", "0.9", "--spw", "0,15", "--nchan", "2", "--antennas", "ea01,ea02,ea03,N08"]


def test_simulate_command_writes_ms(tmp_path, capsys):
    out = tmp_path / "cli.ms"
    args = ["simulate", "--out", str(out), *SMALL, "--random-sources", "3", "--seed", "2"]
    assert main([*args, "--mode", "otf", "--hour-angle", "-1.0h", "--dec", "-26"]) == 0
    assert is_complete(out)
    with ct.table(str(out), ack=False) as ms:
        assert ms.nrows() == 2 * 6 * 2  # integrations x baselines x spws
    with ct.table(f"{out}/FIELD", ack=False) as field:
        assert field.nrows() == 1
    before = (out / "table.dat").stat().st_mtime_ns
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "table.dat").stat().st_mtime_ns == before
    assert main([*args, "--overwrite", "--noise", "0.5"]) == 0
    with ct.table(str(out), ack=False) as ms:
        np.testing.assert_allclose(ms.getcol("SIGMA"), 0.5)


def test_simulate_command_with_config_file(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text(
        "simulate:\n  duration_s: 0.45\n  spw_ids: [4]\n  nchan_per_spw: 1\n"
        "sky:\n  - {ra_deg: 180.0, dec_deg: 34.0, flux_jy: 2.0}\n"
    )
    out = tmp_path / "file.ms"
    assert main(["simulate", "--config", str(config), "--out", str(out), "--noise", "0"]) == 0
    with ct.table(str(out), ack=False) as ms:
        np.testing.assert_allclose(np.abs(ms.getcol("DATA")[..., 0]), 2.0, rtol=1e-2)


@pytest.mark.parametrize(
    "bad",
    [
        ["--hour-angle", "noon"],
        ["--spw", "0,x"],
        ["--nchan", "0"],
        ["--sky", "missing.csv"],
        ["--flag-time", "5"],
    ],
)
def test_bad_input_exits_2(tmp_path, bad, capsys):
    assert main(["simulate", "--out", str(tmp_path / "bad.ms"), *SMALL, *bad]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "bad.ms").exists()


def test_parsers_and_help(capsys):
    assert parse_hour_angle("-1.0h") == -1.0
    assert parse_hour_angle("-0h30m") == -0.5
    assert parse_hour_angle("30deg") == 2.0
    assert parse_spw_selection("0,3,5-7") == [0, 3, 5, 6, 7]
    assert parse_spw_selection("0~3") == [0, 1, 2, 3]       # CASA style
    assert parse_spw_selection("9, 0~1") == [0, 1, 9]
    assert main(["simulate", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--hour-angle" in help_text and "--feeds" in help_text
    assert "--correlations" in help_text


def test_simulate_prints_no_casacore_descriptor_noise(tmp_path):
    """casacore's ``Data type: 24, SORT_COLUMNSnot handled`` (written by C++ to file descriptor
    2 while the MS descriptor is made) never reaches the user; the run's own lines do."""
    proc = subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "simulate", "--out",
                           str(tmp_path / "quiet.ms"), *SMALL], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "not handled" not in proc.stderr + proc.stdout
    assert "wrote" in proc.stderr


def test_descriptor_noise_filter_passes_other_lines(capfd):
    with _descriptor_noise_filtered():
        os.write(2, b"keep me\nData type: 24, SORT_ORDERnot handled\n")
        print("and me", file=sys.stderr)
    err = capfd.readouterr().err
    assert "keep me" in err and "and me" in err and "not handled" not in err


def test_feeds_and_correlations_options(tmp_path):
    out = tmp_path / "linear.ms"
    assert main(["simulate", "--out", str(out), *SMALL, "--feeds", "linear"]) == 0
    with ct.table(f"{out}/POLARIZATION", ack=False) as pol:
        assert pol.getcol("CORR_TYPE").tolist() == [[9, 10, 11, 12]]
    with ct.table(f"{out}/FEED", ack=False) as feed:
        assert feed.getcol("POLARIZATION_TYPE")["array"][:2] == ["X", "Y"]
    out = tmp_path / "parallel.ms"
    assert main(["simulate", "--out", str(out), *SMALL, "--correlations", "parallel"]) == 0
    with ct.table(f"{out}/POLARIZATION", ack=False) as pol:
        assert pol.getcol("CORR_TYPE").tolist() == [[5, 8]]


def test_flag_spws_from_the_config_file(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text("simulate:\n  flag_spws:\n    - {spw: 15, longer_than_m: 800}\n")
    out = tmp_path / "flags.ms"
    assert main(["simulate", "--config", str(config), "--out", str(out), *SMALL]) == 0
    with ct.table(str(out), ack=False) as ms:
        flag, ddid = ms.getcol("FLAG"), ms.getcol("DATA_DESC_ID")
        a1, a2 = ms.getcol("ANTENNA1"), ms.getcol("ANTENNA2")
    with ct.table(f"{out}/ANTENNA", ack=False) as antenna:
        position = antenna.getcol("POSITION")
    long = np.linalg.norm(position[a1] - position[a2], axis=1) > 800.0
    assert 0 < long.mean() < 1  # 2 of the 6 baselines of ea01, ea02, ea03, N08
    assert not flag[ddid == 0].any()  # spw 0
    np.testing.assert_array_equal(flag[ddid == 1].all(axis=(1, 2)), long[ddid == 1])  # spw 15
    assert not flag[ddid == 1][~long[ddid == 1]].any()


@pytest.mark.parametrize("bad, says", [
    (["--feeds", "elliptical"], "error: feeds must be one of circular, linear, got 'elliptical'"),
    (["--correlations", "cross"], "error: correlations must be one of all, parallel"),
    (["--config", "FLAGS"], "error: flag_spws: spw 0: field(s) [1] not in this observation's"),
])  # fmt: skip
def test_bad_polarisation_and_flag_options_exit_2(tmp_path, bad, says, capsys):
    config = tmp_path / "flags.yaml"
    config.write_text("flag_spws:\n  - {spw: 0, fields: [1]}\n")
    bad = [str(config) if arg == "FLAGS" else arg for arg in bad]
    assert main(["simulate", "--out", str(tmp_path / "bad.ms"), *SMALL, *bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1
    assert not (tmp_path / "bad.ms").exists()
