"""Hand-computed cases that pin the retrieval metric definitions of eet.hashing.metrics."""

import itertools
import re

import numpy as np
import pytest

from eet.hashing.kernels import DIRECT_SHELL_MAX
from eet.hashing.metrics import evaluate_retrieval
from eet.hashing.packing import pack_codes
from eet.hashing.reference import evaluate_reference, tie_aware_average_precision

BITS = 8


def codes_at_distances(distances, bits=BITS):
    """Return packed database codes at the given Hamming distances from an all-ones query."""
    codes = np.ones((len(distances), bits))
    for row, distance in enumerate(distances):
        codes[row, :distance] = -1
    return pack_codes(codes)


def evaluate_one_query(distances, relevance, ks=(100,), bits=BITS):
    """Evaluate one query of class 1 against a database laid out by distance and relevance."""
    query = pack_codes(np.ones((1, bits)))
    db_labels = np.where(np.asarray(relevance) == 1, 1, 0)
    return evaluate_retrieval(
        query, np.array([1]), codes_at_distances(distances, bits), db_labels, bits, ks=ks
    )


def test_map_last_ranked_item_relevant():
    # Ranks 1 and 4 are relevant: AP = (1/1 + 2/4) / 2. Dropping the last item would give 1.0.
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 0, 1])
    assert metrics.map == pytest.approx(0.75, abs=1e-12)


def test_map_ties_ranked_stably():
    # One tie of four; database order puts the relevant items at ranks 2 and 4.
    metrics = evaluate_one_query([5, 5, 5, 5], [0, 1, 0, 1])
    assert metrics.map == pytest.approx(0.5, abs=1e-12)


def test_map_ties_ranked_by_index():
    # Item 2 (relevant) ties with item 0 at distance 1 and comes after it; item 1 is nearer.
    metrics = evaluate_one_query([1, 0, 1], [0, 0, 1])
    assert metrics.map == pytest.approx(1 / 3, abs=1e-12)


def test_map_tie_aware_single_tie_value():
    # Mean AP over the six placements of two relevant items among four positions:
    # (1 + 5/6 + 3/4 + 7/12 + 1/2 + 5/12) / 6 = 49/72.
    metrics = evaluate_one_query([5, 5, 5, 5], [0, 1, 0, 1])
    assert metrics.map_tie_aware == pytest.approx(49 / 72, abs=1e-12)


def test_map_tie_aware_between_best_and_worst_order():
    metrics = evaluate_one_query([5, 5, 5, 5], [0, 1, 0, 1])
    best = 1.0  # relevance [1, 1, 0, 0]
    worst = (1 / 3 + 2 / 4) / 2  # relevance [0, 0, 1, 1]
    assert worst < metrics.map_tie_aware < best


def test_map_tie_aware_equals_stable_without_ties():
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 0, 1])
    assert metrics.map_tie_aware == pytest.approx(0.75, abs=1e-12)


def test_map_tie_aware_shell_after_earlier_items():
    # Distance 0: one relevant item. Distance 2: three items, one relevant, in random order.
    # The relevant one is at rank 2, 3 or 4 with probability 1/3 each: AP = (1 + E[2/rank]) / 2.
    metrics = evaluate_one_query([0, 2, 2, 2], [1, 0, 1, 0])
    expected = (1 + (2 / 2 + 2 / 3 + 2 / 4) / 3) / 2
    assert metrics.map_tie_aware == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "distances, relevance",
    [
        ([3, 3, 3, 3, 3], [1, 0, 1, 1, 0]),
        ([0, 2, 2, 2, 2, 4, 4], [0, 1, 0, 0, 1, 1, 0]),
        ([1, 1, 0, 1, 0, 1], [1, 1, 0, 0, 1, 0]),
    ],
)
def test_tie_aware_matches_enumerated_orders(distances, relevance):
    # Average the stable AP over every order inside the ties, each order equally likely.
    distances = np.array(distances)
    relevance = np.array(relevance)
    shells = [relevance[distances == d] for d in np.unique(distances)]
    shell_orders = [set(itertools.permutations(shell)) for shell in shells]
    values = []
    for combination in itertools.product(*shell_orders):
        ranked = np.concatenate(combination).astype(bool)
        hits = np.cumsum(ranked)
        values.append(np.mean(hits[ranked] / (np.flatnonzero(ranked) + 1)))
    # Distinct orders of a 0/1 shell are equally likely, so their plain mean is the expectation.
    expected = np.mean(values)
    metrics = evaluate_one_query(distances.tolist(), relevance.tolist())
    assert metrics.map_tie_aware == pytest.approx(expected, abs=1e-12)


