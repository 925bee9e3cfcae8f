"""Dataset registry: where each dataset comes from, how it is laid out and how it is labelled.

Checksums are the published ones where a source publishes them; the others are the md5 sums that
widely used loaders (torchvision, the CUB-200-2011 loader of TDeVries and its forks, common NABirds
and Stanford Dogs loaders) check against the official files. Counts are those of each dataset's
paper and are asserted after parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from eet.data import parsers
from eet.data.download import Checksum


@dataclass(frozen=True)
class ArchiveFile:
    """One file of a dataset release; ``extract`` False copies it into the dataset folder as is."""

    filename: str
    urls: tuple[str, ...]
    checksum: Checksum | None
    extract: bool = True


@dataclass(frozen=True)
class OptionSpec:
    """One dataset option: its default and its kind (``bool``, ``positive_int``,
    ``positive_int_or_null`` or ``string_list``)."""

    default: Any
    kind: str
    description: str


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the pipeline needs to know about one dataset.

    ``kind`` is ``archive`` (download or manual archives), ``generated`` (written by
    ``eet.data.synthetic``) or ``fashion_mnist``. ``extract_dir`` is the folder inside the configured
    root that archives are extracted into, ``layout_dir`` the folder that the parser reads.
    """

    name: str
    title: str
    kind: str
    homepage: str
    licence: str
    num_classes: int
    train_count: int
    test_count: int
    parser: Callable[[Path, dict, int], pd.DataFrame]
    label_rule: str
    layout_dir: str = "."
    extract_dir: str = "."
    archives: tuple[ArchiveFile, ...] = ()
    manual_instructions: str = ""
    options: dict[str, OptionSpec] = field(default_factory=dict)
    counts_from_options: Callable[[dict], dict] | None = None

    def resolve_options(self, options: dict | None) -> dict:
        """Return the options with defaults filled in; raise ValueError naming a bad key or value."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ValueError(
                f"unknown option(s) {unknown} for dataset {self.name!r}; known options: {known}. "
                f"Fix datasets.{self.name}.options in the config."
            )
        resolved = {}
        for key, spec in self.options.items():
            value = options.get(key, spec.default)
            _check_option(self.name, key, value, spec)
            resolved[key] = value
        return resolved

    def expected_counts(self, options: dict) -> dict:
        """Return the expected ``classes``, ``train`` and ``test`` counts for resolved ``options``."""
        if self.counts_from_options is not None:
            return self.counts_from_options(options)
        return {"classes": self.num_classes, "train": self.train_count, "test": self.test_count}


def _check_option(dataset: str, key: str, value: Any, spec: OptionSpec) -> None:
    where = f"datasets.{dataset}.options.{key}"
    if spec.kind == "bool":
        valid = isinstance(value, bool)
        wanted = "true or false"
    elif spec.kind in ("positive_int", "positive_int_or_null"):
        valid = (value is None and spec.kind == "positive_int_or_null") or (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        )
        wanted = "a positive integer" + (" or null" if spec.kind == "positive_int_or_null" else "")
    elif spec.kind == "string_list":
        valid = value is None or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        wanted = "a list of strings or null"
    else:
        raise ValueError(f"option {where} has unknown kind {spec.kind!r}")
    if not valid:
        raise ValueError(f"invalid value {value!r} for {where}: expected {wanted} ({spec.description})")


def _synthetic_counts(options: dict) -> dict:
    classes = options["num_classes"]
    return {"classes": classes, "train": classes * options["train_per_class"], "test": classes * options["test_per_class"]}


def _fashion_mnist_counts(options: dict) -> dict:
    from eet.data.fashion_mnist import TEST_PER_CLASS, TRAIN_PER_CLASS

    train_cap = options["train_per_class"] or TRAIN_PER_CLASS
    test_cap = options["test_per_class"] or TEST_PER_CLASS
    return {"classes": 10, "train": 10 * min(train_cap, TRAIN_PER_CLASS), "test": 10 * min(test_cap, TEST_PER_CLASS)}


# VegFru's paper gives 29,200 train, 14,600 val and 116,931 test images over 292 classes.
_VEGFRU_VAL_COUNT = 14_600


def _vegfru_counts(options: dict) -> dict:
    train = 29_200 + (_VEGFRU_VAL_COUNT if options["merge_val"] else 0)
    return {"classes": 292, "train": train, "test": 116_931}


_DOGS_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs/"

_SPECS = [
    DatasetSpec(
        name="cub200",
        title="CUB-200-2011",
        kind="archive",
        homepage="https://www.vision.caltech.edu/datasets/cub_200_2011/",
        licence="Research and education use; images come from Flickr. Read the terms on the homepage.",
        num_classes=200,
        train_count=5_994,
        test_count=5_794,
        parser=parsers.parse_cub,
        label_rule="class ids of classes.txt (1..200) sorted, mapped to 0..199",
        layout_dir="CUB_200_2011",
        archives=(
            ArchiveFile(
                "CUB_200_2011.tgz",
                ("https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",),
                Checksum("md5", "97eceeb196236b17998738112f37df78"),
            ),
        ),
        manual_instructions="Download CUB_200_2011.tgz from https://data.caltech.edu/records/65de6-vp158.",
    ),
    DatasetSpec(
        name="stanford_cars",
        title="Stanford Cars",
        kind="archive",
        homepage="https://ai.stanford.edu/~jkrause/cars/car_dataset.html (offline)",
        licence="Research use (ImageNet-style terms). The official site no longer serves the files.",
        num_classes=196,
        train_count=8_144,
        test_count=8_041,
        parser=parsers.parse_stanford_cars,
        label_rule="1-based 'class' field of the annotations (1..196) minus one",
        layout_dir="stanford_cars",
        extract_dir="stanford_cars",
        archives=(
            ArchiveFile("car_devkit.tgz", (), Checksum("md5", "c3b158d763b6e2245038c8ad08e45376")),
            ArchiveFile("cars_train.tgz", (), Checksum("md5", "065e5b463ae28d29e77c1b4b166cfe61")),
            ArchiveFile("cars_test.tgz", (), Checksum("md5", "4ce7ebf6a94d07f1952d94dd34c4d501")),
            ArchiveFile(
                "cars_test_annos_withlabels.mat", (), Checksum("md5", "b0a2b23655a3edd16d84508592a98d10"), extract=False
            ),
        ),
        manual_instructions=(
            "The official Stanford Cars site is gone; fetch the original release file from a mirror "
            "(the md5 identifies the original), or extract a copy you have into <root>/stanford_cars/ "
            "with devkit/, cars_train/, cars_test/ and cars_test_annos_withlabels.mat."
        ),
    ),
    DatasetSpec(
        name="fgvc_aircraft",
        title="FGVC-Aircraft 2013b (variant level)",
        kind="archive",
        homepage="https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/",
        licence="Non-commercial research use only; images belong to their photographers.",
        num_classes=100,
        train_count=6_667,
        test_count=3_333,
        parser=parsers.parse_fgvc_aircraft,
        label_rule="line order of data/variants.txt (100 variants); train = trainval",
        layout_dir="fgvc-aircraft-2013b",
        archives=(
            ArchiveFile(
                "fgvc-aircraft-2013b.tar.gz",
                ("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",),
                Checksum("md5", "d4acdd33327262359767eeaa97a4f732"),
            ),
        ),
        manual_instructions="Download fgvc-aircraft-2013b.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/.",
    ),
    DatasetSpec(
        name="nabirds",
        title="NABirds",
        kind="archive",
        homepage="https://dl.allaboutbirds.org/nabirds",
        licence="Cornell Lab of Ornithology terms of use; the download needs accepting them on the homepage.",
        num_classes=555,
        train_count=23_929,
        test_count=24_633,
        parser=parsers.parse_nabirds,
        label_rule="distinct class ids of image_class_labels.txt (555 leaves) sorted, mapped to 0..554",
        layout_dir="nabirds",
        archives=(ArchiveFile("nabirds.tar.gz", (), Checksum("md5", "df21a9e4db349a14e2b08adfd45873bd")),),
        manual_instructions="NABirds is licence-gated: accept the terms at https://dl.allaboutbirds.org/nabirds and download nabirds.tar.gz.",
    ),
    DatasetSpec(
        name="food101",
        title="Food-101",
        kind="archive",
        homepage="https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/",
        licence="Images from foodspotting.com under their terms; research use.",
        num_classes=101,
        train_count=75_750,
        test_count=25_250,
        parser=parsers.parse_food101,
        label_rule="line order of meta/classes.txt",
        layout_dir="food-101",
        archives=(
            ArchiveFile(
                "food-101.tar.gz",
                ("http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz",),
                Checksum("md5", "85eeb15f3717b99a5da872d97d918f87"),
            ),
        ),
        manual_instructions="Download food-101.tar.gz from https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/.",
    ),
    DatasetSpec(
        name="vegfru",
        title="VegFru",
        kind="archive",
        homepage="https://github.com/ustc-vim/vegfru",
        licence="Research use; distributed through links on the homepage.",
        num_classes=292,
        train_count=29_200,
        test_count=116_931,
        parser=parsers.parse_vegfru,
        label_rule="0-based labels of vegfru_list/*.txt, checked to lie in 0..291",
        layout_dir="vegfru-dataset",
        # NOTE: VegFru publishes no checksum and its archives differ between mirrors, so the
        # extracted folder is checked by its file lists and counts instead.
        manual_instructions=(
            "VegFru has no automatic download: fetch the dataset from the links at "
            "https://github.com/ustc-vim/vegfru and extract it so that <root>/vegfru-dataset/ holds "
            "veg200_images/, fru92_images/ and vegfru_list/."
        ),
        options={"merge_val": OptionSpec(False, "bool", "add vegfru_val.txt to the training split")},
        counts_from_options=_vegfru_counts,
    ),
    DatasetSpec(
        name="stanford_dogs",
        title="Stanford Dogs",
        kind="archive",
        homepage="http://vision.stanford.edu/aditya86/ImageNetDogs/",
        licence="ImageNet images; research and education use under ImageNet's terms.",
        num_classes=120,
        train_count=12_000,
        test_count=8_580,
        parser=parsers.parse_stanford_dogs,
        label_rule="1-based labels of train_list.mat/test_list.mat (1..120) minus one",
        archives=(
            ArchiveFile("images.tar", (_DOGS_URL + "images.tar",), Checksum("md5", "1bb1f2a596ae7057f99d7d75860002ef")),
            ArchiveFile("lists.tar", (_DOGS_URL + "lists.tar",), Checksum("md5", "edbb9f16854ec66506b5f09b583e0656")),
        ),
        manual_instructions=f"Download images.tar and lists.tar from {_DOGS_URL}.",
    ),
    DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        kind="fashion_mnist",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        licence="MIT licence (Zalando Research).",
        num_classes=10,
        train_count=60_000,
        test_count=10_000,
        parser=parsers.parse_fashion_mnist,
        label_rule="idx labels 0..9 as stored",
        options={
            "train_per_class": OptionSpec(None, "positive_int_or_null", "training images kept per class, null keeps all 6,000"),
            "test_per_class": OptionSpec(None, "positive_int_or_null", "test images kept per class, null keeps all 1,000"),
            "mirrors": OptionSpec(None, "string_list", "folders and URL prefixes searched in order; null uses the defaults"),
        },
        counts_from_options=_fashion_mnist_counts,
    ),
    DatasetSpec(
        name="synthetic_cub",
        title="Generated fine-grained birds (CUB-200-2011 layout)",
        kind="generated",
        homepage="eet/data/synthetic.py",
        licence="Generated by this project; no third-party content.",
        num_classes=10,
        train_count=400,
        test_count=300,
        parser=parsers.parse_cub,
        label_rule="class ids of classes.txt sorted, mapped to 0..C-1",
        options={
            "num_classes": OptionSpec(10, "positive_int", "number of generated classes"),
            "train_per_class": OptionSpec(40, "positive_int", "training images per class"),
            "test_per_class": OptionSpec(30, "positive_int", "test images per class"),
            "image_size": OptionSpec(64, "positive_int", "side of the square images in pixels"),
        },
        counts_from_options=_synthetic_counts,
    ),
]

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def get_dataset(name: str) -> DatasetSpec:
    """Return the registry entry for ``name``; raise KeyError listing the known names otherwise."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]
