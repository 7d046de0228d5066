"""VICReg: invariance between two views, variance and decorrelation of each branch's embeddings.

Bardes, Ponce, LeCun, ICLR 2022: encoder -> expander MLP (3 linear layers, BatchNorm + ReLU
between, 8192 wide for ResNet-50) -> VICReg loss (:mod:`priormatch.objectives.vicreg`) with
weights 25 / 25 / 1, statistics over the global batch. No teacher; the encoder is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.methods.projection import ProjectionHead
from priormatch.objectives.vicreg import vicreg_terms
from priormatch.validation import check_depth, check_non_negative, check_width

if TYPE_CHECKING:
    from priormatch.encoders.contract import Encoder


@dataclass
class VICRegConfig:
    """VICReg hyper-parameters; loss weights as in the paper, the expander scaled to the encoder."""

    name: str = "vicreg"
    expander_dim: int = 1024  # hidden and output width (8192 for a 2048-d ResNet-50 in the paper)
    expander_layers: int = 3  # linear layers (paper: 3)
    invariance_weight: float = 25.0  # lambda
    variance_weight: float = 25.0  # mu
    covariance_weight: float = 1.0  # nu


def validate_vicreg_config(config: VICRegConfig) -> None:
    check_width("method.expander_dim", config.expander_dim)
    check_depth("method.expander_layers", config.expander_layers)
    check_non_negative("method.invariance_weight", config.invariance_weight)
    check_non_negative("method.variance_weight", config.variance_weight)
    check_non_negative("method.covariance_weight", config.covariance_weight)


class VICReg(SSLMethod):
    """VICReg around any encoder of the encoder contract."""

    def __init__(self, encoder: nn.Module, config: VICRegConfig) -> None:
        super().__init__()
        validate_vicreg_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=2)
        self.encoder = encoder
        self.expander = ProjectionHead(
            cast("Encoder", encoder).embed_dim,
            hidden_dim=config.expander_dim,
            out_dim=config.expander_dim,
            layers=config.expander_layers,
            activation=nn.ReLU,
        )

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        # The branches go through the expander separately, as in the paper: each has its own
        # BatchNorm statistics.
        z1, z2 = (self.expander(self.encoder(view)) for view in global_views)  # (N, E) each
        terms = vicreg_terms(
            z1,
            z2,
            invariance_weight=self.config.invariance_weight,
            variance_weight=self.config.variance_weight,
            covariance_weight=self.config.covariance_weight,
        )
        metrics = {
            "loss": terms.loss.item(),
            "invariance": terms.invariance.item(),
            "variance": terms.variance.item(),
            "covariance": terms.covariance.item(),
        }
        return MethodOutput(terms.loss, metrics)


def build_vicreg(config: VICRegConfig, encoder: nn.Module, data: DataInfo) -> VICReg:
    return VICReg(encoder, config)
