"""A finished run's label-free prior estimate: its frozen features of its pretraining samples, clustered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from priormatch.errors import PriormatchError
from priormatch.evaluation.run_evaluation import load_run, run_features
from priormatch.prior_estimation import PriorEstimate, estimate_prior
from priormatch.training.config import RunConfig
from priormatch.training.experiment import prepare_data


@dataclass(frozen=True)
class RunPriorEstimate:
    estimate: PriorEstimate  # from the features only
    class_counts: np.ndarray  # (classes,) of the clustered samples, decreasing: a reference, never used above
    config: RunConfig  # the run's config


def estimate_run_prior(
    run_dir: str | Path, num_clusters: int, *, samples: int = 5000, clustering: str = "gmm", seed: int = 0
) -> RunPriorEstimate:
    """Cluster the run's features of up to ``samples`` of its pretraining samples (a seeded draw)."""
    if samples < 2:
        raise PriormatchError(f"samples={samples}: use at least 2")
    run, config = load_run(run_dir)
    data = prepare_data(config.data)
    train = data.train
    rows = np.sort(np.random.default_rng(seed).choice(len(train), size=min(samples, len(train)), replace=False))
    features = run_features(run, config, data, np.asarray(train.x[rows]))
    estimate = estimate_prior(features, num_clusters, clustering=clustering, random_state=seed)
    class_counts = np.sort(np.bincount(train.y[rows], minlength=data.splits.num_classes))[::-1]
    return RunPriorEstimate(estimate, class_counts, config)
