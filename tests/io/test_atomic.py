"""atomic_output: products appear complete at their path or not at all."""

import pytest

from vlassdask.errors import ProductExistsError
from vlassdask.io.atomic import COMPLETION_MARKER, atomic_output, check_can_write, is_complete


def test_directory_product_is_renamed_with_marker(tmp_path):
    final = tmp_path / "out" / "product"
    with atomic_output(final) as tmp:
        assert tmp.parent == final.parent and tmp != final
        tmp.mkdir()
        (tmp / "data").write_text("x")
        assert not final.exists()
    assert (final / "data").read_text() == "x"
    assert (final / COMPLETION_MARKER).is_file() and is_complete(final)
    assert sorted(p.name for p in final.parent.iterdir()) == ["product"]


def test_file_product_has_no_marker(tmp_path):
    final = tmp_path / "a.fits"
    with atomic_output(final, directory=False) as tmp:
        tmp.write_text("data")
    assert final.read_text() == "data"
    assert not is_complete(final)


def test_exception_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "product") as tmp:
        tmp.mkdir()
        (tmp / "part").write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_existing_product_needs_overwrite(tmp_path):
    final = tmp_path / "a.txt"
    final.write_text("old")
    with pytest.raises(ProductExistsError, match="--overwrite"):
        check_can_write(final, overwrite=False)
    with pytest.raises(ProductExistsError), atomic_output(final, directory=False):
        pass
    with pytest.raises(RuntimeError), atomic_output(final, overwrite=True, directory=False) as tmp:
        tmp.write_text("new")
        raise RuntimeError("interrupted")
    assert final.read_text() == "old"
    with atomic_output(final, overwrite=True, directory=False) as tmp:
        tmp.write_text("new")
    assert final.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
