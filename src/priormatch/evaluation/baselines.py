"""Reference points for a run's probes: its encoder at initialisation and the raw inputs.

A trained encoder's probe accuracy means little on its own: a random network or the pixels
themselves may already separate the classes. ``priormatch evaluate`` therefore also probes, with
the same probes, labelled subset and test split:

Each baseline runs the run's configured probes plus linear and kNN where those are not configured.

* ``untrained``: the run's evaluation encoder exactly as training initialised it. Training builds
  the whole method right after ``torch.manual_seed(config.seed)`` (:func:`build_model`), so the
  same call on the same config rebuilds the step-0 weights bit for bit, including what a method
  does to its encoder when built and the EMA teacher (a copy of the student at step 0).
* ``raw_input``: the inputs flattened to (n, C*H*W) or (n, C*T) and standardised column by
  column with the probe's *training* rows only; missing values (NaN, e.g. the end padding of
  shorter series) become 0, the training mean, as series encoders see them. The linear probe
  searches its C on a subsample of at most 2,000 rows here (``PROBE_PARAMS``), then refits on all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from priormatch.training.config import RunConfig
from priormatch.training.experiment import PretrainingData, build_model

BASELINES = ("untrained", "raw_input")
# Every baseline reports at least these probes, beside the run's configured ones (series runs
# configure svm and linear only; kNN is cheap).
REQUIRED_PROBES = ("linear", "knn")

# Probe settings that differ from the defaults, per feature set. Raw inputs are high-dimensional
# (784 for Fashion-MNIST), where the linear probe's C search on all 10,000 labelled rows took 65 s
# of a 70 s raw-input evaluation on one core; searching C on 2,000 stratified rows (the refit still
# uses all of them) took 3.6 s and picked the same C (0.01) and test accuracy (0.833).
PROBE_PARAMS: dict[str, dict[str, dict[str, Any]]] = {"raw_input": {"linear": {"max_search_samples": 2000}}}


def baseline_probe_names(probes: Sequence[str]) -> tuple[str, ...]:
    """The configured ``probes``, then those of ``REQUIRED_PROBES`` they lack."""
    return tuple(probes) + tuple(name for name in REQUIRED_PROBES if name not in probes)


def initial_evaluation_encoder(config: RunConfig, data: PretrainingData) -> nn.Module:
    """The run's evaluation encoder at step 0 of training, in eval mode, on the CPU.

    Rebuilds the method as training does (seeded from ``config.seed``); the global torch random
    state is left as it was.
    """
    with torch.random.fork_rng():
        method = build_model(config, data)
    return method.evaluation_encoder().eval()


def flatten_inputs(x: np.ndarray) -> np.ndarray:
    """(n, *sample_shape) inputs, e.g. (n, C, H, W) or (n, C, T) -> (n, D) float32, NaN kept."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def column_statistics(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D,) mean and (D,) scale of each column of (n, D) ``train``, ignoring NaN.

    The scale is the standard deviation; a column with no spread (or no observed value) gets
    scale 1, as scikit-learn's StandardScaler does, so it is only centred. A column with no
    observed value gets mean 0.
    """
    train = train.astype(np.float64)
    observed = ~np.isnan(train)
    count = observed.sum(axis=0)
    values = np.where(observed, train, 0.0)
    mean = values.sum(axis=0) / np.maximum(count, 1)
    squares = np.where(observed, (train - mean) ** 2, 0.0)
    std = np.sqrt(squares.sum(axis=0) / np.maximum(count, 1))
    return mean, np.where(std > 1e-12, std, 1.0)


def standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(n, D) float32 z-scores (x - mean) / scale of (n, D) ``x``, NaN -> 0 (the training mean)."""
    z = (x.astype(np.float32) - mean.astype(np.float32)) / scale.astype(np.float32)
    return np.nan_to_num(z, nan=0.0)


def raw_input_features(train_x: np.ndarray, test_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) and (m, D) standardised flattened inputs, with the statistics of ``train_x`` only.

    train_x: (n, *sample_shape) the probe's training inputs; test_x: (m, *sample_shape).
    """
    train, test = flatten_inputs(train_x), flatten_inputs(test_x)
    mean, scale = column_statistics(train)
    return standardise(train, mean, scale), standardise(test, mean, scale)


def accuracies(results: dict[str, dict]) -> dict[str, float]:
    """{probe: accuracy} (fractions) of :func:`~priormatch.evaluation.probe_eval.evaluate_features` results."""
    return {probe: metrics["accuracy"] for probe, metrics in results.items()}
