import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError

from eet.config import load_config

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
    with pytest.raises(WorkflowError, match="epochz"):
        load_config(_write(tmp_path, values))


def test_schema_rejects_wrong_type(tmp_path):
    values = _default()
    values["bits"] = ["sixteen"]
    with pytest.raises(WorkflowError, match="sixteen"):
        load_config(_write(tmp_path, values))


def test_schema_rejects_unknown_variant(tmp_path):
    values = _default()
    values["variants"] = ["vit", "eet", "tome"]
    with pytest.raises(WorkflowError, match="tome"):
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
