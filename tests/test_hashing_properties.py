"""Property tests: the fast evaluator and search equal the direct reference on random inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from eet.hashing.metrics import evaluate_retrieval
from eet.hashing.packing import pack_codes, unpack_codes
from eet.hashing.reference import evaluate_reference, hamming_distances
from eet.hashing.search import HammingIndex

# Every length from 1 to 64 bits, plus lengths that span two to four words, up to the 255 maximum.
BIT_LENGTHS = st.one_of(st.integers(1, 64), st.sampled_from([65, 100, 130, 200, 255]))


@st.composite
def retrieval_problems(draw):
    """Draw small query and database sets whose codes repeat, so that ties and duplicates occur."""
    bits = draw(BIT_LENGTHS)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pool_size = draw(st.integers(1, 8))
    num_queries = draw(st.integers(1, 6))
    num_database = draw(st.integers(1, 60))
    num_classes = draw(st.integers(1, 5))
    pool = rng.standard_normal((pool_size, bits))
    query_codes = pack_codes(pool[rng.integers(0, pool_size, num_queries)])
    db_codes = pack_codes(pool[rng.integers(0, pool_size, num_database)])
    # Query labels go one class past the database's so that some queries have no relevant item.
    query_labels = rng.integers(0, num_classes + 1, num_queries)
    db_labels = rng.integers(0, num_classes, num_database)
    ks = tuple(draw(st.lists(st.integers(1, 70), min_size=1, max_size=3, unique=True)))
    return query_codes, query_labels, db_codes, db_labels, bits, ks


@settings(max_examples=150, deadline=None)
@given(retrieval_problems())
def test_evaluator_equals_reference(problem):
    query_codes, query_labels, db_codes, db_labels, bits, ks = problem
    fast = evaluate_retrieval(query_codes, query_labels, db_codes, db_labels, bits, ks=ks)
    reference = evaluate_reference(query_codes, query_labels, db_codes, db_labels, bits, ks=ks)
    assert np.allclose(fast.average_precision, reference["average_precision"], rtol=0, atol=1e-12)
    assert np.allclose(
        fast.average_precision_tie_aware, reference["average_precision_tie_aware"],
        rtol=0, atol=1e-12,
    )
    for k in ks:
        assert abs(fast.map_at_k[k] - reference["map_at_k"][k]) <= 1e-12
        assert abs(fast.precision_at_k[k] - reference["precision_at_k"][k]) <= 1e-12
    assert fast.queries_without_relevant == reference["queries_without_relevant"]
    assert np.array_equal(fast.pr_curve["radius"], reference["pr_curve"]["radius"])
    assert np.allclose(fast.pr_curve["precision"], reference["pr_curve"]["precision"], atol=1e-12)
    assert np.allclose(fast.pr_curve["recall"], reference["pr_curve"]["recall"], atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(retrieval_problems(), st.sampled_from(["scan", "faiss"]), st.integers(1, 60))
def test_search_equals_stable_sort(problem, backend, k):
    query_codes, _, db_codes, _, bits, _ = problem
    k = min(k, len(db_codes))
    distances, indices = HammingIndex(db_codes, bits, backend=backend).search(query_codes, k)
    full = hamming_distances(query_codes, db_codes, bits)
    order = np.argsort(full, axis=1, kind="stable")[:, :k]
    assert np.array_equal(indices, order)
    assert np.array_equal(distances, np.take_along_axis(full, order, axis=1))


@settings(max_examples=100, deadline=None)
@given(BIT_LENGTHS, st.integers(0, 2**32 - 1), st.integers(0, 20))
def test_pack_unpack_round_trip(bits, seed, num_items):
    signs = np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.int8), (num_items, bits))
    assert np.array_equal(unpack_codes(pack_codes(signs), bits), signs)


@settings(max_examples=100, deadline=None)
@given(BIT_LENGTHS, st.integers(0, 2**32 - 1))
def test_packed_popcount_equals_sign_disagreements(bits, seed):
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((2, 1, bits))
    packed_distance = int(np.bitwise_count(pack_codes(left) ^ pack_codes(right)).sum())
    assert packed_distance == int(((left >= 0) != (right >= 0)).sum())
