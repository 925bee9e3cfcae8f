"""Compiled Hamming-distance kernels (numba) behind the retrieval metrics and the search index.

Distances are integers in ``0..K``, so no kernel sorts: one scan over the database counts the items
and the relevant items at every distance ("shells"), and ranks follow from those counts. Inside a
shell the database order decides the stable rank, and the scan visits items in that order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

# Distance rows are uint8, so codes may have at most 255 bits.
MAX_BITS = 255

# Shells with at most this many items get their tie-aware sum by a direct loop. Larger shells use
# harmonic-number differences because their rounding error shrinks relative to the sum there.
DIRECT_SHELL_MAX = 256

# Database items per block between updates of the top-k distance cut-off in top_k_scan, and per
# run that the scan skips when no distance in it is below the cut-off.
CUTOFF_BLOCK = 4096
SKIP_RUN = 64
LOW_BYTES = np.uint64(0x0101010101010101)
HIGH_BYTES = np.uint64(0x8080808080808080)

# Query-item pairs below which the serial kernels run: waking the thread pool costs more than
# the scan (a parallel call on a 1 x 4 problem took 20-250 ms here with numba's OpenMP layer).
PARALLEL_MIN_PAIRS = 1 << 20


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
    # that, contains 1 + (p-1)(r-1)/(n-1) relevant items of the shell in expectation.
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


@njit(cache=True)
def _count_shells(row, relevant_indices, num_shells, relevant_distance, relevant_position):
    # Count items per distance in database order. When the scan reaches a relevant item, the
    # count of its shell so far is its 0-based position inside the shell under index
    # tie-breaking. Between relevant items, four interleaved counter rows break the dependency
    # chain of repeated increments to one counter.
    counts = np.zeros((4, num_shells), dtype=np.int64)
    start = 0
    for j in range(relevant_indices.shape[0] + 1):
        stop = relevant_indices[j] if j < relevant_indices.shape[0] else row.shape[0]
        i = start
        while i + 3 < stop:
            counts[0, row[i]] += 1
            counts[1, row[i + 1]] += 1
            counts[2, row[i + 2]] += 1
            counts[3, row[i + 3]] += 1
            i += 4
        while i < stop:
            counts[0, row[i]] += 1
            i += 1
        if j < relevant_indices.shape[0]:
            distance = row[stop]
            relevant_distance[j] = distance
            relevant_position[j] = (
                counts[0, distance] + counts[1, distance] + counts[2, distance] + counts[3, distance]
            )
            counts[0, distance] += 1
        start = stop + 1
    return counts[0] + counts[1] + counts[2] + counts[3]


@njit(cache=True)
def _query_statistics(
    q, query_codes, query_labels, database_codes, relevant_indices_by_class, class_offsets,
    bits, ks, harmonic, average_precision, average_precision_tie_aware, precision_sum_at_k,
    hits_at_k, precision_by_radius, recall_by_radius,
):
    num_database = database_codes.shape[0]
    num_shells = bits + 1
    label = query_labels[q]
    relevant_indices = relevant_indices_by_class[class_offsets[label]:class_offsets[label + 1]]
    num_relevant = relevant_indices.shape[0]

    row = np.empty(num_database, dtype=np.uint8)
    _distance_row(query_codes[q], database_codes, row)
    relevant_distance = np.empty(num_relevant, dtype=np.int64)
    relevant_position_in_shell = np.empty(num_relevant, dtype=np.int64)
    shell_items = _count_shells(
        row, relevant_indices, num_shells, relevant_distance, relevant_position_in_shell
    )

    shell_relevant = np.zeros(num_shells, dtype=np.int64)
    for j in range(num_relevant):
        shell_relevant[relevant_distance[j]] += 1
    items_before = np.zeros(num_shells, dtype=np.int64)
    relevant_before = np.zeros(num_shells, dtype=np.int64)
    for d in range(1, num_shells):
        items_before[d] = items_before[d - 1] + shell_items[d - 1]
        relevant_before[d] = relevant_before[d - 1] + shell_relevant[d - 1]

    # Stable ranks: relevant items come in database order, so a running count per shell gives
    # each one's position among the shell's relevant items.
    relevant_seen = np.zeros(num_shells, dtype=np.int64)
    precision_total = 0.0
    for j in range(num_relevant):
        distance = relevant_distance[j]
        hits = relevant_before[distance] + relevant_seen[distance] + 1
        relevant_seen[distance] += 1
        rank = items_before[distance] + relevant_position_in_shell[j] + 1
        precision = hits / rank
        precision_total += precision
        for m in range(ks.shape[0]):
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
            precision_by_radius[q, d] = retrieved_relevant / retrieved
        if num_relevant > 0:
            recall_by_radius[q, d] = retrieved_relevant / num_relevant


@njit(parallel=True, cache=True)
def shell_statistics(
    query_codes, query_labels, database_codes, relevant_indices_by_class, class_offsets, bits,
    ks, harmonic, average_precision, average_precision_tie_aware, precision_sum_at_k, hits_at_k,
    precision_by_radius, recall_by_radius,
):
    """Compute every per-query retrieval statistic for a chunk of queries, one thread per query.

    Args:
        query_codes: ``(q, W)`` uint64 packed codes. ``database_codes``: ``(N, W)`` uint64.
        query_labels: dense int64 class ids in ``0..C-1``.
        relevant_indices_by_class: database indices grouped by class, ascending inside each class;
            class ``c`` owns ``relevant_indices_by_class[class_offsets[c]:class_offsets[c + 1]]``.
        bits: code length K. ``ks``: int64 cut-offs for the ranking.
        harmonic: output of :func:`harmonic_numbers` for at least N.

    Outputs are written in place, one row per query: stable AP, tie-aware AP, the sum of
    precision at the relevant ranks within each cut-off ``(q, len(ks))``, the relevant count
    within each cut-off, and precision and recall at each radius ``(q, K + 1)``.
    """
    for q in prange(query_codes.shape[0]):
        _query_statistics(
            q, query_codes, query_labels, database_codes, relevant_indices_by_class,
            class_offsets, bits, ks, harmonic, average_precision, average_precision_tie_aware,
            precision_sum_at_k, hits_at_k, precision_by_radius, recall_by_radius,
        )


@njit(cache=True)
def shell_statistics_serial(
    query_codes, query_labels, database_codes, relevant_indices_by_class, class_offsets, bits,
    ks, harmonic, average_precision, average_precision_tie_aware, precision_sum_at_k, hits_at_k,
    precision_by_radius, recall_by_radius,
):
    """Single-threaded :func:`shell_statistics`, for work too small to repay waking threads."""
    for q in range(query_codes.shape[0]):
        _query_statistics(
            q, query_codes, query_labels, database_codes, relevant_indices_by_class,
            class_offsets, bits, ks, harmonic, average_precision, average_precision_tie_aware,
            precision_sum_at_k, hits_at_k, precision_by_radius, recall_by_radius,
        )


@njit(cache=True)
def _query_top_k(q, query_codes, database_codes, bits, k, distances_out, indices_out):
    # One vectorised pass writes the distance row. A second pass records candidates in database
    # order and counts them per distance. After every block, the cut-off becomes the smallest
    # distance whose count reaches k. From then on only items nearer than the cut-off can enter
    # the top k, because the ties at the cut-off already counted come first by index. Runs of
    # SKIP_RUN items without such an item are skipped by a word-wise test. A counting sort over
    # the candidates fills the output.
    num_database = database_codes.shape[0]
    num_shells = bits + 1
    # The row is padded to whole words with 255, which the skip test never reports.
    padded_length = (num_database + 7) // 8 * 8
    padded_row = np.full(padded_length, 255, dtype=np.uint8)
    row = padded_row[:num_database]
    _distance_row(query_codes[q], database_codes, row)
    row_words = padded_row.view(np.uint64)

    shell_items = np.zeros(num_shells, dtype=np.int64)
    candidates = np.empty(num_database, dtype=np.int64)
    num_candidates = 0
    cutoff = bits
    limit = bits + 1  # items at distance >= limit can no longer enter the top k
    for block_start in range(0, num_database, CUTOFF_BLOCK):
        block_stop = min(num_database, block_start + CUTOFF_BLOCK)
        for run_start in range(block_start, block_stop, SKIP_RUN):
            run_stop = min(block_stop, run_start + SKIP_RUN)
            # For n <= 128, some byte of word w is below n exactly when
            # (w - n * 0x01..01) & ~w & 0x80..80 is nonzero. Words past run_stop belong to the
            # next run or the padding and can only cause a needless scalar pass.
            if limit <= 128:
                threshold = np.uint64(limit) * LOW_BYTES
                found = np.uint64(0)
                for w in range(run_start // 8, (run_stop + 7) // 8):
                    word = row_words[w]
                    found |= (word - threshold) & ~word & HIGH_BYTES
                if found == 0:
                    continue
            for i in range(run_start, run_stop):
                distance = row[i]
                if distance < limit:
                    shell_items[distance] += 1
                    candidates[num_candidates] = i
                    num_candidates += 1
        cumulative = 0
        for d in range(min(limit, num_shells)):
            cumulative += shell_items[d]
            if cumulative >= k:
                cutoff = d
                limit = d
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
    for c in range(num_candidates):
        i = candidates[c]
        distance = row[i]
        if distance <= cutoff and quota[distance] > 0:
            quota[distance] -= 1
            distances_out[q, slot[distance]] = distance
            indices_out[q, slot[distance]] = i
            slot[distance] += 1
            placed += 1
            if placed == k:
                break


@njit(parallel=True, cache=True)
def top_k_scan(query_codes, database_codes, bits, k, distances_out, indices_out):
    """Write the exact top ``k`` of each query, ordered by (distance, database index).

    Requires ``1 <= k <= N``; ``distances_out`` and ``indices_out`` are ``(q, k)`` int64.
    """
    for q in prange(query_codes.shape[0]):
        _query_top_k(q, query_codes, database_codes, bits, k, distances_out, indices_out)


@njit(cache=True)
def top_k_scan_serial(query_codes, database_codes, bits, k, distances_out, indices_out):
    """Single-threaded :func:`top_k_scan`, for work too small to repay waking threads."""
    for q in range(query_codes.shape[0]):
        _query_top_k(q, query_codes, database_codes, bits, k, distances_out, indices_out)
