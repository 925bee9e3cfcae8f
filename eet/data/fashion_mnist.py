"""Fashion-MNIST: find the four idx files in a list of mirrors, verify them, write PNG files.

The mirror list starts with local folders (Debian's ``dataset-fashion-mnist`` package installs the
files in /usr/share/datasets/fashion-mnist) and ends with the official download location. Debian
re-compresses the files, so their gzip bytes differ from the official ones; a file is accepted when
either the official gzip md5 or the sha256 of the decompressed idx payload matches.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from eet.atomic import atomic_output
from eet.data.download import download_verified, file_checksum
from eet.data.errors import ChecksumMismatchError, DatasetError, ManualDownloadRequiredError, MetadataError

logger = logging.getLogger(__name__)

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
TRAIN_PER_CLASS = 6000
TEST_PER_CLASS = 1000

LOCAL_MIRRORS = ("/usr/share/datasets/fashion-mnist",)
# Official location, from the Zalando Research README (github.com/zalandoresearch/fashion-mnist).
OFFICIAL_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


@dataclass(frozen=True)
class IdxFile:
    """One of the four files: the official gzip md5 and the sha256 of the decompressed payload."""

    filename: str
    gzip_md5: str
    payload_sha256: str


# gzip md5s: the official ones, as torchvision 0.29.1 records them. Payload sha256s: computed on the
# files of Debian's dataset-fashion-mnist package.
# NOTE: that the official files decompress to the same payload is assumed, not checked here; the
# gzip md5 accepts the official files either way.
IDX_FILES = {
    ("train", "images"): IdxFile(
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    ("train", "labels"): IdxFile(
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    ("test", "images"): IdxFile(
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    ("test", "labels"): IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


def payload_sha256(path: Path) -> str:
    """Compute the sha256 of a gzip file's decompressed content."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError) as error:
        raise ChecksumMismatchError(f"{path} is not a complete gzip file ({error}); delete it or replace it") from error
    return digest.hexdigest()


def verify_idx_file(path: Path, expected: IdxFile) -> None:
    """Raise ChecksumMismatchError unless the gzip md5 or the payload sha256 of ``path`` matches."""
    if file_checksum(path, "md5") == expected.gzip_md5:
        return
    actual = payload_sha256(path)
    if actual != expected.payload_sha256:
        raise ChecksumMismatchError(
            f"checksum mismatch for {path}: expected gzip md5 {expected.gzip_md5} or payload sha256 "
            f"{expected.payload_sha256}, got payload sha256 {actual}. Delete or replace the file."
        )


def locate_idx_file(expected: IdxFile, mirrors: list[str], download_dir: Path) -> Path:
    """Return a verified copy of one idx file from the first mirror that has it.

    A mirror is a local folder or a URL prefix. Local copies are used in place; a download goes to
    ``download_dir``, which is searched before any URL so that reruns download nothing.
    """
    folders = [mirror for mirror in mirrors if "://" not in mirror]
    urls = [mirror for mirror in mirrors if "://" in mirror]
    failures = []
    for folder in [*folders, str(download_dir)]:
        candidate = Path(folder) / expected.filename
        if not candidate.is_file():
            continue
        try:
            verify_idx_file(candidate, expected)
        except ChecksumMismatchError as error:
            logger.warning("skipping %s: %s", candidate, error)
            failures.append(str(error))
            continue
        logger.info("using %s", candidate)
        return candidate

    download_dir.mkdir(parents=True, exist_ok=True)
    target = download_dir / expected.filename
    for url in urls:
        try:
            download_verified(url.rstrip("/") + "/" + expected.filename, target, lambda path: verify_idx_file(path, expected))
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            logger.warning("download of %s from %s failed: %s", expected.filename, url, error)
            failures.append(f"{url}: {error}")
            continue
        return target

    raise ManualDownloadRequiredError(
        f"{expected.filename} was not found in {folders} and could not be downloaded ({'; '.join(failures) or 'no URL'}). "
        f"Install Debian's dataset-fashion-mnist package, or fetch it from {OFFICIAL_MIRRORS[0]} and put it "
        f"at {target.resolve()} (gzip md5 {expected.gzip_md5})."
    )


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed idx file (unsigned bytes, big-endian dimensions) into an array."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise MetadataError(f"{path} is not an idx file of unsigned bytes (magic {data[:4].hex()})")
    ndim = data[3]
    header_end = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(ndim))
    expected_bytes = header_end + int(np.prod(shape))
    if len(data) != expected_bytes:
        raise MetadataError(f"{path} is truncated: it contains {len(data)} bytes, but its header {shape} needs {expected_bytes}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_end).reshape(shape)


def first_per_class(labels: np.ndarray, per_class: int | None) -> np.ndarray:
    """Return the indices of the first ``per_class`` images of each class, in file order."""
    if per_class is None:
        return np.arange(len(labels))
    keep = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        keep[np.flatnonzero(labels == label)[:per_class]] = True
    return np.flatnonzero(keep)


def extract_fashion_mnist(root: Path, options: dict, resources_dir: Path) -> dict:
    """Write the kept Fashion-MNIST images as PNG files under ``root`` plus an ``images.csv`` index.

    ``options``: ``train_per_class`` and ``test_per_class`` (null keeps every image) and ``mirrors``
    (folders and URL prefixes, searched in order). Returns the number of images written per split.
    """
    mirrors = list(options.get("mirrors") or [*LOCAL_MIRRORS, *OFFICIAL_MIRRORS])
    download_dir = resources_dir / "archives" / "fashion_mnist"
    rows = []
    written = {}
    for split in ("train", "test"):
        images = read_idx(locate_idx_file(IDX_FILES[(split, "images")], mirrors, download_dir))
        labels = read_idx(locate_idx_file(IDX_FILES[(split, "labels")], mirrors, download_dir))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(f"Fashion-MNIST {split} files disagree: images {images.shape}, labels {labels.shape}")
        kept = first_per_class(labels, options.get(f"{split}_per_class"))
        for index in tqdm(kept, desc=f"fashion_mnist {split} PNG files", unit="image"):
            label = int(labels[index])
            folder = f"{label}_{CLASS_NAMES[label].replace('/', '_').replace(' ', '_')}"
            relpath = f"images/{split}/{folder}/{index:05d}.png"
            target = root / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[index]).save(target)
            rows.append((relpath, label, CLASS_NAMES[label], split))
        written[split] = len(kept)

    index_file = root / "images.csv"
    with atomic_output(index_file) as temporary:
        pd.DataFrame(rows, columns=["relpath", "label", "class_name", "split"]).to_csv(temporary, index=False)
    logger.info("wrote %d train and %d test Fashion-MNIST images under %s", written["train"], written["test"], root)
    return written
