"""JEPA on a per-timestamp conv encoder: predict the target encoder's representations of masked time blocks.

I-JEPA (Assran et al., CVPR 2023, sec. 3) with the token transformer replaced by TS2Vec's dilated
conv net (``conv1d``, Yue et al., AAAI 2022), so a JEPA can run on the series network that learns
on UCR. The tokens are the T time steps:

1. masks: M target blocks of consecutive time steps and a context block minus the targets, drawn
   per series from the step's generator (:func:`priormatch.encoders.block_masks.sample_block_masks`
   on a (1, T) grid, as the token JEPA's series masks);
2. the **context encoder** (the online encoder) sees only the context steps: every other step is
   zeroed in latent space after the input projection (TS2Vec's timestamp masking,
   ``DilatedConvNet1d.timestamps(x, keep=context)``), so no target value reaches it;
3. the **target encoder**, an EMA copy of the context encoder, sees the whole series; its
   per-timestep outputs, layer-normalised without parameters, are the targets; no gradient;
4. a narrow **predictor** (dilated residual conv blocks of width ``predictor_dim``) reads the
   context encoder's output at every step, plus a learned mask token at the target steps, and
   predicts every step; positions are implicit in the convolution. The context encoder's input is
   zero at the target steps, so its output there is what its receptive field gathered from the
   context around them (I-JEPA's predictor gathers it by attention instead);
5. loss: squared error (or Smooth L1) on the target steps only
   (:mod:`priormatch.objectives.latent_prediction`), unobserved steps excluded.

Deviation from I-JEPA: the M target blocks are predicted in one predictor pass (each block sees the
others' mask tokens), not one pass per block. ``predictor_heads`` and ``predictor_mlp_ratio`` are
transformer keys and unused here. The target encoder is evaluated, max-pooled over time.

Optional prototype head (``prior`` other than ``none``): the context outputs max-pooled over the
context steps (anchor) and the target encoder's pooled output (target) go through the PMSN terms
with KL(p_bar || prior), times ``prototype_weight``, as in :mod:`priormatch.methods.jepa`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from priormatch.encoders.conv1d import DilatedResidualBlock, max_over_observed
from priormatch.methods.base import MethodOutput
from priormatch.methods.jepa import JEPABase, JEPAConfig
from priormatch.objectives.latent_prediction import gather_blocks, latent_prediction_loss, latent_targets

if TYPE_CHECKING:
    from priormatch.encoders.conv1d import DilatedConvNet1d

PREDICTOR_KERNEL = 3
MASK_TOKEN_STD = 0.02  # the mask token's normal initialisation


class TimestampPredictor(nn.Module):
    """(B, T, D) predictor input -> (B, T, D) predicted target representations: 1x1 conv to
    ``predictor_dim``, ``predictor_depth`` dilated residual blocks (dilation 2^i), 1x1 conv back."""

    def __init__(self, embed_dim: int, config: JEPAConfig) -> None:
        super().__init__()
        width = config.predictor_dim
        self.embed = nn.Conv1d(embed_dim, width, 1)
        self.blocks = nn.Sequential(
            *(DilatedResidualBlock(width, width, kernel=PREDICTOR_KERNEL, dilation=2**i) for i in range(config.predictor_depth))
        )
        self.project = nn.Conv1d(width, embed_dim, 1)

    def forward(self, sequence: Tensor) -> Tensor:
        return self.project(self.blocks(self.embed(sequence.transpose(1, 2)))).transpose(1, 2)


def steps_mask(indices: Tensor, length: int) -> Tensor:
    """(B, ...) step indices -> (B, T) bool, True at every listed step."""
    flat = indices.reshape(indices.shape[0], -1)
    return torch.zeros(indices.shape[0], length, dtype=torch.bool, device=indices.device).scatter(1, flat, True)


class TimestampJEPA(JEPABase):
    """JEPA around a per-timestamp series encoder (``DilatedConvNet1d``)."""

    encoder: DilatedConvNet1d
    target_encoder: DilatedConvNet1d

    def __init__(self, encoder: DilatedConvNet1d, config: JEPAConfig, prior: Tensor | None) -> None:
        mask_token = torch.randn(encoder.embed_dim) * MASK_TOKEN_STD
        super().__init__(encoder, config, prior, TimestampPredictor(encoder.embed_dim, config), mask_token)

    def token_grid(self, x: Tensor) -> tuple[int, int]:
        return 1, x.shape[2]  # the T steps of (B, C, T)

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        (x,) = global_views  # (B, C, T)
        masks = self.sample_masks(x, generator)
        context_steps, target_steps = steps_mask(masks.context, x.shape[2]), steps_mask(masks.targets, x.shape[2])  # (B, T)
        context = self.encoder.timestamps(x, keep=context_steps)  # (B, T, D), from context values only
        predictions = gather_blocks(self.predictor(self.predictor_input(context, target_steps)), masks.targets)
        observed = ~torch.isnan(x).all(dim=1)  # (B, T) any channel observed
        target_pooled, features = self.target_features(x, observed)  # (B, D), (B, T, D)
        targets = gather_blocks(features, masks.targets)  # (B, M, L, D)
        prediction_loss = latent_prediction_loss(predictions, targets, gather_blocks(observed, masks.targets), beta=self.config.loss_beta)
        anchor = context.masked_fill(~context_steps.unsqueeze(-1), float("-inf")).amax(dim=1)  # (B, D) over the context
        return self.output(prediction_loss, features, masks, anchor, target_pooled)

    def predictor_input(self, context: Tensor, target_steps: Tensor) -> Tensor:
        """(B, T, D): the context encoder's output, plus the mask token at the (B, T) target steps."""
        return context + target_steps.unsqueeze(-1).to(context.dtype) * self.mask_token.to(context.dtype)

    @torch.no_grad()
    def target_features(self, x: Tensor, observed: Tensor) -> tuple[Tensor, Tensor]:
        """The target encoder on the whole series: the pooled output (B, D) (its evaluation
        embedding) and the per-step regression targets (B, T, D), normalised as ``target_norm`` says."""
        steps = self.target_encoder.timestamps(x)  # (B, T, D)
        return max_over_observed(steps, observed), latent_targets(steps, self.config.target_norm)
