import json

import pandas as pd
import pytest

from eet.report.tables import collect_results, latency_table, map_table, write_table


def _cell(root, dataset, bits, variant, asymmetric_map, symmetric_map):
    cell = root / dataset / str(bits) / variant
    cell.mkdir(parents=True)
    metrics = {
        "asymmetric": {"map": asymmetric_map, "map_tie_aware": asymmetric_map - 0.01},
        "symmetric": {"map": symmetric_map, "map_tie_aware": symmetric_map},
    }
    (cell / "metrics.json").write_text(json.dumps({"protocols": metrics, "bits": bits, "variant": variant}))
    return cell


def test_map_table_pivots_bits_in_percent(tmp_path):
    cells = [
        _cell(tmp_path, "cub", 16, "eet", 0.5, 0.4),
        _cell(tmp_path, "cub", 32, "eet", 0.61234, 0.5),
        _cell(tmp_path, "cub", 16, "vit", 0.3, 0.2),
        _cell(tmp_path, "cub", 32, "vit", 0.35, 0.25),
    ]
    table = map_table(collect_results(cells), "asymmetric")
    row = table[(table["variant"] == "eet") & (table["metric"] == "mAP")].iloc[0]
    assert list(table.columns) == ["dataset", "variant", "metric", "16 bits", "32 bits"]
    assert row["16 bits"] == pytest.approx(50.0)
    assert row["32 bits"] == pytest.approx(61.23)


def test_map_table_includes_tie_aware(tmp_path):
    cells = [_cell(tmp_path, "cub", 16, "eet", 0.5, 0.4)]
    table = map_table(collect_results(cells), "asymmetric")
    assert table[table["metric"] == "tie-aware mAP"]["16 bits"].item() == pytest.approx(49.0)


def test_map_table_rejects_missing_protocol(tmp_path):
    results = collect_results([_cell(tmp_path, "cub", 16, "eet", 0.5, 0.4)])
    with pytest.raises(ValueError, match="no results for protocol 'other'"):
        map_table(results, "other")


def test_write_table_formats(tmp_path):
    table = pd.DataFrame({"dataset": ["cub_200"], "16 bits": [50.0]})
    write_table(table, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.tex", caption="Caption.")
    assert (tmp_path / "t.csv").read_text() == "dataset,16 bits\ncub_200,50.0\n"
    assert "| cub_200   |     50.00 |" in (tmp_path / "t.md").read_text()
    assert r"cub\_200 & 50.00 \\" in (tmp_path / "t.tex").read_text()


def _latency_csv(path, timm_ratio):
    rows = []
    for model, ratio in (("vit", 1.0), ("eet", 0.5)):
        rows.append({
            "model": model, "device": "cpu", "device_name": "test CPU", "dtype": "float32",
            "batch_size": 1, "threads": 2, "median_ms": 10 * ratio, "p90_ms": 11 * ratio,
            "images_per_s": 100 / ratio, "gflops_per_image": 4 * ratio, "params": 1000,
            "flop_ratio": ratio, "latency_ratio": ratio, "flop_ratio_timm": timm_ratio,
            "latency_ratio_timm": timm_ratio, "iterations": 30, "torch_version": "2.14.1",
        })
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_latency_table_shows_timm_ratios_when_measured(tmp_path):
    table = latency_table([_latency_csv(tmp_path / "cpu.csv", timm_ratio=0.9)])

    columns = list(table.columns)
    assert columns.index("latency_ratio_timm") == columns.index("latency_ratio") + 2
    assert columns.index("flop_ratio_timm") == columns.index("latency_ratio") + 1
    assert list(table["latency_ratio_timm"]) == [0.9, 0.9]


def test_latency_table_omits_timm_ratios_without_reference(tmp_path):
    table = latency_table([_latency_csv(tmp_path / "cpu.csv", timm_ratio=float("nan"))])

    assert "latency_ratio_timm" not in table.columns
    assert "flop_ratio_timm" not in table.columns
