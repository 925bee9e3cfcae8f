"""Exact top-k Hamming search of new query codes against a stored database of packed codes."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

import faiss
import numba
import numpy as np

from eet.hashing.kernels import MAX_BITS, PARALLEL_MIN_PAIRS, top_k_scan, top_k_scan_serial
from eet.hashing.packing import check_packed

logger = logging.getLogger(__name__)

BACKENDS = ("scan", "faiss")


class HammingIndex:
    """Exact Hamming k-nearest-neighbour index over packed codes.

    Results are ordered by (distance, database index), so ties always resolve to the lower index.

    Args:
        database_codes: ``(N, ceil(bits / 64))`` uint64 codes from
            :func:`eet.hashing.packing.pack_codes`.
        bits: code length K.
        backend: ``"scan"`` for the packed-popcount counting scan of this package, or ``"faiss"``
            for faiss-cpu's ``IndexBinaryFlat``. Both are exact; ``benchmarks/bench_retrieval.py``
            compares their speed, and the scan was faster on a 2-core AMD EPYC (Zen 4).

    NOTE: faiss does not document how its heap orders equal distances. The tests check that
    ``IndexBinaryFlat`` of faiss-cpu 1.15.1 returns the (distance, index) order, including ties
    at the cut-off.
    """

    def __init__(self, database_codes: np.ndarray, bits: int, backend: str = "scan"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        check_bits_supported(bits)
        self.bits = int(bits)
        self.backend = backend
        self.database_codes = check_packed(database_codes, bits, name="database_codes")
        if len(self.database_codes) == 0:
            raise ValueError("database_codes is empty; add at least one code to search")
        self._faiss_index = None
        if backend == "faiss":
            self._faiss_index = faiss.IndexBinaryFlat(8 * self._code_bytes)
            self._faiss_index.add(self._as_faiss_bytes(self.database_codes))

    def __len__(self) -> int:
        return len(self.database_codes)

    @property
    def _code_bytes(self) -> int:
        return (self.bits + 7) // 8

    def _as_faiss_bytes(self, packed: np.ndarray) -> np.ndarray:
        # Little-endian words store column j in byte j // 8, so the first ceil(K / 8) bytes contain
        # the whole code and the zero padding bits add nothing to distances.
        as_bytes = packed.astype("<u8", copy=False).view(np.uint8)
        return np.ascontiguousarray(as_bytes[:, : self._code_bytes])

    def search(
        self, query_codes: np.ndarray, k: int, num_threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Find the ``k`` nearest database codes of each query.

        Args:
            query_codes: ``(q, ceil(bits / 64))`` uint64 packed codes.
            k: neighbours per query, ``1 <= k <= len(self)``.
            num_threads: worker threads; ``None`` uses every thread numba or OpenMP allows.

        Returns:
            ``(distances, indices)``, both ``(q, k)`` int64, each row ordered by (distance,
            database index).
        """
        query_codes = check_packed(query_codes, self.bits, name="query_codes")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(self):
            raise ValueError(
                f"k must be an integer in 1..{len(self)} (the database size), got {k!r}"
            )
        k = int(k)
        started = time.perf_counter()
        if self.backend == "faiss":
            with _faiss_threads(num_threads):
                distances, indices = self._faiss_index.search(self._as_faiss_bytes(query_codes), k)
            distances = distances.astype(np.int64)
        else:
            distances = np.empty((len(query_codes), k), dtype=np.int64)
            indices = np.empty((len(query_codes), k), dtype=np.int64)
            kernel = top_k_scan
            if len(query_codes) * len(self) < PARALLEL_MIN_PAIRS or num_threads == 1:
                kernel = top_k_scan_serial
            with numba_threads(num_threads):
                kernel(query_codes, self.database_codes, self.bits, k, distances, indices)
        logger.debug(
            "searched top-%d of %d queries in %d %d-bit codes (%s) in %.3f s",
            k, len(query_codes), len(self), self.bits, self.backend,
            time.perf_counter() - started,
        )
        return distances, indices


def check_bits_supported(bits: int) -> None:
    """Raise ValueError unless ``bits`` is a code length the compiled kernels support."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise ValueError(
            f"bits must be an integer in 1..{MAX_BITS}, got {bits!r}; the kernels store "
            "distances as uint8"
        )


def _check_thread_count(num_threads: int, maximum: int) -> None:
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise ValueError(f"num_threads must be an integer or None, got {num_threads!r}")
    if not 1 <= num_threads <= maximum:
        raise ValueError(f"num_threads must be in 1..{maximum} on this machine, got {num_threads}")


@contextmanager
def numba_threads(num_threads: int | None):
    """Run the enclosed numba kernels with ``num_threads`` threads, restoring the old count."""
    if num_threads is None:
        yield
        return
    _check_thread_count(num_threads, numba.config.NUMBA_NUM_THREADS)
    previous = numba.get_num_threads()
    numba.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@contextmanager
def _faiss_threads(num_threads: int | None):
    if num_threads is None:
        yield
        return
    previous = faiss.omp_get_max_threads()
    _check_thread_count(num_threads, max(previous, numba.config.NUMBA_NUM_THREADS))
    faiss.omp_set_num_threads(int(num_threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)

