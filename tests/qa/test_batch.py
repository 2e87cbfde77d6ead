"""Batch QA: product discovery, one task per product on dask (threads and a distributed
cluster), decisions per artifact class, the table, the index and the per-product reports."""

import json
import shutil

import pandas as pd
import pytest
from distributed import Client, LocalCluster

from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.atomic import COMPLETION_MARKER, is_complete
from vlassdask.io.image_store import open_image_store
from vlassdask.products.qa import find_products, qa_batch, qa_product
from vlassdask.qa.assess import assess, qa_images_from_dataset
from vlassdask.testing.artifacts import make_qa_case
from vlassdask.testing.qa_products import (
    synthetic_qa_config,
    write_qa_case_products,
    write_qa_fits,
)

SIZE = 512
CONFIG = synthetic_qa_config(SIZE)
# What Otto does with each class (SPEC.md / VLASS paper 4.1, defaults of pipelines/qa.yaml).
EXPECTED = {"clean": "accepted", "pb_hole": "rejected", "high_weights": "needs_review",
            "rfi": "needs_review", "stripes": "needs_review", "poor_deconvolution": "retry"}
STEM = "VLASS2.1.ql.T08t10.J061820-113000.10.2048.v1.I.iter1"


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    """Stores of every class; a VLASS FITS set (with a flat-noise twin, a tt1 image and
    companions, which are not products); an incomplete store; a hidden staging directory."""
    root = tmp_path_factory.mktemp("batch") / "products"
    stores = write_qa_case_products(root, tuple(EXPECTED), size=SIZE)
    tile = root / "T08t10"
    tile.mkdir()
    fits = write_qa_fits(make_qa_case("clean", 1, size=SIZE)[0], tile,
                         f"{STEM}.image.pbcor.tt0.subim.fits")  # fmt: skip
    for twin in ("image.tt0", "image.pbcor.tt1"):
        shutil.copy(fits["sky"], tile / f"{STEM}.{twin}.subim.fits")
    shutil.copytree(stores["clean"], root / "broken.zarr")
    (root / "broken.zarr" / COMPLETION_MARKER).unlink()
    shutil.copytree(stores["clean"], root / ".staging.zarr.tmp-1234")
    return {"root": root, "stores": stores, "fits": fits}


def test_find_products(products):
    found = find_products(products["root"])
    names = [s.name for s in found]
    assert names == sorted(["broken", *EXPECTED, f"{STEM}.image.pbcor.tt0.subim"])
    vlass = next(s for s in found if s.name.startswith("VLASS"))
    assert vlass.product_type == "QL" and vlass.is_fits
    assert vlass.companions == {k: products["fits"][k] for k in ("rms", "pb", "residual")}
    assert all(s.product_type is None and not s.is_fits for s in found if s is not vlass)


@pytest.fixture(scope="module")
def threaded(products, tmp_path_factory):
    return qa_batch(products["root"], tmp_path_factory.mktemp("out") / "qa", config=CONFIG,
                    progress=False)  # fmt: skip


def plain(frame):
    """A table with every missing value as None, whatever the column's dtype."""
    return frame.astype(object).where(frame.notna(), None)


def test_batch_summary_html(threaded):
    html = threaded._repr_html_()
    assert "QA batch" in html and str(threaded.out / "index.html") in html
    for decision, n in threaded.counts().items():
        assert f"<th style='text-align:left'>{decision}</th><td style='text-align:left'>{n}</td>" \
            in html


def test_batch_decisions_table_and_reports(products, threaded):
    out = threaded.out
    assert is_complete(out)
    table = threaded.table.set_index("name")
    for kind, decision in EXPECTED.items():
        assert table.loc[kind, "decision"] == decision, table.loc[kind, "reasons"]
    assert table.loc[f"{STEM}.image.pbcor.tt0.subim", "decision"] == "accepted"
    assert table.loc["broken", "decision"] == "error"
    assert "incomplete product" in table.loc["broken", "error"]
    assert table.loc["poor_deconvolution", "retry_cycleniter"] == 250
    assert "pb_holes" in table.loc["pb_hole", "detections"].split(",")
    assert threaded.counts() == {"accepted": 2, "needs_review": 3, "rejected": 1, "retry": 1,
                                 "error": 1}  # fmt: skip
    stored = pd.read_parquet(out / "qa.parquet")
    pd.testing.assert_frame_equal(plain(stored), plain(threaded.table))
    for row in threaded.table.itertuples():
        if row.decision == "error":
            assert pd.isna(row.report)
            continue
        report = out / row.report
        assert is_complete(report.parent) and (out / row.thumbnail).is_file()
        assert json.loads((report.parent / "result.json").read_text())["decision"] == row.decision
        assert 'href="../../index.html"' in report.read_text()
    index = (out / "index.html").read_text()
    assert index.count("<tr>") == 1 + len(threaded.table)


def test_batch_rows_equal_the_in_memory_assessment(products, threaded):
    table = threaded.table.set_index("name")
    for kind, path in products["stores"].items():
        ds = open_image_store(path).load()  # numpy planes: the exact statistics
        result = assess(qa_images_from_dataset(ds, CONFIG, name=kind), CONFIG)
        row = table.loc[kind]
        assert row["decision"] == result.decision
        assert row["stat_ratio_sub"] == pytest.approx(result.statistics.ratio_sub, rel=1e-3)
        assert row["stat_rms_full"] == pytest.approx(result.statistics.rms_full, rel=1e-3)
        for d in result.detectors:
            assert row[f"det_{d.name}_detected"] == d.detected


def test_single_product_equals_its_batch_row(products, threaded, tmp_path):
    result = qa_product(products["fits"]["sky"], tmp_path / "one", config=CONFIG)
    row = threaded.table.set_index("name").loc[result.name]
    assert row["decision"] == result.decision
    assert row["stat_ratio_full"] == pytest.approx(result.statistics.ratio_full, rel=1e-3)


def test_batch_on_a_distributed_cluster(products, threaded, tmp_path):
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster):  # fmt: skip
        remote = qa_batch(products["root"], tmp_path / "qa", config=CONFIG, progress=True)
    columns = ["name", "decision", "reasons", "stat_ratio_sub", "report"]
    pd.testing.assert_frame_equal(remote.table[columns], threaded.table[columns])


def test_batch_errors(products, threaded, tmp_path):
    with pytest.raises(ProductExistsError, match="--overwrite"):
        qa_batch(products["root"], threaded.out, config=CONFIG)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no products"):
        qa_batch(tmp_path / "empty", tmp_path / "qa")
    with pytest.raises(InputError, match="does not exist or is not a directory"):
        qa_batch(tmp_path / "missing", tmp_path / "qa")
    assert not (tmp_path / "qa").exists()
