"""Global-batch samplers: coverage per epoch, class composition, determinism, rank slicing."""

from __future__ import annotations

import numpy as np
import pytest

from priormatch.data.long_tail import long_tail_counts
from priormatch.data.samplers import ClassImbalancedSampler, ShuffleSampler, _equal_shares, batch_indices, rank_slice
from priormatch.errors import PriormatchError

BALANCED = np.repeat(np.arange(10), 200)  # 2,000 samples, 10 classes
IMBALANCED = np.repeat(np.arange(6), [400, 300, 200, 120, 60, 40])


def assert_each_sample_at_most_once(batches: np.ndarray, num_samples: int) -> None:
    flat = batches.ravel()
    assert len(np.unique(flat)) == len(flat) and flat.min() >= 0 and flat.max() < num_samples


def test_shuffle_sampler_covers_all_but_the_last_partial_batch() -> None:
    sampler = ShuffleSampler(BALANCED, global_batch_size=64, seed=0)
    batches = sampler.epoch_batches(0)
    assert sampler.batches_per_epoch == 31 and batches.shape == (31, 64)
    assert_each_sample_at_most_once(batches, 2000)
    np.testing.assert_array_equal(batches, ShuffleSampler(BALANCED, 64, seed=0).epoch_batches(0))
    assert not np.array_equal(batches, sampler.epoch_batches(1))
    assert not np.array_equal(batches, ShuffleSampler(BALANCED, 64, seed=1).epoch_batches(0))


LONG_TAILED = np.repeat(np.arange(10), long_tail_counts(np.full(10, 6000), np.arange(10), 100.0, 5120))  # rho = 100


def exactly_k_share(sampler: ClassImbalancedSampler, labels: np.ndarray, epochs: int = 20) -> tuple[float, float]:
    """(mean classes per group, fraction of groups with exactly k classes) over ``epochs``."""
    counts = np.concatenate([sampler.classes_per_group(epoch) for epoch in range(epochs)])
    return counts.mean(), (counts == sampler.classes_per_batch).mean()


@pytest.mark.parametrize("k", [1, 2, 4])
def test_balanced_batches_hold_k_classes_in_equal_shares(k: int) -> None:
    sampler = ClassImbalancedSampler(BALANCED, global_batch_size=40, classes_per_batch=k, seed=0)
    for epoch in range(2):
        batches = sampler.epoch_batches(epoch)
        assert batches.shape == (50, 40) and sampler.dropped_per_epoch == 0
        np.testing.assert_array_equal(np.sort(batches.ravel()), np.arange(len(BALANCED)))  # each sample once
        for batch in batches:
            classes, counts = np.unique(BALANCED[batch], return_counts=True)
            assert len(classes) == k and (counts == 40 // k).all()


@pytest.mark.parametrize("k", [1, 2, 4])
def test_every_long_tailed_sample_is_seen_exactly_once_per_epoch(k: int) -> None:
    """rho = 100 labels (counts 2,064 ... 20): the old chunked sampler never showed four classes."""
    sampler = ClassImbalancedSampler(LONG_TAILED, global_batch_size=256, classes_per_batch=k, seed=0)
    assert sampler.batches_per_epoch == len(LONG_TAILED) // 256 == 20 and sampler.dropped_per_epoch == 0
    for epoch in range(3):
        np.testing.assert_array_equal(np.sort(sampler.epoch_batches(epoch).ravel()), np.arange(len(LONG_TAILED)))


@pytest.mark.parametrize("labels", [IMBALANCED[:-3], LONG_TAILED[:-7]], ids=["imbalanced", "long_tailed"])
def test_sampling_marginal_is_uniform_per_sample_and_per_class(labels: np.ndarray) -> None:
    """With a remainder to drop, each sample's frequency over epochs is Binomial(E, used / n): no
    sample and no class is favoured (the rare classes included)."""
    sampler = ClassImbalancedSampler(labels, global_batch_size=40, classes_per_batch=2, seed=0)
    assert 0 < sampler.dropped_per_epoch == len(labels) % 40
    epochs, rate = 300, 1 - sampler.dropped_per_epoch / len(labels)
    seen = np.zeros(len(labels))
    for epoch in range(epochs):
        batch = sampler.epoch_batches(epoch).ravel()
        assert len(np.unique(batch)) == len(batch)
        seen[batch] += 1
    sample_std = np.sqrt(rate * (1 - rate) / epochs)
    assert np.abs(seen / epochs - rate).max() < 6 * sample_std
    for c in np.unique(labels):
        members = labels == c
        assert abs(seen[members].mean() / epochs - rate) < 4.5 * sample_std / np.sqrt(members.sum())


@pytest.mark.parametrize(("k", "mean_at_most", "exact_at_least"), [(2, 2.2, 0.85), (4, 4.0, 0.3)])
def test_long_tailed_batches_stay_concentrated_on_about_k_classes(k: int, mean_at_most: float, exact_at_least: float) -> None:
    """Tail classes smaller than a share and a head class larger than 1/k of the data (it spans two
    lanes, so it can fill two shares) move the count off k; the measured rates are documented."""
    sampler = ClassImbalancedSampler(LONG_TAILED, global_batch_size=256, classes_per_batch=k, seed=0)
    mean, exact = exactly_k_share(sampler, LONG_TAILED)
    assert mean <= mean_at_most and exact >= exact_at_least


def test_equal_shares_are_capped_and_as_equal_as_possible() -> None:
    np.testing.assert_array_equal(_equal_shares(np.array([100, 100]), 5), [2, 3])
    np.testing.assert_array_equal(_equal_shares(np.array([1, 10]), 10), [1, 9])
    np.testing.assert_array_equal(_equal_shares(np.array([7, 7, 7]), 10), [3, 3, 4])
    np.testing.assert_array_equal(_equal_shares(np.array([5, 0, 9]), 14), [5, 0, 9])


def test_class_imbalanced_is_deterministic_and_epochs_differ() -> None:
    first = ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(3)
    np.testing.assert_array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(3))
    assert not np.array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(4))
    assert not np.array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=6).epoch_batches(3))


