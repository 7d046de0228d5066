"""VICReg: variance-invariance-covariance regularisation of two batches of embeddings.

Bardes, Ponce, LeCun, "VICReg", ICLR 2022, eq. 1-6 and Algorithm 1. For embeddings Z, Z' (n, d):

* invariance s(Z, Z') = mean squared difference (Algorithm 1's ``mse_loss``: mean over n and d);
* variance v(Z) = (1/d) sum_j max(0, gamma - sqrt(Var(z^j) + eps)), unbiased variance per dimension;
* covariance c(Z) = (1/d) sum_{i != j} C(Z)_ij^2, C(Z) the unbiased covariance matrix;
* loss = lambda s(Z, Z') + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')], with lambda = mu = 25, nu = 1.

The paper sums the variance and covariance terms of both branches (eq. 6, Algorithm 1); the
official code averages the two variance terms instead. We follow the paper.

Under DDP every statistic is over the *global* batch: both branches are gathered with
:func:`priormatch.distributed.all_gather_with_grad` (as the official code does), so W ranks of
n/W samples compute the loss of one process with n samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.distributed import all_gather_with_grad
from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_min_size, check_non_negative, check_positive, check_same_shape

VARIANCE_EPS = 1e-4  # eps in sqrt(Var + eps) (paper); keeps the gradient finite at zero variance
STD_TARGET = 1.0  # gamma, the target standard deviation of every dimension (paper)


@dataclass(frozen=True)
class VICRegTerms:
    """The weighted loss and its three unweighted parts (variance/covariance summed over both branches)."""

    loss: Tensor
    invariance: Tensor
    variance: Tensor
    covariance: Tensor


def invariance_term(z1: Tensor, z2: Tensor) -> Tensor:
    """Scalar mean over samples and dimensions of (z1 - z2)^2; z1, z2 (n, d)."""
    return F.mse_loss(z1, z2)


def variance_term(z: Tensor, *, std_target: float = STD_TARGET, eps: float = VARIANCE_EPS) -> Tensor:
    """Scalar (1/d) sum_j relu(std_target - sqrt(Var(z[:, j]) + eps)); z (n, d), n >= 2."""
    std = torch.sqrt(z.var(dim=0) + eps)  # (d,), unbiased
    return F.relu(std_target - std).mean()


def covariance_term(z: Tensor) -> Tensor:
    """Scalar (1/d) sum of squared off-diagonal entries of the unbiased covariance of z (n, d)."""
    n, d = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.t() @ centred / (n - 1)  # (d, d)
    off_diagonal = cov - torch.diag_embed(torch.diagonal(cov))
    return off_diagonal.pow(2).sum() / d


@in_float32
def vicreg_terms(
    z1: Tensor,
    z2: Tensor,
    *,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    std_target: float = STD_TARGET,
    eps: float = VARIANCE_EPS,
) -> VICRegTerms:
    """The VICReg loss of two branches z1, z2 (n, d) (row i: two views of sample i), global-batch statistics."""
    check_non_negative("invariance_weight", invariance_weight)
    check_non_negative("variance_weight", variance_weight)
    check_non_negative("covariance_weight", covariance_weight)
    check_positive("std_target", std_target)
    check_positive("eps", eps)
    check_same_shape("z1", z1, "z2", z2, "(n, d)")
    z1, z2 = all_gather_with_grad(z1), all_gather_with_grad(z2)  # (N, d) global batch
    check_min_size("the (global) batch of z1 and z2", z1.shape[0], 2, "samples", hint="VICReg's variances need two")
    invariance = invariance_term(z1, z2)
    variance = variance_term(z1, std_target=std_target, eps=eps) + variance_term(z2, std_target=std_target, eps=eps)
    covariance = covariance_term(z1) + covariance_term(z2)
    loss = invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance
    return VICRegTerms(loss=loss, invariance=invariance, variance=variance, covariance=covariance)


def vicreg_loss(z1: Tensor, z2: Tensor, **weights: float) -> Tensor:
    """Scalar VICReg loss; keyword arguments as :func:`vicreg_terms`."""
    return vicreg_terms(z1, z2, **weights).loss
