"""Samplers that yield *global* batches of sample indices, one epoch at a time.

Every sampler returns the same ``(batches_per_epoch, global_batch_size)`` index array on every
rank; rank r trains on :func:`rank_slice` of each row. W ranks together therefore see exactly the
batches of one process with the global batch, which is what makes multi-GPU runs of the
batch-statistics objectives equal to single-process runs. Each epoch is a pure function of
``(seed, epoch)``, so :func:`batch_indices` can resume at any global step.

:class:`ClassImbalancedSampler` builds the paper's class-imbalanced batches (Assran et al. 2023,
claim 2): each batch holds samples of only k classes, while every sample keeps the same chance
of being seen (each one at most once per epoch, all but a small documented remainder exactly once).
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
        return self._cached_batches  # type: ignore[return-value]

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
    """Batches whose samples come from only ``classes_per_batch`` (k) classes.

    A *group* is ``group_size`` samples made of k class-pure chunks of ``group_size / k``
    samples from k distinct classes, shuffled within the group. In ``"global"`` mode a group is
    the whole global batch; in ``"per_rank"`` mode it is one rank's local batch
    (``global_batch_size / world_size``), so each rank draws its own k classes and the global
    batch holds up to ``world_size * k`` classes.

    Per epoch, seeded by (seed, epoch): each class is shuffled and cut into chunks; chunks are
    assigned to groups by drawing k distinct classes with probability proportional to their
    remaining chunks, always including any class that would otherwise be left over (so all
    chunks are used); groups are shuffled and consecutive groups form the batches.

    Left over each epoch (not seen in that epoch, a different random set every epoch):

    * each class's last ``n_c mod chunk_size`` samples (fewer than one chunk per class);
    * when one class has more chunks than the others can pair with (a class with more than
      1/k of all chunks), its excess chunks;
    * in ``"per_rank"`` mode, fewer than ``world_size`` groups that do not fill a global batch.

    The count is the same every epoch: ``dropped_per_epoch``. With balanced classes it is below
    ``num_classes * chunk_size + global_batch_size`` samples.
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
        labels = np.asarray(labels)
        self.global_batch_size = global_batch_size
        self.classes_per_batch = classes_per_batch
        self.seed = seed
        self.world_size = world_size
        self.mode = mode
        self.num_samples = len(labels)
        self.classes = np.unique(labels)
        self._members = [np.flatnonzero(labels == c) for c in self.classes]
        self.group_size, self.groups_per_batch = _group_layout(
            global_batch_size, classes_per_batch, world_size, mode, len(self.classes)
        )
        _check_batch_size(global_batch_size, self.num_samples)
        self.chunk_size = self.group_size // classes_per_batch
        chunks = np.array([len(m) // self.chunk_size for m in self._members])
        self._num_groups = _max_groups(chunks, classes_per_batch)
        self.batches_per_epoch = self._num_groups // self.groups_per_batch
        if self.batches_per_epoch == 0:
            raise PriormatchError(
                f"class-imbalanced batches of {global_batch_size} samples from {classes_per_batch} classes "
                f"(data.classes_per_batch) need more samples per class than the data have "
                f"(chunks per class: {chunks.tolist()}); lower the batch size or raise data.classes_per_batch"
            )
        self.dropped_per_epoch = self.num_samples - self.batches_per_epoch * global_batch_size

    def _build_epoch(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        k, m = self.classes_per_batch, self.chunk_size
        chunks = [rng.permutation(members)[: len(members) // m * m].reshape(-1, m) for members in self._members]
        counts = _trim_counts(np.array([len(c) for c in chunks]), self._num_groups, k, rng)
        groups = np.empty((self._num_groups, self.group_size), dtype=np.int64)
        next_chunk = np.zeros(len(chunks), dtype=np.int64)
        for g, chosen in enumerate(_schedule_classes(counts, k, rng)):
            group = np.concatenate([chunks[c][next_chunk[c]] for c in chosen])
            next_chunk[chosen] += 1
            groups[g] = rng.permutation(group)
        groups = groups[rng.permutation(self._num_groups)]
        used = self.batches_per_epoch * self.groups_per_batch
        return groups[:used].reshape(self.batches_per_epoch, self.global_batch_size)


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
            f"global batch size {global_batch_size} must lie in 1..{num_samples} (the number of training "
            "samples); change the batch size"
        )


def _group_layout(
    global_batch_size: int, classes_per_batch: int, world_size: int, mode: Mode, num_classes: int
) -> tuple[int, int]:
    """(group size, groups per global batch) after checking k, the batch size and the world size."""
    if not 1 <= classes_per_batch <= num_classes:
        raise PriormatchError(
            f"data.classes_per_batch={classes_per_batch}; it must lie in 1..{num_classes} "
            f"(the data have {num_classes} classes)"
        )
    if world_size < 1 or global_batch_size % world_size != 0:
        raise PriormatchError(
            f"global batch size {global_batch_size} is not divisible by world_size={world_size}; "
            "use a multiple of the number of ranks"
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


def _max_groups(chunks: np.ndarray, k: int) -> int:
    """Most groups of k chunks from distinct classes: the largest R with sum(min(chunks, R)) >= k R.

    ``sum(min(chunks, R)) - k R`` is concave in R and 0 at R = 0, so the feasible R form an
    interval starting at 0 and bisection finds its end.
    """
    low, high = 0, int(chunks.sum()) // k  # low is feasible; answer in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if np.minimum(chunks, middle).sum() >= k * middle:
            low = middle
        else:
            high = middle - 1
    return low


def _trim_counts(chunks: np.ndarray, num_groups: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Chunks per class to use: at most ``num_groups`` per class, randomly trimmed to ``k * num_groups``.

    The result can always be split into ``num_groups`` groups of k distinct classes.
    """
    counts = np.minimum(chunks, num_groups)
    excess = int(counts.sum()) - k * num_groups
    if excess > 0:
        owner = np.repeat(np.arange(len(counts)), counts)
        dropped = rng.choice(len(owner), size=excess, replace=False)
        counts = counts - np.bincount(owner[dropped], minlength=len(counts))
    return counts


def _schedule_classes(counts: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The k distinct classes of each group, using every chunk in ``counts`` (sum = k * groups).

    Invariant: no class has more chunks than groups remain. A class with exactly that many must
    be in the next group; the other places are drawn in proportion to the remaining chunks.
    """
    counts = counts.copy()
    remaining = int(counts.sum()) // k
    schedule = []
    while remaining > 0:
        forced = np.flatnonzero(counts == remaining)
        optional = np.flatnonzero((counts > 0) & (counts < remaining))
        weights = counts[optional] / counts[optional].sum() if len(optional) else None
        drawn = rng.choice(optional, size=k - len(forced), replace=False, p=weights)
        chosen = np.concatenate([forced, drawn])
        counts[chosen] -= 1
        schedule.append(chosen)
        remaining -= 1
    return schedule
