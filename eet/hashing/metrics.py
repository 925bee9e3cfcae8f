"""Hamming-ranking retrieval metrics: mAP (stable and tie-aware), mAP@k, precision@k, PR curve.

Definitions, for one query with R relevant database items (same class label) among N:

- The ranking sorts the database by Hamming distance and breaks ties by database index.
- AP (mAP@all) is the mean over the R relevant items of precision at their rank
  (relevant items up to that rank / rank). A query with R = 0 has AP 0, counts in every mean and
  is reported in ``queries_without_relevant``.
- Tie-aware AP is the expected AP when every group of equal distances is in a uniformly random
  order, computed in closed form per distance (no sampling of orders).
- AP@k cuts the ranking after k items and divides the sum of precision at the relevant ranks by
  the number of relevant items within the top k (the convention of deep-hashing evaluation code);
  AP@k is 0 when the top k contains no relevant item.
- precision@k is the fraction of relevant items among the top min(k, N).
- At Hamming radius r, the retrieved set is every item at distance <= r; precision is 0 when that
  set is empty and recall is 0 when R = 0. The curve averages both over all queries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from eet.hashing.kernels import (
    PARALLEL_MIN_PAIRS,
    harmonic_numbers,
    shell_statistics,
    shell_statistics_serial,
)
from eet.hashing.packing import check_packed
from eet.hashing.search import check_bits_supported, numba_threads

logger = logging.getLogger(__name__)

# Queries per kernel call: large enough to keep both threads busy, small enough for a progress bar
# that moves on the largest grids.
MAX_QUERIES_PER_CHUNK = 4096


@dataclass(frozen=True)
class RetrievalMetrics:
    """Retrieval metrics of one query set against one database; see the module docstring."""

    bits: int
    ks: tuple[int, ...]
    average_precision: np.ndarray = field(repr=False)
    average_precision_tie_aware: np.ndarray = field(repr=False)
    map_at_k: dict[int, float]
    precision_at_k: dict[int, float]
    queries_without_relevant: int
    num_database: int
    pr_curve: pd.DataFrame = field(repr=False)
    seconds: float

    @property
    def num_queries(self) -> int:
        return len(self.average_precision)

    @property
    def map(self) -> float:
        """Mean AP over all queries with ties broken by database index."""
        return float(self.average_precision.mean())

    @property
    def map_tie_aware(self) -> float:
        """Mean expected AP over all queries with random order inside each distance tie."""
        return float(self.average_precision_tie_aware.mean())

    def to_dict(self) -> dict[str, float | int]:
        """Return the scalar metrics as a flat dict whose keys MLflow accepts as metric names.

        MLflow rejects ``@`` in names, so mAP@k is ``map_at_{k}`` and precision@k is
        ``precision_at_{k}``.
        """
        metrics: dict[str, float | int] = {
            "map": self.map,
            "map_tie_aware": self.map_tie_aware,
        }
        for k in self.ks:
            metrics[f"map_at_{k}"] = self.map_at_k[k]
        for k in self.ks:
            metrics[f"precision_at_{k}"] = self.precision_at_k[k]
        metrics.update(
            queries_without_relevant=self.queries_without_relevant,
            num_queries=self.num_queries,
            num_database=self.num_database,
            bits=self.bits,
            seconds=self.seconds,
        )
        return metrics


def evaluate_retrieval(
    query_codes: np.ndarray,
    query_labels: np.ndarray,
    db_codes: np.ndarray,
    db_labels: np.ndarray,
    bits: int,
    ks: tuple[int, ...] = (100, 1000),
    max_memory_bytes: int = 2 * 2**30,
    num_threads: int | None = None,
) -> RetrievalMetrics:
    """Rank the database for every query by Hamming distance and compute all metrics exactly.

    Args:
        query_codes, db_codes: packed uint64 codes from :func:`eet.hashing.packing.pack_codes`,
            shape ``(n, ceil(bits / 64))``.
        query_labels, db_labels: integer class ids (single-label), one per code.
        bits: code length K.
        ks: cut-offs for mAP@k and precision@k.
        max_memory_bytes: bound on the working memory this function allocates beyond its inputs;
            queries are processed in chunks sized to stay under it.
        num_threads: numba worker threads; ``None`` uses all that numba allows.

    Returns:
        A :class:`RetrievalMetrics`.
    """
    check_bits_supported(bits)
    query_codes = check_packed(query_codes, bits, name="query_codes")
    db_codes = check_packed(db_codes, bits, name="db_codes")
    query_labels = _check_labels(query_labels, len(query_codes), "query")
    db_labels = _check_labels(db_labels, len(db_codes), "db")
    ks = _check_ks(ks)
    num_queries, num_database = len(query_codes), len(db_codes)
    if num_queries == 0:
        raise ValueError("query_codes is empty; mAP needs at least one query")
    if num_database == 0:
        raise ValueError("db_codes is empty; rank against a database of at least one code")
    if any(k > num_database for k in ks):
        logger.warning(
            "ks=%s has values above the database size %d; precision@k for those divides by %d",
            ks, num_database, num_database,
        )

    started = time.perf_counter()
    classes, dense_labels = np.unique(np.concatenate([query_labels, db_labels]), return_inverse=True)
    dense_query_labels = np.ascontiguousarray(dense_labels[:num_queries], dtype=np.int64)
    dense_db_labels = dense_labels[num_queries:]
    class_sizes = np.bincount(dense_db_labels, minlength=len(classes))
    class_offsets = np.concatenate([[0], np.cumsum(class_sizes)]).astype(np.int64)
    # A stable sort keeps database indices ascending inside each class, as the kernel requires.
    relevant_indices_by_class = np.argsort(dense_db_labels, kind="stable").astype(np.int64)
    relevant_counts = class_sizes[dense_query_labels]
    harmonic = harmonic_numbers(num_database)
    chunk_size = _queries_per_chunk(
        num_queries, num_database, len(classes), bits, len(ks), int(class_sizes.max()),
        max_memory_bytes,
    )
    kernel = shell_statistics
    if num_queries * num_database < PARALLEL_MIN_PAIRS or num_threads == 1:
        kernel = shell_statistics_serial

    k_array = np.asarray(ks, dtype=np.int64)
    average_precision = np.zeros(num_queries)
    average_precision_tie_aware = np.zeros(num_queries)
    precision_sum_at_k = np.zeros((num_queries, len(ks)))
    hits_at_k = np.zeros((num_queries, len(ks)), dtype=np.int64)
    precision_by_radius_sum = np.zeros(bits + 1)
    recall_by_radius_sum = np.zeros(bits + 1)

    with numba_threads(num_threads), tqdm(
        total=num_queries, desc=f"mAP {bits} bits", unit="query", leave=False,
        disable=num_queries <= chunk_size,
    ) as progress:
        for start in range(0, num_queries, chunk_size):
            chunk = slice(start, min(start + chunk_size, num_queries))
            precision_by_radius = np.zeros((chunk.stop - chunk.start, bits + 1))
            recall_by_radius = np.zeros((chunk.stop - chunk.start, bits + 1))
            kernel(
                query_codes[chunk], dense_query_labels[chunk], db_codes,
                relevant_indices_by_class, class_offsets, bits, k_array, harmonic,
                average_precision[chunk], average_precision_tie_aware[chunk],
                precision_sum_at_k[chunk], hits_at_k[chunk], precision_by_radius, recall_by_radius,
            )
            precision_by_radius_sum += precision_by_radius.sum(axis=0)
            recall_by_radius_sum += recall_by_radius.sum(axis=0)
            progress.update(chunk.stop - chunk.start)

    map_at_k, precision_at_k = {}, {}
    for m, k in enumerate(ks):
        hits = hits_at_k[:, m]
        per_query = np.divide(
            precision_sum_at_k[:, m], hits, out=np.zeros(num_queries), where=hits > 0
        )
        map_at_k[k] = float(per_query.mean())
        precision_at_k[k] = float(hits.mean() / min(k, num_database))
    pr_curve = pd.DataFrame({
        "radius": np.arange(bits + 1),
        "precision": precision_by_radius_sum / num_queries,
        "recall": recall_by_radius_sum / num_queries,
    })
    seconds = time.perf_counter() - started

    metrics = RetrievalMetrics(
        bits=int(bits),
        ks=ks,
        average_precision=average_precision,
        average_precision_tie_aware=average_precision_tie_aware,
        map_at_k=map_at_k,
        precision_at_k=precision_at_k,
        queries_without_relevant=int((relevant_counts == 0).sum()),
        num_database=num_database,
        pr_curve=pr_curve,
        seconds=seconds,
    )
    logger.info(
        "evaluated %d queries against %d database codes at %d bits in %.2f s: mAP %.4f, "
        "tie-aware mAP %.4f, %d queries without relevant items",
        num_queries, num_database, bits, seconds, metrics.map, metrics.map_tie_aware,
        metrics.queries_without_relevant,
    )
    return metrics


def _check_labels(labels: np.ndarray, expected_length: int, role: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != expected_length:
        raise ValueError(
            f"{role}_labels must be 1-D with one label per code ({expected_length}), "
            f"got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{role}_labels must be integer class ids (single-label), got dtype {labels.dtype}"
        )
    return labels.astype(np.int64, copy=False)


def _check_ks(ks) -> tuple[int, ...]:
    ks = tuple(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"every k in ks must be a positive integer, got ks={ks!r}")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks must not repeat a value, got ks={ks!r}")
    return tuple(int(k) for k in ks)


def _queries_per_chunk(
    num_queries: int,
    num_database: int,
    num_classes: int,
    bits: int,
    num_ks: int,
    largest_class: int,
    max_memory_bytes: int,
) -> int:
    # Estimates of what evaluate_retrieval allocates beyond its inputs: label arrays, the
    # harmonic table, per-query outputs, per-thread scratch (the distance row, two arrays over the
    # query's relevant items, shell counters) and per chunk the precision and recall by radius.
    fixed = 8 * (3 * (num_queries + num_database) + 2 * num_classes + num_database + 1)
    fixed += 8 * (num_queries * (2 + 2 * num_ks) + 2 * (bits + 1))
    per_thread = num_database + 8 * (2 * largest_class + 8 * (bits + 1))
    fixed += per_thread * numba.config.NUMBA_NUM_THREADS
    per_query = 8 * 2 * (bits + 1)
    if fixed + per_query > max_memory_bytes:
        raise ValueError(
            f"max_memory_bytes={max_memory_bytes} is below the {fixed + per_query} bytes needed "
            f"for {num_queries} queries against {num_database} codes; raise max_memory_bytes"
        )
    return int(max(1, min(MAX_QUERIES_PER_CHUNK, (max_memory_bytes - fixed) // per_query)))