def test_batches_pair_classes_at_random() -> None:
    sampler = ClassImbalancedSampler(BALANCED, 20, 2, seed=0)
    pairs = {tuple(np.unique(BALANCED[b])) for epoch in range(5) for b in sampler.epoch_batches(epoch)}
    assert len(pairs) > 15  # of 45 possible pairs; the class order, hence the pairing, is redrawn every epoch


def test_per_rank_mode_draws_k_classes_per_rank() -> None:
    sampler = ClassImbalancedSampler(BALANCED, 48, 2, seed=0, world_size=4, mode="per_rank")
    batches = sampler.epoch_batches(0)
    assert_each_sample_at_most_once(batches, len(BALANCED))
    per_rank = [len(np.unique(BALANCED[rank_slice(batch, rank, 4)])) for batch in batches for rank in range(4)]
    assert np.mean(np.array(per_rank) == 2) > 0.95 and max(per_rank) <= 3
    assert max(len(np.unique(BALANCED[batch])) for batch in batches) > 2  # ranks draw their classes independently


def test_global_mode_with_ranks_keeps_the_whole_batch_to_k_classes() -> None:
    sampler = ClassImbalancedSampler(BALANCED, 48, 2, seed=0, world_size=4, mode="global")
    mean, exact = exactly_k_share(sampler, BALANCED)
    assert mean < 2.1 and exact > 0.9
    # samples are shuffled inside the batch, so ranks see a mix of the batch's classes
    mixed = [len(np.unique(BALANCED[rank_slice(batch, r, 4)])) >= 2 for batch in sampler.epoch_batches(0) for r in range(4)]
    assert np.mean(mixed) > 0.9


def test_rank_slices_partition_the_global_batch() -> None:
    batch = np.arange(100, 124)
    slices = [rank_slice(batch, r, 3) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(slices), batch)
    assert all(len(s) == 8 for s in slices)
    with pytest.raises(PriormatchError, match="world_size=5"):
        rank_slice(batch, 0, 5)
    with pytest.raises(PriormatchError, match="rank=3"):
        rank_slice(batch, 3, 3)


@pytest.mark.parametrize("sampler_type", ["shuffle", "imbalanced"])
def test_batch_indices_resume_at_any_step(sampler_type: str) -> None:
    def make():
        if sampler_type == "shuffle":
            return ShuffleSampler(BALANCED, 64, seed=2)
        return ClassImbalancedSampler(BALANCED, 64, 4, seed=2)

    sampler = make()
    per_epoch = sampler.batches_per_epoch
    run = [batch_indices(sampler, step) for step in range(3 * per_epoch)]
    np.testing.assert_array_equal(run[per_epoch + 1], sampler.epoch_batches(1)[1])
    resumed = make()
    np.testing.assert_array_equal(batch_indices(resumed, 2 * per_epoch + 3), run[2 * per_epoch + 3])
    with pytest.raises(ValueError):
        sampler.epoch_batches(0)[0, 0] = -1  # cached batches are read-only


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes_per_batch": 0}, r"data.classes_per_batch=0; .*10 classes"),
        ({"classes_per_batch": 11}, r"data.classes_per_batch=11; .*10 classes"),
        ({"classes_per_batch": 3}, "not divisible by data.classes_per_batch=3"),
        ({"classes_per_batch": 2, "world_size": 3}, "world_size=3"),
        ({"classes_per_batch": 4, "world_size": 4, "mode": "per_rank"}, "per-rank batch size 10"),
        ({"classes_per_batch": 2, "mode": "ranked"}, "mode='ranked'"),
    ],
)
def test_class_imbalanced_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(PriormatchError, match=message):
        ClassImbalancedSampler(BALANCED, 40, seed=0, **kwargs)


def test_batch_larger_than_data_is_an_error() -> None:
    with pytest.raises(PriormatchError, match="global batch size 4000"):
        ShuffleSampler(BALANCED, 4000, seed=0)
    with pytest.raises(PriormatchError, match="global batch size 40 must lie in 1..35"):
        ClassImbalancedSampler(np.repeat([0, 1], [30, 5]), 40, 2, seed=0)
    # a class smaller than its share no longer stops the sampler: the other class makes up the batch
    small = ClassImbalancedSampler(np.repeat([0, 1], [30, 5]), 20, 2, seed=0)
    assert small.batches_per_epoch == 1 and len(np.unique(small.epoch_batches(0))) == 20
