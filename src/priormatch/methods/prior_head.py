"""An optional prototype head with KL(p_bar || prior), for methods without prototypes of their own.

TS2Vec and JEPA can carry it (``method.prior=power_law method.tau=...``), so the prior question
can be asked of encoders that learn from other objectives. Embeddings (B, D) are projected and
softly assigned to K prototypes; an anchor embedding predicts a target embedding's sharpened,
(optionally) Sinkhorn-balanced assignment, and KL(p_bar || prior) matches the mean prediction to
the prior: exactly the PMSN terms (:func:`priormatch.objectives.pmsn_terms`, Assran et al., ICLR
2023). ``prior=none`` (the default) switches the head off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
from torch import Tensor, nn

from priormatch.methods.base import DataInfo
from priormatch.methods.projection import ProjectionHead
from priormatch.objectives import pmsn_terms, prototype_usage
from priormatch.objectives.msn import PMSNTerms, SinkhornMarginals
from priormatch.objectives.prior_matching import KLDirection
from priormatch.priors import check_offline_prior, make_prior
from priormatch.validation import (
    MAX_ITERATIONS,
    MAX_PROTOTYPES,
    check_choice,
    check_depth,
    check_int_between,
    check_non_negative,
    check_positive,
    check_width,
)

NO_PRIOR = "none"


@dataclass
class PriorHeadConfig:
    """The head's keys; a method's config inherits them."""

    prior: str = NO_PRIOR  # none | uniform | power_law | class_counts | path to a .npy file
    tau: float = 0.25  # power-law exponent: pi_k ~ k^-tau
    prior_values: list[float] | None = None  # an explicit prior, overrides `prior`
    kl_direction: str = "forward"  # forward: KL(p_bar || prior) (PMSN); reverse: KL(prior || p_bar)
    num_prototypes: int = 64
    projection_hidden: int = 256
    projection_dim: int = 64
    projection_layers: int = 2
    temperature: float = 0.1  # softmax temperature of prototype cosine similarities
    sharpen_temperature: float = 0.25  # target sharpening T
    sinkhorn_iterations: int = 3
    sinkhorn_marginals: str = "uniform"  # uniform | prior | off
    regularization_weight: float = 1.0  # lambda on KL(p_bar || prior)
    prototype_weight: float = 1.0  # weight of the head's loss next to the method's own loss

    @property
    def uses_prototypes(self) -> bool:
        return self.prior != NO_PRIOR or self.prior_values is not None


def validate_prior_head_config(config: Any) -> None:
    validate_prior_keys(config)
    check_offline_prior("method.prior", config.prior, config.name)
    validate_prototype_keys(config)
    check_non_negative("method.prototype_weight", config.prototype_weight)


def validate_prior_keys(config: Any) -> None:
    """``tau`` and ``kl_direction``, as PMSN and the head name them."""
    check_non_negative("method.tau", config.tau)
    check_choice("method.kl_direction", config.kl_direction, ("forward", "reverse"))


def validate_prototype_keys(config: Any) -> None:
    """The prototype-assignment keys MSN, PMSN and the head share (same names, same ranges)."""
    check_int_between("method.num_prototypes", config.num_prototypes, 2, MAX_PROTOTYPES)
    check_width("method.projection_hidden", config.projection_hidden)
    check_width("method.projection_dim", config.projection_dim)
    check_depth("method.projection_layers", config.projection_layers)
    check_positive("method.temperature", config.temperature)
    check_positive("method.sharpen_temperature", config.sharpen_temperature)
    check_int_between("method.sinkhorn_iterations", config.sinkhorn_iterations, 0, MAX_ITERATIONS)
    check_choice("method.sinkhorn_marginals", config.sinkhorn_marginals, ("uniform", "prior", "off"))
    check_non_negative("method.regularization_weight", config.regularization_weight)


def head_prior(config: PriorHeadConfig, data: DataInfo) -> Tensor | None:
    """(K,) the head's prior, or None when the head is off."""
    if not config.uses_prototypes:
        return None
    return make_prior(
        config.prior, config.num_prototypes, tau=config.tau, values=config.prior_values, class_counts=data.class_counts or None
    )


class PriorHeadOwner(Protocol):
    """A method that carries the head (JEPA, TS2Vec): the attributes :func:`attach_prior_head` sets."""

    projector: ProjectionHead | None
    prototypes: nn.Parameter | None

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None: ...


def attach_prior_head(method: PriorHeadOwner, embed_dim: int, config: PriorHeadConfig, prior: Tensor | None) -> None:
    """Give ``method`` the head's ``projector``, ``prototypes`` (K, P) and ``prior`` buffer (None: no head).

    The attribute names are those prototype analyses look for (:mod:`priormatch.diagnose.prototypes`).
    """
    method.projector = None
    method.prototypes = None
    if prior is None:
        return
    method.projector = ProjectionHead(
        embed_dim, hidden_dim=config.projection_hidden, out_dim=config.projection_dim, layers=config.projection_layers
    )
    method.prototypes = nn.Parameter(torch.empty(config.num_prototypes, config.projection_dim).uniform_(-1, 1))
    method.register_buffer("prior", prior.float())


def head_terms(config: PriorHeadConfig, prototypes: Tensor, prior: Tensor, anchors: Tensor, targets: Tensor) -> PMSNTerms:
    """PMSN terms of projected ``anchors`` (B, P) predicting projected ``targets`` (B, P)."""
    return pmsn_terms(
        anchors,
        targets,
        prototypes,
        prior,
        temperature=config.temperature,
        sharpen_temperature=config.sharpen_temperature,
        sinkhorn_iterations=config.sinkhorn_iterations,
        sinkhorn_marginals=cast(SinkhornMarginals, config.sinkhorn_marginals),  # checked by validate_prototype_keys
        regularization_weight=config.regularization_weight,
        kl_direction=cast(KLDirection, config.kl_direction),  # checked by validate_prior_keys
    )


def head_metrics(terms: list[PMSNTerms], prior: Tensor) -> dict[str, Any]:
    """Mean cross-entropy and regulariser over ``terms`` and the first one's prototype usage."""
    return {
        "cross_entropy": sum(t.cross_entropy.item() for t in terms) / len(terms),
        "regularizer": sum(t.regularizer.item() for t in terms) / len(terms),
        **prototype_usage(terms[0].targets, terms[0].mean_prediction, prior),
    }


def anchor_target_head(
    config: PriorHeadConfig, projector: ProjectionHead, prototypes: Tensor, prior: Tensor, anchor: Tensor, target: Tensor
) -> tuple[Tensor, dict[str, Any]]:
    """The head's loss and diagnostics when the pooled ``anchor`` (B, D) predicts the pooled
    ``target``'s (B, D) prototype assignment, both through one ``projector`` pass (JEPA's use)."""
    z_anchor, z_target = projector(torch.cat([anchor, target])).chunk(2)  # (B, P) each
    terms = head_terms(config, prototypes, prior, z_anchor, z_target)
    return terms.loss, head_metrics([terms], prior)
