"""Seaborn plots: mAP against code length, and latency against mAP."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from eet.atomic import atomic_output  # noqa: E402

logger = logging.getLogger(__name__)


def plot_map_vs_bits(results: pd.DataFrame, out_path: Path) -> None:
    """Plot mAP against bits: a panel per dataset, a line per variant, solid or dashed per protocol."""
    data = results.assign(mAP=100 * results["map"])
    grid = sns.relplot(
        data=data, x="bits", y="mAP", hue="variant", style="protocol", col="dataset", kind="line",
        markers=True, dashes=True, height=3.2, aspect=1.1, facet_kws={"sharey": False},
    )
    grid.set_axis_labels("code length (bits)", "mAP (%)")
    grid.set(xticks=sorted(data["bits"].unique()))
    _save(grid, out_path)


def plot_latency_vs_map(results: pd.DataFrame, latency: pd.DataFrame, out_path: Path) -> None:
    """Plot paper-protocol mAP against median latency of the variant's architecture, per dataset and batch size.

    Uses float32 rows of the first device in the latency table. ``vit`` runs the unpruned student;
    every other variant runs the pruned one.
    """
    device = latency["device"].iloc[0]
    timing = latency[(latency["device"] == device) & (latency["dtype"] == "float32")]
    timing = timing[timing["model"].isin(["vit", "eet"])][["model", "batch_size", "median_ms"]]
    scores = results[results["protocol"] == "asymmetric"].copy()
    scores["model"] = scores["variant"].where(scores["variant"] == "vit", "eet")
    data = scores.merge(timing, on="model")
    data["mAP"] = 100 * data["map"]
    grid = sns.relplot(
        data=data, x="median_ms", y="mAP", hue="variant", size="bits", col="batch_size", row="dataset",
        kind="scatter", height=3.0, aspect=1.1, facet_kws={"sharex": False, "sharey": False},
    )
    grid.set_axis_labels(f"median latency on {device}, float32 (ms)", "mAP, paper protocol (%)")
    _save(grid, out_path)


def _save(grid: sns.FacetGrid, out_path: Path) -> None:
    with atomic_output(out_path) as temporary:
        grid.savefig(temporary, dpi=120)
    logger.info("wrote %s", out_path)
