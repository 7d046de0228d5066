"""Objectives as pure functions on tensors; every formula is written once, here."""

from priormatch.objectives.msn import PMSNTerms, msn_loss, msn_targets, pmsn_loss, pmsn_terms, prototype_logits
from priormatch.objectives.prior_matching import entropy, kl_divergence, mean_prediction, prior_divergence, prototype_usage
from priormatch.objectives.sinkhorn import sinkhorn_knopp
from priormatch.objectives.soft_targets import sharpen, soft_cross_entropy

__all__ = [
    "PMSNTerms",
    "entropy",
    "kl_divergence",
    "mean_prediction",
    "msn_loss",
    "msn_targets",
    "pmsn_loss",
    "pmsn_terms",
    "prior_divergence",
    "prototype_usage",
    "prototype_logits",
    "sharpen",
    "sinkhorn_knopp",
    "soft_cross_entropy",
]
