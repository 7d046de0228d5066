"""A label-free prior re-estimated during training (``method.prior=adaptive``, PMSN only).

The PMSN paper leaves open how to choose a non-uniform prior without labels. This is one answer,
measured in docs/priors.md: the prior follows the model's own *unbalanced* target assignments.

Each training step (:meth:`AdaptivePrior.observe`):

1. ``usage`` (K,) is an exponential moving average (``momentum``) of the batch mean of the target
   assignments *before* Sinkhorn balancing, ``softmax(cos(z, prototypes) / (temperature *
   sharpen_temperature))`` (the balanced targets follow the prior by construction, so they would
   only echo it back); averaged over ranks, so every rank holds the same usage.
2. Sorted in decreasing order, ``usage`` is fitted by the power law pi_j ∝ j^-tau over the K
   prototypes by maximum likelihood (:func:`priormatch.prior_estimation.fit_power_law_exponent`).
3. Guards against collapse: tau is clipped to ``tau_max``, and lowered further until the prior's
   entropy is at least ``entropy_floor`` x log K.
4. During the first ``warmup_steps`` the prior stays uniform (MSN) while ``usage`` accumulates; after
   them the prior used at step t is the power law of the tau estimated up to step t - 1.

The state (usage, tau, steps seen) lives in buffers, so checkpoints resume it exactly. Failure mode
to expect: the assignments are shaped by the prior itself (a uniform warm-up flattens usage, a
steep prior steepens it), so the estimate can settle on its own fixed point rather than on the
data's imbalance; docs/priors.md reports where it does.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from priormatch.objectives.prior_matching import entropy, mean_prediction
from priormatch.prior_estimation import fit_power_law_exponent
from priormatch.priors import power_law_prior


class AdaptivePrior(nn.Module):
    """Running usage of K prototypes and the power-law prior fitted to it.

    Buffers: ``usage`` (K,), ``tau`` () the exponent of the prior in use, ``steps`` () steps observed.
    """

    usage: Tensor
    tau: Tensor
    steps: Tensor

    def __init__(self, num_prototypes: int, *, momentum: float, warmup_steps: int, tau_max: float, entropy_floor: float) -> None:
        super().__init__()
        self.momentum = momentum
        self.warmup_steps = warmup_steps
        self.tau_max = tau_max
        self.entropy_floor = entropy_floor
        self.register_buffer("usage", torch.full((num_prototypes,), 1.0 / num_prototypes))
        self.register_buffer("tau", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def observe(self, unbalanced_targets: Tensor) -> Tensor:
        """Fold in one step's (N, K) unbalanced target assignments; returns the (K,) prior for the next step."""
        batch_usage = mean_prediction(unbalanced_targets.float())
        self.usage.mul_(self.momentum).add_(batch_usage.to(self.usage), alpha=1 - self.momentum)
        self.steps += 1
        if int(self.steps) > self.warmup_steps:
            self.tau.fill_(self.guarded_tau(self.fitted_tau()))
        return self.prior()

    def prior(self) -> Tensor:
        """(K,) the power law at the current ``tau`` (uniform while tau = 0)."""
        return power_law_prior(self.usage.numel(), float(self.tau)).to(self.usage)

    def fitted_tau(self) -> float:
        """Maximum-likelihood power-law exponent of the rank-sorted running usage."""
        sorted_usage = np.sort(self.usage.double().cpu().numpy())[::-1]
        return fit_power_law_exponent(sorted_usage)

    def guarded_tau(self, tau: float) -> float:
        """``tau`` clipped to ``tau_max``, then lowered (bisection) until H(prior) >= floor x log K."""
        k = self.usage.numel()
        tau = min(max(tau, 0.0), self.tau_max)
        floor = self.entropy_floor * math.log(k)
        if entropy(power_law_prior(k, tau)) >= floor:
            return tau
        low, high = 0.0, tau  # entropy falls as tau grows: H(low) >= floor > H(high)
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if entropy(power_law_prior(k, middle)) >= floor else (low, middle)
        return low
