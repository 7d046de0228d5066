"""Soft targets and the soft cross-entropy, shared by MSN, PMSN and SwAV."""

from __future__ import annotations

import torch
from torch import Tensor


def sharpen(probs: Tensor, temperature: float) -> Tensor:
    """(B, K) p -> p^(1/T) / sum_k p^(1/T), computed in log space (MSN eq. 2).

    Equal to a softmax of the original logits at temperature tau * T.
    """
    return torch.softmax(torch.log(probs.clamp_min(torch.finfo(probs.dtype).tiny)) / temperature, dim=-1)


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Scalar mean over rows of H(targets, softmax(logits)) = -sum_k t_k log_softmax(logits)_k.

    logits, targets: (B, K). Written with ``log_softmax``: stable for large logits.
    """
    return soft_cross_entropy_from_log_probs(torch.log_softmax(logits, dim=-1), targets)


def soft_cross_entropy_from_log_probs(log_probs: Tensor, targets: Tensor) -> Tensor:
    """Scalar mean over rows of -sum_k t_k log p_k, for log-probabilities already computed.

    log_probs: (..., K); targets: (..., K), broadcast against them (e.g. (N, K) targets for
    (M, N, K) log-probabilities of M views, without copying the targets M times).
    """
    return -(targets * log_probs).sum(dim=-1).mean()
