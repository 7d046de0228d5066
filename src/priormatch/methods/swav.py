"""SwAV: predict the Sinkhorn cluster codes of one view from another view ("swapped prediction").

Caron et al., NeurIPS 2020: encoder -> MLP projection head (one hidden layer, BatchNorm + ReLU)
-> L2-normalised projection, compared with K L2-normalised trainable prototypes; codes of the two
global views are balanced by Sinkhorn (equipartition: a uniform cluster prior) and predicted by
every other view, including optional small multi-crop ("focal") views. The Sinkhorn prototype
marginals can follow a prior instead (the power-law SwAV variant), built like PMSN's by
:func:`priormatch.priors.make_prior`. No teacher; the encoder is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.methods.projection import ProjectionHead
from priormatch.objectives import prototype_usage
from priormatch.objectives.swav import SwAVTerms, swav_terms
from priormatch.priors import check_offline_prior, make_prior
from priormatch.validation import (
    MAX_ITERATIONS,
    MAX_PROTOTYPES,
    MAX_VIEWS,
    check_depth,
    check_int_between,
    check_non_negative,
    check_positive,
    check_width,
)

if TYPE_CHECKING:
    from priormatch.encoders.contract import Encoder

NUM_CODE_VIEWS = 2  # codes come from the two global views (SwAV's crops_for_assign)
MAX_QUEUE = 1 << 16  # method.queue_length


@dataclass
class SwAVConfig:
    """SwAV hyper-parameters. Temperatures and Sinkhorn follow the paper; prototypes and head
    are scaled to small data (the paper: K = 3000, head 2048 -> 128); 4 focal views as in MSN
    (the paper's multi-crop uses 6 small crops)."""

    name: str = "swav"
    num_prototypes: int = 256  # K
    projection_dim: int = 128
    projection_hidden: int = 1024
    projection_layers: int = 2
    temperature: float = 0.1  # t of the predictions softmax(scores / t)
    epsilon: float = 0.05  # entropic regularisation of the codes: Sinkhorn on exp(scores / eps)
    sinkhorn_iterations: int = 3
    focal_views: int = 4  # small multi-crop views that predict the global views' codes
    prior: str = "uniform"  # Sinkhorn prototype marginals: uniform | power_law | class_counts | a .npy path
    tau: float = 0.25  # power-law exponent (prior=power_law): pi_k ~ k^-tau
    prior_values: list[float] | None = None  # an explicit prior, overrides `prior`
    # the paper's queue for small batches (3,840 at batch 256): the last queue_length projections of
    # each global view join its Sinkhorn once the queue is full (0: off)
    queue_length: int = 0


def validate_swav_config(config: SwAVConfig) -> None:
    check_int_between("method.num_prototypes", config.num_prototypes, 2, MAX_PROTOTYPES)
    check_width("method.projection_dim", config.projection_dim)
    check_width("method.projection_hidden", config.projection_hidden)
    check_depth("method.projection_layers", config.projection_layers)
    check_positive("method.temperature", config.temperature)
    check_positive("method.epsilon", config.epsilon)
    check_int_between("method.sinkhorn_iterations", config.sinkhorn_iterations, 1, MAX_ITERATIONS)
    check_int_between("method.focal_views", config.focal_views, 0, MAX_VIEWS)
    check_non_negative("method.tau", config.tau)
    check_offline_prior("method.prior", config.prior, "swav")
    check_int_between("method.queue_length", config.queue_length, 0, MAX_QUEUE)


class SwAV(SSLMethod):
    """SwAV around any encoder of the encoder contract; ``prior`` (K,) sets the Sinkhorn marginals."""

    prior: Tensor  # buffer
    queue: Tensor  # buffer (NUM_CODE_VIEWS, queue_length, P): unit projections, newest first
    queued: Tensor  # buffer: how many rows of the queue are filled

    def __init__(self, encoder: nn.Module, config: SwAVConfig, prior: Tensor) -> None:
        super().__init__()
        validate_swav_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=NUM_CODE_VIEWS, num_focal=config.focal_views)
        self.encoder = encoder
        self.projector = ProjectionHead(
            cast("Encoder", encoder).embed_dim,
            hidden_dim=config.projection_hidden,
            out_dim=config.projection_dim,
            layers=config.projection_layers,
            activation=nn.ReLU,
        )
        # Normalised inside the objective (cosine scores), so their scale never matters.
        self.prototypes = nn.Parameter(torch.randn(config.num_prototypes, config.projection_dim))
        self.register_buffer("prior", prior.float())
        # in the state dict only when on, so checkpoints of runs without a queue stay as they were
        persistent = config.queue_length > 0
        self.register_buffer("queue", torch.zeros(NUM_CODE_VIEWS, config.queue_length, config.projection_dim), persistent=persistent)
        self.register_buffer("queued", torch.zeros((), dtype=torch.long), persistent=persistent)

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        projections = [self.projector(self.encoder(torch.cat(global_views)))]  # (2N, P), view-major
        if focal_views:
            projections.append(self.projector(self.encoder(torch.cat(focal_views))))  # (F*N, P)
        full = self.config.queue_length > 0 and int(self.queued) == self.config.queue_length
        terms = swav_terms(
            torch.cat(projections),
            self.prototypes,
            num_views=len(global_views) + len(focal_views),
            num_code_views=NUM_CODE_VIEWS,
            temperature=self.config.temperature,
            epsilon=self.config.epsilon,
            sinkhorn_iterations=self.config.sinkhorn_iterations,
            row_marginals=self.prior,
            queue=self.queue if full else None,
        )
        if self.config.queue_length > 0 and self.training:
            self._enqueue(projections[0].detach().chunk(NUM_CODE_VIEWS))
        return MethodOutput(terms.loss, self._diagnostics(terms))

    @torch.no_grad()
    def _enqueue(self, views: tuple[Tensor, ...]) -> None:
        """Push each global view's (N, P) projections, unit-normalised, to the front of its queue."""
        length = self.config.queue_length
        for i, z in enumerate(views):
            self.queue[i] = torch.cat([F.normalize(z.float(), dim=-1), self.queue[i]])[:length]
        self.queued.add_(views[0].shape[0]).clamp_(max=length)  # on the device: no host sync

    def _diagnostics(self, terms: SwAVTerms) -> dict[str, float]:
        return {"loss": terms.loss.item(), **prototype_usage(terms.codes, terms.mean_prediction, self.prior)}


def build_swav(config: SwAVConfig, encoder: nn.Module, data: DataInfo) -> SwAV:
    validate_swav_config(config)
    prior = make_prior(
        config.prior, config.num_prototypes, tau=config.tau, values=config.prior_values, class_counts=data.class_counts or None
    )
    return SwAV(encoder, config, prior)
