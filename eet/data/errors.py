"""Exceptions raised by the data layer, so callers and tests can tell the failures apart."""


class DatasetError(RuntimeError):
    """A dataset cannot be prepared or parsed; the message names the file and what to do."""


class ChecksumMismatchError(DatasetError):
    """A file's checksum differs from the one recorded in the registry."""


class ManualDownloadRequiredError(DatasetError):
    """An archive is missing and cannot be fetched automatically (licence-gated or gone)."""


class UnsafeArchiveMemberError(DatasetError):
    """An archive member would be written outside the extraction folder."""


class MetadataError(DatasetError):
    """A metadata file is missing or malformed, or one of its labels is out of range."""


class MissingImagesError(DatasetError):
    """Images listed in a dataset's metadata are not on disk."""


class CountMismatchError(DatasetError):
    """A parsed dataset has other class or split counts than expected."""


class ImageDecodeError(DatasetError):
    """An image file cannot be decoded completely."""
