"""Latency table on a tiny model, FLOP counts and the alternating timing loop."""

import math

import pandas as pd
import pytest
import torch
from torch import nn

from eet.bench.flops import count_flops_per_image, count_parameters
from eet.bench.latency import (
    COLUMNS,
    MODEL_NAMES,
    build_latency_models,
    measure_latency,
    paired_comparison,
    time_models,
    write_latency_report,
)

TINY = {
    "name": "vit_small_patch16_224", "img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 4,
    "num_heads": 3, "pretrained_file": None,
}


def tiny_config(reference_timm=False):
    return {
        "bits": [16, 32],
        "model": {
            "teacher": dict(TINY),
            "student": {**TINY, "prune_blocks": [1, 3], "keep_counts": [8, 2]},
        },
        "latency": {
            "batch_sizes": [1, 3], "threads": 2, "warmup": 1, "iterations": 3,
            "cuda_batch_sizes": [1], "cuda_dtypes": ["float32"], "reference_timm": reference_timm,
            "num_classes": 7,
        },
    }


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out_csv = tmp_path_factory.mktemp("latency") / "cpu.csv"
    table = write_latency_report(tiny_config(), "cpu", out_csv)
    return out_csv, table


def test_latency_report_has_every_row(tiny_report):
    out_csv, table = tiny_report

    written = pd.read_csv(out_csv)
    expected_models = [name for name in MODEL_NAMES if name != "timm_vit_s16_224"]
    assert list(written.columns) == list(COLUMNS)
    assert len(written) == len(table) == len(expected_models) * 2
    for batch_size in (1, 3):
        rows = written[written["batch_size"] == batch_size]
        assert sorted(rows["model"]) == sorted(expected_models), f"batch {batch_size}"
    assert not any(path.name.endswith(".tmp") for path in out_csv.parent.iterdir())


def test_latency_report_values_consistent(tiny_report):
    _, table = tiny_report

    vit = table[table["model"] == "vit"]
    eet = table[table["model"] == "eet"]
    assert (table["median_ms"] > 0).all()
    assert (table["p90_ms"] >= table["median_ms"]).all()
    assert (table["threads"] == 2).all()
    assert (table["dtype"] == "float32").all()
    assert (vit["flop_ratio"] == 1.0).all()
    assert (vit["latency_ratio"] == 1.0).all()
    assert (eet["flop_ratio"] < 1.0).all()
    assert table["latency_ratio_timm"].isna().all()
    images_per_s = table["batch_size"] * 1000 / table["median_ms"]
    assert (table["images_per_s"] - images_per_s).abs().max() < 1e-6


def test_latency_columns_include_requested_measures():
    # Median and p90 latency, images/s, FLOPs, parameters and the ratios to both references.
    requested = [
        "median_ms", "p90_ms", "images_per_s", "gflops_per_image", "params", "flop_ratio",
        "latency_ratio", "flop_ratio_timm", "latency_ratio_timm",
    ]

    assert [column for column in requested if column not in COLUMNS] == []


@pytest.mark.slow
def test_latency_timm_reference_row():
    config = tiny_config(reference_timm=True)
    config["latency"]["batch_sizes"] = [1]
    config["latency"]["warmup"] = 0
    config["latency"]["iterations"] = 1

    table = measure_latency(config, "cpu")

    assert list(table["model"]) == list(MODEL_NAMES)
    reference = table[table["model"] == "timm_vit_s16_224"].iloc[0]
    assert reference["img_size"] == 224
    assert reference["latency_ratio_timm"] == 1.0
    assert reference["gflops_per_image"] > 9.0
    assert table["latency_ratio_timm"].notna().all()


def test_latency_iterations_per_batch_size():
    config = tiny_config()
    config["latency"]["iterations"] = [2, 4]

    table = measure_latency(config, "cpu", models=["vit"])

    assert list(table["batch_size"]) == [1, 3]
    assert list(table["iterations"]) == [2, 4]


