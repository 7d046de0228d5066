"""MSN and PMSN objectives as functions of projections and prototypes.

MSN (Assran et al., ECCV 2022, eq. 1-3): anchors and targets are compared through their soft
assignments to K prototypes; targets are sharpened and Sinkhorn-balanced, carry no gradient, and
the mean anchor prediction p_bar is pushed to uniform by the me-max term log K - H(p_bar).
PMSN (Assran et al., ICLR 2023, eq. 5) replaces that term by KL(p_bar || pi) for a prior pi.

Shapes: anchors (M*N, D) stacked view-major (rows v*N .. (v+1)*N-1 are view v of the N samples),
targets (N, D), prototypes (K, D), prior (K,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.objectives.float32 import in_float32
from priormatch.objectives.prior_matching import KLDirection, mean_prediction, prior_divergence
from priormatch.objectives.sinkhorn import sinkhorn_knopp
from priormatch.objectives.soft_targets import soft_cross_entropy_from_log_probs
from priormatch.priors import uniform_prior
from priormatch.validation import (
    check_choice,
    check_int_at_least,
    check_multiple_of,
    check_non_negative,
    check_positive,
    check_same_size,
    check_shape,
)

SinkhornMarginals = Literal["uniform", "prior", "off"]


@dataclass(frozen=True)
class PMSNTerms:
    """The parts of the (P)MSN objective for one batch."""

    loss: Tensor  # scalar: cross_entropy + weight * regularizer
    cross_entropy: Tensor  # scalar: mean over all M*N anchors of H(target, anchor prediction)
    regularizer: Tensor  # scalar: KL(p_bar || prior) (or the reverse direction)
    mean_prediction: Tensor  # (K,) p_bar, averaged over ranks
    targets: Tensor  # (N, K) sharpened, balanced target assignments (no gradient)


def prototype_logits(z: Tensor, prototypes: Tensor, temperature: float) -> Tensor:
    """(B, K) cosine similarity of each row of z (B, D) to each prototype (K, D), divided by temperature.

    The temperature scales the (B, D) unit rows before the product rather than the (B, K) result:
    the same numbers with K / D times fewer divisions, forward and backward.
    """
    return (F.normalize(z, dim=-1) / temperature) @ F.normalize(prototypes, dim=-1).t()


@torch.no_grad()
@in_float32
def msn_targets(
    targets: Tensor,
    prototypes: Tensor,
    *,
    temperature: float,
    sharpen_temperature: float,
    sinkhorn_iterations: int,
    row_marginals: Tensor | None,
) -> Tensor:
    """(N, K) target assignments: softmax at ``temperature``, sharpened, Sinkhorn-balanced.

    ``sinkhorn_iterations=0`` switches balancing off; ``row_marginals`` (K,) replaces the uniform
    prototype marginals (prior-matched Sinkhorn).
    """
    # Sharpening a softmax at tau with T (MSN eq. 2) is exactly a softmax at tau * T: one pass
    # instead of softmax, log and a second softmax (what ``sharpen`` does for given probabilities).
    probs = torch.softmax(prototype_logits(targets, prototypes, temperature * sharpen_temperature), dim=-1)
    if sinkhorn_iterations > 0:
        probs = sinkhorn_knopp(probs, sinkhorn_iterations, row_marginals)
    return probs


def _validate(
    anchors: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    prior: Tensor,
    temperature: float,
    sharpen_temperature: float,
    sinkhorn_iterations: int,
    regularization_weight: float,
) -> None:
    check_shape("anchors", anchors, (None, None), "(M*N, D)")
    check_shape("targets", targets, (None, None), "(N, D)")
    check_shape("prototypes", prototypes, (None, None), "(K, D)")
    sizes = {"anchors": anchors.shape[1], "targets": targets.shape[1], "prototypes": prototypes.shape[1]}
    check_same_size("feature sizes (D)", sizes, hint="project anchors, targets and prototypes to one size")
    check_int_at_least("targets rows", targets.shape[0], 1, hint="pass at least one target sample")
    check_multiple_of("anchors rows", anchors.shape[0], targets.shape[0], "targets rows", hint="stack M views of the N targets")
    k = prototypes.shape[0]
    check_shape("prior", prior, (k,), f"(K,) = ({k},), one entry per prototype")
    check_positive("temperature", temperature)
    check_positive("sharpen_temperature", sharpen_temperature)
    check_int_at_least("sinkhorn_iterations", sinkhorn_iterations, 0, hint="0 switches balancing off")
    check_non_negative("regularization_weight", regularization_weight)


@in_float32
def pmsn_terms(
    anchors: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    prior: Tensor,
    *,
    temperature: float = 0.1,
    sharpen_temperature: float = 0.25,
    sinkhorn_iterations: int = 3,
    sinkhorn_marginals: SinkhornMarginals = "uniform",
    regularization_weight: float = 1.0,
    kl_direction: KLDirection = "forward",
) -> PMSNTerms:
    """The PMSN objective and its parts; see the module docstring for shapes."""
    _validate(anchors, targets, prototypes, prior, temperature, sharpen_temperature, sinkhorn_iterations, regularization_weight)
    check_choice("sinkhorn_marginals", sinkhorn_marginals, ("uniform", "prior", "off"))
    prior = prior.to(anchors)
    assignments = msn_targets(
        targets.detach(),
        prototypes.detach(),
        temperature=temperature,
        sharpen_temperature=sharpen_temperature,
        sinkhorn_iterations=0 if sinkhorn_marginals == "off" else sinkhorn_iterations,
        row_marginals=prior if sinkhorn_marginals == "prior" else None,
    )
    num_views = anchors.shape[0] // targets.shape[0]
    # One log-softmax serves both terms: the cross-entropy and, through exp, p_bar.
    log_probs = torch.log_softmax(prototype_logits(anchors, prototypes, temperature), dim=-1)  # (M*N, K)
    per_view = log_probs.view(num_views, targets.shape[0], -1)  # (M, N, K), view-major
    cross_entropy = soft_cross_entropy_from_log_probs(per_view, assignments)  # (N, K) targets broadcast over views
    p_bar = mean_prediction(log_probs.exp())
    regularizer = prior_divergence(p_bar, prior, kl_direction)
    return PMSNTerms(
        loss=cross_entropy + regularization_weight * regularizer,
        cross_entropy=cross_entropy,
        regularizer=regularizer,
        mean_prediction=p_bar,
        targets=assignments,
    )


def pmsn_loss(
    anchors: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    prior: Tensor,
    *,
    temperature: float = 0.1,
    sharpen_temperature: float = 0.25,
    sinkhorn_iterations: int = 3,
    sinkhorn_marginals: SinkhornMarginals = "uniform",
    regularization_weight: float = 1.0,
    kl_direction: KLDirection = "forward",
) -> Tensor:
    """Scalar PMSN loss: cross-entropy to balanced targets + weight * KL(p_bar || prior).

    anchors (M*N, D) view-major, targets (N, D), prototypes (K, D), prior (K,) summing to 1.
    Differentiable w.r.t. anchors and prototypes; no gradient flows through the targets.
    ``kl_direction='reverse'`` uses KL(prior || p_bar) instead (an option, not the paper's term).
    """
    return pmsn_terms(
        anchors,
        targets,
        prototypes,
        prior,
        temperature=temperature,
        sharpen_temperature=sharpen_temperature,
        sinkhorn_iterations=sinkhorn_iterations,
        sinkhorn_marginals=sinkhorn_marginals,
        regularization_weight=regularization_weight,
        kl_direction=kl_direction,
    ).loss


def msn_loss(
    anchors: Tensor,
    targets: Tensor,
    prototypes: Tensor,
    *,
    temperature: float = 0.1,
    sharpen_temperature: float = 0.25,
    sinkhorn_iterations: int = 3,
    regularization_weight: float = 1.0,
) -> Tensor:
    """Scalar MSN loss: PMSN with the uniform prior, i.e. cross-entropy + weight * (log K - H(p_bar))."""
    return pmsn_loss(
        anchors,
        targets,
        prototypes,
        uniform_prior(prototypes.shape[0]).to(anchors),
        temperature=temperature,
        sharpen_temperature=sharpen_temperature,
        sinkhorn_iterations=sinkhorn_iterations,
        regularization_weight=regularization_weight,
    )
