"""Probes on frozen features, scikit-learn style (fit / predict / score, learned attributes end in _).

- :class:`LinearProbe`: multinomial logistic regression on standardised features; C chosen by
  stratified cross-validation on the training features when not given.
- :class:`KNNProbe`: cosine k-nearest-neighbours with temperature-weighted votes, exp(sim / T), as
  in InstDisc (Wu et al., CVPR 2018) and DINO (Caron et al., ICCV 2021); computed in chunks of
  test rows so that e.g. 60k train x 10k test never materialises the full similarity matrix.
- :class:`SVMProbe`: the TS2Vec (Yue et al., AAAI 2022) / T-Loss (Franceschi et al., NeurIPS 2019)
  time-series protocol, an RBF SVC with C searched over {1e-4, ..., 1e4, inf} by 5-fold CV, and
  C = inf without a search on small training splits.

Features are (n, D) float arrays, labels (n,) integer (or any sortable) class labels.
``PROBES`` maps a name to the probe class; every probe can be built with no argument.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from priormatch.errors import PriormatchError

LINEAR_C_GRID = (0.01, 0.1, 1.0, 10.0)
SVM_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, math.inf)  # TS2Vec's grid


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Logistic regression (lbfgs, multinomial) on standardised frozen features.

    C: inverse L2 strength; ``None`` picks it from ``c_grid`` by stratified ``cv_folds``-fold CV
      on the training features (accuracy), refitting on all of them. When a class has fewer
      than ``cv_folds`` samples CV is impossible and ``fallback_C`` is used instead.
    max_search_samples: ``None`` searches C on every training row; a number searches it on a
      stratified subsample of that size (the refit still uses every row), which bounds the cost on
      high-dimensional features such as raw pixels.
    Learned: ``classes_``, ``C_`` (the C used), ``pipeline_`` (StandardScaler -> LogisticRegression),
    ``n_features_in_``.
    """

    def __init__(
        self,
        C: float | None = None,
        max_iter: int = 1000,
        random_state: int = 0,
        c_grid: tuple[float, ...] = LINEAR_C_GRID,
        cv_folds: int = 3,
        fallback_C: float = 1.0,
        max_search_samples: int | None = None,
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state
        self.c_grid = c_grid
        self.cv_folds = cv_folds
        self.fallback_C = fallback_C
        self.max_search_samples = max_search_samples

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LinearProbe:
        """Fit on (n, D) features and (n,) labels; returns self."""
        features, labels = _check_fit_inputs(features, labels, "LinearProbe")
        if self.C is not None:
            self.C_ = float(self.C)
        elif _min_class_count(labels) < self.cv_folds:
            self.C_ = float(self.fallback_C)
        else:
            self.C_ = self._search_C(*self._search_rows(features, labels))
        self.pipeline_ = self._pipeline(self.C_).fit(features, labels)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = features.shape[1]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n,) predicted labels for (n, D) features."""
        return self.pipeline_.predict(_check_features(features, self.n_features_in_))

    def protocol(self) -> str:
        """One line naming how this probe is fitted (for tables and eval.json)."""
        search = "all rows" if self.max_search_samples is None else f"<= {self.max_search_samples} rows"
        chosen = f"C={self.C:g}" if self.C is not None else f"C in {list(self.c_grid)} by {self.cv_folds}-fold CV on {search}"
        return f"logistic regression on standardised features, {chosen}, refit on every row"

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, K) class probabilities, columns ordered as ``classes_``."""
        return self.pipeline_.predict_proba(_check_features(features, self.n_features_in_))

    def _pipeline(self, C: float) -> Pipeline:
        classifier = LogisticRegression(C=C, max_iter=self.max_iter, random_state=self.random_state)
        return make_pipeline(StandardScaler(), classifier)

    def _search_rows(self, features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows the C search uses: a ``max_search_samples`` subsample, unless it would leave a
        class with fewer than ``cv_folds`` rows (then every row)."""
        sub_features, sub_labels = stratified_subsample(features, labels, self.max_search_samples, self.random_state)
        if _min_class_count(sub_labels) < self.cv_folds:
            return features, labels
        return sub_features, sub_labels

    def _search_C(self, features: np.ndarray, labels: np.ndarray) -> float:
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        grid = {"logisticregression__C": list(self.c_grid)}
        search = GridSearchCV(self._pipeline(self.c_grid[0]), grid, cv=folds, refit=False)
        search.fit(features, labels)
        return float(search.best_params_["logisticregression__C"])


class KNNProbe(ClassifierMixin, BaseEstimator):
    """Weighted cosine kNN: each of the k most similar training points votes exp(sim / T) for its class.

    k: neighbours (capped at the number of training points). temperature: T > 0; small T makes the
    vote close to "nearest neighbour wins". chunk_size: test rows scored at once; memory is about
    chunk_size x n_train x 4 bytes. Ties between classes go to the class listed first in ``classes_``.
    Learned: ``classes_``, ``train_features_`` (n, D) L2-normalised float32, ``train_codes_`` (n,)
    indices into ``classes_``.
    """

    def __init__(self, k: int = 20, temperature: float = 0.07, chunk_size: int = 256) -> None:
        self.k = k
        self.temperature = temperature
        self.chunk_size = chunk_size

    def fit(self, features: np.ndarray, labels: np.ndarray) -> KNNProbe:
        """Store the L2-normalised (n, D) features and their (n,) labels; returns self."""
        if self.k < 1 or self.temperature <= 0 or self.chunk_size < 1:
            raise PriormatchError(
                f"KNNProbe got k={self.k}, temperature={self.temperature}, chunk_size={self.chunk_size}; all must be positive"
            )
        features, labels = _check_fit_inputs(features, labels, "KNNProbe")
        self.classes_, self.train_codes_ = np.unique(labels, return_inverse=True)
        self.train_features_ = _l2_normalise(torch.from_numpy(features.astype(np.float32))).numpy()
        self.n_features_in_ = features.shape[1]
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, K) normalised weighted votes, columns ordered as ``classes_``."""
        features = _check_features(features, self.n_features_in_)
        queries = _l2_normalise(torch.from_numpy(features.astype(np.float32)))
        train = torch.from_numpy(self.train_features_)
        codes = torch.from_numpy(self.train_codes_.astype(np.int64))
        chunks = [self._votes(chunk, train, codes) for chunk in torch.split(queries, self.chunk_size)]
        votes = torch.cat(chunks).double()
        return (votes / votes.sum(dim=1, keepdim=True)).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n,) label with the largest weighted vote."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]

    def protocol(self) -> str:
        """One line naming how this probe classifies (for tables and eval.json)."""
        return f"cosine {self.k}-NN, votes exp(sim / {self.temperature:g})"

    def _votes(self, queries: torch.Tensor, train: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """(B, K) summed vote weights for (B, D) normalised queries."""
        k = min(self.k, train.shape[0])
        similarity, neighbours = (queries @ train.T).topk(k, dim=1)  # (B, k)
        # Shifting by the row maximum leaves the normalised votes unchanged and avoids overflow at small T.
        weights = torch.exp((similarity - similarity[:, :1]) / self.temperature)
        votes = torch.zeros(queries.shape[0], len(self.classes_), dtype=weights.dtype)
        return votes.scatter_add_(1, codes[neighbours], weights)


class SVMProbe(ClassifierMixin, BaseEstimator):
    """RBF SVC (gamma="scale") with C chosen by the TS2Vec rule (Yue et al., AAAI 2022; T-Loss,
    Franceschi et al., NeurIPS 2019): the UCR / UEA protocol of the series literature.

    * A small training split (fewer than 50 rows, fewer than 5 rows per class on average, or a
      class with fewer than ``cv_folds`` rows, where stratified CV is impossible): no search,
      C = inf (a hard margin), fitted on every row.
    * Otherwise C comes from ``c_grid`` = {1e-4, 1e-3, ..., 1e4, inf} by stratified
      ``cv_folds``-fold CV (accuracy). More than ``max_samples`` rows (TS2Vec: 10,000): the probe
      uses a stratified subsample of that size and nothing else.
    * ``max_search_samples``: ``None`` searches C on all of those rows, exactly as TS2Vec; a number
      searches it on a stratified subsample of that size, then refits the chosen C on all of them,
      and then the grid stops at 1e4: a hard margin (C = inf) on thousands of overlapping rows does
      not converge within TS2Vec's 10^7 libsvm iterations (242 s for one fit on 5,600 rows,
      docs/benchmarks.md). ``priormatch evaluate`` caps the search (``eval.svm_search_samples``).

    Features are used as given (no standardisation), as in TS2Vec. ``cache_size`` is libsvm's
    kernel cache in MB (speed only). Learned: ``classes_``, ``C_``, ``svc_``, ``n_features_in_``.
    """

    def __init__(
        self,
        random_state: int = 0,
        c_grid: tuple[float, ...] = SVM_C_GRID,
        cv_folds: int = 5,
        max_samples: int = 10000,
        max_search_samples: int | None = None,
        cache_size: float = 1000.0,
    ) -> None:
        self.random_state = random_state
        self.c_grid = c_grid
        self.cv_folds = cv_folds
        self.max_samples = max_samples
        self.max_search_samples = max_search_samples
        self.cache_size = cache_size

    def fit(self, features: np.ndarray, labels: np.ndarray) -> SVMProbe:
        """Fit on (n, D) features and (n,) labels; returns self."""
        features, labels = _check_fit_inputs(features, labels, "SVMProbe")
        self.n_features_in_ = features.shape[1]
        if self._too_small_to_search(labels):
            self.C_ = math.inf
        else:
            features, labels = stratified_subsample(features, labels, self.max_samples, self.random_state)
            search_rows = stratified_subsample(features, labels, self.max_search_samples, self.random_state)
            self.C_ = self._search_C(*search_rows, self._grid(refit_rows=len(labels), search_rows=len(search_rows[1])))
        self.svc_ = self._svc(self.C_).fit(features, labels)
        self.classes_ = self.svc_.classes_
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n,) predicted labels for (n, D) features."""
        return self.svc_.predict(_check_features(features, self.n_features_in_))

    def protocol(self) -> str:
        """One line naming how this probe is fitted (for tables and eval.json)."""
        search = (
            "every row"
            if self.max_search_samples is None
            else (f"<= {self.max_search_samples} rows (above that without inf, refit on every row)")
        )
        return (
            f"TS2Vec SVM rule: RBF SVC, C=inf below 50 rows or 5 per class, else C in {{1e-4..1e4, inf}} by "
            f"{self.cv_folds}-fold CV on {search} (<= {self.max_samples} rows in all)"
        )

    def _too_small_to_search(self, labels: np.ndarray) -> bool:
        num_classes = np.unique(labels).size
        return len(labels) < 50 or len(labels) // num_classes < 5 or _min_class_count(labels) < self.cv_folds

    def _svc(self, C: float) -> SVC:
        # TS2Vec bounds libsvm's iterations at 1e7 (a hard margin on overlapping classes may not converge).
        return SVC(C=C, gamma="scale", cache_size=self.cache_size, max_iter=10_000_000)

    def _grid(self, refit_rows: int, search_rows: int) -> tuple[float, ...]:
        """``c_grid``, without C = inf when the chosen C is refitted on more rows than were searched:
        a hard margin on thousands of overlapping rows does not converge (docs/benchmarks.md)."""
        if refit_rows <= search_rows:
            return tuple(self.c_grid)
        return tuple(C for C in self.c_grid if math.isfinite(C))

    def _search_C(self, features: np.ndarray, labels: np.ndarray, grid: tuple[float, ...]) -> float:
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.random_state)
        search = GridSearchCV(self._svc(1.0), {"C": list(grid)}, cv=folds, refit=False)
        search.fit(features, labels)
        return float(search.best_params_["C"])


PROBES: dict[str, type[BaseEstimator]] = {"linear": LinearProbe, "knn": KNNProbe, "svm": SVMProbe}


def stratified_subsample(
    features: np.ndarray, labels: np.ndarray, max_samples: int | None, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_samples`` of the (n, D) features and (n,) labels, stratified by label; all of
    them when ``max_samples`` is ``None`` or at least n."""
    if max_samples is None or len(labels) <= max_samples:
        return features, labels
    sub_features, _, sub_labels, _ = train_test_split(features, labels, train_size=max_samples, stratify=labels, random_state=random_state)
    return sub_features, sub_labels


