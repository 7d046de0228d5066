"""MSN and PMSN: masked siamese networks with a uniform or an explicit cluster prior.

MSN (Assran et al., ECCV 2022): an EMA target encoder sees one unmasked view; the online encoder
sees a masked anchor view (random patch dropping) and optional small "focal" views; both are
projected and softly assigned to K trainable prototypes; the anchors learn to predict the
sharpened, Sinkhorn-balanced target assignment; me-max pushes the mean prediction to uniform.
PMSN (Assran et al., ICLR 2023) replaces me-max by KL(p_bar || prior).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.methods.adaptive_prior import AdaptivePrior
from priormatch.methods.base import DataInfo, MethodOutput, ViewSpec
from priormatch.methods.ema import EMATeacherMethod, frozen_copy
from priormatch.methods.prior_head import validate_prior_keys, validate_prototype_keys
from priormatch.methods.projection import ProjectionHead
from priormatch.objectives import pmsn_terms, prototype_usage
from priormatch.objectives.msn import SinkhornMarginals, msn_targets
from priormatch.objectives.prior_matching import KLDirection
from priormatch.priors import make_prior, uniform_prior
from priormatch.validation import (
    MAX_VIEWS,
    check_int_between,
    check_non_negative,
    check_range,
)

if TYPE_CHECKING:
    from priormatch.encoders.contract import Encoder


@dataclass
class MSNConfig:
    """MSN hyper-parameters. Defaults follow the official recipe where it transfers to small
    images (temperatures, Sinkhorn, weight) and are scaled down where it does not (prototypes,
    head width, focal views)."""

    name: str = "msn"
    num_prototypes: int = 256  # K (1024 in the ImageNet recipe)
    projection_dim: int = 128  # prototype / projection size (256 in the recipe)
    projection_hidden: int = 1024  # (2048 in the recipe)
    projection_layers: int = 3
    temperature: float = 0.1  # softmax temperature of cosine similarities
    sharpen_temperature: float = 0.25  # target sharpening T
    sinkhorn_iterations: int = 3
    sinkhorn_marginals: str = "uniform"  # uniform | prior | off
    regularization_weight: float = 1.0  # lambda on the prior term
    mask_ratio: float = 0.15  # share of anchor patches dropped
    focal_views: int = 4  # extra small anchor views (10 in the recipe)
    ema_momentum: float = 0.996  # target-encoder momentum at the start ...
    ema_momentum_end: float = 1.0  # ... increased linearly to this at the end

    # MSN is PMSN with the uniform prior, the forward KL (me-max) and no online estimate; PMSNConfig
    # overrides these four, so the method itself never asks which of the two it is.
    def check(self) -> None:
        """Range checks of every key (one-line PriormatchError)."""
        validate_prototype_keys(self)
        check_range("method.mask_ratio", self.mask_ratio, 0.0, 1.0)
        check_int_between("method.focal_views", self.focal_views, 0, MAX_VIEWS)
        check_range("method.ema_momentum", self.ema_momentum, 0.0, 1.0, high_inclusive=True)
        check_range("method.ema_momentum_end", self.ema_momentum_end, 0.0, 1.0, high_inclusive=True)

    def resolve_prior(self, data: DataInfo | None) -> Tensor:
        """(K,) the prototype prior: uniform (MSN's hidden prior)."""
        return uniform_prior(self.num_prototypes)

    def divergence(self) -> KLDirection:
        """The direction of the KL to the prior: forward, KL(p_bar || uniform) = me-max."""
        return "forward"

    def online_prior(self) -> AdaptivePrior | None:
        """The estimator that re-fits the prior during training; MSN has none."""
        return None


@dataclass
class PMSNConfig(MSNConfig):
    """PMSN: MSN with KL(p_bar || prior) instead of me-max."""

    name: str = "pmsn"
    prior: str = "power_law"  # uniform | power_law | class_counts | adaptive | path to a .npy file
    tau: float = 0.25  # power-law exponent: pi_k ~ k^-tau
    prior_values: list[float] | None = None  # an explicit prior, overrides `prior`
    kl_direction: str = "forward"  # forward: KL(p_bar || prior) (paper); reverse: KL(prior || p_bar)
    # Targets balanced to the prior's marginals, so the cross-entropy and the KL term pull usage the
    # same way (uniform balancing pulls it back to uniform: docs/methods.md). With a uniform prior
    # this is MSN's uniform balancing, so PMSN(uniform) = MSN still holds.
    sinkhorn_marginals: str = "prior"
    # prior=adaptive (methods/adaptive_prior.py): a power law re-fitted every step to the running
    # usage of the unbalanced target assignments
    adaptive_momentum: float = 0.99  # EMA of the usage
    adaptive_warmup_steps: int = 20  # steps on the uniform prior before the first estimate
    adaptive_tau_max: float = 2.0  # the estimate is clipped to [0, tau_max] ...
    adaptive_entropy_floor: float = 0.5  # ... and lowered until H(prior) >= floor x log K

    def check(self) -> None:
        super().check()
        validate_prior_keys(self)
        check_range("method.adaptive_momentum", self.adaptive_momentum, 0.0, 1.0)
        check_int_between("method.adaptive_warmup_steps", self.adaptive_warmup_steps, 0, 2**31)
        check_non_negative("method.adaptive_tau_max", self.adaptive_tau_max)
        check_range("method.adaptive_entropy_floor", self.adaptive_entropy_floor, 0.0, 1.0, high_inclusive=True)

    def resolve_prior(self, data: DataInfo | None) -> Tensor:
        """(K,) the configured prior (a ``class_counts`` prior needs ``data``'s class counts)."""
        class_counts = (data.class_counts if data is not None else ()) or None
        return make_prior(self.prior, self.num_prototypes, tau=self.tau, values=self.prior_values, class_counts=class_counts)

    def divergence(self) -> KLDirection:
        return cast(KLDirection, self.kl_direction)  # checked by validate_prior_keys

    def online_prior(self) -> AdaptivePrior | None:
        """``method.prior=adaptive`` (without explicit ``prior_values``): the running power-law estimator."""
        if self.prior != "adaptive" or self.prior_values is not None:
            return None
        return AdaptivePrior(
            self.num_prototypes,
            momentum=self.adaptive_momentum,
            warmup_steps=self.adaptive_warmup_steps,
            tau_max=self.adaptive_tau_max,
            entropy_floor=self.adaptive_entropy_floor,
        )


def validate_msn_config(config: MSNConfig) -> None:
    """Range checks of an MSN or PMSN config (the config's own :meth:`MSNConfig.check`)."""
    config.check()


def resolve_prior(config: MSNConfig, data: DataInfo | None) -> Tensor:
    """(K,) the prior a config asks for: uniform for MSN, the configured prior for PMSN."""
    return config.resolve_prior(data)


def adaptive_prior(config: MSNConfig) -> AdaptivePrior | None:
    """The online prior estimator of ``method.prior=adaptive`` (PMSN), else None."""
    return config.online_prior()


class MSN(EMATeacherMethod):
    """MSN / PMSN around any encoder of the encoder contract (see ``priormatch.encoders``)."""

    prior: Tensor  # buffer

    def __init__(self, encoder: nn.Module, config: MSNConfig, prior: Tensor | None = None, *, data: DataInfo | None = None) -> None:
        """``prior`` (K,): the prototype prior; ``None`` resolves the one ``config`` asks for (with
        ``data``'s class counts) once the config is validated, so a bad config allocates nothing."""
        super().__init__()
        validate_msn_config(config)  # the one check of the config on every construction path
        if prior is None:
            prior = resolve_prior(config, data)
        self.config = config
        self.view_spec = ViewSpec(num_global=2, num_focal=config.focal_views)
        self.encoder = encoder
        self.projector = ProjectionHead(
            cast("Encoder", encoder).embed_dim,
            hidden_dim=config.projection_hidden,
            out_dim=config.projection_dim,
            layers=config.projection_layers,
        )
        self.prototypes = nn.Parameter(torch.empty(config.num_prototypes, config.projection_dim).uniform_(-1, 1))
        self.target_encoder = frozen_copy(encoder)
        self.target_projector = frozen_copy(self.projector)
        self.register_buffer("prior", prior.float())
        self.adaptive_prior = adaptive_prior(config)

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.target_encoder, self.encoder), (self.target_projector, self.projector)]

    def evaluation_encoder(self) -> nn.Module:
        return self.target_encoder

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        target_view, anchor_view = global_views  # (N, ...) each
        with torch.no_grad():
            targets = self.target_projector(self.target_encoder(target_view))  # (N, P)
        anchors = [self.projector(self.encoder(anchor_view, mask_ratio=self.config.mask_ratio, generator=generator))]
        if focal_views:
            anchors.append(self.projector(self.encoder(torch.cat(focal_views))))  # (F*N, P), view-major
        terms = pmsn_terms(
            torch.cat(anchors),  # (M*N, P)
            targets,
            self.prototypes,
            self.prior,
            temperature=self.config.temperature,
            sharpen_temperature=self.config.sharpen_temperature,
            sinkhorn_iterations=self.config.sinkhorn_iterations,
            sinkhorn_marginals=cast(SinkhornMarginals, self.config.sinkhorn_marginals),  # checked by validate_msn_config
            regularization_weight=self.config.regularization_weight,
            kl_direction=self.config.divergence(),
        )
        diagnostics = self._diagnostics(terms)
        if self.adaptive_prior is not None and self.training:
            self.prior.copy_(self.adaptive_prior.observe(self._unbalanced_targets(targets)))
            diagnostics["prior_tau"] = float(self.adaptive_prior.tau)
        return MethodOutput(terms.loss, diagnostics)

    def _unbalanced_targets(self, targets: Tensor) -> Tensor:
        """(N, K) the sharpened target assignments without Sinkhorn balancing."""
        return msn_targets(
            targets,
            self.prototypes.detach(),
            temperature=self.config.temperature,
            sharpen_temperature=self.config.sharpen_temperature,
            sinkhorn_iterations=0,
            row_marginals=None,
        )

    def _diagnostics(self, terms) -> dict[str, float]:
        return {
            "loss": terms.loss.item(),
            "cross_entropy": terms.cross_entropy.item(),
            "regularizer": terms.regularizer.item(),
            **prototype_usage(terms.targets, terms.mean_prediction, self.prior),
        }


def build_msn(config: MSNConfig, encoder: nn.Module, data: DataInfo) -> MSN:
    return MSN(encoder, config, data=data)
