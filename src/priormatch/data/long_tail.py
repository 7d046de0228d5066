"""Long-tailed subsets of a balanced data set (exponential profile, seeded class order).

A seeded permutation ranks the classes (rank 0 = head); the class of rank r keeps
``n_r = n_max * rho ** (-r / (C - 1))`` samples, so ``n_0 / n_{C-1} = rho = n_max / n_min``
(the usual CIFAR-LT construction, Cui et al. 2019). ``rho = 1`` gives a balanced subset. With a
``subset_size`` the profile is scaled to that exact total, so a balanced and a long-tailed subset
of the same size differ only in their class proportions.
"""

from __future__ import annotations

import numpy as np

from priormatch.errors import PriormatchError

# Independent random streams derived from one seed: class order and which samples are kept.
_RANKING_STREAM = 0
_SAMPLING_STREAM = 1


def class_ranking(num_classes: int, seed: int) -> np.ndarray:
    """(num_classes,) class ids ordered by rank: ``ranking[0]`` is the head class, ``ranking[-1]`` the tail."""
    if num_classes < 1:
        raise PriormatchError(f"num_classes={num_classes}; a long-tailed subset needs at least one class")
    return np.random.default_rng([seed, _RANKING_STREAM]).permutation(num_classes)


def profile_weights(num_classes: int, imbalance_ratio: float) -> np.ndarray:
    """(num_classes,) relative size ``rho ** (-r / (C - 1))`` of the class of rank r (1 for the head)."""
    if not imbalance_ratio >= 1:
        raise PriormatchError(f"imbalance_ratio={imbalance_ratio}; it is n_max / n_min, so use a value >= 1 (1 = balanced)")
    if num_classes == 1:
        return np.ones(1)
    return imbalance_ratio ** (-np.arange(num_classes) / (num_classes - 1))


def long_tail_counts(
    available_counts: np.ndarray,
    ranking: np.ndarray,
    imbalance_ratio: float,
    subset_size: int | None = None,
) -> np.ndarray:
    """(C,) samples to keep per class id, following the exponential profile over ``ranking``.

    Without ``subset_size`` the head keeps as many samples as the profile allows given
    ``available_counts`` (C,); with it, counts are rounded by largest remainder to sum exactly to
    ``subset_size``. Raises if a class has too few samples or its count rounds to 0.
    """
    available = np.asarray(available_counts, dtype=np.int64)
    ranking = np.asarray(ranking)
    if ranking.shape != available.shape or not np.array_equal(np.sort(ranking), np.arange(len(available))):
        raise PriormatchError(f"ranking must be a permutation of 0..{len(available) - 1} (one entry per class); use class_ranking()")
    if (available == 0).any():
        empty = int(np.flatnonzero(available == 0)[0])
        raise PriormatchError(f"class {empty} has no samples to draw from; relabel classes to 0..K-1 without gaps")
    weights = profile_weights(len(available), imbalance_ratio)
    ranked_available = available[ranking]
    if subset_size is None:
        ranked = _counts_from_available(ranked_available, weights)
    else:
        ranked = _counts_for_size(ranked_available, weights, subset_size)
        _check_fits(ranked, ranked_available, ranking, weights, subset_size)
    _check_nonzero(ranked, ranked_available, ranking, imbalance_ratio, subset_size)
    counts = np.empty_like(ranked)
    counts[ranking] = ranked
    return counts


def long_tail_indices(
    y: np.ndarray,
    num_classes: int,
    *,
    imbalance_ratio: float,
    seed: int,
    subset_size: int | None = None,
) -> np.ndarray:
    """Sorted indices into ``y`` (n,) of a long-tailed subset; deterministic given ``seed``.

    The class order comes from :func:`class_ranking` ``(num_classes, seed)``, the counts from
    :func:`long_tail_counts`, and the kept samples of each class from a seeded random choice.
    """
    y = np.asarray(y)
    ranking = class_ranking(num_classes, seed)
    counts = long_tail_counts(np.bincount(y, minlength=num_classes), ranking, imbalance_ratio, subset_size)
    rng = np.random.default_rng([seed, _SAMPLING_STREAM])
    kept = [rng.choice(np.flatnonzero(y == c), size=int(counts[c]), replace=False) for c in range(num_classes)]
    return np.sort(np.concatenate(kept))


