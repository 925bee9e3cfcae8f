import hashlib

import numpy as np

from eet.data.split import build_split_table
from eet.data.synthetic import class_names, draw_bird, generate_synthetic_cub

OPTIONS = {"num_classes": 5, "train_per_class": 3, "test_per_class": 2, "image_size": 48}


def _digest(root):
    files = sorted(path for path in root.rglob("*") if path.is_file())
    return hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()


def test_generation_is_deterministic(tmp_path):
    generate_synthetic_cub(tmp_path / "a", seed=7, **OPTIONS)
    generate_synthetic_cub(tmp_path / "b", seed=7, **OPTIONS)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_generation_writes_cub_metadata(tmp_path):
    generate_synthetic_cub(tmp_path, seed=0, **OPTIONS)
    assert (tmp_path / "classes.txt").read_text().splitlines()[0] == "1 001.Hue0_Plain_Finch"
    assert (tmp_path / "train_test_split.txt").read_text().splitlines()[:4] == ["1 1", "2 1", "3 1", "4 0"]
    assert len((tmp_path / "images.txt").read_text().splitlines()) == 25


def test_cub_parser_reads_generated_dataset(tmp_path):
    generate_synthetic_cub(tmp_path, seed=0, **OPTIONS)
    table = build_split_table("synthetic_cub", tmp_path, OPTIONS)
    assert len(table) == 25
    assert (table["split"] == "train").sum() == 15
    assert sorted(table["label"].unique()) == [0, 1, 2, 3, 4]
    assert table.loc[table["label"] == 4, "class_name"].iloc[0] == "Hue1_Plain_Finch"


def test_classes_differ_only_in_head_patch():
    # Same random draws, two classes: the pixels that differ lie in one small head patch.
    size = 64
    first = np.asarray(draw_bird(0, 8, size, np.random.default_rng(3)), dtype=int)
    second = np.asarray(draw_bird(5, 8, size, np.random.default_rng(3)), dtype=int)
    rows, cols = np.nonzero(np.abs(first - second).sum(axis=2))
    box_area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert box_area <= (size // 6) ** 2
    assert box_area < size * size / 10


def test_class_names_follow_cub_pattern():
    assert class_names(5)[4] == "005.Hue1_Plain_Finch"
