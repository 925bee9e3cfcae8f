import json

import pandas as pd
import pytest

from eet.report.tables import collect_results, map_table, write_table


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
