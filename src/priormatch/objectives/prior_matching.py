"""The prior-matching regulariser: KL between the mean prediction p_bar and a prior pi.

MSN's mean-entropy maximisation (me-max) term is log K - H(p_bar) = KL(p_bar || uniform); PMSN
(Assran et al., ICLR 2023, eq. 5) replaces the uniform distribution by a chosen prior pi.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from priormatch.distributed import all_reduce_mean
from priormatch.validation import check_choice

KLDirection = Literal["forward", "reverse"]

# A prior entry of exactly 0 is floored to this value inside log(pi): KL(p_bar || pi) then stays
# finite but heavily penalises any mass on that prototype.
PRIOR_FLOOR = 1e-12


def mean_prediction(probs: Tensor) -> Tensor:
    """(K,) p_bar: mean of the (B, K) predictions over the batch, averaged over ranks
    (identity backward, see :mod:`priormatch.distributed`)."""
    return all_reduce_mean(probs.mean(dim=0))


def entropy(p: Tensor) -> Tensor:
    """Scalar Shannon entropy -sum p log p (nats), with 0 log 0 = 0."""
    return -torch.special.xlogy(p, p).sum()


def kl_divergence(p: Tensor, q: Tensor) -> Tensor:
    """Scalar KL(p || q) = sum p (log p - log q), with 0 log 0 = 0 and q floored at PRIOR_FLOOR."""
    return (torch.special.xlogy(p, p) - p * torch.log(q.clamp_min(PRIOR_FLOOR))).sum()


def prior_divergence(p_bar: Tensor, prior: Tensor, direction: KLDirection = "forward") -> Tensor:
    """Scalar KL(p_bar || prior) (``forward``, the paper's and the default) or KL(prior || p_bar).

    Only the forward direction reduces to MSN's me-max term under a uniform prior.
    """
    check_choice("kl_direction", direction, ("forward", "reverse"))
    if direction == "forward":
        return kl_divergence(p_bar, prior)
    return kl_divergence(prior, p_bar)


@torch.no_grad()
def prototype_usage(assignments: Tensor, p_bar: Tensor, prior: Tensor) -> dict[str, float]:
    """Diagnostics of how prototypes are used, logged by every prototype method.

    assignments: (B, K) target assignments; p_bar: (K,) mean prediction; prior: (K,).
    Returns the number of distinct prototypes that are some sample's argmax, H(p_bar) and
    KL(p_bar || prior).
    """
    return {
        "prototypes_in_use": float(assignments.argmax(dim=1).unique().numel()),
        "pbar_entropy": entropy(p_bar).item(),
        "kl_to_prior": kl_divergence(p_bar, prior).item(),
    }
