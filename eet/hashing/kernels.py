"""Compiled Hamming-distance kernels (numba) behind the retrieval metrics and the search index.

Distances are integers in ``0..K``, so no kernel sorts: one scan over the database counts the items
and the relevant items at every distance ("shells"), and ranks follow from those counts. Inside a
shell the database order decides the stable rank, which the scan sees in index order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

# Shells with at most this many items get their tie-aware sum by a direct loop; larger shells use
# harmonic-number differences, whose rounding error shrinks relative to the sum as shells grow.
DIRECT_SHELL_MAX = 256

# Database items per block between updates of the top-k distance cut-off in top_k_scan.
CUTOFF_BLOCK = 4096


@intrinsic
def popcount64(typingctx, value):
    """Count the set bits of a uint64 with LLVM's ``ctpop`` (one POPCNT instruction on x86-64)."""
    signature = types.uint64(types.uint64)

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return signature, codegen


@njit(inline="always")
def _distance(query, database, i):
    distance = 0
    for w in range(query.shape[0]):
        distance += popcount64(query[w] ^ database[i, w])
    return distance


@njit(cache=True)
def harmonic_numbers(n):
    """Return ``H[0..n]`` with ``H[m] = sum_{p=1..m} 1/p``, summed with Kahan compensation."""
    harmonic = np.zeros(n + 1, dtype=np.float64)
    total = 0.0
    compensation = 0.0
    for p in range(1, n + 1):
        term = 1.0 / p - compensation
        new_total = total + term
        compensation = (new_total - total) - term
        total = new_total
        harmonic[p] = total
    return harmonic


@njit(inline="always")
def _tie_aware_shell_sum(items_before, relevant_before, shell_items, shell_relevant, harmonic):
    # Expected sum of precision at each relevant position of one shell when the shell is in a
    # uniformly random order. Position p (1-based) is relevant with probability r/n and, given
    # that, holds 1 + (p-1)(r-1)/(n-1) relevant items of the shell in expectation.
    n = shell_items
    r = shell_relevant
    slope = 0.0 if n == 1 else (r - 1) / (n - 1)
    intercept = relevant_before + 1 - slope
    if n <= DIRECT_SHELL_MAX:
        total = 0.0
        for p in range(1, n + 1):
            total += (intercept + slope * p) / (items_before + p)
    else:
        # (a + b p) / (N0 + p) = b + (a - b N0) / (N0 + p), summed over p = 1..n.
        tail = harmonic[items_before + n] - harmonic[items_before]
        total = n * slope + (intercept - slope * items_before) * tail
    return total * r / n


