"""The combined-epoch product from Zarr stores and VLASS FITS files, its CLI and bad input."""

import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from vlassdask.cli.main import main
from vlassdask.combine.epochs import combine_epochs
from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.image_store import open_image_store, write_image_store
from vlassdask.products.combined import combine_products, open_epoch
from vlassdask.testing.epochs import simulate_epochs
from vlassdask.testing.fits import write_vlass_fits

STEM = "VLASS{}.ql.T22t16.J151439+473000.10.2048.v1.I.iter1.image.pbcor.tt0"
EPOCHS = ("1.2", "2.2", "3.2")


@pytest.fixture(scope="module")
def sim():
    return simulate_epochs(n_pixels=128, phase_center_deg=(228.6625, 47.5), seed=11)


@pytest.fixture(scope="module")
def stores(sim, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stores")
    return [write_image_store(ds, folder / f"e{i}.zarr") for i, ds in enumerate(sim.images)]


@pytest.fixture(scope="module")
def expected(sim):
    return combine_epochs(sim.images).compute()


def write_fits_epochs(sim, folder, with_rms=True):
    """The simulated epochs as VLASS archive files (image and rms image beside it)."""
    paths = []
    for epoch, ds in zip(EPOCHS, sim.images, strict=True):
        beam = ds.attrs["restoring_beam"]
        kwargs = dict(cell_arcsec=1.0, center_deg=(228.6625, 47.5),
                      beam_arcsec=(beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"]),
                      date_obs=Time(float(ds["time"][0]), format="mjd").isot)  # fmt: skip
        image = folder / f"{STEM.format(epoch)}.subim.fits"
        write_vlass_fits(image, ds["SKY"].values[0, 0, 0], **kwargs)
        if with_rms:
            write_vlass_fits(folder / f"{STEM.format(epoch)}.rms.subim.fits",
                             ds["RMS"].values[0, 0, 0], **kwargs)  # fmt: skip
        paths.append(image)
    return paths


@pytest.fixture(scope="module")
def fits_epochs(sim, tmp_path_factory):
    return write_fits_epochs(sim, tmp_path_factory.mktemp("fits"))


def plane(ds, name):
    return ds[name].values[0, 0, 0]


def assert_same_image(ds, expected):
    for name in ("SKY", "RMS"):
        a, b = plane(ds, name), plane(expected, name)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) <= 1e-6 * np.nanmax(np.abs(b))
    assert np.array_equal(plane(ds, "COVERAGE"), plane(expected, "COVERAGE"))


def test_stores_to_combined_store_fits_and_preview(stores, expected, tmp_path):
    out = tmp_path / "combined.zarr"
    product = combine_products(stores, out, fits=tmp_path / "combined.fits",
                               preview=tmp_path / "combined.png", command="test", progress=False)
    ds = open_image_store(out)
    assert ds.attrs["product_kind"] == "combined" and ds["COVERAGE"].dtype == np.uint8
    assert_same_image(ds, expected)
    assert ds.attrs["restoring_beam"] == product.summary["common_beam"]
    assert all(f"e{i}.zarr" in "\n".join(ds.attrs["history"]) for i in range(3))
    assert [e["name"] for e in ds.attrs["combine"]["epochs"]] == ["e0.zarr", "e1.zarr", "e2.zarr"]
    assert len(ds.attrs["provenance"]["inputs"]) == 3
    assert ds.attrs["fits_header"]["DATE-END"].startswith("2020-12-17")  # MJD 59200
    assert [p.name for p in product.fits] == ["combined.sky.fits", "combined.rms.fits",
                                              "combined.coverage.fits"]  # fmt: skip
    with fits.open(product.fits[0]) as hdul:
        header = hdul[0].header
        assert header["BMAJ"] * 3600 == pytest.approx(ds.attrs["restoring_beam"]["major_arcsec"])
        assert any("RMS-weighted mean of 3 epoch(s)" in str(h) for h in header["HISTORY"])
        np.testing.assert_allclose(hdul[0].data[0, 0].T, plane(ds, "SKY"), equal_nan=True)
    assert product.preview.stat().st_size > 1000
    html = product._repr_html_()  # Jupyter's view of the product
    assert "combined-epoch image" in html and "3</td>" in html and "data:image/png;base64" in html
    assert '&quot; x ' in html and "combined.sky.fits" in html  # the common beam, escaped


def test_vlass_fits_inputs_find_their_rms_images(fits_epochs, expected, tmp_path):
    out = tmp_path / "combined.zarr"
    combine_products(fits_epochs, out, progress=False)
    ds = open_image_store(out)
    assert_same_image(ds, expected)
    history = "\n".join(ds.attrs["history"])
    assert all(STEM.format(e) in history for e in EPOCHS)
    recorded = [r["path"] for r in ds.attrs["provenance"]["inputs"]]
    assert sum(p.endswith(".rms.subim.fits") for p in recorded) == 3


def test_fits_inputs_are_read_lazily(sim, tmp_path):
    paths = write_fits_epochs(sim, tmp_path)
    combined = combine_epochs([open_epoch(p) for p in paths])  # builds the graph only
    for path in paths:  # change the pixels afterwards: the graph must read the new ones
        with fits.open(path, mode="update") as hdul:
            hdul[0].data *= 2.0
    doubled = combined.compute()
    reference = combine_epochs(sim.images).compute()
    np.testing.assert_allclose(plane(doubled, "SKY"), 2 * plane(reference, "SKY"), rtol=1e-5,
                               atol=1e-9)  # fmt: skip


def test_separate_rms_images_for_stores(sim, expected, tmp_path):
    images, rms = [], []
    for i, ds in enumerate(sim.images):
        images.append(write_image_store(ds.drop_vars("RMS"), tmp_path / f"sky{i}.zarr"))
        rms.append(write_image_store(ds.drop_vars("SKY").assign_attrs(product_kind="rms"),
                                     tmp_path / f"rms{i}.zarr"))  # fmt: skip
    combine_products(images, tmp_path / "c.zarr", rms=rms, progress=False)
    assert_same_image(open_image_store(tmp_path / "c.zarr"), expected)


def nothing_written(folder, keep=()):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep) == []


