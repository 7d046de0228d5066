"""priormatch: self-supervised learning with an explicit cluster prior.

Assran et al., "The Hidden Uniform Cluster Prior in Self-Supervised Learning", ICLR 2023.
"""

from priormatch.errors import PriormatchError
from priormatch.estimator import SSLEncoder
from priormatch.objectives import msn_loss, pmsn_loss
from priormatch.prior_estimation import PriorEstimate, estimate_prior, fit_power_law_exponent
from priormatch.priors import make_prior, power_law_prior, prior_from_class_counts, prior_from_values, uniform_prior

__version__ = "0.1.0"

__all__ = [
    "PriormatchError",
    "PriorEstimate",
    "SSLEncoder",
    "estimate_prior",
    "fit_power_law_exponent",
    "make_prior",
    "msn_loss",
    "pmsn_loss",
    "power_law_prior",
    "prior_from_class_counts",
    "prior_from_values",
    "uniform_prior",
]
