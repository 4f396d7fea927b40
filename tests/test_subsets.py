import numpy as np
import pytest

from diffattr.subsets import draw_subset, make_units, mask_of, parse_subset_id, subset_id, subset_size


@pytest.mark.parametrize("n, alpha", [(10, 0.5), (1797, 0.5), (7, 0.25), (20, 0.75)])
def test_subset_size_is_exactly_int_alpha_n(n, alpha):
    s = draw_subset(n, alpha, 0, "train", 3)
    assert len(s) == int(alpha * n) == len(set(s.tolist()))
    assert s.min() >= 0 and s.max() < n and np.all(np.diff(s) > 0)


def test_subsets_are_deterministic_and_distinct():
    a = draw_subset(100, 0.5, 7, "train", 0)
    assert np.array_equal(a, draw_subset(100, 0.5, 7, "train", 0))
    assert not np.array_equal(a, draw_subset(100, 0.5, 7, "train", 1))
    assert not np.array_equal(a, draw_subset(100, 0.5, 8, "train", 0))


def test_train_and_test_streams_are_disjoint():
    train = {tuple(draw_subset(1000, 0.5, 0, "train", i)) for i in range(50)}
    test = {tuple(draw_subset(1000, 0.5, 0, "test", i)) for i in range(50)}
    assert len(train) == 50 and len(test) == 50 and not train & test


def test_subsets_are_balanced_over_units():
    counts = np.zeros(10)
    for i in range(400):
        counts += mask_of(draw_subset(10, 0.5, 0, "train", i), 10)
    assert np.all(np.abs(counts / 400 - 0.5) < 0.1)


def test_bad_alpha_and_ids_are_rejected():
    with pytest.raises(ValueError, match="subsets.alpha"):
        subset_size(10, 0.05)
    with pytest.raises(ValueError, match="bad subset id"):
        parse_subset_id("valid-1")
    assert parse_subset_id(subset_id("test", 12)) == ("test", 12)


def test_units_by_class_and_sample():
    labels = np.array([0, 1, 1, 2, 0])
    by_class = make_units(labels, ("a", "b", "c"), "class")
    assert by_class.ids == ("class-a", "class-b", "class-c")
    assert by_class.indices(np.array([0, 2])).tolist() == [0, 3, 4]
    by_sample = make_units(labels, ("a", "b", "c"), "sample")
    assert len(by_sample) == 5 and by_sample.indices(np.array([4, 1])).tolist() == [1, 4]
    with pytest.raises(ValueError, match="attribution.unit"):
        make_units(labels, ("a", "b", "c"), "cluster")
