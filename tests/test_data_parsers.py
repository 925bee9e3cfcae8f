"""Parsers and split tables on miniature copies of every dataset's official layout."""

from pathlib import Path

import pytest

from eet.data.errors import CountMismatchError, MetadataError, MissingImagesError
from eet.data.registry import DATASETS, get_dataset
from eet.data.split import build_split_table, exclude_images, read_split_table, split_table_metadata, write_split_table
from tests import fixtures_data as fixtures

# dataset name -> (builder, folder inside the root that the parser reads)
LAYOUTS = {
    "cub200": (fixtures.make_cub, "CUB_200_2011"),
    "nabirds": (fixtures.make_nabirds, "nabirds"),
    "fgvc_aircraft": (fixtures.make_fgvc_aircraft, "fgvc-aircraft-2013b"),
    "food101": (fixtures.make_food101, "food-101"),
    "stanford_cars": (fixtures.make_stanford_cars, "stanford_cars"),
    "stanford_dogs": (fixtures.make_stanford_dogs, "."),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_split_table_matches_miniature(tmp_path, name):
    builder, layout = LAYOUTS[name]
    counts, rows = builder(tmp_path / layout)
    table = build_split_table(name, tmp_path, {}, expected_counts=counts)
    base = (tmp_path / layout).as_posix().replace("/./", "/").rstrip("/.")
    assert list(table["path"]) == [f"{base}/{row[0]}" for row in rows]
    assert list(table["label"]) == [row[1] for row in rows]
    assert list(table["class_name"]) == [row[2] for row in rows]
    assert list(table["split"]) == [row[3] for row in rows]
    assert list(table["image_id"]) == list(range(len(rows)))
    assert str(table["image_id"].dtype) == "int64"
    assert str(table["label"].dtype) == "int64"


def test_vegfru_train_only_by_default(tmp_path):
    counts, rows = fixtures.make_vegfru(tmp_path / "vegfru-dataset")
    table = build_split_table("vegfru", tmp_path, {}, expected_counts=counts)
    expected = rows["train"] + rows["test"]
    assert list(table["path"]) == [f"{tmp_path.as_posix()}/vegfru-dataset/{row[0]}" for row in expected]
    assert list(table["label"]) == [row[1] for row in expected]
    assert list(table["class_name"]) == [row[2] for row in expected]


def test_vegfru_merge_val_in_metadata(tmp_path):
    counts, rows = fixtures.make_vegfru(tmp_path / "vegfru-dataset")
    options = {"merge_val": True}
    table = build_split_table("vegfru", tmp_path, options, expected_counts={**counts, "train": 6})
    metadata = split_table_metadata("vegfru", tmp_path, options, table)
    assert list(table["split"]) == ["train"] * 6 + ["test"] * 3
    assert metadata["options"]["merge_val"] is True


def test_relative_root_gives_relative_paths(tmp_path, monkeypatch):
    counts, _ = fixtures.make_cub(tmp_path / "data" / "CUB_200_2011")
    monkeypatch.chdir(tmp_path)
    table = build_split_table("cub200", Path("data"), {}, expected_counts=counts)
    assert table["path"][0] == "data/CUB_200_2011/images/001.Black_footed_Albatross/Black_footed_Albatross_0000.jpg"


def test_registry_counts_asserted(tmp_path):
    fixtures.make_cub(tmp_path / "CUB_200_2011")
    with pytest.raises(CountMismatchError, match="classes: expected 200, got 3"):
        build_split_table("cub200", tmp_path, {})


def test_miniature_counts_asserted(tmp_path):
    fixtures.make_food101(tmp_path / "food-101")
    with pytest.raises(CountMismatchError, match="train: expected 5, got 4"):
        build_split_table("food101", tmp_path, {}, expected_counts={"classes": 2, "train": 5, "test": 2})


def test_cub_label_outside_classes_rejected(tmp_path):
    counts, _ = fixtures.make_cub(tmp_path / "CUB_200_2011")
    labels = tmp_path / "CUB_200_2011" / "image_class_labels.txt"
    lines = labels.read_text().splitlines()
    lines[4] = "5 4"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError, match=r"image_class_labels.txt, line 5: class id 4 is not listed"):
        build_split_table("cub200", tmp_path, {}, expected_counts=counts)


def test_cub_malformed_line_names_file_and_line(tmp_path):
    counts, _ = fixtures.make_cub(tmp_path / "CUB_200_2011")
    split_file = tmp_path / "CUB_200_2011" / "train_test_split.txt"
    lines = split_file.read_text().splitlines()
    lines[2] = "3 yes"
    split_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError, match=r"train_test_split.txt, line 3: expected 1 \(train\) or 0 \(test\)"):
        build_split_table("cub200", tmp_path, {}, expected_counts=counts)


