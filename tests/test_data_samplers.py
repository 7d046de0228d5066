"""Global-batch samplers: coverage per epoch, class composition, determinism, rank slicing."""

from __future__ import annotations

import numpy as np
import pytest

from priormatch.data.samplers import ClassImbalancedSampler, ShuffleSampler, batch_indices, rank_slice
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


@pytest.mark.parametrize("labels", [BALANCED, IMBALANCED], ids=["balanced", "imbalanced"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_class_imbalanced_batches_hold_k_classes(labels: np.ndarray, k: int) -> None:
    sampler = ClassImbalancedSampler(labels, global_batch_size=40, classes_per_batch=k, seed=0)
    for epoch in range(2):
        batches = sampler.epoch_batches(epoch)
        assert batches.shape == (sampler.batches_per_epoch, 40)
        assert_each_sample_at_most_once(batches, len(labels))
        for batch in batches:
            classes, counts = np.unique(labels[batch], return_counts=True)
            assert len(classes) == k and (counts == 40 // k).all()
    assert sampler.dropped_per_epoch == len(labels) - batches.size


def test_balanced_data_drop_less_than_one_chunk_per_class_plus_a_batch() -> None:
    labels = np.repeat(np.arange(10), 203)
    sampler = ClassImbalancedSampler(labels, global_batch_size=64, classes_per_batch=2, seed=0)
    assert sampler.dropped_per_epoch < 10 * sampler.chunk_size + 64
    assert sampler.dropped_per_epoch / len(labels) < 0.1


def test_equal_marginals_across_epochs() -> None:
    """Every sample of a balanced set is seen equally often over many epochs (up to the remainder)."""
    labels = np.repeat(np.arange(4), 50)
    sampler = ClassImbalancedSampler(labels, global_batch_size=20, classes_per_batch=2, seed=0)
    seen = np.zeros(len(labels))
    for epoch in range(200):
        np.add.at(seen, sampler.epoch_batches(epoch).ravel(), 1)
    rate = sampler.batches_per_epoch * 20 / len(labels)
    np.testing.assert_allclose(seen / 200, rate, atol=0.1)


def test_class_imbalanced_is_deterministic_and_epochs_differ() -> None:
    first = ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(3)
    np.testing.assert_array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(3))
    assert not np.array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=5).epoch_batches(4))
    assert not np.array_equal(first, ClassImbalancedSampler(BALANCED, 40, 2, seed=6).epoch_batches(3))


def test_batches_pair_classes_at_random() -> None:
    batches = ClassImbalancedSampler(BALANCED, 20, 2, seed=0).epoch_batches(0)
    pairs = {tuple(np.unique(BALANCED[b])) for b in batches}
    assert len(pairs) > 20  # of 45 possible pairs


def test_per_rank_mode_draws_k_classes_per_rank() -> None:
    sampler = ClassImbalancedSampler(BALANCED, 48, 2, seed=0, world_size=4, mode="per_rank")
    batches = sampler.epoch_batches(0)
    assert_each_sample_at_most_once(batches, len(BALANCED))
    global_class_counts = []
    for batch in batches:
        for rank in range(4):
            classes, counts = np.unique(BALANCED[rank_slice(batch, rank, 4)], return_counts=True)
            assert len(classes) == 2 and (counts == 6).all()
        global_class_counts.append(len(np.unique(BALANCED[batch])))
    assert max(global_class_counts) > 2  # ranks draw their classes independently


def test_global_mode_with_ranks_keeps_the_whole_batch_to_k_classes() -> None:
    sampler = ClassImbalancedSampler(BALANCED, 48, 2, seed=0, world_size=4, mode="global")
    for batch in sampler.epoch_batches(0):
        assert len(np.unique(BALANCED[batch])) == 2
        # samples are shuffled inside the batch, so ranks see a mix of the k classes
        assert any(len(np.unique(BALANCED[rank_slice(batch, r, 4)])) == 2 for r in range(4))


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
    with pytest.raises(PriormatchError, match="need more samples per class"):
        ClassImbalancedSampler(np.repeat([0, 1], [30, 5]), 20, 2, seed=0)
