"""PNG previews: a sane image, RA to the left, decimation of large dask-backed images."""

import dask.array as da
import numpy as np
import pytest
from matplotlib.image import imread

from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.image_schema import celestial_wcs
from vlassdask.io.preview import decimated_plane, decimation_factor, write_preview_png
from vlassdask.testing.images import make_test_image


def test_preview_png(tmp_path):
    image = make_test_image(nx=64, ny=48)
    path = write_preview_png(image, tmp_path / "img.png", dpi=50)
    pixels = imread(path)
    assert pixels.shape[:2] == (350, 400)
    assert pixels[..., :3].std() > 0.05
    with pytest.raises(ProductExistsError):
        write_preview_png(image, path)
    write_preview_png(image, path, variable="POINT_SPREAD_FUNCTION", stretch="linear",
                      overwrite=True, dpi=50)  # fmt: skip


def test_wcs_has_ra_increasing_to_the_left():
    wcs = celestial_wcs(make_test_image(nx=32, ny=32))
    (ra_left, _), (ra_right, _) = wcs.wcs_pix2world([[0, 16], [31, 16]], 0)
    assert ra_left > ra_right


def test_decimation_factor():
    assert decimation_factor(4096, 4096) == 1
    assert decimation_factor(4097, 4096) == 2
    assert decimation_factor(12500, 12500) == 4
    assert decimation_factor(100, 60, max_pixels=100) == 8


class _CountingSource:
    """Array source that records the largest block any task reads."""

    def __init__(self):
        self.largest = 0

    def __call__(self, block_info=None):
        shape = block_info[None]["chunk-shape"]
        self.largest = max(self.largest, int(np.prod(shape)))
        return np.ones(shape, np.float32)


def test_large_dask_image_is_decimated_chunkwise(tmp_path):
    image = make_test_image(nx=256, ny=256, chunks={"l": 64, "m": 64})
    source = _CountingSource()
    image["SKY"] = image["SKY"].copy(
        data=da.map_blocks(source, dtype=np.float32, chunks=image["SKY"].data.chunks)
    )
    path = write_preview_png(image, tmp_path / "big.png", max_pixels=32 * 32, dpi=40)
    assert path.stat().st_size > 1000
    assert source.largest == 64 * 64


def test_preview_errors(tmp_path):
    image = make_test_image(nx=16, ny=16)
    with pytest.raises(InputError, match="no image variable 'FOO'"):
        write_preview_png(image, tmp_path / "a.png", variable="FOO")
    with pytest.raises(InputError, match="stretch"):
        write_preview_png(image, tmp_path / "a.png", stretch="log10")
    with pytest.raises(InputError, match="out of range"):
        write_preview_png(image, tmp_path / "a.png", frequency_index=3)
    image["SKY"][:] = np.nan
    with pytest.raises(InputError, match="no finite values"):
        write_preview_png(image, tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_decimated_plane_wcs_maps_block_centres():
    image = make_test_image(nx=64, ny=48, cell_arcsec=10.0)
    image["SKY"][0, 0, 0, 4:8, 8:12] = 1.0
    wcs = celestial_wcs(image)
    data, small, factor = decimated_plane(image["SKY"], wcs, max_pixels=16 * 12)
    assert (factor, data.shape) == (4, (12, 16))
    assert data[2, 1] == pytest.approx(1.0)
    for q in (0, 5, 11):
        centre = q * factor + (factor - 1) / 2
        expected = wcs.wcs_pix2world([[centre, centre]], 0)
        np.testing.assert_allclose(small.wcs_pix2world([[q, q]], 0), expected, atol=1e-12)