def _l2_normalise(x: torch.Tensor) -> torch.Tensor:
    """(n, D) rows scaled to unit norm (all-zero rows stay zero)."""
    return torch.nn.functional.normalize(x, dim=1)


def _min_class_count(labels: np.ndarray) -> int:
    return int(np.unique(labels, return_counts=True)[1].min())


def _check_features(features: np.ndarray, num_features: int | None = None) -> np.ndarray:
    """Validate (n, D) finite features; D must match ``num_features`` when given."""
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[0] == 0:
        raise PriormatchError(f"features have shape {features.shape}; pass a non-empty (n, D) array")
    if num_features is not None and features.shape[1] != num_features:
        raise PriormatchError(
            f"features have D={features.shape[1]} but the probe was fitted with D={num_features}; "
            "use the same encoder for train and test features"
        )
    if not np.isfinite(features).all():
        row = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
        raise PriormatchError(f"features row {row} is not finite; re-extract features (NaN inputs or diverged training?)")
    return features


def _check_fit_inputs(features: np.ndarray, labels: np.ndarray, probe: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate (n, D) features and (n,) labels with at least two classes."""
    features = _check_features(features)
    labels = np.asarray(labels)
    if labels.shape != (features.shape[0],):
        raise PriormatchError(
            f"{probe}: labels have shape {labels.shape} but features have {features.shape[0]} rows; pass one label per row"
        )
    if np.unique(labels).size < 2:
        raise PriormatchError(f"{probe}: training labels hold a single class; pass samples of at least two classes")
    return features, labels
