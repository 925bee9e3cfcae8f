"""Benchmark command lines run on a tiny model on the CPU, as a user runs them."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from eet.bench.train_step import time_train_steps

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "name": "vit_small_patch16_224", "img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 4,
    "num_heads": 3, "pretrained_file": None,
}
CONFIG = {
    "bits": [16],
    "model": {"teacher": TINY, "student": {**TINY, "prune_blocks": [1, 3], "keep_counts": [8, 2]}},
    "loss": {"ce_weight": 0.1, "hash_weight": 1.0, "dkt_weight": 1.0},
    "drg": {"num_patches": 2, "swap_row_col": False},
}


def run_script(*args):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=300,
    )


@pytest.fixture()
def config_file(tmp_path):
    # The default workflow config with the tiny models, as a user would edit it.
    default = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**default, **CONFIG}))
    return path


@pytest.mark.slow
def test_bench_latency_writes_table(tmp_path, config_file):
    out_csv = tmp_path / "latency.csv"

    result = run_script(
        "benchmarks/bench_latency.py", "--config", str(config_file), "--batch-sizes", "1", "2",
        "--warmup", "1", "--iterations", "2", "3", "--models", "vit", "eet", "eet_explicit",
        "--out", str(out_csv),
    )

    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out_csv)
    assert len(table) == 6
    assert list(table["iterations"]) == [2, 2, 2, 3, 3, 3]
    assert "| eet_explicit |" in result.stdout


@pytest.mark.slow
def test_bench_fast_path_writes_table(tmp_path, config_file):
    out_csv = tmp_path / "fast_path.csv"

    result = run_script(
        "benchmarks/bench_fast_path.py", "--config", str(config_file), "--batch-sizes", "1", "2",
        "--rounds", "3", "--warmup", "1", "--out", str(out_csv),
    )

    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out_csv)
    assert list(table["batch_size"]) == [1, 2]
    assert list(table["rounds"]) == [3, 3]


@pytest.mark.slow
def test_bench_fast_path_rejects_mismatched_rounds(config_file):
    result = run_script(
        "benchmarks/bench_fast_path.py", "--config", str(config_file), "--batch-sizes", "1", "2",
        "--rounds", "3", "4", "5",
    )

    assert result.returncode == 2
    assert "--rounds has 3 numbers for 2 batch sizes" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("device", ["tpu", "cuda:0"])
def test_bench_fast_path_rejects_unusable_device(device):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_script("benchmarks/bench_fast_path.py", "--device", device)

    assert result.returncode == 2
    assert f"argument --device: {device!r}" in result.stderr


@pytest.mark.slow
def test_bench_block_tokens_prints_both_tables():
    result = run_script(
        "benchmarks/bench_block_tokens.py", "--batch-sizes", "1", "--rounds", "2", "--warmup", "1",
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if line.startswith("|") and "---" not in line]
    table_cells = [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]
    tokens = [cells[1] for cells in table_cells if cells[0] == "1" and cells[1].isdigit()]
    models = [cells[1] for cells in table_cells if cells[0] == "1" and not cells[1].isdigit()]
    assert tokens == ["197", "99", "50", "13"]
    assert models == ["vit", "eet_fixed_selection", "eet"]


@pytest.mark.slow
def test_bench_statistics_kernels_prints_rule_choice():
    result = run_script(
        "benchmarks/bench_statistics_kernels.py", "--batch-sizes", "1", "--rounds", "1",
        "--warmup", "0",
    )

    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| vit_s16_224")]
    picks = [row.split("|")[-2].strip() for row in rows]
    assert picks == ["fused", "explicit", "explicit"]


@pytest.mark.slow
def test_bench_train_step_writes_table(tmp_path, config_file):
    out_csv = tmp_path / "train_step.csv"

    result = run_script(
        "benchmarks/bench_train_step.py", "--config", str(config_file), "--batch-size", "2",
        "--warmup", "1", "--iterations", "2", "--out", str(out_csv),
    )

    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out_csv)
    assert list(table["variant"]) == ["vit", "eet"]
    assert (table["median_ms"] > 0).all()


def test_train_step_single_variant_row():
    table = time_train_steps(CONFIG, "cpu", batch_size=2, variants=("eet",), warmup=0, iterations=1)

    assert table.loc[0, "step_ratio"] == 1.0
    assert table.loc[0, "image_size"] == 32


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_rejects_missing_cuda(tmp_path):
    result = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", str(tmp_path / "out")], cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 1
    assert "sees no CUDA device" in result.stderr
    assert not (tmp_path / "out").exists()
