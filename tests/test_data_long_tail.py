"""Long-tailed subsets: exponential profile, exact sizes, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from priormatch.data.long_tail import class_ranking, long_tail_counts, long_tail_indices
from priormatch.errors import PriormatchError

BALANCED = np.full(10, 6000)


def assert_ratio_within_rounding(counts: np.ndarray, rho: float) -> None:
    """max/min equals rho up to rounding (< 1 sample per count with largest remainder)."""
    high, low = counts.max(), counts.min()
    assert (high - 1) / (low + 1) <= rho <= (high + 1) / (low - 1)


def test_class_ranking_is_a_seeded_permutation() -> None:
    first = class_ranking(10, seed=3)
    assert sorted(first.tolist()) == list(range(10))
    np.testing.assert_array_equal(first, class_ranking(10, seed=3))
    assert not np.array_equal(first, class_ranking(10, seed=4))


@pytest.mark.parametrize("rho", [2.0, 10.0, 100.0])
def test_counts_follow_the_exponential_profile_by_rank(rho: float) -> None:
    ranking = class_ranking(10, seed=0)
    counts = long_tail_counts(BALANCED, ranking, rho)
    assert counts[ranking[0]] == 6000  # the head keeps every sample
    ranked = counts[ranking]
    assert (np.diff(ranked) <= 0).all()
    expected = 6000 * rho ** (-np.arange(10) / 9)
    np.testing.assert_allclose(ranked, expected, atol=0.5)
    assert_ratio_within_rounding(counts, rho)


def test_counts_respect_scarce_classes() -> None:
    available = np.array([100, 1000, 1000])  # class 0 is ranked last below
    counts = long_tail_counts(available, np.array([1, 2, 0]), 4.0)
    assert (counts <= available).all()
    np.testing.assert_array_equal(counts, [100, 400, 200])


@pytest.mark.parametrize("rho", [1.0, 10.0, 50.0])
def test_subset_size_is_exact(rho: float) -> None:
    ranking = class_ranking(10, seed=1)
    counts = long_tail_counts(BALANCED, ranking, rho, subset_size=9_997)
    assert counts.sum() == 9_997
    assert_ratio_within_rounding(counts, rho)


def test_rho_one_is_balanced() -> None:
    counts = long_tail_counts(BALANCED, class_ranking(10, seed=0), 1.0, subset_size=1003)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 1003
    np.testing.assert_array_equal(long_tail_counts(np.array([7, 9, 8]), np.array([2, 0, 1]), 1.0), [7, 7, 7])


def test_indices_match_counts_and_are_deterministic() -> None:
    y = np.repeat(np.arange(5), 200)
    np.random.default_rng(0).shuffle(y)
    indices = long_tail_indices(y, 5, imbalance_ratio=20.0, seed=7, subset_size=300)
    assert len(indices) == 300 and len(np.unique(indices)) == 300
    assert (np.diff(indices) > 0).all()
    expected = long_tail_counts(np.bincount(y), class_ranking(5, seed=7), 20.0, subset_size=300)
    np.testing.assert_array_equal(np.bincount(y[indices], minlength=5), expected)
    np.testing.assert_array_equal(indices, long_tail_indices(y, 5, imbalance_ratio=20.0, seed=7, subset_size=300))
    other = long_tail_indices(y, 5, imbalance_ratio=20.0, seed=8, subset_size=300)
    assert not np.array_equal(indices, other)


def test_balanced_and_long_tailed_subsets_have_the_same_size() -> None:
    y = np.repeat(np.arange(10), 300)
    balanced = long_tail_indices(y, 10, imbalance_ratio=1.0, seed=0, subset_size=1000)
    tailed = long_tail_indices(y, 10, imbalance_ratio=10.0, seed=0, subset_size=1000)
    assert len(balanced) == len(tailed) == 1000
    np.testing.assert_array_equal(np.bincount(y[balanced]), np.full(10, 100))


def test_too_large_subset_names_the_class_and_a_size_that_fits() -> None:
    ranking = class_ranking(10, seed=0)
    with pytest.raises(PriormatchError, match=rf"class {ranking[0]} \(rank 0\) needs .* subset_size <= (\d+)") as error:
        long_tail_counts(BALANCED, ranking, 100.0, subset_size=15_000)
    fitting = int(str(error.value).split("subset_size <= ")[1].split()[0])
    assert long_tail_counts(BALANCED, ranking, 100.0, subset_size=fitting).sum() == fitting
    for too_large in range(fitting + 1, fitting + 30):
        with pytest.raises(PriormatchError):
            long_tail_counts(BALANCED, ranking, 100.0, subset_size=too_large)


def test_count_rounding_to_zero_suggests_a_ratio_that_fits() -> None:
    ranking = class_ranking(10, seed=0)
    with pytest.raises(PriormatchError, match=r"gets 0 samples.*imbalance_ratio <= ([\d.]+)") as error:
        long_tail_counts(BALANCED, ranking, 100.0, subset_size=50)
    suggested = float(str(error.value).split("imbalance_ratio <= ")[1].split()[0])
    assert long_tail_counts(BALANCED, ranking, suggested, subset_size=50).min() >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        ((BALANCED, np.arange(10), 0.5), "imbalance_ratio=0.5"),
        ((BALANCED, np.arange(9), 2.0), "permutation"),
        ((np.array([3, 0, 3]), np.arange(3), 2.0), "class 1 has no samples"),
        ((BALANCED, np.arange(10), 2.0, 0), "subset_size=0"),
        ((BALANCED, np.arange(10), 2.0, 5), "subset_size >= 10"),
    ],
)
def test_errors(args: tuple, message: str) -> None:
    with pytest.raises(PriormatchError, match=message):
        long_tail_counts(*args)
