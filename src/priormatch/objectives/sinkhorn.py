"""Sinkhorn-Knopp balancing of soft assignments (MSN / SwAV targets).

Given B x K non-negative assignment scores, alternately rescale so that each prototype k receives
total mass ``row_marginals[k]`` (1/K by default: the equipartition, i.e. a uniform cluster prior)
and each sample receives mass 1/B; finally rows are rescaled to sum to 1. With several ranks the
sums run over the global batch (all-reduced), so W ranks of N/W samples equal one process of N.
"""

from __future__ import annotations

import torch
from torch import Tensor

from priormatch.distributed import all_reduce_sum_, world_size


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, iterations: int = 3, row_marginals: Tensor | None = None) -> Tensor:
    """(B, K) balanced assignments whose rows each sum to 1.

    scores: (B, K) non-negative (e.g. sharpened probabilities, or exp(logits / eps) for SwAV).
    iterations: number of (prototype, sample) normalisation rounds; 0 only renormalises rows.
    row_marginals: (K,) mass per prototype summing to 1; ``None`` means uniform 1/K.
    No gradient flows through the result.
    """
    batch, num_prototypes = scores.shape
    global_batch = batch * world_size()
    q = scores.t().to(torch.float64)  # (K, B)
    q /= all_reduce_sum_(q.sum())
    if row_marginals is None:
        target_rows = torch.full((num_prototypes, 1), 1.0 / num_prototypes, dtype=q.dtype, device=q.device)
    else:
        target_rows = row_marginals.to(q).reshape(num_prototypes, 1)
    for _ in range(iterations):
        row_sums = all_reduce_sum_(q.sum(dim=1, keepdim=True))
        q *= target_rows / row_sums.clamp_min(torch.finfo(q.dtype).tiny)
        q /= q.sum(dim=0, keepdim=True) * global_batch
    q /= q.sum(dim=0, keepdim=True)
    return q.t().to(scores.dtype)
