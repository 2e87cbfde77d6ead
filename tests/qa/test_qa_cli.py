"""``vlassdask qa``: decisions and reasons printed, reports written, exit 0 / 2, one-line errors."""

import dataclasses
import json

import numpy as np
import pytest
import yaml

from vlassdask.cli.main import main
from vlassdask.errors import InputError
from vlassdask.io.atomic import is_complete
from vlassdask.qa.assess import assess
from vlassdask.testing.artifacts import make_qa_case
from vlassdask.testing.fits import write_vlass_fits
from vlassdask.testing.qa_products import (
    synthetic_qa_config,
    write_qa_case_products,
    write_qa_fits,
    write_qa_store,
)

VLASS_NAME = "VLASS2.1.ql.T08t10.J061820-113000.10.2048.v1.I.iter1.image.pbcor.tt0.subim.fits"
SIZE = 512


def write_config(path, **decision):
    """A QA config file for the synthetic images (beam limits scaled to their cell)."""
    config = synthetic_qa_config(SIZE, **decision)
    path.write_text(yaml.safe_dump({"qa": {"decision": config.decision.to_dict()}}))
    return str(path)


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    stores = write_qa_case_products(root / "stores", ("clean", "pb_hole"), size=SIZE)
    images, _ = make_qa_case("clean", 0, size=SIZE)
    fits_dir = root / "fits"
    fits_dir.mkdir()
    fits = write_qa_fits(images, fits_dir, VLASS_NAME)
    config = write_config(root / "qa.yaml")
    return {"stores": stores, "fits": fits, "images": images, "root": root, "config": config}


def one_line_error(capsys, *texts):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for text in texts:
        assert text in err, err


def test_one_store(products, tmp_path, capsys):
    out = tmp_path / "clean.qa"
    assert main(["qa", str(products["stores"]["clean"]), "--out", str(out), "--json",
                 "--config", products["config"]]) == 0  # fmt: skip
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["decision"] == "accepted" and result["name"] == "clean"
    assert "clean: accepted (attempt 0, QL)" in captured.err
    assert is_complete(out)
    assert json.loads((out / "result.json").read_text())["decision"] == "accepted"
    assert (out / "report.html").is_file() and (out / "fft.png").is_file()


def test_rejected_is_a_valid_result(products, tmp_path, capsys):
    out = tmp_path / "hole.qa"
    args = ["qa", str(products["stores"]["pb_hole"]), "--out", str(out), "--config",
            products["config"]]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "pb_hole: rejected" in err and "reject pb_holes detected" in err
    assert main(args) == 2
    one_line_error(capsys, "already exists", "--overwrite")
    assert main([*args, "--overwrite", "--product-type", "SE"]) == 0
    assert "pb_hole: needs_review (attempt 0, SE)" in capsys.readouterr().err


def test_vlass_fits_with_companions_found(products, tmp_path, capsys):
    out = tmp_path / "fits.qa"
    assert main(["qa", str(products["fits"]["sky"]), "--out", str(out), "--json",
                 "--config", products["config"]]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] == "accepted" and result["product_type"] == "QL"
    assert set(result["inputs"]) == {"sky", "rms", "pb", "residual"}


