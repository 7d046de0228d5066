"""Samplers that yield *global* batches of sample indices, one epoch at a time.

Every sampler returns the same ``(batches_per_epoch, global_batch_size)`` index array on every
rank; rank r trains on :func:`rank_slice` of each row. W ranks together therefore see exactly the
batches of one process with the global batch, which is what makes multi-GPU runs of the
batch-statistics objectives equal to single-process runs. Each epoch is a pure function of
``(seed, epoch)``, so :func:`batch_indices` can resume at any global step.

:class:`ClassImbalancedSampler` builds the paper's class-imbalanced batches (Assran et al. 2023,
claim 2): each batch is made of k class-sorted runs of samples, so it holds about k classes,
while every sample, on any class profile (long-tailed included), is seen exactly once per epoch
except a uniformly random remainder of fewer than one batch, as with :class:`ShuffleSampler`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from priormatch.errors import PriormatchError

Mode = Literal["global", "per_rank"]


class GlobalBatchSampler(ABC):
    """An epoch of global batches as a ``(batches_per_epoch, global_batch_size)`` int64 array.

    The last epoch's batches are cached, so stepping through an epoch costs one build.
    """

    batches_per_epoch: int
    global_batch_size: int

    def __init__(self) -> None:
        self._cached_epoch: int | None = None
        self._cached_batches: np.ndarray | None = None

    def epoch_batches(self, epoch: int) -> np.ndarray:
        """(batches_per_epoch, global_batch_size) indices of ``epoch``; read-only, deterministic."""
        if epoch < 0:
            raise PriormatchError(f"epoch={epoch}; epochs count from 0")
        if self._cached_epoch != epoch:
            batches = self._build_epoch(epoch).astype(np.int64)
            batches.setflags(write=False)
            self._cached_epoch, self._cached_batches = epoch, batches
        assert self._cached_batches is not None  # set together with _cached_epoch
        return self._cached_batches

    @abstractmethod
    def _build_epoch(self, epoch: int) -> np.ndarray:
        """(batches_per_epoch, global_batch_size) indices, a pure function of (seed, epoch)."""


class ShuffleSampler(GlobalBatchSampler):
    """Uniformly shuffled batches; the last incomplete batch of each epoch is dropped."""

    def __init__(self, labels: np.ndarray, global_batch_size: int, seed: int) -> None:
        super().__init__()
        self.num_samples = len(labels)
        self.global_batch_size = global_batch_size
        self.seed = seed
        _check_batch_size(global_batch_size, self.num_samples)
        self.batches_per_epoch = self.num_samples // global_batch_size

    def _build_epoch(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.num_samples)
        used = self.batches_per_epoch * self.global_batch_size
        return order[:used].reshape(self.batches_per_epoch, self.global_batch_size)


class ClassImbalancedSampler(GlobalBatchSampler):
    """Batches whose groups hold ``classes_per_batch`` (k) classes, every sample once per epoch.

    A *group* is ``group_size`` samples. In ``"global"`` mode a group is the whole global batch; in
    ``"per_rank"`` mode it is one rank's local batch (``global_batch_size / world_size``), so each
    rank draws its own classes and the global batch holds up to ``world_size * k`` classes.

    Per epoch, seeded by (seed, epoch): drop a uniformly random ``dropped_per_epoch`` samples
    (``num_samples mod global_batch_size``, fewer than one batch, as :class:`ShuffleSampler`
    drops); queue the classes in a random order, each with its samples shuffled; fill groups one
    after another from k *active* classes, each giving an equal share (``group_size / k``) or all
    it has left if less, the others making up the difference (:func:`_equal_shares`); a class that
    runs out is replaced by the next in the queue, and when the active classes cannot fill a group
    the next classes join it. Groups are then shuffled within and among themselves.

    So every kept sample appears exactly once per epoch on any class profile (the sampling
    marginal is uniform per sample, with as many batches per epoch as shuffled training), and a
    group holds exactly k classes, ``group_size / k`` samples each, while the active classes are
    larger than a share; it holds unequal shares of k classes when one runs out, and more than k
    classes only where the remaining active classes are together smaller than a group (the tail
    classes of a long-tailed profile, and the epoch's last groups). :meth:`classes_per_group`
    counts them for an epoch.
    """

    def __init__(
        self,
        labels: np.ndarray,
        global_batch_size: int,
        classes_per_batch: int,
        seed: int,
        *,
        world_size: int = 1,
        mode: Mode = "global",
    ) -> None:
        super().__init__()
        self.labels = np.asarray(labels)
        self.global_batch_size = global_batch_size
        self.classes_per_batch = classes_per_batch
        self.seed = seed
        self.world_size = world_size
        self.mode = mode
        self.num_samples = len(self.labels)
        self.classes, self._class_codes = np.unique(self.labels, return_inverse=True)
        self.group_size, self.groups_per_batch = _group_layout(global_batch_size, classes_per_batch, world_size, mode, len(self.classes))
        _check_batch_size(global_batch_size, self.num_samples)
        self.batches_per_epoch = self.num_samples // global_batch_size
        self.dropped_per_epoch = self.num_samples - self.batches_per_epoch * global_batch_size

    def _build_epoch(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        kept = rng.permutation(self.num_samples)[: self.batches_per_epoch * self.global_batch_size]
        class_rank = rng.permutation(len(self.classes))[self._class_codes[kept]]
        ordered = kept[np.argsort(class_rank, kind="stable")]  # class by class, random order, shuffled within
        groups = _fill_groups(ordered, self._class_codes[ordered], self.group_size, self.classes_per_batch)
        groups = rng.permuted(groups, axis=1)[rng.permutation(len(groups))]
        return groups.reshape(self.batches_per_epoch, self.global_batch_size)

    def classes_per_group(self, epoch: int) -> np.ndarray:
        """(batches_per_epoch * groups_per_batch,) number of distinct classes in each group of ``epoch``."""
        groups = self._class_codes[self.epoch_batches(epoch)].reshape(-1, self.group_size)
        return np.array([len(np.unique(group)) for group in groups])


def _fill_groups(ordered: np.ndarray, codes: np.ndarray, group_size: int, k: int) -> np.ndarray:
    """(len(ordered) / group_size, group_size) groups cut from class-sorted indices, each used once.

    ``ordered`` (n,) holds the indices class by class, ``codes`` (n,) their classes. It is cut
    into k *lanes* of n / k consecutive indices, and each lane into *pieces* (its runs of one
    class). A group takes from the current piece of every lane, equal shares (:func:`_equal_shares`:
    a piece with fewer left gives what it has and the others make up the difference); a lane whose
    piece runs out moves on to its next piece. The lanes hold equally many samples, so all of them
    run until the last groups; a class larger than a lane spans two lanes and fills two shares of
    some groups. When the current pieces cannot fill a group, the next pieces of the fullest lanes
    join it.
    """
    lanes = [_pieces(lane, lane_codes) for lane, lane_codes in zip(np.split(ordered, k), np.split(codes, k))]
    groups = []
    for _ in range(len(ordered) // group_size):
        depth = _pieces_needed(lanes, group_size)
        active = [piece for lane, d in zip(lanes, depth) for piece in lane[:d]]
        takes = _equal_shares(np.array([len(piece) for piece in active]), group_size)
        groups.append(np.concatenate([piece[:t] for piece, t in zip(active, takes)]))
        consumed = iter(takes)
        for position, (lane, d) in enumerate(zip(lanes, depth)):
            cut = [piece[next(consumed) :] for piece in lane[:d]]
            lanes[position] = [piece for piece in cut + lane[d:] if len(piece)]
    return np.stack(groups)


def _pieces(indices: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    """``indices`` split where ``codes`` changes: the runs of one class, in order."""
    return np.split(indices, np.flatnonzero(np.diff(codes)) + 1)


def _pieces_needed(lanes: list[list[np.ndarray]], group_size: int) -> list[int]:
    """How many front pieces of each lane the next group draws on: the first of every non-empty
    lane, plus the next pieces of the lanes with the most left until they hold ``group_size``."""
    depth = [min(1, len(lane)) for lane in lanes]
    held = sum(len(lane[0]) for lane in lanes if lane)
    while held < group_size:
        beyond = [sum(len(piece) for piece in lane[d:]) for lane, d in zip(lanes, depth)]
        fullest = int(np.argmax(beyond))
        held += len(lanes[fullest][depth[fullest]])
        depth[fullest] += 1
    return depth


def _equal_shares(available: np.ndarray, total: int) -> np.ndarray:
    """Integer takes (same shape as ``available``) summing to ``total`` <= available.sum(), each at
    most its availability and otherwise as equal as possible (water-filling, smallest first)."""
    takes = np.zeros_like(available)
    left = total
    for position, index in enumerate(np.argsort(available, kind="stable")):
        takes[index] = min(available[index], left // (len(available) - position))
        left -= takes[index]
    for index in np.argsort(-(available - takes), kind="stable")[:left]:  # rounding leftovers, one each
        takes[index] += 1
    return takes


def rank_slice(global_batch: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s contiguous share (global_batch_size / world_size,) of a global batch (B,)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise PriormatchError(f"rank={rank} with world_size={world_size}; need 0 <= rank < world_size")
    if len(global_batch) % world_size != 0:
        raise PriormatchError(
            f"global batch of {len(global_batch)} samples does not split over world_size={world_size} ranks; "
            "use a global batch size divisible by the number of ranks"
        )
    local = len(global_batch) // world_size
    return global_batch[rank * local : (rank + 1) * local]


def batch_indices(sampler: GlobalBatchSampler, step: int) -> np.ndarray:
    """(global_batch_size,) indices of global training step ``step`` (epoch = step // batches_per_epoch)."""
    if step < 0:
        raise PriormatchError(f"step={step}; training steps count from 0")
    epoch, batch = divmod(step, sampler.batches_per_epoch)
    return sampler.epoch_batches(epoch)[batch]


def _check_batch_size(global_batch_size: int, num_samples: int) -> None:
    if not 1 <= global_batch_size <= num_samples:
        raise PriormatchError(
            f"global batch size {global_batch_size} must lie in 1..{num_samples} (the number of training samples); change the batch size"
        )


def _group_layout(global_batch_size: int, classes_per_batch: int, world_size: int, mode: Mode, num_classes: int) -> tuple[int, int]:
    """(group size, groups per global batch) after checking k, the batch size and the world size."""
    if not 1 <= classes_per_batch <= num_classes:
        raise PriormatchError(
            f"data.classes_per_batch={classes_per_batch}; it must lie in 1..{num_classes} (the data have {num_classes} classes)"
        )
    if world_size < 1 or global_batch_size % world_size != 0:
        raise PriormatchError(
            f"global batch size {global_batch_size} is not divisible by world_size={world_size}; use a multiple of the number of ranks"
        )
    if mode == "global":
        group_size, groups_per_batch = global_batch_size, 1
    elif mode == "per_rank":
        group_size, groups_per_batch = global_batch_size // world_size, world_size
    else:
        raise PriormatchError(f"class-imbalanced sampler mode={mode!r}; use 'global' or 'per_rank'")
    if group_size % classes_per_batch != 0:
        what = "global" if mode == "global" else "per-rank"
        raise PriormatchError(
            f"{what} batch size {group_size} is not divisible by data.classes_per_batch={classes_per_batch}; "
            f"use a batch size that gives each of the {classes_per_batch} classes the same number of samples"
        )
    return group_size, groups_per_batch
