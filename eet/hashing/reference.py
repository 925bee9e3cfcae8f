"""Direct per-query implementations of the retrieval metrics, written for clarity, not speed.

Tests compare :func:`eet.hashing.metrics.evaluate_retrieval` against :func:`evaluate_reference`,
and the retrieval benchmark times :func:`map_by_sorting` as the usual per-query implementation
that sorts each query's full distance row. Definitions are in :mod:`eet.hashing.metrics`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eet.hashing.packing import check_packed, unpack_codes


def hamming_distances(query_codes: np.ndarray, db_codes: np.ndarray, bits: int) -> np.ndarray:
    """Return the ``(q, N)`` Hamming distance matrix of packed codes, by unpacking the bits."""
    query_bits = unpack_codes(query_codes, bits).astype(np.int64)
    db_bits = unpack_codes(db_codes, bits).astype(np.int64)
    return (bits - query_bits @ db_bits.T) // 2


def average_precision(relevant_in_rank_order: np.ndarray, cutoff: int | None = None) -> float:
    """Return AP of one ranked relevance vector, over the first ``cutoff`` ranks when given.

    Over the full ranking the normaliser is every relevant item. With a cut-off it is the number
    of relevant items within the cut-off. AP is 0 when that normaliser is 0.
    """
    relevant = np.asarray(relevant_in_rank_order, dtype=bool)
    if cutoff is not None:
        relevant = relevant[:cutoff]
    if not relevant.any():
        return 0.0
    hits = np.cumsum(relevant)
    ranks = np.arange(1, len(relevant) + 1)
    return float(np.mean(hits[relevant] / ranks[relevant]))


def tie_aware_average_precision(distances: np.ndarray, relevant: np.ndarray) -> float:
    """Return the expected AP when items of equal distance come in a uniformly random order.

    Inside a tie of ``n`` items with ``r`` relevant, preceded by ``items_before`` items of which
    ``relevant_before`` are relevant, position ``p`` (1-based) is relevant with probability
    ``r / n``. Given that, the expected relevant count up to it is
    ``relevant_before + 1 + (p - 1)(r - 1)/(n - 1)``, because each of the other ``r - 1``
    relevant items is in one of the ``p - 1`` earlier positions with probability ``(p - 1)/(n - 1)``.
    """
    distances = np.asarray(distances)
    relevant = np.asarray(relevant, dtype=bool)
    total_relevant = int(relevant.sum())
    if total_relevant == 0:
        return 0.0
    expected_precision_sum = 0.0
    items_before = 0
    relevant_before = 0
    for distance in np.unique(distances):
        in_tie = distances == distance
        n = int(in_tie.sum())
        r = int(relevant[in_tie].sum())
        for p in range(1, n + 1):
            other_relevant_before_p = 0.0 if n == 1 else (p - 1) * (r - 1) / (n - 1)
            expected_hits = relevant_before + 1 + other_relevant_before_p
            expected_precision_sum += (r / n) * expected_hits / (items_before + p)
        items_before += n
        relevant_before += r
    return expected_precision_sum / total_relevant


def evaluate_reference(
    query_codes: np.ndarray,
    query_labels: np.ndarray,
    db_codes: np.ndarray,
    db_labels: np.ndarray,
    bits: int,
    ks: tuple[int, ...] = (100, 1000),
) -> dict:
    """Compute every metric one query at a time with a stable sort of the distance row.

    Returns:
        A dict with ``average_precision`` and ``average_precision_tie_aware`` (per-query
        arrays), ``map_at_k`` and ``precision_at_k`` (dicts by k), ``queries_without_relevant``,
        and ``pr_curve`` (DataFrame with radius, precision, recall).
    """
    query_codes = check_packed(query_codes, bits, name="query_codes")
    db_codes = check_packed(db_codes, bits, name="db_codes")
    query_labels = np.asarray(query_labels)
    db_labels = np.asarray(db_labels)
    distance_matrix = hamming_distances(query_codes, db_codes, bits)
    num_queries, num_database = distance_matrix.shape

    ap = np.zeros(num_queries)
    ap_tie_aware = np.zeros(num_queries)
    ap_at_k = {k: np.zeros(num_queries) for k in ks}
    precision_at_k = {k: np.zeros(num_queries) for k in ks}
    precision_by_radius = np.zeros((num_queries, bits + 1))
    recall_by_radius = np.zeros((num_queries, bits + 1))
    without_relevant = 0

    for q in range(num_queries):
        distances = distance_matrix[q]
        relevant = db_labels == query_labels[q]
        order = np.argsort(distances, kind="stable")
        relevant_ranked = relevant[order]
        total_relevant = int(relevant.sum())
        without_relevant += total_relevant == 0

        ap[q] = average_precision(relevant_ranked)
        ap_tie_aware[q] = tie_aware_average_precision(distances, relevant)
        for k in ks:
            ap_at_k[k][q] = average_precision(relevant_ranked, cutoff=k)
            precision_at_k[k][q] = relevant_ranked[:k].sum() / min(k, num_database)
        for radius in range(bits + 1):
            retrieved = distances <= radius
            retrieved_relevant = int((retrieved & relevant).sum())
            if retrieved.any():
                precision_by_radius[q, radius] = retrieved_relevant / retrieved.sum()
            if total_relevant:
                recall_by_radius[q, radius] = retrieved_relevant / total_relevant

    return {
        "average_precision": ap,
        "average_precision_tie_aware": ap_tie_aware,
        "map_at_k": {k: float(v.mean()) for k, v in ap_at_k.items()},
        "precision_at_k": {k: float(v.mean()) for k, v in precision_at_k.items()},
        "queries_without_relevant": without_relevant,
        "pr_curve": pd.DataFrame({
            "radius": np.arange(bits + 1),
            "precision": precision_by_radius.mean(axis=0),
            "recall": recall_by_radius.mean(axis=0),
        }),
    }


def map_by_sorting(
    query_codes: np.ndarray,
    query_labels: np.ndarray,
    db_codes: np.ndarray,
    db_labels: np.ndarray,
) -> float:
    """Return mAP@all the usual per-query way: popcount one distance row, sort it, score it.

    Ties are broken by database index (stable sort) so the value matches the fast evaluator.
    """
    query_labels = np.asarray(query_labels)
    db_labels = np.asarray(db_labels)
    total = 0.0
    for q in range(len(query_codes)):
        distances = np.bitwise_count(db_codes ^ query_codes[q]).sum(axis=1)
        order = np.argsort(distances, kind="stable")
        total += average_precision(db_labels[order] == query_labels[q])
    return total / len(query_codes)
