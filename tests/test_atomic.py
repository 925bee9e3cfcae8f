import numpy as np
import pytest

from eet.atomic import atomic_output


def test_atomic_output_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "codes.npy"
    with atomic_output(target) as temporary:
        np.save(temporary, np.arange(3))
    assert np.array_equal(np.load(target), np.arange(3))
    assert [path.name for path in target.parent.iterdir()] == ["codes.npy"]


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_text("{")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_existing_file_on_error(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_text("new\n")
            raise RuntimeError
    assert target.read_text() == "old\n"