def largest_subset_size(y: np.ndarray, num_classes: int, *, imbalance_ratio: float, seed: int) -> int:
    """The largest ``subset_size`` that :func:`long_tail_indices` can draw from labels ``y`` (n,)
    with this ``imbalance_ratio`` and the class order of ``seed`` (0 when a class has no sample)."""
    available = np.bincount(np.asarray(y), minlength=num_classes)[class_ranking(num_classes, seed)]
    if (available == 0).any():
        return 0
    return _largest_fitting_size(available, profile_weights(num_classes, imbalance_ratio))


def _counts_from_available(ranked_available: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rank-ordered counts with the largest head the availability of every rank allows."""
    n_max = np.floor(np.min(ranked_available / weights))
    # n_max * w_r <= available_r exactly, so rounding never exceeds an integer availability.
    return np.round(n_max * weights).astype(np.int64)


def _counts_for_size(ranked_available: np.ndarray, weights: np.ndarray, subset_size: int) -> np.ndarray:
    """Rank-ordered counts summing exactly to ``subset_size`` (largest-remainder rounding)."""
    if subset_size < 1:
        raise PriormatchError(f"subset_size={subset_size}; use a positive number of samples or None for all")
    ideal = subset_size * weights / weights.sum()
    counts = np.floor(ideal).astype(np.int64)
    shortfall = subset_size - int(counts.sum())
    # Stable sort: among equal remainders the higher-ranked (larger) class gets the extra sample.
    order = np.argsort(-(ideal - counts), kind="stable")
    counts[order[:shortfall]] += 1
    return counts


def _largest_fitting_size(ranked_available: np.ndarray, weights: np.ndarray) -> int:
    """The largest ``subset_size`` whose rounded counts fit within every class's samples.

    Rounding moves a count by less than 1, so no size with an ideal count >= available + 1 fits.
    """
    size = int(np.floor(np.min((ranked_available + 1) * weights.sum() / weights)))
    while size > 0 and (_counts_for_size(ranked_available, weights, size) > ranked_available).any():
        size -= 1
    return size


def _check_fits(ranked: np.ndarray, ranked_available: np.ndarray, ranking: np.ndarray, weights: np.ndarray, subset_size: int) -> None:
    short = np.flatnonzero(ranked > ranked_available)
    if len(short) == 0:
        return
    r = int(short[0])
    raise PriormatchError(
        f"class {int(ranking[r])} (rank {r}) needs {int(ranked[r])} samples for subset_size={subset_size} but has "
        f"{int(ranked_available[r])}; use subset_size <= {_largest_fitting_size(ranked_available, weights)} "
        "at this imbalance_ratio"
    )


def _ranked_counts(ranked_available: np.ndarray, imbalance_ratio: float, subset_size: int | None) -> np.ndarray:
    weights = profile_weights(len(ranked_available), imbalance_ratio)
    if subset_size is None:
        return _counts_from_available(ranked_available, weights)
    return _counts_for_size(ranked_available, weights, subset_size)


def _largest_nonzero_ratio(ranked_available: np.ndarray, imbalance_ratio: float, subset_size: int | None) -> float:
    """The largest ratio in [1, imbalance_ratio] (to 2 decimals) that leaves every class a sample.

    The tail's share only grows as the ratio shrinks, so bisection finds it.
    """
    low, high = 1.0, float(imbalance_ratio)
    for _ in range(60):
        middle = (low + high) / 2
        if (_ranked_counts(ranked_available, middle, subset_size) > 0).all():
            low = middle
        else:
            high = middle
    return np.floor(low * 100) / 100


def _check_nonzero(
    ranked: np.ndarray,
    ranked_available: np.ndarray,
    ranking: np.ndarray,
    imbalance_ratio: float,
    subset_size: int | None,
) -> None:
    empty = np.flatnonzero(ranked == 0)
    if len(empty) == 0:
        return
    r = int(empty[0])
    if (_ranked_counts(ranked_available, 1.0, subset_size) == 0).any():
        fix = f"use subset_size >= {len(ranked)} (one sample per class) or more"
    else:
        fix = f"use imbalance_ratio <= {_largest_nonzero_ratio(ranked_available, imbalance_ratio, subset_size)}"
        fix += "" if subset_size is None else " or a larger subset_size"
    raise PriormatchError(
        f"class {int(ranking[r])} (rank {r}) gets 0 samples with imbalance_ratio={imbalance_ratio} and subset_size={subset_size}; {fix}"
    )
