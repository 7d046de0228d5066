"""Cluster priors estimated without labels: cluster the features, fit a power law to the sizes.

PMSN needs a prior pi over prototypes (Assran et al., ICLR 2023). When the class frequencies are
unknown, the shape of the data's cluster-size profile can be estimated from unlabelled features
(e.g. those of a first MSN run, or of any encoder): cluster them, sort the cluster sizes in
decreasing order and fit the exponent tau of pi_k ∝ k^-tau by maximum likelihood. The result
feeds PMSN as ``method.prior=power_law method.tau=<tau>`` or, with the sizes themselves, as a
``.npy`` profile (:meth:`PriorEstimate.profile`).

Clustering uses a Gaussian mixture (``"gmm"``, the default: its mixture weights are maximum-
likelihood cluster frequencies) or k-means (``"kmeans"``, which is known to favour clusters of
similar size, so it underestimates imbalance) on the L2-normalised features, reduced by PCA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from torch import Tensor

from priormatch.errors import PriormatchError
from priormatch.priors import power_law_prior, prior_from_class_counts, spread_profile

CLUSTERINGS = ("gmm", "kmeans")
MAX_TAU = 10.0


def power_law_log_likelihood(counts: np.ndarray, tau: float) -> float:
    """log P(counts | pi_k ∝ k^-tau) up to the multinomial coefficient; counts in decreasing order.

    = -tau * sum_k n_k log k - N log sum_j j^-tau.
    """
    ranks = np.arange(1, len(counts) + 1, dtype=np.float64)
    log_normaliser = np.logaddexp.reduce(-tau * np.log(ranks))
    return float(-tau * (counts * np.log(ranks)).sum() - counts.sum() * log_normaliser)


def fit_power_law_exponent(counts: np.ndarray) -> float:
    """Maximum-likelihood tau >= 0 of pi_k ∝ k^-tau (k = 1..C) for counts sorted in decreasing order.

    The negative log-likelihood is convex in tau (a log-sum-exp of functions linear in tau plus a
    linear term), so a bounded scalar search on [0, MAX_TAU] finds the optimum.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2 or (counts < 0).any() or counts.sum() <= 0:
        raise PriormatchError(f"fit_power_law_exponent: need >= 2 non-negative counts with a positive sum; got {counts.tolist()}")
    if (np.diff(counts) > 0).any():
        raise PriormatchError("fit_power_law_exponent: counts must be sorted in decreasing order (rank 1 first)")
    result = minimize_scalar(
        lambda tau: -power_law_log_likelihood(counts, tau), bounds=(0.0, MAX_TAU), method="bounded", options={"xatol": 1e-6}
    )
    return float(result.x)


def cluster_sizes(
    features: np.ndarray, num_clusters: int, *, clustering: str = "gmm", max_dims: int = 32, random_state: int = 0
) -> np.ndarray:
    """(num_clusters,) sizes of the clusters of (n, D) features, in decreasing order.

    Features are L2-normalised and reduced to at most ``max_dims`` principal components first.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or not np.isfinite(features).all():
        raise PriormatchError(f"cluster_sizes: features must be a finite (n, D) array; got shape {features.shape}")
    if clustering not in CLUSTERINGS:
        raise PriormatchError(f"cluster_sizes: clustering={clustering!r}; use one of {', '.join(CLUSTERINGS)}")
    if not 2 <= num_clusters <= len(features) // 2:
        raise PriormatchError(f"cluster_sizes: num_clusters={num_clusters}; use 2..{len(features) // 2} for {len(features)} samples")
    unit = features / np.clip(np.linalg.norm(features, axis=1, keepdims=True), 1e-12, None)
    reduced = PCA(n_components=min(max_dims, unit.shape[1], len(unit) - 1), random_state=random_state).fit_transform(unit)
    if clustering == "gmm":
        model = GaussianMixture(num_clusters, covariance_type="diag", n_init=2, random_state=random_state, reg_covar=1e-4)
    else:
        model = KMeans(num_clusters, n_init=4, random_state=random_state)
    assignments = model.fit_predict(reduced)
    return np.sort(np.bincount(assignments, minlength=num_clusters))[::-1]


def prototype_exponent(tau: float, num_clusters: int, k: int) -> float:
    """The exponent of a power law over ``k`` prototypes equivalent to pi_c ∝ c^-tau over C clusters.

    A tau fitted over C clusters is not the tau to give PMSN with k prototypes: over k = 1024
    prototypes, tau = 1 puts 69% of the mass on the first tenth of them, while over C = 10 clusters
    it puts 34% on the first one. The C-level law is spread over k prototypes with each cluster's
    mass on its 1/C of them (:func:`priormatch.priors.spread_profile`), and the k-level exponent is
    the maximum-likelihood fit to that profile, i.e. the power law over k prototypes closest to it
    in KL. Head and tail mass then agree with the C-level law as closely as one exponent allows:
    for C = 10, k = 1024 and tau = 1 this gives tau_k = 0.50, whose first tenth of the prototypes
    holds 30% of the mass (the head cluster's 34%) and whose last tenth 5.2% (3.4%). Steeper laws
    are matched less closely (tau = 2: 48% vs 65% head); the exact profile is
    ``prior_from_class_counts(power_law_prior(C, tau), k)``, or ``estimate-prior --out``.
    """
    frequencies = power_law_prior(num_clusters, tau).double().numpy()
    return fit_power_law_exponent(spread_profile(frequencies, k))


@dataclass(frozen=True)
class PriorEstimate:
    """A label-free estimate of the cluster-size profile and its power-law exponent."""

    sizes: np.ndarray  # (C,) cluster sizes, decreasing
    tau: float  # maximum-likelihood power-law exponent of ``sizes``, over the C clusters

    def prototype_tau(self, k: int) -> float:
        """The exponent to use with k prototypes (``method.tau``): :func:`prototype_exponent`."""
        return prototype_exponent(self.tau, len(self.sizes), k)

    def power_law(self, k: int) -> Tensor:
        """(k,) pi_j ∝ j^-tau_k over k prototypes, tau_k = :meth:`prototype_tau`."""
        return power_law_prior(k, self.prototype_tau(k))

    def profile(self, k: int) -> Tensor:
        """(k,) the measured size profile spread over k prototypes (priors.prior_from_class_counts)."""
        return prior_from_class_counts(self.sizes, k)


def estimate_prior(features: np.ndarray, num_clusters: int, *, clustering: str = "gmm", random_state: int = 0) -> PriorEstimate:
    """Cluster (n, D) features into ``num_clusters`` clusters and fit tau to the sorted sizes."""
    sizes = cluster_sizes(features, num_clusters, clustering=clustering, random_state=random_state)
    return PriorEstimate(sizes, fit_power_law_exponent(sizes))