def test_tie_aware_large_shell_matches_direct_sum():
    # A 1-bit code puts 700 items into two shells, past the direct-loop limit of the kernel.
    rng = np.random.default_rng(3)
    distances = rng.integers(0, 2, size=700)
    relevance = rng.integers(0, 2, size=700)
    assert (distances == 0).sum() > DIRECT_SHELL_MAX
    metrics = evaluate_one_query(distances.tolist(), relevance.tolist(), bits=1)
    expected = tie_aware_average_precision(distances, relevance.astype(bool))
    assert metrics.map_tie_aware == pytest.approx(expected, abs=1e-12)


def test_map_at_k_zero_before_first_hit():
    metrics = evaluate_one_query([0, 1, 2, 3], [0, 0, 0, 1], ks=(2,))
    assert metrics.map_at_k[2] == 0.0


def test_map_at_k_counts_hit_at_rank_k():
    metrics = evaluate_one_query([0, 1, 2, 3], [0, 0, 0, 1], ks=(4,))
    assert metrics.map_at_k[4] == pytest.approx(0.25, abs=1e-12)


def test_map_at_k_normaliser():
    # Relevant at ranks 1, 3 and 4; the top 3 contains two: (1/1 + 2/3) / 2, not divided by 3.
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 1, 1], ks=(3,))
    assert metrics.map_at_k[3] == pytest.approx(5 / 6, abs=1e-12)


def test_map_at_k_cuts_inside_tie_by_index():
    # All four tie; the top 2 by database index are items 0 and 1, one relevant at rank 2.
    metrics = evaluate_one_query([5, 5, 5, 5], [0, 1, 0, 1], ks=(2,))
    assert metrics.map_at_k[2] == pytest.approx(0.5, abs=1e-12)


def test_precision_at_k():
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 1, 1], ks=(2, 3))
    assert metrics.precision_at_k[2] == pytest.approx(1 / 2, abs=1e-12)
    assert metrics.precision_at_k[3] == pytest.approx(2 / 3, abs=1e-12)


def test_precision_at_k_above_database_size():
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 1, 1], ks=(10,))
    assert metrics.precision_at_k[10] == pytest.approx(3 / 4, abs=1e-12)


def test_query_class_absent_counts_as_zero():
    query = pack_codes(np.ones((2, BITS)))
    db = codes_at_distances([0, 1, 2, 3])
    metrics = evaluate_retrieval(
        query, np.array([1, 7]), db, np.array([1, 0, 0, 1]), BITS, ks=(2,)
    )
    assert metrics.average_precision[1] == 0.0
    assert metrics.queries_without_relevant == 1
    assert metrics.num_queries == 2
    assert metrics.map == pytest.approx(0.75 / 2, abs=1e-12)
    assert metrics.map_tie_aware == pytest.approx(0.75 / 2, abs=1e-12)
    assert metrics.map_at_k[2] == pytest.approx(1.0 / 2, abs=1e-12)
    assert metrics.pr_curve["recall"].iloc[-1] == pytest.approx(0.5, abs=1e-12)


def test_pr_curve_by_radius():
    metrics = evaluate_one_query([1, 2, 2, 4], [1, 0, 1, 0], bits=4)
    curve = metrics.pr_curve
    assert curve["radius"].tolist() == [0, 1, 2, 3, 4]
    # Radius 0 retrieves nothing, so precision is 0 by definition.
    assert curve["precision"].tolist() == pytest.approx([0, 1, 2 / 3, 2 / 3, 1 / 2], abs=1e-12)
    assert curve["recall"].tolist() == pytest.approx([0, 1 / 2, 1, 1, 1], abs=1e-12)


def test_to_dict_keys_and_values():
    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 0, 1], ks=(2, 3))
    result = metrics.to_dict()
    assert set(result) == {
        "map", "map_tie_aware", "map_at_2", "map_at_3", "precision_at_2", "precision_at_3",
        "queries_without_relevant", "num_queries", "num_database", "bits", "seconds",
    }
    assert result["map"] == pytest.approx(0.75, abs=1e-12)
    assert result["num_database"] == 4
    assert result["seconds"] >= 0


def test_to_dict_keys_are_valid_mlflow_metric_names():
    from mlflow.utils.validation import _validate_metric_name

    metrics = evaluate_one_query([0, 1, 2, 3], [1, 0, 0, 1], ks=(100, 1000))
    for name in metrics.to_dict():
        _validate_metric_name(name)


