"""Hash-code extraction and retrieval evaluation of one cell (dataset x bits x variant).

Query set: the official test split. Database: the official training split. Two protocols:
- ``asymmetric`` (the protocol of the EET paper): query codes = sign(student(test image)); database codes = the
  label-derived target codes of the training images.
- ``symmetric``: database codes = sign(student(training image under the test transform)).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from eet import tracking
from eet.atomic import atomic_output
from eet.hashing.metrics import evaluate_retrieval
from eet.hashing.packing import pack_codes
from eet.train.data import SplitImageDataset, make_loader, split_rows, eval_transform
from eet.train.checkpoint import load_checkpoint
from eet.train.loop import load_model, select_device
from eet.train.variants import get_variant

logger = logging.getLogger(__name__)

PROTOCOLS = ("asymmetric", "symmetric")


@torch.inference_mode()
def compute_hash_outputs(model: torch.nn.Module, rows: pd.DataFrame, bits: int, img_size: int,
                         batch_size: int, device: torch.device, desc: str) -> np.ndarray:
    """Return the (n, bits) real hash outputs of ``rows`` under the test transform."""
    loader = make_loader(SplitImageDataset(rows, eval_transform(img_size)), batch_size, shuffle=False,
                         num_workers=0, seed=0)
    outputs = []
    for images, _, _ in tqdm(loader, desc=desc, unit="batch", disable=None, leave=False):
        outputs.append(model(images.to(device)).hashes[bits].float().cpu().numpy())
    return np.concatenate(outputs)


def extract_codes(model_path: Path, table: pd.DataFrame, target_codes: np.ndarray, bits: int,
                  config: Mapping[str, Any], out_path: Path) -> None:
    """Write packed query, database and target codes with their labels to ``out_path`` (.npz)."""
    device = select_device(config["train"]["device"])
    model = load_model(model_path).to(device)
    img_size = int(config["model"]["student"]["img_size"])
    batch_size = int(config["evaluate"]["batch_size"])
    query_rows, database_rows = split_rows(table, "test"), split_rows(table, "train")
    if target_codes.shape != (len(database_rows), bits):
        raise ValueError(
            f"target codes have shape {target_codes.shape}, expected ({len(database_rows)}, {bits}); "
            "rebuild them with the target_codes rule"
        )

    query = compute_hash_outputs(model, query_rows, bits, img_size, batch_size, device, "query codes")
    database = compute_hash_outputs(model, database_rows, bits, img_size, batch_size, device, "database codes")
    arrays = {
        "bits": np.array(bits),
        "query_codes": pack_codes(query),
        "query_labels": query_rows["label"].to_numpy(np.int64),
        "query_image_ids": query_rows["image_id"].to_numpy(np.int64),
        "database_codes": pack_codes(database),
        "target_codes": pack_codes(target_codes.astype(np.float32)),
        "database_labels": database_rows["label"].to_numpy(np.int64),
        "database_image_ids": database_rows["image_id"].to_numpy(np.int64),
    }
    _save_npz_atomically(arrays, out_path)
    logger.info("wrote %d query and %d database codes of %d bits to %s", len(query), len(database), bits, out_path)


def evaluate_codes(codes_path: Path, config: Mapping[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Score both protocols; return the metrics per protocol and the precision-recall curves."""
    codes = np.load(codes_path)
    bits = int(codes["bits"])
    settings = config["evaluate"]
    database_by_protocol = {"asymmetric": codes["target_codes"], "symmetric": codes["database_codes"]}
    metrics: dict[str, Any] = {}
    curves = []
    for protocol in PROTOCOLS:
        started = time.perf_counter()
        result = evaluate_retrieval(
            codes["query_codes"], codes["query_labels"], database_by_protocol[protocol], codes["database_labels"],
            bits, ks=tuple(settings["topk"]), max_memory_bytes=int(settings["max_memory_gb"] * 2**30),
        )
        values = result.to_dict()
        values["evaluation_seconds"] = time.perf_counter() - started
        metrics[protocol] = values
        curve = result.pr_curve.copy()
        curve.insert(0, "protocol", protocol)
        curves.append(curve)
        logger.info(
            "%s protocol: mAP %.4f, tie-aware mAP %.4f, %d queries without relevant items, %.2f s",
            protocol, values["map"], values["map_tie_aware"], values["queries_without_relevant"],
            values["evaluation_seconds"],
        )
    return metrics, pd.concat(curves, ignore_index=True)


def evaluate_cell(codes_path: Path, model_path: Path, latency_paths: list[Path], variant: str,
                  config: Mapping[str, Any], metrics_path: Path, pr_curve_path: Path) -> None:
    """Score one cell, write its metrics and PR curve, and log both with its latency to MLflow."""
    metrics, curves = evaluate_codes(codes_path, config)
    model_file = load_checkpoint(model_path)
    run_id = model_file["run_id"]
    latency = latency_of_variant(latency_paths, variant)
    write_json_atomically(
        {"protocols": metrics, "latency": latency, "variant": variant, "bits": int(np.load(codes_path)["bits"]),
         "mlflow_run_id": run_id},
        metrics_path,
    )
    with atomic_output(pr_curve_path) as temporary:
        curves.to_csv(temporary, index=False)

    uri = tracking.resolve_tracking_uri(config)
    flat = {f"{protocol}.{key}": value for protocol, values in metrics.items() for key, value in values.items()}
    flat.update({f"latency.{row['device']}.{row['dtype']}.bs{row['batch_size']}.median_ms": row["median_ms"] for row in latency})
    tracking.log_metrics(uri, run_id, flat)
    tracking.log_artifact(uri, run_id, Path(metrics_path))
    tracking.log_artifact(uri, run_id, Path(pr_curve_path))
    tracking.end_run(uri, run_id)
    logger.info("logged %d metrics of %s to MLflow run %s", len(flat), codes_path, run_id)


def latency_of_variant(latency_paths: list[Path], variant: str) -> list[dict[str, Any]]:
    """Return the latency rows of the architecture a variant runs: ``vit`` unpruned, every other pruned."""
    model_name = "eet" if get_variant(variant).prune else "vit"
    rows = []
    for path in latency_paths:
        table = pd.read_csv(path)
        selected = table[table["model"] == model_name]
        rows.extend(selected[["device", "dtype", "batch_size", "median_ms", "p90_ms", "images_per_s"]].to_dict("records"))
    return rows


def save_npy_atomically(array: np.ndarray, path: Path) -> None:
    """Save one array with np.save to a temporary name, then rename it to ``path``."""
    with atomic_output(path) as temporary:
        np.save(temporary, array)


def write_json_atomically(values: Mapping[str, Any], path: Path) -> None:
    """Write ``values`` as indented JSON to a temporary name, then rename it to ``path``."""
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def _save_npz_atomically(arrays: Mapping[str, np.ndarray], path: Path) -> None:
    with atomic_output(path) as temporary:
        np.savez(temporary, **arrays)