def test_bad_inputs_give_clear_errors_and_write_nothing(sim, stores, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    far = simulate_epochs(n_pixels=128, phase_center_deg=(230.0, 47.5), seed=11).images[0]
    cases = {"does not overlap the reference image": [stores[0], far]}
    blank = sim.images[1].chunk()  # dask-backed: the store writer does not look at values
    blank["SKY"] = blank["SKY"] * np.nan
    cases["has no usable pixel"] = [stores[0], blank]
    mjy = sim.images[2].copy()
    mjy.attrs["units"] = {**mjy.attrs["units"], "SKY": "mJy/beam"}
    mjy.attrs["fits_header"] = {**mjy.attrs["fits_header"], "BUNIT": "mJy/beam"}
    cases["inconsistent units of SKY"] = [stores[0], mjy]
    no_rms = sim.images[1].drop_vars("RMS")
    cases["has no RMS variable; give its rms image with --rms"] = [stores[0], no_rms]
    for i, (text, epochs) in enumerate(cases.items()):
        paths = [e if not hasattr(e, "attrs") else write_image_store(e, inputs / f"{i}.zarr")
                 for e in epochs]  # fmt: skip
        with pytest.raises(InputError, match=text.replace("?", r"\?")):
            combine_products(paths, out / "c.zarr", fits=out / "c.fits", progress=False)
        assert nothing_written(out), text


def test_missing_fits_rms_and_existing_outputs(sim, stores, tmp_path):
    paths = write_fits_epochs(sim, tmp_path, with_rms=False)
    with pytest.raises(InputError, match="no rms image for .*--rms"):
        combine_products(paths, tmp_path / "c.zarr", progress=False)
    with pytest.raises(InputError, match="3 rms image"):
        combine_products(stores[:2], tmp_path / "c.zarr", rms=stores, progress=False)
    assert not (tmp_path / "c.zarr").exists()
    combine_products(stores, tmp_path / "c.zarr", progress=False)
    with pytest.raises(ProductExistsError):
        combine_products(stores, tmp_path / "c.zarr", progress=False)
    combine_products(stores[:2], tmp_path / "c.zarr", overwrite=True, progress=False)
    assert len(open_image_store(tmp_path / "c.zarr").attrs["combine"]["epochs"]) == 2


def test_cli(stores, fits_epochs, tmp_path, capsys):
    out = tmp_path / "c.zarr"
    assert main(["combine", *map(str, stores), "--out", str(out), "--preview",
                 str(tmp_path / "c.png"), "--config", "pipelines/combine.yaml"]) == 0  # fmt: skip
    assert "common beam" in capsys.readouterr().err and (tmp_path / "c.png").exists()
    assert main(["combine", *map(str, fits_epochs), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--overwrite" in err and "\n" not in err
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(fits_epochs[0], lone / fits_epochs[0].name)
    assert main(["combine", str(lone / fits_epochs[0].name), "--out", str(lone / "c.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no rms image for ") and "\n" not in err
    assert sorted(p.name for p in lone.iterdir()) == [fits_epochs[0].name]
    rms = [str(p).replace(".subim.fits", ".rms.subim.fits") for p in fits_epochs]
    args = ["combine", *map(str, fits_epochs), "--out", str(tmp_path / "f.zarr"), "--json"]
    assert main([*args, *sum((["--rms", r] for r in rms), [])]) == 0
    assert '"common_beam"' in capsys.readouterr().out


def test_cli_help(capsys):
    assert main(["combine", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--out", "--rms", "--config", "--fits", "--preview", "--overwrite",
                   "--scheduler", "--cluster"):  # fmt: skip
        assert option in text
