"""prepare_dataset: download from a local HTTP server, verify, extract safely, rerun, fail clearly."""

import dataclasses
import functools
import re
import http.server
import tarfile
import threading
import zipfile

import pytest

from eet.data.download import Checksum, file_checksum, safe_extract
from eet.data.errors import ChecksumMismatchError, ManualDownloadRequiredError, UnsafeArchiveMemberError
from eet.data.prepare import MARKER_NAME, prepare_dataset
from eet.data.registry import DATASETS, ArchiveFile
from tests import fixtures_data as fixtures


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    """Serve tmp_path/served on 127.0.0.1 and record every GET request."""
    served = tmp_path / "served"
    served.mkdir()
    handler = type("Handler", (_CountingHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/", handler.requests
    server.shutdown()
    server.server_close()


def _miniature_cub_archive(tmp_path, served):
    counts, rows = fixtures.make_cub(tmp_path / "source" / "CUB_200_2011")
    archive = served / "CUB_200_2011.tgz"
    fixtures.make_tar_gz(archive, tmp_path / "source" / "CUB_200_2011", "CUB_200_2011")
    return counts, rows, Checksum("md5", file_checksum(archive, "md5"))


def _use_archive(monkeypatch, name, archive):
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], archives=(archive,)))


def test_download_extracts_and_marks_complete(tmp_path, file_server, monkeypatch):
    served, url, requests = file_server
    counts, rows, checksum = _miniature_cub_archive(tmp_path, served)
    _use_archive(monkeypatch, "cub200", ArchiveFile("CUB_200_2011.tgz", (url + "CUB_200_2011.tgz",), checksum))
    summary = prepare_dataset("cub200", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    assert summary["status"] == "prepared"
    assert summary["counts"] == counts
    assert (tmp_path / "root" / "CUB_200_2011" / rows[0][0]).is_file()
    assert (tmp_path / "resources" / "archives" / "cub200" / "CUB_200_2011.tgz").is_file()
    assert not (tmp_path / "resources" / "archives" / "cub200" / "CUB_200_2011.tgz.part").exists()
    assert (tmp_path / "root" / MARKER_NAME).is_file()
    assert set(requests) == {"/CUB_200_2011.tgz"}


def test_rerun_downloads_nothing(tmp_path, file_server, monkeypatch):
    served, url, requests = file_server
    counts, _, checksum = _miniature_cub_archive(tmp_path, served)
    _use_archive(monkeypatch, "cub200", ArchiveFile("CUB_200_2011.tgz", (url + "CUB_200_2011.tgz",), checksum))
    prepare_dataset("cub200", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    first_run_requests = len(requests)
    summary = prepare_dataset("cub200", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    assert summary["status"] == "already prepared"
    assert len(requests) == first_run_requests


def test_placed_archive_used_without_network(tmp_path, monkeypatch):
    counts, _ = fixtures.make_cub(tmp_path / "source" / "CUB_200_2011")
    placed = tmp_path / "resources" / "archives" / "cub200" / "CUB_200_2011.tgz"
    fixtures.make_tar_gz(placed, tmp_path / "source" / "CUB_200_2011", "CUB_200_2011")
    # An unroutable URL: a download attempt would fail the test.
    checksum = Checksum("md5", file_checksum(placed, "md5"))
    _use_archive(monkeypatch, "cub200", ArchiveFile("CUB_200_2011.tgz", ("http://127.0.0.1:9/none.tgz",), checksum))
    summary = prepare_dataset("cub200", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    assert summary["actions"] == [f"extracted {placed}"]


def test_checksum_mismatch_keeps_placed_file(tmp_path, monkeypatch):
    placed = tmp_path / "resources" / "archives" / "nabirds" / "nabirds.tar.gz"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"not the release")
    actual = file_checksum(placed, "md5")
    with pytest.raises(ChecksumMismatchError) as raised:
        prepare_dataset("nabirds", tmp_path / "root", {}, tmp_path / "resources", 0)
    message = str(raised.value)
    assert "expected md5 df21a9e4db349a14e2b08adfd45873bd" in message
    assert f"got {actual}" in message
    assert str(placed) in message
    assert placed.read_bytes() == b"not the release"


def test_manual_dataset_says_what_and_where(tmp_path):
    with pytest.raises(ManualDownloadRequiredError) as raised:
        prepare_dataset("nabirds", tmp_path / "root", {}, tmp_path / "resources", 0)
    message = str(raised.value)
    assert "https://dl.allaboutbirds.org/nabirds" in message
    assert str((tmp_path / "resources" / "archives" / "nabirds" / "nabirds.tar.gz").resolve()) in message
    assert "md5:df21a9e4db349a14e2b08adfd45873bd" in message


def test_vegfru_missing_folder_says_where(tmp_path):
    root = tmp_path / "root"
    with pytest.raises(ManualDownloadRequiredError) as caught:
        prepare_dataset("vegfru", root, {}, tmp_path / "resources", 0)
    assert f"{root}/vegfru-dataset/ holds" in str(caught.value)
    assert "<root>" not in str(caught.value)


def test_extracted_copy_adopted_without_archive(tmp_path):
    counts, _ = fixtures.make_vegfru(tmp_path / "root" / "vegfru-dataset")
    summary = prepare_dataset("vegfru", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    assert summary["actions"][0].startswith("found a complete extracted copy")


def test_failed_download_gives_manual_instructions(tmp_path, file_server, monkeypatch):
    _, url, _ = file_server
    _use_archive(monkeypatch, "food101", ArchiveFile("food-101.tar.gz", (url + "absent.tar.gz",), Checksum("md5", "0" * 32)))
    with pytest.raises(ManualDownloadRequiredError, match=r"could not download food-101.tar.gz from any source"):
        prepare_dataset("food101", tmp_path / "root", {}, tmp_path / "resources", 0)
    assert not list((tmp_path / "resources" / "archives" / "food101").iterdir())


def test_corrupt_download_removed(tmp_path, file_server, monkeypatch):
    served, url, _ = file_server
    (served / "food-101.tar.gz").write_bytes(b"truncated")
    _use_archive(monkeypatch, "food101", ArchiveFile("food-101.tar.gz", (url + "food-101.tar.gz",), Checksum("md5", "0" * 32)))
    with pytest.raises(ManualDownloadRequiredError, match="checksum mismatch"):
        prepare_dataset("food101", tmp_path / "root", {}, tmp_path / "resources", 0)
    assert not list((tmp_path / "resources" / "archives" / "food101").iterdir())


@pytest.mark.parametrize(
    ("member", "link_target"),
    [("../escape.txt", None), ("/tmp/absolute.txt", None), ("data/link", "/etc/passwd"), ("data/up", "../../outside")],
)
def test_tar_member_escaping_rejected(tmp_path, member, link_target):
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        fixtures.add_tar_member(tar, "data/ok.txt")
        fixtures.add_tar_member(tar, member, link_target=link_target)
    with pytest.raises(UnsafeArchiveMemberError, match=re.escape(repr(member))):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "data" / "ok.txt").exists()


def test_zip_member_escaping_rejected(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ok.txt", "x")
        zipped.writestr("../escape.txt", "x")
    with pytest.raises(UnsafeArchiveMemberError, match=r"'\.\./escape\.txt'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_copied_file_lands_in_dataset_folder(tmp_path, monkeypatch):
    counts, _ = fixtures.make_stanford_cars(tmp_path / "source" / "stanford_cars")
    source = tmp_path / "source" / "stanford_cars"
    archive_dir = tmp_path / "resources" / "archives" / "stanford_cars"
    archive_dir.mkdir(parents=True)
    annotations = source / "cars_test_annos_withlabels.mat"
    (archive_dir / annotations.name).write_bytes(annotations.read_bytes())
    annotations.unlink()
    with tarfile.open(archive_dir / "car_all.tgz", "w:gz") as tar:
        for child in ("devkit", "cars_train", "cars_test"):
            tar.add(source / child, arcname=child)
    archives = (
        ArchiveFile("car_all.tgz", (), Checksum("md5", file_checksum(archive_dir / "car_all.tgz", "md5"))),
        ArchiveFile(annotations.name, (), Checksum("md5", file_checksum(archive_dir / annotations.name, "md5")), extract=False),
    )
    monkeypatch.setitem(DATASETS, "stanford_cars", dataclasses.replace(DATASETS["stanford_cars"], archives=archives))
    summary = prepare_dataset("stanford_cars", tmp_path / "root", {}, tmp_path / "resources", 0, expected_counts=counts)
    assert summary["counts"] == counts
    assert (tmp_path / "root" / "stanford_cars" / annotations.name).is_file()