def test_latency_rejects_iterations_mismatch():
    config = tiny_config()
    config["latency"]["iterations"] = [2, 4, 6]

    with pytest.raises(ValueError, match=r"latency.iterations has 3 counts for the batch sizes \[1, 3\]"):
        measure_latency(config, "cpu", models=["vit"])


def test_latency_rejects_zero_iterations():
    config = tiny_config()
    config["latency"]["iterations"] = 0

    with pytest.raises(ValueError, match=r"latency.iterations must be at least 1, got \[0, 0\]"):
        measure_latency(config, "cpu", models=["vit"])


def test_latency_models_skip_pretrained_file(tmp_path):
    # Latency needs no trained weights, so a checkpoint that is not in place yet does not stop it.
    config = tiny_config()
    config["model"]["student"]["pretrained_file"] = str(tmp_path / "absent.safetensors")

    built = build_latency_models(config, ["vit", "eet"])

    assert list(built) == ["vit", "eet"]


def test_latency_rejects_unknown_model():
    with pytest.raises(ValueError, match=r"unknown latency models \['deit'\]"):
        measure_latency(tiny_config(), "cpu", models=["deit"])


def test_latency_rejects_unknown_dtype():
    config = tiny_config()
    config["latency"]["cuda_dtypes"] = ["float8"]

    with pytest.raises(ValueError, match="latency.cuda_dtypes has 'float8'"):
        measure_latency(config, "cpu", models=["vit"])


def test_latency_rejects_missing_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        measure_latency(tiny_config(), "cuda", models=["vit"])


def test_flops_linear_hand_computed():
    # A 1x1 convolution from 3 to 2 channels on 4x4 pixels (2*3*2*16 = 192 FLOPs) and a linear
    # layer from 32 to 5 features (2*32*5 = 320 FLOPs).
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.Linear(32, 5))

    assert count_flops_per_image(model, 4) == 192 + 320
    assert count_parameters(model) == (3 * 2 + 2) + (32 * 5 + 5)


def test_flops_count_fused_attention():
    # A 4x4 RGB image read as one head of 4 tokens of width 12: q @ k^T and attention @ v are
    # 2 * 4 * 4 * 12 FLOPs each.
    class FusedAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, images):
            tokens = images.reshape(1, 1, 4, 12)
            return torch.nn.functional.scaled_dot_product_attention(tokens, tokens, tokens)

    flops = count_flops_per_image(FusedAttention(), 4)

    assert flops == 2 * (2 * 4 * 4 * 12)


def test_time_models_alternates_rounds():
    calls = []

    class Recorder(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def forward(self, images):
            calls.append(self.name)
            return images

    models = {name: Recorder(name) for name in ("a", "b", "c")}
    inputs = {name: torch.zeros(1) for name in models}

    latencies = time_models(models, inputs, warmup=1, iterations=3, device=torch.device("cpu"))

    assert calls == ["a", "b", "c"] + ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(values) == 3 for values in latencies.values())
    assert all(math.isfinite(value) and value >= 0 for value in latencies["a"])


def test_paired_comparison_hand_computed():
    # Per-round differences -1, 0, -2: median -1, the first model faster in 2 of 3 rounds.
    result = paired_comparison([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])

    assert result["median_difference"] == -1.0
    assert result["first_faster_share"] == pytest.approx(2 / 3)
    assert result["median_ratio"] == pytest.approx(2.0 / 2.0)


def test_paired_comparison_constant_difference_has_point_interval():
    result = paired_comparison([1.0, 4.0, 2.5, 7.0], [1.5, 4.5, 3.0, 7.5])

    assert (result["difference_low"], result["difference_high"]) == (-0.5, -0.5)


def test_paired_comparison_rejects_unequal_rounds():
    with pytest.raises(ValueError, match="3 and 2"):
        paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0])
