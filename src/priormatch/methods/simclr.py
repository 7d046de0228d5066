"""SimCLR: contrast two augmented views of each sample against the other views of the batch.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", ICML 2020:
encoder -> MLP projection head (one hidden layer, ReLU; BatchNorm as in the released code) -> NT-Xent
(:mod:`priormatch.objectives.nt_xent`) over the 2N views, negatives from the global batch. No
teacher; the encoder (before the head) is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.methods.projection import ProjectionHead
from priormatch.objectives.nt_xent import nt_xent_loss
from priormatch.validation import check_depth, check_positive, check_width

if TYPE_CHECKING:
    from priormatch.encoders.contract import Encoder


@dataclass
class SimCLRConfig:
    """SimCLR hyper-parameters; the head is the paper's 2-layer MLP with a 128-d output."""

    name: str = "simclr"
    projection_hidden: int = 1024  # (2048, the ResNet-50 width, in the paper)
    projection_dim: int = 128
    projection_layers: int = 2  # linear layers of the head (SimCLR v1: 2)
    temperature: float = 0.5  # the paper's CIFAR-10 setting (appendix B.9); 0.1 with its 4096 ImageNet batches


def validate_simclr_config(config: SimCLRConfig) -> None:
    check_width("method.projection_hidden", config.projection_hidden)
    check_width("method.projection_dim", config.projection_dim)
    check_depth("method.projection_layers", config.projection_layers)
    check_positive("method.temperature", config.temperature)


class SimCLR(SSLMethod):
    """SimCLR around any encoder of the encoder contract."""

    def __init__(self, encoder: nn.Module, config: SimCLRConfig) -> None:
        super().__init__()
        validate_simclr_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=2)
        self.encoder = encoder
        self.projector = ProjectionHead(
            cast("Encoder", encoder).embed_dim,
            hidden_dim=config.projection_hidden,
            out_dim=config.projection_dim,
            layers=config.projection_layers,
            activation=nn.ReLU,
        )

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        n = global_views[0].shape[0]
        z = self.projector(self.encoder(torch.cat(global_views)))  # (2N, P): both views in one batch
        loss = nt_xent_loss(z[:n], z[n:], temperature=self.config.temperature)
        return MethodOutput(loss, {"loss": loss.item()})


def build_simclr(config: SimCLRConfig, encoder: nn.Module, data: DataInfo) -> SimCLR:
    return SimCLR(encoder, config)
