"""Prepare a dataset once: fetch and extract its archives, generate it, or extract Fashion-MNIST.

A dataset folder is marked complete by ``.eet-prepared.json`` only after its files parse with the
expected counts; a marked folder whose recipe is unchanged is left alone, so reruns do nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from eet.atomic import atomic_output
from eet.data.download import fetch_file, safe_extract
from eet.data.errors import DatasetError, ManualDownloadRequiredError
from eet.data.registry import DatasetSpec, get_dataset
from eet.data.split import parse_dataset

logger = logging.getLogger(__name__)

MARKER_NAME = ".eet-prepared.json"


def _recipe(spec: DatasetSpec, options: dict, seed: int) -> dict:
    """Return what determines the prepared files; a change of recipe prepares the folder again."""
    if spec.kind == "generated":
        return {"dataset": spec.name, "options": options, "seed": seed}
    if spec.kind == "fashion_mnist":
        return {"dataset": spec.name, "train_per_class": options["train_per_class"], "test_per_class": options["test_per_class"]}
    return {"dataset": spec.name, "archives": [f"{archive.filename} {archive.checksum}" for archive in spec.archives]}


def _read_marker(root: Path) -> dict | None:
    marker = root / MARKER_NAME
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())
    except json.JSONDecodeError:
        logger.warning("ignoring unreadable marker %s", marker)
        return None


def _write_marker(root: Path, content: dict) -> None:
    marker = root / MARKER_NAME
    with atomic_output(marker) as temporary:
        temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def _counts(table) -> dict:
    return {
        "classes": int(table["label"].nunique()),
        "train": int((table["split"] == "train").sum()),
        "test": int((table["split"] == "test").sum()),
    }


def _prepare_archives(spec: DatasetSpec, root: Path, options: dict, resources_dir: Path, expected_counts) -> list[str]:
    """Fetch, verify and extract every archive of ``spec``; return the actions taken."""
    # A folder already extracted by the user (or by an earlier run that stopped before the marker)
    # is used when it parses with the expected counts.
    if (root / spec.layout_dir).is_dir():
        try:
            parse_dataset(spec.name, root, options, expected_counts=expected_counts)
            return [f"found a complete extracted copy in {root / spec.layout_dir}"]
        except DatasetError as error:
            if not spec.archives:
                raise
            logger.info("extracted copy in %s is incomplete (%s); extracting the archives", root / spec.layout_dir, error)
    # The registry writes <root> in its instructions; the user needs the configured folder itself.
    instructions = spec.manual_instructions.replace("<root>", str(root))
    if not spec.archives:
        raise ManualDownloadRequiredError(f"dataset {spec.name} is not under {root}. {instructions}")

    archive_dir = resources_dir / "archives" / spec.name
    # Fetch every file before extracting any, so a missing manual file fails before long work.
    files = [
        (archive, fetch_file(archive.filename, archive.urls, archive.checksum, archive_dir, instructions))
        for archive in spec.archives
    ]
    destination = root / spec.extract_dir
    actions = []
    for archive, path in files:
        if archive.extract:
            safe_extract(path, destination)
            actions.append(f"extracted {path}")
        else:
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / archive.filename)
            actions.append(f"copied {path}")
    return actions


def prepare_dataset(
    name: str,
    root: Path,
    options: dict,
    resources_dir: Path,
    seed: int,
    *,
    expected_counts: dict | None = None,
) -> dict:
    """Make dataset ``name`` ready under ``root``, once, and return a summary of what was done.

    Archive datasets are downloaded (or taken from ``resources_dir/archives/<name>/``, where manual
    downloads go), verified and extracted; ``synthetic_cub`` is generated with ``seed``;
    Fashion-MNIST is read from its mirrors and written as PNG files. The folder is marked complete
    only after it parses with the expected counts (``expected_counts`` replaces the registry's, for
    miniature copies). A rerun with the same recipe does nothing.
    """
    spec = get_dataset(name)
    resolved = spec.resolve_options(options)
    root = Path(root)
    resources_dir = Path(resources_dir)
    recipe = _recipe(spec, resolved, seed)

    marker = _read_marker(root)
    if marker is not None and marker.get("recipe") == recipe:
        logger.info("dataset %s under %s is already prepared", name, root)
        return {**marker, "status": "already prepared"}

    logger.info("preparing dataset %s under %s", name, root)
    root.mkdir(parents=True, exist_ok=True)
    if spec.kind == "generated":
        from eet.data.synthetic import generate_synthetic_cub

        generate_synthetic_cub(root, seed=seed, **resolved)
        actions = [f"generated with seed {seed}"]
    elif spec.kind == "fashion_mnist":
        from eet.data.fashion_mnist import extract_fashion_mnist

        written = extract_fashion_mnist(root, resolved, resources_dir)
        actions = [f"wrote {written['train']} train and {written['test']} test PNG files"]
    else:
        actions = _prepare_archives(spec, root, resolved, resources_dir, expected_counts)

    table = parse_dataset(name, root, resolved, expected_counts=expected_counts)
    summary = {"dataset": name, "root": str(root), "recipe": recipe, "actions": actions, "counts": _counts(table)}
    _write_marker(root, summary)
    logger.info("dataset %s prepared: %s", name, summary["counts"])
    return {**summary, "status": "prepared"}
