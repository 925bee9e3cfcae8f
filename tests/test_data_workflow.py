"""The data rules inside the real workflow: a dry run plans every dataset, a manual one fails early."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from eet.data.registry import DATASETS

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _config_files() -> list[Path]:
    """Return config/paper.yaml when present (it lists every real dataset), else no file (the default config)."""
    paper = REPO / "config" / "paper.yaml"
    return [paper] if paper.is_file() else []


def _merged_config(files: list[Path]) -> dict:
    """Merge ``files`` the way Snakemake does for these keys.

    The Snakefile loads config/config.yaml only when no --configfile is given, so it is the base
    only for an empty ``files``.
    """
    merged = {} if files else yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for path in files:
        extra = yaml.safe_load(path.read_text())
        merged = {**merged, **extra, "datasets": {**merged.get("datasets", {}), **extra.get("datasets", {})}}
    return merged


def _config_with_empty_roots(tmp_path) -> Path:
    """Write an override that points every real dataset (and the configured ones) at empty folders."""
    names = set(DATASETS) | set(_merged_config(_config_files())["datasets"])
    override = {
        "results_dir": str(tmp_path / "results"),
        "resources_dir": str(tmp_path / "resources"),
        "datasets": {name: {"root": str(tmp_path / "empty" / name)} for name in sorted(names)},
        # No ImageNet checkpoints here: train from scratch so the run gets as far as the data.
        "model": {role: {"pretrained_file": None} for role in ("teacher", "student")},
    }
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return path


def _planned_jobs(output: str) -> dict[str, int]:
    jobs = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            jobs[fields[0]] = int(fields[1])
    return jobs


@pytest.mark.slow
def test_dry_run_plans_full_grid(tmp_path):
    override = _config_with_empty_roots(tmp_path)
    files = [*_config_files(), override]
    config = _merged_config(files)
    started = time.monotonic()
    result = subprocess.run(
        [*SNAKEMAKE, "all_tables", "-n", "--quiet", "rules", "--configfile", *map(str, files)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _planned_jobs(result.stdout + result.stderr)
    cells = len(config["datasets"]) * len(config["bits"]) * len(config["variants"])
    assert jobs["prepare_dataset"] == len(config["datasets"])
    assert jobs["split_dataset"] == len(config["datasets"])
    assert jobs["train_student"] == cells
    assert jobs["evaluate"] == cells
    assert elapsed < 60


@pytest.mark.slow
def test_manual_dataset_fails_in_prepare(tmp_path):
    override = _config_with_empty_roots(tmp_path)
    target = str(tmp_path / "results" / "nabirds" / "prepared.json")
    result = subprocess.run(
        [*SNAKEMAKE, target, "--cores", "1", "--configfile", *map(str, [*_config_files(), override])],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    log = (tmp_path / "results" / "logs" / "nabirds" / "prepare_dataset.log").read_text()
    assert result.returncode != 0
    assert "https://dl.allaboutbirds.org/nabirds" in log
    assert str((tmp_path / "resources" / "archives" / "nabirds" / "nabirds.tar.gz").resolve()) in log