def test_cub_missing_metadata_file_named(tmp_path):
    counts, _ = fixtures.make_cub(tmp_path / "CUB_200_2011")
    (tmp_path / "CUB_200_2011" / "classes.txt").unlink()
    with pytest.raises(MetadataError, match=r"classes.txt not found"):
        build_split_table("cub200", tmp_path, {}, expected_counts=counts)


def test_vegfru_label_equal_to_class_count_rejected(tmp_path):
    counts, _ = fixtures.make_vegfru(tmp_path / "vegfru-dataset")
    test_list = tmp_path / "vegfru-dataset" / "vegfru_list" / "vegfru_test.txt"
    test_list.write_text(test_list.read_text().replace(" 2\n", " 3\n"))
    with pytest.raises(MetadataError, match=r"vegfru_test.txt, line 3: class id 3 is outside 0..2"):
        build_split_table("vegfru", tmp_path, {}, expected_counts=counts)


def test_cars_zero_class_rejected(tmp_path):
    counts, _ = fixtures.make_stanford_cars(tmp_path / "stanford_cars", test_classes=(0, 1))
    with pytest.raises(MetadataError, match=r"cars_test_annos_withlabels.mat, annotation 1: class id 0 is outside 1..2"):
        build_split_table("stanford_cars", tmp_path, {}, expected_counts=counts)


def test_dogs_label_above_class_count_rejected(tmp_path):
    counts, _ = fixtures.make_stanford_dogs(tmp_path, test_labels=(1, 3))
    with pytest.raises(MetadataError, match=r"test_list.mat, entry 2: class id 3 is outside 1..2"):
        build_split_table("stanford_dogs", tmp_path, {}, expected_counts=counts)


def test_missing_images_listed_with_count(tmp_path):
    counts, rows = fixtures.make_food101(tmp_path / "food-101")
    for relpath, *_ in rows[:2]:
        (tmp_path / "food-101" / relpath).unlink()
    with pytest.raises(MissingImagesError) as raised:
        build_split_table("food101", tmp_path, {}, expected_counts=counts)
    assert "2 image(s)" in str(raised.value)
    assert rows[0][0] in str(raised.value)
    assert rows[1][0] in str(raised.value)


def test_unknown_option_rejected():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['merge_vall'\] for dataset 'vegfru'"):
        get_dataset("vegfru").resolve_options({"merge_vall": True})


def test_wrong_option_type_rejected():
    with pytest.raises(ValueError, match=r"invalid value 'yes' for datasets.vegfru.options.merge_val"):
        get_dataset("vegfru").resolve_options({"merge_val": "yes"})


def test_unknown_dataset_lists_known_names():
    with pytest.raises(KeyError, match="known datasets: cub200"):
        get_dataset("cub2011")


def test_registry_counts_match_published_ones():
    counts = {name: (spec.num_classes, spec.train_count, spec.test_count) for name, spec in DATASETS.items()}
    assert counts["cub200"] == (200, 5994, 5794)
    assert counts["stanford_cars"] == (196, 8144, 8041)
    assert counts["fgvc_aircraft"] == (100, 6667, 3333)
    assert counts["nabirds"] == (555, 23929, 24633)
    assert counts["food101"] == (101, 75750, 25250)
    assert counts["vegfru"] == (292, 29200, 116931)
    assert counts["stanford_dogs"] == (120, 12000, 8580)


def test_split_table_round_trip(tmp_path):
    counts, _ = fixtures.make_cub(tmp_path / "CUB_200_2011")
    table = build_split_table("cub200", tmp_path, {}, expected_counts=counts)
    metadata = split_table_metadata("cub200", tmp_path, {}, table)
    write_split_table(table, tmp_path / "out" / "split.parquet", metadata)
    read_table, read_metadata = read_split_table(tmp_path / "out" / "split.parquet")
    assert read_table.equals(table)
    assert read_metadata == metadata
    assert not (tmp_path / "out" / "split.parquet.tmp").exists()


def test_exclude_images_renumbers_ids(tmp_path):
    counts, rows = fixtures.make_cub(tmp_path / "CUB_200_2011")
    table = build_split_table("cub200", tmp_path, {}, expected_counts=counts)
    kept = exclude_images(table, tmp_path, [f"CUB_200_2011/{rows[1][0]}"])
    assert len(kept) == len(rows) - 1
    assert list(kept["image_id"]) == list(range(len(rows) - 1))
    assert kept["path"][1] == table["path"][2]
