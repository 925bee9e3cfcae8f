"""Result tables of the whole grid: mAP per dataset x bits x variant, and latency per model.

mAP values in the wide tables are percentages (100 x mAP) rounded to two decimals, as retrieval
papers report them. The long table keeps the raw fractions of every metric.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from eet.atomic import atomic_output

logger = logging.getLogger(__name__)

LATENCY_COLUMNS = [
    "model", "device", "device_name", "dtype", "batch_size", "threads", "median_ms", "p90_ms", "images_per_s",
    "gflops_per_image", "params", "flop_ratio", "latency_ratio", "iterations", "torch_version",
]
# Ratios to timm's ViT-S/16, shown after latency_ratio when latency.reference_timm timed it.
TIMM_RATIO_COLUMNS = ["flop_ratio_timm", "latency_ratio_timm"]
MAP_METRICS = {"map": "mAP", "map_tie_aware": "tie-aware mAP"}


def collect_results(cell_dirs: Sequence[Path]) -> pd.DataFrame:
    """Read every cell's metrics.json into one long table, a row per cell and protocol.

    A cell folder is ``<results>/<dataset>/<bits>/<variant>``; the dataset is taken from the path.
    """
    rows = []
    for cell_dir in map(Path, cell_dirs):
        values = json.loads((cell_dir / "metrics.json").read_text())
        for protocol, metrics in values["protocols"].items():
            rows.append({
                "dataset": cell_dir.parent.parent.name, "bits": int(values["bits"]), "variant": values["variant"],
                "protocol": protocol, **metrics,
            })
    if not rows:
        raise ValueError("no cell results to tabulate; check the datasets, bits and variants in the config")
    return pd.DataFrame(rows).sort_values(["dataset", "protocol", "variant", "bits"], ignore_index=True)


def map_table(results: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Return mAP and tie-aware mAP (in %) of one protocol: rows dataset x variant x metric, columns bits."""
    selected = results[results["protocol"] == protocol]
    if selected.empty:
        raise ValueError(f"no results for protocol {protocol!r}; found {sorted(results['protocol'].unique())}")
    melted = selected.melt(
        id_vars=["dataset", "variant", "bits"], value_vars=list(MAP_METRICS), var_name="metric", value_name="value"
    )
    melted["metric"] = melted["metric"].map(MAP_METRICS)
    table = melted.pivot_table(index=["dataset", "variant", "metric"], columns="bits", values="value", aggfunc="first")
    table = (100 * table).round(2)
    table.columns = [f"{bits} bits" for bits in table.columns]
    return table.reset_index()


def latency_table(latency_paths: Sequence[Path]) -> pd.DataFrame:
    """Concatenate the latency CSVs of every device into one table with the standard columns.

    The ratios to timm's ViT-S/16 are included when any row has them.
    """
    frames = [pd.read_csv(path) for path in latency_paths]
    table = pd.concat(frames, ignore_index=True)
    missing = [column for column in LATENCY_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"latency tables {list(map(str, latency_paths))} lack the columns {missing}; rerun measure_latency")
    timm_columns = [
        column for column in TIMM_RATIO_COLUMNS if column in table.columns and table[column].notna().any()
    ]
    position = LATENCY_COLUMNS.index("latency_ratio") + 1
    columns = LATENCY_COLUMNS[:position] + timm_columns + LATENCY_COLUMNS[position:]
    return table[columns].sort_values(["device", "dtype", "batch_size", "model"], ignore_index=True)


def write_table(table: pd.DataFrame, csv_path: Path | None = None, markdown_path: Path | None = None,
                latex_path: Path | None = None, caption: str = "", floatfmt: str = ".2f") -> None:
    """Write ``table`` as CSV, Markdown and LaTeX, each to a temporary name first.

    ``floatfmt`` formats the floats of the Markdown table (CSV keeps full precision).
    """
    if csv_path:
        _write_text(Path(csv_path), table.to_csv(index=False))
    if markdown_path:
        text = (f"{caption}\n\n" if caption else "") + table.to_markdown(index=False, floatfmt=floatfmt) + "\n"
        _write_text(Path(markdown_path), text)
    if latex_path:
        latex = table.to_latex(index=False, float_format="%.2f", caption=caption or None, escape=True)
        _write_text(Path(latex_path), latex)


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)
