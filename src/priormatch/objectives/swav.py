"""SwAV: swapped prediction of Sinkhorn codes between views.

Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
NeurIPS 2020, sec. 3.1. Projections z and prototypes c are L2-normalised; scores z.c (B, K).

* codes Q: Sinkhorn-Knopp on exp(scores / eps) (eps = 0.05, 3 iterations; no gradient): each
  prototype receives 1/K of the batch (the equipartition, a uniform cluster prior) or, in the
  power-law SwAV variant, ``row_marginals[k]`` of it;
* predictions p = softmax(scores / t), t = 0.1;
* loss: the codes of each of the first ``num_code_views`` (global) views are predicted by every
  other view, including small multi-crop views; with V views in all,
  L = (1 / num_code_views) sum_{i < num_code_views} (1 / (V - 1)) sum_{v != i} H(q_i, p_v),
  H the soft cross-entropy averaged over samples (for two views: H(q_1, p_2) / 2 + H(q_2, p_1) / 2).

The Sinkhorn sums (the shared :func:`priormatch.objectives.sinkhorn.sinkhorn_knopp`) run over the
global batch under DDP, and p_bar is averaged over ranks like MSN's.

Small batches (paper, sec. 4.3 and appendix): a batch smaller than K cannot be spread over the
prototypes, so SwAV stores the projections of earlier batches in a queue and runs Sinkhorn on the
batch's scores stacked on the queue's (scored against the current prototypes); only the batch's
rows of the result are its codes. ``queue`` (num_code_views, Q, D) holds those projections per code view.

Shapes: projections (V*N, D) stacked view-major (rows v*N .. (v+1)*N-1 are view v), prototypes
(K, D), row_marginals (K,).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from priormatch.objectives.float32 import in_float32
from priormatch.objectives.msn import prototype_logits
from priormatch.objectives.prior_matching import mean_prediction
from priormatch.objectives.sinkhorn import sinkhorn_knopp
from priormatch.objectives.soft_targets import soft_cross_entropy
from priormatch.validation import check_int_at_least, check_multiple_of, check_not_above, check_positive, check_same_size, check_shape


@dataclass(frozen=True)
class SwAVTerms:
    """The SwAV loss of one batch and what its diagnostics need."""

    loss: Tensor  # scalar swapped-prediction cross-entropy
    codes: Tensor  # (num_code_views * N, K) Sinkhorn codes, view-major (no gradient)
    mean_prediction: Tensor  # (K,) p_bar over all V*N predictions, averaged over ranks


@torch.no_grad()
def swav_codes(
    scores: Tensor,
    *,
    epsilon: float = 0.05,
    iterations: int = 3,
    row_marginals: Tensor | None = None,
    queue_scores: Tensor | None = None,
) -> Tensor:
    """(N, K) codes of one view: Sinkhorn on exp(scores / epsilon), rows summing to 1.

    scores (N, K) cosine similarities in [-1, 1]; row_marginals (K,) the prototype mass (``None``:
    uniform); queue_scores (Q, K): earlier batches' scores, balanced together with ``scores`` (the
    paper's queue), of which only the first N rows are returned. Computed as exp((scores - 1) /
    epsilon) in float64: Sinkhorn is invariant to a constant factor, the constant is the same on
    every rank, and nothing overflows.
    """
    check_positive("epsilon", epsilon)
    check_int_at_least("sinkhorn_iterations", iterations, 1)
    stacked = scores if queue_scores is None else torch.cat([scores, queue_scores.to(scores)])
    kernel = torch.exp((stacked.double() - 1.0) / epsilon)
    return sinkhorn_knopp(kernel, iterations, row_marginals)[: scores.shape[0]].to(scores.dtype)


def _validate(projections: Tensor, prototypes: Tensor, num_views: int, num_code_views: int, row_marginals: Tensor | None) -> None:
    check_int_at_least("num_views", num_views, 2)
    check_int_at_least("num_code_views", num_code_views, 1)
    check_not_above("num_code_views", num_code_views, "num_views", num_views)
    check_shape("projections", projections, (None, None), "(V*N, D)")
    check_shape("prototypes", prototypes, (None, None), "(K, D)")
    check_same_size("feature sizes (D)", {"projections": projections.shape[1], "prototypes": prototypes.shape[1]})
    check_multiple_of("projections rows", projections.shape[0], num_views, "num_views", hint="stack the V views view-major")
    if row_marginals is not None:
        k = prototypes.shape[0]
        check_shape("row_marginals", row_marginals, (k,), f"(K,) = ({k},), one entry per prototype")


@in_float32
def swav_terms(
    projections: Tensor,
    prototypes: Tensor,
    *,
    num_views: int,
    num_code_views: int = 2,
    temperature: float = 0.1,
    epsilon: float = 0.05,
    sinkhorn_iterations: int = 3,
    row_marginals: Tensor | None = None,
    queue: Tensor | None = None,
) -> SwAVTerms:
    """The SwAV loss of ``num_views`` views; see the module docstring for shapes and the formula.

    queue (num_code_views, Q, D): earlier projections of each code view, balanced with the batch
    in Sinkhorn (no gradient). Differentiable w.r.t. projections and prototypes (through their
    normalisation); codes carry no gradient.
    """
    check_positive("temperature", temperature)
    _validate(projections, prototypes, num_views, num_code_views, row_marginals)
    if queue is not None:
        check_shape("queue", queue, (num_code_views, None, projections.shape[1]), f"(num_code_views, Q, D) = ({num_code_views}, Q, D)")
    scores = prototype_logits(projections, prototypes, 1.0)  # (V*N, K) cosine similarities
    views = scores.chunk(num_views)  # V x (N, K)
    queued = [None] * num_code_views if queue is None else [prototype_logits(q, prototypes.detach(), 1.0) for q in queue]
    codes = [
        swav_codes(views[i].detach(), epsilon=epsilon, iterations=sinkhorn_iterations, row_marginals=row_marginals, queue_scores=queued[i])
        for i in range(num_code_views)
    ]  # num_code_views x (N, K)
    loss = scores.new_zeros(())
    for i, q in enumerate(codes):
        swapped = [soft_cross_entropy(views[v] / temperature, q) for v in range(num_views) if v != i]
        loss = loss + torch.stack(swapped).mean()
    p_bar = mean_prediction(torch.softmax(scores / temperature, dim=-1))
    return SwAVTerms(loss=loss / num_code_views, codes=torch.cat(codes), mean_prediction=p_bar)


def swav_loss(projections: Tensor, prototypes: Tensor, *, num_views: int, **options) -> Tensor:
    """Scalar SwAV loss; keyword options as :func:`swav_terms`."""
    return swav_terms(projections, prototypes, num_views=num_views, **options).loss