def test_fits_with_explicit_companions(products, tmp_path, capsys):
    fits = products["fits"]
    plain = {}
    for role in ("sky", "rms", "pb", "residual"):
        plain[role] = tmp_path / f"{role}.fits"
        plain[role].write_bytes(fits[role].read_bytes())
    args = ["qa", str(plain["sky"]), "--out", str(tmp_path / "qa"), "--json", "--config",
            products["config"]]  # fmt: skip
    assert main(args) == 2  # a plain name has no companions to find: the PB is missing
    one_line_error(capsys, "sky has no pb image", "pb_holes and high_weights", "--pb")
    assert main([*args, "--rms", str(plain["rms"]), "--pb", str(plain["pb"]),
                 "--residual", str(plain["residual"])]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["decision"] == "accepted"


def test_attempt_and_config(products, tmp_path, capsys):
    config = write_config(tmp_path / "qa.yaml", ratio_sub_max=1.0, relaxed_ratio_sub_max=50.0)
    store = str(products["stores"]["clean"])
    assert main(["qa", store, "--out", str(tmp_path / "a"), "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "clean: retry" in err and "next: attempt 1 with cycleniter 250, imsize 7290" in err
    assert main(["qa", store, "--out", str(tmp_path / "b"), "--config", str(config),
                 "--attempt", "1"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "clean: accepted (attempt 1, QL)" in err and "relaxed criterion" in err


def test_optional_detectors(products, tmp_path, capsys):
    images = products["images"]
    no_pb = write_qa_store(dataclasses.replace(images, pb=None), tmp_path / "nopb.zarr")
    config = write_config(tmp_path / "qa.yaml", optional_detectors=["pb_holes", "high_weights"])
    assert main(["qa", str(no_pb), "--out", str(tmp_path / "r"), "--config", config,
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert [(r["check"], r["action"], r["message"]) for r in result["reasons"]] == [
        ("detector:pb_holes", "ignore", "pb_holes not run: no PB image (optional detector)"),
        ("detector:high_weights", "ignore",
         "high_weights not run: no PB image (optional detector)")]  # fmt: skip
    assert result["decision"] == "accepted"


def test_bad_input(products, tmp_path, capsys):
    images = products["images"]
    out = str(tmp_path / "out")
    assert main(["qa", str(tmp_path / "missing.zarr"), "--out", out]) == 2
    one_line_error(capsys, "does not exist")
    no_pb = write_qa_store(dataclasses.replace(images, pb=None), tmp_path / "nopb.zarr")
    assert main(["qa", str(no_pb), "--out", out]) == 2
    one_line_error(capsys, "nopb has no pb image", "optional_detectors")
    nan = write_vlass_fits(tmp_path / "nan.fits", np.full(images.sky.shape, np.nan),
                           cell_arcsec=images.cell_arcsec)
    sky = str(products["fits"]["sky"])
    assert main(["qa", sky, "--residual", str(nan), "--out", out]) == 2
    one_line_error(capsys, "residual image has no finite values")
    assert main(["qa", str(nan), "--pb", str(products["fits"]["pb"]), "--rms",
                 str(products["fits"]["rms"]), "--out", out]) == 2  # fmt: skip
    one_line_error(capsys, "nan: the sky image has no finite values")
    small = products["root"] / "small.fits"
    small_images = make_qa_case("clean", 1, size=256)[0]
    write_qa_fits(small_images, tmp_path, VLASS_NAME)["pb"].rename(small)
    assert main(["qa", str(products["fits"]["sky"]), "--pb", str(small), "--out", out]) == 2
    one_line_error(capsys, "is not on the pixel grid")
    assert main(["qa", "--out", out]) == 2
    one_line_error(capsys, "give either a PRODUCT or --batch")
    assert main(["qa", str(no_pb), "--batch", str(tmp_path)]) == 2
    one_line_error(capsys, "give either a PRODUCT or --batch")
    assert main(["qa", "--batch", str(tmp_path)]) == 2
    one_line_error(capsys, "--batch needs --out")
    assert main(["qa", str(no_pb), "--rms", str(small), "--out", out]) == 2
    one_line_error(capsys, "go with FITS images")
    bad = tmp_path / "bad.yaml"
    bad.write_text("qa:\n  decisions: {}\n")
    assert main(["qa", str(no_pb), "--config", str(bad), "--out", out]) == 2
    one_line_error(capsys, "unknown qa option(s): decisions")
    assert main(["qa", str(no_pb), "--product-type", "XL", "--out", out]) == 2
    one_line_error(capsys, "unknown product_type 'XL'")
    assert not (tmp_path / "out").exists()


def test_batch(products, tmp_path, capsys):
    out = tmp_path / "batch"
    args = ["qa", "--batch", str(products["root"] / "stores"), "--out", str(out),
            "--scheduler", "threads", "--json", "--config", products["config"]]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["counts"] == {"accepted": 1, "rejected": 1}
    assert "assessed 2 products: 1 accepted, 1 rejected" in captured.err
    assert is_complete(out) and (out / "index.html").is_file() and (out / "qa.parquet").is_file()


def test_help(capsys):
    assert main(["qa", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--rms", "--pb", "--residual", "--batch", "--out", "--config", "--attempt",
                   "--overwrite", "--scheduler", "--cluster", "--product-type"):
        assert option in text


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # nanmax of the blank PB
def test_assess_refuses_bad_planes(products):
    """The same checks from Python, on planes built by hand."""
    images = products["images"]
    config = synthetic_qa_config(SIZE)
    cut = images.residual.isel(l=slice(0, SIZE - 2))
    with pytest.raises(InputError, match="residual image has shape .510, 512., the image "
                                         ".512, 512.: they must be on the same pixel grid"):
        assess(dataclasses.replace(images, residual=cut), config)
    with pytest.raises(InputError, match="has no rms image, needed by the rfi detector: give"):
        assess(dataclasses.replace(images, rms=None), config)
    blank = images.pb.copy(data=np.full(images.pb.shape, np.nan))
    with pytest.raises(InputError, match="the pb image has no finite values in the sub-image"):
        assess(dataclasses.replace(images, pb=blank), config)
    with pytest.raises(InputError, match="attempt must be an integer >= 0"):
        assess(images, config, attempt=-1)
    assert assess(images, config).decision == "accepted"
