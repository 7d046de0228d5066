"""priormatch: self-supervised learning with an explicit cluster prior.

Assran et al., "The Hidden Uniform Cluster Prior in Self-Supervised Learning", ICLR 2023.
"""

from importlib import import_module
from typing import Any

from priormatch.errors import PriormatchError

__version__ = "0.1.0"

# Public name -> module that defines it, imported on first use (PEP 562), so that `import
# priormatch.cli` (the command line) does not load torch or scikit-learn before it needs them.
_EXPORTS = {
    "SSLEncoder": "priormatch.estimator",
    "msn_loss": "priormatch.objectives",
    "pmsn_loss": "priormatch.objectives",
    "PriorEstimate": "priormatch.prior_estimation",
    "estimate_prior": "priormatch.prior_estimation",
    "fit_power_law_exponent": "priormatch.prior_estimation",
    "make_prior": "priormatch.priors",
    "power_law_prior": "priormatch.priors",
    "prior_from_class_counts": "priormatch.priors",
    "prior_from_values": "priormatch.priors",
    "uniform_prior": "priormatch.priors",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


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
