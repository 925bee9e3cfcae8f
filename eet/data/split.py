"""The canonical split table: one row per image with its id, path, label, class name and split."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from eet.atomic import atomic_output
from eet.data.errors import CountMismatchError, MetadataError, MissingImagesError
from eet.data.registry import get_dataset

logger = logging.getLogger(__name__)

SPLIT_COLUMNS = ["image_id", "path", "label", "class_name", "split"]
_METADATA_KEY = b"eet.split_table"
_MISSING_SHOWN = 20


def check_counts(table: pd.DataFrame, expected: dict, source: str) -> None:
    """Raise CountMismatchError unless classes, train and test counts equal ``expected``."""
    actual = {
        "classes": int(table["label"].nunique()),
        "train": int((table["split"] == "train").sum()),
        "test": int((table["split"] == "test").sum()),
    }
    differing = {key: (expected[key], actual[key]) for key in ("classes", "train", "test") if expected[key] != actual[key]}
    if differing:
        details = ", ".join(f"{key}: expected {want}, got {got}" for key, (want, got) in differing.items())
        raise CountMismatchError(
            f"{source} does not have the expected counts ({details}); the download or extraction is "
            f"incomplete or a different release, so delete the dataset folder and prepare it again"
        )


def check_images_exist(table: pd.DataFrame, base: Path) -> None:
    """Raise MissingImagesError listing the first missing images and their count."""
    missing = [relpath for relpath in table["relpath"] if not (base / relpath).is_file()]
    if missing:
        shown = "\n  ".join(missing[:_MISSING_SHOWN])
        raise MissingImagesError(
            f"{len(missing)} image(s) listed in the metadata under {base} are missing (first "
            f"{min(len(missing), _MISSING_SHOWN)}):\n  {shown}\nExtract the archive again or delete "
            f"the dataset folder and rerun."
        )


def parse_dataset(name: str, root: Path, options: dict, *, expected_counts: dict | None = None) -> pd.DataFrame:
    """Parse a prepared dataset and check its labels, counts and files.

    Returns the parser's columns (``relpath`` relative to the layout folder). ``expected_counts``
    replaces the registry's counts, for miniature copies of a dataset.
    """
    spec = get_dataset(name)
    resolved = spec.resolve_options(options)
    base = Path(root) / spec.layout_dir
    counts = expected_counts if expected_counts is not None else spec.expected_counts(resolved)
    table = spec.parser(base, resolved, counts["classes"])
    if len(table) and not table["label"].between(0, counts["classes"] - 1).all():
        raise MetadataError(f"labels of {name} under {base} fall outside 0..{counts['classes'] - 1}")
    check_counts(table, counts, f"dataset {name} under {base}")
    check_images_exist(table, base)
    return table


def build_split_table(name: str, root: Path, options: dict, *, expected_counts: dict | None = None) -> pd.DataFrame:
    """Build the split table of a prepared dataset.

    Columns: ``image_id`` (int64, 0..n-1 in the official listing order), ``path`` (``root`` joined
    with the image's relative path, so a relative root gives paths relative to the working
    directory), ``label`` (int64, 0..C-1), ``class_name`` and ``split`` (``train`` or ``test``).
    """
    spec = get_dataset(name)
    base = Path(root) / spec.layout_dir
    table = parse_dataset(name, root, options, expected_counts=expected_counts)
    return pd.DataFrame(
        {
            "image_id": pd.Series(range(len(table)), dtype="int64"),
            "path": [(base / relpath).as_posix() for relpath in table["relpath"]],
            "label": table["label"].astype("int64").to_numpy(),
            "class_name": table["class_name"].astype(str).to_numpy(),
            "split": table["split"].astype(str).to_numpy(),
        }
    )


def split_table_metadata(name: str, root: Path, options: dict, table: pd.DataFrame) -> dict:
    """Describe a split table: dataset, root, resolved options (VegFru's ``merge_val`` among them),
    label rule and counts."""
    spec = get_dataset(name)
    return {
        "dataset": name,
        "title": spec.title,
        "root": str(root),
        "options": spec.resolve_options(options),
        "label_rule": spec.label_rule,
        "counts": {
            "classes": int(table["label"].nunique()),
            "train": int((table["split"] == "train").sum()),
            "test": int((table["split"] == "test").sum()),
        },
    }


def write_split_table(table: pd.DataFrame, path: Path, metadata: dict) -> None:
    """Write the table as parquet with ``metadata`` as JSON, to a temporary name then renamed."""
    path = Path(path)
    missing = [column for column in SPLIT_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"split table lacks column(s) {missing}; it needs {SPLIT_COLUMNS}")
    arrow_table = pa.Table.from_pandas(table[SPLIT_COLUMNS], preserve_index=False)
    schema_metadata = dict(arrow_table.schema.metadata or {})
    schema_metadata[_METADATA_KEY] = json.dumps(metadata, sort_keys=True).encode()
    arrow_table = arrow_table.replace_schema_metadata(schema_metadata)
    with atomic_output(path) as temporary:
        pq.write_table(arrow_table, temporary)
    logger.info("wrote split table %s (%d rows)", path, len(table))


def read_split_table(path: Path) -> tuple[pd.DataFrame, dict]:
    """Read a split table written by write_split_table; return it and its metadata."""
    arrow_table = pq.read_table(path)
    raw = (arrow_table.schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} is not a split table written by eet (no {_METADATA_KEY.decode()} metadata)")
    table = arrow_table.to_pandas()
    return table[SPLIT_COLUMNS], json.loads(raw)


def exclude_images(table: pd.DataFrame, root: Path, relative_paths: list[str]) -> pd.DataFrame:
    """Drop the images whose path relative to ``root`` is listed, and renumber ``image_id``.

    Used for the config's ``known_bad_images``; a listed path that is not in the table is logged.
    """
    if not relative_paths:
        return table
    prefix = Path(root).as_posix().rstrip("/") + "/"
    excluded = {prefix + relative for relative in relative_paths}
    unmatched = sorted(excluded - set(table["path"]))
    if unmatched:
        logger.warning("known_bad_images not in the split table (check the paths): %s", unmatched)
    kept = table[~table["path"].isin(excluded)].reset_index(drop=True)
    kept["image_id"] = pd.Series(range(len(kept)), dtype="int64")
    logger.info("excluded %d known bad image(s)", len(table) - len(kept))
    return kept
