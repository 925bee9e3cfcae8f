"""One parser per official dataset layout.

Every parser takes the dataset folder (the archive's top folder after extraction), the resolved
options and the expected number of classes, and returns a DataFrame with the columns ``relpath``
(posix path relative to that folder), ``label`` (0..C-1), ``class_name`` and ``split`` (``train`` or
``test``), in the order of the official listing. Malformed metadata raises MetadataError naming the
file and, where there is one, the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from eet.data.errors import MetadataError

COLUMNS = ["relpath", "label", "class_name", "split"]


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Return the non-blank lines of ``path`` with their 1-based line numbers."""
    if not path.is_file():
        raise MetadataError(
            f"metadata file {path} not found; the dataset folder is incomplete, so extract the "
            f"official archive again or delete the folder and rerun"
        )
    text = path.read_text(encoding="utf-8")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _fields(path: Path, number: int, line: str, count: int) -> list[str]:
    """Split a line into exactly ``count`` fields; the last field keeps any inner spaces."""
    fields = line.split(maxsplit=count - 1)
    if len(fields) != count:
        raise MetadataError(f"{path}, line {number}: expected {count} fields, got {line!r}")
    return fields


def _integer(path: Path, number: int, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise MetadataError(f"{path}, line {number}: expected an integer, got {text!r}") from None


def _label_in_range(path: Path, where: str, raw: int, first: int, num_classes: int) -> int:
    """Map a ``first``-based class id to 0..C-1, raising MetadataError when it falls outside."""
    label = raw - first
    if not 0 <= label < num_classes:
        raise MetadataError(
            f"{path}, {where}: class id {raw} is outside {first}..{first + num_classes - 1} "
            f"for {num_classes} classes; the file does not belong to this dataset release"
        )
    return label


def _keyed_column(path: Path, count: int) -> dict[str, tuple[int, str]]:
    """Read ``key value`` lines into {key: (line number, value)}, rejecting duplicate keys."""
    table: dict[str, tuple[int, str]] = {}
    for number, line in _read_lines(path):
        key, value = _fields(path, number, line, count)
        if key in table:
            raise MetadataError(f"{path}, line {number}: id {key} is listed twice")
        table[key] = (number, value)
    return table


def _lookup(table: dict[str, tuple[int, str]], path: Path, key: str, listed_in: Path) -> tuple[int, str]:
    if key not in table:
        raise MetadataError(f"{path} has no line for image id {key}, which {listed_in} lists")
    return table[key]


def _strip_number_prefix(name: str) -> str:
    return re.sub(r"^\d+\.", "", name)


def _parse_cub_style(base: Path, *, leaf_ids_only: bool) -> pd.DataFrame:
    """Parse the CUB-200-2011 metadata format, which NABirds shares."""
    images_file = base / "images.txt"
    labels_file = base / "image_class_labels.txt"
    split_file = base / "train_test_split.txt"
    classes_file = base / "classes.txt"

    images = _keyed_column(images_file, 2)
    labels = _keyed_column(labels_file, 2)
    splits = _keyed_column(split_file, 2)
    class_names: dict[int, str] = {}
    for number, line in _read_lines(classes_file):
        class_id, name = _fields(classes_file, number, line, 2)
        class_names[_integer(classes_file, number, class_id)] = name

    class_of_image = {key: (number, _integer(labels_file, number, value)) for key, (number, value) in labels.items()}
    for key, (number, class_id) in class_of_image.items():
        if class_id not in class_names:
            raise MetadataError(
                f"{labels_file}, line {number}: class id {class_id} is not listed in {classes_file} "
                f"(ids {min(class_names, default=None)}..{max(class_names, default=None)})"
            )
    # NABirds' classes.txt lists every node of its hierarchy; only leaf ids label images.
    if leaf_ids_only:
        class_ids = sorted({class_id for _, class_id in class_of_image.values()})
    else:
        class_ids = sorted(class_names)
    label_of_id = {class_id: label for label, class_id in enumerate(class_ids)}

    rows = []
    for key, (_, relpath) in images.items():
        if key not in class_of_image:
            raise MetadataError(f"{labels_file} has no line for image id {key}, which {images_file} lists")
        _, class_id = class_of_image[key]
        split_number, is_training = _lookup(splits, split_file, key, images_file)
        if is_training not in ("0", "1"):
            raise MetadataError(f"{split_file}, line {split_number}: expected 1 (train) or 0 (test), got {is_training!r}")
        name = _strip_number_prefix(class_names[class_id])
        rows.append((f"images/{relpath}", label_of_id[class_id], name, "train" if is_training == "1" else "test"))
    return pd.DataFrame(rows, columns=COLUMNS)


def parse_cub(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse CUB-200-2011 (and the generated dataset in its layout).

    Labels: the class ids of ``classes.txt`` sorted, mapped to 0..C-1, so 1-based ids become id - 1.
    Class names drop the ``NNN.`` prefix of the class folder.
    """
    return _parse_cub_style(base, leaf_ids_only=False)


def parse_nabirds(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse NABirds.

    Labels: the distinct class ids used in ``image_class_labels.txt`` (555 leaves, of the up to
    1,010 hierarchy nodes in ``classes.txt``), sorted numerically and mapped to 0..C-1.
    """
    return _parse_cub_style(base, leaf_ids_only=True)


def parse_fgvc_aircraft(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse FGVC-Aircraft at the variant level: trainval is the training split.

    Labels: the line order of ``data/variants.txt``.
    """
    data = base / "data"
    variants_file = data / "variants.txt"
    variants = [line for _, line in _read_lines(variants_file)]
    label_of_variant = {name: label for label, name in enumerate(variants)}
    rows = []
    for split, list_name in (("train", "images_variant_trainval.txt"), ("test", "images_variant_test.txt")):
        list_file = data / list_name
        for number, line in _read_lines(list_file):
            image_id, variant = _fields(list_file, number, line, 2)
            if variant not in label_of_variant:
                raise MetadataError(f"{list_file}, line {number}: variant {variant!r} is not listed in {variants_file}")
            rows.append((f"data/images/{image_id}.jpg", label_of_variant[variant], variant, split))
    return pd.DataFrame(rows, columns=COLUMNS)


def parse_food101(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse Food-101. Labels: the line order of ``meta/classes.txt``."""
    classes_file = base / "meta" / "classes.txt"
    classes = [line for _, line in _read_lines(classes_file)]
    label_of_class = {name: label for label, name in enumerate(classes)}
    rows = []
    for split in ("train", "test"):
        list_file = base / "meta" / f"{split}.txt"
        for number, line in _read_lines(list_file):
            class_name, _, _ = line.partition("/")
            if class_name not in label_of_class:
                raise MetadataError(f"{list_file}, line {number}: class {class_name!r} is not listed in {classes_file}")
            rows.append((f"images/{line}.jpg", label_of_class[class_name], class_name, split))
    return pd.DataFrame(rows, columns=COLUMNS)


def _parse_path_label_list(list_file: Path, num_classes: int, split: str) -> list[tuple[str, int, str, str]]:
    """Parse ``<relpath> <0-based label>`` lines whose class name is the image's parent folder."""
    rows = []
    for number, line in _read_lines(list_file):
        fields = line.rsplit(maxsplit=1)
        if len(fields) != 2:
            raise MetadataError(f"{list_file}, line {number}: expected '<image path> <label>', got {line!r}")
        relpath, raw_label = fields
        label = _label_in_range(list_file, f"line {number}", _integer(list_file, number, raw_label), 0, num_classes)
        rows.append((relpath, label, Path(relpath).parent.name, split))
    return rows


def parse_vegfru(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse VegFru (veg200 + fru92) from ``vegfru_list/``.

    Labels: the 0-based labels of the list files, checked to lie in 0..C-1. The training split is
    ``vegfru_train.txt``, plus ``vegfru_val.txt`` when the option ``merge_val`` is true.
    """
    lists = base / "vegfru_list"
    rows = _parse_path_label_list(lists / "vegfru_train.txt", num_classes, "train")
    if options.get("merge_val", False):
        rows += _parse_path_label_list(lists / "vegfru_val.txt", num_classes, "train")
    rows += _parse_path_label_list(lists / "vegfru_test.txt", num_classes, "test")
    return pd.DataFrame(rows, columns=COLUMNS)


def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat

    if not path.is_file():
        raise MetadataError(
            f"metadata file {path} not found; the dataset folder is incomplete, so extract the "
            f"official archive again or delete the folder and rerun"
        )
    try:
        return loadmat(path, squeeze_me=True)
    except (ValueError, TypeError, OSError) as error:
        raise MetadataError(f"{path} is not a readable MATLAB file: {error}") from error


def _mat_field(path: Path, contents: dict, key: str):
    if key not in contents:
        raise MetadataError(f"{path} has no variable {key!r}; it is not the official file")
    return contents[key]


def parse_stanford_cars(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse Stanford Cars in the devkit layout that torchvision also reads.

    Labels: the 1-based ``class`` field of the annotations, checked to lie in 1..C, minus one.
    Class names come from ``devkit/cars_meta.mat``.
    """
    import numpy as np

    meta_file = base / "devkit" / "cars_meta.mat"
    class_names = [str(name) for name in np.atleast_1d(_mat_field(meta_file, _load_mat(meta_file), "class_names"))]
    test_file = base / "cars_test_annos_withlabels.mat"
    if not test_file.is_file() and (base / "devkit" / test_file.name).is_file():
        test_file = base / "devkit" / test_file.name
    rows = []
    for split, annotations_file, image_dir in (
        ("train", base / "devkit" / "cars_train_annos.mat", "cars_train"),
        ("test", test_file, "cars_test"),
    ):
        annotations = np.atleast_1d(_mat_field(annotations_file, _load_mat(annotations_file), "annotations"))
        for index, entry in enumerate(annotations, start=1):
            label = _label_in_range(annotations_file, f"annotation {index}", int(entry["class"]), 1, len(class_names))
            rows.append((f"{image_dir}/{entry['fname']}", label, class_names[label], split))
    return pd.DataFrame(rows, columns=COLUMNS)


def parse_stanford_dogs(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse Stanford Dogs from ``train_list.mat`` and ``test_list.mat``.

    Labels: the 1-based ``labels`` of the lists, checked to lie in 1..C, minus one. Class names are
    the breed part of the class folder (``n02085620-Chihuahua`` becomes ``Chihuahua``).
    """
    import numpy as np

    rows = []
    for split in ("train", "test"):
        list_file = base / f"{split}_list.mat"
        contents = _load_mat(list_file)
        files = np.atleast_1d(_mat_field(list_file, contents, "file_list"))
        labels = np.atleast_1d(_mat_field(list_file, contents, "labels"))
        if len(files) != len(labels):
            raise MetadataError(f"{list_file} lists {len(files)} files but {len(labels)} labels")
        for index, (relpath, raw) in enumerate(zip(files, labels), start=1):
            label = _label_in_range(list_file, f"entry {index}", int(raw), 1, num_classes)
            folder = Path(str(relpath)).parent.name
            rows.append((f"Images/{relpath}", label, folder.partition("-")[2] or folder, split))
    return pd.DataFrame(rows, columns=COLUMNS)


def parse_fashion_mnist(base: Path, options: dict, num_classes: int) -> pd.DataFrame:
    """Parse the index that ``eet.data.fashion_mnist`` writes beside the PNG files it extracts."""
    index_file = base / "images.csv"
    if not index_file.is_file():
        raise MetadataError(f"{index_file} not found; delete {base} and rerun prepare_dataset to rebuild it")
    table = pd.read_csv(index_file, dtype={"relpath": str, "label": "int64", "class_name": str, "split": str})
    for number, label in enumerate(table["label"], start=2):
        _label_in_range(index_file, f"line {number}", int(label), 0, num_classes)
    return table[COLUMNS]
