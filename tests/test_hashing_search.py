"""Bit packing and exact top-k Hamming search: hand-computed cases."""

import numpy as np
import pytest

from eet.hashing.packing import check_packed, pack_codes, unpack_codes
from eet.hashing.reference import hamming_distances
from eet.hashing.search import HammingIndex


def codes_at_distances(distances, bits=8):
    """Return packed codes at the given Hamming distances from the all-ones code."""
    codes = np.ones((len(distances), bits))
    for row, distance in enumerate(distances):
        codes[row, :distance] = -1
    return pack_codes(codes)


def stable_top_k(query_codes, db_codes, bits, k):
    distances = hamming_distances(query_codes, db_codes, bits)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, axis=1), order


# Packing


def test_pack_bit_order_and_zero_threshold():
    # Columns 0 and 2 are >= 0 (bits 1), so the word is 0b0101 = 5.
    packed = pack_codes(np.array([[0.5, -1.0, 0.0, -0.1]]))
    assert packed.dtype == np.uint64
    assert packed.tolist() == [[5]]


def test_pack_65_bits_uses_two_words():
    packed = pack_codes(np.ones((1, 65)))
    assert packed.tolist() == [[2**64 - 1, 1]]


def test_pack_booleans():
    assert pack_codes(np.array([[True, False, True]])).tolist() == [[5]]


def test_unpack_returns_plus_minus_one():
    unpacked = unpack_codes(np.array([[5]], dtype=np.uint64), bits=4)
    assert unpacked.dtype == np.int8
    assert unpacked.tolist() == [[1, -1, 1, -1]]


def test_pack_rejects_nan():
    with pytest.raises(ValueError, match="NaN or infinite values \\(first in row 1\\)"):
        pack_codes(np.array([[1.0, 1.0], [np.nan, 1.0]]))


def test_pack_rejects_one_dimensional_codes():
    with pytest.raises(ValueError, match="2-D"):
        pack_codes(np.ones(8))


def test_check_packed_rejects_bits_past_length():
    with pytest.raises(ValueError, match="bits set past bit 4"):
        check_packed(np.array([[0b10000]], dtype=np.uint64), bits=4)


def test_check_packed_rejects_wrong_width():
    with pytest.raises(ValueError, match="shape \\(n, 2\\) for 100-bit codes"):
        check_packed(np.zeros((3, 1), dtype=np.uint64), bits=100)


def test_check_packed_rejects_signed_dtype():
    with pytest.raises(ValueError, match="got dtype int64"):
        check_packed(np.zeros((3, 1), dtype=np.int64), bits=8)


# Search


@pytest.mark.parametrize("backend", ["scan", "faiss"])
def test_search_orders_by_distance_then_index(backend):
    index = HammingIndex(codes_at_distances([2, 0, 1, 0, 2]), bits=8, backend=backend)
    distances, indices = index.search(pack_codes(np.ones((1, 8))), k=3)
    assert indices.tolist() == [[1, 3, 2]]
    assert distances.tolist() == [[0, 0, 1]]


@pytest.mark.parametrize("backend", ["scan", "faiss"])
def test_search_tie_at_cutoff_takes_lowest_indices(backend):
    index = HammingIndex(codes_at_distances([3, 1, 1, 1, 1]), bits=8, backend=backend)
    distances, indices = index.search(pack_codes(np.ones((1, 8))), k=2)
    assert indices.tolist() == [[1, 2]]
    assert distances.tolist() == [[1, 1]]


def test_search_k_equals_database_size():
    index = HammingIndex(codes_at_distances([3, 1, 2, 1]), bits=8)
    distances, indices = index.search(pack_codes(np.ones((1, 8))), k=4)
    assert indices.tolist() == [[1, 3, 2, 0]]
    assert distances.tolist() == [[1, 1, 2, 3]]


def test_search_k_above_database_size_raises():
    index = HammingIndex(codes_at_distances([0, 1]), bits=8)
    with pytest.raises(ValueError, match="k must be an integer in 1..2"):
        index.search(pack_codes(np.ones((1, 8))), k=3)


def test_search_unknown_backend_raises():
    with pytest.raises(ValueError, match="backend must be one of"):
        HammingIndex(codes_at_distances([0]), bits=8, backend="gpu")


@pytest.mark.parametrize("backend", ["scan", "faiss"])
@pytest.mark.parametrize("bits", [12, 64, 100])
def test_search_matches_stable_sort(backend, bits):
    rng = np.random.default_rng(bits)
    # 40 distinct codes repeated over 3,000 items force ties at every cut-off.
    pool = rng.standard_normal((40, bits))
    db = pack_codes(pool[rng.integers(0, 40, 3000)])
    queries = pack_codes(rng.standard_normal((25, bits)))
    distances, indices = HammingIndex(db, bits, backend=backend).search(queries, k=150)
    expected_distances, expected_indices = stable_top_k(queries, db, bits, 150)
    assert np.array_equal(indices, expected_indices)
    assert np.array_equal(distances, expected_distances)


@pytest.mark.parametrize("backend", ["scan", "faiss"])
def test_search_threaded_matches_single_thread(backend):
    # 64 x 40,000 pairs are above the size where the scan switches to its parallel kernel.
    rng = np.random.default_rng(8)
    bits = 16
    db = pack_codes(rng.standard_normal((40_000, bits)))
    queries = pack_codes(rng.standard_normal((64, bits)))
    index = HammingIndex(db, bits, backend=backend)
    threaded = index.search(queries, k=500)
    single = index.search(queries, k=500, num_threads=1)
    assert np.array_equal(threaded[1], single[1])
    assert np.array_equal(threaded[0], single[0])


def test_search_rejects_too_many_threads():
    index = HammingIndex(codes_at_distances([0, 1]), bits=8)
    with pytest.raises(ValueError, match="num_threads must be in 1.."):
        index.search(pack_codes(np.ones((1, 8))), k=1, num_threads=10_000)


def test_search_bits_above_255_raise():
    codes = pack_codes(np.ones((2, 256)))
    with pytest.raises(ValueError, match="bits must be an integer in 1..255"):
        HammingIndex(codes, bits=256)


@pytest.mark.parametrize("backend", ["scan", "faiss"])
def test_search_255_bit_codes_far_apart(backend):
    # Distances of 200 and more exceed the 128 limit of the scan's word-wise skip test.
    bits = 255
    rng = np.random.default_rng(255)
    query = np.ones((3, bits))
    db = np.ones((400, bits))
    for row in range(400):
        db[row, : rng.integers(150, bits + 1)] = -1
    distances, indices = HammingIndex(pack_codes(db), bits, backend=backend).search(
        pack_codes(query), k=40
    )
    expected_distances, expected_indices = stable_top_k(pack_codes(query), pack_codes(db), bits, 40)
    assert np.array_equal(indices, expected_indices)
    assert np.array_equal(distances, expected_distances)


@pytest.mark.parametrize("bits, k", [(16, 1), (16, 300), (64, 100), (100, 5000)])
def test_search_many_blocks_matches_stable_sort(bits, k):
    # 20,000 items span several cut-off blocks, so the cut-off shrinks and runs get skipped.
    rng = np.random.default_rng(bits + k)
    pool = rng.standard_normal((3000, bits))
    db = pack_codes(pool[rng.integers(0, 3000, 20_000)])
    queries = pack_codes(rng.standard_normal((6, bits)))
    distances, indices = HammingIndex(db, bits).search(queries, k=k)
    expected_distances, expected_indices = stable_top_k(queries, db, bits, k)
    assert np.array_equal(indices, expected_indices)
    assert np.array_equal(distances, expected_distances)
