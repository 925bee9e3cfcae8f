"""Argument types of the benchmark command lines (eet.bench.cli)."""

import argparse
from pathlib import Path

import pytest
import torch
import yaml

from eet.bench.cli import (
    device,
    existing_file,
    non_negative_int,
    output_file,
    positive_int,
    rounds_per_batch_size,
    workflow_config,
)

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


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


def test_rounds_per_batch_size_names_given_option(capsys):
    parser = argparse.ArgumentParser(prog="bench")
    with pytest.raises(SystemExit):
        rounds_per_batch_size(parser, [1, 2, 3], [1, 64], option="--iterations")

    assert "--iterations has 3 numbers for 2 batch sizes;" in capsys.readouterr().err


def test_output_file_rejects_folder(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder; give the path of a file"):
        output_file(str(tmp_path))


def test_output_file_accepts_new_path(tmp_path):
    assert output_file(str(tmp_path / "new" / "table.csv")) == tmp_path / "new" / "table.csv"


def test_workflow_config_without_path_is_none():
    assert workflow_config(argparse.ArgumentParser(), None) is None


def test_workflow_config_fills_defaults():
    config = workflow_config(argparse.ArgumentParser(), DEFAULT_CONFIG)

    assert config["latency"]["num_classes"] == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just a string\n", "is a YAML str, not a mapping of keys"),
        ("bits: [8\n", "expected ',' or ']'"),
        ("bits: [8]\n", "(top level): 'datasets' is a required property"),
    ],
)
def test_workflow_config_rejects_invalid_file(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    with pytest.raises(SystemExit) as raised:
        workflow_config(argparse.ArgumentParser(prog="bench"), path)

    error = capsys.readouterr().err
    assert raised.value.code == 2
    assert f"--config '{path}' is invalid" in error
    assert message in error


def test_workflow_config_rejects_unknown_timm_name(tmp_path, capsys):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["model"]["teacher"]["name"] = "vit_nonexistent"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    with pytest.raises(SystemExit):
        workflow_config(argparse.ArgumentParser(prog="bench"), path)

    assert "model.teacher.name 'vit_nonexistent' is not a timm model" in capsys.readouterr().err


def test_workflow_config_checks_pretrained_files_when_asked(tmp_path, capsys):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["model"]["student"]["pretrained_file"] = str(tmp_path / "absent.pth")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    assert workflow_config(argparse.ArgumentParser(), path)["model"]["student"]["pretrained_file"]
    with pytest.raises(SystemExit):
        workflow_config(argparse.ArgumentParser(prog="bench"), path, check_files=True)

    assert "model.student.pretrained_file" in capsys.readouterr().err
