"""Miniature copies of each dataset's official layout: real JPEG files, real metadata formats.

Each builder writes the layout under ``base`` (the folder the parser reads) and returns the
expected counts and the rows it wrote as (relative path, label, class name, split).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import savemat


def write_jpeg(path: Path, value: int = 128, size: tuple[int, int] = (8, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, 255 - value, value // 2)).save(path, format="JPEG")


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def make_cub(base: Path) -> tuple[dict, list[tuple]]:
    """3 classes with 1-based ids; images 1-2 of each class train, 3 test."""
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
    images, labels, splits, rows = [], [], [], []
    image_id = 0
    for class_index, folder in enumerate(classes):
        for number in range(3):
            image_id += 1
            relpath = f"{folder}/{folder[4:]}_{number:04d}.jpg"
            write_jpeg(base / "images" / relpath, 40 * class_index)
            images.append(f"{image_id} {relpath}")
            labels.append(f"{image_id} {class_index + 1}")
            is_train = number < 2
            splits.append(f"{image_id} {int(is_train)}")
            rows.append((f"images/{relpath}", class_index, folder[4:], "train" if is_train else "test"))
    _write_lines(base / "classes.txt", [f"{i + 1} {name}" for i, name in enumerate(classes)])
    _write_lines(base / "images.txt", images)
    _write_lines(base / "image_class_labels.txt", labels)
    _write_lines(base / "train_test_split.txt", splits)
    return {"classes": 3, "train": 6, "test": 3}, rows


def make_nabirds(base: Path) -> tuple[dict, list[tuple]]:
    """Leaf ids 817, 295 and 400 of a hierarchy whose classes.txt also lists inner nodes."""
    classes = {0: "Birds", 1: "Perching Birds", 295: "Ross's Goose", 400: "Snow Goose (White morph)", 817: "Wood Duck"}
    leaves = [817, 295, 400]
    label_of = {class_id: label for label, class_id in enumerate(sorted(leaves))}
    images, labels, splits, rows = [], [], [], []
    for index, class_id in enumerate(leaves * 2):
        uuid = f"0000{index:04d}-aaaa-bbbb-cccc-{class_id:012d}"
        relpath = f"{class_id:04d}/{uuid.replace('-', '')}.jpg"
        write_jpeg(base / "images" / relpath, index * 20)
        images.append(f"{uuid} {relpath}")
        labels.append(f"{uuid} {class_id}")
        is_train = index < 3
        splits.append(f"{uuid} {int(is_train)}")
        rows.append((f"images/{relpath}", label_of[class_id], classes[class_id], "train" if is_train else "test"))
    _write_lines(base / "classes.txt", [f"{class_id} {name}" for class_id, name in classes.items()])
    _write_lines(base / "hierarchy.txt", ["1 0", "295 1", "400 1", "817 1"])
    _write_lines(base / "images.txt", images)
    _write_lines(base / "image_class_labels.txt", labels)
    _write_lines(base / "train_test_split.txt", splits)
    return {"classes": 3, "train": 3, "test": 3}, rows


def make_fgvc_aircraft(base: Path) -> tuple[dict, list[tuple]]:
    """Variants with spaces in their names; trainval and test lists."""
    variants = ["707-320", "Cessna 172", "DC-3"]
    data = base / "data"
    _write_lines(data / "variants.txt", variants)
    rows = []
    lists = {"train": [], "test": []}
    for index, (variant, split) in enumerate([(v, s) for v in variants for s in ("train", "train", "test")]):
        image_id = f"{1000000 + index:07d}"
        write_jpeg(data / "images" / f"{image_id}.jpg", index * 10)
        lists[split].append(f"{image_id} {variant}")
        rows.append((f"data/images/{image_id}.jpg", variants.index(variant), variant, split))
    _write_lines(data / "images_variant_trainval.txt", lists["train"])
    _write_lines(data / "images_variant_test.txt", lists["test"])
    rows.sort(key=lambda row: row[3] != "train")
    return {"classes": 3, "train": 6, "test": 3}, rows


def make_food101(base: Path) -> tuple[dict, list[tuple]]:
    classes = ["apple_pie", "baby_back_ribs"]
    _write_lines(base / "meta" / "classes.txt", classes)
    _write_lines(base / "meta" / "labels.txt", ["Apple pie", "Baby back ribs"])
    rows = []
    lists = {"train": [], "test": []}
    for label, name in enumerate(classes):
        for number, split in enumerate(("train", "train", "test")):
            entry = f"{name}/{100 + number}"
            write_jpeg(base / "images" / f"{entry}.jpg", 50 * label + number)
            lists[split].append(entry)
            rows.append((f"images/{entry}.jpg", label, name, split))
    _write_lines(base / "meta" / "train.txt", lists["train"])
    _write_lines(base / "meta" / "test.txt", lists["test"])
    rows.sort(key=lambda row: row[3] != "train")
    return {"classes": 2, "train": 4, "test": 2}, rows


def make_vegfru(base: Path) -> tuple[dict, dict[str, list[tuple]]]:
    """Two veg200 classes and one fru92 class; one train, one val and one test image each."""
    classes = [("veg200_images", "amaranth"), ("veg200_images", "artichoke"), ("fru92_images", "wampee")]
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    rows: dict[str, list[tuple]] = {"train": [], "val": [], "test": []}
    for label, (top, name) in enumerate(classes):
        for part in ("train", "val", "test"):
            relpath = f"{top}/{name}/{part}_{label:02d}.jpg"
            write_jpeg(base / relpath, 60 * label)
            lists[part].append(f"{relpath} {label}")
            rows[part].append((relpath, label, name, "test" if part == "test" else "train"))
    for part, lines in lists.items():
        _write_lines(base / "vegfru_list" / f"vegfru_{part}.txt", lines)
    return {"classes": 3, "train": 3, "test": 3}, rows


def _struct_array(records: list[dict]) -> np.ndarray:
    dtype = [(key, object) for key in records[0]]
    array = np.zeros((1, len(records)), dtype=dtype)
    for index, record in enumerate(records):
        for key, value in record.items():
            array[0, index][key] = value
    return array


def make_stanford_cars(base: Path, test_classes: tuple[int, ...] = (2, 1)) -> tuple[dict, list[tuple]]:
    """Two classes with 1-based ``class`` fields, in the devkit layout torchvision also reads."""
    class_names = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012"]
    names = np.empty((1, 2), dtype=object)
    names[0, :] = class_names
    (base / "devkit").mkdir(parents=True, exist_ok=True)
    savemat(base / "devkit" / "cars_meta.mat", {"class_names": names})
    rows = []
    train_records = []
    for index, class_id in enumerate((1, 2, 1), start=1):
        fname = f"{index:05d}.jpg"
        write_jpeg(base / "cars_train" / fname, 30 * index)
        train_records.append({"bbox_x1": 1, "bbox_y1": 1, "bbox_x2": 7, "bbox_y2": 7, "class": class_id, "fname": fname})
        rows.append((f"cars_train/{fname}", class_id - 1, class_names[class_id - 1], "train"))
    test_records = []
    for index, class_id in enumerate(test_classes, start=1):
        fname = f"{index:05d}.jpg"
        write_jpeg(base / "cars_test" / fname, 70 * index)
        test_records.append({"bbox_x1": 1, "bbox_y1": 1, "bbox_x2": 7, "bbox_y2": 7, "class": class_id, "fname": fname})
        rows.append((f"cars_test/{fname}", class_id - 1, class_names[min(class_id, 2) - 1], "test"))
    savemat(base / "devkit" / "cars_train_annos.mat", {"annotations": _struct_array(train_records)})
    savemat(base / "cars_test_annos_withlabels.mat", {"annotations": _struct_array(test_records)})
    return {"classes": 2, "train": 3, "test": len(test_classes)}, rows


def make_stanford_dogs(base: Path, test_labels: tuple[int, ...] = (1, 2)) -> tuple[dict, list[tuple]]:
    """Two breeds; lists hold 1-based labels as in the official train_list.mat/test_list.mat."""
    folders = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel"]
    rows = []
    for split, labels in (("train", (1, 2, 2)), ("test", test_labels)):
        files = np.empty((len(labels), 1), dtype=object)
        for index, label in enumerate(labels):
            folder = folders[min(label, 2) - 1]
            relpath = f"{folder}/{folder.split('-')[0]}_{split}{index}.jpg"
            write_jpeg(base / "Images" / relpath, 40 * index)
            files[index, 0] = relpath
            rows.append((f"Images/{relpath}", label - 1, folder.split("-", 1)[1], split))
        savemat(base / f"{split}_list.mat", {"file_list": files, "labels": np.array(labels, dtype=float).reshape(-1, 1)})
    return {"classes": 2, "train": 3, "test": len(test_labels)}, rows


def make_tar_gz(archive: Path, source: Path, arcname: str) -> None:
    """Pack ``source`` as ``arcname`` into a gzip-compressed tar archive."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=arcname)


def add_tar_member(tar: tarfile.TarFile, name: str, data: bytes = b"x", *, link_target: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    if link_target is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = link_target
        tar.addfile(info)
        return
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
