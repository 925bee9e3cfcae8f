import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eet.config import check_config, load_config

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "config" / "config.yaml"


def _write(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _default() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def test_schema_accepts_default_config():
    config = load_config(DEFAULT_CONFIG)
    assert config["bits"] == [16, 32, 48, 64]


def test_schema_fills_defaults():
    config = load_config(DEFAULT_CONFIG)
    assert config["latency"]["cuda_dtypes"] == ["float32", "bfloat16"]


def test_schema_rejects_unknown_key(tmp_path):
    values = _default()
    values["train"]["teacher"]["epochz"] = 3
    with pytest.raises(ValueError, match="epochz"):
        load_config(_write(tmp_path, values))


def test_schema_rejects_wrong_type(tmp_path):
    values = _default()
    values["bits"] = ["sixteen"]
    with pytest.raises(ValueError, match="sixteen"):
        load_config(_write(tmp_path, values))


def test_schema_rejects_unknown_variant(tmp_path):
    values = _default()
    values["variants"] = ["vit", "eet", "tome"]
    with pytest.raises(ValueError, match="tome"):
        load_config(_write(tmp_path, values))


def test_paper_config_is_valid():
    config = load_config(REPO / "config" / "paper.yaml")
    assert config["model"]["student"]["keep_counts"] == [98, 49, 12]


def test_workflow_fails_on_unknown_key_before_jobs(tmp_path):
    values = copy.deepcopy(_default())
    values["mlflow"]["trackng_uri"] = "sqlite:///x.db"
    config_path = _write(tmp_path, values)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile", str(config_path),
         "-n", "--cores", "1", "all_tables"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "trackng_uri" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def _checked(tmp_path, values: dict) -> None:
    check_config(load_config(_write(tmp_path, values)))


def test_check_rejects_unregistered_dataset(tmp_path):
    values = _default()
    values["datasets"]["imagenet"] = {"root": "x"}
    with pytest.raises(ValueError, match="datasets.imagenet: unknown dataset 'imagenet'; known datasets: cub200"):
        _checked(tmp_path, values)


def test_check_rejects_unknown_dataset_option(tmp_path):
    values = _default()
    values["datasets"]["fashion_mnist"]["options"]["train_per_klass"] = 3
    with pytest.raises(ValueError, match="train_per_klass"):
        _checked(tmp_path, values)


def test_check_rejects_increasing_keep_counts(tmp_path):
    values = _default()
    values["model"]["student"]["keep_counts"] = [16, 32, 4]
    with pytest.raises(ValueError, match="model.student.keep_counts"):
        _checked(tmp_path, values)


def test_check_rejects_missing_pretrained_file(tmp_path):
    values = _default()
    values["model"]["teacher"]["pretrained_file"] = str(tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="model.teacher.pretrained_file .*absent.safetensors' does not exist"):
        _checked(tmp_path, values)


def test_check_skips_pretrained_file_when_asked(tmp_path):
    values = _default()
    values["model"]["teacher"]["pretrained_file"] = str(tmp_path / "absent.safetensors")
    check_config(load_config(_write(tmp_path, values)), check_files=False)


def test_check_rejects_image_size_mismatch(tmp_path):
    values = _default()
    values["model"]["teacher"]["img_size"] = 96
    with pytest.raises(ValueError, match=r"model.teacher.img_size \(96\) must equal model.student.img_size \(64\)"):
        _checked(tmp_path, values)


def test_check_rejects_too_many_drg_patches(tmp_path):
    values = _default()
    values["drg"] = {"num_patches": 65}
    with pytest.raises(ValueError, match="drg.num_patches is 65, but an image has only 64 patches"):
        _checked(tmp_path, values)


def test_workflow_fails_on_unregistered_dataset_before_jobs(tmp_path):
    values = _default()
    values["datasets"]["imagenet"] = {"root": str(tmp_path / "imagenet")}
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
         str(_write(tmp_path, values)), "--cores", "1", "all_tables"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "unknown dataset 'imagenet'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_schema_rejects_bits_above_evaluator_limit(tmp_path):
    values = _default()
    values["bits"] = [16, 300]
    with pytest.raises(ValueError, match="300"):
        load_config(_write(tmp_path, values))


def test_load_rejects_config_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- a list\n- of items\n")

    with pytest.raises(ValueError, match=r"config '.*config\.yaml' is a YAML list, not a mapping"):
        load_config(path)


def test_schema_rejects_missing_datasets(tmp_path):
    values = _default()
    del values["datasets"]

    with pytest.raises(ValueError, match=r"\(top level\): 'datasets' is a required property"):
        load_config(_write(tmp_path, values))


def _snakemake(tmp_path, config_path, *flags):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "all_tables", "-s", str(REPO / "Snakefile"), "--cores", "1",
         *flags, "--configfile", str(config_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_workflow_dry_run_plans_without_pretrained_file(tmp_path):
    values = _default()
    values["model"]["teacher"]["pretrained_file"] = str(tmp_path / "absent.safetensors")

    result = _snakemake(tmp_path, _write(tmp_path, values), "-n")

    assert result.returncode == 0, result.stderr
    assert "train_teacher" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_workflow_stops_on_missing_pretrained_file_before_jobs(tmp_path):
    values = _default()
    values["model"]["student"]["pretrained_file"] = str(tmp_path / "absent.safetensors")

    result = _snakemake(tmp_path, _write(tmp_path, values))

    assert result.returncode != 0
    assert "model.student.pretrained_file" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