@njit(parallel=True, cache=True)
def shell_statistics(
    query_codes,
    query_labels,
    database_codes,
    database_labels,
    relevant_counts,
    bits,
    ks,
    harmonic,
    average_precision,
    average_precision_tie_aware,
    precision_sum_at_k,
    hits_at_k,
    precision_by_radius_sum,
    recall_by_radius_sum,
):
    """Compute every per-query retrieval statistic for a chunk of queries in one database scan.

    Args:
        query_codes: ``(q, W)`` uint64 packed codes. ``database_codes``: ``(N, W)`` uint64.
        query_labels, database_labels: dense int64 class ids in ``0..C-1``.
        relevant_counts: ``(q,)`` int64 count of database items in each query's class.
        bits: code length K. ``ks``: int64 cut-offs for the ranking.
        harmonic: output of :func:`harmonic_numbers` for at least N.

    Outputs are written in place: per-query stable AP, tie-aware AP, the sum of precision at the
    relevant ranks within each cut-off ``(q, len(ks))``, the relevant count within each cut-off,
    and the per-radius precision and recall summed over the chunk ``(K + 1,)``.
    """
    num_queries = query_codes.shape[0]
    num_database = database_codes.shape[0]
    num_shells = bits + 1
    num_ks = ks.shape[0]
    # Per-thread partial sums for the radius curves, reduced after the parallel loop.
    precision_partial = np.zeros((num_queries, num_shells), dtype=np.float64)
    recall_partial = np.zeros((num_queries, num_shells), dtype=np.float64)

    for q in prange(num_queries):
        query = query_codes[q]
        label = query_labels[q]
        num_relevant = relevant_counts[q]
        shell_items = np.zeros(num_shells, dtype=np.int64)
        relevant_distance = np.empty(num_relevant, dtype=np.int64)
        relevant_position_in_shell = np.empty(num_relevant, dtype=np.int64)

        # Scan in database order: the count of a shell when a relevant item arrives is that item's
        # 0-based position inside its shell under index tie-breaking.
        found = 0
        for i in range(num_database):
            distance = _distance(query, database_codes, i)
            if database_labels[i] == label:
                relevant_distance[found] = distance
                relevant_position_in_shell[found] = shell_items[distance]
                found += 1
            shell_items[distance] += 1

        shell_relevant = np.zeros(num_shells, dtype=np.int64)
        for j in range(num_relevant):
            shell_relevant[relevant_distance[j]] += 1
        items_before = np.zeros(num_shells, dtype=np.int64)
        relevant_before = np.zeros(num_shells, dtype=np.int64)
        for d in range(1, num_shells):
            items_before[d] = items_before[d - 1] + shell_items[d - 1]
            relevant_before[d] = relevant_before[d - 1] + shell_relevant[d - 1]

        # Stable ranks: relevant items arrive in database order, so a running count per shell
        # gives each one's position among the shell's relevant items.
        relevant_seen = np.zeros(num_shells, dtype=np.int64)
        precision_total = 0.0
        for j in range(num_relevant):
            distance = relevant_distance[j]
            hits = relevant_before[distance] + relevant_seen[distance] + 1
            relevant_seen[distance] += 1
            rank = items_before[distance] + relevant_position_in_shell[j] + 1
            precision = hits / rank
            precision_total += precision
            for m in range(num_ks):
                if rank <= ks[m]:
                    precision_sum_at_k[q, m] += precision
                    hits_at_k[q, m] += 1

        tie_aware_total = 0.0
        for d in range(num_shells):
            if shell_relevant[d] > 0:
                tie_aware_total += _tie_aware_shell_sum(
                    items_before[d], relevant_before[d], shell_items[d], shell_relevant[d], harmonic
                )

        if num_relevant > 0:
            average_precision[q] = precision_total / num_relevant
            average_precision_tie_aware[q] = tie_aware_total / num_relevant
        else:
            average_precision[q] = 0.0
            average_precision_tie_aware[q] = 0.0

        for d in range(num_shells):
            retrieved = items_before[d] + shell_items[d]
            retrieved_relevant = relevant_before[d] + shell_relevant[d]
            if retrieved > 0:
                precision_partial[q, d] = retrieved_relevant / retrieved
            if num_relevant > 0:
                recall_partial[q, d] = retrieved_relevant / num_relevant

    for d in range(num_shells):
        precision_by_radius_sum[d] += precision_partial[:, d].sum()
        recall_by_radius_sum[d] += recall_partial[:, d].sum()


@njit(inline="always")
def _distance_row(query, database_codes, row):
    # Written as a flat loop for one-word codes so that LLVM vectorises the popcount.
    num_database = database_codes.shape[0]
    if query.shape[0] == 1:
        word = query[0]
        flat = database_codes.reshape(num_database)
        for i in range(num_database):
            row[i] = popcount64(word ^ flat[i])
    else:
        for i in range(num_database):
            row[i] = _distance(query, database_codes, i)


@njit(parallel=True, cache=True)
def top_k_scan(query_codes, database_codes, bits, k, distances_out, indices_out):
    """Write the exact top ``k`` of each query, ordered by (distance, database index).

    Requires ``1 <= k <= N``. Per query: one vectorised pass writes the distance row; a pass in
    blocks counts items per distance below a cut-off that shrinks to the smallest distance whose
    cumulative count reaches ``k`` (items beyond it can never enter the top k); a last pass places
    the items at or below the cut-off by counting sort in database order.
    """
    num_queries = query_codes.shape[0]
    num_database = database_codes.shape[0]
    num_shells = bits + 1
    for q in prange(num_queries):
        row = np.empty(num_database, dtype=np.uint8)
        _distance_row(query_codes[q], database_codes, row)

        shell_items = np.zeros(num_shells, dtype=np.int64)
        cutoff = bits
        for start in range(0, num_database, CUTOFF_BLOCK):
            stop = min(num_database, start + CUTOFF_BLOCK)
            for i in range(start, stop):
                distance = row[i]
                if distance <= cutoff:
                    shell_items[distance] += 1
            cumulative = 0
            for d in range(cutoff + 1):
                cumulative += shell_items[d]
                if cumulative >= k:
                    cutoff = d
                    break

        # slot[d]: next output slot for distance d; quota[d]: how many items of distance d fit.
        slot = np.zeros(num_shells, dtype=np.int64)
        quota = np.zeros(num_shells, dtype=np.int64)
        filled = 0
        for d in range(cutoff + 1):
            slot[d] = filled
            take = min(shell_items[d], k - filled)
            quota[d] = take
            filled += take

        placed = 0
        for i in range(num_database):
            distance = row[i]
            if distance <= cutoff and quota[distance] > 0:
                quota[distance] -= 1
                distances_out[q, slot[distance]] = distance
                indices_out[q, slot[distance]] = i
                slot[distance] += 1
                placed += 1
                if placed == k:
                    break
