import numpy as np
import pytest

from eet.hashing.targets import learn_target_codes

LABELS = np.repeat(np.arange(6), 10)


def test_targets_are_plus_minus_one():
    codes = learn_target_codes(LABELS, num_classes=6, bits=16, seed=0)
    assert codes.shape == (60, 16)
    assert codes.dtype == np.int8
    assert set(np.unique(codes)) == {-1, 1}


def test_targets_identical_for_same_seed():
    first = learn_target_codes(LABELS, num_classes=6, bits=32, seed=3)
    second = learn_target_codes(LABELS, num_classes=6, bits=32, seed=3)
    assert np.array_equal(first, second)


def test_targets_shared_within_class():
    codes = learn_target_codes(LABELS, num_classes=6, bits=32, seed=0)
    for label in range(6):
        assert len(np.unique(codes[LABELS == label], axis=0)) == 1, f"class {label} has several codes"


def test_targets_distinct_between_classes():
    codes = learn_target_codes(LABELS, num_classes=6, bits=32, seed=0)
    class_codes = codes[::10]
    assert len(np.unique(class_codes, axis=0)) == 6


def test_targets_accept_classes_absent_from_labels():
    labels = np.array([0, 0, 3, 3])  # classes 1 and 2 have no image
    codes = learn_target_codes(labels, num_classes=4, bits=8, seed=0)
    assert codes.shape == (4, 8)


def test_targets_reject_label_out_of_range():
    with pytest.raises(ValueError, match=r"0\.\.3 for 4 classes, found 0\.\.4"):
        learn_target_codes(np.array([0, 4]), num_classes=4, bits=8)


def test_targets_reject_non_positive_delta():
    with pytest.raises(ValueError, match="targets.delta"):
        learn_target_codes(LABELS, num_classes=6, bits=8, delta=0.0)
