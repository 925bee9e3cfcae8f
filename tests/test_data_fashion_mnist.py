"""Fashion-MNIST: idx reading, mirror order, checksum rules and the PNG extraction."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from eet.data import fashion_mnist
from eet.data.errors import MetadataError
from eet.data.prepare import prepare_dataset
from eet.data.split import build_split_table

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def miniature_files(tmp_path, monkeypatch):
    """Four tiny idx files (3 classes, 4 train and 2 test images each) registered as the real ones."""
    rng = np.random.default_rng(0)
    arrays = {
        ("train", "labels"): np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]),
        ("test", "labels"): np.array([2, 1, 0, 0, 1, 2]),
    }
    arrays[("train", "images")] = rng.integers(0, 256, (12, 4, 4))
    arrays[("test", "images")] = rng.integers(0, 256, (6, 4, 4))
    folder = tmp_path / "mirror"
    folder.mkdir()
    for key, array in arrays.items():
        payload = _idx_bytes(array)
        filename = fashion_mnist.IDX_FILES[key].filename
        (folder / filename).write_bytes(gzip.compress(payload))
        entry = fashion_mnist.IdxFile(filename, "0" * 32, hashlib.sha256(payload).hexdigest())
        monkeypatch.setitem(fashion_mnist.IDX_FILES, key, entry)
    return folder, arrays


def test_read_idx_shapes(miniature_files):
    folder, arrays = miniature_files
    images = fashion_mnist.read_idx(folder / "train-images-idx3-ubyte.gz")
    assert images.shape == (12, 4, 4)
    assert np.array_equal(images, arrays[("train", "images")])


def test_read_idx_rejects_short_file(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2])))
    with pytest.raises(MetadataError, match="needs 13"):
        fashion_mnist.read_idx(path)


def test_first_per_class_keeps_file_order():
    labels = np.array([1, 0, 1, 1, 0, 2])
    assert list(fashion_mnist.first_per_class(labels, 2)) == [0, 1, 2, 4, 5]


def test_corrupt_mirror_skipped(tmp_path, miniature_files):
    folder, _ = miniature_files
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x00"))
    entry = fashion_mnist.IDX_FILES[("train", "labels")]
    found = fashion_mnist.locate_idx_file(entry, [str(corrupt), str(folder)], tmp_path / "downloads")
    assert found == folder / entry.filename


def test_missing_everywhere_says_where(tmp_path, miniature_files):
    entry = fashion_mnist.IDX_FILES[("train", "labels")]
    with pytest.raises(fashion_mnist.ManualDownloadRequiredError, match="dataset-fashion-mnist"):
        fashion_mnist.locate_idx_file(entry, [str(tmp_path / "empty")], tmp_path / "downloads")


def test_prepare_writes_capped_pngs(tmp_path, miniature_files):
    folder, arrays = miniature_files
    options = {"train_per_class": 2, "test_per_class": 1, "mirrors": [str(folder)]}
    counts = {"classes": 3, "train": 6, "test": 3}
    prepare_dataset("fashion_mnist", tmp_path / "root", options, tmp_path / "resources", 0, expected_counts=counts)
    table = build_split_table("fashion_mnist", tmp_path / "root", options, expected_counts=counts)
    assert list(table["label"]) == [0, 1, 2, 0, 1, 2, 2, 1, 0]
    assert table["class_name"][1] == "Trouser"
    first = np.asarray(fashion_mnist.Image.open(table["path"][0]))
    assert np.array_equal(first, arrays[("train", "images")][0])


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="Debian's dataset-fashion-mnist package is not installed")
def test_debian_files_pass_verification():
    for entry in fashion_mnist.IDX_FILES.values():
        fashion_mnist.verify_idx_file(DEBIAN_DIR / entry.filename, entry)
