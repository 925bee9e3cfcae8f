"""Argument types of the benchmark command lines (eet.bench.cli)."""

import argparse

import pytest
import torch

from eet.bench.cli import (
    device,
    existing_file,
    non_negative_int,
    positive_int,
    rounds_per_batch_size,
)


def test_positive_int_accepts_one():
    assert positive_int("1") == 1


@pytest.mark.parametrize("text", ["0", "-5"])
def test_positive_int_rejects_below_one(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"'{text}' is not a positive integer"):
        positive_int(text)


def test_positive_int_rejects_non_integer():
    with pytest.raises(argparse.ArgumentTypeError, match="'2.5' is not an integer"):
        positive_int("2.5")


def test_non_negative_int_accepts_zero():
    assert non_negative_int("0") == 0


def test_non_negative_int_rejects_negative():
    with pytest.raises(argparse.ArgumentTypeError, match="'-1' is negative"):
        non_negative_int("-1")


@pytest.mark.parametrize("text", ["gpu", "meta", "tpu:0"])
def test_device_rejects_unknown_device(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"'{text}' is not cpu, cuda"):
        device(text)


def test_device_rejects_cuda_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(argparse.ArgumentTypeError, match="sees no CUDA device"):
        device("cuda:0")


def test_existing_file_rejects_missing_path(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        existing_file(str(missing))


def test_rounds_per_batch_size_repeats_one_number():
    parser = argparse.ArgumentParser()

    assert rounds_per_batch_size(parser, [7], [1, 64]) == [7, 7]


def test_rounds_per_batch_size_rejects_mismatch(capsys):
    parser = argparse.ArgumentParser(prog="bench")
    with pytest.raises(SystemExit):
        rounds_per_batch_size(parser, [1, 2], [1])

    assert "--rounds has 2 numbers for 1 batch size;" in capsys.readouterr().err
