"""Download, checksum verification and safe extraction of dataset archives.

Downloads go through torchvision's ``download_url`` (progress bar, redirects) into a ``.part``
file that is renamed only after its checksum matches. Extraction uses the standard library's
``tarfile`` data filter and ``zipfile``, after checking every member name, so that no member
lands outside the target folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tarfile
import urllib.error
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from torchvision.datasets.utils import calculate_md5, download_url

from eet.data.errors import ChecksumMismatchError, DatasetError, ManualDownloadRequiredError, UnsafeArchiveMemberError

logger = logging.getLogger(__name__)

_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Checksum:
    """A file checksum: ``algorithm`` is ``"md5"`` or ``"sha256"``, ``value`` its hex digest."""

    algorithm: str
    value: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


def file_checksum(path: Path, algorithm: str) -> str:
    """Compute the hex digest of a file with ``algorithm`` (``md5`` or ``sha256``)."""
    if algorithm == "md5":
        return calculate_md5(path)
    if algorithm != "sha256":
        raise ValueError(f"unsupported checksum algorithm {algorithm!r}; use 'md5' or 'sha256'")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path, expected: Checksum) -> None:
    """Raise ChecksumMismatchError naming the file and both checksums unless they match."""
    actual = file_checksum(path, expected.algorithm)
    if actual != expected.value:
        raise ChecksumMismatchError(
            f"checksum mismatch for {path}: expected {expected.algorithm} {expected.value}, "
            f"got {actual}. The file is incomplete or a different release; delete it and run again "
            f"to download it, or replace it with the file that has the expected checksum."
        )


def fetch_file(
    filename: str,
    urls: tuple[str, ...],
    checksum: Checksum | None,
    archive_dir: Path,
    manual_instructions: str,
) -> Path:
    """Return ``archive_dir/filename``, verified, downloading it from ``urls`` when it is absent.

    A file already present (downloaded earlier or placed by the user) is verified and used without
    network access; a mismatch raises ChecksumMismatchError and leaves the file where it is. With no
    URL the file must be fetched by hand, and ManualDownloadRequiredError says from where and to where.
    """
    target = archive_dir / filename
    if target.is_file():
        if checksum is not None:
            verify_checksum(target, checksum)
        logger.info("using %s (already present%s)", target, ", checksum verified" if checksum else "")
        return target

    checksum_text = f" Its checksum is {checksum}." if checksum else ""
    if not urls:
        raise ManualDownloadRequiredError(
            f"{filename} is missing and cannot be downloaded automatically. {manual_instructions} "
            f"Put it at {target.resolve()}.{checksum_text}"
        )

    archive_dir.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            download_verified(url, target, lambda path: verify_checksum(path, checksum) if checksum else None)
        except (urllib.error.URLError, OSError, RuntimeError) as error:
            logger.warning("download of %s failed: %s", url, error)
            failures.append(f"{url}: {error}")
            continue
        return target

    raise ManualDownloadRequiredError(
        f"could not download {filename} from any source ({'; '.join(failures)}). "
        f"{manual_instructions} Put it at {target.resolve()}.{checksum_text}"
    )


def download_verified(url: str, target: Path, verify: Callable[[Path], None]) -> None:
    """Download ``url`` to ``target`` through a ``.part`` file that ``verify`` checks before the rename.

    ``verify`` raises (for example ChecksumMismatchError) to reject the download; the partial file is
    deleted on every failure, so ``target`` only ever contains a verified file.
    """
    partial = target.with_name(target.name + ".part")
    # torchvision skips the download when the destination exists, so start from nothing.
    partial.unlink(missing_ok=True)
    logger.info("downloading %s to %s", url, target)
    try:
        download_url(url, str(target.parent), filename=partial.name)
        verify(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def _check_member_name(name: str, archive: Path) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise UnsafeArchiveMemberError(
            f"archive {archive} contains member {name!r}, which would be extracted outside the target "
            f"folder; the archive is not the official one, so replace it"
        )


def _extract_tar(archive: Path, destination: Path) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        # Check every member before writing any, so an unsafe archive leaves nothing behind. The
        # "data" filter rejects links that lead outside the destination, absolute link targets and
        # device files, and drops permission bits that could make files executable.
        for member in members:
            _check_member_name(member.name, archive)
            try:
                tarfile.data_filter(member, str(destination))
            except tarfile.FilterError as error:
                raise UnsafeArchiveMemberError(
                    f"archive {archive} contains unsafe member {member.name!r}: {error}; "
                    f"the archive is not the official one, so replace it"
                ) from error
        tar.extractall(destination, members=members, filter="data")


def _extract_zip(archive: Path, destination: Path) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            _check_member_name(info.filename, archive)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveMemberError(
                    f"archive {archive} contains symbolic link {info.filename!r}; links in zip archives "
                    f"are not extracted, so replace the archive with the official one"
                )
        zipped.extractall(destination)


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar (optionally gz/bz2/xz compressed) or zip archive into ``destination``.

    Raises UnsafeArchiveMemberError, naming the member, for an absolute path, a ``..`` component or a
    link that leads outside ``destination``; nothing is extracted from such an archive.
    """
    destination.mkdir(parents=True, exist_ok=True)
    logger.info("extracting %s into %s", archive, destination)
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, destination)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, destination)
    else:
        raise DatasetError(f"{archive} is neither a tar nor a zip archive; replace it with the official file")
