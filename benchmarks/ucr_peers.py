"""The peers a user would pick instead of priormatch for label-free series features, run as installed
packages on the arrays and splits ``ucr_benchmark.py`` gives every arm (nothing of them is copied here).

* ``ts2vec_peer``: TS2Vec (Yue et al., AAAI 2022) from the PyPI package ``ts2vec`` 0.1, which packages
  the authors' code, on the CPU, with the settings of the authors' UCR script: 320-d output, hidden
  64, depth 10, lr 1e-3, batch 8, training crops of at most 3,000 steps, 200 iterations for train
  splits of at most 100,000 values (else 600), full-series (max-pooled) encodings; then the same
  :class:`priormatch.evaluation.SVMProbe` as every feature arm.
* ``minirocket``: MiniRocket (Dempster et al., KDD 2021) from ``aeon``: a fixed random-kernel
  transform (about 10,000 features, label-free) and, as its authors classify, a ridge classifier
  with leave-one-out choice of alpha in 10^-3..10^3 on features scaled without centring. It is not a
  representation-learning method and needs no training; it is the cost-accuracy bar.

Install both with ``pip install -e ".[peers]"``. Each arm is a function
``(train_x, train_y, test_x, seed) -> PeerResult``; inputs are (n, C, T) float arrays with NaN for
missing values and the end padding of shorter series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from priormatch.recipes import ts2vec_iterations


@dataclass
class PeerResult:
    """A peer's output: frozen features for the shared SVM probe, or its own test predictions."""

    train_features: np.ndarray | None = None  # (n, D)
    test_features: np.ndarray | None = None  # (m, D)
    test_predictions: np.ndarray | None = None  # (m,)
    info: dict[str, Any] = field(default_factory=dict)


def ts2vec_peer(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int) -> PeerResult:
    """Full-series TS2Vec encodings of both splits (labels unused)."""
    from ts2vec import TS2Vec

    torch.manual_seed(seed)
    np.random.seed(seed)
    model = TS2Vec(input_dims=train_x.shape[1], device="cpu", batch_size=8, lr=0.001, output_dims=320, max_train_length=3000)
    iterations = ts2vec_iterations(train_x)
    model.fit(_channels_last(train_x), n_iters=iterations)
    features = [model.encode(_channels_last(x), encoding_window="full_series") for x in (train_x, test_x)]
    return PeerResult(*features, info={"iterations": iterations})


def minirocket(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int) -> PeerResult:
    """MiniRocket features and its ridge classifier's test predictions."""
    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x, test_x = _fill_missing(train_x), _fill_missing(test_x)
    transform = MiniRocket(random_state=seed).fit(train_x)
    classifier = make_pipeline(StandardScaler(with_mean=False), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    classifier.fit(transform.transform(train_x), train_y)
    predictions = classifier.predict(transform.transform(test_x))
    return PeerResult(test_predictions=predictions, info={"alpha": float(classifier[-1].alpha_)})


def warm_up_minirocket() -> None:
    """Run MiniRocket once on a tiny set so its one-off numba compilation is not charged to a data set."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 1, 32))
    minirocket(x, np.arange(10) % 2, x, seed=0)


PEERS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, int], PeerResult]] = {
    "ts2vec_peer": ts2vec_peer,
    "minirocket": minirocket,
}


def _channels_last(x: np.ndarray) -> np.ndarray:
    """(n, C, T) -> (n, T, C) float64, the layout the ts2vec package reads (NaN kept: it handles them)."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 1)), dtype=np.float64)


def _fill_missing(x: np.ndarray) -> np.ndarray:
    """(n, C, T) with NaN -> float64 with each NaN replaced by the last observed value of its series
    channel (0 before the first one): MiniRocket needs equal-length, complete series."""
    x = np.asarray(x, dtype=np.float64)
    if not np.isnan(x).any():
        return x
    observed = ~np.isnan(x)
    index = np.where(observed, np.arange(x.shape[2]), 0)
    np.maximum.accumulate(index, axis=2, out=index)
    filled = np.take_along_axis(x, index, axis=2)
    return np.nan_to_num(filled, nan=0.0)
