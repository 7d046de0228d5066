"""Assemble what a run needs from its config: data, pretraining subset, sampler, views, model.

Shared by ``train`` and ``evaluate`` so both see the same pretraining subset and class ranking.
Everything here validates its inputs, so a bad config fails before a run directory exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from priormatch.data import (
    DATASETS,
    ClassImbalancedSampler,
    DatasetSplits,
    LabeledArrays,
    ShuffleSampler,
    check_no_empty_class,
    class_ranking,
    dataset_kind,
    load_dataset,
    long_tail_indices,
)
from priormatch.data.groups import mechanism_labels, resolve_groups
from priormatch.data.layouts import STANDARD_LAYOUTS, LayoutRequest, interpretation
from priormatch.data.split_checks import warn_about_splits
from priormatch.encoders import build_encoder
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, SSLMethod, build_method
from priormatch.recipes import RECIPES
from priormatch.training.config import DataConfig, RunConfig
from priormatch.validation import check_choice, check_int_at_least

if TYPE_CHECKING:
    from priormatch.data.arrays import Kind
    from priormatch.data.samplers import Mode as SamplerMode

ViewMaker = Callable[..., tuple[list[Tensor], list[Tensor]]]


@dataclass(frozen=True)
class PretrainingData:
    """A data set and the subset of its training split used for pretraining."""

    splits: DatasetSplits
    subset: np.ndarray  # (n_pretrain,) indices into splits.train
    class_rank: np.ndarray  # (K,) rank of each class by pretraining frequency (0 = head)
    groups: np.ndarray | None = None  # (n_train,) data.groups codes; None: the labels drive the experiment

    @property
    def mechanism_labels(self) -> np.ndarray:
        """(n_train,) what forms the long-tailed subset, the sampler's batches and the class_counts
        prior: ``data.groups`` when set, else the labels (:mod:`priormatch.data.groups`)."""
        return mechanism_labels(self.splits.train, self.groups)[0]

    def mechanism_counts(self) -> np.ndarray:
        """(K,) pretraining-subset counts of each class, or (G,) of each group under ``data.groups``."""
        labels, num = mechanism_labels(self.splits.train, self.groups)
        return np.bincount(labels[self.subset], minlength=num)

    @property
    def train(self) -> LabeledArrays:
        if np.array_equal(self.subset, np.arange(len(self.splits.train))):
            return self.splits.train  # the whole split: no copy (it may be an np.memmap)
        return self.splits.train.subset(self.subset)

    def summary(self) -> dict[str, Any]:
        counts = np.bincount(self.splits.train.y[self.subset], minlength=self.splits.num_classes)
        return {
            "name": self.splits.name,
            "kind": self.splits.kind,
            "class_names": list(self.splits.train.class_names),
            "class_counts": counts.tolist(),
            "class_rank": self.class_rank.tolist(),
            "num_pretrain": int(len(self.subset)),
            **({"group_counts": self.mechanism_counts().tolist()} if self.groups is not None else {}),
            "num_test": int(len(self.splits.test)),
            "layout": self.stored_layout,
            "input_shape": [int(size) for size in self.splits.train.input_shape],
        }

    @property
    def stored_layout(self) -> str:
        """The layout the inputs were read from (:mod:`priormatch.data.layouts`), e.g. "NTC"."""
        kind, ndim = self.splits.kind, len(self.splits.train.x.shape)
        return self.splits.layout or STANDARD_LAYOUTS[kind][ndim]


def describe_data(data: PretrainingData) -> str:
    """One line for the start of a run: the data set, its sizes and how its arrays were read, e.g.
    ``data: sensors, 800 pretraining / 200 test series, 4 classes; stored NTC (n, T=128, C=3), read as (n, C=3, T=128)``."""
    unit = "images" if data.splits.kind == "image" else "series"
    return (
        f"data: {data.splits.name}, {len(data.subset)} pretraining / {len(data.splits.test)} test {unit}, "
        f"{data.splits.num_classes} classes; {interpretation(data.stored_layout, data.splits.train.input_shape)}"
    )


def rank_by_frequency(counts: np.ndarray, tie_break_order: np.ndarray) -> np.ndarray:
    """(K,) rank of each class by decreasing count; ties keep ``tie_break_order`` (classes, head first)."""
    position = np.empty_like(tie_break_order)
    position[tie_break_order] = np.arange(len(tie_break_order))
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], position[c]))
    rank = np.empty(len(counts), dtype=np.int64)
    rank[order] = np.arange(len(counts))
    return rank


def prepare_data(config: DataConfig) -> PretrainingData:
    """Load the data set and carve the (possibly long-tailed, fixed-size) pretraining subset."""
    splits = load_dataset(config.name, config.path, layout_request(config))
    check_no_empty_class(splits.train, f"data set {config.name!r}")
    if DATASETS.get(config.name) is not None and DATASETS[config.name].user_file:
        warn_about_splits(splits)
    groups = resolve_groups(config.groups, splits.train, config.class_order_seed)
    subset = pretraining_subset(config, splits, groups)
    counts = np.bincount(splits.train.y[subset], minlength=splits.num_classes)
    rank = rank_by_frequency(counts, class_ranking(splits.num_classes, config.class_order_seed))
    return PretrainingData(splits, subset, rank, groups)


def pretraining_subset(config: DataConfig, splits: DatasetSplits, groups: np.ndarray | None = None) -> np.ndarray:
    """(n_pretrain,) sorted indices into ``splits.train``: the whole split, or the long-tailed /
    fixed-size subset that ``data.imbalance_ratio`` and ``data.subset_size`` ask for, drawn over
    the classes, or over the (n_train,) ``groups`` when given."""
    if config.imbalance_ratio < 1:
        raise PriormatchError(f"data.imbalance_ratio={config.imbalance_ratio} must be >= 1 (n_max / n_min)")
    if config.imbalance_ratio == 1 and config.subset_size is None:
        return np.arange(len(splits.train))
    labels, num = mechanism_labels(splits.train, groups)
    return long_tail_indices(
        labels,
        num,
        imbalance_ratio=config.imbalance_ratio,
        seed=config.class_order_seed,
        subset_size=config.subset_size,
    )


def make_sampler(config: DataConfig, labels: np.ndarray, *, batch_size: int, seed: int, world_size: int = 1):
    check_choice("data.sampler", config.sampler, ("shuffle", "class_imbalanced"))
    check_choice("data.sampler_mode", config.sampler_mode, ("global", "per_rank"))
    if batch_size > len(labels):
        raise PriormatchError(
            f"train.batch_size={batch_size} is larger than the pretraining set ({len(labels)} samples); lower train.batch_size"
        )
    if config.sampler == "shuffle":
        return ShuffleSampler(labels, batch_size, seed)
    mode = cast("SamplerMode", config.sampler_mode)  # checked above
    return ClassImbalancedSampler(labels, batch_size, config.classes_per_batch, seed, world_size=world_size, mode=mode)


def build_model(config: RunConfig, data: PretrainingData) -> SSLMethod:
    """Encoder and method, initialised from ``config.seed``."""
    torch.manual_seed(config.seed)
    encoder = build_encoder(config.encoder, data.splits.train.input_shape)
    info = DataInfo(
        kind=data.splits.kind,
        input_shape=data.splits.train.input_shape,
        class_counts=tuple(int(c) for c in data.mechanism_counts()),
    )
    return build_method(config.method, encoder, info)


def build_evaluation_encoder(config: RunConfig, input_shape: tuple[int, ...]) -> nn.Module:
    """An untrained encoder with the run's architecture (weights come from encoder.pt)."""
    return build_encoder(config.encoder, input_shape)


def total_steps(config: RunConfig, batches_per_epoch: int, train_set: LabeledArrays) -> int:
    """``train.steps``; else ``train.epochs`` passes of ``batches_per_epoch``; else (epochs null, the
    series default) the data kind's recipe rule on the pretraining set (:data:`priormatch.recipes.RECIPES`)."""
    if config.train.steps is not None:
        check_int_at_least("train.steps", config.train.steps, 1)
        return config.train.steps
    if config.train.epochs is None:
        return RECIPES[train_set.kind].steps(train_set.x)
    check_int_at_least("train.epochs", config.train.epochs, 1)
    return config.train.epochs * batches_per_epoch


def config_data_kind(config: DataConfig) -> Kind:
    """'image' or 'series' for a data config (used to pick the default encoder)."""
    return dataset_kind(config.name, config.path, layout_request(config))


def layout_request(config: DataConfig) -> LayoutRequest:
    """How a user array file is stored, from ``data.layout`` and ``data.check_layout``."""
    return LayoutRequest(config.layout, config.check_layout)