def test_chunking_under_small_memory_bound_gives_same_values():
    rng = np.random.default_rng(5)
    bits = 12
    query = pack_codes(rng.standard_normal((50, bits)))
    db = pack_codes(rng.standard_normal((300, bits)))
    query_labels = rng.integers(0, 4, 50)
    db_labels = rng.integers(0, 4, 300)
    default = evaluate_retrieval(query, query_labels, db, db_labels, bits, ks=(10,))
    # About 30 kB leaves room for a few queries per chunk, so the loop runs many chunks.
    chunked = evaluate_retrieval(
        query, query_labels, db, db_labels, bits, ks=(10,), max_memory_bytes=30_000,
        num_threads=1,
    )
    assert np.array_equal(chunked.average_precision, default.average_precision)
    assert np.array_equal(chunked.average_precision_tie_aware, default.average_precision_tie_aware)
    assert chunked.map_at_k == default.map_at_k
    assert np.allclose(chunked.pr_curve.to_numpy(), default.pr_curve.to_numpy(), atol=1e-15)


def test_memory_bound_too_small_raises():
    query = pack_codes(np.ones((1, BITS)))
    with pytest.raises(ValueError, match="max_memory_bytes=100 is below"):
        evaluate_retrieval(
            query, np.array([1]), codes_at_distances([0, 1]), np.array([1, 0]), BITS,
            max_memory_bytes=100,
        )


def test_float_labels_raise():
    query = pack_codes(np.ones((1, BITS)))
    with pytest.raises(ValueError, match="query_labels must be integer class ids"):
        evaluate_retrieval(
            query, np.array([1.0]), codes_at_distances([0]), np.array([1]), BITS
        )


def test_label_count_mismatch_raises():
    query = pack_codes(np.ones((1, BITS)))
    with pytest.raises(ValueError, match=re.escape("db_labels must be 1-D with one label per code (2)")):
        evaluate_retrieval(query, np.array([1]), codes_at_distances([0, 1]), np.array([1]), BITS)


def test_codes_packed_for_other_length_raise():
    query = pack_codes(np.ones((1, 16)))
    with pytest.raises(ValueError, match="bits set past bit 8"):
        evaluate_retrieval(query, np.array([1]), codes_at_distances([0]), np.array([1]), BITS)


def test_nonpositive_k_raises():
    with pytest.raises(ValueError, match="every k in ks must be a positive integer"):
        evaluate_one_query([0], [1], ks=(0,))


def test_empty_queries_raise():
    with pytest.raises(ValueError, match="query_codes is empty"):
        evaluate_retrieval(
            np.zeros((0, 1), dtype=np.uint64), np.zeros(0, dtype=np.int64),
            codes_at_distances([0]), np.array([1]), BITS,
        )


def test_matches_reference_on_clustered_codes():
    rng = np.random.default_rng(11)
    bits, classes = 24, 6
    centres = rng.choice([-1.0, 1.0], size=(classes, bits))
    query_labels = rng.integers(0, classes, 40)
    db_labels = rng.integers(0, classes, 500)
    noise = lambda labels: np.where(rng.random((len(labels), bits)) < 0.25, -1.0, 1.0)
    query = pack_codes(centres[query_labels] * noise(query_labels))
    db = pack_codes(centres[db_labels] * noise(db_labels))
    fast = evaluate_retrieval(query, query_labels, db, db_labels, bits, ks=(10, 100))
    reference = evaluate_reference(query, query_labels, db, db_labels, bits, ks=(10, 100))
    assert np.allclose(fast.average_precision, reference["average_precision"], atol=1e-12)
    assert np.allclose(
        fast.average_precision_tie_aware, reference["average_precision_tie_aware"], atol=1e-12
    )
    assert fast.map_at_k == pytest.approx(reference["map_at_k"], abs=1e-12)
    assert fast.precision_at_k == pytest.approx(reference["precision_at_k"], abs=1e-12)


def test_threaded_matches_single_thread():
    # 200 x 8,000 pairs are above the size where the evaluator switches to its parallel kernel.
    rng = np.random.default_rng(13)
    bits = 16
    query = pack_codes(rng.standard_normal((200, bits)))
    db = pack_codes(rng.standard_normal((8_000, bits)))
    query_labels = rng.integers(0, 20, 200)
    db_labels = rng.integers(0, 20, 8_000)
    threaded = evaluate_retrieval(query, query_labels, db, db_labels, bits)
    single = evaluate_retrieval(query, query_labels, db, db_labels, bits, num_threads=1)
    assert np.array_equal(threaded.average_precision, single.average_precision)
    assert np.array_equal(threaded.average_precision_tie_aware, single.average_precision_tie_aware)
    assert threaded.map_at_k == single.map_at_k
    assert threaded.precision_at_k == single.precision_at_k
