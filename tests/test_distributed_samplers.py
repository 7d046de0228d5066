"""Samplers under DDP: disjoint rank shards, the same global batches for any number of ranks,
reseeding per epoch, and the two class-imbalanced modes."""

from __future__ import annotations

import numpy as np
import pytest

from priormatch.data.samplers import ClassImbalancedSampler, GlobalBatchSampler, ShuffleSampler, batch_indices, rank_slice

LABELS = np.repeat(np.arange(8), 60)  # 480 samples, 8 classes
BATCH = 48


def make(kind: str, world_size: int, seed: int = 0) -> GlobalBatchSampler:
    if kind == "shuffle":
        return ShuffleSampler(LABELS, BATCH, seed)
    mode = kind.removeprefix("imbalanced_")
    return ClassImbalancedSampler(LABELS, BATCH, 2, seed, world_size=world_size, mode=mode)


def rank_shards(sampler: GlobalBatchSampler, epoch: int, world_size: int) -> list[np.ndarray]:
    """Every index rank r trains on during ``epoch``, per rank."""
    batches = sampler.epoch_batches(epoch)
    return [np.concatenate([rank_slice(batch, r, world_size) for batch in batches]) for r in range(world_size)]


@pytest.mark.parametrize("kind", ["shuffle", "imbalanced_global", "imbalanced_per_rank"])
@pytest.mark.parametrize("world_size", [2, 4])
def test_rank_shards_of_an_epoch_are_disjoint_equal_sized_and_cover_the_batches(kind: str, world_size: int) -> None:
    sampler = make(kind, world_size)
    shards = rank_shards(sampler, 0, world_size)
    assert len({len(s) for s in shards}) == 1
    union = np.concatenate(shards)
    assert len(np.unique(union)) == len(union)  # no sample on two ranks, none twice
    np.testing.assert_array_equal(np.sort(union), np.sort(sampler.epoch_batches(0).ravel()))


@pytest.mark.parametrize("kind", ["shuffle", "imbalanced_global", "imbalanced_per_rank"])
def test_shards_are_reseeded_every_epoch_and_identical_on_every_rank(kind: str) -> None:
    first, again = make(kind, 2), make(kind, 2)  # two ranks build their samplers independently
    for epoch in range(3):
        np.testing.assert_array_equal(first.epoch_batches(epoch), again.epoch_batches(epoch))
    assert not np.array_equal(rank_shards(first, 0, 2)[0], rank_shards(first, 1, 2)[0])
    assert not np.array_equal(make(kind, 2, seed=1).epoch_batches(0), first.epoch_batches(0))


@pytest.mark.parametrize("kind", ["shuffle", "imbalanced_global"])
def test_global_batches_do_not_depend_on_the_number_of_ranks(kind: str) -> None:
    """What makes N ranks equal one process: the same global batch at every step."""
    one, two, four = make(kind, 1), make(kind, 2), make(kind, 4)
    for step in range(2 * one.batches_per_epoch):
        np.testing.assert_array_equal(batch_indices(one, step), batch_indices(two, step))
        np.testing.assert_array_equal(batch_indices(one, step), batch_indices(four, step))


def test_global_mode_every_rank_draws_from_the_same_k_classes() -> None:
    sampler = make("imbalanced_global", 4)
    for batch in sampler.epoch_batches(0):
        classes = [set(LABELS[rank_slice(batch, r, 4)]) for r in range(4)]
        assert set().union(*classes) == set(LABELS[batch]) and len(set(LABELS[batch])) <= 3
    assert np.mean(sampler.classes_per_group(0) == 2) >= 0.7  # 60 per class in shares of 24: some straddle


def test_per_rank_mode_each_rank_draws_its_own_k_classes() -> None:
    sampler = make("imbalanced_per_rank", 4)
    union_sizes = []
    for batch in sampler.epoch_batches(0):
        for r in range(4):
            assert len(set(LABELS[rank_slice(batch, r, 4)])) <= 3
        union_sizes.append(len(set(LABELS[batch])))
    assert max(union_sizes) > 2
    assert np.mean(sampler.classes_per_group(0) == 2) >= 0.9
