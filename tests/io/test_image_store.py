"""Image stores: Zarr round trip, completion marker, overwrite rules, interrupted writes."""

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import vlassdask
from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.atomic import COMPLETION_MARKER
from vlassdask.io.image_store import (
    describe_inputs,
    open_image_store,
    provenance_record,
    write_image_store,
)
from vlassdask.testing.images import make_test_image


@pytest.fixture
def image():
    ds = make_test_image(nx=32, ny=24, frequency_hz=(2.5e9, 3.5e9), polarization=("I", "V"))
    ds.attrs["history"] = ["first step", "second step"]
    return ds


def test_round_trip_through_open_zarr(tmp_path, image):
    path = write_image_store(image, tmp_path / "img.zarr")
    assert path == tmp_path / "img.zarr"
    ds = xr.open_zarr(path)
    for name in image.data_vars:
        np.testing.assert_array_equal(ds[name].values, image[name].values)
        assert ds[name].dtype == image[name].dtype
        assert ds[name].attrs["units"] == image[name].attrs["units"]
    for name in ("time", "frequency", "l", "m"):
        np.testing.assert_array_equal(ds[name].values, image[name].values)
    assert [str(p) for p in ds["polarization"].values] == ["I", "V"]
    for key in ("fits_header", "history", "phase_center_deg", "cell_arcsec", "restoring_beam",
                "units", "product_kind"):  # fmt: skip
        assert ds.attrs[key] == image.attrs[key], key
    assert ds.attrs["schema_version"] == "1"
    provenance = ds.attrs["provenance"]
    assert provenance["vlassdask_version"] == vlassdask.__version__
    assert provenance["created"].endswith("+00:00")
    assert ds["SKY"].attrs["image_type"] == "dirty"


def test_open_image_store_is_lazy_and_typed(tmp_path, image):
    path = write_image_store(image, tmp_path / "img.zarr")
    ds = open_image_store(path)
    assert isinstance(ds["SKY"].data, da.Array)
    assert ds["polarization"].dtype.kind == "U"
    xr.testing.assert_identical(ds.drop_attrs().compute(), image.drop_attrs())


def test_provenance_from_the_producer_is_kept(tmp_path, image):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("cell: 1.0\n")
    image.attrs["provenance"] = provenance_record(
        config={"cell_arcsec": 1.0}, inputs=[config_file], command="vlassdask image"
    )
    ds = xr.open_zarr(write_image_store(image, tmp_path / "img.zarr"))
    provenance = ds.attrs["provenance"]
    assert provenance["config"] == {"cell_arcsec": 1.0}
    assert provenance["command"] == "vlassdask image"
    assert len(provenance["inputs"][0]["sha256"]) == 64


def test_describe_inputs_of_directories_and_missing_paths(tmp_path):
    (tmp_path / "ms").mkdir()
    (tmp_path / "ms" / "table.dat").write_bytes(b"x" * 10)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (2 << 20))
    ms, large, missing = describe_inputs([tmp_path / "ms", big, tmp_path / "none"])
    assert (ms["n_files"], ms["size"]) == (1, 10)
    assert large["size"] == 2 << 20 and "sha256" not in large
    assert missing["missing"]


def test_completion_marker_and_incomplete_store(tmp_path, image):
    path = write_image_store(image, tmp_path / "img.zarr")
    assert (path / COMPLETION_MARKER).is_file()
    (path / COMPLETION_MARKER).unlink()
    with pytest.raises(InputError, match="incomplete product"):
        open_image_store(path)
    assert open_image_store(path, require_complete=False)["SKY"].shape == image["SKY"].shape


@pytest.mark.filterwarnings("ignore:Failed to open Zarr store with consolidated metadata")
@pytest.mark.filterwarnings("ignore:Object at .vlassdask-complete is not recognized")
def test_open_errors(tmp_path, image):
    with pytest.raises(InputError, match="does not exist"):
        open_image_store(tmp_path / "missing.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a Zarr image store"):
        open_image_store(tmp_path / "plain")
    other = tmp_path / "other.zarr"
    xr.Dataset({"a": ("x", np.arange(3))}).to_zarr(other, consolidated=False)
    (other / COMPLETION_MARKER).write_text("complete\n")
    with pytest.raises(InputError, match="not a vlassdask image product"):
        open_image_store(other)


def test_overwrite_is_refused_and_the_old_product_kept(tmp_path, image):
    path = write_image_store(image, tmp_path / "img.zarr")
    changed = image.copy()
    changed["SKY"] = changed["SKY"] + 1
    with pytest.raises(ProductExistsError, match="--overwrite"):
        write_image_store(changed, path)
    np.testing.assert_array_equal(open_image_store(path)["SKY"], image["SKY"])
    write_image_store(changed, path, overwrite=True)
    np.testing.assert_array_equal(open_image_store(path)["SKY"], changed["SKY"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.zarr"]


def _failing(block):
    raise RuntimeError("disk on fire")


def _broken(image):
    broken = image.chunk({"l": 16})
    broken["SKY"] = broken["SKY"].copy(data=broken["SKY"].data.map_blocks(_failing, dtype="f4"))
    return broken


def test_interrupted_write_leaves_nothing(tmp_path, image):
    broken = _broken(image)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_image_store(broken, tmp_path / "img.zarr")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_old_product(tmp_path, image):
    path = write_image_store(image, tmp_path / "img.zarr")
    broken = _broken(image)
    with pytest.raises(RuntimeError):
        write_image_store(broken, path, overwrite=True)
    np.testing.assert_array_equal(open_image_store(path)["SKY"], image["SKY"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.zarr"]


def test_dask_backed_write_matches_in_memory(tmp_path, image):
    lazy = image.chunk({"l": 8, "m": 12, "frequency": 1})
    path = write_image_store(lazy, tmp_path / "lazy.zarr")
    xr.testing.assert_identical(open_image_store(path).drop_attrs().compute(),
                                image.drop_attrs())  # fmt: skip


def test_delayed_write(tmp_path, image):
    delayed = write_image_store(image.chunk({"l": 16}), tmp_path / "img.zarr", compute=False)
    assert not (tmp_path / "img.zarr").exists()
    assert delayed.compute() == (tmp_path / "img.zarr").absolute()
    assert open_image_store(tmp_path / "img.zarr")["SKY"].shape == image["SKY"].shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.zarr"]


def test_invalid_images_are_not_written(tmp_path, image):
    with pytest.raises(InputError, match="missing variable"):
        write_image_store(image.drop_vars("SUM_OF_WEIGHTS"), tmp_path / "img.zarr")
    image.attrs["config"] = {"when": object()}
    with pytest.raises(InputError, match="JSON"):
        write_image_store(image, tmp_path / "img.zarr")
    assert list(tmp_path.iterdir()) == []
